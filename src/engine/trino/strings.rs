//! Trino's string functions where DataFusion's answer differs: `substr`
//! (negative positions count from the end), `concat_ws` (skips NULLs, takes
//! an array), `split_part` (NULL past the last part), `split` (with a limit),
//! `replace` (an empty search inserts between characters), `lpad`/`rpad`
//! (an empty padding is an error); and Trino's own `soundex`,
//! `luhn_check`, `split_to_map` and `split_to_multimap`.

use datafusion::arrow::array::{ListBuilder, StringArray};

use super::*;

/// `substr(string, start [, length])`: positions from 1, a negative start
/// counts from the end; a start of 0 or outside the string is `''`.
pub(super) fn substr(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let strings = texts(&a[0])?;
    let starts = integers(&a[1])?;
    let lengths = a.get(2).map(integers).transpose()?;
    let mut out = StringBuilder::new();
    for (i, s) in strings.iter().enumerate() {
        let length = lengths.as_ref().map(|l| l[i]);
        let (Some(s), Some(start), None | Some(Some(_))) = (s, starts[i], length) else {
            out.append_null();
            continue;
        };
        let chars = s.chars().count() as i64;
        let from = if start < 0 { chars + start + 1 } else { start };
        let take = match length.flatten() {
            Some(l) => l.max(0),
            None => i64::MAX,
        };
        if start == 0 || from < 1 || from > chars {
            out.append_value("");
            continue;
        }
        let part: String = s
            .chars()
            .skip((from - 1) as usize)
            .take(usize::try_from(take).unwrap_or(usize::MAX))
            .collect();
        out.append_value(part);
    }
    Ok(Arc::new(out.finish()))
}

/// The strings of a list row, NULL elements kept as `None`.
fn list_texts(list: &ArrayRef, row: usize) -> Result<Option<Vec<Option<String>>>> {
    let list = cast(list, &DataType::new_list(DataType::Utf8, true))?;
    let list = list.as_list::<i32>();
    if list.is_null(row) {
        return Ok(None);
    }
    let values = list.value(row);
    let values = values
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| {
            DataFusionError::Internal("a list of strings cast to Utf8 is a StringArray".into())
        })?;
    Ok(Some(
        (0..values.len())
            .map(|i| values.is_valid(i).then(|| values.value(i).to_string()))
            .collect(),
    ))
}

/// `concat_ws(separator, string, ...)` or `concat_ws(separator, array)`:
/// NULL when the separator is; NULL values are skipped.
pub(super) fn concat_ws(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    if a.len() < 2 {
        return plan_err!("concat_ws: there must be two or more arguments");
    }
    let text = |t: &DataType| {
        matches!(
            t,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
        )
    };
    let element_text = |t: &DataType| match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            text(f.data_type())
        }
        other => text(other),
    };
    // Trino joins only strings (`concat_ws(',', 1, 15)` is an error), where
    // casting each value to text would invent a format.
    if let Some(t) = a.iter().map(|x| x.data_type()).find(|t| !element_text(t)) {
        return plan_err!("concat_ws: takes strings or an array of strings, not {t}");
    }
    let separators = texts(&a[0])?;
    let is_array = matches!(
        a[1].data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    );
    if is_array && a.len() > 2 {
        return plan_err!("concat_ws: an array argument must be the only one after the separator");
    }
    let columns = if is_array {
        vec![]
    } else {
        a[1..].iter().map(texts).collect::<Result<Vec<_>>>()?
    };
    let mut out = StringBuilder::new();
    for (row, sep) in separators.iter().enumerate() {
        let Some(sep) = sep else {
            out.append_null();
            continue;
        };
        let parts: Vec<String> = if is_array {
            match list_texts(&a[1], row)? {
                Some(v) => v.into_iter().flatten().collect(),
                None => {
                    out.append_null();
                    continue;
                }
            }
        } else {
            columns.iter().filter_map(|c| c[row].clone()).collect()
        };
        out.append_value(parts.join(sep));
    }
    Ok(Arc::new(out.finish()))
}

