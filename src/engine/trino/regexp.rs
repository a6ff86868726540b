//! Trino's `regexp_extract` and `regexp_replace`.

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
        let re = compile(&mut compiled, p, "regexp_extract")?;
        let g = group_index(re, g, "regexp_extract")?;
        out.append_option(re.captures(s).and_then(|c| c.get(g)).map(|m| m.as_str()));
    }
    Ok(Arc::new(out.finish()))
}

/// `regexp_replace(string, pattern [, replacement])`: every match replaced
/// (DataFusion's replaces the first unless flagged), `$1` / `${name}` naming
/// groups as Java does; without a replacement the matches are removed.
pub(super) fn regexp_replace(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let replacements = match a.get(2) {
        Some(r) => texts(r)?,
        None => vec![Some(String::new()); strings.len()],
    };
    let mut compiled: Option<(String, regex::Regex)> = None;
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(p), Some(r)) = (&strings[i], &patterns[i], &replacements[i]) else {
            out.append_null();
            continue;
        };
        let re = compile(&mut compiled, p, "regexp_replace")?;
        let r = java_replacement(re, r)?;
        out.append_value(replace_all_java(re, s, &r));
    }
    Ok(Arc::new(out.finish()))
}

/// Every match replaced as Java's `Matcher.replaceAll` finds them.
fn replace_all_java(re: &regex::Regex, s: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    for caps in java_matches(re, s) {
        let m = caps.get(0).expect("group 0 is the match");
        out.push_str(&s[copied..m.start()]);
        caps.expand(replacement, &mut out);
        copied = m.end();
    }
    out.push_str(&s[copied..]);
    out
}

/// The matches of `re` in `s` as Java's `Matcher.find` loop finds them: an
/// empty match right after a non-empty one counts too (`'x'` with `.*` has
/// two matches, `x` and the empty one at the end), where the regex crate
/// skips it.
pub(super) fn java_matches<'h>(re: &regex::Regex, s: &'h str) -> Vec<regex::Captures<'h>> {
    let mut found = Vec::new();
    let mut from = 0;
    while from <= s.len() {
        let Some(caps) = re.captures_at(s, from) else {
            break;
        };
        let m = caps.get(0).expect("group 0 is the match");
        let (end, empty) = (m.end(), m.is_empty());
        found.push(caps);
        from = if empty {
            // After an empty match the next search starts a character on.
            match s[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        } else {
            end
        };
    }
    found
}

/// A Java replacement string in the regex crate's spelling: `\\x` is a
/// literal x, `$12` takes digits while they name a group (as
/// `Matcher.appendReplacement` does), and a group the pattern lacks is an
/// error where the regex crate would put nothing.
fn java_replacement(re: &regex::Regex, replacement: &str) -> Result<String> {
    let mut out = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(x) => out.push(x),
                None => return exec_err!("regexp_replace: a replacement ends in a backslash"),
            },
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                if re.capture_names().flatten().all(|n| n != name) {
                    return exec_err!("regexp_replace: no group with name {{{name}}}");
                }
                out.push_str(&format!("${{{name}}}"));
            }
            '$' => {
                let Some(first) = chars.next_if(char::is_ascii_digit) else {
                    return exec_err!("regexp_replace: illegal group reference in {replacement:?}");
                };
                let mut group = first.to_digit(10).unwrap_or(0) as usize;
                if group >= re.captures_len() {
                    return exec_err!("regexp_replace: no group {group}");
                }
                while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                    let longer = group * 10 + d as usize;
                    if longer >= re.captures_len() {
                        break;
                    }
                    group = longer;
                    chars.next();
                }
                out.push_str(&format!("${{{group}}}"));
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The pattern compiled, kept while the rows repeat it.
pub(super) fn compile<'a>(
    cache: &'a mut Option<(String, regex::Regex)>,
    p: &str,
    name: &str,
) -> Result<&'a regex::Regex> {
    if cache.as_ref().is_none_or(|(q, _)| q != p) {
        let re =
            regex::Regex::new(p).map_err(|e| DataFusionError::Execution(format!("{name}: {e}")))?;
        *cache = Some((p.to_string(), re));
    }
    Ok(&cache.as_ref().expect("compiled above").1)
}

/// `regexp_extract_all(string, pattern [, group])`: every match (or its
/// group) as an array.
pub(super) fn regexp_extract_all(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let groups = match a.get(2) {
        Some(g) => integers(g)?,
        None => vec![Some(0); strings.len()],
    };
    let mut cache = None;
    let mut out = datafusion::arrow::array::ListBuilder::new(StringBuilder::new());
    for i in 0..strings.len() {
        let (Some(s), Some(p), Some(g)) = (&strings[i], &patterns[i], groups[i]) else {
            out.append_null();
            continue;
        };
        let re = compile(&mut cache, p, "regexp_extract_all")?;
        let g = group_index(re, g, "regexp_extract_all")?;
        for c in re.captures_iter(s) {
            out.values().append_option(c.get(g).map(|m| m.as_str()));
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `regexp_split(string, pattern)`: the parts between matches.
pub(super) fn regexp_split(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let mut cache = None;
    let mut out = datafusion::arrow::array::ListBuilder::new(StringBuilder::new());
    for i in 0..strings.len() {
        let (Some(s), Some(p)) = (&strings[i], &patterns[i]) else {
            out.append_null();
            continue;
        };
        let re = compile(&mut cache, p, "regexp_split")?;
        for part in re.split(s) {
            out.values().append_value(part);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `regexp_position(string, pattern [, start [, occurrence]])`: the
/// character position (from 1) of the n-th match at or after `start`, -1
/// when there is none.
pub(super) fn regexp_position(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let starts = match a.get(2) {
        Some(s) => integers(s)?,
        None => vec![Some(1); strings.len()],
    };
    let occurrences = match a.get(3) {
        Some(o) => integers(o)?,
        None => vec![Some(1); strings.len()],
    };
    let mut cache = None;
    let mut out = Int64Builder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(p), Some(start), Some(n)) =
            (&strings[i], &patterns[i], starts[i], occurrences[i])
        else {
            out.append_null();
            continue;
        };
        if start < 1 {
            return exec_err!("regexp_position: start position cannot be smaller than 1");
        }
        if n < 1 {
            return exec_err!("regexp_position: occurrence cannot be smaller than 1");
        }
        let re = compile(&mut cache, p, "regexp_position")?;
        let Some((from, _)) = s.char_indices().nth((start - 1) as usize) else {
            out.append_value(-1);
            continue;
        };
        let found = re.find_iter(&s[from..]).nth((n - 1) as usize);
        out.append_value(found.map_or(-1, |m| s[..from + m.start()].chars().count() as i64 + 1));
    }
    Ok(Arc::new(out.finish()))
}

/// Group `g` of `re` as an index, or the error naming the function when the
/// pattern has no such group.
fn group_index(re: &regex::Regex, g: i64, function: &str) -> Result<usize> {
    match usize::try_from(g) {
        Ok(i) if i < re.captures_len() => Ok(i),
        _ => exec_err!("{function}: pattern has no group {g}"),
    }
}
