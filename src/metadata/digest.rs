//! The run history compacted: what the metrics file and the alert rules
//! need, kept in one object (`_strata/meta/digest.json`) that each run
//! updates with its own record. A run then reads one small object, not
//! every record the lake has ever kept, so its start and its after-run work
//! cost the same with ten runs of history or ten thousand.
//!
//! All-time figures are counters and histogram buckets; windowed alert
//! rules look at the most recent ended runs, the last [`RECENT`] at most.

use std::collections::{BTreeMap, VecDeque};

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::metrics::BUCKETS;
use super::{History, ObjectRecord, RunRecord, RunStatus, StepOutcome, StepRecord};
use crate::error::{Error, Result};
use crate::lake::{Lake, LakeRoot};

/// Ended runs kept whole, newest last, for windowed rules.
pub const RECENT: usize = 1000;

/// A histogram in the metrics file's buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations at or under each of [`BUCKETS`], cumulative.
    pub buckets: Vec<u64>,
    /// Their sum.
    pub sum: f64,
    /// Their number.
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.buckets.len() != BUCKETS.len() {
            self.buckets = vec![0; BUCKETS.len()];
        }
        for (n, b) in self.buckets.iter_mut().zip(BUCKETS) {
            if v <= b {
                *n += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// One model's steps, all time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDigest {
    /// Durations of steps that ran (not skipped).
    pub seconds: Histogram,
    /// Steps by status (`ok`, `failed`, `skipped`).
    pub steps: BTreeMap<String, u64>,
    /// Rows written.
    pub rows_out: u64,
}

/// The history, compacted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Ended runs by status (`succeeded`, `failed`, `interrupted`).
    pub runs: BTreeMap<String, u64>,
    /// Durations of ended runs.
    pub run_seconds: Histogram,
    /// Durations of landing passes.
    pub watch_seconds: Histogram,
    /// Per model.
    pub models: BTreeMap<String, ModelDigest>,
    /// Objects added to the lake, by layer: (count, bytes).
    pub objects: BTreeMap<String, (u64, u64)>,
    /// Files loaded from the landing zone.
    pub landed_objects: u64,
    /// The most recent ended runs, oldest first.
    pub recent: VecDeque<RunRecord>,
}

