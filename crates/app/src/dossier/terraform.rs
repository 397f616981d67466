//! Reading a Terraform root and the local modules it calls (hcl-rs), and evaluating what can be known before any
//! apply: variable defaults and the values the catalog passes, locals, module inputs and outputs, and the
//! configuration attributes of resources. Anything that depends on the cloud (an id, a host name Azure assigns) or on
//! a function not listed in [`functions`] stays unknown: the dossier never guesses it.

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Body, Expression, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Debug, Clone)]
pub struct Variable {
    pub default: Option<Expression>,
    pub ty: Option<Expression>,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub data: bool,
    pub rtype: String,
    pub name: String,
    pub body: Body,
    pub file: String,
}

#[derive(Debug)]
pub struct Call {
    pub name: String,
    pub body: Body,
    pub file: String,
    /// The called module, when its source is a local path.
    pub module: Option<Rc<Module>>,
}

/// One directory of `*.tf` files.
#[derive(Debug, Default)]
pub struct Module {
    /// (repository-relative path, text) of each file.
    pub files: Vec<(String, String)>,
    pub variables: BTreeMap<String, Variable>,
    pub locals: BTreeMap<String, (Expression, String)>,
    pub outputs: BTreeMap<String, (Expression, String)>,
    pub resources: Vec<Resource>,
    pub calls: Vec<Call>,
    /// (local name, source, version constraint, file)
    pub providers: Vec<(String, String, String, String)>,
    /// (constraint, file)
    pub required_version: Option<(String, String)>,
}

impl Module {
    pub fn resource(&self, rtype: &str, name: &str, data: bool) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.rtype == rtype && r.name == name && r.data == data)
    }

    pub fn call(&self, name: &str) -> Option<&Call> {
        self.calls.iter().find(|c| c.name == name)
    }

    pub fn has_resource_type(&self, rtype: &str) -> bool {
        self.resources.iter().any(|r| r.rtype == rtype)
    }
}

pub fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn label(block: &hcl::Block, i: usize) -> String {
    block
        .labels()
        .get(i)
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

/// The expression as HCL text on one line.
pub fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr)
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn shown(repo_root: &Path, p: &Path) -> String {
    p.strip_prefix(repo_root).unwrap_or(p).display().to_string()
}

