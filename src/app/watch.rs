//! One pass of `strata watch`: land the files that are ready, then rebuild
//! what reads the tables that grew, as one recorded run.

use std::sync::Arc;

use super::Workspace;
use super::recorded::{Record, recorded};
use crate::config::Config;
use crate::error::Result;
use crate::ingest::{Fate, Landed};
use crate::lake::Lake;
use crate::metadata::RunRecord;
use crate::runner::{self, Observer, Run};

/// Rebuilds what is stale (an input has a newer version than the one it
/// was built from), as a recorded pass without files; `None` when nothing
/// is. A watcher does this first, so that a rebuild a killed watcher left
/// pending is done on restart.
pub async fn catch_up(
    config: &Config,
    lake: &Arc<Lake>,
    observer: Arc<dyn Observer>,
) -> Result<Option<PassOutcome>> {
    let ws = Workspace::open_on(config.clone(), lake.clone()).await?;
    let dag = ws.dag()?;
    if super::versions::changed_selection(&ws.engine, &dag, false)?.is_empty() {
        return Ok(None);
    }
    drop(ws);
    pass(config, lake, &[], observer, &|_, _| {})
        .await
        .map(Some)
}

/// What a pass did.
#[derive(Debug)]
pub struct PassOutcome {
    /// The rebuild of the models downstream, when there was one.
    pub run: Option<Run>,
    /// The pass as recorded in `meta.runs`.
    pub record: RunRecord,
}

/// Lands `files` into their raw tables, rebuilds every model downstream of
/// a table that received rows and every stale one, and records it all as
/// one run. With no files, it only catches up on stale models, and records
/// a run only when there was one. Each file's
/// fate is told to `on_landed` as soon as the files are committed.
pub async fn pass(
    config: &Config,
    lake: &Arc<Lake>,
    files: &[Landed],
    observer: Arc<dyn Observer>,
    on_landed: &(dyn Fn(&Landed, &Fate) + Sync),
) -> Result<PassOutcome> {
    let command = match files.len() {
        0 => "watch: rebuild stale tables".to_string(),
        n => format!("watch: {n} file(s)"),
    };
    let (run, record) = recorded(config, lake, &command, async |run_id| {
        let pass = crate::ingest::land(lake, files, run_id).await?;
        for (f, fate) in &pass.files {
            on_landed(f, fate);
        }
        let dead: Vec<String> = pass
            .files
            .iter()
            .filter_map(|(f, fate)| match fate {
                Fate::DeadLetter { error, .. } => Some(format!("{}: {error}", f.key)),
                _ => None,
            })
            .collect();
        let mut record = Record {
            run: None,
            manifests: pass.manifests.clone(),
            error: (!dead.is_empty())
                .then(|| format!("{} file(s) dead-lettered: {}", dead.len(), dead.join("; "))),
        };
        let ws = Workspace::open_on(config.clone(), lake.clone()).await?;
        let dag = ws.dag()?;
        // What an earlier pass left stale (killed mid-rebuild, or a model
        // that failed) is rebuilt with this pass's own tables.
        let mut selected = super::versions::changed_selection(&ws.engine, &dag, false)?;
        for table in pass.tables() {
            let own = dag
                .models()
                .iter()
                .position(|m| m.table.to_string() == table);
            let mut downstream = dag.select(&[format!("{table}+")]).unwrap_or_default();
            if let Some(own) = own {
                downstream.remove(&own);
            }
            selected.extend(downstream);
        }
        if selected.is_empty() {
            return Ok((None, record));
        }
        let run = runner::run(
            &ws.engine,
            &dag,
            &selected,
            &config.project_dir,
            observer,
            run_id,
            None,
        )
        .await?;
        record.manifests.extend(run.manifests.iter().cloned());
        record.run = Some(run.clone());
        Ok((Some(run), record))
    })
    .await?;
    Ok(PassOutcome { run, record })
}
