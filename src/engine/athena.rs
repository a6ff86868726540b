//! Athena (Trino) statements that DataFusion does not know, answered from
//! the catalog and the lake's manifests: `SHOW TABLES IN`, `SHOW COLUMNS IN`,
//! `DESCRIBE`, `SHOW PARTITIONS`, `MSCK REPAIR TABLE`. Anything else is
//! passed to DataFusion as it is.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use super::Engine;
use crate::error::{Error, Result};
use crate::lake::{Layer, TableId};

/// A statement, sorted by who answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// DataFusion runs it.
    Sql(String),
    /// `SHOW TABLES [IN|FROM schema] [LIKE 'pattern']`.
    ShowTables {
        /// The schema, or every schema.
        schema: Option<String>,
        /// A `LIKE` pattern (`*` and `%` match anything, as in Athena).
        like: Option<String>,
    },
    /// `SHOW SCHEMAS|DATABASES [LIKE 'pattern']`.
    ShowSchemas {
        /// A `LIKE` pattern, as for tables.
        like: Option<String>,
    },
    /// `SHOW COLUMNS IN|FROM t`, `DESCRIBE t`.
    Describe(String),
    /// `SHOW PARTITIONS t`.
    ShowPartitions(String),
    /// `MSCK REPAIR TABLE t`.
    Repair(String),
    /// An Athena statement Strata recognised but cannot run as written.
    Invalid(String),
    /// `CREATE TABLE layer.t [WITH (...)] AS query`: a lake table, written atomically.
    CreateTableAs {
        /// `layer.table`.
        table: String,
        /// `format` and `partitioned_by`.
        write: crate::lake::writer::WriteSpec,
        /// The query.
        query: String,
    },
    /// `UNLOAD (query) TO 'folder' [WITH (...)]`: files outside the lake.
    Unload {
        /// The query.
        query: String,
        /// The folder, which must not exist or be empty.
        to: String,
        /// `format` and `partitioned_by`.
        write: crate::lake::writer::WriteSpec,
    },
}

/// Parses Athena's `WITH (format = 'PARQUET', partitioned_by = ARRAY['a'],
/// external_location = '...')` properties.
fn properties(
    text: &str,
) -> std::result::Result<(crate::lake::writer::WriteSpec, Option<String>), String> {
    use crate::lake::manifest::Format;
    let mut write = crate::lake::writer::WriteSpec::default();
    let mut location = None;
    let mut depth = 0;
    let mut parts = vec![];
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    for part in parts.iter().filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("table property `{}` is not key = value", part.trim()))?;
        let v = v.trim();
        let text = v.trim_matches('\'');
        match k.trim().to_ascii_lowercase().as_str() {
            "format" => {
                write.format = match text.to_ascii_uppercase().as_str() {
                    "PARQUET" => Format::Parquet,
                    "TEXTFILE" | "CSV" => Format::Csv,
                    other => {
                        return Err(format!(
                            "format '{other}' is not supported (PARQUET, TEXTFILE/CSV)"
                        ));
                    }
                }
            }
            "partitioned_by" => {
                let inner = v
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                write.partition_by = inner
                    .split(',')
                    .map(|c| c.trim().trim_matches('\'').to_string())
                    .filter(|c| !c.is_empty())
                    .collect();
            }
            "external_location" => location = Some(text.to_string()),
            "write_compression" | "compression" if text.eq_ignore_ascii_case("zstd") => {}
            other => return Err(format!("table property `{other}` is not supported")),
        }
    }
    Ok((write, location))
}

/// A statement's tokens with the byte range each covers, read with SQL's
/// tokenizer (whitespace and comments included, as tokens).
pub(crate) fn located_tokens(
    text: &str,
) -> Option<Vec<(datafusion::sql::sqlparser::tokenizer::Token, usize, usize)>> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()?;
    // Locations are 1-based lines and columns in characters.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |line: u64, column: u64| {
        let start = *line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let skip = usize::try_from(column).ok()?.checked_sub(1)?;
        Some(
            text[start..]
                .char_indices()
                .nth(skip)
                .map_or(text.len(), |(i, _)| start + i),
        )
    };
    tokens
        .into_iter()
        .map(|t| {
            let start = offset(t.span.start.line, t.span.start.column)?;
            let end = offset(t.span.end.line, t.span.end.column)?;
            Some((t.token, start, end))
        })
        .collect()
}

/// The byte offset of the `)` that closes the `(` at byte `open`, read with
/// SQL's tokenizer: parentheses inside strings, quoted names and comments
/// do not count (`UNLOAD (SELECT ')' AS x) TO ...`).
fn closing_paren(s: &str, open: usize) -> Option<usize> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let mut depth = 0usize;
    for (token, start, _) in located_tokens(&s[open..])? {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + start);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `WITH (...) rest` into the properties and the rest.
fn with_clause(text: &str) -> Option<(&str, &str)> {
    let t = text.trim_start();
    if !t.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("WITH")) {
        return None;
    }
    let open = t.find('(')?;
    let close = closing_paren(t, open)?;
    Some((&t[open + 1..close], &t[close + 1..]))
}

