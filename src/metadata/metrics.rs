//! The lake's health as numbers: computed from the run history, exported in
//! Prometheus' text format (`<lake>/_strata/metrics.prom`, for a node
//! exporter's textfile collector), and read by alert rules and `status`.

use std::fmt::Write;

use super::digest::{Digest, Histogram};
use super::{History, RunRecord, RunStatus};

/// Upper bounds of the duration histograms' buckets, seconds.
pub const BUCKETS: [f64; 9] = [0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// Figures over the runs that started within a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Runs in the window (running ones included).
    pub runs: u64,
    /// Runs that succeeded.
    pub succeeded: u64,
    /// Runs that failed or were interrupted.
    pub errors: u64,
    /// succeeded / ended runs; 1 when none ended.
    pub success_rate: f64,
    /// Median duration of ended runs, seconds.
    pub duration_p50: Option<f64>,
    /// 95th percentile duration of ended runs, seconds.
    pub duration_p95: Option<f64>,
}

/// The `q` quantile (nearest rank) of some values.
fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

fn started_after(started_at: &str, since: Option<chrono::DateTime<chrono::Utc>>) -> bool {
    match since {
        None => true,
        Some(since) => chrono::DateTime::parse_from_rfc3339(started_at)
            .is_ok_and(|t| t.with_timezone(&chrono::Utc) >= since),
    }
}

impl Summary {
    /// Summarises the runs that started at or after `since` (all if `None`).
    pub fn of(h: &History, since: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        Self::of_runs(h.runs.iter(), since)
    }

