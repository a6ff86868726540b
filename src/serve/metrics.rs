//! The server's own figures for Prometheus: statements answered, by
//! protocol and outcome, how long they took, and the clients connected.
//! `/metrics` serves them after the lake's (the run history's figures that
//! `strata run` also writes to `metrics.prom`).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Upper bounds of the statement-duration buckets, seconds: a dashboard's
/// query takes milliseconds, a scan of a large lake minutes.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];

/// How a client reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Via {
    /// PostgreSQL's wire protocol.
    Postgres,
    /// The HTTP API behind the live dashboard.
    Http,
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// Every row was sent.
    Ok,
    /// It failed: a bad statement, a missing table, an error while running.
    Error,
    /// A CancelRequest or the timeout stopped it, or its client went away.
    Cancelled,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Postgres => "postgres",
            Via::Http => "http",
        }
    }
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or under each bucket's bound (not cumulative).
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The figures, shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    statements: Mutex<std::collections::BTreeMap<(Via, Outcome), Histogram>>,
    connections: AtomicI64,
}

impl Metrics {
    /// Counts a statement that ended so, after so long.
    pub(crate) fn observe(&self, via: Via, outcome: Outcome, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut statements = self.statements.lock().expect("metrics lock");
        let h = statements.entry((via, outcome)).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// A client connected (`+1`) or went away (`-1`).
    pub(crate) fn connected(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let statements = self.statements.lock().expect("metrics lock").clone();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP strata_serve_statements_total Statements strata serve answered, by protocol and outcome.\n\
             # TYPE strata_serve_statements_total counter"
        );
        // Every series from the start, so that a rate over them is defined
        // before the first error.
        for via in [Via::Postgres, Via::Http] {
            for outcome in [Outcome::Ok, Outcome::Error, Outcome::Cancelled] {
                let n = statements.get(&(via, outcome)).map_or(0, |h| h.count);
                let _ = writeln!(
                    out,
                    "strata_serve_statements_total{{via=\"{}\",outcome=\"{}\"}} {n}",
                    via.label(),
                    outcome.label()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP strata_serve_statement_duration_seconds How long statements took, first byte to last row.\n\
             # TYPE strata_serve_statement_duration_seconds histogram"
        );
        for via in [Via::Postgres, Via::Http] {
            let mut all = Histogram::default();
            for ((v, _), h) in &statements {
                if *v == via {
                    for (a, b) in all.buckets.iter_mut().zip(h.buckets) {
                        *a += b;
                    }
                    all.sum += h.sum;
                    all.count += h.count;
                }
            }
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(all.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "strata_serve_statement_duration_seconds_bucket{{via=\"{}\",le=\"{bound}\"}} {cumulative}",
                    via.label()
                );
            }
            let _ = writeln!(
                out,
                "strata_serve_statement_duration_seconds_bucket{{via=\"{}\",le=\"+Inf\"}} {}\n\
                 strata_serve_statement_duration_seconds_sum{{via=\"{0}\"}} {}\n\
                 strata_serve_statement_duration_seconds_count{{via=\"{0}\"}} {1}",
                via.label(),
                all.count,
                all.sum
            );
        }
        let _ = writeln!(
            out,
            "# HELP strata_serve_connections PostgreSQL clients connected now.\n\
             # TYPE strata_serve_connections gauge\n\
             strata_serve_connections {}",
            self.connections.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_counted_by_outcome_into_cumulative_buckets() {
        let m = Metrics::default();
        m.observe(Via::Postgres, Outcome::Ok, Duration::from_millis(3));
        m.observe(Via::Postgres, Outcome::Error, Duration::from_millis(40));
        m.observe(Via::Postgres, Outcome::Cancelled, Duration::from_secs(1000));
        m.connected(2);
        m.connected(-1);
        let text = m.render();
        for line in [
            "strata_serve_statements_total{via=\"postgres\",outcome=\"ok\"} 1",
            "strata_serve_statements_total{via=\"postgres\",outcome=\"error\"} 1",
            "strata_serve_statements_total{via=\"http\",outcome=\"ok\"} 0",
            "strata_serve_statement_duration_seconds_bucket{via=\"postgres\",le=\"0.005\"} 1",
            "strata_serve_statement_duration_seconds_bucket{via=\"postgres\",le=\"0.05\"} 2",
            "strata_serve_statement_duration_seconds_bucket{via=\"postgres\",le=\"300\"} 2",
            "strata_serve_statement_duration_seconds_bucket{via=\"postgres\",le=\"+Inf\"} 3",
            "strata_serve_statement_duration_seconds_count{via=\"postgres\"} 3",
            "strata_serve_connections 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
