//! Deriving flows: each component's settings are traced back, through locals, module inputs and outputs, the
//! catalog's `${step.output}` templates and Key Vault secrets, to the components they name. An app whose setting
//! holds the data layer's connection string (or a Key Vault reference to it) talks to that database; an API whose
//! CORS origins are the SPAs' is called by them (settings named `*origin*`/`*cors*` reverse the direction).

use super::scope::Scope;
use super::terraform::{attr, text};
use super::{Input, Stacks};
use hcl::Expression;
use nightshift_core::catalog::Action;

use nightshift_core::template::{self, Reference};

/// Attributes that place or name a resource: never a flow.
const SKIP: &[&str] = &[
    "name",
    "location",
    "resource_group_name",
    "resource_group_path",
    "tags",
    "depends_on",
    "for_each",
    "count",
    "provider",
    "source",
    "lifecycle",
    "product",
    "environment",
    "simulated_seconds",
    "triggers_replace",
    "identity_ids",
    "key_vault_reference_identity_id",
    "service_plan_id",
    "tenant_id",
    "principal_id",
    "comment_suffix",
    "zone_id",
    "zone_name",
];

#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Index into `Stacks::found`.
    pub comp: usize,
    /// The Key Vault secret name, when the hit is the vault a reference resolves in.
    pub secret: Option<String>,
    /// The setting, and the file it is written in.
    pub label: (String, String),
    pub reverse: bool,
}

#[derive(Clone)]
struct At<'s> {
    step: String,
    chain: Vec<&'s Scope>,
}

pub(crate) struct Tracer<'a, 's> {
    pub input: &'a Input<'a>,
    pub stacks: &'s Stacks,
    budget: std::cell::Cell<usize>,
}

/// `var.x`, `local.x`, `module.m[.o]`, `data.t.n`, `t.n` chains found in an expression's text.
fn refs(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let prev_ok = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == '_'
                || bytes[i - 1] == '.'
                || bytes[i - 1] == '-');
        if prev_ok && (c.is_ascii_alphabetic() || c == '_') {
            let mut chain = vec![String::new()];
            while i < bytes.len() {
                let c = bytes[i];
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    chain.last_mut().unwrap_or(&mut String::new()).push(c);
                } else if c == '.'
                    && i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphabetic() || bytes[i + 1] == '_')
                {
                    chain.push(String::new());
                } else {
                    break;
                }
                i += 1;
            }
            if chain.len() >= 2 {
                out.push(chain);
            }
        } else {
            i += 1;
        }
    }
    out
}

impl<'a, 's> Tracer<'a, 's> {
    pub fn new(input: &'a Input<'a>, stacks: &'s Stacks) -> Self {
        Self {
            input,
            stacks,
            budget: std::cell::Cell::new(20_000),
        }
    }

    fn spend(&self) -> bool {
        let b = self.budget.get();
        if b == 0 {
            return false;
        }
        self.budget.set(b - 1);
        true
    }

