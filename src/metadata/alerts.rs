//! Alert rules from `strata.toml`, evaluated after each run. A firing rule
//! runs its `on_alert` command (the JSON payload on its stdin and in
//! `STRATA_ALERT`) and/or POSTs the payload to its `webhook`: the original
//! system's alarm and SNS e-mail, done locally.
//!
//! ```toml
//! [[alert]]
//! name = "pipeline failing"
//! when = "success_rate < 0.99"
//! over = "24h"
//! on_alert = "mail -s 'strata alert' ops@example.com"
//! ```

use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::History;
use super::metrics::Summary;
use crate::error::{Error, Result};

/// One rule as written in `strata.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// What the operator reads.
    pub name: String,
    /// `metric op value`: `error_count > 0`, `run_duration_p95 > 120s`.
    pub when: String,
    /// The window of runs the metric covers (`30m`, `24h`, `7d`); all runs
    /// when absent.
    pub over: Option<String>,
    /// A shell command run when the rule fires.
    pub on_alert: Option<String>,
    /// An `http://` URL the payload is POSTed to when the rule fires.
    pub webhook: Option<String>,
}

/// The metrics a rule may test.
pub const METRICS: [&str; 7] = [
    "error_count",
    "success_rate",
    "run_duration_p50",
    "run_duration_p95",
    "runs",
    "dead_letters",
    "last_run_failed",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    metric: String,
    op: Op,
    threshold: f64,
}

/// Seconds in a duration written `90`, `90s`, `30m`, `24h` or `7d`.
pub fn seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = number.trim().parse().ok()?;
    let scale = match unit.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(n * scale)
}

impl Condition {
    /// Parses `metric op value`, naming the rule in errors.
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
        let metric = text[..at].trim().to_string();
        if !METRICS.contains(&metric.as_str()) {
            return Err(bad(format!(
                "unknown metric {metric:?} (known: {})",
                METRICS.join(", ")
            )));
        }
        let threshold =
            seconds(&text[at + len..]).ok_or_else(|| bad("the value is not a number".into()))?;
        Ok(Condition {
            metric,
            op,
            threshold,
        })
    }

    fn holds(&self, value: f64) -> bool {
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

/// What a firing rule sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    /// The rule's name.
    pub alert: String,
    /// Its condition as written.
    pub condition: String,
    /// The metric's value that made it fire.
    pub value: f64,
    /// The window, as written.
    pub window: Option<String>,
    /// The lake.
    pub lake: String,
    /// The run after which it was evaluated.
    pub run_id: Option<String>,
    /// That run's status and error.
    pub run_status: Option<String>,
    /// That run's error, if any.
    pub error: Option<String>,
    /// When it fired (RFC 3339).
    pub fired_at: String,
}

/// Checks every rule against the history; returns the payloads of those
/// that fired, after delivering them. Delivery failures are reported, not
/// fatal: a broken alert command must not fail the run it reports on.
pub fn evaluate(
    rules: &[AlertRule],
    h: &History,
    dead_letters: u64,
    lake: &str,
) -> Result<Vec<Payload>> {
    let mut fired = Vec::new();
    let last = h.runs.last();
    for rule in rules {
        let condition = Condition::parse(&rule.name, &rule.when)?;
        let since = match &rule.over {
            Some(w) => {
                let s = seconds(w).ok_or_else(|| {
                    Error::Config(format!(
                        "alert {:?}: window {w:?} is not a duration",
                        rule.name
                    ))
                })?;
                Some(chrono::Utc::now() - chrono::Duration::milliseconds((s * 1000.0) as i64))
            }
            None => None,
        };
        let summary = Summary::of(h, since);
        let value = match condition.metric.as_str() {
            "error_count" => summary.errors as f64,
            "success_rate" => summary.success_rate,
            "run_duration_p50" => summary.duration_p50.unwrap_or(0.0),
            "run_duration_p95" => summary.duration_p95.unwrap_or(0.0),
            "runs" => summary.runs as f64,
            "dead_letters" => dead_letters as f64,
            "last_run_failed" => f64::from(u8::from(
                last.is_some_and(|r| r.status != super::RunStatus::Succeeded),
            )),
            _ => unreachable!("parse() admits only known metrics"),
        };
        if !condition.holds(value) {
            continue;
        }
        let payload = Payload {
            alert: rule.name.clone(),
            condition: rule.when.clone(),
            value,
            window: rule.over.clone(),
            lake: lake.to_string(),
            run_id: last.map(|r| r.run_id.clone()),
            run_status: last.map(|r| r.status.as_str().to_string()),
            error: last.and_then(|r| r.error.clone()),
            fired_at: super::now(),
        };
        let json = serde_json::to_string(&payload).expect("payload serializes");
        tracing::warn!(alert = %rule.name, condition = %rule.when, value, "alert fired");
        if let Some(cmd) = &rule.on_alert
            && let Err(e) = run_command(cmd, &json)
        {
            eprintln!("warning: alert {:?}: on_alert failed: {e}", rule.name);
        }
        if let Some(url) = &rule.webhook
            && let Err(e) = post(url, &json)
        {
            eprintln!("warning: alert {:?}: webhook failed: {e}", rule.name);
        }
        fired.push(payload);
    }
    Ok(fired)
}

fn run_command(cmd: &str, json: &str) -> std::io::Result<()> {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("STRATA_ALERT", json)
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores its stdin closes the pipe early; fine.
        let _ = stdin.write_all(json.as_bytes());
    }
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{cmd:?} exited with {status}"
        )))
    }
}

/// POSTs JSON to a plain `http://host[:port]/path` URL (a local relay or
/// chat webhook proxy); HTTPS needs a relay.
fn post(url: &str, json: &str) -> std::io::Result<()> {
    use std::io::Read;
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        std::io::Error::other("only http:// webhooks are supported (use a local relay for https)")
    })?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&addr)?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("cannot resolve {host}")))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addrs, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the webhook answered {:?}",
            response.lines().next().unwrap_or("nothing")
        )))
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
        assert_eq!(seconds("24h"), Some(86400.0));
        assert_eq!(seconds("90"), Some(90.0));
        assert_eq!(seconds("1w"), None);
    }
}
