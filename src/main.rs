//! The `strata` binary: parse, configure, run a command, map the outcome to
//! an exit code (0 success, 1 failed, 2 usage or configuration error).

use std::process::ExitCode;

use clap::Parser;
use strata::cli::commands::{Outcome, dispatch};
use strata::cli::{Cli, LogFormat};
use strata::error::user_message;

fn main() -> ExitCode {
    strata::sys::limit_malloc_arenas();
    let cli = Cli::parse(); // exits 2 on usage errors
    // STRATA_LOG=debug shows, among others, the SQL sent to the source.
    // In text mode the per-model, per-run and per-file events repeat what
    // the command prints; they are for JSON logs (or STRATA_LOG=info).
    let default_level = match cli.global.log_format {
        LogFormat::Text => "warn,strata::runner=off,strata::metadata=off,strata::ingest=off",
        LogFormat::Json => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.global.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(dispatch(&cli));
    // Work a cancelled query left behind (DataFusion stops only at its next
    // yield point) must not hold the process open.
    runtime.shutdown_background();
    match outcome {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        // A reader that stopped reading (`| head`) is not a failure, as
        // for any Unix tool.
        Err(e) if e.is_closed_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", user_message(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