fn classify_write(sql: &str) -> Option<std::result::Result<Statement, String>> {
    let trimmed = sql.trim();
    let upper = trimmed.to_ascii_uppercase();
    if upper.starts_with("CREATE TABLE") && upper.contains(" AS ") {
        let rest = trimmed["CREATE TABLE".len()..].trim_start();
        let name_end = rest.find(char::is_whitespace)?;
        let table = rest[..name_end].replace(['`', '"'], "");
        let mut rest = &rest[name_end..];
        let mut write = crate::lake::writer::WriteSpec::default();
        if let Some((props, after)) = with_clause(rest) {
            match properties(props) {
                Ok((w, location)) => {
                    if location.is_some() {
                        return Some(Err(
                            "external_location: a lake table lives at <lake>/<layer>/<table>; leave it out".into(),
                        ));
                    }
                    write = w;
                }
                Err(e) => return Some(Err(e)),
            }
            rest = after;
        }
        let rest = rest.trim_start();
        if !rest.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("AS")) {
            return None;
        }
        return Some(Ok(Statement::CreateTableAs {
            table,
            write,
            query: rest[2..].trim().to_string(),
        }));
    }
    if upper.starts_with("UNLOAD") {
        let rest = trimmed["UNLOAD".len()..].trim_start();
        if !rest.starts_with('(') {
            return None;
        }
        let close = closing_paren(rest, 0)?;
        let query = rest[1..close].trim().to_string();
        let after = rest[close + 1..].trim_start();
        if !after.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("TO")) {
            return None;
        }
        let after = after[2..].trim_start();
        let end = after[1..].find('\'')? + 1;
        let to = after[1..end].to_string();
        let mut write = crate::lake::writer::WriteSpec::default();
        if let Some((props, _)) = with_clause(&after[end + 1..]) {
            match properties(props) {
                Ok((w, _)) => write = w,
                Err(e) => return Some(Err(e)),
            }
        }
        return Some(Ok(Statement::Unload { query, to, write }));
    }
    None
}

/// A statement's tokens as SQL's tokenizer reads them (quotes, comments
/// and case handled there), for recognising Athena's catalog statements.
struct Words {
    tokens: Vec<datafusion::sql::sqlparser::tokenizer::Token>,
    at: usize,
}

impl Words {
    fn read(sql: &str) -> Option<Self> {
        use datafusion::sql::sqlparser::dialect::GenericDialect;
        use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
        let tokens = Tokenizer::new(&GenericDialect {}, sql)
            .tokenize()
            .ok()?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
            .collect();
        Some(Words { tokens, at: 0 })
    }

    /// Whether the next token is this keyword (unquoted, any case).
    fn peek_keyword(&self, keyword: &str) -> bool {
        use datafusion::sql::sqlparser::tokenizer::Token;
        matches!(self.tokens.get(self.at), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    }

    /// Takes the keyword if it is next.
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        self.at += usize::from(found);
        found
    }

    /// Takes a possibly qualified name (`gold."fact_sales"`), unquoted.
    fn name(&mut self) -> Option<String> {
        use datafusion::sql::sqlparser::tokenizer::Token;
        let mut parts = vec![];
        loop {
            match self.tokens.get(self.at) {
                Some(Token::Word(w)) => parts.push(w.value.clone()),
                _ => return None,
            }
            self.at += 1;
            if !matches!(self.tokens.get(self.at), Some(Token::Period)) {
                return Some(parts.join("."));
            }
            self.at += 1;
        }
    }

    /// Takes a string literal.
    fn string(&mut self) -> Option<String> {
        use datafusion::sql::sqlparser::tokenizer::Token;
        let Some(Token::SingleQuotedString(s)) = self.tokens.get(self.at) else {
            return None;
        };
        self.at += 1;
        Some(s.clone())
    }

    fn at_end(&self) -> bool {
        self.at == self.tokens.len()
    }
}

/// Trino's spelling in DataFusion's: `VALUES` rows without parentheses get
/// them ([`values_in_parentheses`]), and typed literals take the precision
/// they are written in, as in Trino ([`literal_precision`]).
pub fn trino_spelling(sql: &str) -> String {
    if let Some(setting) = time_zone_setting(sql).or_else(|| super::clock::setting(sql)) {
        return setting;
    }
    let sql = values_in_parentheses(sql);
    let sql = array_types(&sql);
    let sql = long_fractions_cast(&sql);
    let sql = interval_ranges(&sql);
    literal_precision(&sql).into_owned()
}

