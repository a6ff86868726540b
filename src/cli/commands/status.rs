//! `strata status`.

use super::{Outcome, open_lake, out};
use crate::cli::StatusArgs;
use crate::config::Config;
use crate::error::Result;

/// Prints the lake's health.
pub async fn status(config: Config, args: &StatusArgs) -> Result<Outcome> {
    let ws = open_lake(config).await?;
    let history = crate::metadata::tables::refresh(&ws.engine).await?;
    let dead = crate::ingest::dlq::waiting(ws.engine.lake()).await?;
    let stale = crate::app::versions::stale(&ws.engine, &ws.dag()?);
    out(crate::cli::status::render(
        &ws.engine, &history, dead, args.runs, &stale,
    )?)?;
    Ok(Outcome::Success)
}
