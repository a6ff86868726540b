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
            } else if !inner.is_empty() && !inner.contains(['*', '"', '\'', '[']) {
                // Trino reads an unquoted `[key]` as the key.
                steps.push(JsonStep::Key(inner.to_string()));
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
            // `$.1` on an array is its element 1, as in Trino.
            (JsonStep::Key(k), serde_json::Value::Array(mut a)) => {
                let i: usize = k.parse().ok()?;
                if i >= a.len() {
                    return None;
                }
                a.swap_remove(i)
            }
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

fn parsed(doc: &Option<String>) -> Option<serde_json::Value> {
    serde_json::from_str(doc.as_deref()?).ok()
}

/// `json_array_length(json)`: NULL unless an array.
pub(super) fn json_array_length(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Int64Builder::new();
    for doc in texts(&a[0])? {
        out.append_option(match parsed(&doc) {
            Some(serde_json::Value::Array(v)) => Some(v.len() as i64),
            _ => None,
        });
    }
    Ok(Arc::new(out.finish()))
}

/// `json_size(json, path)`: the elements of the array or object at the
/// path, 0 for a scalar, NULL when the path finds nothing.
pub(super) fn json_size(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (docs, paths) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = Int64Builder::new();
    for i in 0..docs.len() {
        let (Some(doc), Some(path)) = (&docs[i], &paths[i]) else {
            out.append_null();
            continue;
        };
        let steps = json_path(path)?;
        out.append_option(json_at(doc, &steps).map(|v| match v {
            serde_json::Value::Array(a) => a.len() as i64,
            serde_json::Value::Object(m) => m.len() as i64,
            _ => 0,
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `json_array_get(json_array, index)`: the element, from 0, negative from
/// the end, NULL outside.
pub(super) fn json_array_get(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (docs, indexes) = (texts(&a[0])?, integers(&a[1])?);
    let mut out = StringBuilder::new();
    for (doc, index) in docs.iter().zip(indexes) {
        let (Some(serde_json::Value::Array(v)), Some(i)) = (parsed(doc), index) else {
            out.append_null();
            continue;
        };
        let at = if i < 0 { v.len() as i64 + i } else { i };
        // A string element comes back as its text, a JSON null as NULL
        // (Trino's json_array_get does so; its docs call it out).
        out.append_option(usize::try_from(at).ok().and_then(|at| v.get(at)).and_then(
            |e| match e {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            },
        ));
    }
    Ok(Arc::new(out.finish()))
}

/// The mark of a JSON number too large for a double (serde reads none),
/// which Trino's parser reads as an infinity: `\u{0}inf+` or `\u{0}inf-`.
const OVERFLOW: &str = "\u{0}inf";

/// `doc` with each number a double cannot hold (`9.6E400`) written as a
/// string marked [`OVERFLOW`], so the rest of the document can be read.
fn overflows_marked(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut chars = doc.char_indices().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some((i, c)) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
            continue;
        }
        if c == '-' || c.is_ascii_digit() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_digit() || matches!(d, '.' | 'e' | 'E' | '+' | '-') {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let token = &doc[i..end];
            match token.parse::<f64>() {
                Ok(x) if x.is_infinite() => {
                    let sign = if x < 0.0 { '-' } else { '+' };
                    out.push_str(&format!(
                        "\"{}{sign}\"",
                        OVERFLOW.replace('\u{0}', "\\u0000")
                    ));
                }
                _ => out.push_str(token),
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `json_array_contains(json, value)`: whether the array holds the value
/// (a boolean, number or string, compared as Trino does: by kind and value).
pub(super) fn json_array_contains(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let docs = texts(&a[0])?;
    let kind = a[1].data_type().clone();
    let values = texts(&a[1])?;
    let mut out = datafusion::arrow::array::BooleanBuilder::new();
    for (doc, value) in docs.iter().zip(values) {
        let parsed =
            parsed(doc).or_else(|| serde_json::from_str(&overflows_marked(doc.as_deref()?)).ok());
        let (Some(serde_json::Value::Array(v)), Some(value)) = (parsed, value) else {
            out.append_null();
            continue;
        };
        let found = v.iter().any(|e| match (e, &kind) {
            (serde_json::Value::String(s), k)
                if (k.is_floating() || matches!(k, DataType::Decimal128(..)))
                    && s.starts_with(OVERFLOW) =>
            {
                value
                    .parse::<f64>()
                    .is_ok_and(|b| b.is_infinite() && (b < 0.0) == s.ends_with('-'))
            }
            (serde_json::Value::String(s), _) if s.starts_with(OVERFLOW) => false,
            (serde_json::Value::Bool(b), DataType::Boolean) => b.to_string() == value,
            (serde_json::Value::Number(n), k) if k.is_integer() => {
                n.as_i64().is_some_and(|n| n.to_string() == value)
            }
            (serde_json::Value::Number(n), k)
                if k.is_floating() || matches!(k, DataType::Decimal128(..)) =>
            {
                // A JSON integer is not a double: `[1]` does not hold 1.0.
                n.is_f64()
                    && matches!((n.as_f64(), value.parse::<f64>()), (Some(a), Ok(b)) if a == b)
            }
            (
                serde_json::Value::String(s),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
            ) => *s == value,
            _ => false,
        });
        out.append_value(found);
    }
    Ok(Arc::new(out.finish()))
}

/// `json_parse(text)`: the JSON, compact; malformed text is an error.
pub(super) fn json_parse(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for doc in texts(&a[0])? {
        let Some(doc) = doc else {
            out.append_null();
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&doc).map_err(|e| {
            DataFusionError::Execution(format!("Cannot convert '{doc}' to JSON: {e}"))
        })?;
        out.append_value(v.to_string());
    }
    Ok(Arc::new(out.finish()))
}

/// `json_format(json)`: the JSON as text.
pub(super) fn json_format(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    json_parse(a, &DataType::Utf8)
}

/// `is_json_scalar(json)`: whether the JSON text is a number, string,
/// boolean or null (not an array or object); invalid JSON is an error.
pub(super) fn is_json_scalar(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let out = texts(&a[0])?
        .into_iter()
        .map(|doc| {
            doc.map(|doc| {
                let v: serde_json::Value = serde_json::from_str(&doc).map_err(|e| {
                    DataFusionError::Execution(format!("is_json_scalar: invalid JSON {doc:?}: {e}"))
                })?;
                Ok(!(v.is_array() || v.is_object()))
            })
            .transpose()
        })
        .collect::<Result<datafusion::arrow::array::BooleanArray>>()?;
    Ok(Arc::new(out))
}
