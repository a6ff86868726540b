//! Trino's `regexp_extract`.

use super::*;

/// `regexp_extract(string, pattern [, group])`: the first match (or its
/// group), NULL when nothing matches.
pub(super) fn regexp_extract(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let groups = match a.get(2) {
        Some(g) => integers(g)?,
        None => vec![Some(0); strings.len()],
    };
    let mut compiled: Option<(String, regex::Regex)> = None;
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(p), Some(g)) = (&strings[i], &patterns[i], groups[i]) else {
            out.append_null();
            continue;
        };
        if compiled.as_ref().is_none_or(|(q, _)| q != p) {
            let re = regex::Regex::new(p)
                .map_err(|e| DataFusionError::Execution(format!("regexp_extract: {e}")))?;
            compiled = Some((p.clone(), re));
        }
        let re = &compiled.as_ref().expect("compiled above").1;
        if g < 0 || g as usize >= re.captures_len() {
            return exec_err!("regexp_extract: pattern has no group {g}");
        }
        out.append_option(
            re.captures(s)
                .and_then(|c| c.get(g as usize))
                .map(|m| m.as_str()),
        );
    }
    Ok(Arc::new(out.finish()))
}