/// Trino's interval literals with a range of fields, `INTERVAL '2 03:04:05.678'
/// DAY TO SECOND` or `INTERVAL '1-6' YEAR TO MONTH`, which DataFusion's
/// planner refuses, spelled out in units it reads: `INTERVAL '2 days
/// 11045678 milliseconds'`. Text Trino would refuse is left as written,
/// for DataFusion to refuse too.
fn interval_ranges(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.to_ascii_uppercase().contains("INTERVAL") {
        return sql.into();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let word = |i: usize| match &tokens[i] {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    // (first token, last token, the literal that replaces them)
    let mut spelled: Vec<(usize, usize, String)> = vec![];
    let mut at = 0;
    while at < solid.len() {
        let start = solid[at];
        if word(start).as_deref() != Some("INTERVAL") {
            at += 1;
            continue;
        }
        let mut next = at + 1;
        let negated = match solid.get(next).map(|&i| &tokens[i]) {
            Some(Token::Minus) => {
                next += 1;
                true
            }
            Some(Token::Plus) => {
                next += 1;
                false
            }
            _ => false,
        };
        let window: Vec<usize> = solid.iter().skip(next).take(4).copied().collect();
        let units = match window[..] {
            [text, from, to, last] => match (&tokens[text], word(from), word(to), word(last)) {
                (Token::SingleQuotedString(value), Some(from), Some(to), Some(to_field))
                    if to == "TO" =>
                {
                    interval_units(value, &from, &to_field, negated).map(|u| (u, last))
                }
                _ => None,
            },
            _ => None,
        };
        match units {
            Some((units, last)) => {
                spelled.push((start, last, format!("INTERVAL '{units}'")));
                at = next + 4;
            }
            None => at += 1,
        }
    }
    if spelled.is_empty() {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < tokens.len() {
        if let Some((_, last, literal)) = spelled.iter().find(|(first, _, _)| *first == i) {
            out.push_str(literal);
            i = last + 1;
            continue;
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    out.into()
}

/// The text of a Trino interval with fields `from` to `to` as DataFusion's
/// units, or None where Trino refuses it. As Trino (Joda's period parser)
/// reads it: a leading `-` negates, the text may stop after any field
/// (`'2'` DAY TO SECOND is two days), a field may exceed its range (`'1
/// 30'` DAY TO HOUR is 54 hours), and seconds keep three fraction digits.
fn interval_units(text: &str, from: &str, to: &str, negated: bool) -> Option<String> {
    const DAY_TIME: [&str; 4] = ["DAY", "HOUR", "MINUTE", "SECOND"];
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (!negated, rest),
        None => (negated, text),
    };
    let sign = if negative { "-" } else { "" };
    let number = |s: &str| -> Option<i128> {
        (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if from == "YEAR" && to == "MONTH" {
        let (years, months) = match digits.split_once('-') {
            Some((y, m)) => (number(y)?, number(m)?),
            None => (number(digits)?, 0),
        };
        let months = i32::try_from(years * 12 + months).ok()?;
        return Some(format!("{sign}{months} months"));
    }
    let first = DAY_TIME.iter().position(|f| *f == from)?;
    let last = DAY_TIME.iter().position(|f| *f == to)?;
    if last <= first {
        return None;
    }
    // Days, hours, minutes and milliseconds; the separators after the
    // first three.
    let separators = [' ', ':', ':'];
    let mut values = [0i128; 4];
    let mut rest = Some(digits);
    for (field, value) in values.iter_mut().enumerate().take(last + 1).skip(first) {
        let Some(text) = rest else { break };
        let (part, after) = match separators.get(field).filter(|_| field < last) {
            Some(separator) => match text.split_once(*separator) {
                Some((part, after)) => (part, Some(after)),
                None => (text, None),
            },
            None => (text, None),
        };
        *value = if field == 3 {
            let (whole, fraction) = part.split_once(['.', ',']).unwrap_or((part, ""));
            if !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let fraction: String = fraction.chars().chain("000".chars()).take(3).collect();
            number(whole)? * 1000 + number(&fraction)?
        } else {
            number(part)?
        };
        rest = after;
    }
    let [days, hours, minutes, millis] = values;
    let millis = ((days * 24 + hours) * 60 + minutes) * 60_000 + millis;
    let millis = i64::try_from(millis).ok()?;
    // Whole days stay days, as in DataFusion's `INTERVAL '2' DAY`.
    Some(if first == 0 {
        format!(
            "{sign}{} days {sign}{} milliseconds",
            millis / 86_400_000,
            millis % 86_400_000
        )
    } else {
        format!("{sign}{millis} milliseconds")
    })
}

/// Trino's `SET TIME ZONE 'zone'` (and `SET TIME ZONE LOCAL`, the
/// default: UTC, as Athena's) as DataFusion's setting of the session zone,
/// which its parser does not take in this spelling.
fn time_zone_setting(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    let [set, time, zone, value @ ..] = &words[..] else {
        return None;
    };
    if !(set.eq_ignore_ascii_case("SET")
        && time.eq_ignore_ascii_case("TIME")
        && zone.eq_ignore_ascii_case("ZONE"))
    {
        return None;
    }
    let value = value.join(" ");
    let value = if value.eq_ignore_ascii_case("LOCAL") {
        "'UTC'".to_string()
    } else {
        value
    };
    Some(format!("SET datafusion.execution.time_zone = {value}"))
}

/// Trino's array type `ARRAY(BIGINT)` in the spelling DataFusion's parser
/// reads, `ARRAY<BIGINT>` (Trino builds array values with `ARRAY[...]`, so
/// `ARRAY(` is always a type there), and its row type `ROW(x BIGINT, y
/// VARCHAR)` as `STRUCT<x BIGINT, y VARCHAR>` (a `ROW(` whose first field is
/// a name and a type; `ROW(1, x)` builds a row value).
fn array_types(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    let next =
        |from: usize| (from..tokens.len()).find(|&j| !matches!(tokens[j], Token::Whitespace(_)));
    // Positions of "(" to become "<", and of their ")" to become ">"; of
    // a ROW to become STRUCT.
    let mut angle = std::collections::HashSet::new();
    let mut structs = std::collections::HashSet::new();
    // Tokens an anonymous row's field names go before (`c0 `, `c1 `, ...).
    let mut names: std::collections::HashMap<usize, String> = Default::default();
    // The parentheses of the types found so far.
    let mut spans: Vec<(usize, usize)> = vec![];
    let word = |j: usize| match &tokens[j] {
        Token::Word(t) if t.quote_style.is_none() => Some(t.value.to_ascii_uppercase()),
        _ => None,
    };
    let previous = |from: usize| {
        (0..from)
            .rev()
            .find(|&j| !matches!(tokens[j], Token::Whitespace(_)))
    };
    for i in 0..tokens.len() {
        let Token::Word(w) = &tokens[i] else { continue };
        let row = w.value.eq_ignore_ascii_case("ROW");
        if w.quote_style.is_some() || !(row || w.value.eq_ignore_ascii_case("ARRAY")) {
            continue;
        }
        let Some(open) = next(i + 1).filter(|&j| tokens[j] == Token::LParen) else {
            continue;
        };
        // `ROW(BIGINT, VARCHAR)`, a row type without field names: where a
        // type is written (after AS, or inside another type), a ROW whose
        // first word is a type's. Its fields are named as DataFusion names
        // a row value's (c0, c1, ...); casts between rows go by position.
        let anonymous = row
            && (previous(i).and_then(word).as_deref() == Some("AS")
                || spans.iter().any(|&(a, b)| a < i && i < b))
            && next(open + 1)
                .and_then(word)
                .is_some_and(|t| ROW_FIELD_TYPES.contains(&t.as_str()))
            && next(open + 1)
                .and_then(|j| next(j + 1))
                .is_some_and(|j| matches!(tokens[j], Token::Comma | Token::RParen | Token::LParen));
        let type_follows = if anonymous {
            true
        } else if row {
            // A field's name, then a type's first word.
            next(open + 1)
                .filter(|&j| matches!(&tokens[j], Token::Word(_)))
                .and_then(|j| next(j + 1))
                .and_then(word)
                .is_some_and(|t| ROW_FIELD_TYPES.contains(&t.as_str()))
        } else {
            next(open + 1).is_some_and(|j| {
                matches!(&tokens[j], Token::Word(t) if t.quote_style.is_none()
                    && !["SELECT", "WITH", "VALUES"].iter().any(|k| t.value.eq_ignore_ascii_case(k)))
            })
        };
        if !type_follows {
            continue;
        }
        if row {
            structs.insert(i);
        }
        let mut depth = 0;
        let mut field = 0;
        if anonymous && let Some(first) = next(open + 1) {
            names.insert(first, "c0 ".into());
        }
        for (j, t) in tokens.iter().enumerate().skip(open) {
            match t {
                Token::LParen | Token::Lt => depth += 1,
                Token::RParen | Token::Gt => {
                    depth -= 1;
                    if depth == 0 {
                        angle.insert(open);
                        angle.insert(j);
                        spans.push((open, j));
                        break;
                    }
                }
                Token::Comma if anonymous && depth == 1 => {
                    field += 1;
                    if let Some(first) = next(j + 1) {
                        names.insert(first, format!("c{field} "));
                    }
                }
                _ => {}
            }
        }
    }
    if angle.is_empty() {
        return sql.into();
    }
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = match t {
                Token::LParen if angle.contains(&i) => "<".to_string(),
                Token::RParen if angle.contains(&i) => ">".to_string(),
                Token::Word(_) if structs.contains(&i) => "STRUCT".to_string(),
                other => other.to_string(),
            };
            match names.get(&i) {
                Some(name) => format!("{name}{text}"),
                None => text,
            }
        })
        .collect::<String>()
        .into()
}

/// The first words of the types a `ROW(name type, ...)` field can have.
const ROW_FIELD_TYPES: &[&str] = &[
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INT",
    "INTEGER",
    "BIGINT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "VARCHAR",
    "CHAR",
    "VARBINARY",
    "JSON",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "INTERVAL",
    "ARRAY",
    "MAP",
    "ROW",
    "UUID",
];

/// `DECIMAL '1.50'` and `1.50` are `DECIMAL(3,2) '1.50'` (DataFusion would read every
/// DECIMAL literal as `decimal(38,10)`, rounding `1.999...` past 10 places
/// to 2), and a TIMESTAMP or TIME literal has the precision of its fraction
/// digits, as in Trino: `TIMESTAMP '... 12:34:56.1'` is `TIMESTAMP(1)`
/// (7 to 9 digits are nanoseconds, up to 6 microseconds).
fn literal_precision(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    let digits = fraction_digits;
    // (token index of the type word, the precision to add after it)
    let mut marks: Vec<(usize, String)> = vec![];
    // (type word, string, the rest of the CAST after the string)
    let mut zoned: Vec<(usize, usize, String)> = vec![];
    let mut last_word: Option<(usize, String)> = None;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Whitespace(_) => continue,
            Token::SingleQuotedString(s) => match &last_word {
                // A TIMESTAMP naming a zone is Trino's TIMESTAMP WITH TIME
                // ZONE, whose type names the zone: a CAST to Strata's type
                // that carries it, as a typed literal cannot.
                Some((w, kind))
                    if kind == "TIMESTAMP" && digits(s) <= 9 && zone_of(s).is_some() =>
                {
                    let zone = zone_of(s).unwrap_or_default().replace('\'', "''");
                    zoned.push((
                        *w,
                        i,
                        format!(" AS {ZONED_TIMESTAMP}({}, '{zone}'))", digits(s)),
                    ));
                }
                // A TIME naming an offset is Trino's TIME WITH TIME ZONE.
                Some((w, kind))
                    if kind == "TIME" && digits(s) <= 9 && time_offset_of(s).is_some() =>
                {
                    let offset = time_offset_of(s).unwrap_or_default();
                    zoned.push((
                        *w,
                        i,
                        format!(" AS {ZONED_TIME}({}, '{offset}'))", digits(s)),
                    ));
                }
                Some((w, kind)) if kind != "DECIMAL" && digits(s) <= 9 => {
                    marks.push((*w, format!("({})", digits(s))));
                }
                Some((w, kind)) if kind == "DECIMAL" => {
                    if let Some(p) = decimal_precision(s) {
                        marks.push((*w, p));
                    }
                }
                _ => {}
            },
            _ => {}
        }
        last_word = match t {
            Token::Word(w) if w.quote_style.is_none() => {
                let kind = w.value.to_ascii_uppercase();
                ["TIMESTAMP", "TIME", "DECIMAL"]
                    .contains(&kind.as_str())
                    .then_some((i, kind))
            }
            _ => None,
        };
    }
    // `JSON '...'` is Trino's JSON literal: the text parsed as JSON (a CAST
    // of the text would make it a JSON string).
    let json_literals: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("JSON")))
        .filter_map(|(i, _)| {
            let next = (i + 1..tokens.len()).find(|&j| !matches!(tokens[j], Token::Whitespace(_)))?;
            matches!(tokens[next], Token::SingleQuotedString(_)).then_some(i)
        })
        .collect();
    // A number with a point and no exponent is a DECIMAL in Trino (`1.0`
    // is decimal(2,1)), where DataFusion reads a double; `1e3` stays one.
    let decimals: Vec<(usize, String)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Number(n, _) if n.contains('.') && !n.contains(['e', 'E']) => {
                decimal_precision(n).map(|p| (i, format!("DECIMAL{p} '{n}'")))
            }
            _ => None,
        })
        .collect();
    if marks.is_empty() && decimals.is_empty() && json_literals.is_empty() && zoned.is_empty() {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len() + 8 * (marks.len() + decimals.len()));
    let mut json_open = false;
    for (i, t) in tokens.iter().enumerate() {
        if json_literals.contains(&i) {
            out.push_str("json_parse(");
            json_open = true;
            continue;
        }
        if json_open && matches!(t, Token::Whitespace(_)) {
            continue;
        }
        if zoned.iter().any(|(w, s, _)| *w < i && i < *s) {
            continue;
        }
        match decimals.iter().find(|(d, _)| *d == i) {
            Some((_, literal)) => out.push_str(literal),
            None if zoned.iter().any(|(w, _, _)| *w == i) => out.push_str("CAST("),
            None => out.push_str(&t.to_string()),
        }
        if let Some((_, _, rest)) = zoned.iter().find(|(_, s, _)| *s == i) {
            out.push_str(rest);
        }
        if json_open && matches!(t, Token::SingleQuotedString(_)) {
            out.push(')');
            json_open = false;
        }
        if let Some((_, p)) = marks.iter().find(|(w, _)| *w == i) {
            out.push_str(p);
        }
    }
    out.into()
}