/// The parts of `s` between `delimiter`s; an empty delimiter splits
/// between characters. At most `limit` parts, the last holding the rest.
fn split_parts(s: &str, delimiter: &str, limit: Option<usize>) -> Vec<String> {
    if delimiter.is_empty() {
        return s.chars().map(String::from).collect();
    }
    match limit {
        Some(n) => s.splitn(n, delimiter).map(String::from).collect(),
        None => s.split(delimiter).map(String::from).collect(),
    }
}

/// `split_part(string, delimiter, index)`: the index-th part from 1, NULL
/// past the last.
pub(super) fn split_part(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, delimiters, indexes) = (texts(&a[0])?, texts(&a[1])?, integers(&a[2])?);
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(d), Some(n)) = (&strings[i], &delimiters[i], indexes[i]) else {
            out.append_null();
            continue;
        };
        if n <= 0 {
            return exec_err!("split_part: index must be greater than zero, not {n}");
        }
        let parts = split_parts(s, d, None);
        out.append_option(parts.get((n - 1) as usize));
    }
    Ok(Arc::new(out.finish()))
}

/// `split(string, delimiter [, limit])`: an array of the parts.
pub(super) fn split(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, delimiters) = (texts(&a[0])?, texts(&a[1])?);
    let limits = a.get(2).map(integers).transpose()?;
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..strings.len() {
        let limit = limits.as_ref().map(|l| l[i]);
        let (Some(s), Some(d), None | Some(Some(_))) = (&strings[i], &delimiters[i], limit) else {
            out.append_null();
            continue;
        };
        let limit = match limit.flatten() {
            None => None,
            Some(n) if n <= 0 => return exec_err!("split: limit must be positive, not {n}"),
            Some(n) if n > i64::from(i32::MAX) => return exec_err!("split: limit is too large"),
            Some(n) => Some(n as usize),
        };
        if d.is_empty() && limit.is_some() {
            return exec_err!("split: the delimiter may not be the empty string");
        }
        for p in split_parts(s, d, limit) {
            out.values().append_value(p);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `replace(string, search [, replacement])`: every occurrence replaced; an
/// empty search puts the replacement before every character and at the end.
pub(super) fn replace(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, searches) = (texts(&a[0])?, texts(&a[1])?);
    let replacements = match a.get(2) {
        Some(r) => texts(r)?,
        None => vec![Some(String::new()); strings.len()],
    };
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(from), Some(to)) = (&strings[i], &searches[i], &replacements[i]) else {
            out.append_null();
            continue;
        };
        if from.is_empty() {
            let mut r = String::with_capacity(s.len() + to.len() * (s.len() + 1));
            for c in s.chars() {
                r.push_str(to);
                r.push(c);
            }
            r.push_str(to);
            out.append_value(r);
        } else {
            out.append_value(s.replace(from.as_str(), to));
        }
    }
    Ok(Arc::new(out.finish()))
}

fn pad(a: &[ArrayRef], left: bool) -> Result<ArrayRef> {
    let name = if left { "lpad" } else { "rpad" };
    if matches!(
        a[0].data_type(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    ) {
        return plan_err!("{name} of varbinary is not supported");
    }
    let (strings, sizes, pads) = (texts(&a[0])?, integers(&a[1])?, texts(&a[2])?);
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(size), Some(p)) = (&strings[i], sizes[i], &pads[i]) else {
            out.append_null();
            continue;
        };
        if !(0..=i64::from(i32::MAX)).contains(&size) {
            return exec_err!(
                "{name}: target length must be in the range [0..{}]",
                i32::MAX
            );
        }
        if p.is_empty() {
            return exec_err!("{name}: padding string must not be empty");
        }
        let size = size as usize;
        let length = s.chars().count();
        if size <= length {
            out.append_value(s.chars().take(size).collect::<String>());
            continue;
        }
        let fill: String = p.chars().cycle().take(size - length).collect();
        out.append_value(if left { fill + s } else { s.clone() + &fill });
    }
    Ok(Arc::new(out.finish()))
}

/// `lpad(string, size, padstring)`.
pub(super) fn lpad(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    pad(a, true)
}

/// `rpad(string, size, padstring)`.
pub(super) fn rpad(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    pad(a, false)
}

