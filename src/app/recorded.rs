//! The one way a command that writes the lake is recorded: run, watch and
//! `CREATE TABLE AS` all go through [`recorded`], so each writes the same
//! run record (begun before any work, finished whatever happens), the same
//! steps and objects, then the metrics file and the alert rules.

use std::sync::Arc;

use object_store::ObjectStoreExt;

use crate::config::Config;
use crate::error::{Result, user_message};
use crate::lake::Lake;
use crate::lake::manifest::TableManifest;
use crate::metadata::{Journal, RunRecord};
use crate::runner::Run;

/// What a recorded piece of work leaves for its run's record.
#[derive(Debug, Default)]
pub struct Record {
    /// The models it ran, if it ran any.
    pub run: Option<Run>,
    /// Every table version it committed (the run's own and any other).
    pub manifests: Vec<TableManifest>,
    /// Why the run failed although its work returned: failed data tests,
    /// dead-lettered files. Failed models are in `run` already.
    pub error: Option<String>,
}

impl Record {
    /// The record of a run of models and nothing else.
    pub fn of_run(run: Run) -> Self {
        Record {
            manifests: run.manifests.clone(),
            run: Some(run),
            error: None,
        }
    }
}

/// Runs `work` as one recorded run of `command`: the run's record says
/// `running` from the start, and is finished with what `work` returns, or
/// with its error. Then the metrics file is rewritten and the alert rules
/// are checked. Returns `work`'s own result with the finished record.
pub async fn recorded<T>(
    config: &Config,
    lake: &Arc<Lake>,
    command: &str,
    work: impl AsyncFnOnce(&str) -> Result<(T, Record)>,
) -> Result<(T, RunRecord)> {
    let journal = Journal::begin(lake, crate::runner::new_run_id(), command).await?;
    let run_id = journal.run_id();
    let result = work(&run_id).await;
    let finished = match &result {
        Ok((_, record)) => {
            journal
                .finish(
                    lake,
                    record.run.as_ref(),
                    &record.manifests,
                    record.error.clone(),
                )
                .await?
        }
        Err(e) => {
            journal
                .finish(lake, None, &[], Some(user_message(e)))
                .await?
        }
    };
    if let Ok((_, record)) = &result {
        let tables: Vec<_> = record.manifests.iter().map(|m| m.table.clone()).collect();
        expire(config, lake, &tables).await?;
    }
    after_run(config, lake).await?;
    result.map(|(t, _)| (t, finished))
}

/// Removes the versions of `tables` that the retention no longer keeps:
/// the run that commits a table's new version expires its old ones. Skipped
/// when another process holds the lake (the next run or `strata vacuum`
/// does it then).
async fn expire(config: &Config, lake: &Lake, tables: &[crate::lake::TableId]) -> Result<()> {
    let _lock = match lake.lock().await {
        Ok(l) => l,
        Err(crate::error::Error::Locked(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let now = chrono::Utc::now();
    let mut seen = std::collections::BTreeSet::new();
    for t in tables.iter().filter(|t| seen.insert((*t).clone())) {
        let v = crate::lake::versions::vacuum(lake, t, config.retention, now).await?;
        if !v.versions.is_empty() || v.files > 0 {
            tracing::info!(
                table = %t, versions = ?v.versions, files = v.files, bytes = v.bytes,
                "old versions vacuumed"
            );
        }
    }
    Ok(())
}

/// The lake's figures in Prometheus' text format, as `metrics.prom` holds
/// them after a run; with the digest and dead letters they come from.
async fn figures(lake: &Lake) -> Result<(String, crate::metadata::digest::Digest, u64)> {
    // The compacted history, not every record: this costs the same however
    // long the lake's history is.
    let digest = crate::metadata::digest::load(lake).await?;
    let dead = crate::ingest::dlq::waiting(lake).await?;
    let running = crate::metadata::running(lake).await?;
    let quarantined = crate::ingest::quarantined_rows(lake).await?;
    let prom = crate::metadata::metrics::prometheus(&digest, running, quarantined, dead);
    Ok((prom, digest, dead))
}

/// The lake's figures now, in Prometheus' text format (what `strata serve`
/// answers on `/metrics`).
pub async fn metrics(lake: &Lake) -> Result<String> {
    Ok(figures(lake).await?.0)
}

/// After a run: the metrics file and the alert rules. A rule that fires
/// is told on stderr at once, as a warning is: the operator at the terminal
/// should see it even when the command itself fails.
async fn after_run(config: &Config, lake: &Lake) -> Result<()> {
    let (mut prom, digest, dead) = figures(lake).await?;
    // A lake that follows its source: how far behind, which an unreachable
    // source leaves unsaid rather than failing the run.
    // A source that does not answer holds the run no longer than this.
    const SOURCE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let lag = match tokio::time::timeout(SOURCE_WAIT, crate::app::sync::lag(config)).await {
        Ok(Ok(lag)) => lag,
        Ok(Err(e)) => {
            eprintln!(
                "warning: the lake follows its source, whose slot cannot be read: {}",
                user_message(&e)
            );
            None
        }
        Err(_) => {
            eprintln!(
                "warning: the lake follows its source, which did not answer within {}s",
                SOURCE_WAIT.as_secs()
            );
            None
        }
    };
    if let Some(lag) = &lag {
        prom.push_str(&crate::metadata::metrics::slot_lag(lag));
    }
    lake.store()
        .put(
            &object_store::path::Path::from(crate::metadata::METRICS_FILE),
            prom.into_bytes().into(),
        )
        .await?;
    for fired in crate::metadata::alerts::evaluate(
        &config.alerts,
        &digest,
        dead,
        lag.as_ref(),
        &lake.describe(),
    )
    .await?
    {
        eprintln!(
            "alert: {} ({} is {})",
            fired.alert, fired.condition, fired.value
        );
    }
    Ok(())
}