    /// The chain of scopes from a step's root to the scope at `path`.
    fn chain_to(&self, step: &str, path: &str) -> Option<Vec<&'s Scope>> {
        fn walk<'s>(s: &'s Scope, path: &str, acc: &mut Vec<&'s Scope>) -> bool {
            acc.push(s);
            if s.path == path {
                return true;
            }
            for (_, c) in &s.children {
                if walk(c, path, acc) {
                    return true;
                }
            }
            acc.pop();
            false
        }
        let mut acc = Vec::new();
        walk(self.stacks.roots.get(step)?, path, &mut acc).then_some(acc)
    }

    fn found_in(&self, step: &str, scope: &Scope, rtype: &str, rname: &str) -> Option<usize> {
        self.stacks.found.iter().position(|f| {
            f.step == step && f.scope_path == scope.path && f.rtype == rtype && f.rname == rname
        })
    }

    /// Components anywhere under a scope.
    fn components_under(&self, step: &str, scope: &Scope) -> Vec<usize> {
        let prefix = scope.path.clone();
        (0..self.stacks.found.len())
            .filter(|&i| {
                let f = &self.stacks.found[i];
                f.step == step
                    && (f.scope_path == prefix || f.scope_path.starts_with(&format!("{prefix}/")))
            })
            .collect()
    }

    fn hit(comp: usize, label: &(String, String), names: &[(String, String)]) -> Hit {
        let reverse = names.iter().any(|(n, _)| {
            let n = n.to_lowercase();
            n.contains("origin") || n.contains("cors")
        });
        Hit {
            comp,
            secret: None,
            label: label.clone(),
            reverse,
        }
    }

    /// Traces an expression of the scope at the end of `at.chain`. `label` is fixed once the trace leaves the step
    /// it started in; until then the last setting name seen is the label.
    fn expr(
        &self,
        at: &At<'s>,
        e: &Expression,
        names: &[(String, String)],
        file: &str,
        fixed: Option<&(String, String)>,
    ) -> Vec<Hit> {
        if !self.spend() {
            return Vec::new();
        }
        match e {
            Expression::Object(o) => o
                .iter()
                .flat_map(|(k, v)| {
                    let mut n = names.to_vec();
                    if fixed.is_none() {
                        n.push((super::terraform::text_key(k), file.to_string()));
                    }
                    self.expr(at, v, &n, file, fixed)
                })
                .collect(),
            Expression::Array(items) => items
                .iter()
                .flat_map(|v| self.expr(at, v, names, file, fixed))
                .collect(),
            Expression::FuncCall(f) => f
                .args
                .iter()
                .flat_map(|v| self.expr(at, v, names, file, fixed))
                .collect(),
            Expression::Conditional(c) => {
                let mut h = self.expr(at, &c.true_expr, names, file, fixed);
                h.extend(self.expr(at, &c.false_expr, names, file, fixed));
                h
            }
            Expression::Parenthesis(p) => self.expr(at, p, names, file, fixed),
            other => {
                let t = text(other);
                let secret = t.split("SecretName=").nth(1).map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect::<String>()
                });
                let mut hits: Vec<Hit> = refs(&t)
                    .iter()
                    .flat_map(|r| self.reference(at, r, names, file, fixed))
                    .collect();
                if let Some(name) = secret.filter(|s| !s.is_empty()) {
                    for h in &mut hits {
                        h.secret.get_or_insert(name.clone());
                    }
                }
                hits
            }
        }
    }

    fn label(names: &[(String, String)], fixed: Option<&(String, String)>) -> (String, String) {
        fixed
            .cloned()
            .or_else(|| names.last().cloned())
            .unwrap_or_default()
    }

    fn reference(
        &self,
        at: &At<'s>,
        r: &[String],
        names: &[(String, String)],
        _file: &str,
        fixed: Option<&(String, String)>,
    ) -> Vec<Hit> {
        let here = *at.chain.last().expect("a chain has a scope");
        match r[0].as_str() {
            "var" => {
                if at.chain.len() == 1 {
                    let label = Self::label(names, fixed);
                    let reverse = Self::hit(0, &label, names).reverse;
                    let mut hits = self.catalog_var(&at.step, &r[1], &label);
                    for h in &mut hits {
                        h.reverse |= reverse;
                    }
                    return hits;
                }
                let parent = At {
                    step: at.step.clone(),
                    chain: at.chain[..at.chain.len() - 1].to_vec(),
                };
                let Some(call) = parent.chain.last().and_then(|p| p.module.call(&here.call)) else {
                    return Vec::new();
                };
                let Some(mut e) = attr(&call.body, &r[1]) else {
                    return Vec::new();
                };
                let mut n = names.to_vec();
                if fixed.is_none() {
                    n.push((r[1].clone(), call.file.clone()));
                }
                // `var.x.field` of an object input: only that field.
                if let (Some(field), Expression::Object(o)) = (r.get(2), e) {
                    if let Some((k, v)) = o
                        .iter()
                        .find(|(k, _)| &super::terraform::text_key(k) == field)
                    {
                        if fixed.is_none() {
                            n.push((super::terraform::text_key(k), call.file.clone()));
                        }
                        e = v;
                    }
                }
                self.expr(&parent, e, &n, &call.file, fixed)
            }
            "local" => match here.module.locals.get(&r[1]) {
                Some((e, f)) => self.expr(at, e, names, f, fixed),
                None => Vec::new(),
            },
            "module" => {
                let mut hits = Vec::new();
                for child in here.child(&r[1]) {
                    let mut chain = at.chain.clone();
                    chain.push(child);
                    let inner = At {
                        step: at.step.clone(),
                        chain,
                    };
                    let traced = match r.get(2).and_then(|o| child.module.outputs.get(o)) {
                        Some((e, f)) => {
                            let h = self.expr(&inner, e, names, f, fixed);
                            if h.is_empty()
                                && !refs(&text(e)).iter().any(|r| is_resource_ref(child, r))
                            {
                                None
                            } else {
                                Some(h)
                            }
                        }
                        None => None,
                    };
                    match traced {
                        Some(h) => hits.extend(h),
                        None => {
                            let label = Self::label(names, fixed);
                            hits.extend(
                                self.components_under(&at.step, child)
                                    .into_iter()
                                    .map(|c| Self::hit(c, &label, names)),
                            );
                        }
                    }
                }
                hits
            }
            "data" if r.len() >= 3 => self.resource(at, &r[1], &r[2], true, names, fixed),
            t if t.contains('_') && here.module.has_resource_type(t) => {
                self.resource(at, t, &r[1], false, names, fixed)
            }
            _ => Vec::new(),
        }
    }

    fn resource(
        &self,
        at: &At<'s>,
        rtype: &str,
        rname: &str,
        data: bool,
        names: &[(String, String)],
        fixed: Option<&(String, String)>,
    ) -> Vec<Hit> {
        let here = *at.chain.last().expect("a chain has a scope");
        let Some(res) = here.module.resource(rtype, rname, data) else {
            return Vec::new();
        };
        if !data {
            if let Some(i) = self.found_in(&at.step, here, rtype, rname) {
                return vec![Self::hit(i, &Self::label(names, fixed), names)];
            }
        }
        if rtype == "azurerm_key_vault_secret" {
            let secret = attr(&res.body, "name")
                .and_then(|e| here.eval(e))
                .and_then(|v| match v {
                    hcl::Value::String(s) => Some(s),
                    _ => None,
                });
            let mut hits = Vec::new();
            if let Some(e) = attr(&res.body, "key_vault_id") {
                for mut h in self.expr(at, e, names, &res.file, fixed) {
                    h.secret = secret.clone();
                    hits.push(h);
                }
            }
            if let Some(e) = attr(&res.body, "value") {
                hits.extend(self.expr(at, e, names, &res.file, fixed));
            }
            return hits;
        }
        flatten(&res.body)
            .into_iter()
            .filter(|(k, _)| !SKIP.contains(&k.as_str()))
            .flat_map(|(_, e)| self.expr(at, e, names, &res.file, fixed))
            .collect()
    }

    /// A var of a step's root: the catalog's value, followed to the upstream output it names.
    fn catalog_var(&self, step: &str, var: &str, label: &(String, String)) -> Vec<Hit> {
        let Some(def) = self
            .input
            .product
            .steps
            .values()
            .find(|s| s.name.as_str() == step)
        else {
            return Vec::new();
        };
        let Action::Terraform { vars, .. } = &def.action else {
            return Vec::new();
        };
        match vars.get(var) {
            Some(serde_json::Value::String(s)) => self.template(s, label),
            _ => Vec::new(),
        }
    }

    /// Every `${step.output}` of a catalog string, traced in the upstream step.
    pub fn template(&self, s: &str, label: &(String, String)) -> Vec<Hit> {
        let mut hits = Vec::new();
        for r in template::references(s).unwrap_or_default() {
            if let Reference::Output { step, output } = r {
                hits.extend(self.output(step.as_str(), &output, label));
            }
        }
        hits
    }

    fn output(&self, step: &str, output: &str, label: &(String, String)) -> Vec<Hit> {
        let Some(root) = self.stacks.roots.get(step) else {
            return Vec::new();
        };
        let Some((e, f)) = root.module.outputs.get(output) else {
            return Vec::new();
        };
        let at = At {
            step: step.to_string(),
            chain: vec![root],
        };
        let hits = self.expr(&at, e, &[], f, Some(label));
        if !hits.is_empty() || refs(&text(e)).iter().any(|r| is_resource_ref(root, r)) {
            return hits;
        }
        // An output built from names alone (an issuer URL): the step's one component, if it has exactly one.
        let comps: Vec<usize> = (0..self.stacks.found.len())
            .filter(|&i| self.stacks.found[i].step == step)
            .collect();
        match comps.as_slice() {
            [one] => vec![Self::hit(*one, label, &[])],
            _ => Vec::new(),
        }
    }

    /// What one component's settings reach.
    pub fn component(&self, i: usize) -> Vec<Hit> {
        let f = &self.stacks.found[i];
        let Some(chain) = self.chain_to(&f.step, &f.scope_path) else {
            return Vec::new();
        };
        let here = *chain.last().expect("non-empty");
        let Some(res) = here.module.resource(&f.rtype, &f.rname, false) else {
            return Vec::new();
        };
        let at = At {
            step: f.step.clone(),
            chain,
        };
        flatten(&res.body)
            .into_iter()
            .filter(|(k, _)| !SKIP.contains(&k.as_str()))
            .flat_map(|(k, e)| self.expr(&at, e, &[(k.clone(), res.file.clone())], &res.file, None))
            .collect()
    }
}

fn is_resource_ref(scope: &Scope, r: &[String]) -> bool {
    matches!(r[0].as_str(), "module" | "data")
        || (r[0].contains('_') && scope.module.has_resource_type(&r[0]))
}

/// A body's attributes, nested blocks' as `block.attr` (dynamic blocks included by their content).
pub(crate) fn flatten(body: &hcl::Body) -> Vec<(String, &Expression)> {
    let mut out: Vec<(String, &Expression)> = body
        .attributes()
        .map(|a| (a.key().to_string(), a.expr()))
        .collect();
    for b in body.blocks() {
        for (k, e) in flatten(b.body()) {
            out.push((format!("{}.{k}", b.identifier()), e));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::refs;

    #[test]
    fn references_are_found_in_expression_text_and_literals_are_not() {
        let r = refs(
            r#"merge(var.a, { X = "@Microsoft.KeyVault(SecretUri=${local.b})" }, module.c.d, azurerm_x_y.this[*].id)"#,
        );
        let joined: Vec<String> = r.iter().map(|c| c.join(".")).collect();
        assert_eq!(
            joined,
            vec![
                "var.a",
                "Microsoft.KeyVault",
                "local.b",
                "module.c.d",
                "azurerm_x_y.this"
            ]
        );
    }
}