/// The zone a timestamp literal names after its date and time, if any
/// (`Asia/Kathmandu`, `+06:00`, `UTC`).
fn zone_of(text: &str) -> Option<&str> {
    let t = text.trim();
    let date_end = t
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == '-')
        .count();
    let rest = &t[date_end..];
    let rest = match rest.strip_prefix([' ', 'T']) {
        Some(time) if time.starts_with(|c: char| c.is_ascii_digit()) => {
            let end = time
                .char_indices()
                .find(|(_, c)| !(c.is_ascii_digit() || *c == ':' || *c == '.'))
                .map_or(time.len(), |(i, _)| i);
            &time[end..]
        }
        _ => rest,
    };
    let zone = rest.trim();
    (!zone.is_empty()).then_some(zone)
}

/// The SQL type name of a TIME(p) WITH TIME ZONE whose offset is known:
/// `strata_timetz(p, '+08:35')`, planned by the Trino types.
pub(crate) const ZONED_TIME: &str = "strata_timetz";

/// The offset a TIME literal's text names after its time (`12:34:56+08:35`,
/// `12:34 -08`), if any.
fn time_offset_of(text: &str) -> Option<&str> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == ':' || *c == '.'))
        .map_or(t.len(), |(i, _)| i);
    let offset = t[end..].trim();
    (end > 0 && offset.starts_with(['+', '-'])).then_some(offset)
}

