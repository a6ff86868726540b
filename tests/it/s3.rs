//! The lake on S3, against a real S3-compatible server on loopback
//! (moto_server): the same build as on disk, failures that leave the
//! previous tables whole, and clear errors for a missing bucket or refused
//! credentials.

use crate::common::Project;
use crate::common::s3::S3;

const LAKE: &str = "s3://lake/strata";

fn tables_as_csv(p: &Project, lake: &str) -> Vec<(String, String)> {
    let names = p.strata_ok(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "-c",
        "SHOW TABLES IN gold",
    ]);
    names
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .map(|t| {
            let sql = format!("SELECT * FROM gold.{t} ORDER BY ALL");
            let sql = sql.replace("ORDER BY ALL", &order_by_all(p, lake, &t));
            (
                t.clone(),
                p.strata_ok(&["sql", "--lake", lake, "--format", "csv", "-c", &sql]),
            )
        })
        .collect()
}

fn order_by_all(p: &Project, lake: &str, table: &str) -> String {
    let header = p.strata_ok(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "-c",
        &format!("SELECT * FROM gold.{table} LIMIT 0"),
    ]);
    let n = header.lines().next().unwrap_or_default().split(',').count();
    format!(
        "ORDER BY {}",
        (1..=n)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[test]
fn the_full_build_on_s3_equals_the_one_on_disk() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    p.strata_ok(&["run", "--lake", LAKE]);
    let local = tables_as_csv(&p, p.lake().to_str().unwrap());
    let remote = tables_as_csv(&p, LAKE);
    assert_eq!(local.len(), 6, "{local:?}");
    assert_eq!(local, remote);

    // The records, the metrics and the catalog work there too.
    let meta = p.strata_ok(&[
        "sql",
        "--lake",
        LAKE,
        "--format",
        "csv",
        "-c",
        "SELECT count(*) FROM meta.objects WHERE current AND layer = 'gold'",
    ]);
    let files: Vec<String> = s3
        .keys("lake", "strata/gold/")
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert_eq!(meta.lines().nth(1).unwrap(), files.len().to_string());
    assert!(s3.keys("lake", "strata/_strata/metrics.prom").len() == 1);
    let status = p.strata_ok(&["status", "--lake", LAKE]);
    assert!(status.contains("Lake s3://lake/strata"), "{status}");
    let ddl = p.strata_ok(&[
        "catalog",
        "ddl",
        "--lake",
        LAKE,
        "--select",
        "gold.daily_sales",
    ]);
    assert!(
        ddl.contains("LOCATION 's3://lake/strata/gold/daily_sales/'"),
        "{ddl}"
    );
    // No staging left behind, no lock held.
    assert!(s3.keys("lake", "strata/_strata/staging").is_empty());
    assert!(s3.keys("lake", "strata/_strata/lock").is_empty());
}

