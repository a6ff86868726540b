//! Event-driven ingestion: files dropped in the landing zone are loaded once,
//! rebuild gold, and the bad ones go to quarantine or the dead-letter place.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Project;

/// `n` new sales in the fixture's shape, ids from `first`.
fn sales_csv(p: &Project, first: u64, n: usize) -> String {
    let fixture =
        std::fs::read_to_string(crate::common::repo().join("fixtures/legacy_sales.csv")).unwrap();
    let mut lines = fixture.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    // Rows whose dates the silver layer accepts (ISO), so each reaches gold.
    for (i, line) in lines
        .filter(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|d| d.len() == 10 && d.contains('-'))
        })
        .take(n)
        .enumerate()
    {
        let rest = line.split_once(',').unwrap().1;
        out.push_str(&format!("{},{rest}\n", first + i as u64));
    }
    let _ = p;
    out
}

/// Writes a file into the landing zone as a well-behaved producer does:
/// under a temporary name, then renamed.
fn land(p: &Project, name: &str, text: &str) {
    let dir = p.lake().join("landing/sales");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn scalar(p: &Project, sql: &str) -> String {
    p.strata_ok(&["sql", "--format", "csv", "-c", sql])
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn wait_for(p: &Project, what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}; the watcher said:\n{}",
            std::fs::read_to_string(p.path().join("watch.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    started.elapsed()
}

struct Watcher(Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watcher(p: &Project, extra: &[&str]) -> Watcher {
    let child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("watch")
        .args(["-q", "--debounce-ms", "300"])
        .args(extra)
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(p.path().join("watch.log")).unwrap())
        .spawn()
        .unwrap();
    Watcher(child)
}

fn landing_is_empty(p: &Project) -> bool {
    std::fs::read_dir(p.lake().join("landing/sales"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

fn check_landing(p: &Project, extra: &[&str]) {
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let facts = |p: &Project| {
        scalar(p, "SELECT count(*) FROM gold.fact_sales")
            .parse::<u64>()
            .unwrap()
    };
    let before = facts(p);
    let _w = watcher(p, extra);

    land(p, "batch-1.csv", &sales_csv(p, 800_000, 7));
    let took = wait_for(
        p,
        "the landed sales in gold",
        Duration::from_secs(60),
        || landing_is_empty(p) && facts(p) == before + 7,
    );
    eprintln!("landed file reached gold in {took:?}");

    // The same bytes under another name: recorded once, loaded once.
    land(p, "batch-1-again.csv", &sales_csv(p, 800_000, 7));
    wait_for(
        p,
        "the duplicate to be taken",
        Duration::from_secs(60),
        || landing_is_empty(p),
    );
    assert_eq!(facts(p), before + 7);
    assert_eq!(
        scalar(
            p,
            "SELECT count(*) FROM meta.objects WHERE object_key LIKE 'raw/sales/landed/%'"
        ),
        "1"
    );
    assert_eq!(
        scalar(p, "SELECT count(*) FROM raw.sales WHERE sale_id >= 800000"),
        "7"
    );
}

#[test]
fn a_landed_file_reaches_gold_within_seconds_and_a_duplicate_loads_once() {
    check_landing(&Project::new(), &[]);
}

#[test]
fn polling_lands_files_as_events_do() {
    check_landing(&Project::new(), &["--poll", "0.2"]);
}

#[test]
fn a_full_run_keeps_the_landed_rows() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    land(&p, "batch.csv", &sales_csv(&p, 700_000, 3));
    p.strata_ok(&["watch", "--once", "-q"]);
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    assert_eq!(
        scalar(
            &p,
            "SELECT count(*) FROM silver.sales WHERE sale_id >= 700000"
        ),
        "3"
    );
}

#[test]
fn a_malformed_row_is_quarantined_with_file_and_line_and_the_rest_loads() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let mut text = sales_csv(&p, 600_000, 4);
    // Line 3 (after the header and one good row) gets a bad quantity.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    fields[10] = "twelve".into();
    lines[2] = fields.join(",");
    // And one row with too few fields.
    lines.push("600099,2024-01-01,1".into());
    text = lines.join("\n") + "\n";
    land(&p, "mixed.csv", &text);
    p.strata_ok(&["watch", "--once", "-q"]);

    assert_eq!(
        scalar(&p, "SELECT count(*) FROM raw.sales WHERE sale_id >= 600000"),
        "3"
    );
    let out = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT file, line, reason FROM meta.quarantine ORDER BY line",
    ]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].starts_with("mixed.csv,3,")
            && rows[0].contains("quantity")
            && rows[0].contains("twelve"),
        "{out}"
    );
    assert!(
        rows[1].starts_with("mixed.csv,6,") && rows[1].contains("expected 14 fields, found 3"),
        "{out}"
    );
}

#[test]
fn a_broken_header_goes_to_the_dead_letter_place_with_its_reason_and_can_be_retried() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let good = sales_csv(&p, 500_000, 2);
    let broken = good.replacen("sale_id,sale_date", "id,sale_date", 1);
    land(&p, "broken.csv", &broken);
    let out = p.strata(&["watch", "--once", "-q"]);
    assert_eq!(out.status.code(), Some(1), "a dead letter fails the pass");

    let dead = p.lake().join("_strata/dead_letter");
    let sidecars = find(&dead, ".error.json");
    assert_eq!(sidecars.len(), 1, "{sidecars:?}");
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sidecars[0]).unwrap()).unwrap();
    assert_eq!(sidecar["file"], "broken.csv");
    assert!(
        sidecar["error"]
            .as_str()
            .unwrap()
            .contains("header does not match"),
        "{sidecar}"
    );
    assert!(
        sidecar["error"].as_str().unwrap().contains("id,sale_date"),
        "{sidecar}"
    );
    assert!(
        sidecar["context"]["expected_header"][0] == "sale_id",
        "{sidecar}"
    );
    assert!(!sidecar["trace"].as_array().unwrap().is_empty());
    // Nothing lost: the file itself sits beside its sidecar, unchanged.
    let kept = sidecars[0]
        .to_str()
        .unwrap()
        .trim_end_matches(".error.json")
        .to_string();
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), broken);
    assert!(landing_is_empty(&p));
    let runs = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT status, error FROM meta.runs WHERE command LIKE 'watch%'",
    ]);
    assert!(
        runs.contains("failed") && runs.contains("broken.csv"),
        "{runs}"
    );

    let list = p.strata_ok(&["dlq", "list"]);
    assert!(
        list.contains("broken.csv") && list.contains("header does not match"),
        "{list}"
    );
    let status = p.strata_ok(&["status"]);
    assert!(status.contains("Dead letters waiting: 1"), "{status}");

    // Fixed at the source and retried: the corrected bytes replace it.
    p.strata_ok(&["dlq", "retry", "broken.csv"]);
    assert!(p.lake().join("landing/sales/broken.csv").is_file());
    std::fs::write(p.lake().join("landing/sales/broken.csv"), &good).unwrap();
    p.strata_ok(&["watch", "--once", "-q"]);
    assert_eq!(
        scalar(&p, "SELECT count(*) FROM raw.sales WHERE sale_id >= 500000"),
        "2"
    );
    assert!(p.strata_ok(&["dlq", "list"]).contains("No dead letters"));
}

