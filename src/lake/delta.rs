//! The Delta Lake transaction log of a Parquet table, so that Athena,
//! Trino, Spark, DuckDB and the `deltalake` libraries read the same versions
//! Strata does, never a half-written one.
//!
//! Delta version N holds exactly the files of Strata's version N: commit N
//! removes what version N-1 had and N has not, and adds the reverse. Each
//! commit file is created only if absent, and written after Strata's own
//! log entry, from the two manifests: a commit lost to a crash is written
//! by the next one ([`publish`] fills every gap it can).
//!
//! What is written is the protocol's base (reader 1, writer 2), or reader 3
//! / writer 7 with the `timestampNtz` feature when a column is a timestamp
//! without a time zone; no checkpoints, deletion vectors or column mapping.
//! CSV tables (the raw layer) have no Delta log: Delta holds Parquet only.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use object_store::path::Path;
use object_store::{PutMode, PutOptions};
use serde_json::{Value, json};

use super::manifest::{Format, TableManifest};
use super::versions;
use super::{Lake, NULL_PARTITION, TableId};
use crate::error::{Error, Result};

/// The folder of a table's Delta log, inside its folder.
pub const DELTA_LOG_DIR: &str = "_delta_log";

fn commit_key(table: &TableId, version: u64) -> Path {
    Path::from(format!(
        "{}/{DELTA_LOG_DIR}/{version:020}.json",
        table.key()
    ))
}

/// The latest version in a table's Delta log.
pub async fn latest(lake: &Lake, table: &TableId) -> Result<Option<u64>> {
    Ok(versions::numbered_entries(lake, table, DELTA_LOG_DIR)
        .await?
        .last()
        .copied())
}

/// Writes the Delta commit of `m`, just committed after `previous`, and
/// before it every commit the Delta log lacks (a crash between the two logs
/// leaves one missing). Usually the log is one behind and the two manifests
/// are all it takes; only a gap reads the table's history. A version whose
/// predecessor is no longer kept cannot be written as a commit; such a gap
/// is reported.
pub async fn publish(
    lake: &Lake,
    previous: Option<&TableManifest>,
    m: &TableManifest,
) -> Result<()> {
    if m.format != Format::Parquet {
        return Ok(());
    }
    let table = &m.table;
    let from = latest(lake, table).await?.map_or(0, |v| v + 1);
    if from == m.version {
        return write_commit(lake, previous, m).await;
    }
    let history = versions::history(lake, table).await?;
    let by_version: BTreeMap<u64, &TableManifest> =
        history.iter().map(|m| (m.version, m)).collect();
    for v in from..=m.version {
        let Some(m) = by_version.get(&v) else {
            return Err(gap(table, v));
        };
        let previous = match v {
            0 => None,
            _ => Some(*by_version.get(&(v - 1)).ok_or_else(|| gap(table, v))?),
        };
        write_commit(lake, previous, m).await?;
    }
    Ok(())
}

