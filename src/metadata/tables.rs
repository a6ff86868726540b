//! `meta.objects`, `meta.runs`, `meta.steps` and `meta.quarantine` (rows of
//! landed files set aside) as SQL tables; `meta.tables` and
//! `meta.column_totals`, what the current version of each table recorded
//! when it was written.
//!
//! The records are small (one row per file, run or model), so they are read
//! whole into memory tables when a statement first reads `meta.*`.
//! `current` is computed then: an object is current while its table's
//! current version lists it and its latest record added it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use serde::Serialize;

use super::History;
use crate::engine::Engine;
use crate::error::Result;
use crate::lake::manifest::TableManifest;

/// The SQL schema the tables live in.
pub const SCHEMA: &str = "meta";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// Records as a table: each record's fields (by name) become the columns
/// the schema names, through its serde form, so a field added to a record
/// needs only its column here. Times are RFC 3339 text in the records and
/// timestamps in the table.
fn table<T: Serialize>(fields: Vec<Field>, records: &[T]) -> Result<Arc<MemTable>> {
    let schema = Arc::new(Schema::new(fields));
    let mut decoder = ReaderBuilder::new(schema.clone()).build_decoder()?;
    let mut batches = vec![];
    for chunk in records.chunks(8192) {
        decoder.serialize(chunk)?;
        batches.extend(decoder.flush()?);
    }
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

/// An object's record with whether its table's live version still lists it.
#[derive(Serialize)]
struct ObjectRow<'a> {
    #[serde(flatten)]
    record: &'a super::ObjectRecord,
    current: bool,
}

/// The four tables, from the records and the manifests of the tables the
/// lake holds now.
pub fn schema_provider(
    h: &History,
    manifests: &BTreeMap<String, TableManifest>,
) -> Result<Arc<dyn SchemaProvider>> {
    let live: HashSet<String> = manifests
        .values()
        .flat_map(|m| {
            let dir = m.table.key();
            m.files.iter().map(move |f| format!("{dir}/{}", f.key))
        })
        .collect();
    // An object is current when the current version lists it and its last
    // record is the one that added it.
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, o) in h.objects.iter().enumerate() {
        last.insert(o.object_key.as_str(), i);
    }
    let text = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    let count = |n: &str| Field::new(n, DataType::UInt64, false);
    let provider = MemorySchemaProvider::new();

    let objects: Vec<ObjectRow> = h
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| ObjectRow {
            current: o.action == "add"
                && live.contains(&o.object_key)
                && last.get(o.object_key.as_str()) == Some(&i),
            record: o,
        })
        .collect();
    provider.register_table(
        "objects".into(),
        table(
            vec![
                text("object_key", false),
                text("layer", false),
                text("table_name", false),
                text("partition", true),
                count("size_bytes"),
                count("row_count"),
                text("checksum", false),
                text("schema_hash", false),
                Field::new("written_at", ts(), true),
                text("run_id", false),
                text("action", false),
                Field::new("table_version", DataType::UInt64, true),
                Field::new("current", DataType::Boolean, false),
            ],
            &objects,
        )?,
    )?;
    provider.register_table(
        "runs".into(),
        table(
            vec![
                text("run_id", false),
                text("command", false),
                Field::new("started_at", ts(), true),
                Field::new("finished_at", ts(), true),
                text("status", false),
                count("models_ok"),
                count("models_failed"),
                count("models_skipped"),
                count("rows"),
                count("bytes"),
                Field::new("duration_s", DataType::Float64, true),
                text("error", true),
            ],
            &h.runs,
        )?,
    )?;
    provider.register_table(
        "steps".into(),
        table(
            vec![
                text("run_id", false),
                text("model", false),
                text("model_file", false),
                Field::new("started_at", ts(), true),
                Field::new("duration_s", DataType::Float64, false),
                Field::new("rows_in", DataType::UInt64, true),
                count("rows_out"),
                count("files"),
                count("bytes"),
                text("status", false),
                text("error", true),
            ],
            &h.steps,
        )?,
    )?;
    provider.register_table(
        "quarantine".into(),
        table(
            vec![
                text("file", false),
                text("table_name", false),
                count("line"),
                text("reason", false),
                text("record", false),
                text("run_id", false),
            ],
            &h.quarantine,
        )?,
    )?;
    let (verify, verify_rows) = verification_tables(&h.verifications)?;
    provider.register_table("verify".into(), verify)?;
    provider.register_table("verify_rows".into(), verify_rows)?;
    let (tables, totals) = manifest_tables(manifests)?;
    provider.register_table("tables".into(), tables)?;
    provider.register_table("column_totals".into(), totals)?;
    Ok(Arc::new(provider))
}

