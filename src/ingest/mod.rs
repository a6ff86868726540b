//! Event-driven ingestion: files dropped in `<lake>/landing/<table>/` are
//! checked against `raw.<table>`, loaded into it, and the models downstream
//! rebuilt (see [`watch`]).
//!
//! A landed file is loaded at most once: its key in the raw table starts
//! with the SHA-256 of the file as it landed (`landed/<sha16>-<name>.csv`),
//! and the table's manifest, swapped in atomically with the data, is the
//! ledger. A file seen again (the same bytes, under any name) is a duplicate.
//! A crash anywhere leaves the file in the landing zone, to be processed on
//! the next pass: at least once, and idempotent.
//!
//! A file that cannot be loaded (unknown table, wrong header or schema,
//! unreadable, not one readable row) moves to
//! `_strata/dead_letter/<run>/<table>/<name>` with `<name>.error.json` beside
//! it; rows that cannot be read in an otherwise good CSV are recorded in
//! `meta.quarantine` with the file, line and reason, and the rest loads.

pub(crate) mod dlq;
pub(crate) mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::manifest::{DataFile, LANDED_DIR, TableManifest, sha256_hex};
use crate::lake::{Lake, Layer, TableId, versions};
use crate::pgcsv::{BatchReader, CsvEncoder, Reject};

/// The landing zone, under the lake root.
pub const LANDING_DIR: &str = "landing";

/// Where dead letters wait, under the lake root: one folder per run, each
/// failed file beside a `<name>.error.json` sidecar.
pub const DEAD_LETTER_DIR: &str = "_strata/dead_letter";

/// A file waiting in the landing zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// Its key (`landing/sales/batch-1.csv`).
    pub key: Path,
    /// The raw table it is for (`sales`).
    pub table: String,
    /// Its file name.
    pub name: String,
    /// Its size when listed.
    pub size: u64,
}

