//! Models: one SQL file per lake table.
//!
//! `queries/<layer>/<table>.sql` holds one `SELECT` whose result becomes the
//! table `<layer>.<table>`. Leading comment lines of the form
//! `-- key: value` are directives saying how the table is stored:
//!
//! | directive | values | default |
//! |---|---|---|
//! | `format` | `parquet`, `csv` | `parquet` |
//! | `partition_by` | comma-separated column names | none |
//! | `hidden_partition_by` | comma-separated column names | none |
//! | `order_by` | comma-separated column names | none |
//! | `incremental` | `replace partitions`, `merge on <column>` | none: always rebuilt whole |
//!
//! Without `order_by`, a model's rows are computed and written on every
//! core, and a re-run gives the same content (rows, and the folder each
//! is in) but not always the same files. With it, each file holds its rows
//! in that order, so a re-run over the same input writes the same bytes.
//!
//! `incremental: replace partitions` declares that the model treats the one
//! partitioned table it reads partition by partition: rows of different
//! input partitions never meet in one result row (a month of silver from
//! those days of bronze, a day of `daily_sales` from its month of silver).
//! When only
//! some partitions of that input changed since the table was built (a
//! `strata sync` batch), the build runs the model's plain `SELECT` over
//! just those partitions and replaces the partitions its result falls in
//! (see [`crate::runner::incremental`]); otherwise it rebuilds whole.
//!
//! `incremental: merge on <column>` declares that each of the model's rows
//! comes from its input's rows of one value of that column (a customer's
//! row of `dim_customer` from that customer's sales), which its input has
//! too. When only some partitions of that input changed, the build finds
//! the key values of the rows that changed in them, runs the `SELECT`
//! filtered to those keys (the filter reaches the scan), and writes the
//! table's other rows as they were beside the result.
//!
//! `hidden_partition_by` groups the files into hive folders by result
//! columns the table does not keep (Iceberg calls this hidden
//! partitioning): `gold.fact_sales` keeps the contract's columns, yet its
//! files follow silver's months, so that a change to a month replaces that
//! month's files only.
//!
//! A model's dependencies are the tables its statement reads, found by
//! parsing it; nobody numbers files by hand.

pub mod dag;

use std::path::{Path, PathBuf};

use datafusion::common::TableReference;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement;

use crate::error::{Error, Result};
use crate::lake::manifest::Format;
use crate::lake::writer::WriteSpec;
use crate::lake::{Layer, TableId};

/// Folders of `queries/` that hold something other than models: data
/// tests, reports, and example queries (which are run, by `strata sql -f`
/// and their tests, but are not tables a run builds).
const RESERVED_DIRS: [&str; 3] = ["tests", "reports", "examples"];

/// A lake table and the SQL that builds it.
#[derive(Debug, Clone)]
pub struct Model {
    /// The table it produces.
    pub table: TableId,
    /// Its SQL file.
    pub path: PathBuf,
    /// The file's text (the statement, with its comments).
    pub sql: String,
    /// How the table is stored.
    pub write: WriteSpec,
    /// Tables it reads, as `schema.table`, sorted and unique.
    pub reads: Vec<String>,
    /// How a build may update the table in place of rebuilding it.
    pub incremental: Option<Incremental>,
}

/// How a model's table may be kept up to date without rebuilding it whole
/// (`-- incremental:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incremental {
    /// Only the partitions whose input partitions changed are recomputed
    /// and replaced.
    ReplacePartitions,
    /// Only the rows of the keys (values of this column) whose input rows
    /// changed are recomputed, and replace that key's rows
    /// (`-- incremental: merge on customer_id`).
    MergeOn(String),
}

/// A SQL file that is a single query (a data test or report).
#[derive(Debug, Clone)]
pub struct QueryFile {
    /// Its name (file stem).
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Its text.
    pub sql: String,
    /// Tables it reads, as `schema.table`, and those its `-- checks:`
    /// line names (a test reading what a table recorded of itself in
    /// `meta.tables` checks that table without reading it).
    pub reads: Vec<String>,
}