#[test]
fn a_failed_or_killed_run_on_s3_leaves_the_previous_tables_readable_and_correct() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    p.strata_ok(&["run", "--lake", LAKE, "--no-report", "--no-tests"]);
    let before = tables_as_csv(&p, LAKE);
    let fact_keys = s3.keys("lake", "strata/gold/fact_sales/");

    // A model failing while it runs: its table is untouched, files and all.
    let fact = std::fs::read_to_string(p.path().join("queries/gold/fact_sales.sql")).unwrap();
    p.write(
        "queries/gold/fact_sales.sql",
        &fact.replacen("SELECT", "SELECT CAST(s.region AS INT) AS boom,", 1),
    );
    let out = p.strata(&["run", "--lake", LAKE, "--no-report", "--no-tests"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(s3.keys("lake", "strata/gold/fact_sales/"), fact_keys);
    p.write("queries/gold/fact_sales.sql", &fact);
    assert_eq!(tables_as_csv(&p, LAKE), before);

    // A commit killed between copying the new files in and deleting the old
    // ones leaves both in the folder: Strata still reads exactly the
    // manifest's files, and the next run removes the strays.
    let file = fact_keys
        .iter()
        .find(|k| k.ends_with(".parquet"))
        .unwrap()
        .clone();
    let stray = file.replace(".parquet", "-stray.20000101T000000.000Z-dead.parquet");
    let got = p.strata_ok(&[
        "sql",
        "--lake",
        LAKE,
        "-c",
        &format!(
            "UNLOAD (SELECT * FROM gold.fact_sales) TO '{}' WITH (format = 'PARQUET')",
            p.path().join("copy").display()
        ),
    ]);
    let _ = got;
    let copy = std::fs::read_dir(p.path().join("copy"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    s3.put(&format!("/lake/{stray}"), &std::fs::read(copy).unwrap());
    assert!(s3.keys("lake", "strata/gold/fact_sales/").contains(&stray));
    assert_eq!(
        tables_as_csv(&p, LAKE),
        before,
        "a stray file changed what Strata reads"
    );
    // No version lists it: vacuum removes it (whatever the retention).
    p.strata_ok(&["vacuum", "--lake", LAKE]);
    assert!(!s3.keys("lake", "strata/gold/fact_sales/").contains(&stray));

    // A run killed at a random moment: every table still reads as its
    // manifest says.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["run", "--lake", LAKE, "--no-report", "--no-tests", "-q"])
        .current_dir(p.path())
        .envs(s3.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(tables_as_csv(&p, LAKE), before);
    // And the next run takes over the dead run's lock and finishes.
    p.strata_ok(&["run", "--lake", LAKE, "--no-report", "--no-tests"]);
    assert_eq!(tables_as_csv(&p, LAKE), before);
}

#[test]
fn a_missing_bucket_and_refused_credentials_are_clear_and_keep_secrets() {
    let s3 = S3::start(false);
    let p = Project::new().with_env(s3.env());
    let out = p.strata(&["run", "--lake", "s3://no-such-bucket/x"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the bucket no-such-bucket does not exist"),
        "{err}"
    );

    let guarded = S3::start(true);
    let p = Project::new().with_env(guarded.env());
    let out = p.strata(&["sql", "--lake", "s3://lake/x", "-c", "SELECT 1"]);
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out2 = p.strata(&["run", "--lake", "s3://lake/x"]);
    let err2 = String::from_utf8_lossy(&out2.stderr);
    assert_ne!(out2.status.code(), Some(0));
    assert!(err2.contains("the credentials were refused"), "{err2}");
    for text in [err.as_ref(), err2.as_ref()] {
        assert!(
            !text.contains("not-a-real-secret"),
            "a secret leaked: {text}"
        );
    }
}

#[test]
fn a_lock_held_by_a_live_process_refuses_a_second_run_on_s3() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    // Process 1 (init) is alive on this host: its lock is not stale.
    let host = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let holder = format!(
        r#"{{"host":"{host}","pid":1,"since":"{}"}}"#,
        chrono::Utc::now().to_rfc3339()
    );
    s3.put("/lake/strata/_strata/lock", holder.as_bytes());
    let out = p.strata(&["run", "--lake", LAKE, "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("locked by another strata run") && err.contains("process 1 on"),
        "{err}"
    );
    assert!(
        s3.keys("lake", "strata/gold/").is_empty(),
        "nothing was written"
    );
}

#[test]
fn watch_on_an_s3_lake_polls_the_landing_prefix() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    p.strata_ok(&["run", "--lake", LAKE, "--no-report", "--no-tests"]);
    let fixture =
        std::fs::read_to_string(crate::common::repo().join("fixtures/legacy_sales.csv")).unwrap();
    let mut lines = fixture.lines();
    let mut batch = format!("{}\n", lines.next().unwrap());
    for (i, l) in lines
        .filter(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|d| d.len() == 10 && d.contains('-'))
        })
        .take(4)
        .enumerate()
    {
        batch.push_str(&format!(
            "{},{}\n",
            300_000 + i,
            l.split_once(',').unwrap().1
        ));
    }
    s3.put("/lake/strata/landing/sales/batch.csv", batch.as_bytes());
    s3.put("/lake/strata/landing/sales/again.csv", batch.as_bytes());
    p.strata_ok(&["watch", "--once", "-q", "--lake", LAKE]);
    let count = p.strata_ok(&[
        "sql",
        "--lake",
        LAKE,
        "--format",
        "csv",
        "-c",
        "SELECT count(*) FROM gold.fact_sales WHERE sale_id >= 300000",
    ]);
    assert_eq!(
        count.lines().nth(1).unwrap(),
        "4",
        "loaded once, rebuilt into gold"
    );
    assert!(s3.keys("lake", "strata/landing/").is_empty());
    let landed: Vec<_> = s3
        .keys("lake", "strata/raw/sales/landed/")
        .into_iter()
        .collect();
    assert_eq!(landed.len(), 1, "{landed:?}");
}

#[test]
fn unload_writes_a_query_into_an_empty_s3_folder() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let unload = "UNLOAD (SELECT product_id, product_name FROM gold.dim_product) \
                  TO 's3://lake/exports/products' WITH (format = 'PARQUET')";
    let out = p.strata_ok(&["sql", "-c", unload]);
    assert!(
        out.contains("50 rows in 1 files unloaded to s3://lake/exports/products"),
        "{out}"
    );
    assert_eq!(
        s3.keys("lake", "exports/products/"),
        ["exports/products/part-00000.parquet"]
    );
    let again = p.strata(&["sql", "-c", unload]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn processes_that_take_over_a_stale_lock_at_once_never_both_hold_it() {
    let s3 = S3::start(false);
    s3.create_bucket("lake");
    let p = Project::new().with_env(s3.env());
    let run = [
        "run",
        "--lake",
        LAKE,
        "--select",
        "raw.sales",
        "--no-tests",
        "--no-report",
        "-q",
    ];
    p.strata_ok(&run);
    // A lock from a host that is gone, six hours old and more: stale.
    s3.put(
        "/lake/strata/_strata/lock",
        br#"{"host":"a-host-long-gone","pid":4242,"since":"2000-01-01T00:00:00Z"}"#,
    );
    let children: Vec<_> = (0..6)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
                .args(run)
                .current_dir(p.path())
                .env_remove("DATABASE_URL")
                .envs(s3.env())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut won = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        if out.status.success() {
            won += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("locked by another strata run"), "{err}");
        }
    }
    eprintln!("{won} of 6 processes took the lake in turn, the others found it locked");
    assert!(won >= 1, "one of them takes the stale lock");
    // Those that won held the lock one after another: their builds of
    // raw.sales never overlap in time.
    let steps = p.strata_ok(&[
        "sql",
        "--lake",
        LAKE,
        "--format",
        "csv",
        "-c",
        "SELECT CAST(started_at AS VARCHAR) AS s, duration_s FROM meta.steps \
         WHERE model = 'raw.sales' ORDER BY s",
    ]);
    let spans: Vec<(f64, f64)> = steps
        .lines()
        .skip(1)
        .map(|l| {
            let (t, d) = l.rsplit_once(',').unwrap();
            // Trino's text of a UTC timestamp: `2026-12-06 14:12:13.123456 UTC`.
            let start = chrono::NaiveDateTime::parse_from_str(
                t.strip_suffix(" UTC").unwrap_or(t),
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .unwrap()
            .and_utc()
            .timestamp_micros() as f64
                / 1e6;
            (start, start + d.parse::<f64>().unwrap())
        })
        .collect();
    assert_eq!(spans.len(), won + 1, "{steps}");
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "two runs built at once: {steps}");
    }
    assert!(s3.keys("lake", "strata/_strata/lock").is_empty());
}