/// Whether a name is a file still being written by the usual conventions
/// (`.name`, `name.tmp`, `name.part`, `name.crdownload`): skipped until
/// renamed.
fn in_progress(name: &str) -> bool {
    name.starts_with('.')
        || [".tmp", ".part", ".crdownload", ".partial"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// The files in the landing zone, by key.
pub async fn pending(lake: &Lake) -> Result<Vec<Landed>> {
    let prefix = Path::from(LANDING_DIR);
    // A file renamed while the folder is listed makes a local listing fail
    // (it stats what it just read); the next listing sees the new name.
    let mut attempt = 0;
    let listed: Vec<_> = loop {
        match lake.store().list(Some(&prefix)).try_collect().await {
            Ok(l) => break l,
            Err(object_store::Error::NotFound { .. }) if attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut out: Vec<Landed> = listed
        .into_iter()
        .filter_map(|m| {
            let parts: Vec<&str> = m.location.as_ref().split('/').collect();
            // landing/<table>/<name>, nothing deeper.
            (parts.len() == 3 && !in_progress(parts[2])).then(|| Landed {
                table: parts[1].to_string(),
                name: parts[2].to_string(),
                key: m.location.clone(),
                size: m.size,
            })
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// What became of one landed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Loaded into `raw.<table>` with this many rows (and rows quarantined).
    Loaded {
        /// Its key within the table's folder.
        key: String,
        /// Rows loaded.
        rows: u64,
        /// Rows set aside.
        quarantined: u64,
    },
    /// The same bytes were loaded before (into this key).
    Duplicate(String),
    /// Moved to the dead-letter place (this key), for this reason.
    DeadLetter {
        /// Where it is now.
        key: String,
        /// Why.
        error: String,
    },
}

/// A row of a landed file set aside, as recorded in `meta.quarantine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedRow {
    /// The landed file's name.
    pub file: String,
    /// The raw table it was for.
    pub table_name: String,
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// Why it could not be read.
    pub reason: String,
    /// Its fields as read.
    pub record: String,
    /// The run that landed the file.
    pub run_id: String,
    /// The file's key in the raw table (`landed/<sha16>-<name>.csv`), which
    /// its checksum makes unique.
    #[serde(default)]
    pub landed_as: String,
}

/// The dead-letter sidecar: what failed, with enough context to act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The file's name as it landed.
    pub file: String,
    /// Where it landed.
    pub landed_key: String,
    /// Where it is now.
    pub dead_letter_key: String,
    /// The table it was for.
    pub table_name: String,
    /// What went wrong, one line.
    pub error: String,
    /// Details: expected and found header or schema, the first bad rows.
    pub context: serde_json::Value,
    /// The chain of causes, outermost first.
    pub trace: Vec<String>,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Its size.
    pub size_bytes: u64,
    /// The run that tried to load it.
    pub run_id: String,
    /// When.
    pub failed_at: String,
}

/// Why a file cannot be loaded, with context for the sidecar.
struct Unloadable {
    error: String,
    context: serde_json::Value,
    trace: Vec<String>,
}

impl Unloadable {
    fn new(error: impl Into<String>, context: serde_json::Value) -> Self {
        let error = error.into();
        Unloadable {
            trace: vec![error.clone()],
            error,
            context,
        }
    }

    fn from_error(e: &Error, context: serde_json::Value) -> Self {
        let mut trace = vec![e.to_string()];
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            trace.push(s.to_string());
            source = s.source();
        }
        Unloadable {
            error: crate::error::user_message(e),
            context,
            trace,
        }
    }
}

/// A landed file read into the raw table's shape.
struct Parsed {
    batches: Vec<RecordBatch>,
    rejects: Vec<Reject>,
}

fn parse_csv(bytes: &Bytes, schema: &SchemaRef, name: &str) -> Result<Parsed, Unloadable> {
    let mut reader = BatchReader::new(&bytes[..], schema.clone(), name)
        .map_err(|e| {
            Unloadable::from_error(
                &e,
                serde_json::json!({
                    "expected_header": schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>(),
                }),
            )
        })?
        .lenient();
    let mut batches = Vec::new();
    loop {
        match reader.next_batch() {
            Ok(Some(b)) => batches.push(b),
            Ok(None) => break,
            Err(e) => return Err(Unloadable::from_error(&e, serde_json::json!({}))),
        }
    }
    Ok(Parsed {
        batches,
        rejects: reader.take_rejects(),
    })
}

fn parse_parquet(bytes: Bytes, schema: &SchemaRef) -> Result<Parsed, Unloadable> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Unloadable::new(
            format!("not a readable Parquet file: {e}"),
            serde_json::json!({}),
        )
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| unreadable(&e))?;
    let found = builder.schema().clone();
    let names = |s: &SchemaRef| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect()
    };
    let context =
        serde_json::json!({"expected_schema": names(schema), "found_schema": names(&found)});
    let mut columns = Vec::new();
    for f in schema.fields() {
        match found.index_of(f.name()) {
            Ok(i)
                if datafusion::arrow::compute::can_cast_types(
                    found.field(i).data_type(),
                    f.data_type(),
                ) =>
            {
                columns.push(i)
            }
            Ok(i) => {
                return Err(Unloadable::new(
                    format!(
                        "column {} is {}, which cannot be read as {}",
                        f.name(),
                        found.field(i).data_type(),
                        f.data_type()
                    ),
                    context,
                ));
            }
            Err(_) => {
                return Err(Unloadable::new(
                    format!("column {} is missing", f.name()),
                    context,
                ));
            }
        }
    }
    let reader = builder.build().map_err(|e| unreadable(&e))?;
    let mut batches = Vec::new();
    for b in reader {
        let b = b.map_err(|e| unreadable(&e))?;
        let arrays = columns
            .iter()
            .zip(schema.fields())
            .map(|(&i, f)| cast(b.column(i), f.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Unloadable::new(format!("a value cannot be converted: {e}"), context.clone())
            })?;
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| {
            Unloadable::new(format!("rows do not fit the table: {e}"), context.clone())
        })?;
        batches.push(batch);
    }
    Ok(Parsed {
        batches,
        rejects: vec![],
    })
}

/// What one pass over the landing zone did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Each file and its fate, in the order processed.
    pub files: Vec<(Landed, Fate)>,
    /// The new manifests of the raw tables that received files.
    pub manifests: Vec<TableManifest>,
    /// Rows set aside from loaded files.
    pub quarantined: Vec<QuarantinedRow>,
}

impl Pass {
    /// The raw tables that received rows.
    pub fn tables(&self) -> Vec<String> {
        self.manifests.iter().map(|m| m.table.to_string()).collect()
    }
}

/// Moves an object: a rename on local disk, copy and delete on S3 (the
/// store's own `rename` does what its backend can).
pub(crate) async fn move_object(
    store: &Arc<dyn ObjectStore>,
    from: &Path,
    to: &Path,
) -> Result<()> {
    store.rename(from, to).await?;
    Ok(())
}

