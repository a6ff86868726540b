//! The lake's record of itself: every object written, every run and every
//! step, kept inside the lake under `_strata/meta/` and queryable as
//! `meta.objects`, `meta.runs` and `meta.steps`.
//!
//! ```text
//! _strata/meta/runs/<run>.json        one run: rewritten when it ends
//! _strata/meta/steps/<run>.jsonl      its models, one line each
//! _strata/meta/objects/<run>.jsonl    the objects it wrote, one line each
//! _strata/meta/open/<run>.pid         while it runs: its process id
//! _strata/meta/verify/<id>.json       one `strata verify`: what it compared, what differed
//! ```
//!
//! One file per run, so writers never touch each other's records and a
//! killed run leaves at most its own record unfinished. A run record still
//! saying `running` whose process is gone is shown as `interrupted`, and the
//! next run rewrites it so, finding it by its `open/` marker (not by reading
//! every record).

pub(crate) mod alerts;
pub mod digest;
pub(crate) mod metrics;
pub(crate) mod tables;
pub mod verifications;

use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::manifest::TableManifest;
use crate::lake::{Lake, META_DIR};
use crate::runner::{Run, StepStatus};

/// The Prometheus text file, under the lake root.
pub const METRICS_FILE: &str = "_strata/metrics.prom";

/// Where the records live, under the lake root.
pub fn dir() -> String {
    format!("{META_DIR}/meta")
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going, as far as its record knows.
    Running,
    /// Every model built and every data test passed.
    Succeeded,
    /// Something failed; the error says what.
    Failed,
    /// Its process ended without finishing the record (killed, crashed).
    Interrupted,
}

impl RunStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// How a model's step ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    /// Built and swapped in.
    Ok,
    /// Failed; its table is as it was.
    Failed,
    /// Not run because a model it reads failed.
    Skipped,
}

impl StepOutcome {
    /// Every outcome, in the order they are reported.
    pub const ALL: [StepOutcome; 3] = [StepOutcome::Ok, StepOutcome::Failed, StepOutcome::Skipped];

    /// The outcome as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Failed => "failed",
            StepOutcome::Skipped => "skipped",
        }
    }
}

/// One run of a command that writes the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id (sortable by start time).
    pub run_id: String,
    /// What was run (`run`, `run silver+`, `watch`).
    pub command: String,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended, if it did.
    pub finished_at: Option<String>,
    /// How it ended.
    pub status: RunStatus,
    /// Models built.
    pub models_ok: u64,
    /// Models that failed.
    pub models_failed: u64,
    /// Models skipped because an input failed.
    pub models_skipped: u64,
    /// Rows written, all models.
    pub rows: u64,
    /// Bytes written, all models.
    pub bytes: u64,
    /// Wall time, seconds, once ended.
    pub duration_s: Option<f64>,
    /// What went wrong, for a failed run.
    pub error: Option<String>,
    /// The process that ran it, to tell a live run from a dead one.
    pub pid: u32,
}

/// One model within a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The run it belongs to.
    pub run_id: String,
    /// The table it builds (`layer.table`).
    pub model: String,
    /// The model's SQL file, relative to the project.
    pub model_file: String,
    /// When it started.
    pub started_at: String,
    /// Wall time, seconds.
    pub duration_s: f64,
    /// Rows of the lake tables it reads, when all its inputs are lake tables.
    pub rows_in: Option<u64>,
    /// Rows written.
    pub rows_out: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// How it ended.
    pub status: StepOutcome,
    /// Why it failed or was skipped.
    pub error: Option<String>,
}

/// One object written into the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Its key relative to the lake root.
    pub object_key: String,
    /// Its layer.
    pub layer: String,
    /// Its table (without the layer).
    pub table_name: String,
    /// Its Hive partition (`year=2024/month=1/day=5`), if any.
    pub partition: Option<String>,
    /// Its size.
    pub size_bytes: u64,
    /// Rows it holds.
    pub row_count: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub checksum: String,
    /// A hash of its table's columns and types, to spot schema changes.
    pub schema_hash: String,
    /// When it was committed.
    pub written_at: String,
    /// The run whose commit added or removed it.
    pub run_id: String,
    /// What the commit did with it: `add` (the version lists it, the one
    /// before did not) or `remove` (the reverse; the file itself stays
    /// until the version before is vacuumed).
    #[serde(default = "added")]
    pub action: String,
    /// The table version that commit made.
    #[serde(default)]
    pub table_version: Option<u64>,
}

