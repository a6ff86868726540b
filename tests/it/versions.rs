//! Table versions: a query reads one version of each table whatever runs
//! meanwhile, on disk and on S3; time travel, rollback and vacuum; another
//! engine reads the Delta log; kill -9 leaves every table whole and nothing
//! stale after the next start.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use strata::config::{Config, Environment, Overrides, S3Env};

use crate::common::Project;
use crate::common::s3::S3;

const QUESTION: &str = "SELECT count(*), sum(total_sales) FROM gold.daily_sales";

/// `strata sql` answering one question, as CSV without its header.
fn ask(p: &Project, lake: &[&str], sql: &str) -> String {
    let mut args = vec!["sql", "--format", "csv"];
    args.extend_from_slice(lake);
    args.extend_from_slice(&["-c", sql]);
    let out = p.strata_ok(&args);
    out.lines().skip(1).collect::<Vec<_>>().join("\n")
}

/// A second source: another generated sales file, so the two runs' answers differ.
fn second_source(p: &Project) -> String {
    p.strata_ok(&[
        "fixtures", "--sales", "3000", "--seed", "11", "--out", "b.csv",
    ]);
    p.path().join("b.csv").display().to_string()
}

fn build(p: &Project, lake: &[&str], source: &str) {
    let mut args = vec!["run", "--no-report", "--no-tests", "-q", "--source", source];
    args.extend_from_slice(lake);
    p.strata_ok(&args);
}

/// Runs on the two sources alternate while readers ask the same question
/// again and again: every answer must be exactly one source's.
fn readers_agree_with_one_version(p: &Project, lake: &[&str], runs: usize, readers: usize) {
    let a_source = p
        .path()
        .join("fixtures/legacy_sales.csv")
        .display()
        .to_string();
    let b_source = second_source(p);
    build(p, lake, &b_source);
    let b = ask(p, lake, QUESTION);
    build(p, lake, &a_source);
    let a = ask(p, lake, QUESTION);
    assert_ne!(a, b, "the two sources must give different answers");

    let done = AtomicBool::new(false);
    let answers = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..readers {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let got = ask(p, lake, QUESTION);
                    answers.lock().unwrap().push(got);
                }
            });
        }
        for i in 0..runs {
            build(p, lake, if i % 2 == 0 { &b_source } else { &a_source });
        }
        done.store(true, Ordering::SeqCst);
    });
    let answers = answers.into_inner().unwrap();
    let wrong: Vec<&String> = answers.iter().filter(|x| **x != a && **x != b).collect();
    let seen: BTreeSet<&String> = answers.iter().collect();
    eprintln!(
        "reader consistency {lake:?}: {} answers during {runs} runs, {} inconsistent; seen {seen:?}",
        answers.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "answers of neither version: {wrong:?}");
    assert!(answers.len() >= readers * runs, "{} answers", answers.len());
}

/// A session opened on the current version, queried after a run replaced
/// the table: a query planned before the commit reads the old version
/// whole; the session's next statement reads the new one.
async fn a_session_sees_old_then_new(p: &Project, config: Config) {
    let ws = strata::app::Workspace::open(config).await.unwrap();
    let text = |batches: &[datafusion::arrow::array::RecordBatch]| {
        datafusion::arrow::util::pretty::pretty_format_batches(batches)
            .unwrap()
            .to_string()
    };
    let before = text(
        &strata::app::statement::execute(&ws, QUESTION)
            .await
            .unwrap(),
    );
    let planned = ws.engine.ctx().sql(QUESTION).await.unwrap();
    let lake: Vec<&str> = match &ws.config.lake {
        strata::config::LakeRoot::S3 { .. } => vec!["--lake", "s3://lake/strata"],
        strata::config::LakeRoot::Local(_) => vec![],
    };
    // The lake is on the shipped fixture now (the last run's source).
    let other = p.path().join("b.csv").display().to_string();
    build(p, &lake, &other);
    let old = text(&planned.collect().await.unwrap());
    assert_eq!(
        old, before,
        "a query planned before the commit reads the old version"
    );
    let after = text(
        &strata::app::statement::execute(&ws, QUESTION)
            .await
            .unwrap(),
    );
    assert_ne!(
        after, before,
        "the session's next statement reads the new version"
    );
    assert!(!after.contains("| 0 "), "never an empty table: {after}");
}

#[test]
fn readers_on_disk_see_one_version_of_a_table_while_runs_replace_it() {
    let p = Project::new();
    readers_agree_with_one_version(&p, &[], 4, 2);
    let config = Config::load(
        &Overrides {
            project: Some(p.path().to_path_buf()),
            ..Default::default()
        },
        &Environment::default(),
    )
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(a_session_sees_old_then_new(&p, config));
}

