//! `strata catalog ddl`.

use super::{Outcome, out};
use crate::cli::{CatalogAction, CatalogArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::ddl::{Dialect, lake_ddl};

/// Prints CREATE statements for the lake's tables.
pub async fn catalog(config: &Config, args: &CatalogArgs) -> Result<Outcome> {
    let CatalogAction::Ddl {
        dialect,
        location,
        select,
    } = &args.action;
    let lake = Lake::open(&config.lake, &config.s3)?;
    let mut manifests: Vec<_> = lake
        .tables()
        .await?
        .into_iter()
        .filter(|m| {
            select.is_empty()
                || select
                    .iter()
                    .any(|s| m.table.to_string() == *s || m.table.layer.as_str() == s)
        })
        .collect();
    manifests.sort_by(|a, b| a.table.cmp(&b.table));
    if manifests.is_empty() {
        return Err(Error::Lake {
            key: lake.describe(),
            message: "no tables to describe: `strata run` builds them".into(),
        });
    }
    let root = match location {
        Some(l) if l.ends_with('/') => l.clone(),
        Some(l) => format!("{l}/"),
        None => lake.url(),
    };
    let mut text = String::new();
    if *dialect == Dialect::Athena && !root.starts_with("s3://") {
        text.push_str(
            "-- LOCATION is this lake on local disk; Athena reads s3:// only:\n\
             -- pass --location s3://bucket/prefix/ for the bucket the lake is copied to.\n",
        );
    }
    text.push_str(&lake_ddl(&manifests, &root, *dialect)?);
    out(text)?;
    Ok(Outcome::Success)
}