/// Whether Java's `Character.isWhitespace` holds, which Trino's one-argument
/// trims strip: Unicode space, line and paragraph separators except the
/// non-breaking ones, and the ASCII controls \t to \r and \x1C to \x1F.
fn java_whitespace(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ' | '\u{1680}' | '\u{2000}'..='\u{2006}'
        | '\u{2008}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{205f}' | '\u{3000}')
}

fn trim_with(a: &[ArrayRef], left: bool, right: bool) -> Result<ArrayRef> {
    // Slices of the input, no string per row: the pipeline trims every sale.
    let strings = cast(&a[0], &DataType::Utf8)?;
    let strings = strings.as_string::<i32>();
    let sets = a.get(1).map(|c| cast(c, &DataType::Utf8)).transpose()?;
    let sets = sets.as_ref().map(|s| s.as_string::<i32>());
    let mut out = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
    for i in 0..strings.len() {
        if strings.is_null(i) || sets.is_some_and(|s| s.is_null(i)) {
            out.append_null();
            continue;
        }
        let set = sets.map(|s| s.value(i));
        let strip = |c: char| match set {
            Some(set) => set.contains(c),
            None => java_whitespace(c),
        };
        let mut t = strings.value(i);
        if left {
            t = t.trim_start_matches(strip);
        }
        if right {
            t = t.trim_end_matches(strip);
        }
        out.append_value(t);
    }
    Ok(Arc::new(out.finish()))
}

/// `ltrim(string[, chars])`: without `chars`, Java's whitespace (DataFusion
/// strips only the space).
pub(super) fn ltrim(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    trim_with(a, true, false)
}

/// `rtrim(string[, chars])`, as [`ltrim`] at the end.
pub(super) fn rtrim(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    trim_with(a, false, true)
}

/// `trim(string[, chars])` (and SQL's `TRIM(x)`, planned as `btrim`).
pub(super) fn btrim(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    trim_with(a, true, true)
}

/// `hamming_distance(a, b)`: the positions whose characters differ; the
/// strings must be as long.
pub(super) fn hamming_distance(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (l, r) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = Int64Builder::new();
    for (l, r) in l.into_iter().zip(r) {
        let (Some(l), Some(r)) = (l, r) else {
            out.append_null();
            continue;
        };
        if l.chars().count() != r.chars().count() {
            return exec_err!(
                "The input strings to hamming_distance function must have the same length"
            );
        }
        out.append_value(l.chars().zip(r.chars()).filter(|(x, y)| x != y).count() as i64);
    }
    Ok(Arc::new(out.finish()))
}

/// `normalize(string[, form])`: the text in Unicode normal form NFC (the
/// default), NFD, NFKC or NFKD; any other form is an error.
pub(super) fn normalize(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use unicode_normalization::UnicodeNormalization;
    let values = texts(&a[0])?;
    let forms = match a.get(1) {
        Some(f) => texts(f)?,
        None => vec![Some("NFC".to_string()); values.len()],
    };
    let mut out = StringBuilder::new();
    for (value, form) in values.iter().zip(&forms) {
        let (Some(v), Some(f)) = (value, form) else {
            out.append_null();
            continue;
        };
        let normal: String = match f.to_ascii_uppercase().as_str() {
            "NFC" => v.nfc().collect(),
            "NFD" => v.nfd().collect(),
            "NFKC" => v.nfkc().collect(),
            "NFKD" => v.nfkd().collect(),
            other => {
                return exec_err!(
                    "Normalization form must be one of [NFD, NFC, NFKD, NFKC], not {other}"
                );
            }
        };
        out.append_value(normal);
    }
    Ok(Arc::new(out.finish()))
}