#[test]
fn readers_on_s3_see_one_version_of_a_table_while_runs_replace_it() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    let lake = ["--lake", "s3://lake/strata"];
    readers_agree_with_one_version(&p, &lake, 2, 2);
    let config = Config::load(
        &Overrides {
            project: Some(p.path().to_path_buf()),
            lake: Some("s3://lake/strata".into()),
            ..Default::default()
        },
        &Environment {
            s3: S3Env::from_pairs(s3.env()),
            ..Default::default()
        },
    )
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(a_session_sees_old_then_new(&p, config));
}

#[test]
fn time_travel_rollback_and_vacuum_honour_the_versions() {
    let p = Project::new();
    let b_source = second_source(&p);
    build(&p, &[], "fixtures/legacy_sales.csv");
    let a = ask(&p, &[], QUESTION);
    build(&p, &[], &b_source);
    let b = ask(&p, &[], QUESTION);

    // Time travel, by version and by instant.
    let v0 = format!("{QUESTION} FOR VERSION AS OF 0");
    assert_eq!(ask(&p, &[], &v0), a);
    let history = p.strata_ok(&["history", "gold.daily_sales"]);
    assert!(history.contains("2 version(s) kept"), "{history}");
    assert!(history.contains("1 (current)"), "{history}");
    assert!(history.contains("silver.sales@1"), "built from: {history}");
    let now = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let as_of = format!("{QUESTION} FOR TIMESTAMP AS OF TIMESTAMP '{now}'");
    assert_eq!(ask(&p, &[], &as_of), b);
    let err = p.strata(&["sql", "-c", &format!("{QUESTION} FOR VERSION AS OF 7")]);
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("has no version 7: its latest is 1"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );

    // Rolling raw back makes everything downstream stale (each table
    // records the versions it was built from); --changed rebuilds exactly
    // those, as make would, and not raw itself.
    p.strata_ok(&["rollback", "raw.sales", "--to", "0"]);
    let status = p.strata_ok(&["status"]);
    assert!(
        status.contains("bronze.sales") && status.contains("raw.sales is at version 2"),
        "{status}"
    );
    let rebuilt = p.strata_ok(&["run", "--changed", "--no-report", "--no-tests"]);
    assert!(rebuilt.contains("gold.daily_sales"), "{rebuilt}");
    assert!(rebuilt.contains("silver.sales"), "{rebuilt}");
    assert!(!rebuilt.contains("raw.sales"), "{rebuilt}");
    assert_eq!(
        ask(&p, &[], QUESTION),
        a,
        "gold rebuilt from raw's version 0"
    );
    assert!(p.strata_ok(&["status"]).contains("Stale tables: none"));
    // A --select that stops short says what it leaves behind.
    let partial = p.strata_ok(&["run", "--select", "raw.sales", "--no-report", "--no-tests"]);
    assert!(
        partial.contains("left stale")
            && partial.contains("bronze.sales (raw.sales is at version 3"),
        "{partial}"
    );
    p.strata_ok(&["run", "--changed", "--no-report", "--no-tests"]);

    // The default retention keeps everything this young; a tighter one
    // expires the old versions, and reading one says so.
    let kept = p.strata_ok(&["vacuum"]);
    assert!(kept.contains(": 0 file(s)"), "{kept}");
    assert_eq!(ask(&p, &[], &v0), a);
    let vacuumed = p.strata_ok(&["vacuum", "--keep-versions", "1", "--keep-for", "0s"]);
    assert!(!vacuumed.contains(": 0 file(s)"), "{vacuumed}");
    let err = p.strata(&["sql", "-c", &v0]);
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("version 0 is no longer kept"), "{stderr}");
    assert_eq!(ask(&p, &[], QUESTION), a, "the current version is whole");
    // Only the current versions' files are left.
    let listed: usize = p
        .current_manifests()
        .iter()
        .map(|(_, m)| m["files"].as_array().unwrap().len())
        .sum();
    assert_eq!(p.objects_on_disk().len(), listed);
}

