//! The pipeline benchmark behind `strata bench` and `cargo bench`.
//!
//! Timings on a shared 2-core machine are noisy, so every figure is also
//! given as a ratio to a baseline measured in the same run on the same data:
//! DataFusion alone reading the legacy CSV (its own CSV reader, the same
//! schema) and writing it once as a single Parquet file. That is the least
//! work any tool must do to move the data; the ratio says what the whole
//! medallion build costs on top of it.
//!
//! When Python's `duckdb` package is installed, the same pipeline written
//! in DuckDB SQL (`benches/duckdb_pipeline.py`) is timed too, with the same
//! cores and memory limit, in rounds alternating with Strata's, and the
//! ratio of the medians printed: the peer to beat.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, SessionContext};

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use indicatif::{HumanBytes, HumanCount};

use super::Workspace;
use crate::config::{Config, LakeRoot, SourceSpec};
use crate::error::{Error, Result};
use crate::fixtures::{FixtureSpec, write_fixture};
use crate::runner::{self, Unobserved};

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Distinct sales to generate.
    pub sales: u64,
    /// Generator seed.
    pub seed: u64,
    /// Folder for the generated CSV, the baseline's output and the lake.
    pub work_dir: PathBuf,
    /// Project whose `queries/` are run.
    pub project_dir: PathBuf,
    /// Rounds of the whole pipeline (alternating with DuckDB's); the
    /// median is reported.
    pub rounds: usize,
    /// Cores and memory, for Strata and for DuckDB alike.
    pub resources: crate::config::Resources,
}

/// One measured phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What was measured.
    pub name: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The benchmark's figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Rows in the generated CSV.
    pub rows: u64,
    /// Its size in bytes.
    pub csv_bytes: u64,
    /// Baseline seconds (CSV -> one Parquet file, DataFusion alone).
    pub baseline: f64,
    /// Strata's phases (of its median round): each model, the data tests,
    /// the report, the whole build.
    pub phases: Vec<Phase>,
    /// Seconds of each round of Strata's whole run.
    pub strata_rounds: Vec<f64>,
    /// DuckDB's phases (of its median round), when it is installed.
    pub duckdb: Option<Vec<Phase>>,
    /// Seconds of each round of DuckDB's whole pipeline.
    pub duckdb_rounds: Vec<f64>,
}

/// The median of some seconds.
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

