//! One file per command, each a thin presenter: arguments in, one call into
//! [`crate::app`], what it returned printed.

mod bench;
mod catalog;
mod cluster;
mod dashboard;
mod dlq;
mod fixtures;
mod forecast;
mod report;
mod run;
mod seed;
mod serve;
mod sql;
mod status;
mod sync;
mod test;
mod verify;
mod versions;
mod watch;

use std::io::Write;

use indicatif::HumanCount;

use super::{Cli, Command};
use crate::app::Workspace;
use crate::config::{Config, Environment};
use crate::error::{Error, Result, user_message};
use crate::runner::data_tests::{Skip, TestOutcome};

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done.
    Success,
    /// The command ran but something failed (a model, a data test).
    Failed,
}

/// Runs the command the arguments name.
pub async fn dispatch(cli: &Cli) -> Result<Outcome> {
    if let Command::Fixtures(args) = &cli.command {
        return fixtures::fixtures(args);
    }
    let config = Config::load(&cli.global.overrides(), &Environment::from_process())?;
    let quiet = cli.global.quiet;
    match &cli.command {
        Command::Run(args) => run::run(&config, args, quiet).await,
        Command::Test => test::test(config).await,
        Command::Verify => verify::verify(config).await,
        Command::Sync(args) => sync::sync(&config, args, quiet).await,
        Command::Sql(args) => sql::sql(config, args).await,
        Command::Report(args) => report::report(config, args).await,
        Command::Forecast(args) => forecast::forecast(config, args).await,
        Command::Bench(args) => bench::bench(&config, args).await,
        Command::Seed(args) => seed::seed(&config, args).await,
        Command::Status(args) => status::status(config, args).await,
        Command::Dashboard(args) => dashboard::dashboard(config, args).await,
        Command::Watch(args) => watch::watch(&config, args, quiet).await,
        Command::Dlq(args) => dlq::dlq(&config, args).await,
        Command::Catalog(args) => catalog::catalog(&config, args).await,
        Command::History(args) => versions::history(&config, args).await,
        Command::Rollback(args) => versions::rollback(&config, args).await,
        Command::Vacuum(args) => versions::vacuum(&config, args).await,
        Command::Serve(args) => serve::serve(config, args).await,
        Command::Scheduler(args) => cluster::scheduler(&config, args).await,
        Command::Executor(args) => cluster::executor(&config, args).await,
        Command::Fixtures(_) => unreachable!("handled above"),
    }
}

/// Opens the workspace for a command that only reads: when the legacy
/// source cannot be opened it says so and goes on with the lake alone.
async fn open_lake(config: Config) -> Result<Workspace> {
    let mut ws = Workspace::open(config).await?;
    if let Some(e) = ws.engine.take_source_error() {
        eprintln!("warning: legacy.* is unavailable: {}", user_message(&e));
    }
    Ok(ws)
}

/// Writes to standard output; a failure (a closed pipe among them) is an
/// error naming stdout, which the binary turns into a quiet exit.
fn out(text: impl AsRef<[u8]>) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_ref())
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("stdout", e))
}

/// The data tests' summary and each failure, as `run` and `test` print them.
fn tests_text(outcomes: &[TestOutcome]) -> String {
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let passed = outcomes.iter().filter(|o| o.passed()).count() - skipped;
    let failed = outcomes.len() - passed - skipped;
    let mut text = format!("Data tests: {passed} passed, {failed} failed");
    if skipped > 0 {
        text.push_str(&format!(", {skipped} skipped"));
    }
    text.push('\n');
    // Tests a selective run had no reason to run are only counted; those
    // whose tables are missing or failed to build are named, as warnings.
    for o in outcomes {
        if let Some(why @ (Skip::Missing(_) | Skip::Failed(_))) = &o.skipped {
            text.push_str(&format!(
                "warning: skipped {} ({}): {why}\n",
                o.name, o.file
            ));
        }
    }
    for o in outcomes.iter().filter(|o| !o.passed()) {
        text.push_str(&match &o.error {
            Some(e) => format!("FAIL {} ({}): could not run: {e}\n", o.name, o.file),
            None => format!(
                "FAIL {} ({}): {} offending rows, first ones:\n{}\n",
                o.name,
                o.file,
                HumanCount(o.failing_rows),
                o.sample
            ),
        });
    }
    text
}