    /// Summarises those of `runs` that started at or after `since`.
    pub fn of_runs<'a>(
        runs: impl Iterator<Item = &'a RunRecord>,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        let runs: Vec<_> = runs
            .filter(|r| started_after(&r.started_at, since))
            .collect();
        let succeeded = runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count() as u64;
        let errors = runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Failed | RunStatus::Interrupted))
            .count() as u64;
        let durations: Vec<f64> = runs.iter().filter_map(|r| r.duration_s).collect();
        let ended = succeeded + errors;
        Summary {
            runs: runs.len() as u64,
            succeeded,
            errors,
            success_rate: if ended == 0 {
                1.0
            } else {
                succeeded as f64 / ended as f64
            },
            duration_p50: quantile(&durations, 0.5),
            duration_p95: quantile(&durations, 0.95),
        }
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (i, b) in BUCKETS.iter().enumerate() {
        let n = h.buckets.get(i).copied().unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The lake's figures in Prometheus' text exposition format, from the
/// compacted history, the runs now running, the quarantined rows and the
/// dead letters waiting.
pub fn prometheus(d: &Digest, running: u64, quarantined: u64, dead_letters: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP strata_runs_total Runs recorded in the lake, by how they ended.\n# TYPE strata_runs_total counter"
    );
    for status in [
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Interrupted,
    ] {
        let n = d.runs.get(status.as_str()).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "strata_runs_total{{status=\"{}\"}} {n}",
            status.as_str()
        );
    }
    let _ = writeln!(out, "strata_runs_total{{status=\"running\"}} {running}");
    let _ = writeln!(
        out,
        "# HELP strata_run_duration_seconds Wall time of ended runs.\n# TYPE strata_run_duration_seconds histogram"
    );
    histogram(&mut out, "strata_run_duration_seconds", "", &d.run_seconds);
    let _ = writeln!(
        out,
        "# HELP strata_model_duration_seconds Wall time of each model's steps.\n# TYPE strata_model_duration_seconds histogram"
    );
    for (model, m) in &d.models {
        histogram(
            &mut out,
            "strata_model_duration_seconds",
            &format!("model=\"{}\"", escape(model)),
            &m.seconds,
        );
    }
    let _ = writeln!(
        out,
        "# HELP strata_model_steps_total Model steps, by status.\n# TYPE strata_model_steps_total counter"
    );
    for (model, m) in &d.models {
        for status in super::StepOutcome::ALL {
            let n = m.steps.get(status.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "strata_model_steps_total{{model=\"{}\",status=\"{}\"}} {n}",
                escape(model),
                status.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP strata_model_rows_written_total Rows written by each model.\n# TYPE strata_model_rows_written_total counter"
    );
    for (model, m) in &d.models {
        let _ = writeln!(
            out,
            "strata_model_rows_written_total{{model=\"{}\"}} {}",
            escape(model),
            m.rows_out
        );
    }
    let _ = writeln!(
        out,
        "# HELP strata_objects_written_total Objects written into the lake, by layer.\n# TYPE strata_objects_written_total counter"
    );
    for (layer, (n, _)) in &d.objects {
        let _ = writeln!(
            out,
            "strata_objects_written_total{{layer=\"{}\"}} {n}",
            escape(layer)
        );
    }
    let _ = writeln!(
        out,
        "# HELP strata_bytes_written_total Bytes written into the lake, by layer.\n# TYPE strata_bytes_written_total counter"
    );
    for (layer, (_, b)) in &d.objects {
        let _ = writeln!(
            out,
            "strata_bytes_written_total{{layer=\"{}\"}} {b}",
            escape(layer)
        );
    }
    if let Some(last) = d.last() {
        let t = last
            .finished_at
            .as_deref()
            .and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "# HELP strata_last_run_success 1 if the last ended run succeeded.\n# TYPE strata_last_run_success gauge\nstrata_last_run_success {}",
            u8::from(last.status == RunStatus::Succeeded)
        );
        let _ = writeln!(
            out,
            "# HELP strata_last_run_timestamp_seconds When the last ended run ended.\n# TYPE strata_last_run_timestamp_seconds gauge\nstrata_last_run_timestamp_seconds {t}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP strata_landed_objects_total Files loaded from the landing zone.\n# TYPE strata_landed_objects_total counter\nstrata_landed_objects_total {}",
        d.landed_objects
    );
    let _ = writeln!(
        out,
        "# HELP strata_quarantined_rows_total Rows of landed files set aside (meta.quarantine).\n# TYPE strata_quarantined_rows_total counter\nstrata_quarantined_rows_total {quarantined}"
    );
    let _ = writeln!(
        out,
        "# HELP strata_watch_pass_duration_seconds Wall time of each landing pass (load and rebuild).\n# TYPE strata_watch_pass_duration_seconds histogram"
    );
    histogram(
        &mut out,
        "strata_watch_pass_duration_seconds",
        "",
        &d.watch_seconds,
    );
    let _ = writeln!(
        out,
        "# HELP strata_dead_letters Files waiting in the dead-letter place.\n# TYPE strata_dead_letters gauge\nstrata_dead_letters {dead_letters}"
    );
    out
}

/// How far the lake's replication slot is behind its source (read by
/// `app::sync::lag`).
#[derive(Debug, Clone)]
pub struct SlotLag {
    /// The slot.
    pub slot: String,
    /// Whether it exists on the server still.
    pub exists: bool,
    /// Whether a sync is streaming from it now.
    pub active: bool,
    /// WAL the server keeps for it: its position to the server's.
    pub bytes: i64,
    /// When bronze last took a batch (or was built from the snapshot).
    pub applied_at: String,
    /// Seconds since then.
    pub seconds: f64,
}

/// The gauges of a lake that follows its source through a replication
/// slot: the WAL the source keeps for it, the seconds since the lake last
/// applied a batch, and whether the slot still exists.
pub fn slot_lag(lag: &SlotLag) -> String {
    let slot = lag.slot.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::new();
    for (name, help, value) in [
        (
            "strata_sync_slot_lag_bytes",
            "WAL the source keeps for the lake's replication slot, in bytes.",
            lag.bytes as f64,
        ),
        (
            "strata_sync_lag_seconds",
            "Seconds since the lake last applied a batch of its source's changes.",
            lag.seconds,
        ),
        (
            "strata_sync_slot_exists",
            "1 while the lake's replication slot exists on its source.",
            f64::from(u8::from(lag.exists)),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name}{{slot=\"{slot}\"}} {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v = [3.0, 1.0, 2.0, 10.0];
        assert_eq!(quantile(&v, 0.5), Some(2.0));
        assert_eq!(quantile(&v, 0.95), Some(10.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
