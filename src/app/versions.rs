//! Table versions as a user handles them: which tables are stale, a
//! table's history, rolling a table back, and vacuuming old versions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::recorded::{Record, recorded};
use crate::config::{Config, Retention};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::manifest::TableManifest;
use crate::lake::versions::{self, Vacuumed};
use crate::lake::{Lake, TableId};
use crate::metadata::RunRecord;
use crate::models::dag::Dag;

/// Why a model's table is stale when it does not exist.
pub const NEVER_BUILT: &str = "never built";

/// A model whose table is behind what it reads, or was never built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The model's table.
    pub table: TableId,
    /// Why: `silver.sales is at version 5, it was built from 4`, or
    /// `never built`.
    pub reason: String,
}

/// The models of `dag` that are stale against the versions `engine` has
/// registered: an input has a newer version than the one the table was
/// built from (a killed watcher's pending rebuild, a `--select` that left
/// it behind, a rollback upstream), or the table does not exist.
pub fn stale(engine: &Engine, dag: &Dag) -> Vec<Stale> {
    let manifests = engine.manifests();
    let current: BTreeMap<String, u64> = manifests
        .iter()
        .map(|(k, m)| (k.clone(), m.version))
        .collect();
    let mut out = vec![];
    for model in dag.models() {
        let reason = match manifests.get(&model.table.to_string()) {
            None => Some(NEVER_BUILT.to_string()),
            Some(m) => {
                let behind = versions::stale_inputs(m, &current);
                (!behind.is_empty()).then(|| {
                    behind
                        .iter()
                        .map(|(t, built, now)| match now {
                            Some(now) => {
                                format!("{t} is at version {now}, it was built from {built}")
                            }
                            None => format!("{t} (version {built}) no longer exists"),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            }
        };
        if let Some(reason) = reason {
            out.push(Stale {
                table: model.table.clone(),
                reason,
            });
        }
    }
    out
}

/// The models to rebuild so that nothing is stale: the stale ones and
/// everything downstream of them, as `make` would. `unbuilt`: count tables
/// that were never built as stale too.
pub fn changed_selection(engine: &Engine, dag: &Dag, unbuilt: bool) -> Result<BTreeSet<usize>> {
    let selectors: Vec<String> = stale(engine, dag)
        .into_iter()
        .filter(|s| unbuilt || s.reason != NEVER_BUILT)
        .map(|s| format!("{}+", s.table))
        .collect();
    if selectors.is_empty() {
        return Ok(BTreeSet::new());
    }
    dag.select(&selectors)
}

/// A table's kept versions, oldest first.
pub async fn history(lake: &Lake, table: &TableId) -> Result<Vec<TableManifest>> {
    let h = versions::history(lake, table).await?;
    if h.is_empty() {
        return Err(Error::Lake {
            key: table.to_string(),
            message: "is not a table of the lake".into(),
        });
    }
    Ok(h)
}

/// Makes version `to` of `table` current again, as a new version that
/// lists the same files (recorded as a run of one step). Its inputs are
/// those `to` was built from, so what reads the table is stale until rebuilt.
pub async fn rollback(
    config: &Config,
    lake: &Arc<Lake>,
    table: &TableId,
    to: u64,
) -> Result<(TableManifest, RunRecord)> {
    let command = format!("rollback {table} --to {to}");
    recorded(config, lake, &command, async |run_id| {
        let _lock = lake.lock().await?;
        let old = versions::at(lake, table, to).await?;
        let current = versions::current(lake, table).await?;
        if current.as_ref().is_some_and(|c| c.version == to) {
            return Err(Error::Lake {
                key: table.to_string(),
                message: format!("version {to} is already the current one"),
            });
        }
        // Every file of the old version is still there: the version is kept,
        // and vacuum never deletes a file a kept version lists.
        let restored = TableManifest {
            files: old.files.iter().map(|f| old.carried(f)).collect(),
            run_id: run_id.to_string(),
            written_at: crate::sys::now(),
            restored_from: Some(to),
            source_position: None,
            ..old
        };
        let m = versions::commit(lake, restored).await?;
        Ok((
            m.clone(),
            Record {
                run: None,
                manifests: vec![m],
                error: None,
            },
        ))
    })
    .await
}

/// Expires what `retention` no longer keeps, in every table of the lake.
pub async fn vacuum(lake: &Lake, retention: Retention) -> Result<Vec<Vacuumed>> {
    let _lock = lake.lock().await?;
    let now = chrono::Utc::now();
    let mut out = vec![];
    for t in lake.table_ids().await? {
        out.push(versions::vacuum(lake, &t, retention, now).await?);
    }
    Ok(out)
}
