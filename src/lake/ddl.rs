//! Catalog DDL for the lake's tables, from their manifests: what a Glue
//! crawler would have guessed, stated exactly.
//!
//! Athena gets `CREATE EXTERNAL TABLE` with partition projection, so new
//! `year=/month=/day=` folders are readable without a crawler or
//! `MSCK REPAIR TABLE`. Trino (Hive connector), Spark, DuckDB and DataFusion
//! get their own spelling of the same tables.

use std::fmt::Write;

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

use super::NULL_PARTITION;
use super::manifest::{Format, TableManifest};
use crate::error::{Error, Result};

/// Which engine the DDL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// Amazon Athena (Hive DDL, partition projection).
    Athena,
    /// Trino's Hive connector.
    Trino,
    /// Apache Spark SQL.
    Spark,
    /// DuckDB views over `read_parquet` / `read_csv`.
    Duckdb,
    /// Apache DataFusion `CREATE EXTERNAL TABLE`.
    Datafusion,
}

/// An Arrow type in a dialect's words.
fn sql_type(t: &DataType, dialect: Dialect) -> Result<String> {
    use Dialect::*;
    Ok(match (t, dialect) {
        (DataType::Boolean, _) => "boolean".into(),
        (DataType::Int8, Athena | Spark | Trino | Duckdb) => "tinyint".into(),
        (DataType::Int16, Athena | Spark | Trino | Duckdb) => "smallint".into(),
        (DataType::Int32, Trino) => "integer".into(),
        (DataType::Int32, _) => "int".into(),
        (DataType::Int64, _) => "bigint".into(),
        (DataType::Float32, Trino) => "real".into(),
        (DataType::Float32, _) => "float".into(),
        (DataType::Float64, _) => "double".into(),
        (DataType::Decimal128(p, s), _) => format!("decimal({p},{s})"),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Trino) => "varchar".into(),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Athena | Spark) => {
            "string".into()
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) => "varchar".into(),
        (DataType::Date32 | DataType::Date64, _) => "date".into(),
        (DataType::Timestamp(TimeUnit::Microsecond, None), Trino) => "timestamp(6)".into(),
        (DataType::Timestamp(_, None), _) => "timestamp".into(),
        (DataType::Binary | DataType::LargeBinary, Trino) => "varbinary".into(),
        (DataType::Binary | DataType::LargeBinary, Duckdb | Datafusion) => "bytea".into(),
        (DataType::Binary | DataType::LargeBinary, _) => "binary".into(),
        (DataType::Int8 | DataType::Int16, Datafusion) => "smallint".into(),
        (DataType::UInt8, Datafusion) => "tinyint unsigned".into(),
        (DataType::UInt16, Datafusion) => "smallint unsigned".into(),
        (DataType::UInt32, Datafusion) => "int unsigned".into(),
        (DataType::UInt64, Datafusion) => "bigint unsigned".into(),
        (DataType::UInt8, Duckdb) => "utinyint".into(),
        (DataType::UInt16, Duckdb) => "usmallint".into(),
        (DataType::UInt32, Duckdb) => "uinteger".into(),
        (DataType::UInt64, Duckdb) => "ubigint".into(),
        // Hive engines have no unsigned types: the next wider signed one
        // (a UInt64 past 2^63 would not fit; Strata writes them for counts).
        (DataType::UInt8, Trino) => "smallint".into(),
        (DataType::UInt16, Trino) => "integer".into(),
        (DataType::UInt8, _) => "smallint".into(),
        (DataType::UInt16, _) => "int".into(),
        (DataType::UInt32 | DataType::UInt64, _) => "bigint".into(),
        (other, _) => {
            return Err(Error::Config(format!(
                "no {dialect:?} type for Arrow's {other}"
            )));
        }
    })
}

