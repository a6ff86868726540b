//! `strata run`: build the selected models, then check the data tests and
//! run the monthly report, as one recorded run.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;

use super::Workspace;
use super::recorded::{Record, recorded};
use crate::config::Config;
use crate::error::{Error, Result, user_message};
use crate::lake::Lake;
use crate::metadata::RunRecord;
use crate::models::dag::Dag;
use crate::runner::data_tests::{self, TestOutcome};
use crate::runner::{self, Observer, Run};

/// What `strata run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Model selectors (`gold.x`, `silver+`, `+gold.x`, a layer); all when empty.
    pub select: Vec<String>,
    /// Run the data tests after a successful build.
    pub tests: bool,
    /// Run the monthly report after the tests pass.
    pub report: bool,
    /// Build only the stale models and what depends on them (instead of
    /// `select`).
    pub changed: bool,
}

/// What a build did, for printing.
#[derive(Debug)]
pub struct Built {
    /// The models' steps.
    pub run: Run,
    /// The data tests' outcomes, when they ran (the build succeeded and
    /// they were asked for).
    pub tests: Option<Vec<TestOutcome>>,
    /// The monthly report's rows, when it ran.
    pub report: Option<Vec<RecordBatch>>,
    /// The run as recorded in `meta.runs`.
    pub record: RunRecord,
    /// Tables this build left stale: it rebuilt something they read, but
    /// not them (a `--select` that stopped short), or a model failed.
    pub stale: Vec<super::versions::Stale>,
}

impl Built {
    /// Whether every model built and every data test passed.
    pub fn succeeded(&self) -> bool {
        self.run.ok() && self.tests.iter().flatten().all(TestOutcome::passed)
    }
}

/// Whether a build checks only the tests reading a table it built.
fn selective(options: &BuildOptions) -> bool {
    options.changed || !options.select.is_empty()
}

/// What runs beside a build's models: the project's data tests (with
/// `tests`; `selective` runs only those reading a table the build built)
/// and, with `report`, the monthly report when the project has one.
pub(crate) fn checks(
    config: &Config,
    selective: bool,
    tests: bool,
    report: bool,
) -> Result<data_tests::Checks> {
    let tests = if tests {
        crate::models::discover_queries(&config.queries_dir.join("tests"))?
    } else {
        vec![]
    };
    // Each test reads `meta.tables` as the run has left the lake so far.
    let checks = data_tests::Checks::new(tests, selective, crate::metadata::tables::register);
    let monthly = config
        .queries_dir
        .join(super::report::DIR)
        .join("monthly.sql");
    if !report || !monthly.is_file() {
        return Ok(checks);
    }
    let report = crate::models::QueryFile::load(&monthly)?;
    Ok(checks.with_report(report, |ctx, report| {
        Box::pin(async move {
            super::report::execute(ctx, &report, &super::report::ReportParams::default()).await
        })
    }))
}

/// The models a build would run, in order, without building anything.
pub async fn plan(config: &Config, options: &BuildOptions) -> Result<(Workspace, Dag, Vec<usize>)> {
    let mut ws = Workspace::open(config.clone()).await?;
    if let Some(e) = ws.engine.take_source_error() {
        return Err(e);
    }
    let dag = ws.dag()?;
    let selected = selection(options, &ws, &dag)?;
    let order = runner::plan(&dag, &selected)?;
    Ok((ws, dag, order))
}

/// The models a build selects: those `options` name, or with `changed`,
/// the stale ones and their dependents.
fn selection(options: &BuildOptions, ws: &Workspace, dag: &Dag) -> Result<BTreeSet<usize>> {
    if options.changed {
        return super::versions::changed_selection(&ws.engine, dag, true);
    }
    dag.select(&options.select)
}

/// Builds the selected models, then (when they all built) the data tests
/// and the monthly report, as one recorded run.
pub async fn build(
    config: &Config,
    options: &BuildOptions,
    observer: Arc<dyn Observer>,
) -> Result<Built> {
    let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
    let command = std::iter::once("run".to_string())
        .chain(options.changed.then(|| "--changed".to_string()))
        .chain(options.select.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let (built, record) = recorded(config, &lake, &command, async |run_id| {
        let mut ws = Workspace::open_on(config.clone(), lake.clone()).await?;
        if let Some(e) = ws.engine.take_source_error() {
            return Err(e);
        }
        let dag = ws.dag()?;
        let selected = selection(options, &ws, &dag)?;
        // The data tests run beside the models, each once what it reads
        // from this run is committed; a selective build checks only what
        // reads a table it built. The report starts as soon as what it
        // reads is committed too, and is shown only if the tests pass.
        let checks = (options.tests || options.report)
            .then(|| checks(config, selective(options), options.tests, options.report))
            .transpose()?;
        let mut run = runner::run(
            &ws.engine,
            &dag,
            &selected,
            &config.project_dir,
            observer,
            run_id,
            checks.as_ref(),
        )
        .await?;
        let outcomes = run.tests.take().filter(|_| options.tests);
        let reported = run.report.take();
        let mut record = Record::of_run(run.clone());
        let stale: Vec<_> = super::versions::stale(&ws.engine, &dag)
            .into_iter()
            .filter(|s| s.reason != super::versions::NEVER_BUILT)
            .collect();
        let failed: Vec<_> = outcomes
            .iter()
            .flatten()
            .filter(|o| !o.passed())
            .map(|o| o.name.clone())
            .collect();
        // The tests that ran beside a failed model are reported too.
        let mut built = (run, outcomes, None, stale);
        if !built.0.ok() || (options.tests && built.1.is_none()) {
            return Ok((built, record));
        }
        if !failed.is_empty() {
            record.error = Some(format!("data tests failed: {}", failed.join(", ")));
            return Ok((built, record));
        }
        if let Some(reported) = reported {
            built.2 = Some(reported.rows.map_err(|e| {
                Arc::try_unwrap(e).unwrap_or_else(|e| Error::Internal(user_message(&e)))
            })?);
        }
        Ok((built, record))
    })
    .await?;
    let (run, tests, report, stale) = built;
    Ok(Built {
        run,
        tests,
        report,
        record,
        stale,
    })
}