/// A comparison of `strata verify`, with its verification's fields.
#[derive(Serialize)]
struct VerifyRow<'a> {
    verify_id: &'a str,
    verified_at: &'a str,
    source: &'a str,
    lake_tables: &'a str,
    against: &'a str,
    status: &'a str,
    source_rows: u64,
    lake_rows: u64,
    days: u64,
    days_different: u64,
    rows_different: u64,
    first_days_different: String,
    duration_s: f64,
}

/// A row one side of a comparison holds more copies of.
#[derive(Serialize)]
struct VerifyRowDifference<'a> {
    verify_id: &'a str,
    lake_tables: &'a str,
    #[serde(flatten)]
    row: &'a super::verifications::RowDifference,
}

/// `meta.verify` and `meta.verify_rows`.
fn verification_tables(
    verifications: &[super::verifications::Verification],
) -> Result<(Arc<MemTable>, Arc<MemTable>)> {
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let count = |n: &str| Field::new(n, DataType::UInt64, false);
    let mut checks = vec![];
    let mut rows = vec![];
    for v in verifications {
        for c in &v.checks {
            checks.push(VerifyRow {
                verify_id: &v.verify_id,
                verified_at: &v.verified_at,
                source: &v.source,
                lake_tables: &c.lake_tables,
                against: &c.against,
                status: &c.status,
                source_rows: c.source_rows,
                lake_rows: c.lake_rows,
                days: c.days,
                days_different: c.days_different.len() as u64,
                rows_different: c.rows_different,
                first_days_different: c
                    .days_different
                    .iter()
                    .take(10)
                    .map(|d| {
                        if d.is_empty() {
                            "(undated)"
                        } else {
                            d.as_str()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                duration_s: v.duration_s,
            });
            rows.extend(c.rows.iter().map(|row| VerifyRowDifference {
                verify_id: &v.verify_id,
                lake_tables: &c.lake_tables,
                row,
            }));
        }
    }
    let verify = table(
        vec![
            text("verify_id"),
            Field::new("verified_at", ts(), false),
            text("source"),
            text("lake_tables"),
            text("against"),
            text("status"),
            count("source_rows"),
            count("lake_rows"),
            count("days"),
            count("days_different"),
            count("rows_different"),
            text("first_days_different"),
            Field::new("duration_s", DataType::Float64, false),
        ],
        &checks,
    )?;
    let differences = table(
        vec![
            text("verify_id"),
            text("lake_tables"),
            text("day"),
            text("sale_id"),
            text("only_in"),
            count("copies"),
            text("row"),
        ],
        &rows,
    )?;
    Ok((verify, differences))
}

/// One row per current lake table, from the manifests alone.
#[derive(Serialize)]
struct TableRow<'a> {
    layer: &'a str,
    table_name: &'a str,
    version: u64,
    format: String,
    row_count: u64,
    file_count: u64,
    size_bytes: u64,
    run_id: &'a str,
    written_at: &'a str,
    model: &'a str,
}

/// `meta.tables` and `meta.column_totals`: what each current version
/// recorded when it was written. They need no history, so reading them
/// costs nothing whatever the lake's age (the data tests use them).
fn manifest_tables(
    manifests: &BTreeMap<String, TableManifest>,
) -> Result<(Arc<MemTable>, Arc<MemTable>)> {
    let text = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    let count = |n: &str| Field::new(n, DataType::UInt64, false);
    let rows: Vec<TableRow> = manifests
        .values()
        .map(|m| TableRow {
            layer: m.table.layer.as_str(),
            table_name: &m.table.name,
            version: m.version,
            format: format!("{:?}", m.format).to_lowercase(),
            row_count: m.rows,
            file_count: m.files.len() as u64,
            size_bytes: m.bytes,
            run_id: &m.run_id,
            written_at: &m.written_at,
            model: &m.model,
        })
        .collect();
    let tables = table(
        vec![
            text("layer", false),
            text("table_name", false),
            count("version"),
            text("format", false),
            count("row_count"),
            count("file_count"),
            count("size_bytes"),
            text("run_id", false),
            Field::new("written_at", ts(), true),
            text("model", false),
        ],
        &rows,
    )?;

    // Totals are exact decimals: DECIMAL(38, 10) holds any money column's
    // sum at its own scale.
    let total_type = DataType::Decimal128(38, 10);
    let (mut layer, mut name, mut column, mut total) = (vec![], vec![], vec![], vec![]);
    for m in manifests.values() {
        for (c, t) in &m.totals {
            let value =
                datafusion::common::ScalarValue::Utf8(Some(t.clone())).cast_to(&total_type)?;
            let datafusion::common::ScalarValue::Decimal128(v, _, _) = value else {
                continue;
            };
            layer.push(m.table.layer.as_str().to_string());
            name.push(m.table.name.clone());
            column.push(c.clone());
            total.push(v);
        }
    }
    use datafusion::arrow::array::{Decimal128Array, StringArray};
    let schema = Arc::new(Schema::new(vec![
        text("layer", false),
        text("table_name", false),
        text("column_name", false),
        Field::new("total", total_type.clone(), true),
    ]));
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(layer)),
            Arc::new(StringArray::from(name)),
            Arc::new(StringArray::from(column)),
            Arc::new(Decimal128Array::from(total).with_data_type(total_type)),
        ],
    )?;
    let totals = Arc::new(MemTable::try_new(schema, vec![vec![batch]])?);
    Ok((tables, totals))
}