/// The SQL type name of a TIMESTAMP(p) WITH TIME ZONE whose zone is known:
/// `strata_timestamptz(p, 'zone')`, planned by the Trino types.
pub(crate) const ZONED_TIMESTAMP: &str = "strata_timestamptz";

/// `CAST(TIMESTAMP '...56.111111111111' AS TIME(3))`: a literal with more
/// fraction digits than Strata's nanoseconds hold (Trino reads up to 12),
/// cast at once to a TIMESTAMP or TIME of 9 digits or fewer, is rounded in
/// its text to the cast's digits, half up and carrying into the second, the
/// date or round the clock, as Trino rounds it
/// ([`crate::engine::trino::round_picoseconds`]): no digit that matters is
/// cut. A plain text so cast (`CAST('...' AS TIMESTAMP(9))`) is rounded
/// alike. A text that cannot be read so is left to be refused.
fn long_fractions_cast(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.contains('.') {
        return sql.into();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    // The tokens that are not whitespace, with their index.
    let solid: Vec<(usize, &Token)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let time_type = |t: &Token| word(t, "TIMESTAMP") || word(t, "TIME");
    // (index of the text's token, the text rounded)
    let mut rounded: Vec<(usize, String)> = vec![];
    for (n, &(_, cast)) in solid.iter().enumerate() {
        if !word(cast, "CAST") || !matches!(solid.get(n + 1), Some((_, Token::LParen))) {
            continue;
        }
        // CAST ( [TIMESTAMP | TIME] 'text' AS type ( p ) ...
        let typed = solid.get(n + 2).is_some_and(|(_, t)| time_type(t));
        let rest = &solid[(n + 2 + usize::from(typed)).min(solid.len())..];
        let [
            (text_at, Token::SingleQuotedString(text)),
            (_, as_),
            (_, target),
            (_, Token::LParen),
            (_, Token::Number(p, _)),
            (_, Token::RParen),
            ..,
        ] = rest
        else {
            continue;
        };
        if !word(as_, "AS") || !time_type(target) || fraction_digits(text) <= 9 {
            continue;
        }
        if let Some(digits) = p.parse::<u32>().ok().filter(|p| *p <= 9)
            && let Some(r) = crate::engine::trino::round_picoseconds(text, digits)
        {
            rounded.push((*text_at, r));
        }
    }
    if rounded.is_empty() {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    for (i, t) in tokens.iter().enumerate() {
        match rounded.iter().find(|(at, _)| *at == i) {
            Some((_, text)) => out.push_str(&Token::SingleQuotedString(text.clone()).to_string()),
            None => out.push_str(&t.to_string()),
        }
    }
    out.into()
}

/// The fraction digits of a number's or a time's text (`12:34:56.1234` has
/// 4, `2020-05-01` none).
pub(crate) fn fraction_digits(text: &str) -> usize {
    text.split_once('.').map_or(0, |(_, f)| {
        f.chars().take_while(char::is_ascii_digit).count()
    })
}

/// `(p,s)` of a decimal literal's text, as Trino types it: `s` its fraction
/// digits, `p` all its digits (at least `s`, at least 1).
fn decimal_precision(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    if !whole
        .chars()
        .chain(fraction.chars())
        .all(|c| c.is_ascii_digit())
        || whole.len() + fraction.len() == 0
    {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let p = (whole.len() + fraction.len()).max(1);
    (p <= 38).then(|| format!("({p},{})", fraction.len()))
}

/// Trino's `VALUES 1, 2` and `VALUES DATE '2024-01-31', DATE '2023-01-31'`
/// (one-column rows without parentheses) in the parenthesised spelling
/// DataFusion's parser needs; SQL without such rows comes back unchanged.
pub fn values_in_parentheses(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let ends = [
        "ORDER",
        "LIMIT",
        "OFFSET",
        "FETCH",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "WINDOW",
        "AS",
    ];
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    // Positions (in `tokens`) where "(" and ")" go.
    let (mut opens, mut closes) = (vec![], vec![]);
    let mut k = 0;
    while k < significant.len() {
        if !word(&tokens[significant[k]], "VALUES") {
            k += 1;
            continue;
        }
        k += 1;
        // Each item: significant tokens up to a comma at depth 0 or the end.
        loop {
            let start = k;
            let mut depth = 0i32;
            while k < significant.len() {
                let t = &tokens[significant[k]];
                match t {
                    Token::LParen => depth += 1,
                    Token::RParen if depth == 0 => break,
                    Token::RParen => depth -= 1,
                    Token::Comma | Token::SemiColon if depth == 0 => break,
                    _ if depth == 0 && ends.iter().any(|e| word(t, e)) => break,
                    _ => {}
                }
                k += 1;
            }
            if k == start {
                break;
            }
            let first = &tokens[significant[start]];
            // A parenthesised row stays: its closing parenthesis ends the item.
            let row = word(first, "ROW")
                || (matches!(first, Token::LParen) && {
                    let mut d = 0;
                    let mut close = start;
                    for (j, &at) in significant.iter().enumerate().take(k).skip(start) {
                        match tokens[at] {
                            Token::LParen => d += 1,
                            Token::RParen => {
                                d -= 1;
                                if d == 0 {
                                    close = j;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    close == k - 1
                });
            if !row {
                opens.push(significant[start]);
                closes.push(significant[k - 1]);
            }
            if k < significant.len() && matches!(tokens[significant[k]], Token::Comma) {
                k += 1;
                continue;
            }
            break;
        }
    }
    if opens.is_empty() {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len() + 2 * opens.len());
    for (i, t) in tokens.iter().enumerate() {
        if opens.contains(&i) {
            out.push('(');
        }
        out.push_str(&t.to_string());
        if closes.contains(&i) {
            out.push(')');
        }
    }
    out.into()
}

/// Sorts a statement (without its `;`).
pub fn classify(sql: &str) -> Statement {
    match classify_write(sql) {
        Some(Ok(s)) => return s,
        Some(Err(e)) => return Statement::Invalid(e),
        None => {}
    }
    let Some(mut w) = Words::read(sql) else {
        return Statement::Sql(sql.to_string());
    };
    if let Some(verb) = ["INSERT", "DELETE", "UPDATE", "MERGE", "TRUNCATE", "COPY"]
        .into_iter()
        .find(|v| w.peek_keyword(v))
    {
        return Statement::Invalid(format!(
            "{verb} is not supported: lake tables change only whole, by `strata run` or \
                 CREATE TABLE ... AS, so a reader never sees one half-written \
                 (UNLOAD (SELECT ...) TO 'folder' writes a query's files)"
        ));
    }
    let like = |w: &mut Words| {
        if w.keyword("LIKE") {
            w.string().map(Some)
        } else {
            Some(None)
        }
    };
    let statement = if w.keyword("SHOW") {
        if w.keyword("TABLES") {
            let schema = if w.keyword("IN") || w.keyword("FROM") {
                w.name()
            } else {
                None
            };
            like(&mut w).map(|like| Statement::ShowTables { schema, like })
        } else if w.keyword("SCHEMAS") || w.keyword("DATABASES") {
            like(&mut w).map(|like| Statement::ShowSchemas { like })
        } else if w.keyword("COLUMNS") {
            (w.keyword("IN") || w.keyword("FROM"))
                .then(|| w.name())
                .flatten()
                .map(Statement::Describe)
        } else if w.keyword("PARTITIONS") {
            w.name().map(Statement::ShowPartitions)
        } else {
            None
        }
    } else if w.keyword("DESCRIBE") || w.keyword("DESC") {
        w.name().map(Statement::Describe)
    } else if w.keyword("MSCK") && w.keyword("REPAIR") && w.keyword("TABLE") {
        w.name().map(Statement::Repair)
    } else {
        None
    };
    match statement {
        Some(s) if w.at_end() => s,
        _ => Statement::Sql(sql.to_string()),
    }
}

/// Finds `schema.table`, or a bare table name if exactly one schema has it.
pub fn resolve(engine: &Engine, name: &str) -> Result<(String, String)> {
    let tables = engine.tables();
    if let Some((schema, table)) = name.split_once('.') {
        if tables
            .get(schema)
            .is_some_and(|t| t.iter().any(|x| x == table))
        {
            return Ok((schema.to_string(), table.to_string()));
        }
        return Err(Error::Statement(format!("no table {name}")));
    }
    let found: Vec<&String> = tables
        .iter()
        .filter(|(_, t)| t.iter().any(|x| x == name))
        .map(|(s, _)| s)
        .collect();
    match found.as_slice() {
        [one] => Ok(((*one).clone(), name.to_string())),
        [] => Err(Error::Statement(format!("no table {name}"))),
        many => Err(Error::Statement(format!(
            "{name} is ambiguous: {}",
            many.iter()
                .map(|s| format!("{s}.{name}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn strings(columns: &[(&str, Vec<String>)]) -> Result<Vec<RecordBatch>> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, v)| Arc::new(StringArray::from(v.clone())) as ArrayRef)
        .collect();
    Ok(vec![RecordBatch::try_new(schema, arrays)?])
}

fn like(pattern: &str, name: &str) -> bool {
    fn matches(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*' | '%'), _) => matches(&p[1..], s) || (!s.is_empty() && matches(p, &s[1..])),
            (Some('_'), Some(_)) => matches(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => matches(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    matches(&p, &s)
}

/// Answers the statements DataFusion does not know; `None` for the rest.
pub async fn execute(engine: &Engine, statement: &Statement) -> Result<Option<Vec<RecordBatch>>> {
    Ok(Some(match statement {
        Statement::Sql(_) | Statement::CreateTableAs { .. } | Statement::Unload { .. } => {
            return Ok(None);
        }
        Statement::Invalid(e) => return Err(Error::Statement(e.clone())),
        Statement::ShowTables {
            schema,
            like: pattern,
        } => {
            let (mut schemas, mut names) = (vec![], vec![]);
            for (s, tables) in engine.tables() {
                if schema.as_ref().is_some_and(|want| want != &s) {
                    continue;
                }
                for t in tables {
                    if pattern.as_ref().is_none_or(|p| like(p, &t)) {
                        schemas.push(s.clone());
                        names.push(t);
                    }
                }
            }
            if let Some(s) = schema
                && !engine.tables().contains_key(s)
            {
                return Err(Error::Statement(format!("no schema {s}")));
            }
            strings(&[("schema", schemas), ("table", names)])?
        }
        Statement::ShowSchemas { like: pattern } => {
            let names = engine
                .tables()
                .into_keys()
                .filter(|s| pattern.as_ref().is_none_or(|p| like(p, s)))
                .collect();
            strings(&[("schema", names)])?
        }
        Statement::Describe(name) => {
            let (schema, table) = resolve(engine, name)?;
            let df = engine.ctx().table(format!("{schema}.{table}")).await?;
            let partitions = engine
                .manifest(&format!("{schema}.{table}"))
                .map(|m| m.partition_by)
                .unwrap_or_default();
            let (mut cols, mut types, mut nulls, mut extra) = (vec![], vec![], vec![], vec![]);
            for f in df.schema().fields() {
                cols.push(f.name().clone());
                // Trino's names, as Athena's DESCRIBE shows them (`varchar`).
                types.push(super::trino::trino_name(f.data_type()));
                nulls.push(if f.is_nullable() { "YES" } else { "NO" }.to_string());
                extra.push(if partitions.contains(f.name()) {
                    "partition key".to_string()
                } else {
                    String::new()
                });
            }
            strings(&[
                ("column", cols),
                ("type", types),
                ("nullable", nulls),
                ("extra", extra),
            ])?
        }
        Statement::ShowPartitions(name) => {
            let (schema, table) = resolve(engine, name)?;
            let m = engine
                .manifest(&format!("{schema}.{table}"))
                .ok_or_else(|| Error::Statement(format!("{schema}.{table} is not a lake table")))?;
            if m.partition_by.is_empty() {
                return Err(Error::Statement(format!(
                    "{schema}.{table} is not partitioned"
                )));
            }
            let mut parts: Vec<String> = m
                .files
                .iter()
                .filter_map(|f| f.key.rsplit_once('/').map(|(d, _)| d.to_string()))
                .collect();
            parts.dedup();
            strings(&[("partition", parts)])?
        }
        Statement::Repair(name) => {
            let (schema, table) = resolve(engine, name)?;
            let id = TableId::new(Layer::new(&schema)?, &table)?;
            let m = engine
                .lake()
                .manifest(&id)
                .await?
                .ok_or_else(|| Error::Statement(format!("{id} is not a lake table")))?;
            engine.register(&m)?;
            strings(&[(
                "result",
                vec![format!(
                    "{id}: version {}, {} files, {} rows, re-read from its log",
                    m.version,
                    m.files.len(),
                    m.rows,
                )],
            )])?
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parentheses_in_strings_and_comments_do_not_close_the_query() {
        let sql =
            "UNLOAD (SELECT ')' AS x, \"a)\" -- )\n FROM t) TO '/tmp/o' WITH (format = 'PARQUET')";
        let Statement::Unload { query, to, .. } = classify(sql) else {
            panic!("{:?}", classify(sql))
        };
        assert_eq!(query.trim(), "SELECT ')' AS x, \"a)\" -- )\n FROM t");
        assert_eq!(to, "/tmp/o");
        assert_eq!(closing_paren("(é(ü))x", 0), Some("(é(ü)".len()));
    }

    #[test]
    fn statements_are_sorted() {
        assert_eq!(
            classify("SHOW TABLES IN gold"),
            Statement::ShowTables {
                schema: Some("gold".into()),
                like: None
            }
        );
        assert_eq!(
            classify("show tables from gold like 'dim*'"),
            Statement::ShowTables {
                schema: Some("gold".into()),
                like: Some("dim*".into())
            }
        );
        assert_eq!(
            classify("DESCRIBE gold.fact_sales"),
            Statement::Describe("gold.fact_sales".into())
        );
        assert_eq!(
            classify("SHOW COLUMNS IN `gold`.\"fact_sales\""),
            Statement::Describe("gold.fact_sales".into())
        );
        assert_eq!(
            classify("SHOW PARTITIONS gold.daily_sales"),
            Statement::ShowPartitions("gold.daily_sales".into())
        );
        assert_eq!(
            classify("MSCK REPAIR TABLE gold.daily_sales"),
            Statement::Repair("gold.daily_sales".into())
        );
        assert_eq!(classify("SELECT 1"), Statement::Sql("SELECT 1".into()));
    }

    #[test]
    fn a_timestamp_naming_a_zone_is_typed_with_it() {
        assert_eq!(
            trino_spelling("SELECT TIMESTAMP '2020-05-01 12:34:56.12 Asia/Kathmandu' = x"),
            "SELECT CAST('2020-05-01 12:34:56.12 Asia/Kathmandu' AS \
             strata_timestamptz(2, 'Asia/Kathmandu')) = x"
        );
        assert_eq!(
            trino_spelling("SELECT TIMESTAMP '2020-05-01 12:34:56' + x"),
            "SELECT TIMESTAMP(0) '2020-05-01 12:34:56' + x"
        );
    }

    #[test]
    fn a_literal_past_nanoseconds_cast_to_fewer_digits_is_rounded_to_them() {
        assert_eq!(
            trino_spelling(
                "SELECT CAST(TIMESTAMP '2020-05-01 12:34:56.111111111111' AS TIMESTAMP(3))"
            ),
            "SELECT CAST(TIMESTAMP(3) '2020-05-01 12:34:56.111' AS TIMESTAMP(3))"
        );
        // A TIME from a TIMESTAMP, and a plain text to 9 digits, alike.
        assert_eq!(
            trino_spelling("SELECT CAST(TIMESTAMP '2020-05-01 23:59:59.9999999999' AS TIME(0))"),
            "SELECT CAST(TIMESTAMP(0) '2020-05-02 00:00:00' AS TIME(0))"
        );
        assert_eq!(
            trino_spelling("SELECT CAST('12:34:56.5555555555' AS TIME(9))"),
            "SELECT CAST('12:34:56.555555556' AS TIME(9))"
        );
        // To 10 to 12 digits: left to be refused.
        let kept = "SELECT CAST(TIMESTAMP '2020-05-01 12:34:56.111111111111' AS TIMESTAMP(12))";
        assert_eq!(trino_spelling(kept), kept);
    }

    #[test]
    fn interval_ranges_are_spelled_out_as_trino_reads_them() {
        let spelled = |sql: &str| trino_spelling(&format!("SELECT {sql}"))[7..].to_string();
        assert_eq!(
            spelled("INTERVAL '2 03:04:05.678' DAY TO SECOND"),
            "INTERVAL '2 days 11045678 milliseconds'"
        );
        // Fields past their range carry; the text may stop after any field.
        assert_eq!(
            spelled("INTERVAL '42 30' DAY TO HOUR"),
            "INTERVAL '43 days 21600000 milliseconds'"
        );
        assert_eq!(
            spelled("INTERVAL '2' DAY TO SECOND"),
            "INTERVAL '2 days 0 milliseconds'"
        );
        // Seconds keep three fraction digits; a sign negates the whole.
        assert_eq!(
            spelled("INTERVAL '-34:56.123456' MINUTE TO SECOND"),
            "INTERVAL '-2096123 milliseconds'"
        );
        assert_eq!(
            spelled("INTERVAL -'1-6' YEAR TO MONTH"),
            "INTERVAL '-18 months'"
        );
        // What Trino refuses stays, for DataFusion to refuse.
        for kept in [
            "INTERVAL '1 2:30' DAY TO HOUR",
            "INTERVAL '1' SECOND TO MINUTE",
            "INTERVAL 'a' HOUR TO MINUTE",
        ] {
            assert_eq!(spelled(kept), kept);
        }
    }

    #[test]
    fn set_time_zone_sets_the_session_zone() {
        assert_eq!(
            trino_spelling("SET TIME ZONE 'America/Los_Angeles';"),
            "SET datafusion.execution.time_zone = 'America/Los_Angeles'"
        );
        assert_eq!(
            trino_spelling("set time zone local"),
            "SET datafusion.execution.time_zone = 'UTC'"
        );
        assert_eq!(trino_spelling("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn typed_literals_take_the_precision_they_are_written_in() {
        assert_eq!(
            trino_spelling(
                "SELECT TIMESTAMP '2020-05-01 12:34:56.123456789', TIMESTAMP '2020-05-01 12:34:56.1'"
            ),
            "SELECT TIMESTAMP(9) '2020-05-01 12:34:56.123456789', TIMESTAMP(1) '2020-05-01 12:34:56.1'"
        );
        assert_eq!(
            trino_spelling("SELECT DECIMAL '0.0034', DECIMAL '-12.50', DECIMAL '007'"),
            "SELECT DECIMAL(4,4) '0.0034', DECIMAL(4,2) '-12.50', DECIMAL(1,0) '007'"
        );
    }

    #[test]
    fn row_types_are_structs_and_row_values_stay() {
        assert_eq!(
            trino_spelling("SELECT CAST(r AS ROW(x BIGINT, y ARRAY(VARCHAR))), ROW(1, x), ROW(a)"),
            "SELECT CAST(r AS STRUCT<x BIGINT, y ARRAY<VARCHAR>>), ROW(1, x), ROW(a)"
        );
    }

    #[test]
    fn row_types_without_names_name_their_fields_by_position() {
        assert_eq!(
            trino_spelling(
                "SELECT CAST(r AS ROW(BIGINT, DECIMAL(3, 1))), CAST(a AS ARRAY(ROW(INT, ROW(DATE)))), \
                 ROW(date, x)"
            ),
            "SELECT CAST(r AS STRUCT<c0 BIGINT, c1 DECIMAL(3, 1)>), \
             CAST(a AS ARRAY<STRUCT<c0 INT, c1 STRUCT<c0 DATE>>>), ROW(date, x)"
        );
    }

    #[test]
    fn array_types_are_spelled_with_angle_brackets() {
        assert_eq!(
            trino_spelling("SELECT CAST(x AS ARRAY(ARRAY(BIGINT))), ARRAY[1, 2], ARRAY(SELECT 1)"),
            "SELECT CAST(x AS ARRAY<ARRAY<BIGINT>>), ARRAY[1, 2], ARRAY(SELECT 1)"
        );
    }

    #[test]
    fn values_rows_without_parentheses_get_them() {
        assert_eq!(
            values_in_parentheses(
                "SELECT * FROM (VALUES DATE '2024-01-31', DATE '2023-01-31') t(d)"
            ),
            "SELECT * FROM (VALUES (DATE '2024-01-31'), (DATE '2023-01-31')) t(d)"
        );
        assert_eq!(
            values_in_parentheses("VALUES 1, 2 ORDER BY 1"),
            "VALUES (1), (2) ORDER BY 1"
        );
        let unchanged = "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) t(x, y)";
        assert_eq!(values_in_parentheses(unchanged), unchanged);
        assert_eq!(
            values_in_parentheses("VALUES (1) + 2, 3"),
            "VALUES ((1) + 2), (3)"
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("dim*", "dim_date"));
        assert!(like("%sales", "fact_sales"));
        assert!(!like("dim*", "fact_sales"));
    }
}
