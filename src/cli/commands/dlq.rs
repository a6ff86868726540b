//! `strata dlq`.

use super::{Outcome, out};
use crate::cli::print::new_table;
use crate::cli::{DlqAction, DlqArgs};
use crate::config::Config;
use crate::error::Result;
use crate::ingest::dlq;
use crate::lake::Lake;

/// Lists the dead letters, or moves one back to the landing zone.
pub async fn dlq(config: &Config, args: &DlqArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    match &args.action {
        DlqAction::List => {
            let letters = dlq::list(&lake).await?;
            if letters.is_empty() {
                out("No dead letters.\n")?;
                return Ok(Outcome::Success);
            }
            let mut t = new_table();
            t.set_header(["key", "table", "failed at", "error"]);
            for l in &letters {
                t.add_row([
                    l.dead_letter_key.clone(),
                    l.table_name.clone(),
                    l.failed_at.clone(),
                    l.error.clone(),
                ]);
            }
            out(format!("{t}\n"))?;
        }
        DlqAction::Retry { key } => {
            let to = dlq::retry(&lake, key).await?;
            out(format!(
                "Moved back to {to}; `strata watch` (or `watch --once`) will try it again.\n"
            ))?;
        }
    }
    Ok(Outcome::Success)
}
