//! `strata report NAME`.

use super::{Outcome, open_lake, out};
use crate::app::report::{ReportParams, run};
use crate::cli::ReportArgs;
use crate::cli::print::render;
use crate::config::Config;
use crate::error::Result;

/// Prints a report from `queries/reports/NAME.sql`.
pub async fn report(config: Config, args: &ReportArgs) -> Result<Outcome> {
    let params = ReportParams::new(args.year, args.from, args.to)?;
    let ws = open_lake(config).await?;
    let batches = run(&ws.engine, &ws.config.queries_dir, &args.name, &params).await?;
    out(render(&batches, args.format)?)?;
    Ok(Outcome::Success)
}
