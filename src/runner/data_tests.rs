//! Data tests (dbt's singular tests): each `queries/tests/*.sql` is a query
//! that must return no rows. Rows it returns are the offending records.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::task::{JoinHandle, JoinSet};

use crate::engine::Engine;
use crate::error::{Error, Result, user_message};
use crate::models::QueryFile;

/// Rows of a failing test shown to the user.
const SAMPLE_ROWS: usize = 5;

/// The outcome of one data test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The test's name (file stem).
    pub name: String,
    /// Its file, relative to the project.
    pub file: String,
    /// Offending rows found (0 = passed).
    pub failing_rows: u64,
    /// The first offending rows, formatted as a table.
    pub sample: String,
    /// Set when the test could not run at all.
    pub error: Option<String>,
    /// Set when the test was not run, and why.
    pub skipped: Option<Skip>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Why a data test was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Tables it reads that the lake does not have.
    Missing(Vec<String>),
    /// A selective run built none of the tables it reads.
    NotBuilt,
    /// Tables it reads that this run failed to build.
    Failed(Vec<String>),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Missing(t) => write!(f, "the lake has no {}", t.join(", ")),
            Skip::NotBuilt => f.write_str("it reads nothing this run built"),
            Skip::Failed(t) => write!(f, "{} failed to build", t.join(", ")),
        }
    }
}

impl TestOutcome {
    /// True when the test ran and returned no rows.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.failing_rows == 0
    }
}

/// Why a test is not run: a table it reads is missing, or, when `built`
/// names the tables a run built, it reads none of them.
fn reason_to_skip(
    engine: &Engine,
    test: &QueryFile,
    built: Option<&BTreeSet<String>>,
) -> Option<Skip> {
    // A test that does not parse runs, so that its error is reported.
    crate::models::query_reads(&test.path, &test.sql).ok()?;
    let reads = &test.reads;
    let missing: Vec<String> = reads
        .iter()
        .filter(|t| {
            !t.split_once('.')
                .is_some_and(|(s, n)| engine.has_table(s, n))
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Some(Skip::Missing(missing));
    }
    match built {
        Some(built) if !reads.iter().any(|t| built.contains(t)) => Some(Skip::NotBuilt),
        _ => None,
    }
}

/// Runs the tests, each to completion, counting all offending rows but
/// keeping only a sample of them in memory. With `built` (the tables a
/// selective run built), only the tests reading one of them run; a test
/// reading a table the lake does not have is skipped, never failed.
pub async fn run_all(
    engine: &Engine,
    tests: &[QueryFile],
    project_dir: &std::path::Path,
    built: Option<&BTreeSet<String>>,
) -> Vec<TestOutcome> {
    let mut out = Vec::with_capacity(tests.len());
    for test in tests {
        let file = super::relative(&test.path, project_dir);
        out.push(match reason_to_skip(engine, test, built) {
            Some(why) => skipped(test, file, why),
            None => run_one(engine.ctx().clone(), test.clone(), file).await,
        });
    }
    out
}

fn skipped(test: &QueryFile, file: String, why: Skip) -> TestOutcome {
    tracing::warn!(test = %test.name, reason = %why, "data test skipped");
    TestOutcome {
        name: test.name.clone(),
        file,
        failing_rows: 0,
        sample: String::new(),
        error: None,
        skipped: Some(why),
        seconds: 0.0,
    }
}

/// A test that could not run, with why.
fn errored(test: &QueryFile, file: String, error: String) -> TestOutcome {
    TestOutcome {
        name: test.name.clone(),
        file,
        failing_rows: 0,
        sample: String::new(),
        error: Some(error),
        skipped: None,
        seconds: 0.0,
    }
}

async fn run_one(ctx: SessionContext, test: QueryFile, file: String) -> TestOutcome {
    let started = Instant::now();
    let mut outcome = match offending_rows(&ctx, &test).await {
        Ok((failing_rows, sample)) => TestOutcome {
            failing_rows,
            sample,
            error: None,
            ..errored(&test, file, String::new())
        },
        Err(e) => errored(&test, file, user_message(&e)),
    };
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

async fn offending_rows(ctx: &SessionContext, test: &QueryFile) -> Result<(u64, String)> {
    let df = Engine::sql_from_file(ctx, &test.path, &test.sql).await?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| Error::sql(&test.path, e))?;
    let mut rows = 0u64;
    let mut sample = Vec::new();
    let mut kept = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| Error::sql(&test.path, e))?;
        rows += batch.num_rows() as u64;
        if kept < SAMPLE_ROWS && batch.num_rows() > 0 {
            let take = (SAMPLE_ROWS - kept).min(batch.num_rows());
            sample.push(batch.slice(0, take));
            kept += take;
        }
    }
    let sample = if sample.is_empty() {
        String::new()
    } else {
        pretty_format_batches(&sample)?.to_string()
    };
    Ok((rows, sample))
}

