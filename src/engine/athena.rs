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
    /// `SHOW COLUMNS IN|FROM t`, `DESCRIBE t`.
    Describe(String),
    /// `SHOW PARTITIONS t`.
    ShowPartitions(String),
    /// `MSCK REPAIR TABLE t`.
    Repair(String),
}

/// Sorts a statement (without its `;`).
pub fn classify(sql: &str) -> Statement {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let up: Vec<&str> = upper.iter().map(String::as_str).collect();
    let unquote = |s: &str| s.replace(['`', '"'], "");
    match up.as_slice() {
        ["SHOW", "TABLES"] => Statement::ShowTables {
            schema: None,
            like: None,
        },
        ["SHOW", "TABLES", "IN" | "FROM", _] => Statement::ShowTables {
            schema: Some(unquote(words[3])),
            like: None,
        },
        ["SHOW", "TABLES", "IN" | "FROM", _, "LIKE", ..] => Statement::ShowTables {
            schema: Some(unquote(words[3])),
            like: Some(words[5..].join(" ").trim_matches('\'').to_string()),
        },
        ["SHOW", "TABLES", "LIKE", ..] => Statement::ShowTables {
            schema: None,
            like: Some(words[3..].join(" ").trim_matches('\'').to_string()),
        },
        ["SHOW", "COLUMNS", "IN" | "FROM", _] => Statement::Describe(unquote(words[3])),
        ["DESCRIBE" | "DESC", t] if !t.starts_with('(') => Statement::Describe(unquote(words[1])),
        ["SHOW", "PARTITIONS", _] => Statement::ShowPartitions(unquote(words[2])),
        ["MSCK", "REPAIR", "TABLE", _] => Statement::Repair(unquote(words[3])),
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
        return Err(Error::Config(format!("no table {name}")));
    }
    let found: Vec<&String> = tables
        .iter()
        .filter(|(_, t)| t.iter().any(|x| x == name))
        .map(|(s, _)| s)
        .collect();
    match found.as_slice() {
        [one] => Ok(((*one).clone(), name.to_string())),
        [] => Err(Error::Config(format!("no table {name}"))),
        many => Err(Error::Config(format!(
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
        Statement::Sql(_) => return Ok(None),
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
                return Err(Error::Config(format!("no schema {s}")));
            }
            strings(&[("schema", schemas), ("table", names)])?
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
                types.push(f.data_type().to_string());
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
                .ok_or_else(|| Error::Config(format!("{schema}.{table} is not a lake table")))?;
            if m.partition_by.is_empty() {
                return Err(Error::Config(format!(
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
                .ok_or_else(|| Error::Config(format!("{id} is not a lake table")))?;
            engine.register(&m)?;
            strings(&[(
                "result",
                vec![format!(
                    "{id}: {} files, {} rows, re-read from {}",
                    m.files.len(),
                    m.rows,
                    crate::lake::manifest::MANIFEST_FILE
                )],
            )])?
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn like_patterns() {
        assert!(like("dim*", "dim_date"));
        assert!(like("%sales", "fact_sales"));
        assert!(!like("dim*", "fact_sales"));
    }
}
