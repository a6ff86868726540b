//! Trino's `json_extract_scalar` and `json_extract` over the JSONPath
//! subset they accept.

use super::*;

/// One step of a JSON path: `.key`, `["key"]` or `[index]`.
#[derive(Debug, PartialEq)]
pub(super) enum JsonStep {
    Key(String),
    Index(usize),
}

/// Parses the JSONPath subset Trino's `json_extract*` accept.
pub(super) fn json_path(path: &str) -> Result<Vec<JsonStep>> {
    let invalid = || exec_err!("Invalid JSON path: '{path}'");
    let Some(mut rest) = path.trim().strip_prefix('$') else {
        return invalid();
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 || r[..end].contains('*') {
                return invalid();
            }
            steps.push(JsonStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return invalid();
            };
            let inner = r[..end].trim();
            if let Some(q) = inner
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')))
            {
                steps.push(JsonStep::Key(q.to_string()));
            } else if let Ok(i) = inner.parse::<usize>() {
                steps.push(JsonStep::Index(i));
            } else {
                return invalid();
            }
            rest = &r[end + 1..];
        } else {
            return invalid();
        }
    }
    Ok(steps)
}

/// The value at `steps` in `json`; None for malformed JSON or a missing
/// step (Trino answers NULL for both).
pub(super) fn json_at(json: &str, steps: &[JsonStep]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_str(json).ok()?;
    for s in steps {
        v = match (s, v) {
            (JsonStep::Key(k), serde_json::Value::Object(mut m)) => m.remove(k)?,
            (JsonStep::Index(i), serde_json::Value::Array(mut a)) if *i < a.len() => {
                a.swap_remove(*i)
            }
            _ => return None,
        };
    }
    Some(v)
}

pub(super) fn json_extract_scalar(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    json_extract_with(a, |v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

pub(super) fn json_extract(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    json_extract_with(a, |v| Some(v.to_string()))
}

pub(super) fn json_extract_with(
    a: &[ArrayRef],
    render: fn(serde_json::Value) -> Option<String>,
) -> Result<ArrayRef> {
    let (docs, paths) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for i in 0..docs.len() {
        match (&docs[i], &paths[i]) {
            (Some(doc), Some(path)) => {
                let steps = json_path(path)?;
                out.append_option(json_at(doc, &steps).and_then(render));
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}