/// Creates the Delta commit that makes `m` current after `previous`,
/// unless it exists already.
async fn write_commit(
    lake: &Lake,
    previous: Option<&TableManifest>,
    m: &TableManifest,
) -> Result<()> {
    let mut body = Vec::new();
    for a in commit_actions(previous, m)? {
        serde_json::to_writer(&mut body, &a).expect("actions serialize");
        body.push(b'\n');
    }
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match lake
        .store()
        .put_opts(&commit_key(&m.table, m.version), body.into(), opts)
        .await
    {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn gap(table: &TableId, v: u64) -> Error {
    Error::Lake {
        key: table.to_string(),
        message: format!(
            "the Delta log cannot get version {v}: the version before it is no longer kept"
        ),
    }
}

/// The actions of the commit that makes `m` current after `previous`.
fn commit_actions(previous: Option<&TableManifest>, m: &TableManifest) -> Result<Vec<Value>> {
    let millis = millis(&m.written_at);
    let mut actions = vec![json!({"commitInfo": {
        "timestamp": millis,
        "operation": if m.restored_from.is_some() { "RESTORE" } else { "WRITE" },
        "operationParameters": {
            "mode": "Overwrite",
            "partitionBy": serde_json::to_string(&m.partition_by).expect("names serialize"),
        },
        "engineInfo": concat!("strata/", env!("CARGO_PKG_VERSION")),
        "isBlindAppend": false,
        "strata": {"run_id": m.run_id, "model": m.model, "inputs": m.inputs},
    }})];
    let schema = schema_string(m)?;
    let changed =
        previous.is_none_or(|p| p.columns != m.columns || p.partition_by != m.partition_by);
    if changed {
        let ntz = m.schema()?.fields().iter().any(|f| has_ntz(f.data_type()));
        actions.push(if ntz {
            json!({"protocol": {
                "minReaderVersion": 3, "minWriterVersion": 7,
                "readerFeatures": ["timestampNtz"], "writerFeatures": ["timestampNtz"],
            }})
        } else {
            json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})
        });
        actions.push(json!({"metaData": {
            "id": table_uuid(&m.table),
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema,
            "partitionColumns": m.partition_by,
            "configuration": {},
            "createdTime": millis,
        }}));
    }
    let before: BTreeSet<&str> = previous
        .map(|p| p.files.iter().map(|f| f.key.as_str()).collect())
        .unwrap_or_default();
    let after: BTreeSet<&str> = m.files.iter().map(|f| f.key.as_str()).collect();
    if let Some(p) = previous {
        for f in p.files.iter().filter(|f| !after.contains(f.key.as_str())) {
            actions.push(json!({"remove": {
                "path": encode_path(&f.key),
                "deletionTimestamp": millis,
                "dataChange": true,
                "extendedFileMetadata": true,
                "partitionValues": partition_values(&f.key, &p.partition_by),
                "size": f.bytes,
            }}));
        }
    }
    for f in m.files.iter().filter(|f| !before.contains(f.key.as_str())) {
        actions.push(json!({"add": {
            "path": encode_path(&f.key),
            "partitionValues": partition_values(&f.key, &m.partition_by),
            "size": f.bytes,
            "modificationTime": millis,
            "dataChange": true,
            "stats": json!({"numRecords": f.rows}).to_string(),
        }}));
    }
    Ok(actions)
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// A stable id per table (Delta's metaData.id), shaped as a UUID.
fn table_uuid(table: &TableId) -> String {
    let h = super::manifest::sha256_hex(format!("strata table {table}").as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A file's partition values, from its hive path; NULL as JSON null.
fn partition_values(key: &str, partition_by: &[String]) -> Value {
    let found: BTreeMap<&str, &str> = key
        .split('/')
        .filter_map(|segment| segment.split_once('='))
        .collect();
    let mut out = serde_json::Map::new();
    for p in partition_by {
        let v = match found.get(p.as_str()) {
            Some(v) if *v != NULL_PARTITION => Value::String(v.to_string()),
            _ => Value::Null,
        };
        out.insert(p.clone(), v);
    }
    Value::Object(out)
}

/// A relative path as Delta wants it: a URI, percent-encoded.
fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn has_ntz(t: &DataType) -> bool {
    match t {
        DataType::Timestamp(_, None) => true,
        DataType::List(f) | DataType::LargeList(f) => has_ntz(f.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| has_ntz(f.data_type())),
        _ => false,
    }
}

/// The table's schema in Delta's JSON form.
fn schema_string(m: &TableManifest) -> Result<String> {
    let fields = m
        .schema()?
        .fields()
        .iter()
        .map(|f| field(f, &m.table))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"type": "struct", "fields": fields}).to_string())
}

fn field(f: &Field, table: &TableId) -> Result<Value> {
    Ok(json!({
        "name": f.name(),
        "type": delta_type(f.data_type(), f.name(), table)?,
        "nullable": f.is_nullable(),
        "metadata": {},
    }))
}

