//! Running models: in dependency order, independent ones at the same time,
//! each table written aside and swapped in whole.

pub mod data_tests;
pub(crate) mod incremental;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::Schema;
use datafusion::prelude::{DataFrame, SessionContext};
use tokio::task::JoinSet;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::manifest::{LANDED_DIR, TableManifest};
use crate::lake::writer::{Streams, WriteSpec, write_parallel};
use crate::lake::{Lake, TableId, versions};
use crate::models::dag::Dag;
use crate::models::{Incremental, Model};
use crate::sys::now;

/// What a run tells whoever watches it, as it happens. Every method has an
/// empty default, so an observer picks what it shows.
pub trait Observer: Send + Sync {
    /// A model started.
    fn started(&self, _table: &TableId) {}
    /// A model has written this many rows so far.
    fn rows(&self, _table: &TableId, _rows: u64) {}
    /// A model finished, failed or was skipped.
    fn finished(&self, _step: &Step) {}
}

/// An observer that shows nothing.
pub struct Unobserved;

impl Observer for Unobserved {}

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
    /// The table it builds.
    pub table: TableId,
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
    /// Its id (also the tag of the files it writes).
    pub id: String,
    /// The models' steps, in the order they finished.
    pub steps: Vec<Step>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The manifests of the tables it swapped in.
    pub manifests: Vec<TableManifest>,
    /// Rows of the lake tables each model read (`None` when one of its
    /// inputs is not a lake table), as they were when it was planned.
    pub rows_in: BTreeMap<TableId, Option<u64>>,
    /// The data tests' outcomes, in their order, when it ran any.
    pub tests: Option<Vec<data_tests::TestOutcome>>,
    /// The report computed beside the tests, when the checks held one and
    /// it ran.
    pub report: Option<data_tests::Reported>,
}

