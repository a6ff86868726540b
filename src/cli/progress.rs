//! What a run shows while it works: a live line per running model on a
//! terminal, plain start/finish lines otherwise (logs, CI).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{
    HumanBytes, HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

use crate::lake::TableId;
use crate::runner::{Observer, Step, StepStatus};

/// Progress display for one run.
pub struct Progress {
    multi: MultiProgress,
    live: bool,
    quiet: bool,
    bars: Mutex<HashMap<TableId, ProgressBar>>,
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
}

impl Observer for Progress {
    fn started(&self, table: &TableId) {
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
            .insert(table.clone(), bar);
    }

    fn rows(&self, table: &TableId, rows: u64) {
        if let Some(bar) = self.bars.lock().expect("progress lock").get(table) {
            bar.set_message(format!("{} rows", HumanCount(rows)));
        }
    }

    fn finished(&self, step: &Step) {
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
                step.table.to_string(),
                HumanCount(step.rows).to_string(),
                step.files,
                HumanBytes(step.bytes).to_string(),
                step.seconds
            ),
            StepStatus::Failed(e) => format!("FAIL  {:<26} {e}", step.table.to_string()),
            StepStatus::Skipped(why) => format!("skip  {:<26} ({why})", step.table.to_string()),
        };
        if self.live {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}