/// `word_stem(word[, language])`: the word's Snowball stem in that language
/// (English by default), as Trino's (Lucene's Snowball) stemmers give it.
/// A language Trino knows but Strata's stemmers lack is refused by name;
/// an unknown one is Trino's error.
pub(super) fn word_stem(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use rust_stemmers::{Algorithm, Stemmer};
    let words = texts(&a[0])?;
    let languages = match a.get(1) {
        Some(l) => texts(l)?,
        None => vec![Some("en".to_string()); words.len()],
    };
    let mut out = StringBuilder::new();
    for (word, language) in words.iter().zip(&languages) {
        let (Some(word), Some(language)) = (word, language) else {
            out.append_null();
            continue;
        };
        let algorithm = match language.as_str() {
            "da" => Algorithm::Danish,
            "de" => Algorithm::German,
            "en" => Algorithm::English,
            "es" => Algorithm::Spanish,
            "fi" => Algorithm::Finnish,
            "fr" => Algorithm::French,
            "hu" => Algorithm::Hungarian,
            "it" => Algorithm::Italian,
            "nl" => Algorithm::Dutch,
            "no" => Algorithm::Norwegian,
            "pt" => Algorithm::Portuguese,
            "ro" => Algorithm::Romanian,
            "ru" => Algorithm::Russian,
            "sv" => Algorithm::Swedish,
            "tr" => Algorithm::Turkish,
            "ca" | "eu" | "hy" | "ir" | "lt" => {
                return exec_err!(
                    "word_stem: the '{language}' stemmer is not supported (Trino has it, \
                     Strata's Snowball stemmers do not)"
                );
            }
            other => return exec_err!("Unknown stemmer language: {other}"),
        };
        // Trino's German is Snowball's german2, which first reads ae, oe and
        // ue (but not after q) as the umlauts they stand for.
        let word = if language == "de" {
            german2_umlauts(word)
        } else {
            word.clone()
        };
        out.append_value(Stemmer::create(algorithm).stem(&word));
    }
    Ok(Arc::new(out.finish()))
}

/// `ae`, `oe` and `ue` as `ä`, `ö` and `ü`, except `ue` after `q` or a
/// vowel (german2 has marked such a `u`, between vowels, as a consonant).
fn german2_umlauts(word: &str) -> String {
    let vowel = |c: Option<char>| c.is_some_and(|c| "aeiouyäöü".contains(c));
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let umlaut = match (c, chars.peek()) {
            ('a', Some('e')) => Some('ä'),
            ('o', Some('e')) => Some('ö'),
            ('u', Some('e')) if previous != Some('q') && !vowel(previous) => Some('ü'),
            _ => None,
        };
        match umlaut {
            Some(u) => {
                chars.next();
                out.push(u);
                previous = Some(u);
            }
            None => {
                out.push(c);
                previous = Some(c);
            }
        }
    }
    out
}

/// `soundex(string)`: the American Soundex code of the string's letters
/// (a letter and three digits); `''` when it has no letter. A letter
/// outside A-Z has no code and is an error, as in Trino.
pub(super) fn soundex(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    // The digit of A..Z; H and W are skipped without separating letters,
    // vowels (0) separate letters of the same digit.
    const CODES: &[u8; 26] = b"01230120022455012623010202";
    let mut out = StringBuilder::new();
    for s in texts(&a[0])? {
        let Some(s) = s else {
            out.append_null();
            continue;
        };
        let letters: Vec<char> = s
            .chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_uppercase)
            .collect();
        let mut code = String::with_capacity(4);
        let mut last = b'0';
        for (i, c) in letters.iter().enumerate() {
            if !c.is_ascii_uppercase() {
                return exec_err!("The character is not mapped: {c}");
            }
            let digit = CODES[(*c as u8 - b'A') as usize];
            if i == 0 {
                code.push(*c);
                last = digit;
                continue;
            }
            if code.len() == 4 {
                break;
            }
            if *c == 'H' || *c == 'W' {
                continue;
            }
            if digit != b'0' && digit != last {
                code.push(digit as char);
            }
            last = digit;
        }
        if !code.is_empty() {
            while code.len() < 4 {
                code.push('0');
            }
        }
        out.append_value(code);
    }
    Ok(Arc::new(out.finish()))
}

/// `luhn_check(digits)`: whether the string of digits passes the Luhn
/// checksum; `''` does not, and a non-digit is an error.
pub(super) fn luhn_check(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Vec::new();
    for s in texts(&a[0])? {
        let Some(s) = s else {
            out.push(None);
            continue;
        };
        if s.is_empty() {
            out.push(Some(false));
            continue;
        }
        let mut sum = 0u32;
        for (i, c) in s.chars().rev().enumerate() {
            let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) else {
                return exec_err!("Input contains non-digit characters: {s}");
            };
            sum += if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            };
        }
        out.push(Some(sum.is_multiple_of(10)));
    }
    Ok(Arc::new(datafusion::arrow::array::BooleanArray::from(out)))
}

