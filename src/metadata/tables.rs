//! `meta.objects`, `meta.runs`, `meta.steps` and `meta.quarantine` (rows of
//! landed files set aside) as SQL tables.
//!
//! The records are small (one row per file, run or model), so they are read
//! whole into memory tables when a session opens. `current` is computed
//! then: an object is current while its table's manifest still lists it
//! from the same run.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;

use super::History;
use crate::error::Result;
use crate::lake::manifest::TableManifest;

/// The SQL schema the tables live in.
pub const SCHEMA: &str = "meta";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

fn table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Arc<MemTable>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

/// The three tables, from the records and the manifests of the tables the
/// lake holds now.
pub fn schema_provider(
    h: &History,
    manifests: &BTreeMap<String, TableManifest>,
) -> Result<Arc<dyn SchemaProvider>> {
    let live: HashSet<(String, String)> = manifests
        .values()
        .flat_map(|m| {
            let dir = m.table.replacen('.', "/", 1);
            m.files
                .iter()
                .map(move |f| (format!("{dir}/{}", f.key), m.run_of(f).to_string()))
        })
        .collect();
    let provider = MemorySchemaProvider::new();

    let mut c: Vec<StringBuilder> = (0..7).map(|_| StringBuilder::new()).collect();
    let (mut size, mut rows) = (UInt64Builder::new(), UInt64Builder::new());
    let mut written = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut current = BooleanBuilder::new();
    for o in &h.objects {
        c[0].append_value(&o.object_key);
        c[1].append_value(&o.layer);
        c[2].append_value(&o.table_name);
        c[3].append_option(o.partition.as_deref());
        c[4].append_value(&o.checksum);
        c[5].append_value(&o.schema_hash);
        c[6].append_value(&o.run_id);
        size.append_value(o.size_bytes);
        rows.append_value(o.row_count);
        written.append_option(millis(&o.written_at));
        current.append_value(live.contains(&(o.object_key.clone(), o.run_id.clone())));
    }
    let mut c: Vec<ArrayRef> = c
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
    let run_id = c.pop().expect("seven columns");
    let text = |n: &str, nullable: bool| Field::new(n, DataType::Utf8, nullable);
    provider.register_table(
        "objects".into(),
        table(
            vec![
                text("object_key", false),
                text("layer", false),
                text("table_name", false),
                text("partition", true),
                Field::new("size_bytes", DataType::UInt64, false),
                Field::new("row_count", DataType::UInt64, false),
                text("checksum", false),
                text("schema_hash", false),
                Field::new("written_at", ts(), true),
                text("run_id", false),
                Field::new("current", DataType::Boolean, false),
            ],
            vec![
                c[0].clone(),
                c[1].clone(),
                c[2].clone(),
                c[3].clone(),
                Arc::new(size.finish()),
                Arc::new(rows.finish()),
                c[4].clone(),
                c[5].clone(),
                Arc::new(written.finish()),
                run_id,
                Arc::new(current.finish()),
            ],
        )?,
    )?;

    let mut t: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
    let (mut started, mut finished) = (
        TimestampMillisecondBuilder::new().with_timezone("UTC"),
        TimestampMillisecondBuilder::new().with_timezone("UTC"),
    );
    let mut n: Vec<UInt64Builder> = (0..5).map(|_| UInt64Builder::new()).collect();
    let mut duration = Float64Builder::new();
    for r in &h.runs {
        t[0].append_value(&r.run_id);
        t[1].append_value(&r.command);
        t[2].append_value(r.status.as_str());
        t[3].append_option(r.error.as_deref());
        started.append_option(millis(&r.started_at));
        finished.append_option(r.finished_at.as_deref().and_then(millis));
        for (b, v) in n.iter_mut().zip([
            r.models_ok,
            r.models_failed,
            r.models_skipped,
            r.rows,
            r.bytes,
        ]) {
            b.append_value(v);
        }
        duration.append_option(r.duration_s);
    }
    let t: Vec<ArrayRef> = t
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
    let n: Vec<ArrayRef> = n
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
    let count = |name: &str| Field::new(name, DataType::UInt64, false);
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
            vec![
                t[0].clone(),
                t[1].clone(),
                Arc::new(started.finish()),
                Arc::new(finished.finish()),
                t[2].clone(),
                n[0].clone(),
                n[1].clone(),
                n[2].clone(),
                n[3].clone(),
                n[4].clone(),
                Arc::new(duration.finish()),
                t[3].clone(),
            ],
        )?,
    )?;

    let mut t: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let mut started = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut duration = Float64Builder::new();
    let mut n: Vec<UInt64Builder> = (0..4).map(|_| UInt64Builder::new()).collect();
    for s in &h.steps {
        t[0].append_value(&s.run_id);
        t[1].append_value(&s.model);
        t[2].append_value(&s.model_file);
        t[3].append_value(&s.status);
        t[4].append_option(s.error.as_deref());
        started.append_option(millis(&s.started_at));
        duration.append_value(s.duration_s);
        n[0].append_option(s.rows_in);
        n[1].append_value(s.rows_out);
        n[2].append_value(s.files);
        n[3].append_value(s.bytes);
    }
    let t: Vec<ArrayRef> = t
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
    let n: Vec<ArrayRef> = n
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
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
            vec![
                t[0].clone(),
                t[1].clone(),
                t[2].clone(),
                Arc::new(started.finish()),
                Arc::new(duration.finish()),
                n[0].clone(),
                n[1].clone(),
                n[2].clone(),
                n[3].clone(),
                t[3].clone(),
                t[4].clone(),
            ],
        )?,
    )?;
    let mut t: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let mut line = UInt64Builder::new();
    for q in &h.quarantine {
        t[0].append_value(&q.file);
        t[1].append_value(&q.table_name);
        t[2].append_value(&q.reason);
        t[3].append_value(&q.record);
        t[4].append_value(&q.run_id);
        line.append_value(q.line);
    }
    let t: Vec<ArrayRef> = t
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as _)
        .collect();
    provider.register_table(
        "quarantine".into(),
        table(
            vec![
                text("file", false),
                text("table_name", false),
                Field::new("line", DataType::UInt64, false),
                text("reason", false),
                text("record", false),
                text("run_id", false),
            ],
            vec![
                t[0].clone(),
                t[1].clone(),
                Arc::new(line.finish()),
                t[2].clone(),
                t[3].clone(),
                t[4].clone(),
            ],
        )?,
    )?;
    Ok(Arc::new(provider))
}

/// The tables of the `meta` schema.
pub const TABLES: [&str; 4] = ["objects", "runs", "steps", "quarantine"];

/// `meta.*`, read on first use: most sessions (a run, a report) never query
/// it, and reading every run's records grows with the lake's history.
#[derive(Debug)]
pub struct Lazy {
    lake: Arc<crate::lake::Lake>,
    manifests: BTreeMap<String, TableManifest>,
    loaded: tokio::sync::OnceCell<Arc<dyn SchemaProvider>>,
}

impl Lazy {
    /// The schema over `lake`, `current` judged by these manifests.
    pub fn new(lake: Arc<crate::lake::Lake>, manifests: BTreeMap<String, TableManifest>) -> Self {
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
