//! Alert rules as `strata.toml` writes them, parsed once when the settings
//! are read: a rule that cannot be evaluated is a configuration error before
//! anything runs, not a surprise after a run.
//!
//! ```toml
//! [[alert]]
//! name = "pipeline failing"
//! when = "success_rate < 0.99"
//! over = "24h"
//! on_alert = "mail -s 'strata alert' ops@example.com"
//! timeout = "30s"
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// How long an `on_alert` command or a webhook may take when the rule says
/// nothing: a hung alert must never hold up the run it reports on.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One rule as written in `strata.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleText {
    name: String,
    when: String,
    over: Option<String>,
    on_alert: Option<String>,
    webhook: Option<String>,
    timeout: Option<String>,
}

/// One alert rule, checked after each run.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// What the operator reads.
    pub name: String,
    /// The condition as written (`error_count > 0`), for the payload.
    pub when: String,
    /// The condition, parsed.
    pub condition: Condition,
    /// The window of runs the metric covers, as written and as a duration;
    /// all runs when absent.
    pub over: Option<(String, Duration)>,
    /// A shell command run when the rule fires.
    pub on_alert: Option<String>,
    /// An `http://` or `https://` URL the payload is POSTed to when the rule fires.
    pub webhook: Option<String>,
    /// How long the command and the webhook may take, each.
    pub timeout: Duration,
}

impl AlertRule {
    pub(super) fn parse(text: RuleText) -> Result<Self> {
        let duration = |what: &str, value: &str| {
            humantime::parse_duration(value.trim()).map_err(|e| {
                Error::Config(format!(
                    "alert {:?}: {what} {value:?} is not a duration (30s, 10m, 24h, 7d): {e}",
                    text.name
                ))
            })
        };
        let over = match &text.over {
            Some(w) => Some((w.clone(), duration("window", w)?)),
            None => None,
        };
        let timeout = match &text.timeout {
            Some(t) => duration("timeout", t)?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(AlertRule {
            condition: Condition::parse(&text.name, &text.when)?,
            name: text.name,
            when: text.when,
            over,
            on_alert: text.on_alert,
            webhook: text.webhook,
            timeout,
        })
    }
}

/// The metrics a rule may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Failed and interrupted runs in the window.
    ErrorCount,
    /// Succeeded runs over all runs in the window (1 when there are none).
    SuccessRate,
    /// Median run duration, seconds.
    RunDurationP50,
    /// 95th percentile run duration, seconds.
    RunDurationP95,
    /// Runs in the window.
    Runs,
    /// Dead letters waiting.
    DeadLetters,
    /// 1 when the last run did not succeed.
    LastRunFailed,
    /// WAL the source keeps for the lake's replication slot, bytes (0 for
    /// a lake that follows no source).
    SlotLagBytes,
    /// Seconds since the lake last applied a batch of its source's changes
    /// (0 for a lake that follows no source).
    SyncLagSeconds,
}

impl Metric {
    /// Every metric with its name in `strata.toml`.
    pub const ALL: [(Metric, &'static str); 9] = [
        (Metric::ErrorCount, "error_count"),
        (Metric::SuccessRate, "success_rate"),
        (Metric::RunDurationP50, "run_duration_p50"),
        (Metric::RunDurationP95, "run_duration_p95"),
        (Metric::Runs, "runs"),
        (Metric::DeadLetters, "dead_letters"),
        (Metric::LastRunFailed, "last_run_failed"),
        (Metric::SlotLagBytes, "slot_lag_bytes"),
        (Metric::SyncLagSeconds, "sync_lag_seconds"),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// A parsed condition: `metric op threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// What it tests.
    pub metric: Metric,
    op: Op,
    threshold: f64,
}

impl Condition {
    /// Parses `metric op value` (a number, or a duration such as `2m`,
    /// counted in seconds), naming the rule in errors.
    pub fn parse(rule: &str, text: &str) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("alert {rule:?}: {why} in {text:?}"));
        let ops = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ];
        let (at, len, op) = ops
            .iter()
            .find_map(|(s, op)| text.find(s).map(|i| (i, s.len(), *op)))
            .ok_or_else(|| bad("no comparison (>, >=, <, <=, =, !=)".into()))?;
        let name = text[..at].trim();
        let metric = Metric::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                let known: Vec<_> = Metric::ALL.iter().map(|(_, n)| *n).collect();
                bad(format!(
                    "unknown metric {name:?} (known: {})",
                    known.join(", ")
                ))
            })?;
        let value = text[at + len..].trim();
        let threshold = value
            .parse::<f64>()
            .ok()
            .or_else(|| {
                humantime::parse_duration(value)
                    .ok()
                    .map(|d| d.as_secs_f64())
            })
            .ok_or_else(|| bad("the value is not a number or a duration".into()))?;
        Ok(Condition {
            metric,
            op,
            threshold,
        })
    }

    /// Whether the metric's value makes the rule fire.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Gt => value > self.threshold,
            Op::Ge => value >= self.threshold,
            Op::Lt => value < self.threshold,
            Op::Le => value <= self.threshold,
            Op::Eq => value == self.threshold,
            Op::Ne => value != self.threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_with_units_and_name_their_rule() {
        let c = Condition::parse("slow", "run_duration_p95 > 2m").unwrap();
        assert!(c.holds(121.0) && !c.holds(120.0));
        let c = Condition::parse("rate", "success_rate < 0.99").unwrap();
        assert!(c.holds(0.5) && !c.holds(1.0));
        let e = Condition::parse("x", "errors > 0").unwrap_err().to_string();
        assert!(e.contains("\"x\"") && e.contains("unknown metric"), "{e}");
    }

    #[test]
    fn windows_and_timeouts_are_durations_checked_once() {
        let rule = |over: &str, timeout: Option<&str>| {
            AlertRule::parse(RuleText {
                name: "r".into(),
                when: "runs > 0".into(),
                over: Some(over.into()),
                on_alert: None,
                webhook: None,
                timeout: timeout.map(String::from),
            })
        };
        let r = rule("24h", None).unwrap();
        assert_eq!(r.over.unwrap().1, Duration::from_secs(86400));
        assert_eq!(r.timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            rule("7d", Some("2s")).unwrap().timeout,
            Duration::from_secs(2)
        );
        let e = rule("a while", None).unwrap_err().to_string();
        assert!(e.contains("window") && e.contains("a while"), "{e}");
    }
}