/// `codepoint(varchar(1))`: the Unicode code point of a one-character string.
pub(super) fn codepoint(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let out = texts(&a[0])?
        .into_iter()
        .map(|s| {
            s.map(|s| {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(i32::try_from(u32::from(c)).unwrap_or(i32::MAX)),
                    _ => exec_err!("codepoint: takes one character, not {s:?}"),
                }
            })
            .transpose()
        })
        .collect::<Result<datafusion::arrow::array::Int32Array>>()?;
    Ok(Arc::new(out))
}

/// `strpos(string, substring[, instance])`: the 1-based character position
/// of the instance-th occurrence (overlapping ones count), counted from the
/// end when instance is negative; 0 when there is none. Instance 0 is an
/// error, as in Trino.
pub(super) fn strpos(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, subs) = (texts(&a[0])?, texts(&a[1])?);
    let instances = match a.get(2) {
        Some(n) => integers(n)?,
        None => vec![Some(1); strings.len()],
    };
    let mut out = Int64Builder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(sub), Some(n)) = (&strings[i], &subs[i], instances[i]) else {
            out.append_null();
            continue;
        };
        if n == 0 {
            return exec_err!("strpos: 'instance' must be a positive or negative number");
        }
        // Byte offsets of every occurrence, overlapping ones included.
        let mut starts = vec![];
        let mut from = 0;
        while from <= s.len() {
            match s[from..].find(sub.as_str()) {
                Some(at) => {
                    starts.push(from + at);
                    from += at + s[from + at..].chars().next().map_or(1, char::len_utf8);
                }
                None => break,
            }
        }
        let pick = if n > 0 {
            starts.get(n as usize - 1)
        } else {
            starts
                .len()
                .checked_sub(n.unsigned_abs() as usize)
                .and_then(|k| starts.get(k))
        };
        out.append_value(pick.map_or(0, |&b| s[..b].chars().count() as i64 + 1));
    }
    Ok(Arc::new(out.finish()))
}

/// `overlay(s PLACING p FROM start [FOR length])`: `s` with `length`
/// characters from `start` (default `p`'s length) replaced by `p`, as
/// Trino has it: a negative length replaces nothing, a start below 1 is an
/// error.
pub(super) fn overlay(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, placing, starts) = (texts(&a[0])?, texts(&a[1])?, integers(&a[2])?);
    let lengths = a.get(3).map(integers).transpose()?;
    let mut out = StringBuilder::new();
    for row in 0..strings.len() {
        let length = match &lengths {
            Some(l) => l[row],
            None => placing[row].as_ref().map(|p| p.chars().count() as i64),
        };
        let (Some(s), Some(p), Some(start), Some(length)) =
            (&strings[row], &placing[row], starts[row], length)
        else {
            out.append_null();
            continue;
        };
        if start < 1 {
            return exec_err!("overlay: the start position must be at least 1, not {start}");
        }
        let chars: Vec<char> = s.chars().collect();
        let from = usize::try_from(start - 1)
            .unwrap_or(usize::MAX)
            .min(chars.len());
        let to = from
            .saturating_add(usize::try_from(length.max(0)).unwrap_or(usize::MAX))
            .min(chars.len());
        let mut v: String = chars[..from].iter().collect();
        v.push_str(p);
        v.extend(&chars[to..]);
        out.append_value(v);
    }
    Ok(Arc::new(out.finish()))
}

/// `levenshtein_distance(a, b)` over characters, refused as Trino refuses
/// it when the two lengths multiply past a million.
pub(super) fn levenshtein_distance(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (lefts, rights) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = datafusion::arrow::array::Int64Builder::new();
    for (l, r) in lefts.iter().zip(&rights) {
        let (Some(l), Some(r)) = (l, r) else {
            out.append_null();
            continue;
        };
        let (l, r): (Vec<char>, Vec<char>) = (l.chars().collect(), r.chars().collect());
        if (l.len() as u64) * (r.len() as u64) > 1_000_000 {
            return exec_err!(
                "levenshtein_distance: the combined inputs ({} and {} characters) are too large",
                l.len(),
                r.len()
            );
        }
        let mut row: Vec<usize> = (0..=r.len()).collect();
        for (i, lc) in l.iter().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, rc) in r.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = (above + 1)
                    .min(row[j] + 1)
                    .min(diagonal + usize::from(lc != rc));
                diagonal = above;
            }
        }
        out.append_value(row[r.len()] as i64);
    }
    Ok(Arc::new(out.finish()))
}