/// Parses `dir` and, recursively, the local modules it calls. `depth` stops a module that calls itself.
pub fn load(repo_root: &Path, dir: &Path, depth: usize) -> Result<Rc<Module>, String> {
    let dir = normalize(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| {
            format!(
                "{}: cannot read the directory ({e})",
                shown(repo_root, &dir)
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    paths.sort();
    let mut m = Module::default();
    for path in paths {
        let file = shown(repo_root, &path);
        let src = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
        let body: Body = hcl::parse(&src).map_err(|e| format!("{file}: {e}"))?;
        for block in body.blocks() {
            match block.identifier() {
                "variable" => {
                    m.variables.insert(
                        label(block, 0),
                        Variable {
                            default: attr(block.body(), "default").cloned(),
                            ty: attr(block.body(), "type").cloned(),
                        },
                    );
                }
                "locals" => {
                    for a in block.body().attributes() {
                        m.locals
                            .insert(a.key().to_string(), (a.expr().clone(), file.clone()));
                    }
                }
                "output" => {
                    if let Some(v) = attr(block.body(), "value") {
                        m.outputs.insert(label(block, 0), (v.clone(), file.clone()));
                    }
                }
                "resource" | "data" => m.resources.push(Resource {
                    data: block.identifier() == "data",
                    rtype: label(block, 0),
                    name: label(block, 1),
                    body: block.body().clone(),
                    file: file.clone(),
                }),
                "module" => {
                    let source = attr(block.body(), "source")
                        .and_then(|e| match e {
                            Expression::String(s) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    let module =
                        if (source.starts_with("./") || source.starts_with("../")) && depth < 8 {
                            Some(load(repo_root, &dir.join(&source), depth + 1)?)
                        } else {
                            None
                        };
                    m.calls.push(Call {
                        name: label(block, 0),
                        body: block.body().clone(),
                        file: file.clone(),
                        module,
                    });
                }
                "terraform" => {
                    if let Some(Expression::String(v)) = attr(block.body(), "required_version") {
                        m.required_version = Some((v.clone(), file.clone()));
                    }
                    for rp in block
                        .body()
                        .blocks()
                        .filter(|b| b.identifier() == "required_providers")
                    {
                        for a in rp.body().attributes() {
                            if let Expression::Object(o) = a.expr() {
                                let get = |k: &str| {
                                    o.iter()
                                        .find(|(key, _)| text_key(key) == k)
                                        .and_then(|(_, v)| match v {
                                            Expression::String(s) => Some(s.clone()),
                                            _ => None,
                                        })
                                        .unwrap_or_default()
                                };
                                m.providers.push((
                                    a.key().to_string(),
                                    get("source"),
                                    get("version"),
                                    file.clone(),
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        m.files.push((file, src));
    }
    Ok(Rc::new(m))
}

/// `a/b/../c` -> `a/c`, without touching the file system (symlinked files stay where the root links them).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub fn text_key(k: &hcl::ObjectKey) -> String {
    match k {
        hcl::ObjectKey::Identifier(i) => i.as_str().to_string(),
        hcl::ObjectKey::Expression(Expression::String(s)) => s.clone(),
        hcl::ObjectKey::Expression(e) => text(e),
        _ => String::new(),
    }
}

// ---- evaluation ---------------------------------------------------------------------------------------------------

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

// ---- functions ----------------------------------------------------------------------------------------------------

fn s(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("not a string".into()),
    }
}

fn n(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| "not an integer".into()),
        _ => Err("not a number".into()),
    }
}

/// The Terraform functions the evaluator knows; any other makes its expression unknown.
fn functions() -> Vec<(&'static str, FuncDef)> {
    let any = || FuncDef::builder().variadic_param(ParamType::Any);
    vec![
        (
            "merge",
            any().build(|a: FuncArgs| {
                let mut out = hcl::Map::new();
                for v in a.iter() {
                    match v {
                        Value::Object(o) => out.extend(o.clone()),
                        Value::Null => {}
                        _ => return Err("merge takes objects".into()),
                    }
                }
                Ok(Value::Object(out))
            }),
        ),
        (
            "concat",
            any().build(|a: FuncArgs| {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v {
                        Value::Array(x) => out.extend(x.clone()),
                        _ => return Err("concat takes lists".into()),
                    }
                }
                Ok(Value::Array(out))
            }),
        ),
        (
            "join",
            any().build(|a: FuncArgs| match (a.first(), a.get(1)) {
                (Some(sep), Some(Value::Array(items))) => Ok(Value::String(
                    items
                        .iter()
                        .map(s)
                        .collect::<Result<Vec<_>, _>>()?
                        .join(&s(sep)?),
                )),
                _ => Err("join(sep, list)".into()),
            }),
        ),
        (
            "replace",
            any().build(|a: FuncArgs| match (a.first(), a.get(1), a.get(2)) {
                (Some(x), Some(from), Some(to)) => {
                    let from = s(from)?;
                    if from.starts_with('/') {
                        return Err("regex replace unsupported".into());
                    }
                    Ok(Value::String(s(x)?.replace(&from, &s(to)?)))
                }
                _ => Err("replace(s, from, to)".into()),
            }),
        ),
        (
            "substr",
            any().build(|a: FuncArgs| match (a.first(), a.get(1), a.get(2)) {
                (Some(x), Some(off), Some(len)) => {
                    let chars: Vec<char> = s(x)?.chars().collect();
                    let off = (n(off)?.max(0) as usize).min(chars.len());
                    let len = n(len)?;
                    let end = if len < 0 {
                        chars.len()
                    } else {
                        (off + len as usize).min(chars.len())
                    };
                    Ok(Value::String(chars[off..end].iter().collect()))
                }
                _ => Err("substr(s, offset, length)".into()),
            }),
        ),
        (
            "trimsuffix",
            any().build(|a: FuncArgs| match (a.first(), a.get(1)) {
                (Some(x), Some(suf)) => {
                    let (x, suf) = (s(x)?, s(suf)?);
                    Ok(Value::String(
                        x.strip_suffix(suf.as_str()).unwrap_or(&x).to_string(),
                    ))
                }
                _ => Err("trimsuffix(s, suffix)".into()),
            }),
        ),
        (
            "trimprefix",
            any().build(|a: FuncArgs| match (a.first(), a.get(1)) {
                (Some(x), Some(pre)) => {
                    let (x, pre) = (s(x)?, s(pre)?);
                    Ok(Value::String(
                        x.strip_prefix(pre.as_str()).unwrap_or(&x).to_string(),
                    ))
                }
                _ => Err("trimprefix(s, prefix)".into()),
            }),
        ),
        (
            "lower",
            any().build(|a: FuncArgs| {
                Ok(Value::String(
                    s(a.first().ok_or("lower(s)")?)?.to_lowercase(),
                ))
            }),
        ),
        (
            "coalesce",
            any().build(|a: FuncArgs| {
                a.iter()
                    .find(|v| !matches!(v, Value::Null) && v != &&Value::String(String::new()))
                    .cloned()
                    .ok_or_else(|| "coalesce: no value".into())
            }),
        ),
        (
            "toset",
            any().build(|a: FuncArgs| match a.first() {
                Some(Value::Array(x)) => {
                    let mut out: Vec<Value> = Vec::new();
                    for v in x {
                        if !out.contains(v) {
                            out.push(v.clone());
                        }
                    }
                    Ok(Value::Array(out))
                }
                _ => Err("toset(list)".into()),
            }),
        ),
        (
            "tostring",
            any().build(|a: FuncArgs| Ok(Value::String(s(a.first().ok_or("tostring(v)")?)?))),
        ),
        (
            "compact",
            any().build(|a: FuncArgs| match a.first() {
                Some(Value::Array(x)) => Ok(Value::Array(
                    x.iter()
                        .filter(|v| {
                            !matches!(v, Value::Null) && v != &&Value::String(String::new())
                        })
                        .cloned()
                        .collect(),
                )),
                _ => Err("compact(list)".into()),
            }),
        ),
        (
            "lookup",
            any().build(|a: FuncArgs| match (a.first(), a.get(1)) {
                (Some(Value::Object(o)), Some(k)) => o
                    .get(&s(k)?)
                    .cloned()
                    .or_else(|| a.get(2).cloned())
                    .ok_or_else(|| "lookup: no such key".into()),
                _ => Err("lookup(map, key, default)".into()),
            }),
        ),
        (
            "contains",
            any().build(|a: FuncArgs| match (a.first(), a.get(1)) {
                (Some(Value::Array(x)), Some(v)) => Ok(Value::Bool(x.contains(v))),
                _ => Err("contains(list, value)".into()),
            }),
        ),
        (
            "keys",
            any().build(|a: FuncArgs| match a.first() {
                Some(Value::Object(o)) => Ok(Value::Array(
                    o.keys().map(|k| Value::String(k.clone())).collect(),
                )),
                _ => Err("keys(map)".into()),
            }),
        ),
        (
            "one",
            any().build(|a: FuncArgs| match a.first() {
                Some(Value::Array(x)) if x.len() <= 1 => {
                    Ok(x.first().cloned().unwrap_or(Value::Null))
                }
                _ => Err("one(list)".into()),
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
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
