//! `strata status`: the lake's health at a glance, from its own records.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::print::new_table;
use crate::app::versions::Stale;
use crate::engine::Engine;
use crate::error::Result;
use crate::metadata::metrics::Summary;
use crate::metadata::{History, RunStatus};
use indicatif::{HumanBytes, HumanCount};

fn seconds(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.2}s")).unwrap_or_else(|| "-".into())
}

fn shorten(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max - 1).collect::<String>())
    }
}

/// The status report as text.
pub fn render(
    engine: &Engine,
    h: &History,
    dead_letters: u64,
    recent: usize,
    stale: &[Stale],
) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(out, "Lake {}", engine.lake().describe());
    if h.runs.is_empty() {
        let _ = writeln!(out, "No runs recorded yet: `strata run` builds the lake.");
    }
    let day = Summary::of(h, Some(chrono::Utc::now() - chrono::Duration::hours(24)));
    let all = Summary::of(h, None);
    let mut t = new_table();
    t.set_header([
        "window",
        "runs",
        "succeeded",
        "errors",
        "success rate",
        "p50",
        "p95",
    ]);
    for (name, s) in [("last 24h", &day), ("all time", &all)] {
        t.add_row([
            name.to_string(),
            s.runs.to_string(),
            s.succeeded.to_string(),
            s.errors.to_string(),
            format!("{:.1}%", s.success_rate * 100.0),
            seconds(s.duration_p50),
            seconds(s.duration_p95),
        ]);
    }
    let _ = writeln!(out, "\nHealth\n{t}");

    if !h.runs.is_empty() {
        let mut t = new_table();
        t.set_header([
            "run", "command", "status", "started", "seconds", "rows", "error",
        ]);
        for r in h.runs.iter().rev().take(recent) {
            t.add_row([
                r.run_id.clone(),
                r.command.clone(),
                match r.status {
                    RunStatus::Succeeded => "ok".to_string(),
                    s => s.as_str().to_uppercase(),
                },
                r.started_at.replace('T', " ").chars().take(19).collect(),
                seconds(r.duration_s),
                HumanCount(r.rows).to_string(),
                shorten(r.error.as_deref().unwrap_or(""), 60),
            ]);
        }
        let _ = writeln!(out, "\nLast runs\n{t}");
    }

    // Objects per layer, from the manifests of the tables the lake holds.
    let mut layers: BTreeMap<String, (usize, usize, u64, u64)> = BTreeMap::new();
    for (schema, tables) in engine.tables() {
        for table in tables {
            if let Some(m) = engine.manifest(&format!("{schema}.{table}")) {
                let e = layers.entry(schema.clone()).or_default();
                e.0 += 1;
                e.1 += m.files.len();
                e.2 += m.rows;
                e.3 += m.bytes;
            }
        }
    }
    let mut t = new_table();
    t.set_header(["layer", "tables", "objects", "rows", "bytes"]);
    for (layer, (tables, objects, rows, size)) in &layers {
        t.add_row([
            layer.clone(),
            tables.to_string(),
            HumanCount(*objects as u64).to_string(),
            HumanCount(*rows).to_string(),
            HumanBytes(*size).to_string(),
        ]);
    }
    let _ = writeln!(out, "\nLake contents\n{t}");
    // Only tables that exist: a fresh lake's unbuilt models are not news.
    let behind: Vec<&Stale> = stale
        .iter()
        .filter(|s| s.reason != crate::app::versions::NEVER_BUILT)
        .collect();
    if behind.is_empty() {
        let _ = writeln!(out, "\nStale tables: none");
    } else {
        let mut t = new_table();
        t.set_header(["table", "why"]);
        for s in &behind {
            t.add_row([s.table.to_string(), s.reason.clone()]);
        }
        let _ = writeln!(
            out,
            "\nStale tables: {} (`strata run --changed` rebuilds them)\n{t}",
            behind.len()
        );
    }
    let _ = writeln!(
        out,
        "\nDead letters waiting: {dead_letters}{}",
        if dead_letters > 0 {
            " (`strata dlq list`)"
        } else {
            ""
        }
    );
    Ok(out)
}

/// WAL a slot may hold before `status` warns: a lake that stopped syncing
/// keeps the source's disk filling.
const SLOT_LAG_WARNING_BYTES: i64 = 1 << 30;

/// The sync section of a lake that follows by cursor: the column, and how
/// far the lake has come.
pub fn cursor_lag(lag: &crate::app::sync::cursor::CursorLag) -> String {
    let s = &lag.state;
    format!(
        "Sync: cursor on {} (key {}, looking {}s back), applied through {}, last batch {}; \
         deletes at the source are not seen (`strata verify` finds them)\n",
        s.column, s.key, s.lookback_seconds, lag.applied, lag.applied_at
    )
}

/// The sync section of the report: the slot, its lag in bytes and time,
/// and a warning when it is gone or holds much WAL.
pub fn sync_lag(lag: &crate::app::sync::SlotLag) -> String {
    let mut out = String::new();
    if !lag.exists {
        let _ = writeln!(
            out,
            "warning: the lake follows its source through slot {}, which is gone: \
             `strata sync --drop-slot` then `strata sync` start over from a new snapshot",
            lag.slot
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Sync: slot {} ({}), {} behind the source's WAL, last applied {} ({:.0}s ago)",
        lag.slot,
        if lag.active { "streaming" } else { "idle" },
        HumanBytes(lag.bytes.max(0) as u64),
        lag.applied_at,
        lag.seconds
    );
    if lag.bytes > SLOT_LAG_WARNING_BYTES {
        let _ = writeln!(
            out,
            "warning: slot {} keeps {} of WAL on the source: run `strata sync`, or \
             `strata sync --drop-slot` if the lake no longer follows it",
            lag.slot,
            HumanBytes(lag.bytes as u64)
        );
    }
    out
}