/// The map type `split_to_map` (`values` VARCHAR) and `split_to_multimap`
/// (`values` ARRAY(VARCHAR)) answer, as arrow's map builder makes it.
fn text_map_type(values: DataType) -> DataType {
    map_type(DataType::Utf8, values)
}

pub(super) fn split_to_map_type(_: &[DataType]) -> Result<DataType> {
    Ok(text_map_type(DataType::Utf8))
}

pub(super) fn split_to_multimap_type(_: &[DataType]) -> Result<DataType> {
    Ok(text_map_type(DataType::new_list(DataType::Utf8, true)))
}

/// A text's `key<kv>value<entry>...` entries, as Trino splits them: an
/// entry without the key-value delimiter exactly once is an error, and
/// a trailing entry delimiter ends the text.
fn entries<'a>(text: &'a str, entry: &str, kv: &str) -> Result<Vec<(&'a str, &'a str)>> {
    if entry.is_empty() || kv.is_empty() {
        return exec_err!("the entry and key-value delimiters must not be empty");
    }
    if entry == kv {
        return exec_err!("entryDelimiter and keyValueDelimiter must not be the same");
    }
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (one, after) = match rest.find(entry) {
            Some(i) => (&rest[..i], &rest[i + entry.len()..]),
            None => (rest, ""),
        };
        rest = after;
        let mut parts = one.split(kv);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(v), None) => out.push((k, v)),
            _ => {
                return exec_err!(
                    "Key-value delimiter must appear exactly once in each entry. Bad input: '{one}'"
                );
            }
        }
    }
    Ok(out)
}

fn map_builder<V: datafusion::arrow::array::ArrayBuilder>(
    values: V,
) -> datafusion::arrow::array::MapBuilder<StringBuilder, V> {
    datafusion::arrow::array::MapBuilder::new(
        Some(datafusion::arrow::array::MapFieldNames {
            entry: "entries".into(),
            key: "key".into(),
            value: "value".into(),
        }),
        StringBuilder::new(),
        values,
    )
}

/// `split_to_map(text, entry_delimiter, key_value_delimiter)`: a key twice
/// is an error.
pub(super) fn split_to_map(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (texts_, entry, kv) = (texts(&a[0])?, texts(&a[1])?, texts(&a[2])?);
    let mut out = map_builder(StringBuilder::new());
    for i in 0..texts_.len() {
        let (Some(t), Some(e), Some(k)) = (&texts_[i], &entry[i], &kv[i]) else {
            out.append(false)?;
            continue;
        };
        let pairs = entries(t, e, k)?;
        for (n, (key, value)) in pairs.iter().enumerate() {
            if pairs[..n].iter().any(|(other, _)| other == key) {
                return exec_err!("Duplicate keys ({key}) are not allowed");
            }
            out.keys().append_value(key);
            out.values().append_value(value);
        }
        out.append(true)?;
    }
    Ok(Arc::new(out.finish()))
}

/// `split_to_multimap(text, entry_delimiter, key_value_delimiter)`: each
/// key's values in order.
pub(super) fn split_to_multimap(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (texts_, entry, kv) = (texts(&a[0])?, texts(&a[1])?, texts(&a[2])?);
    let mut out = map_builder(ListBuilder::new(StringBuilder::new()));
    for i in 0..texts_.len() {
        let (Some(t), Some(e), Some(k)) = (&texts_[i], &entry[i], &kv[i]) else {
            out.append(false)?;
            continue;
        };
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (key, value) in entries(t, e, k)? {
            match grouped.iter_mut().find(|(other, _)| *other == key) {
                Some((_, values)) => values.push(value),
                None => grouped.push((key, vec![value])),
            }
        }
        for (key, values) in grouped {
            out.keys().append_value(key);
            for v in values {
                out.values().values().append_value(v);
            }
            out.values().append(true);
        }
        out.append(true)?;
    }
    Ok(Arc::new(out.finish()))
}
