//! Running models: in dependency order, independent ones at the same time,
//! each table written aside and swapped in whole.

pub mod ctas;
pub mod data_tests;
pub mod progress;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use object_store::ObjectStoreExt;
use tokio::task::JoinSet;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::manifest::{LANDED_DIR, TableManifest};
use crate::lake::writer::write_stream;
use crate::lake::{Lake, commit};
use crate::metadata::now;
use crate::models::Model;
use crate::models::dag::Dag;
use progress::Progress;

/// How a model's step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    /// The table was written and swapped in.
    Ok,
    /// The model failed; the table is as it was before the run.
    Failed(String),
    /// Not run because a model it reads failed.
    Skipped(String),
}

/// One model's outcome within a run.
#[derive(Debug, Clone)]
pub struct Step {
    /// `layer.table`.
    pub table: String,
    /// The model file.
    pub model: String,
    /// How it ended.
    pub status: StepStatus,
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// When it started (RFC 3339), or when it was skipped.
    pub started_at: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Its id (also the staging folder's name).
    pub id: String,
    /// The models' steps, in the order they finished.
    pub steps: Vec<Step>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The manifests of the tables it swapped in.
    pub manifests: Vec<TableManifest>,
    /// Rows of the lake tables each model reads (`None` when one of its
    /// inputs is not a lake table), filled in by the caller.
    pub rows_in: BTreeMap<String, Option<u64>>,
}

impl Run {
    /// True when every step succeeded.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Ok)
    }

    /// The failed steps' tables and errors, in the order they finished.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps.iter().filter_map(|s| match &s.status {
            StepStatus::Failed(e) => Some((s.table.as_str(), e.as_str())),
            _ => None,
        })
    }
}

/// A fresh run id: sortable by time, unique enough for one lake.
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        rand::random::<u16>()
    )
}

/// The models of a run, in order, and what each reads and writes.
pub fn plan(dag: &Dag, selected: &BTreeSet<usize>) -> Result<Vec<usize>> {
    Ok(dag
        .order()?
        .into_iter()
        .filter(|i| selected.contains(i))
        .collect())
}

/// Builds the selected models. Models whose inputs are ready run at the same
/// time; a failed model's dependents are skipped, other branches go on.
pub async fn run(
    engine: &Engine,
    dag: &Dag,
    selected: &BTreeSet<usize>,
    project_dir: &Path,
    progress: &Progress,
    run_id: &str,
) -> Result<Run> {
    let started = Instant::now();
    let _lock = engine.lake().lock().await?;
    let run_id = run_id.to_string();
    let order = plan(dag, selected)?;
    let ctx = engine.deterministic_ctx();

    let mut waiting: BTreeMap<usize, usize> = order
        .iter()
        .map(|&i| {
            let inputs = dag
                .upstream(i)
                .iter()
                .filter(|u| selected.contains(u))
                .count();
            (i, inputs)
        })
        .collect();
    let mut steps = Vec::new();
    let mut manifests = Vec::new();
    let mut tasks: JoinSet<(usize, Result<TableManifest>, f64, String)> = JoinSet::new();

    let spawn = |i: usize, tasks: &mut JoinSet<_>| {
        let model = dag.models()[i].clone();
        let ctx = ctx.clone();
        let lake = engine.lake().clone();
        let run_id = run_id.clone();
        let project_dir = project_dir.to_path_buf();
        let bar = progress.start(&model.table.to_string());
        tasks.spawn(async move {
            let t = Instant::now();
            let started_at = now();
            let result = build(&ctx, &lake, &model, &run_id, &project_dir, &|rows| {
                bar.rows(rows)
            })
            .await;
            (i, result, t.elapsed().as_secs_f64(), started_at)
        });
    };

    let ready: Vec<usize> = order.iter().copied().filter(|i| waiting[i] == 0).collect();
    for i in ready {
        waiting.remove(&i);
        spawn(i, &mut tasks);
    }

    while let Some(joined) = tasks.join_next().await {
        let (i, result, seconds, started_at) = joined.map_err(|e| Error::Lake {
            key: "run".into(),
            message: format!("a model task panicked: {e}"),
        })?;
        let model = &dag.models()[i];
        let mut step = Step {
            table: model.table.to_string(),
            model: relative(&model.path, project_dir),
            status: StepStatus::Ok,
            rows: 0,
            files: 0,
            bytes: 0,
            seconds,
            started_at,
        };
        match result {
            Ok(manifest) => {
                step.rows = manifest.rows;
                step.files = manifest.files.len();
                step.bytes = manifest.bytes;
                engine.register(&manifest)?;
                tracing::info!(
                    run_id = %run_id, model = %step.table, rows = step.rows, files = step.files,
                    bytes = step.bytes, seconds = step.seconds, status = "ok", "model built"
                );
                manifests.push(manifest);
                progress.finish(&step);
                steps.push(step);
                for &d in dag.downstream(i) {
                    if let Some(n) = waiting.get_mut(&d) {
                        *n -= 1;
                        if *n == 0 {
                            waiting.remove(&d);
                            spawn(d, &mut tasks);
                        }
                    }
                }
            }
            Err(e) => {
                let message = describe_failure(&e, &model.path, project_dir);
                tracing::error!(
                    run_id = %run_id, model = %step.table, seconds = step.seconds,
                    status = "failed", error = %message, "model failed"
                );
                step.status = StepStatus::Failed(message);
                progress.finish(&step);
                steps.push(step);
                let mut skipped = BTreeSet::new();
                skip_downstream(dag, i, &mut waiting, &mut skipped);
                for s in skipped {
                    let m = &dag.models()[s];
                    let step = Step {
                        table: m.table.to_string(),
                        model: relative(&m.path, project_dir),
                        status: StepStatus::Skipped(format!("{} failed", model.table)),
                        rows: 0,
                        files: 0,
                        bytes: 0,
                        seconds: 0.0,
                        started_at: now(),
                    };
                    progress.finish(&step);
                    steps.push(step);
                }
            }
        }
    }
    engine.lake().clear_staging(&run_id).await?;
    Ok(Run {
        id: run_id,
        steps,
        seconds: started.elapsed().as_secs_f64(),
        manifests,
        rows_in: BTreeMap::new(),
    })
}

