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
    let mut text = crate::cli::status::render(&ws.engine, &history, dead, args.runs, &stale)?;
    // A lake that follows its source says how far behind it is; a source
    // that cannot be reached is said too, without failing the report.
    match crate::app::sync::lag(&ws.config).await {
        Ok(Some(lag)) => text.push_str(&crate::cli::status::sync_lag(&lag)),
        Ok(None) => {}
        Err(e) => text.push_str(&format!(
            "warning: the lake follows its source, whose slot cannot be read: {}\n",
            crate::error::user_message(&e)
        )),
    }
    if let Some(cursor) = crate::app::sync::cursor::lag(&ws.config).await? {
        text.push_str(&crate::cli::status::cursor_lag(&cursor));
    }
    out(text)?;
    Ok(Outcome::Success)
}