impl Digest {
    /// Adds an ended run, with its steps and objects.
    pub fn fold(&mut self, run: &RunRecord, steps: &[StepRecord], objects: &[ObjectRecord]) {
        if run.status == RunStatus::Running || self.recent.iter().any(|r| r.run_id == run.run_id) {
            return;
        }
        *self.runs.entry(run.status.as_str().into()).or_default() += 1;
        if let Some(d) = run.duration_s {
            self.run_seconds.observe(d);
            if run.command.starts_with("watch") {
                self.watch_seconds.observe(d);
            }
        }
        for s in steps {
            let m = self.models.entry(s.model.clone()).or_default();
            if s.status != StepOutcome::Skipped {
                m.seconds.observe(s.duration_s);
            }
            *m.steps.entry(s.status.as_str().into()).or_default() += 1;
            m.rows_out += s.rows_out;
        }
        for o in objects.iter().filter(|o| o.action == "add") {
            let e = self.objects.entry(o.layer.clone()).or_default();
            e.0 += 1;
            e.1 += o.size_bytes;
            if o.object_key.contains("/landed/") {
                self.landed_objects += 1;
            }
        }
        self.recent.push_back(run.clone());
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// The digest of a whole history (for a lake from before digests).
    pub fn of(h: &History) -> Self {
        // Grouped once: a long history has many runs and many more records.
        let mut steps: BTreeMap<&str, Vec<StepRecord>> = BTreeMap::new();
        for s in &h.steps {
            steps.entry(&s.run_id).or_default().push(s.clone());
        }
        let mut objects: BTreeMap<&str, Vec<ObjectRecord>> = BTreeMap::new();
        for o in &h.objects {
            objects.entry(&o.run_id).or_default().push(o.clone());
        }
        let mut d = Digest::default();
        for r in &h.runs {
            let id = r.run_id.as_str();
            d.fold(
                r,
                steps.get(id).map_or(&[][..], Vec::as_slice),
                objects.get(id).map_or(&[][..], Vec::as_slice),
            );
        }
        d
    }

    /// The last ended run.
    pub fn last(&self) -> Option<&RunRecord> {
        self.recent.back()
    }
}

fn key() -> Path {
    Path::from(format!("{}/digest.json", super::dir()))
}

/// Reads the lake's digest; a lake from before digests gets one built from
/// its whole history, once.
pub async fn load(lake: &Lake) -> Result<Digest> {
    match lake.store().get(&key()).await {
        Ok(got) => parse(&got.bytes().await?),
        Err(object_store::Error::NotFound { .. }) => {
            update(lake, |_| {}).await?;
            parse(&lake.store().get(&key()).await?.bytes().await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The digest a lake without one starts from: its whole history, read
/// once (the run being recorded is in it already, and folds in once).
async fn initial(lake: &Lake) -> Result<Digest> {
    Ok(Digest::of(&History::load(lake).await?))
}

fn parse(bytes: &[u8]) -> Result<Digest> {
    serde_json::from_slice(bytes).map_err(|e| Error::Lake {
        key: key().to_string(),
        message: format!("unreadable digest: {e} (delete it: the next run rebuilds it)"),
    })
}

/// Changes the digest under a guard against another process doing the
/// same: a file lock on disk, a PUT conditional on the digest's ETag on S3
/// (retried when another writer got there first).
pub async fn update(lake: &Lake, change: impl Fn(&mut Digest)) -> Result<()> {
    let store = lake.store();
    match lake.root() {
        LakeRoot::Local(root) => {
            let lock_path = root.join(crate::lake::META_DIR).join("meta/digest.lock");
            if let Some(dir) = lock_path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| Error::io(&lock_path, e))?;
            // Held for one read and one write: brief, so waiting is fine.
            file.lock().map_err(|e| Error::io(&lock_path, e))?;
            let mut d = match store.get(&key()).await {
                Ok(got) => parse(&got.bytes().await?)?,
                Err(object_store::Error::NotFound { .. }) => initial(lake).await?,
                Err(e) => return Err(e.into()),
            };
            change(&mut d);
            let bytes = serde_json::to_vec(&d).expect("digests serialize");
            store.put(&key(), PutPayload::from(bytes)).await?;
            drop(file);
            Ok(())
        }
        LakeRoot::S3 { .. } => {
            for _ in 0..20 {
                let (mut d, mode) = match store.get(&key()).await {
                    Ok(got) => {
                        let version = UpdateVersion {
                            e_tag: got.meta.e_tag.clone(),
                            version: got.meta.version.clone(),
                        };
                        (parse(&got.bytes().await?)?, PutMode::Update(version))
                    }
                    Err(object_store::Error::NotFound { .. }) => {
                        (initial(lake).await?, PutMode::Create)
                    }
                    Err(e) => return Err(e.into()),
                };
                change(&mut d);
                let bytes = serde_json::to_vec(&d).expect("digests serialize");
                let opts = PutOptions {
                    mode,
                    ..Default::default()
                };
                match store.put_opts(&key(), PutPayload::from(bytes), opts).await {
                    Ok(_) => return Ok(()),
                    Err(object_store::Error::Precondition { .. })
                    | Err(object_store::Error::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Error::Lake {
                key: key().to_string(),
                message: "another process kept changing the digest; gave up after 20 tries".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, status: RunStatus, seconds: f64) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            command: "run".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: Some("2026-01-01T00:00:01Z".into()),
            status,
            models_ok: 0,
            models_failed: 0,
            models_skipped: 0,
            rows: 0,
            bytes: 0,
            duration_s: Some(seconds),
            error: None,
            pid: 1,
        }
    }

    #[test]
    fn folding_counts_each_run_once_and_keeps_the_recent_ones() {
        let mut d = Digest::default();
        d.fold(&run("a", RunStatus::Succeeded, 0.7), &[], &[]);
        d.fold(&run("a", RunStatus::Succeeded, 0.7), &[], &[]);
        d.fold(&run("b", RunStatus::Failed, 40.0), &[], &[]);
        d.fold(&run("c", RunStatus::Running, 1.0), &[], &[]);
        assert_eq!(d.runs["succeeded"], 1);
        assert_eq!(d.runs["failed"], 1);
        assert_eq!(d.run_seconds.count, 2);
        // le 0.5: none; le 1: a; le 60: both.
        assert_eq!(d.run_seconds.buckets[0], 0);
        assert_eq!(d.run_seconds.buckets[1], 1);
        assert_eq!(d.run_seconds.buckets[6], 2);
        for i in 0..(RECENT + 5) {
            d.fold(&run(&format!("r{i}"), RunStatus::Succeeded, 1.0), &[], &[]);
        }
        assert_eq!(d.recent.len(), RECENT);
        assert_eq!(d.last().unwrap().run_id, format!("r{}", RECENT + 4));
        assert_eq!(d.runs["succeeded"], 1 + RECENT as u64 + 5);
    }
}
