//! `strata sync`.

use std::sync::Arc;

use super::run::built_text;
use super::{Outcome, out};
use crate::app::sync::{CursorSpec, Dropped, SyncOptions, Synced, drop_slot, sync as sync_once};
use crate::cli::SyncArgs;
use crate::cli::progress::Progress;
use crate::config::Config;
use crate::error::Result;

/// Syncs once, or until Ctrl-C with `--follow`, or drops the slot.
pub async fn sync(config: &Config, args: &SyncArgs, quiet: bool) -> Result<Outcome> {
    if args.drop_slot {
        out(match drop_slot(config).await? {
            Dropped::Slot(slot) => format!(
                "Dropped replication slot {slot} and its publication; the next sync starts from a new snapshot.\n"
            ),
            Dropped::Cursor(column) => format!(
                "Forgot the cursor on {column}; the next sync starts from a new snapshot.\n"
            ),
            Dropped::Nothing => {
                "No replication slot to drop; the publication is removed if there was one.\n".into()
            }
        })?;
        return Ok(Outcome::Success);
    }
    // With --follow, Ctrl-C is listened for from the start: one during a
    // batch lets it finish, and the loop stops before the next. A single
    // sync stops at Ctrl-C as any command does.
    let mut interrupt = if args.follow {
        Some(
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| crate::error::Error::io("SIGINT handler", e))?,
        )
    } else {
        None
    };
    let options = SyncOptions {
        cursor: args.cursor.as_ref().map(|column| CursorSpec {
            column: column.clone(),
            key: args.key.clone(),
            lookback: std::time::Duration::from_secs_f64(args.lookback.max(0.0)),
        }),
        batch_rows: args.batch_rows,
    };
    let mut outcome = Outcome::Success;
    loop {
        let synced = sync_once(config, &options, Arc::new(Progress::new(quiet))).await?;
        let (text, ok) = describe(&synced)?;
        // Following, a quiet source is not reported every interval.
        let quiet_batch = matches!(synced, Synced::UpToDate { built: None, .. });
        if !(args.follow && quiet_batch) {
            out(text)?;
        }
        if !ok {
            outcome = Outcome::Failed;
        }
        let Some(interrupt) = interrupt.as_mut() else {
            return Ok(outcome);
        };
        let pause = std::time::Duration::from_secs_f64(args.interval.max(0.0));
        tokio::select! {
            _ = interrupt.recv() => return Ok(outcome),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn describe(synced: &Synced) -> Result<(String, bool)> {
    Ok(match synced {
        Synced::Snapshot { slot, at, built } => (
            format!(
                "Created replication slot {slot} at {at}; the lake was built from its snapshot.\n{}",
                built_text(built)?
            ),
            built.succeeded(),
        ),
        Synced::CursorSnapshot { column, at, built } => (
            format!(
                "Following the source by cursor {column} from {at}; the lake was built from one snapshot.\n{}",
                built_text(built)?
            ),
            built.succeeded(),
        ),
        Synced::CursorApplied {
            keys,
            added,
            removed,
            from,
            to,
            built,
        } => {
            let text = format!(
                "Applied {keys} changed keys ({added} rows added, {removed} removed) from {from} to {to}.\n"
            );
            then_built(text, "", built)?
        }
        Synced::Applied {
            transactions,
            inserted,
            updated,
            deleted,
            batches,
            from,
            to,
            built,
        } => {
            let in_batches = if *batches > 1 {
                format!(" in {batches} batches")
            } else {
                String::new()
            };
            let text = format!(
                "Applied {transactions} transactions ({inserted} inserts, {updated} updates, {deleted} deletes) from {from} to {to}{in_batches}.\n"
            );
            then_built(text, "", built)?
        }
        Synced::UpToDate { at, built } => then_built(
            format!("Up to date at {at}.\n"),
            "Rebuilt what an interrupted sync left stale:\n",
            built,
        )?,
    })
}

/// `text`, then the rebuild's report (under `heading`) if there was one,
/// and whether that rebuild succeeded.
fn then_built(
    mut text: String,
    heading: &str,
    built: &Option<Box<crate::app::build::Built>>,
) -> Result<(String, bool)> {
    let Some(b) = built else {
        return Ok((text, true));
    };
    text.push_str(heading);
    text.push_str(&built_text(b)?);
    Ok((text, b.succeeded()))
}