impl Run {
    /// True when every step succeeded.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Ok)
    }

    /// The failed steps' tables and errors, in the order they finished.
    pub fn failures(&self) -> impl Iterator<Item = (&TableId, &str)> {
        self.steps.iter().filter_map(|s| match &s.status {
            StepStatus::Failed(e) => Some((&s.table, e.as_str())),
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
/// Each of `checks` starts as soon as the tables it reads from this run are
/// committed, beside the models still building.
pub async fn run(
    engine: &Engine,
    dag: &Dag,
    selected: &BTreeSet<usize>,
    project_dir: &Path,
    observer: Arc<dyn Observer>,
    run_id: &str,
    checks: Option<&data_tests::Checks>,
) -> Result<Run> {
    let started = Instant::now();
    let _lock = engine.lake().lock().await?;
    let run_id = run_id.to_string();
    let order = plan(dag, selected)?;
    let ctx = engine.ctx().clone();

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
    let mut rows_in = BTreeMap::new();
    let mut tasks: JoinSet<(usize, Result<TableManifest>, f64, String)> = JoinSet::new();
    let mut progress = checks.map(|c| {
        let building = order
            .iter()
            .map(|&i| dag.models()[i].table.to_string())
            .collect();
        data_tests::Progress::new(c, project_dir, building)
    });
    if let Some(p) = &mut progress {
        p.start_ready(engine);
    }

    let mut spawn = |i: usize, tasks: &mut JoinSet<_>| {
        let model = dag.models()[i].clone();
        // What the model reads, as it stands when the model starts: its
        // inputs were all committed (or already there) by then.
        let rows: Option<u64> = model
            .reads
            .iter()
            .map(|t| engine.manifest(t).map(|m| m.rows))
            .sum();
        rows_in.insert(model.table.clone(), rows);
        let current: BTreeMap<String, TableManifest> = model
            .reads
            .iter()
            .filter_map(|t| engine.manifest(t).map(|m| (t.clone(), m)))
            .collect();
        let previous = engine.manifest(&model.table.to_string());
        let distributed = engine.distributed();
        let unshippable = engine.unshippable(&model.reads);
        let ctx = ctx.clone();
        let lake = engine.lake().clone();
        let run_id = run_id.clone();
        let project_dir = project_dir.to_path_buf();
        let observer = observer.clone();
        observer.started(&model.table);
        tasks.spawn(async move {
            let t = Instant::now();
            let started_at = now();
            let result = match unshippable {
                Some(tables) => Err(Error::Config(format!(
                    "{}: it reads {}, and {tables} cannot be shipped to Ballista executors \
                     (a table of the legacy source or meta.*); build such \
                     models with the local engine (e.g. `strata run --select raw`) and the \
                     rest on the cluster",
                    model.path.display(),
                    model.reads.join(", ")
                ))),
                None => {
                    let target = Target::of(&model, &project_dir);
                    let table = model.table.clone();
                    let on_rows = Arc::new(move |rows| observer.rows(&table, rows));
                    let how = Build {
                        now: current,
                        previous,
                        distributed,
                    };
                    build_model(&ctx, &lake, &target, &run_id, how, on_rows).await
                }
            };
            (i, result, t.elapsed().as_secs_f64(), started_at)
        });
    };

    let ready: Vec<usize> = order.iter().copied().filter(|i| waiting[i] == 0).collect();
    for i in ready {
        waiting.remove(&i);
        spawn(i, &mut tasks);
    }

    while let Some(joined) = tasks.join_next().await {
        let (i, result, seconds, started_at) =
            joined.map_err(|e| Error::Internal(format!("a model task panicked: {e}")))?;
        let model = &dag.models()[i];
        let mut step = Step {
            table: model.table.clone(),
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
                if let Some(p) = &mut progress {
                    p.built(step.table.to_string());
                    p.start_ready(engine);
                }
                observer.finished(&step);
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
                observer.finished(&step);
                steps.push(step);
                let mut skipped = BTreeSet::new();
                skip_downstream(dag, i, &mut waiting, &mut skipped);
                if let Some(p) = &mut progress {
                    p.failed(model.table.to_string());
                    for &s in &skipped {
                        p.failed(dag.models()[s].table.to_string());
                    }
                    p.start_ready(engine);
                }
                for s in skipped {
                    let m = &dag.models()[s];
                    let step = Step {
                        table: m.table.clone(),
                        model: relative(&m.path, project_dir),
                        status: StepStatus::Skipped(format!("{} failed", model.table)),
                        rows: 0,
                        files: 0,
                        bytes: 0,
                        seconds: 0.0,
                        started_at: now(),
                    };
                    observer.finished(&step);
                    steps.push(step);
                }
            }
        }
    }
    let (tests, report) = match progress {
        Some(p) => {
            let (tests, report) = p.finish().await;
            (Some(tests), report)
        }
        None => (None, None),
    };
    Ok(Run {
        id: run_id,
        steps,
        seconds: started.elapsed().as_secs_f64(),
        manifests,
        rows_in,
        tests,
        report,
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

/// What one build writes: a table from a query, as a model file or a
/// statement at the prompt asks.
#[derive(Debug, Clone)]
pub struct Target {
    /// The table it replaces (or creates).
    pub table: TableId,
    /// The query whose rows become the table.
    pub sql: String,
    /// Format, partitions and ordering.
    pub write: WriteSpec,
    /// What errors name as the statement's origin: the model's file, or the
    /// statement (`CREATE TABLE gold.x AS`).
    pub origin: PathBuf,
    /// What the manifest records as the table's definition: the model file
    /// relative to the project, or the statement.
    pub defined_by: String,
    /// Whether it may be updated in place (a model's `-- incremental:`).
    pub incremental: Option<Incremental>,
}

impl Target {
    /// The table version a build of it commits: `files` (sorted by key),
    /// built by `run_id` from `inputs`.
    pub(crate) fn manifest(
        &self,
        run_id: &str,
        columns: Vec<crate::lake::manifest::Column>,
        files: Vec<crate::lake::manifest::DataFile>,
        inputs: BTreeMap<String, u64>,
        totals: BTreeMap<String, String>,
    ) -> TableManifest {
        let mut m = TableManifest {
            table: self.table.clone(),
            format: self.write.format,
            partition_by: if self.write.hidden {
                vec![]
            } else {
                self.write.partition_by.clone()
            },
            hidden_partition_by: if self.write.hidden {
                self.write.partition_by.clone()
            } else {
                vec![]
            },
            columns,
            rows: 0,
            bytes: 0,
            files: vec![],
            run_id: run_id.to_string(),
            written_at: now(),
            model: self.defined_by.clone(),
            version: 0,
            file_tag: run_id.to_string(),
            inputs,
            restored_from: None,
            source_position: None,
            totals,
            definition: incremental::definition(&self.sql),
        };
        m.set_files(files);
        m
    }

    /// The table's columns, of a result with `schema`: all of them, but
    /// hidden partition columns, which only name the files' folders.
    pub(crate) fn columns_of(&self, schema: &Schema) -> Vec<crate::lake::manifest::Column> {
        let mut columns = TableManifest::columns_of(schema);
        if self.write.hidden {
            columns.retain(|c| !self.write.partition_by.contains(&c.name));
        }
        columns
    }

    /// A model's build.
    pub fn of(model: &Model, project_dir: &Path) -> Self {
        Target {
            table: model.table.clone(),
            sql: model.sql.clone(),
            write: model.write.clone(),
            origin: model.path.clone(),
            defined_by: relative(&model.path, project_dir),
            incremental: model.incremental.clone(),
        }
    }
}

/// What a model's build is given about its inputs.
struct Build {
    /// The current version of each lake table it reads.
    now: BTreeMap<String, TableManifest>,
    /// Its own table's current version, if it has one.
    previous: Option<TableManifest>,
    /// Whether plans run on Ballista (which reads tables whole).
    distributed: bool,
}

/// Builds a model's table: only the slice its changed input reached, when
/// the model is incremental and that is possible, else whole.
async fn build_model(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    target: &Target,
    run_id: &str,
    how: Build,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<TableManifest> {
    let inputs: BTreeMap<String, u64> = how
        .now
        .iter()
        .map(|(t, m)| (t.clone(), m.version))
        .collect();
    if target.incremental.is_some() {
        let plan = if how.distributed {
            incremental::Plan::Whole("a Ballista session reads its inputs whole".into())
        } else {
            incremental::plan(lake, target, how.previous, &how.now).await?
        };
        match plan {
            incremental::Plan::Slice(slice) => {
                return match &target.incremental {
                    Some(Incremental::MergeOn(key)) => {
                        incremental::build_merge(
                            ctx, lake, target, &slice, key, run_id, inputs, on_rows,
                        )
                        .await
                    }
                    _ => {
                        incremental::build_slice(ctx, lake, target, &slice, run_id, inputs, on_rows)
                            .await
                    }
                };
            }
            incremental::Plan::Whole(why) => {
                tracing::info!(table = %target.table, why, "rebuilt whole");
            }
        }
    }
    build(ctx, lake, target, run_id, inputs, on_rows).await
}

/// Builds one table: query, write its files under the run's tag, commit
/// them as the table's next version. `inputs` are the versions of the lake
/// tables it reads. The caller holds the lake's lock.
pub async fn build(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    target: &Target,
    run_id: &str,
    inputs: BTreeMap<String, u64>,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<TableManifest> {
    let written = write_result(ctx, lake, target, run_id, on_rows).await?;
    let columns = target.columns_of(&written.schema);
    let mut files = written.files;
    let landed = carry_landed(lake, &target.table, &columns).await?;
    // The sums cover what this run wrote; with landed files beside it they
    // would not be the table's, so none are recorded.
    let totals = if landed.is_empty() {
        written.totals
    } else {
        BTreeMap::new()
    };
    files.extend(landed);
    let manifest = target.manifest(run_id, columns, files, inputs, totals);
    versions::commit(lake, manifest).await
}

/// Runs `target`'s query in `ctx` and writes its result into the table's
/// folder under the run's tag. On failure, what was written is removed.
async fn write_result(
    ctx: &SessionContext,
    lake: &Arc<Lake>,
    target: &Target,
    run_id: &str,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<crate::lake::writer::Written> {
    let df = Engine::sql_from_file(ctx, &target.origin, &target.sql).await?;
    write_frame(df, lake, target, run_id, on_rows).await
}

/// Writes `df` as `target`'s table into its folder under the run's tag. On
/// failure, what was written is removed.
async fn write_frame(
    df: DataFrame,
    lake: &Arc<Lake>,
    target: &Target,
    run_id: &str,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<crate::lake::writer::Written> {
    let streams = streams(df, &target.write)
        .await
        .map_err(|e| Error::sql(&target.origin, e))?;
    // Straight into the table's folder: no reader lists files with this
    // run's tag until the version that holds them is committed.
    match write_parallel(
        lake.store(),
        &target.table.key(),
        &target.write,
        Some(run_id),
        streams,
        on_rows,
    )
    .await
    {
        Ok(w) => Ok(w),
        Err(e) => {
            // What was written is no version's; a run killed here leaves
            // it to `vacuum`, which deletes files no kept version lists.
            if let Err(cleanup) = remove_tagged(lake, &target.table, run_id).await {
                tracing::warn!(table = %target.table, error = %cleanup, "files of a failed write left behind");
            }
            Err(e)
        }
    }
}

/// How a model's result is read for writing, on as many cores as the
/// session has partitions (`threads`):
/// - a partitioned table is hash-partitioned by its partition columns and
///   each part sorted by them (then by `order_by`) on its own core, so
///   every folder is written by one writer, one file at a time;
/// - an unpartitioned table in a defined order (`order_by`, or the
///   query's `ORDER BY`) is one sorted stream (the sort itself uses every
///   core), written in that order;
/// - any other table is one stream spread over the writers.
pub(crate) async fn streams(df: DataFrame, spec: &WriteSpec) -> datafusion::error::Result<Streams> {
    use datafusion::arrow::compute::SortOptions;
    use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr, expressions::col};
    use datafusion::physical_plan::repartition::RepartitionExec;
    use datafusion::physical_plan::sorts::sort::SortExec;
    use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

    let threads = df.task_ctx().session_config().target_partitions().max(1);
    if spec.partition_by.is_empty() {
        // A result in a defined order (`ORDER BY`, `order_by`) keeps it.
        let df = spec.cluster(df)?;
        let task_ctx = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let writers = match plan.properties().output_ordering() {
            Some(_) => 1,
            None => threads,
        };
        let stream = datafusion::physical_plan::execute_stream(plan, task_ctx)?;
        return Ok(Streams::Spread { stream, writers });
    }
    if threads == 1 {
        return Ok(Streams::Disjoint(vec![
            spec.cluster(df)?.execute_stream().await?,
        ]));
    }
    let task_ctx = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    let schema = plan.schema();
    let keys = spec
        .partition_by
        .iter()
        .map(|c| col(c, &schema))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    // A result already split by (some of) its partition columns, such as
    // silver's, grouped in the streams bronze's days were read in, keeps
    // its streams: each holds whole partitions already.
    let split = match plan.output_partitioning() {
        Partitioning::Hash(exprs, n) if *n > 1 => exprs.iter().all(|e| {
            e.downcast_ref::<datafusion::physical_expr::expressions::Column>()
                .is_some_and(|c| spec.partition_by.iter().any(|p| p == c.name()))
        }),
        _ => false,
    };
    // Streams each in the order of the partition columns (silver's, by
    // month, from bronze's day streams) hold each partition in one run:
    // written as they come, two writers meeting in a folder at most where
    // one stream's months and the other's interleave.
    let by_partition = LexOrdering::new(keys.iter().map(|k| {
        PhysicalSortExpr::new(
            k.clone(),
            SortOptions {
                descending: false,
                nulls_first: false,
            },
        )
    }))
    .expect("a partitioned table has partition columns");
    let clustered = plan.output_partitioning().partition_count() > 1
        && spec.order_by.is_empty()
        && plan
            .equivalence_properties()
            .ordering_satisfy(by_partition)?;
    if !split && clustered {
        let streams = (0..plan.output_partitioning().partition_count())
            .map(|i| plan.execute(i, task_ctx.clone()))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        return Ok(Streams::Clustered(streams));
    }
    let plan: Arc<dyn ExecutionPlan> = if split {
        plan
    } else {
        Arc::new(RepartitionExec::try_new(
            plan,
            Partitioning::Hash(keys, threads),
        )?)
    };
    let sort = spec
        .sort_columns()
        .into_iter()
        .map(|c| {
            Ok(PhysicalSortExpr::new(
                col(c, &schema)?,
                SortOptions {
                    descending: false,
                    nulls_first: false,
                },
            ))
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let ordering = LexOrdering::new(sort).expect("a partitioned table has sort columns");
    let plan: Arc<dyn ExecutionPlan> = if plan
        .equivalence_properties()
        .ordering_satisfy(ordering.clone())?
    {
        plan
    } else {
        Arc::new(SortExec::new(ordering, plan).with_preserve_partitioning(true))
    };
    let streams = (0..plan.output_partitioning().partition_count())
        .map(|i| plan.execute(i, task_ctx.clone()))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    Ok(Streams::Disjoint(streams))
}

/// Deletes the files of `table` tagged with `run_id` (a failed write's).
async fn remove_tagged(lake: &Lake, table: &TableId, run_id: &str) -> Result<()> {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let tag = format!(".{run_id}.");
    let keys: Vec<object_store::path::Path> = lake
        .store()
        .list(Some(&table.key()))
        .try_filter_map(|m| {
            let mine = m.location.filename().is_some_and(|f| f.contains(&tag));
            async move { Ok(mine.then_some(m.location)) }
        })
        .try_collect()
        .await?;
    for k in keys {
        match lake.store().delete(&k).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Files that `strata watch` landed in the table's current version, kept in
/// the new one: they are not in the source, so re-extracting the source
/// must not drop them. They stay where they are; the new version lists them.
async fn carry_landed(
    lake: &Lake,
    table: &TableId,
    columns: &[crate::lake::manifest::Column],
) -> Result<Vec<crate::lake::manifest::DataFile>> {
    let Some(live) = lake.manifest(table).await? else {
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
            key: table.to_string(),
            message: format!(
                "the model's columns changed, but {} landed file(s) have the old ones; \
                 move them out of {}/{LANDED_DIR}/ and land them again in the new shape",
                landed.len(),
                table.key()
            ),
        });
    }
    Ok(landed.into_iter().map(|f| live.carried(f)).collect())
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