fn skip_downstream(
    dag: &Dag,
    i: usize,
    waiting: &mut BTreeMap<usize, usize>,
    skipped: &mut BTreeSet<usize>,
) {
    for &d in dag.downstream(i) {
        if waiting.remove(&d).is_some() {
            skipped.insert(d);
            skip_downstream(dag, d, waiting, skipped);
        }
    }
}

/// Runs one model: query, write aside, manifest, swap.
pub async fn build(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    model: &Model,
    run_id: &str,
    project_dir: &Path,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<TableManifest> {
    build_model(ctx, lake, model, run_id, project_dir, on_rows)
        .await
        .map_err(|e| unshippable(e, model))
}

/// Ballista sends plans to executors as protobuf; a table provider that
/// lives only in this process (the legacy source, raw CSV tables, `meta.*`)
/// cannot be encoded. Says so, naming what the model reads.
fn unshippable(e: Error, model: &Model) -> Error {
    let text = e.to_string();
    if !text.contains("LogicalExtensionCodec is not provided")
        && !text.contains("Error serializing custom table")
    {
        return e;
    }
    Error::Config(format!(
        "{}: it reads {}, and a table of the legacy source, a CSV lake table or meta.* \
         cannot be shipped to Ballista executors; build such models with the local engine \
         (e.g. `strata run --select raw`) and the rest on the cluster",
        model.path.display(),
        model.reads.join(", ")
    ))
}

async fn build_model(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    model: &Model,
    run_id: &str,
    project_dir: &Path,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<TableManifest> {
    let df = Engine::sql_from_file(ctx, &model.path, &model.sql).await?;
    let df = model
        .write
        .cluster(df)
        .map_err(|e| Error::sql(&model.path, e))?;
    let stream = df
        .execute_stream()
        .await
        .map_err(|e| Error::sql(&model.path, e))?;
    let staged = lake.staging_key(run_id, &model.table);
    let written = write_stream(lake.store(), &staged, &model.write, stream, on_rows).await?;
    let columns = TableManifest::columns_of(&written.schema);
    let mut files = written.files;
    files.extend(carry_landed(lake, model, &staged, &columns).await?);
    files.sort_by(|a, b| a.key.cmp(&b.key));
    let manifest = TableManifest {
        table: model.table.to_string(),
        format: model.write.format,
        partition_by: model.write.partition_by.clone(),
        columns,
        rows: files.iter().map(|f| f.rows).sum(),
        bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        run_id: run_id.to_string(),
        written_at: now(),
        model: relative(&model.path, project_dir),
    };
    commit::commit(lake, &staged, &model.table, manifest).await
}

/// Files that `strata watch` landed in the table's live version, copied
/// into the new one: they are not in the source, so re-extracting the source
/// must not drop them.
async fn carry_landed(
    lake: &Lake,
    model: &Model,
    staged: &object_store::path::Path,
    columns: &[crate::lake::manifest::Column],
) -> Result<Vec<crate::lake::manifest::DataFile>> {
    let Some(live) = lake.manifest(&model.table).await? else {
        return Ok(vec![]);
    };
    let landed: Vec<_> = live
        .files
        .iter()
        .filter(|f| f.key.starts_with(&format!("{LANDED_DIR}/")))
        .collect();
    if landed.is_empty() {
        return Ok(vec![]);
    }
    if live.columns != columns {
        return Err(Error::Lake {
            key: model.table.to_string(),
            message: format!(
                "the model's columns changed, but {} landed file(s) have the old ones; \
                 move them out of {}/{LANDED_DIR}/ and land them again in the new shape",
                landed.len(),
                model.table.key()
            ),
        });
    }
    let mut out = Vec::with_capacity(landed.len());
    for f in landed {
        let from = object_store::path::Path::from(format!("{}/{}", model.table.key(), f.key));
        let to = object_store::path::Path::from(format!("{staged}/{}", f.key));
        lake.store().copy(&from, &to).await?;
        let mut carried = f.clone();
        carried.run_id = Some(live.run_of(f).to_string());
        out.push(carried);
    }
    Ok(out)
}

/// A failure as one message that names the model file.
fn describe_failure(e: &Error, path: &Path, project_dir: &Path) -> String {
    let text = crate::error::user_message(e);
    let file = relative(path, project_dir);
    if text.contains(&file) || text.contains(&path.display().to_string()) {
        text.replace(&format!("{}/", project_dir.display()), "")
    } else {
        format!("{file}: {text}")
    }
}

/// `path` relative to the project, for messages and manifests.
pub fn relative(path: &Path, project_dir: &Path) -> String {
    path.strip_prefix(project_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}
