//! Shared test fixtures: a throwaway project (a copy of `queries/` and the
//! shipped fixture) with its own lake, the real binary, and a session over it.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::RecordBatch;
use strata::config::{Config, Environment, Overrides};
use strata::engine::Engine;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary project: `queries/` copied from the repo, the shipped fixture,
/// and a lake under it.
pub struct Project {
    pub dir: tempfile::TempDir,
    /// Variables the binary gets (an S3 endpoint and its credentials).
    pub env: Vec<(String, String)>,
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&repo().join("queries"), &dir.path().join("queries"));
        std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
        std::fs::copy(
            repo().join("fixtures/legacy_sales.csv"),
            dir.path().join("fixtures/legacy_sales.csv"),
        )
        .unwrap();
        Project { dir, env: vec![] }
    }

    /// The same project, its commands run with these variables.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// The same project without the shipped models, tests and reports.
    pub fn without_models() -> Self {
        let p = Project::new();
        std::fs::remove_dir_all(p.path().join("queries")).unwrap();
        std::fs::create_dir_all(p.path().join("queries")).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn lake(&self) -> PathBuf {
        self.path().join("s3")
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Runs the real binary in the project, with no STRATA_* variables.
    pub fn strata(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(args)
            .current_dir(self.path())
            .env_remove("STRATA_LAKE")
            .env_remove("STRATA_SOURCE")
            .env_remove("STRATA_PROJECT")
            // DATABASE_URL names the tests' server (common::pg), not these
            // projects' source: PostgreSQL tests pass their URL explicitly.
            .env_remove("DATABASE_URL")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run strata")
    }

    /// Runs and asserts success, returning stdout.
    pub fn strata_ok(&self, args: &[&str]) -> String {
        let out = self.strata(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A session over the project's source and lake, as the binary builds it.
    pub async fn engine(&self) -> Engine {
        self.workspace().await.engine
    }

    /// The project's workspace (config, engine), as `strata sql` opens it.
    pub async fn workspace(&self) -> strata::app::Workspace {
        let config = Config::load(
            &Overrides {
                project: Some(self.path().to_path_buf()),
                ..Default::default()
            },
            &Environment::default(),
        )
        .unwrap();
        strata::app::Workspace::open(config).await.unwrap()
    }

    /// The files of every table's current version, each with a
    /// fingerprint of its bytes, named without the run's tag
    /// (`part-00000.<run>.parquet` as `part-00000.parquet`): the lake's
    /// content, for comparing runs.
    pub fn data_files(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        for (table, m) in self.current_manifests() {
            for f in m["files"].as_array().unwrap() {
                let key = f["key"].as_str().unwrap();
                let bytes = std::fs::read(self.lake().join(&table).join(key)).unwrap();
                out.push((format!("{table}/{}", untagged(key)), fingerprint(&bytes)));
            }
        }
        out.sort();
        out
    }

    /// Every table's content as a re-run must reproduce it: its partition
    /// folders, and a fingerprint of its rows in a canonical order (the
    /// order files hold them in, and how a folder's rows are split between
    /// files, may differ between runs when models run on several cores).
    pub async fn table_contents(&self) -> Vec<(String, Vec<String>, String)> {
        let engine = self.engine().await;
        let mut out = vec![];
        for (table, m) in self.current_manifests() {
            let mut folders: Vec<String> = m["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let key = f["key"].as_str().unwrap();
                    key.rsplit_once('/').map_or("", |(d, _)| d).to_string()
                })
                .collect();
            folders.dedup();
            let batches = query(
                &engine,
                &format!("SELECT * FROM {}", table.replace('/', ".")),
            )
            .await;
            let mut rows = vec![];
            for b in &batches {
                let columns: Vec<String> = (0..b.num_columns())
                    .map(|c| format!("{:?}", b.column(c).data_type()))
                    .collect();
                for r in 0..b.num_rows() {
                    let values: Vec<String> = (0..b.num_columns())
                        .map(|c| {
                            datafusion::arrow::util::display::array_value_to_string(b.column(c), r)
                                .unwrap()
                        })
                        .collect();
                    rows.push(format!("{}|{}", columns.join(","), values.join("\u{1f}")));
                }
            }
            rows.sort();
            out.push((
                table,
                folders,
                format!(
                    "{} rows {}",
                    rows.len(),
                    fingerprint(rows.join("\n").as_bytes())
                ),
            ));
        }
        out
    }

    /// Every object under the lake's table folders, bookkeeping (`_strata`,
    /// the logs) left out: what is on disk, whatever version it belongs to.
    pub fn objects_on_disk(&self) -> Vec<String> {
        let mut out = vec![];
        walk(&self.lake(), &self.lake(), &mut out);
        out.sort();
        out
    }

    /// Each table's current manifest (the latest entry of its log), by its
    /// folder (`gold/fact_sales`).
    pub fn current_manifests(&self) -> Vec<(String, serde_json::Value)> {
        let mut out = vec![];
        let Ok(layers) = std::fs::read_dir(self.lake()) else {
            return out;
        };
        for layer in layers {
            let layer = layer.unwrap().path();
            let name = layer.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('_') || name == "landing" || !layer.is_dir() {
                continue;
            }
            for table in std::fs::read_dir(&layer).unwrap() {
                let table = table.unwrap().path();
                let Ok(entries) = std::fs::read_dir(table.join("_strata_log")) else {
                    continue;
                };
                let mut logs: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
                logs.sort();
                let Some(last) = logs.last() else { continue };
                let m: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(last).unwrap()).unwrap();
                let rel = table
                    .strip_prefix(self.lake())
                    .unwrap()
                    .display()
                    .to_string();
                out.push((rel, m));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The keys (`layer/table/file`) of every table's current files, sorted.
    pub fn current_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .current_manifests()
            .into_iter()
            .flat_map(|(table, m)| {
                m["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| format!("{table}/{}", f["key"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    /// The path of a current file named without its tag:
    /// `raw/sales/part-00000.csv` finds `raw/sales/part-00000.<run>.csv`.
    pub fn current_file(&self, rel: &str) -> PathBuf {
        for (table, m) in self.current_manifests() {
            for f in m["files"].as_array().unwrap() {
                let key = f["key"].as_str().unwrap();
                if format!("{table}/{}", untagged(key)) == rel {
                    return self.lake().join(&table).join(key);
                }
            }
        }
        panic!("no current file {rel} in the lake")
    }
}

/// A file key without the run tag before its extension.
pub fn untagged(key: &str) -> String {
    let (dir, name) = match key.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), key),
    };
    match name.split_once('.') {
        Some((stem, rest)) if name.starts_with("part-") => {
            let ext = rest.rsplit('.').next().unwrap();
            format!("{dir}{stem}.{ext}")
        }
        _ => key.to_string(),
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if rel.starts_with("_strata") || name.starts_with('_') {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(rel);
        }
    }
}

/// A content fingerprint (FNV-1a and length): enough to tell two runs apart.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}-{}", bytes.len())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Runs SQL and collects the result.
pub async fn query(engine: &Engine, sql: &str) -> Vec<RecordBatch> {
    engine
        .ctx()
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a query returning one row of one value, as text.
pub async fn scalar(engine: &Engine, sql: &str) -> String {
    let batches = query(engine, sql).await;
    let batch = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    datafusion::arrow::util::display::array_value_to_string(batch.column(0), 0).unwrap()
}
pub mod oracle;
pub mod pg;
pub mod s3;