fn quote(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Athena | Dialect::Spark => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

/// The lowest and highest value of each partition column, from the files.
fn partition_ranges(m: &TableManifest) -> Vec<(String, Option<(i64, i64)>)> {
    m.partition_by
        .iter()
        .map(|p| {
            let values: Vec<i64> = m
                .files
                .iter()
                .filter_map(|f| {
                    f.key
                        .split('/')
                        .find_map(|seg| seg.strip_prefix(&format!("{p}=")))
                        .filter(|v| *v != NULL_PARTITION)
                        .and_then(|v| v.parse().ok())
                })
                .collect();
            let range = values
                .iter()
                .min()
                .zip(values.iter().max())
                .map(|(a, b)| (*a, *b));
            (p.clone(), range)
        })
        .collect()
}

/// The DDL of one table, whose folder is `location` (ending in `/`).
fn table_ddl(m: &TableManifest, location: &str, dialect: Dialect) -> Result<String> {
    let schema = m.schema()?;
    let (layer, name) = (m.table.layer.as_str(), m.table.name.as_str());
    let q = |s: &str| quote(s, dialect);
    let qualified = format!("{}.{}", q(layer), q(name));
    let data: Vec<&Field> = schema
        .fields()
        .iter()
        .filter(|f| !m.partition_by.contains(f.name()))
        .map(|f| f.as_ref())
        .collect();
    let parts: Vec<&Field> = m
        .partition_by
        .iter()
        .map(|p| {
            schema
                .field_with_name(p)
                .expect("partition columns are columns")
        })
        .collect();
    let csv = m.format == Format::Csv;
    // OpenCSVSerde reads every column as text; the types are cast in queries.
    let column_type = |t: &DataType| {
        if csv && dialect == Dialect::Athena {
            Ok("string".to_string())
        } else {
            sql_type(t, dialect)
        }
    };
    let columns = |fields: &[&Field]| -> Result<String> {
        Ok(fields
            .iter()
            .map(|f| Ok(format!("  {} {}", q(f.name()), column_type(f.data_type())?)))
            .collect::<Result<Vec<_>>>()?
            .join(",\n"))
    };
    let mut out = String::new();
    // A Parquet table's folder holds the files of every kept version: the
    // engines that read Delta Lake read the current one from its log.
    if !csv && dialect != Dialect::Datafusion {
        match dialect {
            Dialect::Athena => {
                let _ = writeln!(
                    out,
                    "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified}\nLOCATION '{location}'\nTBLPROPERTIES ('table_type' = 'DELTA');"
                );
            }
            Dialect::Trino => {
                let _ = writeln!(
                    out,
                    "CALL delta.system.register_table(schema_name => '{layer}', table_name => '{name}', table_location => '{location}');"
                );
            }
            Dialect::Spark => {
                let _ = writeln!(
                    out,
                    "CREATE TABLE IF NOT EXISTS {qualified} USING DELTA LOCATION '{location}';"
                );
            }
            Dialect::Duckdb => {
                let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", q(layer));
                let _ = writeln!(
                    out,
                    "CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM delta_scan('{location}');"
                );
            }
            Dialect::Datafusion => unreachable!("handled below"),
        }
        return Ok(out);
    }
    if csv && dialect != Dialect::Datafusion && dialect != Dialect::Duckdb {
        let _ = writeln!(
            out,
            "-- {layer}.{name} is CSV, which Delta Lake cannot hold: this reads every file in its \
             folder, older versions' too until `strata vacuum` expires them"
        );
    }
    match dialect {
        Dialect::Athena => {
            let _ = writeln!(out, "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified} (");
            let _ = writeln!(out, "{}\n)", columns(&data)?);
            if !parts.is_empty() {
                let _ = writeln!(out, "PARTITIONED BY (\n{}\n)", columns(&parts)?);
            }
            if csv {
                let _ = writeln!(
                    out,
                    "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n\
                     WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"', 'escapeChar' = '\\\\')\n\
                     STORED AS TEXTFILE"
                );
            } else {
                let _ = writeln!(out, "STORED AS PARQUET");
            }
            let _ = writeln!(out, "LOCATION '{location}'");
            let mut props = vec![];
            if csv {
                props.push(("skip.header.line.count".to_string(), "1".to_string()));
            } else {
                props.push(("parquet.compression".into(), "ZSTD".into()));
            }
            let ranges = partition_ranges(m);
            if !ranges.is_empty() {
                props.push(("projection.enabled".into(), "true".into()));
                let mut template = location.to_string();
                for (p, range) in &ranges {
                    let (lo, hi) = match (p.as_str(), range) {
                        // Months and days: their whole calendar range, so
                        // a new folder needs no new DDL.
                        ("month", _) => (1, 12),
                        ("day", _) => (1, 31),
                        (_, Some(r)) => *r,
                        (_, None) => (0, 0),
                    };
                    props.push((format!("projection.{p}.type"), "integer".into()));
                    props.push((format!("projection.{p}.range"), format!("{lo},{hi}")));
                    let _ = write!(template, "{p}=${{{p}}}/");
                }
                props.push(("storage.location.template".into(), template));
            }
            let _ = writeln!(
                out,
                "TBLPROPERTIES (\n{}\n);",
                props
                    .iter()
                    .map(|(k, v)| format!("  '{k}' = '{v}'"))
                    .collect::<Vec<_>>()
                    .join(",\n")
            );
        }
        Dialect::Trino => {
            let all: Vec<_> = data.iter().chain(parts.iter()).copied().collect();
            let _ = writeln!(out, "CREATE TABLE IF NOT EXISTS {qualified} (");
            let _ = writeln!(out, "{}\n)", columns(&all)?);
            let mut with = vec![
                format!("  format = '{}'", if csv { "CSV" } else { "PARQUET" }),
                format!("  external_location = '{location}'"),
            ];
            if csv {
                with.push("  skip_header_line_count = 1".into());
            }
            if !parts.is_empty() {
                with.push(format!(
                    "  partitioned_by = ARRAY[{}]",
                    m.partition_by
                        .iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let _ = writeln!(out, "WITH (\n{}\n);", with.join(",\n"));
        }
        Dialect::Spark => {
            let all: Vec<_> = data.iter().chain(parts.iter()).copied().collect();
            let _ = writeln!(out, "CREATE TABLE IF NOT EXISTS {qualified} (");
            let _ = writeln!(out, "{}\n)", columns(&all)?);
            if csv {
                let _ = writeln!(out, "USING CSV\nOPTIONS (header 'true')");
            } else {
                let _ = writeln!(out, "USING PARQUET");
            }
            if !parts.is_empty() {
                let _ = writeln!(
                    out,
                    "PARTITIONED BY ({})",
                    m.partition_by
                        .iter()
                        .map(|p| q(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = writeln!(out, "LOCATION '{location}';");
        }
        Dialect::Duckdb => {
            let read = if csv {
                // This version's files by name: the folder holds older ones.
                let files: Vec<String> = m
                    .files
                    .iter()
                    .map(|f| format!("'{location}{}'", f.key))
                    .collect();
                format!(
                    "read_csv([{}], header = true, all_varchar = false)",
                    files.join(", ")
                )
            } else {
                format!(
                    "read_parquet('{location}**/*.parquet', hive_partitioning = {})",
                    !parts.is_empty()
                )
            };
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", q(layer));
            let _ = writeln!(
                out,
                "CREATE OR REPLACE VIEW {qualified} AS SELECT * FROM {read};"
            );
        }
        Dialect::Datafusion => {
            // DataFusion cannot parse the Hive NULL folder as a number
            // (apache/datafusion#18083): such tables get text partitions.
            let null_folder = m.files.iter().any(|f| f.key.contains(NULL_PARTITION));
            let mut lines: Vec<String> = data
                .iter()
                .map(|f| Ok(format!("  {} {}", q(f.name()), column_type(f.data_type())?)))
                .collect::<Result<_>>()?;
            for f in &parts {
                let t = if null_folder {
                    "varchar".to_string()
                } else {
                    column_type(f.data_type())?
                };
                lines.push(format!("  {} {t}", q(f.name())));
            }
            let _ = writeln!(out, "CREATE EXTERNAL TABLE IF NOT EXISTS {qualified} (");
            let _ = writeln!(out, "{}\n)", lines.join(",\n"));
            let _ = writeln!(out, "STORED AS {}", if csv { "CSV" } else { "PARQUET" });
            if !parts.is_empty() {
                // Unquoted: DataFusion 55 keeps the quotes of names here.
                let _ = writeln!(out, "PARTITIONED BY ({})", m.partition_by.join(", "));
            }
            // DataFusion would read the manifest (_strata_table.json) as
            // data (Hive engines skip `_` files by themselves), and takes no
            // globs in URLs: a flat table names its files (this version's),
            // a partitioned one its folder, where only partition folders count.
            if parts.is_empty() {
                let files: Vec<String> = m
                    .files
                    .iter()
                    .map(|f| format!("'{location}{}'", f.key))
                    .collect();
                match files.as_slice() {
                    [one] => {
                        let _ = write!(out, "LOCATION {one}");
                    }
                    many => {
                        let _ = write!(out, "LOCATION ({})", many.join(", "));
                    }
                }
            } else {
                let _ = writeln!(
                    out,
                    "-- the folder holds every kept version's files: run `strata vacuum --keep-versions 1 --keep-for 0s` first"
                );
                let _ = write!(out, "LOCATION '{location}'");
            }
            if csv {
                let _ = write!(out, "\nOPTIONS ('format.has_header' 'true')");
            }
            let _ = writeln!(out, ";");
        }
    }
    Ok(out)
}

/// The DDL of every table, in name order, for tables whose folders sit under
/// `root` (a URL ending in `/`).
pub fn lake_ddl(manifests: &[TableManifest], root: &str, dialect: Dialect) -> Result<String> {
    let mut out = String::new();
    let mut schemas: Vec<&str> = manifests.iter().map(|m| m.table.layer.as_str()).collect();
    schemas.dedup();
    if matches!(
        dialect,
        Dialect::Athena | Dialect::Spark | Dialect::Trino | Dialect::Datafusion
    ) {
        for s in &schemas {
            let _ = writeln!(out, "CREATE SCHEMA IF NOT EXISTS {};", quote(s, dialect));
        }
        out.push('\n');
    }
    for m in manifests {
        let location = format!("{root}{}/", m.table.key());
        out.push_str(&table_ddl(m, &location, dialect)?);
        out.push('\n');
    }
    Ok(out)
}