fn delta_type(t: &DataType, column: &str, table: &TableId) -> Result<Value> {
    Ok(match t {
        DataType::Boolean => json!("boolean"),
        DataType::Int8 => json!("byte"),
        DataType::Int16 => json!("short"),
        DataType::Int32 => json!("integer"),
        // Counts and ranks (row_number, count) are UInt64 in DataFusion,
        // stored as Parquet INT64 (annotated unsigned): Delta's long is the
        // same physical type.
        DataType::Int64 | DataType::UInt64 => json!("long"),
        DataType::Float32 => json!("float"),
        DataType::Float64 => json!("double"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => json!("binary"),
        DataType::Date32 => json!("date"),
        DataType::Decimal128(p, s) => json!(format!("decimal({p},{s})")),
        DataType::Timestamp(TimeUnit::Microsecond, None) => json!("timestamp_ntz"),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => json!("timestamp"),
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": "array",
            "elementType": delta_type(item.data_type(), column, table)?,
            "containsNull": item.is_nullable(),
        }),
        DataType::Struct(fields) => json!({
            "type": "struct",
            "fields": fields.iter().map(|f| field(f, table)).collect::<Result<Vec<_>>>()?,
        }),
        other => {
            return Err(Error::Lake {
                key: table.to_string(),
                message: format!(
                    "column {column}: {other} has no Delta Lake type (cast it in the model)"
                ),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::manifest::{Column, DataFile};

    fn m(version: u64, files: &[&str]) -> TableManifest {
        TableManifest {
            table: TableId::parse("gold.daily").unwrap(),
            format: Format::Parquet,
            partition_by: vec!["year".into()],
            hidden_partition_by: vec![],
            columns: vec![
                Column {
                    name: "total".into(),
                    data_type: "Decimal128(14, 2)".into(),
                    nullable: false,
                },
                Column {
                    name: "year".into(),
                    data_type: "Int32".into(),
                    nullable: true,
                },
            ],
            files: files
                .iter()
                .map(|k| DataFile {
                    key: k.to_string(),
                    rows: 5,
                    bytes: 100,
                    sha256: String::new(),
                    run_id: None,
                })
                .collect(),
            rows: 5,
            bytes: 100,
            run_id: "r".into(),
            written_at: "2026-01-01T00:00:00Z".into(),
            model: "m.sql".into(),
            version,
            file_tag: "r".into(),
            inputs: BTreeMap::new(),
            restored_from: None,
            source_position: None,
            totals: Default::default(),
            definition: String::new(),
        }
    }

    #[test]
    fn a_commit_removes_the_old_files_and_adds_the_new() {
        let v0 = m(
            0,
            &[
                "year=2024/a.r0.parquet",
                "year=__HIVE_DEFAULT_PARTITION__/b.r0.parquet",
            ],
        );
        let first = commit_actions(None, &v0).unwrap();
        assert!(first.iter().any(|a| a.get("protocol").is_some()));
        let meta = first.iter().find_map(|a| a.get("metaData")).unwrap();
        assert_eq!(
            meta["schemaString"],
            r#"{"fields":[{"metadata":{},"name":"total","nullable":false,"type":"decimal(14,2)"},{"metadata":{},"name":"year","nullable":true,"type":"integer"}],"type":"struct"}"#
        );
        let adds: Vec<_> = first.iter().filter_map(|a| a.get("add")).collect();
        assert_eq!(adds.len(), 2);
        assert_eq!(adds[1]["partitionValues"]["year"], Value::Null);
        assert_eq!(adds[0]["partitionValues"]["year"], "2024");

        let v1 = m(1, &["year=2024/a.r1.parquet"]);
        let next = commit_actions(Some(&v0), &v1).unwrap();
        assert!(
            next.iter().all(|a| a.get("metaData").is_none()),
            "same schema"
        );
        let removed: Vec<_> = next
            .iter()
            .filter_map(|a| a.get("remove"))
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            removed,
            [
                "year=2024/a.r0.parquet",
                "year=__HIVE_DEFAULT_PARTITION__/b.r0.parquet"
            ]
        );
        assert_eq!(encode_path("a b/c%d.parquet"), "a%20b/c%25d.parquet");
    }
}
