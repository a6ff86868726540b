//! Alert rules (parsed with the settings, [`crate::config::alert`]),
//! evaluated after each run. A firing rule runs its `on_alert` command (the
//! JSON payload on its stdin and in `STRATA_ALERT`) and/or POSTs the payload
//! to its `webhook`: the original system's alarm and SNS e-mail, done
//! locally. Both run off the async runtime's workers and under the rule's
//! timeout: a hung command is killed and reported as a failed alert, and the
//! run it reports on goes on.

use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::digest::Digest;
use super::metrics::Summary;
use crate::config::alert::{AlertRule, Metric};
use crate::error::Result;

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
/// that fired, after delivering them. Delivery failures (a failing or hung
/// command, a webhook that does not answer 2xx) are reported, not fatal: a
/// broken alert must not fail the run it reports on.
pub async fn evaluate(
    rules: &[AlertRule],
    d: &Digest,
    dead_letters: u64,
    lag: Option<&super::metrics::SlotLag>,
    lake: &str,
) -> Result<Vec<Payload>> {
    let mut fired = Vec::new();
    let last = d.last();
    for rule in rules {
        let since = rule.over.as_ref().map(|(_, window)| {
            chrono::Utc::now()
                - chrono::Duration::from_std(*window).unwrap_or(chrono::Duration::MAX)
        });
        // Windows look at the most recent ended runs the digest keeps.
        let summary = Summary::of_runs(d.recent.iter(), since);
        let value = match rule.condition.metric {
            Metric::ErrorCount => summary.errors as f64,
            Metric::SuccessRate => summary.success_rate,
            Metric::RunDurationP50 => summary.duration_p50.unwrap_or(0.0),
            Metric::RunDurationP95 => summary.duration_p95.unwrap_or(0.0),
            Metric::Runs => summary.runs as f64,
            Metric::DeadLetters => dead_letters as f64,
            Metric::LastRunFailed => f64::from(u8::from(
                last.is_some_and(|r| r.status != super::RunStatus::Succeeded),
            )),
            Metric::SlotLagBytes => lag.map_or(0.0, |l| l.bytes as f64),
            Metric::SyncLagSeconds => lag.map_or(0.0, |l| l.seconds),
        };
        if !rule.condition.holds(value) {
            continue;
        }
        let payload = Payload {
            alert: rule.name.clone(),
            condition: rule.when.clone(),
            value,
            window: rule.over.as_ref().map(|(text, _)| text.clone()),
            lake: lake.to_string(),
            run_id: last.map(|r| r.run_id.clone()),
            run_status: last.map(|r| r.status.as_str().to_string()),
            error: last.and_then(|r| r.error.clone()),
            fired_at: crate::sys::now(),
        };
        let json = serde_json::to_string(&payload).expect("payload serializes");
        tracing::warn!(alert = %rule.name, condition = %rule.when, value, "alert fired");
        if let Some(cmd) = &rule.on_alert
            && let Err(e) = run_command(cmd, &json, rule.timeout).await
        {
            eprintln!("warning: alert {:?}: on_alert failed: {e}", rule.name);
        }
        if let Some(url) = &rule.webhook
            && let Err(e) = post(url, &json, rule.timeout).await
        {
            eprintln!("warning: alert {:?}: webhook failed: {e}", rule.name);
        }
        fired.push(payload);
    }
    Ok(fired)
}

/// Runs `cmd` with the payload on its stdin, as a child process the
/// runtime waits on without blocking a worker; killed past `timeout`.
async fn run_command(cmd: &str, json: &str, timeout: Duration) -> std::io::Result<()> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("STRATA_ALERT", json)
        .stdin(Stdio::piped())
        // Its own process group, so a timeout kills what the shell started
        // too: a grandchild left running would hold our stdout and stderr
        // open, and whoever reads them would wait for it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let group = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let stdin = child.stdin.take();
    let done = async {
        if let Some(mut stdin) = stdin {
            // A command that ignores its stdin closes the pipe early; fine.
            let _ = stdin.write_all(json.as_bytes()).await;
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, done).await {
        Ok(status) => status?,
        Err(_) => {
            if let Some(group) = group {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.kill().await;
            return Err(std::io::Error::other(format!(
                "{cmd:?} did not finish within {} and was killed",
                humantime::format_duration(timeout)
            )));
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{cmd:?} exited with {status}"
        )))
    }
}

/// POSTs the payload as JSON; any 2xx answer within `timeout` is delivery.
async fn post(url: &str, json: &str, timeout: Duration) -> std::result::Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(json.to_string())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!(
                    "{url} did not answer within {}",
                    humantime::format_duration(timeout)
                )
            } else {
                format!("{url}: {e}")
            }
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {status}"))
    }
}
