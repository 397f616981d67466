//! Evaluating a loaded Terraform root: what can be known before any apply (the catalog's values, variable defaults
//! and `optional()` attributes, locals, module inputs and outputs, resources' configuration attributes). Anything
//! that depends on the cloud or on a function [`super::functions`] does not know stays unknown.

use super::functions::functions;
use super::terraform::{attr, text_key, Call, Module};
use hcl::eval::{Context, Evaluate};
use hcl::{Expression, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// One instance of a module with what is known of its inputs: the root of a step, or a module call (one per
/// `for_each` key).
#[derive(Debug)]
pub struct Scope {
    pub module: Rc<Module>,
    /// Repository-relative identity, e.g. `api-medical` or `api-medical/module.api` or `spas/module.spa["pro"]`.
    pub path: String,
    /// The module call this scope instantiates (empty for a step's root).
    pub call: String,
    /// The `for_each` key of this instance.
    pub key: Option<String>,
    /// Known input values (variables without a known input take their default).
    pub inputs: BTreeMap<String, Value>,
    pub each: Option<(Value, Value)>,
    /// The evaluated context: var, local, module, resources' configuration.
    pub ctx_vars: BTreeMap<String, Value>,
    pub children: Vec<(String, Scope)>,
}

fn base_context() -> Context<'static> {
    let mut ctx = Context::new();
    for (name, f) in functions() {
        ctx.declare_func(name, f);
    }
    ctx
}

