//! `strata run`.

use std::sync::Arc;

use indicatif::{HumanBytes, HumanCount};

use super::{Outcome, out, tests_text};
use crate::app::build::{BuildOptions, Built, build, plan};
use crate::cli::RunArgs;
use crate::cli::print::{OutputFormat, new_table, render};
use crate::cli::progress::Progress;
use crate::config::Config;
use crate::error::Result;
use crate::runner::{StepStatus, relative};

/// Builds, tests and reports (or, with `--dry-run`, prints the plan).
pub async fn run(config: &Config, args: &RunArgs, quiet: bool) -> Result<Outcome> {
    let options = BuildOptions {
        select: args.select.clone(),
        tests: !args.no_tests,
        report: !args.no_report,
        changed: args.changed,
    };
    if args.dry_run {
        return dry_run(config, &options).await;
    }
    let built = build(config, &options, Arc::new(Progress::new(quiet))).await?;
    out(built_text(&built)?)?;
    Ok(if built.succeeded() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// A build's steps, failures, stale tables, tests and report, as `run`
/// prints them.
pub(super) fn built_text(built: &Built) -> Result<String> {
    let mut t = new_table();
    t.set_header(["model", "status", "rows", "files", "bytes", "seconds"]);
    for s in &built.run.steps {
        let status = match &s.status {
            StepStatus::Ok => "ok",
            StepStatus::Failed(_) => "FAILED",
            StepStatus::Skipped(_) => "skipped",
        };
        t.add_row([
            s.table.to_string(),
            status.to_string(),
            HumanCount(s.rows).to_string(),
            s.files.to_string(),
            HumanBytes(s.bytes).to_string(),
            format!("{:.2}", s.seconds),
        ]);
    }
    let mut text = format!("Run {} ({:.2}s)\n{t}\n", built.run.id, built.run.seconds);
    for (table, e) in built.run.failures() {
        text.push_str(&format!("error: {table} failed\n  {e}\n"));
    }
    if !built.stale.is_empty() {
        text.push_str(&format!(
            "warning: {} table(s) left stale (`strata run --changed` rebuilds them): {}\n",
            built.stale.len(),
            built
                .stale
                .iter()
                .map(|s| format!("{} ({})", s.table, s.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(tests) = &built.tests {
        text.push_str(&tests_text(tests));
    }
    if let Some(report) = &built.report {
        text.push_str(&format!(
            "Monthly sales\n{}\n",
            render(report, OutputFormat::Table)?
        ));
    }
    Ok(text)
}

async fn dry_run(config: &Config, options: &BuildOptions) -> Result<Outcome> {
    let (ws, dag, order) = plan(config, options).await?;
    let mut t = new_table();
    t.set_header(["#", "model", "reads", "writes", "storage"]);
    for (n, &i) in order.iter().enumerate() {
        let m = &dag.models()[i];
        let storage = if m.write.partition_by.is_empty() {
            m.write.format.extension().to_string()
        } else {
            format!(
                "{} partitioned by {}",
                m.write.format.extension(),
                m.write.partition_by.join(", ")
            )
        };
        t.add_row([
            (n + 1).to_string(),
            relative(&m.path, &config.project_dir),
            m.reads.join(", "),
            format!(
                "{} -> {}/{}",
                m.table,
                ws.engine.lake().describe(),
                m.table.key()
            ),
            storage,
        ]);
    }
    out(format!(
        "Plan: {} models, source {}\n{t}\n",
        order.len(),
        config.source.describe()
    ))?;
    Ok(Outcome::Success)
}