/// What brings the session up to date before a test starts.
type Prepare = Box<dyn Fn(&Engine) -> Result<()> + Send + Sync>;

/// What runs a report's query in a session.
type ReportQuery = Box<
    dyn Fn(SessionContext, QueryFile) -> BoxFuture<'static, Result<Vec<RecordBatch>>> + Send + Sync,
>;

/// The data tests of a run, each started as soon as the tables it reads
/// that the run builds are committed, beside the models still building;
/// and the report the run ends with, started the same way.
pub struct Checks {
    tests: Vec<QueryFile>,
    selective: bool,
    prepare: Prepare,
    report: Option<(QueryFile, ReportQuery)>,
}

/// The report a run computed beside its data tests. The caller shows it
/// only when every model built and every test passed: it is computed
/// early so that the tests left after the last model are not followed by
/// it, not because its rows are trusted before the tests have spoken.
#[derive(Debug, Clone)]
pub struct Reported {
    /// Its rows, or why it could not run (shared so that a run can be
    /// cloned; the one holder takes it back with `Arc::try_unwrap`).
    pub rows: std::result::Result<Vec<RecordBatch>, Arc<Error>>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl Checks {
    /// `tests`; `selective` runs only those reading a table the run built.
    /// `prepare` is called before each test starts, to bring what it reads
    /// of the run so far (`meta.tables`) up to date.
    pub fn new(
        tests: Vec<QueryFile>,
        selective: bool,
        prepare: impl Fn(&Engine) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        Checks {
            tests,
            selective,
            prepare: Box::new(prepare),
            report: None,
        }
    }

    /// Also runs `report` once the tables it reads from the run are
    /// committed (at once when the run builds none of them), through
    /// `query`; not at all when one of them failed or the lake lacks one.
    pub fn with_report(
        mut self,
        report: QueryFile,
        query: impl Fn(SessionContext, QueryFile) -> BoxFuture<'static, Result<Vec<RecordBatch>>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.report = Some((report, Box::new(query)));
        self
    }
}

/// Where a run's report stands.
enum ReportState {
    /// Its tables from the run are not all committed yet.
    Waiting,
    /// Started.
    Running(JoinHandle<Reported>),
    /// Not run (no report asked for, or what it reads is missing or failed).
    NotRun,
}

/// Where a run's checks stand: which have started, and their outcomes.
pub(crate) struct Progress<'a> {
    checks: &'a Checks,
    project_dir: &'a std::path::Path,
    /// Tables the run builds.
    building: BTreeSet<String>,
    /// Of those, the ones committed.
    built: BTreeSet<String>,
    /// Of those, the ones failed or skipped.
    failed: BTreeSet<String>,
    outcomes: Vec<Option<TestOutcome>>,
    started: Vec<bool>,
    tasks: JoinSet<(usize, TestOutcome)>,
    report: ReportState,
}

impl<'a> Progress<'a> {
    /// Before a run that builds `building`.
    pub(crate) fn new(
        checks: &'a Checks,
        project_dir: &'a std::path::Path,
        building: BTreeSet<String>,
    ) -> Self {
        let n = checks.tests.len();
        Progress {
            checks,
            project_dir,
            building,
            built: BTreeSet::new(),
            failed: BTreeSet::new(),
            outcomes: vec![None; n],
            started: vec![false; n],
            tasks: JoinSet::new(),
            report: match checks.report {
                Some(_) => ReportState::Waiting,
                None => ReportState::NotRun,
            },
        }
    }

