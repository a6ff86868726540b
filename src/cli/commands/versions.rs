//! `strata history`, `strata rollback` and `strata vacuum`.

use std::sync::Arc;

use indicatif::{HumanBytes, HumanCount};

use super::{Outcome, out};
use crate::cli::print::new_table;
use crate::cli::{HistoryArgs, RollbackArgs, VacuumArgs};
use crate::config::{Config, Retention};
use crate::error::Result;
use crate::lake::{Lake, TableId};

/// Lists a table's kept versions, oldest first.
pub async fn history(config: &Config, args: &HistoryArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    let table = TableId::parse(&args.table)?;
    let versions = crate::app::versions::history(&lake, &table).await?;
    let mut t = new_table();
    t.set_header([
        "version",
        "written_at",
        "run",
        "rows",
        "files",
        "bytes",
        "built from",
    ]);
    let last = versions.last().map(|m| m.version);
    for m in &versions {
        let mut from: Vec<String> = m.inputs.iter().map(|(t, v)| format!("{t}@{v}")).collect();
        if let Some(r) = m.restored_from {
            from.insert(0, format!("rollback to {r}"));
        }
        let current = if Some(m.version) == last {
            " (current)"
        } else {
            ""
        };
        t.add_row([
            format!("{}{current}", m.version),
            m.written_at.clone(),
            m.run_id.clone(),
            HumanCount(m.rows).to_string(),
            m.files.len().to_string(),
            HumanBytes(m.bytes).to_string(),
            from.join(", "),
        ]);
    }
    out(format!(
        "{table}: {} version(s) kept\n{t}\n",
        versions.len()
    ))?;
    Ok(Outcome::Success)
}

/// Makes an old version current again.
pub async fn rollback(config: &Config, args: &RollbackArgs) -> Result<Outcome> {
    let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
    let table = TableId::parse(&args.table)?;
    let (m, record) = crate::app::versions::rollback(config, &lake, &table, args.to).await?;
    out(format!(
        "{table}: version {} is version {}'s files again ({} rows; run {}); \
         `strata run --changed` rebuilds what reads it\n",
        m.version,
        args.to,
        HumanCount(m.rows),
        record.run_id
    ))?;
    Ok(Outcome::Success)
}

/// Expires old versions in every table.
pub async fn vacuum(config: &Config, args: &VacuumArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    let retention = Retention {
        versions: args
            .keep_versions
            .unwrap_or(config.retention.versions)
            .max(1),
        keep_for: args.keep_for.unwrap_or(config.retention.keep_for),
    };
    let done = crate::app::versions::vacuum(&lake, retention).await?;
    let mut t = new_table();
    t.set_header(["table", "versions expired", "files deleted", "bytes freed"]);
    let (mut files, mut bytes) = (0, 0);
    for v in done
        .iter()
        .filter(|v| !v.versions.is_empty() || v.files > 0)
    {
        files += v.files;
        bytes += v.bytes;
        t.add_row([
            v.table.as_ref().map(|t| t.to_string()).unwrap_or_default(),
            v.versions
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            v.files.to_string(),
            HumanBytes(v.bytes).to_string(),
        ]);
    }
    out(format!(
        "Vacuumed {} table(s): {files} file(s), {} freed\n{t}\n",
        done.len(),
        HumanBytes(bytes)
    ))?;
    Ok(Outcome::Success)
}
