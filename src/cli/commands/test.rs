//! `strata test`.

use super::{Outcome, open_lake, out, tests_text};
use crate::config::Config;
use crate::error::Result;
use crate::runner::data_tests::{self, TestOutcome};

/// Runs the data tests against the lake as it is.
pub async fn test(config: Config) -> Result<Outcome> {
    let ws = open_lake(config).await?;
    let tests = crate::models::discover_queries(&ws.config.queries_dir.join("tests"))?;
    let outcomes = data_tests::run_all(&ws.engine, &tests, &ws.config.project_dir, None).await;
    out(tests_text(&outcomes))?;
    Ok(if outcomes.iter().all(TestOutcome::passed) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