impl Scope {
    pub fn context(&self) -> Context<'_> {
        let mut ctx = base_context();
        for (k, v) in &self.ctx_vars {
            ctx.declare_var(k.as_str(), v.clone());
        }
        if let Some((k, v)) = &self.each {
            let mut o = hcl::Map::new();
            o.insert("key".to_string(), k.clone());
            o.insert("value".to_string(), v.clone());
            ctx.declare_var("each", Value::Object(o));
        }
        ctx
    }

    pub fn eval(&self, expr: &Expression) -> Option<Value> {
        let v = expr.evaluate(&self.context()).ok()?;
        Some(v)
    }

    /// Builds a scope and, recursively, its children, evaluating as far as the known inputs allow.
    pub fn build(
        module: Rc<Module>,
        path: String,
        key: Option<String>,
        inputs: BTreeMap<String, Value>,
        each: Option<(Value, Value)>,
    ) -> Scope {
        let mut scope = Scope {
            module: module.clone(),
            path,
            call: String::new(),
            key,
            inputs,
            each,
            ctx_vars: BTreeMap::new(),
            children: Vec::new(),
        };
        let mut vars = hcl::Map::new();
        for (name, v) in &module.variables {
            let optional = v.ty.as_ref().map(optional_defaults);
            let value = match scope.inputs.get(name) {
                Some(val) => Some(val.clone()),
                None => v
                    .default
                    .as_ref()
                    .and_then(|d| d.evaluate(&base_context()).ok()),
            };
            if let Some(value) = value {
                vars.insert(name.clone(), apply_optional(value, optional.as_ref()));
            }
        }
        scope.ctx_vars.insert("var".into(), Value::Object(vars));
        // Locals, module outputs and resource attributes refer to one another: a few passes reach the fixed point of
        // anything real configurations do.
        for _ in 0..3 {
            scope.eval_locals();
            scope.eval_resources();
            scope.children = module
                .calls
                .iter()
                .filter_map(|c| c.module.as_ref().map(|m| (c, m.clone())))
                .flat_map(|(c, m)| scope.instantiate(c, m))
                .collect();
            let mut modules = hcl::Map::new();
            for c in &module.calls {
                let instances: Vec<&Scope> = scope
                    .children
                    .iter()
                    .filter(|(n, _)| n == &c.name)
                    .map(|(_, s)| s)
                    .collect();
                let outputs = |s: &Scope| -> Value {
                    let mut o = hcl::Map::new();
                    for (name, (expr, _)) in &s.module.outputs {
                        if let Some(v) = s.eval(expr) {
                            o.insert(name.clone(), v);
                        }
                    }
                    Value::Object(o)
                };
                let value = if attr(&c.body, "for_each").is_some() {
                    Value::Object(
                        instances
                            .iter()
                            .map(|s| (s.key.clone().unwrap_or_default(), outputs(s)))
                            .collect(),
                    )
                } else if let Some(s) = instances.first() {
                    outputs(s)
                } else {
                    continue;
                };
                modules.insert(c.name.clone(), value);
            }
            scope
                .ctx_vars
                .insert("module".into(), Value::Object(modules));
        }
        scope
    }

    fn eval_locals(&mut self) {
        let mut locals = match self.ctx_vars.get("local") {
            Some(Value::Object(o)) => o.clone(),
            _ => hcl::Map::new(),
        };
        for _ in 0..4 {
            self.ctx_vars
                .insert("local".into(), Value::Object(locals.clone()));
            let mut changed = false;
            for (name, (expr, _)) in &self.module.locals {
                if locals.contains_key(name) {
                    continue;
                }
                if let Some(v) = self.eval(expr) {
                    locals.insert(name.clone(), v);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.ctx_vars.insert("local".into(), Value::Object(locals));
    }

    /// `type.name.attribute` for the top-level attributes of resources without `count`/`for_each` whose value is
    /// known from the configuration alone (a name, a location, a SKU).
    fn eval_resources(&mut self) {
        let mut by_type: BTreeMap<String, hcl::Map<String, Value>> = BTreeMap::new();
        for r in self.module.resources.iter().filter(|r| !r.data) {
            if attr(&r.body, "for_each").is_some() || attr(&r.body, "count").is_some() {
                continue;
            }
            let mut o = hcl::Map::new();
            for a in r.body.attributes() {
                if let Some(v) = self.eval(a.expr()) {
                    o.insert(a.key().to_string(), v);
                }
            }
            by_type
                .entry(r.rtype.clone())
                .or_default()
                .insert(r.name.clone(), Value::Object(o));
        }
        for (t, o) in by_type {
            self.ctx_vars.insert(t, Value::Object(o));
        }
    }

    fn instantiate(&self, call: &Call, module: Rc<Module>) -> Vec<(String, Scope)> {
        let inputs_with = |each: Option<(Value, Value)>| -> BTreeMap<String, Value> {
            let mut ctx = self.context();
            if let Some((k, v)) = &each {
                let mut o = hcl::Map::new();
                o.insert("key".to_string(), k.clone());
                o.insert("value".to_string(), v.clone());
                ctx.declare_var("each", Value::Object(o));
            }
            call.body
                .attributes()
                .filter(|a| !matches!(a.key(), "source" | "for_each" | "depends_on" | "count"))
                .filter_map(|a| partial(a.expr(), &ctx).map(|v| (a.key().to_string(), v)))
                .collect()
        };
        let path = format!("{}/module.{}", self.path, call.name);
        let mut out = match attr(&call.body, "for_each") {
            None => vec![(
                call.name.clone(),
                Scope::build(module, path, None, inputs_with(None), None),
            )],
            Some(fe) => {
                let entries: Vec<(String, Value)> = match self.eval(fe) {
                    Some(Value::Object(o)) => o.into_iter().collect(),
                    Some(Value::Array(a)) => a
                        .into_iter()
                        .filter_map(|v| match &v {
                            Value::String(s) => Some((s.clone(), v.clone())),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let each = Some((Value::String(k.clone()), v));
                        (
                            call.name.clone(),
                            Scope::build(
                                module.clone(),
                                format!("{path}[\"{k}\"]"),
                                Some(k),
                                inputs_with(each.clone()),
                                each,
                            ),
                        )
                    })
                    .collect()
            }
        };
        for (_, s) in &mut out {
            s.call = call.name.clone();
        }
        out
    }

    /// The parent's call input feeding `var.<name>` of this scope, for tracing.
    pub fn child(&self, call: &str) -> Vec<&Scope> {
        self.children
            .iter()
            .filter(|(n, _)| n == call)
            .map(|(_, s)| s)
            .collect()
    }
}

/// An expression's value; of an object, the entries that are known (an input object with one unknown id still
/// gives its names and SKUs).
fn partial(e: &Expression, ctx: &Context) -> Option<Value> {
    match e {
        Expression::Object(o) => Some(Value::Object(
            o.iter()
                .filter_map(|(k, v)| Some((text_key(k), partial(v, ctx)?)))
                .collect(),
        )),
        other => other.evaluate(ctx).ok(),
    }
}

/// `optional(type, default)` defaults of an object type expression: attribute -> default.
fn optional_defaults(ty: &Expression) -> Optional {
    if let Expression::FuncCall(f) = ty {
        if f.name.name.as_str() == "map" && f.args.len() == 1 {
            return Optional::Map(Box::new(optional_defaults(&f.args[0])));
        }
    }
    let mut out = BTreeMap::new();
    if let Expression::FuncCall(f) = ty {
        if f.name.name.as_str() == "object" {
            if let Some(Expression::Object(o)) = f.args.first() {
                for (k, v) in o.iter() {
                    if let Expression::FuncCall(opt) = v {
                        if opt.name.name.as_str() == "optional" && opt.args.len() == 2 {
                            out.insert(text_key(k), opt.args[1].clone());
                        }
                    }
                }
            }
        }
    }
    Optional::Object(out)
}

/// The defaults a variable's type gives the attributes its value leaves out.
enum Optional {
    Object(BTreeMap<String, Expression>),
    /// `map(object({...}))`: each value's.
    Map(Box<Optional>),
}

fn apply_optional(value: Value, optional: Option<&Optional>) -> Value {
    match (value, optional) {
        (Value::Object(o), Some(Optional::Map(inner))) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, apply_optional(v, Some(inner))))
                .collect(),
        ),
        (Value::Object(mut o), Some(Optional::Object(opts))) => {
            for (k, d) in opts {
                if !o.contains_key(k) || o.get(k) == Some(&Value::Null) {
                    if let Ok(v) = d.evaluate(&base_context()) {
                        o.insert(k.clone(), v);
                    }
                }
            }
            Value::Object(o)
        }
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::super::terraform::load;
    use super::*;

    fn module(src: &str) -> Rc<Module> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), src).unwrap();
        load(dir.path(), dir.path(), 0).unwrap()
    }

    #[test]
    fn defaults_inputs_locals_and_optional_attributes_evaluate_and_unknowns_stay_unknown() {
        let m = module(
            r#"
variable "kind" { type = string }
variable "db" {
  type    = object({ sku = optional(string, "GP_S_Gen5_1"), name = string })
  default = { name = "accounts" }
}
variable "id" { type = string }
locals {
  ephemeral = var.kind != "persistent"
  sku       = local.ephemeral ? var.db.sku : "GP_S_Gen5_2"
  hashed    = sha1(var.id)
}
"#,
        );
        let inputs = BTreeMap::from([("kind".to_string(), Value::from("nightly"))]);
        let scope = Scope::build(m, "s".into(), None, inputs, None);
        let local = |k: &str| match scope.ctx_vars.get("local") {
            Some(Value::Object(o)) => o.get(k).cloned(),
            _ => None,
        };
        assert_eq!(local("sku"), Some(Value::from("GP_S_Gen5_1")));
        assert_eq!(
            local("hashed"),
            None,
            "sha1 is not known: no value is made up"
        );
    }
}