/// Finds every model under `queries_dir`, sorted by table.
pub fn discover(queries_dir: &Path) -> Result<Vec<Model>> {
    let mut models = vec![];
    let entries = read_dir_sorted(queries_dir)?;
    for layer_dir in entries {
        if !layer_dir.is_dir() {
            continue;
        }
        let dir_name = file_name(&layer_dir);
        if RESERVED_DIRS.contains(&dir_name.as_str()) || dir_name.starts_with('.') {
            continue;
        }
        let layer = Layer::new(&dir_name).map_err(|e| Error::Model {
            file: layer_dir.clone(),
            message: e.to_string(),
        })?;
        for file in read_dir_sorted(&layer_dir)? {
            if file.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            models.push(Model::load(&layer, &file)?);
        }
    }
    Ok(models)
}

/// Loads the single-query files of a folder (`queries/tests`, `queries/reports`).
pub fn discover_queries(dir: &Path) -> Result<Vec<QueryFile>> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for path in read_dir_sorted(dir)? {
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        out.push(QueryFile::load(&path)?);
    }
    Ok(out)
}

impl QueryFile {
    /// Reads and checks one query file.
    pub fn load(path: &Path) -> Result<Self> {
        let sql = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut reads = query_reads(path, &sql)?;
        reads.extend(checked_tables(&sql));
        reads.sort();
        reads.dedup();
        Ok(QueryFile {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.to_path_buf(),
            sql,
            reads,
        })
    }
}

impl Model {
    /// Reads and checks one model file of `layer`.
    pub fn load(layer: &Layer, path: &Path) -> Result<Self> {
        let model_err = |message: String| Error::Model {
            file: path.to_path_buf(),
            message,
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let table = TableId::new(layer.clone(), &stem).map_err(|e| model_err(e.to_string()))?;
        let sql = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let Directives { write, incremental } = parse_directives(&sql).map_err(model_err)?;
        let reads = query_reads(path, &sql)?;
        if reads.contains(&table.to_string()) {
            return Err(model_err(format!("the model reads its own table {table}")));
        }
        Ok(Model {
            table,
            path: path.to_path_buf(),
            sql,
            write,
            reads,
            incremental,
        })
    }
}

/// The tables a query file's `-- checks: layer.table, ...` lines name.
fn checked_tables(sql: &str) -> Vec<String> {
    sql.lines()
        .map_while(|l| l.trim().strip_prefix("--"))
        .filter_map(|c| c.trim().strip_prefix("checks:"))
        .flat_map(column_list)
        .collect()
}

/// A comma-separated list of names, trimmed, empty items left out.
fn column_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The directives a model's leading comments may hold.
const DIRECTIVES: [&str; 5] = [
    "format",
    "partition_by",
    "hidden_partition_by",
    "order_by",
    "incremental",
];

/// What a model's directives say.
#[derive(Debug, Default)]
struct Directives {
    write: WriteSpec,
    incremental: Option<Incremental>,
}

/// Reads the directives from the leading comment block.
fn parse_directives(sql: &str) -> std::result::Result<Directives, String> {
    let mut spec = WriteSpec::default();
    let mut incremental = None;
    for line in sql.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break; // directives end where the statement starts
        };
        let Some((key, value)) = comment.trim().split_once(':') else {
            continue;
        };
        let key = key.trim();
        if !DIRECTIVES.contains(&key) {
            // Prose, unless it is one typo away from a directive.
            if let Some(near) = DIRECTIVES.iter().find(|d| strsim::levenshtein(d, key) <= 2) {
                return Err(format!("unknown directive `{key}`; did you mean `{near}`?"));
            }
            continue;
        }
        let value = value.trim();
        match key {
            "format" => {
                spec.format = match value {
                    "parquet" => Format::Parquet,
                    "csv" => Format::Csv,
                    other => return Err(format!("unknown format `{other}` (parquet, csv)")),
                }
            }
            "partition_by" | "hidden_partition_by" => {
                if !spec.partition_by.is_empty() {
                    return Err(
                        "a model has one of partition_by and hidden_partition_by, once".into(),
                    );
                }
                spec.partition_by = column_list(value);
                spec.hidden = key == "hidden_partition_by";
                if spec.partition_by.is_empty() {
                    return Err(format!("{key} names no column"));
                }
            }
            "order_by" => {
                spec.order_by = column_list(value);
                if spec.order_by.is_empty() {
                    return Err("order_by names no column".into());
                }
            }
            "incremental" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                incremental = match words.as_slice() {
                    ["replace", "partitions"] => Some(Incremental::ReplacePartitions),
                    ["merge", "on", key] if !key.contains(',') => {
                        Some(Incremental::MergeOn(key.to_string()))
                    }
                    ["merge", "on", ..] => {
                        return Err(format!(
                            "`incremental: {value}`: a merge is on one key column"
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "unknown incremental strategy `{value}` (replace partitions, or \
                             merge on <column>)"
                        ));
                    }
                }
            }
            _ => unreachable!("only known directives get here"),
        }
    }
    if spec.format == Format::Csv && !spec.partition_by.is_empty() {
        return Err("CSV tables cannot be partitioned".into());
    }
    match &incremental {
        Some(Incremental::ReplacePartitions) if spec.partition_by.is_empty() => {
            return Err("`incremental: replace partitions` needs `partition_by`".into());
        }
        Some(Incremental::MergeOn(_)) if !spec.partition_by.is_empty() => {
            return Err(
                "`incremental: merge on` rewrites its table whole, so it takes no `partition_by`"
                    .into(),
            );
        }
        _ => {}
    }
    Ok(Directives {
        write: spec,
        incremental,
    })
}

