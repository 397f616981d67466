//! `${...}` templates in catalog values.
//!
//! Templates are checked when the catalog is validated (every reference must resolve to something the step can
//! see) and rendered when a step starts, against the run's context and its upstream steps' outputs.

use serde_json::Value;
use std::collections::BTreeMap;

/// One reference inside a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `${<step>.<output>}`
    Output { step: String, output: String },
    /// `${env.name}`, `${env.kind}`, `${env.vars.<k>}`, `${product.name}`, `${run.id}`, `${release.version}`
    Context(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed '${{' in {0:?}: close it with '}}' or write '$${{' for a literal")]
    Unclosed(String),
    #[error("'${{{0}}}' is not a reference: use ${{<step>.<output>}}, ${{env.name}}, ${{env.kind}}, ${{env.vars.<key>}}, ${{product.name}}, ${{run.id}} or ${{release.version}}")]
    Malformed(String),
    #[error("'${{{0}}}' has no value here")]
    Missing(String),
}

enum Segment<'a> {
    Text(&'a str),
    Ref(&'a str),
}

fn segments(s: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        if rest[pos..].starts_with("$${") {
            out.push(Segment::Text(&rest[..pos]));
            out.push(Segment::Text("${"));
            rest = &rest[pos + 3..];
        } else if rest[pos..].starts_with("${") {
            out.push(Segment::Text(&rest[..pos]));
            let end = rest[pos..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(s.to_string()))?;
            out.push(Segment::Ref(&rest[pos + 2..pos + end]));
            rest = &rest[pos + end + 1..];
        } else {
            out.push(Segment::Text(&rest[..pos + 1]));
            rest = &rest[pos + 1..];
        }
    }
    out.push(Segment::Text(rest));
    Ok(out)
}

fn classify(inner: &str) -> Result<Reference, TemplateError> {
    let inner_t = inner.trim();
    let parts: Vec<&str> = inner_t.split('.').collect();
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !parts.iter().all(|p| ok_part(p)) {
        return Err(TemplateError::Malformed(inner.to_string()));
    }
    match parts.as_slice() {
        ["env", "name" | "kind"] | ["product", "name"] | ["run", "id"] | ["release", "version"] => {
            Ok(Reference::Context(inner_t.to_string()))
        }
        ["env", "vars", _] => Ok(Reference::Context(inner_t.to_string())),
        ["env" | "product" | "run" | "release", ..] => {
            Err(TemplateError::Malformed(inner.to_string()))
        }
        [step, output] => Ok(Reference::Output {
            step: step.to_string(),
            output: output.to_string(),
        }),
        _ => Err(TemplateError::Malformed(inner.to_string())),
    }
}

/// The references a string makes, or why it is malformed.
pub fn references(s: &str) -> Result<Vec<Reference>, TemplateError> {
    segments(s)?
        .into_iter()
        .filter_map(|seg| match seg {
            Segment::Ref(r) => Some(classify(r)),
            Segment::Text(_) => None,
        })
        .collect()
}

/// The references in every string of a JSON value.
pub fn value_references(v: &Value) -> Result<Vec<Reference>, TemplateError> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => out.extend(references(s)?),
        Value::Array(items) => {
            for i in items {
                out.extend(value_references(i)?);
            }
        }
        Value::Object(map) => {
            for i in map.values() {
                out.extend(value_references(i)?);
            }
        }
        _ => {}
    }
    Ok(out)
}

/// What templates resolve against.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `env.name`, `run.id`, ... -> value
    pub values: BTreeMap<String, String>,
    /// step -> output -> value
    pub outputs: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Context {
    fn lookup(&self, r: &Reference, raw: &str) -> Result<Value, TemplateError> {
        match r {
            Reference::Context(k) => self
                .values
                .get(k)
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| TemplateError::Missing(raw.into())),
            Reference::Output { step, output } => self
                .outputs
                .get(step)
                .and_then(|o| o.get(output))
                .cloned()
                .ok_or_else(|| TemplateError::Missing(raw.into())),
        }
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders a string. A string that is exactly one reference keeps the referenced value's JSON type.
pub fn render(s: &str, ctx: &Context) -> Result<Value, TemplateError> {
    let segs = segments(s)?;
    if let [Segment::Text(""), Segment::Ref(r), Segment::Text("")] = segs.as_slice() {
        return ctx.lookup(&classify(r)?, r);
    }
    let mut out = String::new();
    for seg in segs {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Ref(r) => out.push_str(&as_text(&ctx.lookup(&classify(r)?, r)?)),
        }
    }
    Ok(Value::String(out))
}

/// Renders every string inside a JSON value.
pub fn render_value(v: &Value, ctx: &Context) -> Result<Value, TemplateError> {
    Ok(match v {
        Value::String(s) => render(s, ctx)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_value(i, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, i)| Ok((k.clone(), render_value(i, ctx)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// Renders to text (for environment variables and command arguments).
pub fn render_text(s: &str, ctx: &Context) -> Result<String, TemplateError> {
    render(s, ctx).map(|v| as_text(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        let mut c = Context::default();
        c.values.insert("env.name".into(), "pr-1".into());
        c.outputs.insert(
            "sql".into(),
            [
                ("port".to_string(), json!(1433)),
                ("host".into(), json!("db")),
            ]
            .into(),
        );
        c
    }

    #[test]
    fn a_lone_reference_keeps_its_type_and_mixed_text_is_interpolated() {
        assert_eq!(render("${sql.port}", &ctx()).unwrap(), json!(1433));
        assert_eq!(
            render("${sql.host}:${sql.port}/${env.name}", &ctx()).unwrap(),
            json!("db:1433/pr-1")
        );
        assert_eq!(
            render("cost $5 and $${literal}", &ctx()).unwrap(),
            json!("cost $5 and ${literal}")
        );
    }

    #[test]
    fn references_are_classified_and_bad_ones_explained() {
        assert_eq!(
            references("${foundation.rg} ${env.vars.sku}").unwrap(),
            vec![
                Reference::Output {
                    step: "foundation".into(),
                    output: "rg".into()
                },
                Reference::Context("env.vars.sku".into())
            ]
        );
        assert!(matches!(
            references("${env.nope}"),
            Err(TemplateError::Malformed(_))
        ));
        assert!(matches!(
            references("${a.b"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            render("${sql.missing}", &ctx()),
            Err(TemplateError::Missing(_))
        ));
    }
}