/// Makes `meta.*` queryable in `engine`, read from the lake when first
/// queried: an unreadable record then fails only the statement that reads
/// it, naming the record.
pub fn register(engine: &Engine) -> Result<()> {
    engine.register_schema(
        SCHEMA,
        Arc::new(Lazy::new(engine.lake().clone(), engine.manifests())),
    )
}

/// Reads the lake's records again into `meta.*` (for a command that shows
/// them at once, such as `strata status`), and returns them.
pub async fn refresh(engine: &Engine) -> Result<History> {
    let history = History::load(engine.lake()).await?;
    engine.register_schema(SCHEMA, schema_provider(&history, &engine.manifests())?)?;
    Ok(history)
}

/// The tables of the `meta` schema.
pub const TABLES: [&str; 8] = [
    "objects",
    "runs",
    "steps",
    "quarantine",
    "verify",
    "verify_rows",
    "tables",
    "column_totals",
];

/// `meta.*`, read on first use: most sessions (a run, a report) never query
/// it, and reading every run's records grows with the lake's history.
#[derive(Debug)]
struct Lazy {
    lake: Arc<crate::lake::Lake>,
    manifests: BTreeMap<String, TableManifest>,
    loaded: tokio::sync::OnceCell<Arc<dyn SchemaProvider>>,
}

impl Lazy {
    /// The schema over `lake`, `current` judged by these manifests.
    fn new(lake: Arc<crate::lake::Lake>, manifests: BTreeMap<String, TableManifest>) -> Self {
        Lazy {
            lake,
            manifests,
            loaded: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait::async_trait]
impl SchemaProvider for Lazy {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::error::Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        if !self.table_exist(name) {
            return Ok(None);
        }
        // What the manifests alone answer is not worth the history.
        if matches!(name, "tables" | "column_totals") {
            let (tables, totals) = manifest_tables(&self.manifests)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            return Ok(Some(if name == "tables" { tables } else { totals }));
        }
        let schema = self
            .loaded
            .get_or_try_init(|| async {
                let history = History::load(&self.lake).await?;
                schema_provider(&history, &self.manifests)
            })
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        schema.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name)
    }
}