/// Processes the given landed files (one run): each is loaded, found a
/// duplicate or moved to the dead-letter place. Tables that received files
/// get a new version, swapped in whole.
pub async fn land(lake: &Lake, files: &[Landed], run_id: &str) -> Result<Pass> {
    let _lock = lake.lock().await?;
    let store = lake.store().clone();
    let mut pass = Pass::default();
    // New files per table: (key in table, file, rows).
    let mut new_files: BTreeMap<String, Vec<(DataFile, Bytes)>> = BTreeMap::new();
    let mut live: BTreeMap<String, Option<TableManifest>> = BTreeMap::new();
    let mut seen_now: BTreeMap<String, String> = BTreeMap::new();
    let mut loaded_keys: Vec<Path> = Vec::new();

    for f in files {
        let bytes = store.get(&f.key).await?.bytes().await?;
        let sha = sha256_hex(&bytes);
        let table_id = TableId::new(Layer::new("raw")?, &f.table);
        let manifest = match live.get(&f.table) {
            Some(m) => m.clone(),
            None => {
                let m = match &table_id {
                    Ok(t) => lake.manifest(t).await?,
                    Err(_) => None,
                };
                live.insert(f.table.clone(), m.clone());
                m
            }
        };
        let prefix = format!("{LANDED_DIR}/{}-", &sha[..16]);
        let earlier = manifest
            .as_ref()
            .and_then(|m| m.files.iter().find(|d| d.key.starts_with(&prefix)))
            .map(|d| d.key.clone())
            .or_else(|| seen_now.get(&sha).cloned());
        if let Some(key) = earlier {
            tracing::info!(run_id, file = %f.key, loaded_as = %key, "landed file is a duplicate");
            loaded_keys.push(f.key.clone());
            pass.files.push((f.clone(), Fate::Duplicate(key)));
            continue;
        }
        let parsed = match (&table_id, &manifest) {
            (Ok(_), Some(m)) => {
                let schema = m.schema()?;
                let lower = f.name.to_ascii_lowercase();
                if lower.ends_with(".csv") {
                    parse_csv(&bytes, &schema, &f.name)
                } else if lower.ends_with(".parquet") {
                    parse_parquet(bytes.clone(), &schema)
                } else {
                    Err(Unloadable::new(
                        "only .csv and .parquet files can be landed",
                        serde_json::json!({}),
                    ))
                }
            }
            _ => Err(Unloadable::new(
                format!(
                    "there is no table raw.{}: landing/<table>/ must name a raw table that `strata run` has built",
                    f.table
                ),
                serde_json::json!({}),
            )),
        };
        let parsed = match parsed {
            Ok(p) if p.batches.iter().all(|b| b.num_rows() == 0) && !p.rejects.is_empty() => {
                Err(Unloadable::new(
                    format!("none of its {} rows could be read", p.rejects.len()),
                    serde_json::json!({"first_rows": p.rejects.iter().take(5).map(|r| serde_json::json!({"line": r.line, "reason": r.reason})).collect::<Vec<_>>()}),
                ))
            }
            other => other,
        };
        match parsed {
            Err(u) => {
                tracing::warn!(run_id, file = %f.key, error = %u.error, "landed file dead-lettered");
                let fate = dead_letter(&store, f, &sha, bytes.len() as u64, run_id, u).await?;
                pass.files.push((f.clone(), fate));
            }
            Ok(p) => {
                let schema = manifest.as_ref().expect("checked above").schema()?;
                let mut out = Vec::new();
                let encoder = CsvEncoder::default();
                encoder
                    .write_header(&mut out, &schema)
                    .map_err(|e| Error::io(f.key.to_string(), e))?;
                let mut rows = 0;
                for b in &p.batches {
                    rows += b.num_rows() as u64;
                    encoder.write_batch(&mut out, b)?;
                }
                let stem = f.name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&f.name);
                let key = format!("{prefix}{stem}.csv");
                let out = Bytes::from(out);
                let file = DataFile {
                    key: key.clone(),
                    rows,
                    bytes: out.len() as u64,
                    sha256: sha256_hex(&out),
                    run_id: None,
                };
                for r in &p.rejects {
                    pass.quarantined.push(QuarantinedRow {
                        file: f.name.clone(),
                        table_name: f.table.clone(),
                        line: r.line,
                        reason: r.reason.clone(),
                        record: r.record.clone(),
                        run_id: run_id.to_string(),
                        landed_as: key.clone(),
                    });
                }
                tracing::info!(
                    run_id, file = %f.key, key = %key, rows, quarantined = p.rejects.len(),
                    "landed file loaded"
                );
                seen_now.insert(sha, key.clone());
                new_files
                    .entry(f.table.clone())
                    .or_default()
                    .push((file, out));
                loaded_keys.push(f.key.clone());
                pass.files.push((
                    f.clone(),
                    Fate::Loaded {
                        key,
                        rows,
                        quarantined: p.rejects.len() as u64,
                    },
                ));
            }
        }
    }

    // Rows set aside are recorded before the tables are committed, under
    // the landed file's checksum: a kill between the two leaves the file in
    // the landing zone, and its retry rewrites the same record, so no kill
    // loses a file's quarantined rows or records them twice.
    record_quarantine(lake, &pass.quarantined).await?;
    // One new version per table: the current files kept, the new ones added.
    for (table, added) in new_files {
        let id = TableId::new(Layer::new("raw")?, &table)?;
        let old = live
            .get(&table)
            .cloned()
            .flatten()
            .expect("files load only into existing tables");
        let mut files = Vec::new();
        for f in &old.files {
            files.push(old.carried(f));
        }
        for (f, bytes) in added {
            // Named by the file's checksum: a retry writes the same key
            // with the same bytes, and no committed version changes.
            store
                .put(
                    &Path::from(format!("{}/{}", id.key(), f.key)),
                    PutPayload::from(bytes),
                )
                .await?;
            files.push(f);
        }
        files.sort_by(|a, b| a.key.cmp(&b.key));
        let manifest = TableManifest {
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
            run_id: run_id.to_string(),
            written_at: crate::sys::now(),
            inputs: BTreeMap::new(),
            restored_from: None,
            totals: Default::default(),
            definition: String::new(),
            ..old
        };
        let manifest = versions::commit(lake, manifest).await?;
        pass.manifests.push(manifest);
    }
    // Only now, with the data committed, do the landed files go.
    for key in loaded_keys {
        store.delete(&key).await?;
    }
    Ok(pass)
}

