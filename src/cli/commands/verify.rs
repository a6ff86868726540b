//! `strata verify`.

use indicatif::HumanCount;

use super::{Outcome, out};
use crate::app::Workspace;
use crate::app::verify::{Verification, verify as compare};
use crate::config::Config;
use crate::error::Result;

/// Compares the lake with its source and prints what differs.
pub async fn verify(config: Config) -> Result<Outcome> {
    // The source is what is verified: unlike `test`, no going on without it.
    let mut ws = Workspace::open(config).await?;
    if let Some(e) = ws.engine.take_source_error() {
        return Err(e);
    }
    let v = compare(&ws).await?;
    out(text(&v))?;
    Ok(if v.equal() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn against(what: &str) -> String {
    if what == "source" {
        "the source".into()
    } else {
        format!("{what}'s distinct rows")
    }
}

fn day(d: &str) -> &str {
    if d.is_empty() { "(undated)" } else { d }
}

/// What a verification found, for the terminal.
fn text(v: &Verification) -> String {
    let mut s = format!(
        "verify {}: {} against the lake, in {:.2}s\n",
        v.verify_id, v.source, v.duration_s
    );
    for c in &v.checks {
        if c.status == "equal" {
            s.push_str(&format!(
                "  {} against {}: equal ({} rows, {} days)\n",
                c.lake_tables,
                against(&c.against),
                HumanCount(c.lake_rows),
                HumanCount(c.days)
            ));
            continue;
        }
        s.push_str(&format!(
            "  {} against {}: DIFFERENT: {} {} rows, lake {} rows; {} of {} days differ{}\n",
            c.lake_tables,
            against(&c.against),
            c.against,
            HumanCount(c.source_rows),
            HumanCount(c.lake_rows),
            HumanCount(c.days_different.len() as u64),
            HumanCount(c.days),
            if c.days_different.len() > 20 {
                " (rows shown for the first 20)"
            } else {
                ""
            }
        ));
        for r in &c.rows {
            s.push_str(&format!(
                "    {} sale {}: only in the {}{}: {}\n",
                day(&r.day),
                r.sale_id,
                r.only_in,
                if r.copies > 1 {
                    format!(" ({} copies)", r.copies)
                } else {
                    String::new()
                },
                r.row
            ));
        }
        if c.rows_different > c.rows.len() as u64 {
            s.push_str(&format!(
                "    ... and {} more rows (meta.verify_rows holds the first {})\n",
                HumanCount(c.rows_different - c.rows.len() as u64),
                c.rows.len()
            ));
        }
    }
    s.push_str(&format!(
        "{}\n",
        if v.equal() {
            "The lake equals its source."
        } else {
            "The lake differs from its source: see above, or SELECT * FROM meta.verify_rows WHERE verify_id = '<id>'."
        }
    ));
    s
}