fn added() -> String {
    "add".into()
}

/// What a commit changed in its table: the files the new version lists and
/// the one before did not (`add`), and the reverse (`remove`). Files kept
/// from the version before are in neither.
fn objects_of(m: &TableManifest, previous: Option<&TableManifest>) -> Vec<ObjectRecord> {
    let (layer, table) = (m.table.layer.as_str(), m.table.name.as_str());
    let record = |m: &TableManifest, f: &crate::lake::manifest::DataFile, action: &str| {
        let columns = serde_json::to_string(&m.columns).unwrap_or_default();
        let partition = f
            .key
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .filter(|p| !p.is_empty());
        ObjectRecord {
            object_key: format!("{layer}/{table}/{}", f.key),
            layer: layer.to_string(),
            table_name: table.to_string(),
            partition,
            size_bytes: f.bytes,
            row_count: f.rows,
            checksum: f.sha256.clone(),
            schema_hash: crate::lake::manifest::sha256_hex(columns.as_bytes())[..16].to_string(),
            written_at: m.written_at.clone(),
            run_id: m.run_id.clone(),
            action: action.into(),
            table_version: Some(m.version),
        }
    };
    let keys = |m: Option<&TableManifest>| -> std::collections::HashSet<String> {
        m.map(|m| m.files.iter().map(|f| f.key.clone()).collect())
            .unwrap_or_default()
    };
    let (before, after) = (keys(previous), keys(Some(m)));
    let mut out: Vec<ObjectRecord> = m
        .files
        .iter()
        .filter(|f| !before.contains(&f.key))
        .map(|f| record(m, f, "add"))
        .collect();
    if let Some(p) = previous {
        out.extend(
            p.files
                .iter()
                .filter(|f| !after.contains(&f.key))
                .map(|f| ObjectRecord {
                    written_at: m.written_at.clone(),
                    run_id: m.run_id.clone(),
                    table_version: Some(m.version),
                    ..record(p, f, "remove")
                }),
        );
    }
    out
}

/// Where runs that have begun and not finished leave a marker holding
/// their process id, under the records' folder.
const OPEN: &str = "open";

fn key(kind: &str, run_id: &str, ext: &str) -> Path {
    Path::from(format!("{}/{kind}/{run_id}.{ext}", dir()))
}

/// Records a verification, as one file of its own.
pub async fn record_verification(lake: &Lake, v: &verifications::Verification) -> Result<()> {
    let path = Path::from(format!("{}/verify/{}.json", dir(), v.verify_id));
    put(lake.store(), &path, lines(std::slice::from_ref(v))).await
}

async fn put(store: &Arc<dyn ObjectStore>, path: &Path, bytes: Vec<u8>) -> Result<()> {
    store.put(path, PutPayload::from(bytes)).await?;
    Ok(())
}

fn lines<T: Serialize>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in items {
        out.extend(serde_json::to_vec(i).expect("records serialize"));
        out.push(b'\n');
    }
    out
}

/// A run being recorded: begun when the command starts, finished (whatever
/// happens) when it ends.
pub struct Journal {
    store: Arc<dyn ObjectStore>,
    record: Mutex<RunRecord>,
}

impl Journal {
    /// Starts recording a run of `command`: its record says `running` until
    /// [`Journal::finish`].
    pub async fn begin(lake: &Lake, run_id: String, command: &str) -> Result<Self> {
        let record = RunRecord {
            run_id,
            command: command.to_string(),
            started_at: crate::sys::now(),
            finished_at: None,
            status: RunStatus::Running,
            models_ok: 0,
            models_failed: 0,
            models_skipped: 0,
            rows: 0,
            bytes: 0,
            duration_s: None,
            error: None,
            pid: std::process::id(),
        };
        let journal = Journal {
            store: lake.store().clone(),
            record: Mutex::new(record.clone()),
        };
        journal.close_dead_runs(lake).await?;
        // The marker first: a run record saying `running` always has one,
        // so the next run finds it without reading the whole history.
        put(
            &journal.store,
            &key(OPEN, &record.run_id, "pid"),
            record.pid.to_string().into_bytes(),
        )
        .await?;
        journal.write_run(&record).await?;
        Ok(journal)
    }