impl BenchReport {
    /// The figures as a table, with ratios to the baseline.
    pub fn render(&self) -> String {
        let mut t = new_table();
        t.set_header(["phase", "seconds", "x baseline"]);
        t.add_row([
            "baseline: CSV -> Parquet (DataFusion)".to_string(),
            format!("{:.2}", self.baseline),
            "1.00".to_string(),
        ]);
        for p in &self.phases {
            t.add_row([
                p.name.clone(),
                format!("{:.2}", p.seconds),
                format!("{:.2}", p.seconds / self.baseline),
            ]);
        }
        let mut text = format!(
            "{} rows, {} of CSV\n{t}\n",
            HumanCount(self.rows),
            HumanBytes(self.csv_bytes)
        );
        let rounds = |v: &[f64]| {
            v.iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        match &self.duckdb {
            Some(phases) => {
                let mut d = new_table();
                d.set_header(["DuckDB, same pipeline", "seconds", "x baseline"]);
                for p in phases {
                    d.add_row([
                        p.name.clone(),
                        format!("{:.2}", p.seconds),
                        format!("{:.2}", p.seconds / self.baseline),
                    ]);
                }
                let (strata, duck) = (median(&self.strata_rounds), median(&self.duckdb_rounds));
                text.push_str(&format!(
                    "{d}\nwhole pipeline, {} alternating rounds: strata {} s, duckdb {} s\n\
                     median strata / duckdb: {:.2}\n",
                    self.strata_rounds.len(),
                    rounds(&self.strata_rounds),
                    rounds(&self.duckdb_rounds),
                    strata / duck
                ));
            }
            None => text.push_str(&format!(
                "whole run, {} rounds: {} s (install Python's duckdb for the peer's figures)\n",
                self.strata_rounds.len(),
                rounds(&self.strata_rounds)
            )),
        }
        text
    }
}

/// Generates the data, measures the baseline, then builds the lake.
pub async fn run(spec: &BenchSpec) -> Result<BenchReport> {
    std::fs::create_dir_all(&spec.work_dir).map_err(|e| Error::io(&spec.work_dir, e))?;
    let csv = spec
        .work_dir
        .join(format!("legacy_sales_{}.csv", spec.sales));
    let generated = Instant::now();
    let stats = {
        let file = std::fs::File::create(&csv).map_err(|e| Error::io(&csv, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        write_fixture(
            FixtureSpec {
                sales: spec.sales,
                seed: spec.seed,
            },
            &mut out,
        )
        .map_err(|e| Error::io(&csv, e))?
    };
    let generate_seconds = generated.elapsed().as_secs_f64();
    let csv_bytes = std::fs::metadata(&csv)
        .map_err(|e| Error::io(&csv, e))?
        .len();

    let baseline = baseline(&csv, &spec.work_dir.join("baseline.parquet")).await?;

    let duckdb = duckdb_available();
    let (mut strata_runs, mut duck_runs) = (vec![], vec![]);
    for round in 0..spec.rounds.max(1) {
        // Alternating who goes first evens out a machine warming up.
        let duck_first = round % 2 == 1;
        if duck_first && duckdb {
            duck_runs.push(duckdb_round(spec, &csv)?);
        }
        strata_runs.push(strata_round(spec, &csv, generate_seconds).await?);
        if !duck_first && duckdb {
            duck_runs.push(duckdb_round(spec, &csv)?);
        }
    }
    let whole = |p: &[Phase]| p.last().map_or(f64::NAN, |p| p.seconds);
    let strata_rounds: Vec<f64> = strata_runs.iter().map(|p| whole(p)).collect();
    let duckdb_rounds: Vec<f64> = duck_runs.iter().map(|p| whole(p)).collect();
    let pick = |runs: Vec<Vec<Phase>>, rounds: &[f64]| {
        let m = median(rounds);
        runs.into_iter().find(|p| whole(p) == m)
    };
    Ok(BenchReport {
        rows: stats.rows,
        csv_bytes,
        baseline,
        phases: pick(strata_runs, &strata_rounds).unwrap_or_default(),
        duckdb: pick(duck_runs, &duckdb_rounds),
        strata_rounds,
        duckdb_rounds,
    })
}

/// Whether `python3` can import `duckdb`.
fn duckdb_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One round of DuckDB's pipeline, in a process of its own; its phases.
fn duckdb_round(spec: &BenchSpec, csv: &Path) -> Result<Vec<Phase>> {
    let script = spec.project_dir.join("benches/duckdb_pipeline.py");
    let work = spec.work_dir.join("duckdb");
    let memory = format!("{}MiB", spec.resources.memory_limit >> 20);
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(csv)
        .arg(&work)
        .arg(spec.resources.threads.to_string())
        .arg(memory)
        .output()
        .map_err(|e| Error::io(&script, e))?;
    if !out.status.success() {
        return Err(Error::Internal(format!(
            "bench: {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    // `[["raw", 1.2], ...]`, in the pipeline's order, the whole last.
    let phases: Vec<(String, f64)> = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Internal(format!("bench: {}: {e}", script.display())))?;
    Ok(phases
        .into_iter()
        .map(|(name, seconds)| Phase {
            name: match name.as_str() {
                "whole" => "duckdb: whole pipeline".to_string(),
                other => format!("duckdb: {other}"),
            },
            seconds,
        })
        .collect())
}

/// Notes when the last model finished.
struct LastFinish(std::sync::Mutex<Instant>);

impl runner::Observer for LastFinish {
    fn finished(&self, _step: &runner::Step) {
        *self.0.lock().expect("bench clock") = Instant::now();
    }
}

/// One round of Strata's whole run (models, data tests, report) on a new
/// lake; its phases, the whole run last.
async fn strata_round(spec: &BenchSpec, csv: &Path, generate_seconds: f64) -> Result<Vec<Phase>> {
    let lake_dir = spec.work_dir.join("lake");
    if lake_dir.exists() {
        std::fs::remove_dir_all(&lake_dir).map_err(|e| Error::io(&lake_dir, e))?;
    }
    let config = Config {
        resources: spec.resources,
        ..Config::for_project(
            &spec.project_dir,
            LakeRoot::Local(lake_dir.clone()),
            SourceSpec::Csv(csv.to_path_buf()),
        )
    };
    let started = Instant::now();
    let mut ws = Workspace::open(config).await?;
    if let Some(e) = ws.engine.take_source_error() {
        return Err(e);
    }
    let (engine, config) = (&ws.engine, &ws.config);
    let dag = ws.dag()?;
    let all = dag.select(&[])?;
    let checks = super::build::checks(config, false, true, true)?;
    let last_model = Arc::new(LastFinish(std::sync::Mutex::new(started)));
    let mut run = runner::run(
        engine,
        &dag,
        &all,
        &config.project_dir,
        last_model.clone(),
        &runner::new_run_id(),
        Some(&checks),
    )
    .await?;
    if !run.ok() {
        return Err(Error::Internal(format!(
            "bench: the build failed: {:?}",
            run.steps
        )));
    }
    let run_seconds = started.elapsed().as_secs_f64();
    let models_seconds = (*last_model.0.lock().expect("bench clock") - started).as_secs_f64();
    let outcomes = run.tests.take().unwrap_or_default();
    if let Some(bad) = outcomes.iter().find(|o| !o.passed()) {
        return Err(Error::Internal(format!(
            "bench: data test {} failed: {:?}",
            bad.name, bad.error
        )));
    }
    let report_seconds = match run.report.take() {
        Some(runner::data_tests::Reported {
            rows: Ok(_),
            seconds,
        }) => seconds,
        Some(runner::data_tests::Reported { rows: Err(e), .. }) => {
            return Err(Error::Internal(format!(
                "bench: the monthly report failed: {}",
                crate::error::user_message(&e)
            )));
        }
        None => {
            return Err(Error::Internal(
                "bench: the monthly report did not run".into(),
            ));
        }
    };
    let total = started.elapsed().as_secs_f64();

    let mut phases = vec![Phase {
        name: "generate the CSV (strata fixtures)".into(),
        seconds: generate_seconds,
    }];
    for s in &run.steps {
        phases.push(Phase {
            name: format!("model {}", s.table),
            seconds: s.seconds,
        });
    }
    for o in &outcomes {
        phases.push(Phase {
            name: format!("data test {} (beside the models)", o.name),
            seconds: o.seconds,
        });
    }
    phases.push(Phase {
        name: "all models (concurrent)".into(),
        seconds: models_seconds,
    });
    phases.push(Phase {
        name: "data tests and report after the last model".into(),
        seconds: run_seconds - models_seconds,
    });
    phases.push(Phase {
        name: "monthly report (beside the data tests)".into(),
        seconds: report_seconds,
    });
    phases.push(Phase {
        name: "strata run: models + tests + report".into(),
        seconds: total,
    });
    Ok(phases)
}

async fn baseline(csv: &Path, out: &Path) -> Result<f64> {
    if out.exists() {
        std::fs::remove_file(out).map_err(|e| Error::io(out, e))?;
    }
    let started = Instant::now();
    let ctx = SessionContext::new();
    // Arrow's CSV reader reads `""` as NULL, so the baseline needs every
    // column nullable (one reason Strata reads CSV itself).
    let schema = datafusion::arrow::datatypes::Schema::new(
        crate::source::sales_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    );
    let df = ctx
        .read_csv(
            csv.display().to_string(),
            CsvReadOptions::new().schema(&schema).has_header(true),
        )
        .await?;
    df.write_parquet(
        &out.display().to_string(),
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Figures of the extraction benchmark.
#[derive(Debug, Clone)]
pub struct ExtractReport {
    /// Rows in `public.sales`.
    pub rows: u64,
    /// Median seconds of `psql -c "COPY sales TO STDOUT (FORMAT csv)" > file`.
    pub psql: f64,
    /// Median seconds of `strata run --select raw.sales` (catalog, extract, write, swap).
    pub strata: f64,
    /// Rounds measured (alternating the two).
    pub rounds: usize,
}

impl ExtractReport {
    /// The figures as a table.
    pub fn render(&self) -> String {
        let mut t = new_table();
        t.set_header([
            "extract of public.sales",
            "median seconds",
            "rows/s",
            "x psql COPY",
        ]);
        for (name, s) in [
            ("psql COPY ... TO STDOUT (FORMAT csv) > file", self.psql),
            ("strata run --select raw.sales", self.strata),
        ] {
            t.add_row([
                name.to_string(),
                format!("{s:.2}"),
                format!("{:.0}", self.rows as f64 / s),
                format!("{:.2}", s / self.psql),
            ]);
        }
        format!(
            "{} rows, median of {} alternating rounds\n{t}\n",
            HumanCount(self.rows),
            self.rounds
        )
    }
}

/// Seeds `sales` generated sales into the `strata_bench` database of
/// DATABASE_URL's server (or of a throwaway cluster started for the
/// purpose), then times extracting them as [`extract`] does.
pub async fn extract_seeded(
    config: &Config,
    spec: &BenchSpec,
    rounds: usize,
    on_seeded: impl FnOnce(u64, f64),
) -> Result<ExtractReport> {
    use crate::source::postgres::{connect::PgConnector, seed};
    let (_cluster, url) = match &config.database_url {
        Some(url) => (None, url.clone()),
        None => {
            let c = crate::testing::Cluster::start()?;
            let url = c.url("strata_bench");
            (Some(c), url)
        }
    };
    let connector = PgConnector::new(&url, &config.pg_env)?.with_database("strata_bench");
    let seeded = seed::seed(
        &connector,
        seed::SeedData::Generated(FixtureSpec {
            sales: spec.sales,
            seed: spec.seed,
        }),
        true,
    )
    .await?;
    on_seeded(seeded.rows, seeded.seconds);
    let url = match url.rsplit_once('/') {
        Some((root, rest)) if !root.ends_with('/') => {
            let query = rest
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{root}/strata_bench{query}")
        }
        _ => url,
    };
    extract(config, &url, &spec.work_dir, rounds).await
}

/// Times extracting `public.sales` of `url` into the raw layer against
/// PostgreSQL's own COPY to a CSV file through `psql`, in alternating rounds.
pub async fn extract(
    config: &Config,
    url: &str,
    work_dir: &Path,
    rounds: usize,
) -> Result<ExtractReport> {
    use crate::source::postgres::connect::PgConnector;
    std::fs::create_dir_all(work_dir).map_err(|e| Error::io(work_dir, e))?;
    let connector = PgConnector::new(url, &config.pg_env)?;
    let rows: i64 = {
        let client = connector.connect().await?;
        client
            .query_one("SELECT count(*) FROM public.sales", &[])
            .await
            .map_err(|e| client.error(e))?
            .get(0)
    };
    let psql = crate::testing::find_bin_dir()
        .ok()
        .map(|d| d.join("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let csv = work_dir.join("psql_copy.csv");
    let lake = work_dir.join("extract_lake");
    let config = Config {
        pg_env: config.pg_env.clone(),
        ..Config::for_project(
            &config.project_dir,
            LakeRoot::Local(lake.clone()),
            SourceSpec::Postgres(url.to_string()),
        )
    };
    let (mut psql_times, mut strata_times) = (vec![], vec![]);
    for _ in 0..rounds.max(1) {
        let out = std::fs::File::create(&csv).map_err(|e| Error::io(&csv, e))?;
        let t = Instant::now();
        let status = std::process::Command::new(&psql)
            .args([
                url,
                "-X",
                "-q",
                "-c",
                "COPY public.sales TO STDOUT (FORMAT csv)",
            ])
            .stdout(out)
            .status()
            .map_err(|e| Error::io(&psql, e))?;
        psql_times.push(t.elapsed().as_secs_f64());
        if !status.success() {
            return Err(Error::source(format!("psql failed ({status})")));
        }

        let t = Instant::now();
        let mut ws = Workspace::open(config.clone()).await?;
        if let Some(e) = ws.engine.take_source_error() {
            return Err(e);
        }
        let dag = ws.dag()?;
        let raw = dag.select(&["raw.sales".to_string()])?;
        let run = runner::run(
            &ws.engine,
            &dag,
            &raw,
            &config.project_dir,
            Arc::new(Unobserved),
            &runner::new_run_id(),
            None,
        )
        .await?;
        strata_times.push(t.elapsed().as_secs_f64());
        if !run.ok() {
            return Err(Error::source(format!("extract failed: {:?}", run.steps)));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(ExtractReport {
        rows: rows as u64,
        psql: median(&mut psql_times),
        strata: median(&mut strata_times),
        rounds: rounds.max(1),
    })
}