    /// A table was committed.
    pub(crate) fn built(&mut self, table: String) {
        self.built.insert(table);
    }

    /// A table failed, or was skipped.
    pub(crate) fn failed(&mut self, table: String) {
        self.failed.insert(table);
    }

    /// Starts every test whose tables from this run are all committed,
    /// and settles those that cannot run.
    pub(crate) fn start_ready(&mut self, engine: &Engine) {
        // Brought up to date once for the tests starting now, not per test.
        let mut prepared: Option<std::result::Result<(), String>> = None;
        for (i, test) in self.checks.tests.iter().enumerate() {
            if self.started[i] {
                continue;
            }
            let from_run: Vec<&String> = test
                .reads
                .iter()
                .filter(|t| self.building.contains(*t))
                .collect();
            let failed: Vec<String> = from_run
                .iter()
                .filter(|t| self.failed.contains(**t))
                .map(|t| t.to_string())
                .collect();
            let file = super::relative(&test.path, self.project_dir);
            if !failed.is_empty() {
                self.started[i] = true;
                self.outcomes[i] = Some(skipped(test, file, Skip::Failed(failed)));
                continue;
            }
            if !from_run.iter().all(|t| self.built.contains(*t)) {
                continue;
            }
            self.started[i] = true;
            let built = self.checks.selective.then_some(&self.built);
            if let Some(why) = reason_to_skip(engine, test, built) {
                self.outcomes[i] = Some(skipped(test, file, why));
                continue;
            }
            let ready = prepared
                .get_or_insert_with(|| (self.checks.prepare)(engine).map_err(|e| user_message(&e)));
            if let Err(e) = ready {
                self.outcomes[i] = Some(errored(test, file, e.clone()));
                continue;
            }
            let (ctx, test) = (engine.ctx().clone(), test.clone());
            self.tasks
                .spawn(async move { (i, run_one(ctx, test, file).await) });
        }
        self.start_report(engine);
    }

    /// Starts the report once its tables from the run are committed.
    fn start_report(&mut self, engine: &Engine) {
        let (ReportState::Waiting, Some((report, query))) = (&self.report, &self.checks.report)
        else {
            return;
        };
        let from_run = || report.reads.iter().filter(|t| self.building.contains(*t));
        if from_run().any(|t| self.failed.contains(t)) {
            self.report = ReportState::NotRun;
            return;
        }
        if !from_run().all(|t| self.built.contains(t)) {
            return;
        }
        let present = report.reads.iter().all(|t| {
            t.split_once('.')
                .is_some_and(|(s, n)| engine.has_table(s, n))
        });
        if !present {
            self.report = ReportState::NotRun;
            return;
        }
        let started = Instant::now();
        let work = engine
            .session_for(&report.sql)
            .map(|ctx| query(ctx, report.clone()));
        self.report = ReportState::Running(tokio::spawn(async move {
            let rows = match work {
                Ok(work) => work.await,
                Err(e) => Err(e),
            };
            Reported {
                rows: rows.map_err(Arc::new),
                seconds: started.elapsed().as_secs_f64(),
            }
        }));
    }

    /// Waits for the tests and the report still running; the outcomes, in
    /// the tests' order, and the report when it ran.
    pub(crate) async fn finish(mut self) -> (Vec<TestOutcome>, Option<Reported>) {
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok((i, outcome)) => self.outcomes[i] = Some(outcome),
                Err(e) => tracing::error!(error = %e, "a data test task failed"),
            }
        }
        let report = match self.report {
            ReportState::Running(task) => Some(task.await.unwrap_or_else(|e| Reported {
                rows: Err(Arc::new(Error::Internal(format!(
                    "the report's task failed: {e}"
                )))),
                seconds: 0.0,
            })),
            ReportState::Waiting | ReportState::NotRun => None,
        };
        let Progress {
            checks,
            project_dir,
            outcomes,
            ..
        } = self;
        let outcomes = outcomes
            .into_iter()
            .zip(&checks.tests)
            .map(|(o, test)| {
                o.unwrap_or_else(|| {
                    let file = super::relative(&test.path, project_dir);
                    errored(
                        test,
                        file,
                        "the test's task ended without an outcome".into(),
                    )
                })
            })
            .collect();
        (outcomes, report)
    }
}
