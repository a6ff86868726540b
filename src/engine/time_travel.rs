//! Time travel in SQL, in Trino's words: `FROM gold.fact_sales FOR VERSION
//! AS OF 12` and `FOR TIMESTAMP AS OF TIMESTAMP '2026-12-01 08:00:00'`.
//!
//! DataFusion's parser has no such clause, so the statement is rewritten
//! before it is planned: each `layer.table FOR ... AS OF x` becomes a name
//! the engine registers for that one version (`layer."table@v12" AS table`),
//! found with SQL's tokenizer so that the words inside strings and comments
//! are left alone.

use datafusion::sql::sqlparser::keywords::RESERVED_FOR_TABLE_ALIAS;
use datafusion::sql::sqlparser::tokenizer::Token;

use super::athena::located_tokens;
use crate::error::{Error, Result};
use crate::lake::TableId;

/// Which version a clause asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// `FOR VERSION AS OF 12`.
    Version(u64),
    /// `FOR TIMESTAMP AS OF '...'`: the version current at that instant.
    Timestamp(chrono::DateTime<chrono::Utc>),
}

/// One table read at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Travel {
    /// The table.
    pub table: TableId,
    /// Which version.
    pub at: At,
    /// The name the statement now reads it under, in the table's layer.
    pub name: String,
}

/// Reads `'2026-12-01 08:00:00'`, with an optional fraction, `T`, and zone
/// (`Z`, `+02:00`, ` UTC`); a bare date is its midnight. UTC unless a zone
/// says otherwise.
pub fn parse_instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.to_utc());
    }
    let t = t.strip_suffix(" UTC").unwrap_or(t).replace('T', " ");
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = chrono::DateTime::parse_from_str(&t, f) {
            return Some(d.to_utc());
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(&t, f) {
            return Some(d.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Rewrites the statement's time-travel clauses; `None` when it has none.
pub fn rewrite(sql: &str) -> Result<Option<(String, Vec<Travel>)>> {
    if !sql.to_ascii_uppercase().contains("AS OF") {
        return Ok(None);
    }
    let Some(tokens) = located_tokens(sql) else {
        return Ok(None);
    };
    // The tokens that are not whitespace or comments.
    let sig: Vec<&(Token, usize, usize)> = tokens
        .iter()
        .filter(|(t, _, _)| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut out = String::with_capacity(sql.len() + 32);
    let mut copied = 0;
    let mut travels = vec![];
    let mut i = 0;
    while i + 4 < sig.len() {
        let kind = &sig[i + 1].0;
        let clause = is_word(&sig[i].0, "FOR")
            && (is_word(kind, "VERSION") || is_word(kind, "TIMESTAMP"))
            && is_word(&sig[i + 2].0, "AS")
            && is_word(&sig[i + 3].0, "OF");
        if !clause {
            i += 1;
            continue;
        }
        // The value: a number, a string, or TIMESTAMP 'string'.
        let mut v = i + 4;
        if is_word(&sig[v].0, "TIMESTAMP") && v + 1 < sig.len() {
            v += 1;
        }
        let at = match (&sig[v].0, is_word(kind, "VERSION")) {
            (Token::Number(n, _), true) => At::Version(n.parse().map_err(|_| {
                Error::Statement(format!("FOR VERSION AS OF {n}: a version is a whole number"))
            })?),
            (Token::SingleQuotedString(s), false) => At::Timestamp(parse_instant(s).ok_or_else(|| {
                Error::Statement(format!(
                    "FOR TIMESTAMP AS OF '{s}': write a timestamp such as '2026-12-01 08:00:00' (UTC) or '2026-12-01T08:00:00+02:00'"
                ))
            })?),
            (other, true) => {
                return Err(Error::Statement(format!(
                    "FOR VERSION AS OF {other}: a version is a whole number (see `strata history <table>`)"
                )));
            }
            (other, false) => {
                return Err(Error::Statement(format!(
                    "FOR TIMESTAMP AS OF {other}: the instant must be a string, e.g. TIMESTAMP '2026-12-01 08:00:00'"
                )));
            }
        };
        // The table before the clause: layer.table.
        let named = |k: usize| match sig.get(k).map(|t| &t.0) {
            Some(Token::Word(w)) => Some(w.value.clone()),
            _ => None,
        };
        let (Some(name), Some(Token::Period), Some(layer)) = (
            i.checked_sub(1).and_then(named),
            i.checked_sub(2).map(|k| &sig[k].0),
            i.checked_sub(3).and_then(named),
        ) else {
            return Err(Error::Statement(
                "FOR ... AS OF follows a lake table named with its layer, e.g. gold.fact_sales FOR VERSION AS OF 3".into(),
            ));
        };
        let table = TableId::parse(&format!("{layer}.{name}"))?;
        let tag = match &at {
            At::Version(n) => format!("v{n}"),
            At::Timestamp(t) => format!("t{}", t.timestamp_micros()),
        };
        let registered = format!("{name}@{tag}");
        let aliased = match sig.get(v + 1).map(|t| &t.0) {
            Some(Token::Word(w)) => {
                is_word(&Token::Word(w.clone()), "AS")
                    || (w.quote_style.is_some() || !RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword))
            }
            _ => false,
        };
        let start = sig[i - 3].1;
        out.push_str(&sql[copied..start]);
        out.push_str(&format!("{layer}.\"{registered}\""));
        if !aliased {
            out.push_str(&format!(" AS \"{name}\""));
        }
        copied = sig[v].2;
        travels.push(Travel {
            table,
            at,
            name: registered,
        });
        i = v + 1;
    }
    if travels.is_empty() {
        return Ok(None);
    }
    out.push_str(&sql[copied..]);
    Ok(Some((out, travels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_become_names_of_versions() {
        let (sql, t) = rewrite(
            "SELECT count(*) FROM gold.fact_sales FOR VERSION AS OF 12 WHERE x = 'FOR VERSION AS OF 3'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            sql,
            "SELECT count(*) FROM gold.\"fact_sales@v12\" AS \"fact_sales\" WHERE x = 'FOR VERSION AS OF 3'"
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].at, At::Version(12));
        assert_eq!(t[0].table.to_string(), "gold.fact_sales");

        let (sql, t) = rewrite(
            "SELECT * FROM silver.sales FOR TIMESTAMP AS OF TIMESTAMP '2026-12-01 08:00:00 UTC' s JOIN silver.sales FOR VERSION AS OF 1 AS o ON true",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            sql,
            format!(
                "SELECT * FROM silver.\"sales@t{}\" s JOIN silver.\"sales@v1\" AS o ON true",
                parse_instant("2026-12-01 08:00:00")
                    .unwrap()
                    .timestamp_micros()
            )
        );
        assert_eq!(t.len(), 2);
        assert!(rewrite("SELECT 'AS OF' AS x").unwrap().is_none());
        assert!(rewrite("SELECT * FROM t FOR VERSION AS OF 1").is_err());
        assert!(rewrite("SELECT * FROM gold.t FOR VERSION AS OF 'x'").is_err());
    }

    #[test]
    fn instants_read_as_trino_writes_them() {
        let utc = parse_instant("2026-12-01 08:00:00").unwrap();
        assert_eq!(utc.to_rfc3339(), "2026-12-01T08:00:00+00:00");
        assert_eq!(parse_instant("2026-12-01T10:00:00+02:00").unwrap(), utc);
        assert_eq!(parse_instant("2026-12-01 08:00:00 UTC").unwrap(), utc);
        assert_eq!(
            parse_instant("2026-12-01").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(parse_instant("yesterday").is_none());
    }
}
