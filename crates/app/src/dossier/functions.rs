//! The Terraform functions the stack evaluator knows (those the stacks use to build names, settings and SKUs); an
//! expression calling any other stays unknown rather than guessed.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use hcl::Value;

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
pub(crate) fn functions() -> Vec<(&'static str, FuncDef)> {
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