#[test]
fn another_engine_reads_a_strata_table_through_its_delta_log() {
    let p = Project::new();
    let b_source = second_source(&p);
    build(&p, &[], "fixtures/legacy_sales.csv");
    let a = ask(
        &p,
        &[],
        "SELECT count(*), CAST(sum(total_sales) AS VARCHAR) FROM gold.daily_sales",
    );
    build(&p, &[], &b_source);
    let b = ask(
        &p,
        &[],
        "SELECT count(*), CAST(sum(total_sales) AS VARCHAR) FROM gold.daily_sales",
    );
    // The `deltalake` Python package (delta-rs): its own log reader, its
    // own Parquet reader and SQL engine.
    let script = r#"
import sys
from deltalake import DeltaTable, QueryBuilder
path = sys.argv[1]
for version in (0, 1):
    t = DeltaTable(path, version=version)
    q = "SELECT count(*) AS n, CAST(sum(total_sales) AS VARCHAR) AS s FROM t"
    r = QueryBuilder().register("t", t).execute(q).read_all()
    print(f"{r.column('n').to_pylist()[0]},{r.column('s').to_pylist()[0]}")
print(DeltaTable(path).version())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(p.lake().join("gold/daily_sales"))
        .output()
        .expect("python3 runs (CI installs the deltalake package: pip install deltalake)");
    assert!(
        out.status.success(),
        "the deltalake package could not read the table:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, [a.as_str(), b.as_str(), "1"], "{text}");
}

/// Spawns the binary with the project's settings.
fn spawn(p: &Project, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every table reads whole: as many rows as its current version lists.
fn every_table_is_whole(p: &Project) {
    for (table, m) in p.current_manifests() {
        let sql = format!("SELECT count(*) FROM {}", table.replace('/', "."));
        assert_eq!(
            ask(p, &[], &sql),
            m["rows"].to_string(),
            "{table} reads as its version {} says",
            m["version"]
        );
    }
}

#[test]
fn kill_9_at_random_instants_of_run_leaves_every_table_whole() {
    let p = Project::new();
    p.strata_ok(&[
        "fixtures", "--sales", "8000", "--seed", "5", "--out", "big.csv",
    ]);
    p.write("strata.toml", "source = \"big.csv\"\n");
    p.strata_ok(&["run", "--no-report", "--no-tests", "-q"]);
    let took = {
        let t = Instant::now();
        p.strata_ok(&["run", "--no-report", "--no-tests", "-q"]);
        t.elapsed()
    };
    // Instants spread over a whole run, from a fixed seed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let kills = 4;
    for i in 0..kills {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = took.mul_f64((x % 1000) as f64 / 1000.0);
        let mut child = spawn(&p, &["run", "--no-report", "--no-tests", "-q"]);
        std::thread::sleep(at);
        child.kill().unwrap();
        child.wait().unwrap();
        eprintln!("kill {i} at {at:?} of a {took:?} run");
        every_table_is_whole(&p);
    }
    // The next start brings everything up to date.
    p.strata_ok(&["run", "--changed", "--no-report", "-q"]);
    assert!(p.strata_ok(&["status"]).contains("Stale tables: none"));
    p.strata_ok(&["test"]);
}

#[test]
fn kill_9_during_a_watch_rebuild_is_made_good_on_restart() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests", "-q"]);
    let facts = || ask(&p, &[], "SELECT count(*) FROM gold.fact_sales");
    let before: u64 = facts().parse().unwrap();
    // A file with a bad row: its quarantine record must survive any kill.
    let header = std::fs::read_to_string(p.path().join("fixtures/legacy_sales.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let fixture = std::fs::read_to_string(p.path().join("fixtures/legacy_sales.csv")).unwrap();
    let iso = fixture
        .lines()
        .skip(1)
        .find(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|d| d.len() == 10 && d.contains('-'))
        })
        .unwrap();
    let good = format!("900001,{}", iso.split_once(',').unwrap().1);
    let columns = header.split(',').count();
    let bad = format!("900002{}", ",x".repeat(columns));
    let landed = format!("{header}\n{good}\n{bad}\n");
    let dir = p.lake().join("landing/sales");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.csv.tmp"), &landed).unwrap();
    std::fs::rename(dir.join("b.csv.tmp"), dir.join("b.csv")).unwrap();

    // Killed once raw.sales has the rows, before gold does.
    let mut child = spawn(&p, &["watch", "-q", "--debounce-ms", "100"]);
    let started = Instant::now();
    loop {
        let raw = ask(
            &p,
            &[],
            "SELECT count(*) FROM raw.sales WHERE sale_id = 900001",
        );
        if raw == "1" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never landed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stale = p.strata_ok(&["status"]);
    let rebuilt_before_kill = facts().parse::<u64>().unwrap() == before + 1;
    if !rebuilt_before_kill {
        assert!(
            stale.contains("bronze.sales"),
            "the pending rebuild is recorded: {stale}"
        );
    }
    // The restart rebuilds what the kill left stale, with nothing landed.
    p.strata_ok(&["watch", "--once", "-q"]);
    assert_eq!(facts().parse::<u64>().unwrap(), before + 1);
    assert!(p.strata_ok(&["status"]).contains("Stale tables: none"));
    assert_eq!(
        ask(
            &p,
            &[],
            "SELECT count(*) FROM meta.quarantine WHERE file = 'b.csv'"
        ),
        "1",
        "the bad row is quarantined once"
    );
}