    /// Rewrites the records of runs whose process died as `interrupted`.
    /// Only runs that have not finished are looked at, through their
    /// markers under `open/`: the cost follows the runs still open, not
    /// the length of the history.
    async fn close_dead_runs(&self, lake: &Lake) -> Result<()> {
        let prefix = Path::from(format!("{}/{OPEN}", dir()));
        let markers: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        for m in markers {
            let Some(run_id) = m
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".pid"))
                .map(String::from)
            else {
                continue;
            };
            let pid = match self.store.get(&m.location).await {
                Ok(got) => String::from_utf8_lossy(&got.bytes().await?)
                    .trim()
                    .parse()
                    .ok(),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if pid.is_some_and(crate::sys::alive) {
                continue;
            }
            let path = key("runs", &run_id, "json");
            match self.store.get(&path).await {
                Ok(got) => {
                    if let Ok(mut r) = serde_json::from_slice::<RunRecord>(&got.bytes().await?)
                        && r.status == RunStatus::Running
                    {
                        r.status = RunStatus::Interrupted;
                        r.error = Some("the run's process ended before the run did".into());
                        let bytes = serde_json::to_vec_pretty(&r).expect("records serialize");
                        put(&self.store, &path, bytes).await?;
                        digest::update(lake, |d| d.fold(&r, &[], &[])).await?;
                    }
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            match self.store.delete(&m.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The run's id.
    pub fn run_id(&self) -> String {
        self.record.lock().expect("journal lock").run_id.clone()
    }

    async fn write_run(&self, r: &RunRecord) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(r).expect("records serialize");
        put(&self.store, &key("runs", &r.run_id, "json"), bytes).await
    }

    /// Ends the record: the run's steps and objects (when it got that far),
    /// and its status and error.
    pub async fn finish(
        &self,
        lake: &Lake,
        run: Option<&Run>,
        manifests: &[TableManifest],
        error: Option<String>,
    ) -> Result<RunRecord> {
        let mut r = self.record.lock().expect("journal lock").clone();
        let mut step_records = vec![];
        if let Some(run) = run {
            let steps: Vec<StepRecord> = run
                .steps
                .iter()
                .map(|s| {
                    let (status, error) = match &s.status {
                        StepStatus::Ok => (StepOutcome::Ok, None),
                        StepStatus::Failed(e) => (StepOutcome::Failed, Some(e.clone())),
                        StepStatus::Skipped(e) => (StepOutcome::Skipped, Some(e.clone())),
                    };
                    StepRecord {
                        run_id: r.run_id.clone(),
                        model: s.table.to_string(),
                        model_file: s.model.clone(),
                        started_at: s.started_at.clone(),
                        duration_s: s.seconds,
                        rows_in: run.rows_in.get(&s.table).copied().flatten(),
                        rows_out: s.rows,
                        files: s.files as u64,
                        bytes: s.bytes,
                        status,
                        error,
                    }
                })
                .collect();
            put(
                &self.store,
                &key("steps", &r.run_id, "jsonl"),
                lines(&steps),
            )
            .await?;
            let count = |st| steps.iter().filter(|s| s.status == st).count() as u64;
            r.models_ok = count(StepOutcome::Ok);
            r.models_failed = count(StepOutcome::Failed);
            r.models_skipped = count(StepOutcome::Skipped);
            r.rows = run.steps.iter().map(|s| s.rows).sum();
            r.bytes = run.steps.iter().map(|s| s.bytes).sum();
            step_records = steps;
        }
        let mut objects: Vec<ObjectRecord> = vec![];
        for m in manifests {
            let previous = match m.version {
                0 => None,
                v => crate::lake::versions::at(lake, &m.table, v - 1).await.ok(),
            };
            objects.extend(objects_of(m, previous.as_ref()));
        }
        if !objects.is_empty() {
            put(
                &self.store,
                &key("objects", &r.run_id, "jsonl"),
                lines(&objects),
            )
            .await?;
        }
        let finished = chrono::Utc::now();
        r.duration_s = chrono::DateTime::parse_from_rfc3339(&r.started_at)
            .ok()
            .map(|s| (finished - s.with_timezone(&chrono::Utc)).as_seconds_f64());
        r.finished_at = Some(finished.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        r.status = if error.is_none() && r.models_failed == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        r.error = error.or_else(|| {
            run.and_then(|run| {
                run.failures()
                    .next()
                    .map(|(table, e)| format!("{table}: {e}"))
            })
        });
        self.write_run(&r).await?;
        digest::update(lake, |d| d.fold(&r, &step_records, &objects)).await?;
        match self.store.delete(&key(OPEN, &r.run_id, "pid")).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let event = |r: &RunRecord| {
            (
                r.run_id.clone(),
                r.command.clone(),
                r.duration_s.unwrap_or_default(),
            )
        };
        let (run_id, command, seconds) = event(&r);
        match r.status {
            RunStatus::Succeeded => tracing::info!(
                run_id,
                command,
                seconds,
                rows = r.rows,
                bytes = r.bytes,
                status = "succeeded",
                "run finished"
            ),
            _ => tracing::error!(
                run_id,
                command,
                seconds,
                status = r.status.as_str(),
                error = r.error.as_deref().unwrap_or(""),
                "run failed"
            ),
        }
        *self.record.lock().expect("journal lock") = r.clone();
        Ok(r)
    }
}

/// Runs that have begun and not ended, by their markers.
pub async fn running(lake: &Lake) -> Result<u64> {
    let prefix = Path::from(format!("{}/{OPEN}", dir()));
    let markers: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await?;
    Ok(markers.len() as u64)
}

/// Everything recorded about a lake.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Runs, oldest first.
    pub runs: Vec<RunRecord>,
    /// Steps of every run.
    pub steps: Vec<StepRecord>,
    /// Objects written by every run.
    pub objects: Vec<ObjectRecord>,
    /// Rows of landed files set aside.
    pub quarantine: Vec<crate::ingest::QuarantinedRow>,
    /// Every `strata verify`, oldest first.
    pub verifications: Vec<verifications::Verification>,
}

async fn read_all(store: &Arc<dyn ObjectStore>, kind: &str) -> Result<Vec<(Path, Vec<u8>)>> {
    let prefix = Path::from(format!("{}/{kind}", dir()));
    let mut metas: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut out = Vec::with_capacity(metas.len());
    for m in metas {
        let bytes = store.get(&m.location).await?.bytes().await?;
        out.push((m.location, bytes.to_vec()));
    }
    Ok(out)
}

fn parse_lines<T: for<'a> Deserialize<'a>>(path: &Path, bytes: &[u8]) -> Result<Vec<T>> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            serde_json::from_slice(l).map_err(|e| Error::Lake {
                key: format!("{path}:{}", n + 1),
                message: format!("unreadable record: {e}"),
            })
        })
        .collect()
}