fn find(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(find(&path, suffix));
        } else if path.to_str().unwrap().ends_with(suffix) {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_parquet_file_lands_like_a_csv_and_a_wrong_one_is_a_dead_letter() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    p.strata_ok(&[
        "sql",
        "-c",
        "UNLOAD (SELECT sale_id + 400000 AS sale_id, sale_date, customer_id, customer_name, product_id, \
         product_name, category, seller_id, seller_name, region, quantity, unit_price, total_value, updated_at \
         FROM raw.sales WHERE sale_id <= 5) TO 'good' WITH (format = 'PARQUET')",
        "-c",
        "UNLOAD (SELECT sale_id FROM raw.sales) TO 'narrow' WITH (format = 'PARQUET')",
    ]);
    let one = |dir: &str| find(&p.path().join(dir), ".parquet").remove(0);
    let landing = p.lake().join("landing/sales");
    std::fs::create_dir_all(&landing).unwrap();
    std::fs::copy(one("good"), landing.join("good.parquet")).unwrap();
    std::fs::copy(one("narrow"), landing.join("narrow.parquet")).unwrap();
    let out = p.strata(&["watch", "--once", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        scalar(&p, "SELECT count(*) FROM raw.sales WHERE sale_id > 400000"),
        scalar(&p, "SELECT count(*) FROM raw.sales WHERE sale_id <= 5")
    );
    let list = p.strata_ok(&["dlq", "list"]);
    assert!(
        list.contains("narrow.parquet") && list.contains("column sale_date is missing"),
        "{list}"
    );
}
