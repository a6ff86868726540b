//! Data tests (dbt's singular tests): each `queries/tests/*.sql` is a query
//! that must return no rows. Rows it returns are the offending records.

use std::collections::BTreeSet;

use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::StreamExt;

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
}

/// Why a data test was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Tables it reads that the lake does not have.
    Missing(Vec<String>),
    /// A selective run built none of the tables it reads.
    NotBuilt,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Missing(t) => write!(f, "the lake has no {}", t.join(", ")),
            Skip::NotBuilt => f.write_str("it reads nothing this run built"),
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
        if let Some(why) = reason_to_skip(engine, test, built) {
            tracing::warn!(test = %test.name, reason = %why, "data test skipped");
            out.push(TestOutcome {
                name: test.name.clone(),
                file,
                failing_rows: 0,
                sample: String::new(),
                error: None,
                skipped: Some(why),
            });
            continue;
        }
        let outcome = match run_one(engine, test).await {
            Ok((failing_rows, sample)) => TestOutcome {
                name: test.name.clone(),
                file,
                failing_rows,
                sample,
                error: None,
                skipped: None,
            },
            Err(e) => TestOutcome {
                name: test.name.clone(),
                file,
                failing_rows: 0,
                sample: String::new(),
                error: Some(user_message(&e)),
                skipped: None,
            },
        };
        out.push(outcome);
    }
    out
}

async fn run_one(engine: &Engine, test: &QueryFile) -> Result<(u64, String)> {
    let df = Engine::sql_from_file(engine.ctx(), &test.path, &test.sql).await?;
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
