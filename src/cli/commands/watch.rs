//! `strata watch`.

use std::sync::Arc;
use std::time::Duration;

use indicatif::HumanCount;

use super::Outcome;
use crate::app::watch::{catch_up, pass};
use crate::cli::WatchArgs;
use crate::cli::progress::Progress;
use crate::config::Config;
use crate::error::{Result, user_message};
use crate::ingest::watch::{Wakeup, stable};
use crate::ingest::{Fate, LANDING_DIR, Landed};
use crate::lake::Lake;
use crate::metadata::RunStatus;

/// Lands files as they arrive (or once, with `--once`).
pub async fn watch(config: &Config, args: &WatchArgs, quiet: bool) -> Result<Outcome> {
    let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
    let mut wakeup = Wakeup::new(&lake, args.poll.map(Duration::from_secs_f64));
    let debounce = Duration::from_millis(args.debounce_ms);
    if !args.once {
        eprintln!(
            "Watching {}/{LANDING_DIR}/<table>/ ({}); Ctrl-C stops.",
            lake.describe(),
            wakeup.describe()
        );
    }
    let mut outcome = Outcome::Success;
    // A watcher killed after landing files but before rebuilding left
    // tables stale; they are rebuilt before anything new is landed.
    if let Some(done) = catch_up(config, &lake, Arc::new(Progress::new(quiet))).await? {
        if let Some(run) = &done.run {
            eprintln!(
                "rebuilt {} stale model(s) in {:.2}s (run {})",
                run.steps.len(),
                run.seconds,
                done.record.run_id
            );
        }
        if done.record.status != RunStatus::Succeeded {
            outcome = Outcome::Failed;
        }
    }
    loop {
        let result = async {
            let files = stable(&lake, &mut wakeup, debounce).await?;
            if files.is_empty() {
                return Ok(Outcome::Success);
            }
            let done = pass(
                config,
                &lake,
                &files,
                Arc::new(Progress::new(quiet)),
                &print_fate,
            )
            .await?;
            if let Some(run) = &done.run {
                for (table, e) in run.failures() {
                    eprintln!("error: {table} failed\n  {e}");
                }
                eprintln!(
                    "rebuilt {} model(s) in {:.2}s (run {})",
                    run.steps.len(),
                    run.seconds,
                    done.record.run_id
                );
            }
            Ok(if done.record.status == RunStatus::Succeeded {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        .await;
        match result {
            Ok(Outcome::Success) => {}
            Ok(Outcome::Failed) => outcome = Outcome::Failed,
            // A watcher outlives a failed pass: the files stay in the
            // landing zone and the next pass tries them again.
            Err(e) if !args.once => {
                eprintln!("error: {}; retrying", user_message(&e));
                outcome = Outcome::Failed;
            }
            Err(e) => return Err(e),
        }
        if args.once {
            return Ok(outcome);
        }
        // Events wake the loop at once; the timeout is a safety net that
        // also catches files whose size was still changing.
        tokio::select! {
            () = wakeup.wait(Duration::from_secs(5)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(outcome),
        }
    }
}

fn print_fate(f: &Landed, fate: &Fate) {
    let line = match fate {
        Fate::Loaded {
            key,
            rows,
            quarantined,
        } => format!(
            "loaded {} into raw.{}/{key}: {} rows{}",
            f.key,
            f.table,
            HumanCount(*rows),
            if *quarantined > 0 {
                format!(", {quarantined} quarantined (meta.quarantine)")
            } else {
                String::new()
            }
        ),
        Fate::Duplicate(key) => {
            format!(
                "{}: already loaded as raw.{}/{key}; skipped",
                f.key, f.table
            )
        }
        Fate::DeadLetter { key, error } => {
            format!("{}: dead letter -> {key}\n  {error}", f.key)
        }
    };
    eprintln!("{line}");
}