/// Parses `sql` as exactly one query and returns the tables it reads.
pub fn query_reads(path: &Path, sql: &str) -> Result<Vec<String>> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| Error::sql(path, e))?;
    let err = |message: &str| Error::Model {
        file: path.to_path_buf(),
        message: message.to_string(),
    };
    if statements.len() != 1 {
        return Err(err(&format!(
            "expected one SELECT statement, found {}",
            statements.len()
        )));
    }
    let statement = statements.pop_front().expect("one statement");
    if !matches!(&statement, DFStatement::Statement(s) if matches!(**s, Statement::Query(_))) {
        return Err(err("expected a SELECT (or WITH ... SELECT) statement"));
    }
    let (tables, _ctes) =
        resolve_table_references(&statement, true).map_err(|e| Error::sql(path, e))?;
    let mut reads = tables
        .iter()
        .map(|t| match t {
            TableReference::Partial { schema, table } => Ok(format!("{schema}.{table}")),
            TableReference::Full { schema, table, .. } => Ok(format!("{schema}.{table}")),
            TableReference::Bare { table } => Err(err(&format!(
                "table `{table}` needs its layer: write e.g. `silver.{table}`"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    reads.sort();
    reads.dedup();
    Ok(reads)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort();
    Ok(entries)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_read_from_the_leading_comments() {
        let spec = parse_directives(
            "-- Bronze keeps every row.\n-- partition_by: year, month, day\n\nSELECT 1\n-- format: csv\n",
        )
        .unwrap()
        .write;
        assert_eq!(spec.partition_by, ["year", "month", "day"]);
        assert_eq!(spec.format, Format::Parquet);
        assert_eq!(
            parse_directives("-- format: csv\nSELECT 1")
                .unwrap()
                .write
                .format,
            Format::Csv
        );
        assert!(
            parse_directives("-- fromat: csv\nSELECT 1")
                .unwrap_err()
                .contains("`format`")
        );
        assert!(parse_directives("-- partiton_by: a\nSELECT 1").is_err());
        // Prose that happens to hold a colon is not a directive.
        assert!(parse_directives("-- nothing: a row is kept\nSELECT 1").is_ok());
        assert!(parse_directives("-- format: orc\nSELECT 1").is_err());
        let ordered = parse_directives("-- order_by: sale_date, sale_id\nSELECT 1")
            .unwrap()
            .write;
        assert_eq!(ordered.order_by, ["sale_date", "sale_id"]);
        assert!(parse_directives("-- order_by: ,\nSELECT 1").is_err());
        assert!(parse_directives("-- order_bye: a\nSELECT 1").is_err());
    }

    #[test]
    fn an_incremental_model_says_how_and_is_partitioned() {
        let d =
            parse_directives("-- partition_by: day\n-- incremental: replace  partitions\nSELECT 1")
                .unwrap();
        assert_eq!(d.incremental, Some(Incremental::ReplacePartitions));
        assert_eq!(parse_directives("SELECT 1").unwrap().incremental, None);
        let e = parse_directives("-- incremental: replace partitions\nSELECT 1").unwrap_err();
        assert!(e.contains("needs `partition_by`"), "{e}");
        let e =
            parse_directives("-- partition_by: day\n-- incremental: merge\nSELECT 1").unwrap_err();
        assert!(e.contains("unknown incremental strategy `merge`"), "{e}");
        assert!(parse_directives("-- incremetal: replace partitions\nSELECT 1").is_err());
    }

    #[test]
    fn a_merge_is_on_one_key_of_an_unpartitioned_table() {
        let d = parse_directives("-- incremental: merge on customer_id\nSELECT 1").unwrap();
        assert_eq!(
            d.incremental,
            Some(Incremental::MergeOn("customer_id".into()))
        );
        let e = parse_directives("-- incremental: merge on a, b\nSELECT 1").unwrap_err();
        assert!(e.contains("one key column"), "{e}");
        let e = parse_directives("-- partition_by: day\n-- incremental: merge on id\nSELECT 1")
            .unwrap_err();
        assert!(e.contains("takes no `partition_by`"), "{e}");
    }

    #[test]
    fn hidden_partitions_group_files_by_columns_the_table_does_not_keep() {
        let d = parse_directives(
            "-- hidden_partition_by: year, month\n-- incremental: replace partitions\nSELECT 1",
        )
        .unwrap();
        assert_eq!(d.write.partition_by, ["year", "month"]);
        assert!(d.write.hidden);
        assert!(
            !parse_directives("-- partition_by: day\nSELECT 1")
                .unwrap()
                .write
                .hidden
        );
        let e = parse_directives("-- partition_by: day\n-- hidden_partition_by: day\nSELECT 1")
            .unwrap_err();
        assert!(
            e.contains("one of partition_by and hidden_partition_by"),
            "{e}"
        );
    }

    #[test]
    fn a_query_file_checks_the_tables_it_names() {
        assert_eq!(
            checked_tables(
                "-- Money.\n-- checks: raw.sales, bronze.sales\nSELECT 1\n-- checks: x.y"
            ),
            ["raw.sales", "bronze.sales"]
        );
    }

    #[test]
    fn reads_are_the_tables_not_the_ctes() {
        let reads = query_reads(
            Path::new("m.sql"),
            "WITH x AS (SELECT * FROM silver.sales) SELECT * FROM x JOIN gold.dim_date d ON true",
        )
        .unwrap();
        assert_eq!(reads, ["gold.dim_date", "silver.sales"]);
    }

    #[test]
    fn only_one_query_is_a_model() {
        let e = query_reads(Path::new("m.sql"), "SELECT 1; SELECT 2").unwrap_err();
        assert!(e.to_string().contains("m.sql: expected one SELECT"), "{e}");
        let e = query_reads(Path::new("m.sql"), "DROP TABLE silver.sales").unwrap_err();
        assert!(e.to_string().contains("expected a SELECT"), "{e}");
        let e = query_reads(Path::new("m.sql"), "SELECT * FROM sales").unwrap_err();
        assert!(e.to_string().contains("silver.sales"), "{e}");
    }
}