/// Where the rows of landed files that could not be read are recorded
/// (`meta.quarantine` reads them), one JSON-lines file per landed file.
pub const QUARANTINE_DIR: &str = "_strata/meta/quarantine";

/// Records the rows of landed files that could not be read, one record per
/// landed file, named by its key in the raw table (its checksum): writing
/// the same file's rows again replaces the record, never adds a second.
async fn record_quarantine(lake: &Lake, rows: &[QuarantinedRow]) -> Result<()> {
    let mut by_file: BTreeMap<(&str, &str), Vec<u8>> = BTreeMap::new();
    for r in rows {
        let out = by_file
            .entry((r.table_name.as_str(), r.landed_as.as_str()))
            .or_default();
        serde_json::to_writer(&mut *out, r).expect("records serialize");
        out.push(b'\n');
    }
    for ((table, landed_as), bytes) in by_file {
        let name = landed_as
            .rsplit('/')
            .next()
            .unwrap_or(landed_as)
            .trim_end_matches(".csv");
        let path = Path::from(format!("{QUARANTINE_DIR}/{table}/{name}.jsonl"));
        lake.store().put(&path, PutPayload::from(bytes)).await?;
    }
    Ok(())
}

/// Rows recorded in quarantine: one record per landed file with rows set
/// aside, so this reads as many objects as such files, not runs.
pub async fn quarantined_rows(lake: &Lake) -> Result<u64> {
    let prefix = Path::from(QUARANTINE_DIR);
    let files: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await?;
    let mut n = 0;
    for f in files {
        let bytes = lake.store().get(&f.location).await?.bytes().await?;
        n += bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
    }
    Ok(n)
}

async fn dead_letter(
    store: &Arc<dyn ObjectStore>,
    f: &Landed,
    sha: &str,
    size: u64,
    run_id: &str,
    u: Unloadable,
) -> Result<Fate> {
    let key = Path::from(format!("{DEAD_LETTER_DIR}/{run_id}/{}/{}", f.table, f.name));
    let sidecar = DeadLetter {
        file: f.name.clone(),
        landed_key: f.key.to_string(),
        dead_letter_key: key.to_string(),
        table_name: f.table.clone(),
        error: u.error.clone(),
        context: u.context,
        trace: u.trace,
        sha256: sha.to_string(),
        size_bytes: size,
        run_id: run_id.to_string(),
        failed_at: crate::sys::now(),
    };
    // The sidecar first: a crash between the two leaves the file in the
    // landing zone, to be tried again, never a file without its reason.
    store
        .put(
            &Path::from(format!("{key}.error.json")),
            serde_json::to_vec_pretty(&sidecar)
                .expect("sidecars serialize")
                .into(),
        )
        .await?;
    move_object(store, &f.key, &key).await?;
    Ok(Fate::DeadLetter {
        key: key.to_string(),
        error: u.error,
    })
}