impl History {
    /// Reads the records. Runs left `running` by a dead process read as
    /// `interrupted`.
    pub async fn load(lake: &Lake) -> Result<Self> {
        let store = lake.store();
        let mut h = History::default();
        for (path, bytes) in read_all(store, "runs").await? {
            let mut r: RunRecord = serde_json::from_slice(&bytes).map_err(|e| Error::Lake {
                key: path.to_string(),
                message: format!("unreadable run record: {e}"),
            })?;
            if r.status == RunStatus::Running && !crate::sys::alive(r.pid) {
                r.status = RunStatus::Interrupted;
                r.error
                    .get_or_insert_with(|| "the run's process ended before the run did".into());
            }
            h.runs.push(r);
        }
        for (path, bytes) in read_all(store, "steps").await? {
            h.steps.extend(parse_lines(&path, &bytes)?);
        }
        for (path, bytes) in read_all(store, "objects").await? {
            h.objects.extend(parse_lines(&path, &bytes)?);
        }
        for (path, bytes) in read_all(store, "quarantine").await? {
            h.quarantine.extend(parse_lines(&path, &bytes)?);
        }
        for (path, bytes) in read_all(store, "verify").await? {
            h.verifications.extend(parse_lines(&path, &bytes)?);
        }
        Ok(h)
    }
}
