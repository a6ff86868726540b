//! What a run shows while it works: a live line per running model on a
//! terminal, plain start/finish lines otherwise (logs, CI).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Step, StepStatus};

/// Progress display for one run.
pub struct Progress {
    multi: MultiProgress,
    live: bool,
    quiet: bool,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

/// The live line of one running model.
#[derive(Clone)]
pub struct Bar(ProgressBar);

impl Bar {
    /// Reports rows written so far.
    pub fn rows(&self, rows: u64) {
        self.0.set_message(format!("{} rows", thousands(rows)));
    }
}

impl Progress {
    /// Live lines when stderr is a terminal; `quiet` prints nothing at all.
    pub fn new(quiet: bool) -> Self {
        let live = !quiet && std::io::stderr().is_terminal();
        let target = if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            live,
            quiet,
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// A model started.
    pub fn start(&self, table: &str) -> Bar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<26} {msg} {elapsed}")
                .expect("valid template"),
        );
        bar.set_prefix(table.to_string());
        bar.set_message("planning");
        if self.live {
            bar.enable_steady_tick(Duration::from_millis(120));
        } else if !self.quiet {
            eprintln!("start {table}");
        }
        self.bars
            .lock()
            .expect("progress lock")
            .insert(table.to_string(), bar.clone());
        Bar(bar)
    }

    /// A model finished (or was skipped).
    pub fn finish(&self, step: &Step) {
        if let Some(bar) = self.bars.lock().expect("progress lock").remove(&step.table) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if self.quiet {
            return;
        }
        let line = match &step.status {
            StepStatus::Ok => format!(
                "ok    {:<26} {:>12} rows {:>6} files {:>10} {:>7.2}s",
                step.table,
                thousands(step.rows),
                step.files,
                bytes(step.bytes),
                step.seconds
            ),
            StepStatus::Failed(e) => format!("FAIL  {:<26} {e}", step.table),
            StepStatus::Skipped(why) => format!("skip  {:<26} ({why})", step.table),
        };
        if self.live {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count for people (`1.5 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
