//! The prompt's helper: multi-line input until `;`, and tab completion of
//! keywords, schemas, tables and columns from the live catalog.

use std::borrow::Cow;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::split;
use crate::engine::Engine;

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "JOIN",
    "LEFT JOIN",
    "INNER JOIN",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS NULL",
    "IS NOT NULL",
    "DISTINCT",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "WITH",
    "UNION ALL",
    "OVER",
    "PARTITION BY",
    "EXPLAIN",
    "EXPLAIN ANALYZE",
    "DESCRIBE",
    "SHOW TABLES",
    "SHOW COLUMNS IN",
    "SHOW PARTITIONS",
    "MSCK REPAIR TABLE",
    "CREATE VIEW",
    "CAST",
    "DATE",
    "TIMESTAMP",
    "INTERVAL",
    "BETWEEN",
    "LIKE",
    "DESC",
    "ASC",
];

/// Completion words and input validation for the prompt.
pub struct SqlHelper {
    /// Schemas, `schema.table`s and column names.
    names: Vec<String>,
}

impl SqlHelper {
    /// A helper knowing the engine's current catalog.
    pub async fn new(engine: &Engine) -> Self {
        let mut h = SqlHelper { names: vec![] };
        h.refresh(engine).await;
        h
    }

    /// Re-reads the catalog (after a statement may have changed it).
    pub async fn refresh(&mut self, engine: &Engine) {
        let mut names = vec![];
        for (schema, tables) in engine.tables() {
            names.push(schema.clone());
            for t in tables {
                let qualified = format!("{schema}.{t}");
                if let Ok(df) = engine.ctx().table(qualified.as_str()).await {
                    names.extend(df.schema().fields().iter().map(|f| f.name().clone()));
                }
                names.push(qualified);
            }
        }
        names.sort();
        names.dedup();
        self.names = names;
    }

    /// Candidates for the word being typed.
    fn candidates(&self, word: &str) -> Vec<String> {
        if word.is_empty() {
            return vec![];
        }
        let lower = word.to_ascii_lowercase();
        let mut out: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.starts_with(word))
            .cloned()
            .collect();
        out.extend(
            KEYWORDS
                .iter()
                .filter(|k| k.to_ascii_lowercase().starts_with(&lower))
                .map(|k| {
                    if word.chars().next().is_some_and(char::is_lowercase) {
                        k.to_ascii_lowercase()
                    } else {
                        k.to_string()
                    }
                }),
        );
        out
    }
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |i| i + 1);
        let word = &line[start..pos];
        Ok((
            start,
            self.candidates(word)
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with('\\')
            || split::is_blank(input)
            || split::is_complete(input)
        {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Helper for SqlHelper {}
