//! `strata dashboard`.

use super::{Outcome, open_lake, out};
use crate::cli::DashboardArgs;
use crate::config::Config;
use crate::error::{Error, Result};

/// Writes the dashboard's HTML file.
pub async fn dashboard(config: Config, args: &DashboardArgs) -> Result<Outcome> {
    let ws = open_lake(config).await?;
    let history = crate::metadata::tables::refresh(&ws.engine).await?;
    let html = crate::app::dashboard::offline(&ws.engine, &history).await?;
    std::fs::write(&args.out, html).map_err(|e| Error::io(&args.out, e))?;
    out(format!("Wrote {}\n", args.out.display()))?;
    Ok(Outcome::Success)
}
