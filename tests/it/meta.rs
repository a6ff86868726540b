//! The lake's record of itself: `meta.objects`, `meta.runs`, `meta.steps`,
//! the metrics file and alert rules, checked against the files on disk and
//! against runs that fail or are killed.

use crate::common::Project;
use sha2::{Digest, Sha256};

fn csv_rows(p: &Project, sql: &str) -> Vec<Vec<String>> {
    p.strata_ok(&["sql", "--format", "csv", "-c", sql])
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn sha256(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parquet_rows(path: &std::path::Path) -> u64 {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().num_rows() as u64
}

#[test]
fn object_records_match_the_files_on_disk() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let rows = csv_rows(
        &p,
        "SELECT object_key, size_bytes, row_count, checksum, layer, table_name, coalesce(partition, '-') \
         FROM meta.objects WHERE current ORDER BY object_key",
    );
    // Every data file on disk is recorded once as current, and nothing else is.
    let on_disk = p.current_keys();
    let recorded: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(recorded, on_disk);
    for r in &rows {
        let path = p.lake().join(&r[0]);
        assert_eq!(
            r[1],
            std::fs::metadata(&path).unwrap().len().to_string(),
            "{r:?}"
        );
        assert_eq!(r[3], sha256(&path), "{r:?}");
        let rows_in_file = if r[0].ends_with(".parquet") {
            parquet_rows(&path)
        } else {
            // The raw CSV: one header line, no embedded newlines in the fixture.
            std::fs::read_to_string(&path).unwrap().lines().count() as u64 - 1
        };
        assert_eq!(r[2], rows_in_file.to_string(), "{r:?}");
        assert!(r[0].starts_with(&format!("{}/{}/", r[4], r[5])), "{r:?}");
        if r[6] != "-" {
            assert!(r[0].contains(&format!("/{}/", r[6])), "{r:?}");
        }
    }
    // The first run's objects were superseded by the second's.
    let by_run = csv_rows(
        &p,
        "SELECT run_id, bool_and(current), bool_or(current), count(*) FROM meta.objects WHERE action = 'add' GROUP BY run_id ORDER BY run_id",
    );
    // The second run's commits removed every file the first had added.
    let removed = csv_rows(
        &p,
        "SELECT count(*), bool_or(current) FROM meta.objects WHERE action = 'remove'",
    );
    assert_eq!(removed[0][1], "false");
    assert_eq!(by_run.len(), 2, "{by_run:?}");
    assert_eq!(by_run[0][1..3], ["false".to_string(), "false".into()]);
    assert_eq!(by_run[1][1..3], ["true".to_string(), "true".into()]);
    assert_eq!(by_run[0][3], by_run[1][3]);
    assert_eq!(removed[0][0], by_run[0][3]);

    // The question, answered.
    let per_layer = csv_rows(
        &p,
        "SELECT layer, sum(size_bytes) FROM meta.objects WHERE current GROUP BY layer ORDER BY layer",
    );
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    for k in &on_disk {
        let layer = k.split('/').next().unwrap().to_string();
        *expected.entry(layer).or_default() += std::fs::metadata(p.lake().join(k)).unwrap().len();
    }
    let got: std::collections::BTreeMap<String, u64> = per_layer
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(got, expected);

    // Runs and steps.
    let runs = csv_rows(
        &p,
        "SELECT status, models_ok, models_failed, error IS NULL FROM meta.runs",
    );
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r[0], "succeeded");
        assert_eq!(r[2], "0");
        assert_eq!(r[3], "true");
    }
    let steps = csv_rows(
        &p,
        "SELECT model, rows_in, rows_out FROM meta.steps s JOIN meta.runs r USING (run_id) \
         WHERE r.run_id = (SELECT max(run_id) FROM meta.runs) AND model IN ('silver.sales', 'gold.fact_sales') ORDER BY model",
    );
    let silver: Vec<String> = csv_rows(&p, "SELECT count(*) FROM silver.sales")[0].clone();
    let raw: Vec<String> = csv_rows(&p, "SELECT count(*) FROM raw.sales")[0].clone();
    assert_eq!(
        steps[0],
        vec![
            "gold.fact_sales".to_string(),
            silver[0].clone(),
            silver[0].clone()
        ]
    );
    assert_eq!(
        steps[1],
        vec![
            "silver.sales".to_string(),
            raw[0].clone(),
            silver[0].clone()
        ]
    );
}

#[test]
fn a_failed_run_is_recorded_with_its_error_and_fires_the_alert_command() {
    let p = Project::new();
    p.write(
        "strata.toml",
        "[[alert]]\nname = \"pipeline failing\"\nwhen = \"error_count > 0\"\nover = \"24h\"\n\
         on_alert = \"cat > alert.json\"\n\n\
         [[alert]]\nname = \"never\"\nwhen = \"run_duration_p95 > 1h\"\non_alert = \"touch never\"\n",
    );
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    assert!(
        !p.path().join("alert.json").exists(),
        "no error yet, no alert"
    );

    p.write(
        "queries/gold/broken.sql",
        "SELECT no_such_column FROM silver.sales\n",
    );
    let out = p.strata(&["run", "--no-report", "--no-tests"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alert: pipeline failing"), "{stderr}");

    let runs = csv_rows(
        &p,
        "SELECT status, models_failed, error FROM meta.runs ORDER BY run_id",
    );
    assert_eq!(runs[0][0], "succeeded");
    assert_eq!(runs[1][0], "failed");
    assert_eq!(runs[1][1], "1");
    let error = runs[1][2..].join(",");
    assert!(
        error.contains("queries/gold/broken.sql") && error.contains("no_such_column"),
        "{error}"
    );
    let failed = csv_rows(
        &p,
        "SELECT model, status FROM meta.steps WHERE status <> 'ok'",
    );
    assert_eq!(
        failed,
        vec![vec!["gold.broken".to_string(), "failed".into()]]
    );

    let payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("alert.json")).unwrap())
            .unwrap();
    assert_eq!(payload["alert"], "pipeline failing");
    assert_eq!(payload["value"], 1.0);
    assert_eq!(payload["run_status"], "failed");
    assert!(
        payload["error"]
            .as_str()
            .unwrap()
            .contains("no_such_column")
    );
    assert!(
        !p.path().join("never").exists(),
        "a rule that holds no fires nothing"
    );

    let prom = std::fs::read_to_string(p.lake().join("_strata/metrics.prom")).unwrap();
    assert!(
        prom.contains("strata_runs_total{status=\"failed\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("strata_runs_total{status=\"succeeded\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("strata_model_steps_total{model=\"gold.broken\",status=\"failed\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("strata_run_duration_seconds_count 2"),
        "{prom}"
    );
}

/// Starts a run on 20,000 sales and kills it (SIGKILL) once it has
/// recorded its start.
fn kill_a_run_midway(p: &Project) {
    p.strata_ok(&[
        "fixtures", "--sales", "20000", "--seed", "5", "--out", "big.csv",
    ]);
    p.write("strata.toml", "source = \"big.csv\"\n");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["run", "--no-report", "-q"])
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = p.lake().join("_strata/meta/runs");
    let started = std::time::Instant::now();
    // A record is in place once `<run>.json` is: the store writes it aside
    // (`<run>.json#<n>`) and renames it in, and the test must not kill the
    // run between the two and find only the half-written file.
    let recorded = || {
        std::fs::read_dir(&runs).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    };
    while !recorded() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the run never recorded its start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_run_killed_midway_shows_as_interrupted() {
    let p = Project::new();
    kill_a_run_midway(&p);
    let runs = csv_rows(
        &p,
        "SELECT status, finished_at IS NULL, error FROM meta.runs",
    );
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0][0], "interrupted");
    assert_eq!(runs[0][1], "true");
    assert!(runs[0][2].contains("ended before the run did"), "{runs:?}");
}

#[test]
fn json_logs_are_one_object_per_event() {
    let p = Project::new();
    let out = p.strata(&[
        "run",
        "--no-report",
        "--no-tests",
        "-q",
        "--log-format",
        "json",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let built: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "model built")
        .collect();
    let models = std::fs::read_dir(crate::common::repo().join("queries"))
        .unwrap()
        .filter_map(|d| d.ok())
        // Example queries are not models: a run builds no table of them.
        .filter(|d| !["tests", "reports", "examples"].contains(&d.file_name().to_str().unwrap()))
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum::<usize>();
    assert_eq!(built.len(), models, "{stderr}");
    assert!(
        built
            .iter()
            .all(|e| e["rows"].is_u64() && e["run_id"].is_string())
    );
    let finished = events
        .iter()
        .find(|e| e["message"] == "run finished")
        .expect("a run event");
    assert_eq!(finished["status"], "succeeded");
}

#[test]
fn an_alert_webhook_gets_the_payload_by_post() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (request_line, String::from_utf8(body).unwrap())
    });
    let p = Project::new();
    p.write(
        "strata.toml",
        &format!(
            "[[alert]]\nname = \"any run\"\nwhen = \"runs >= 1\"\nwebhook = \"http://127.0.0.1:{port}/hooks/strata\"\n"
        ),
    );
    let out = p.strata(&["run", "--no-report", "--no-tests"]);
    assert!(out.status.success());
    let (request_line, body) = server.join().unwrap();
    assert!(
        request_line.starts_with("POST /hooks/strata HTTP/1.1"),
        "{request_line}"
    );
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["alert"], "any run");
    assert_eq!(payload["run_status"], "succeeded");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("webhook failed"));
}

#[test]
fn a_hung_alert_command_is_killed_at_its_timeout_and_the_run_goes_on() {
    let p = Project::new();
    p.write(
        "strata.toml",
        "[[alert]]\nname = \"any run\"\nwhen = \"runs >= 1\"\non_alert = \"sleep 600\"\n\
         timeout = \"1s\"\n",
    );
    let started = std::time::Instant::now();
    let out = p.strata(&["run", "--no-report", "--no-tests"]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A failed alert is reported, never a failed run.
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("alert: any run"), "{stderr}");
    assert!(
        stderr.contains("on_alert failed") && stderr.contains("did not finish within 1s"),
        "{stderr}"
    );
    // The command sleeps ten minutes; the run must not wait for it. The
    // bound is loose on purpose: it tells a hang from a timeout, not speed.
    assert!(took < std::time::Duration::from_secs(300), "{took:?}");
    let runs = csv_rows(&p, "SELECT status FROM meta.runs");
    assert_eq!(runs, vec![vec!["succeeded".to_string()]]);
}

#[test]
fn a_webhook_that_never_answers_times_out_as_a_failed_alert() {
    // Accepts the connection and reads, but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _server = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(std::time::Duration::from_secs(120));
        drop(held);
    });
    let p = Project::new();
    p.write(
        "strata.toml",
        &format!(
            "[[alert]]\nname = \"any run\"\nwhen = \"runs >= 1\"\n\
             webhook = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"1s\"\n"
        ),
    );
    let out = p.strata(&["run", "--no-report", "--no-tests"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("webhook failed") && stderr.contains("did not answer within 1s"),
        "{stderr}"
    );
}

#[test]
fn the_next_run_closes_a_killed_run_s_record_through_its_open_marker() {
    let p = Project::new();
    // The marker is written before the record, so it is there by now.
    kill_a_run_midway(&p);
    let open = p.lake().join("_strata/meta/open");
    let runs = p.lake().join("_strata/meta/runs");
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        1,
        "the killed run's marker"
    );
    let killed: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(killed.len(), 1);
    let stored = |path: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    assert_eq!(
        stored(&killed[0])["status"],
        "running",
        "as the kill left it"
    );

    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    assert_eq!(
        stored(&killed[0])["status"],
        "interrupted",
        "rewritten by the next run"
    );
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "no marker left by the killed run nor by the finished one"
    );
}

#[test]
fn a_run_reads_the_compacted_history_not_every_record() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests", "-q"]);
    // 10,000 past runs' records, unreadable on purpose: a run that read
    // every record would fail on the first. Metrics and alerts come from
    // the digest each run updates.
    let runs = p.lake().join("_strata/meta/runs");
    let steps = p.lake().join("_strata/meta/steps");
    for i in 0..10_000 {
        std::fs::write(
            runs.join(format!("19990101T000000.{i:05}Z-0000.json")),
            "not json",
        )
        .unwrap();
    }
    std::fs::write(steps.join("19990101T000000.00000Z-0000.jsonl"), "not json").unwrap();
    p.write(
        "strata.toml",
        "[[alert]]\nname = \"too many runs\"\nwhen = \"runs >= 2\"\nover = \"1h\"\n",
    );
    let out = p.strata(&["run", "--no-report", "--no-tests", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alert: too many runs"), "{stderr}");
    let prom = std::fs::read_to_string(p.lake().join("_strata/metrics.prom")).unwrap();
    assert!(
        prom.contains("strata_runs_total{status=\"succeeded\"} 2"),
        "{prom}"
    );
    assert!(
        prom.contains("strata_model_steps_total{model=\"gold.fact_sales\",status=\"ok\"} 2"),
        "{prom}"
    );
    // The records themselves are still what meta.runs reads (and this one
    // says which file is unreadable).
    let bad = p.strata(&["sql", "-c", "SELECT count(*) FROM meta.runs"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unreadable run record"));
}

#[test]
fn each_version_records_its_rows_and_exact_money_as_written() {
    use crate::common::oracle::{cents, clean_sales, money};
    let p = Project::new();
    p.strata_ok(&["run", "--no-report"]);
    let csv = std::fs::read_to_string(p.path().join("fixtures/legacy_sales.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    // Every raw line, duplicates included, and the silver rows: computed
    // here from the fixture's text, not by the lake.
    let raw_cents: i64 = lines
        .iter()
        .map(|l| cents(l.split(',').nth(12).unwrap()))
        .sum();
    let silver_cents: i64 = clean_sales(&csv).iter().map(|s| s.cents).sum();
    let got = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT t.layer, t.table_name, t.row_count, CAST(c.total AS DECIMAL(20, 2)) AS money \
         FROM meta.tables t JOIN meta.column_totals c \
           ON c.layer = t.layer AND c.table_name = t.table_name AND c.column_name = 'total_value' \
         WHERE t.table_name = 'sales' ORDER BY t.layer",
    ]);
    let silver_rows = clean_sales(&csv).len();
    assert_eq!(
        got,
        format!(
            "layer,table_name,row_count,money\n\
             bronze,sales,{n},{raw}\n\
             raw,sales,{n},{raw}\n\
             silver,sales,{silver_rows},{silver}\n",
            n = lines.len(),
            raw = money(raw_cents),
            silver = money(silver_cents),
        )
    );
}

#[test]
fn bronze_losing_money_fails_the_data_test_that_reads_the_recorded_totals() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report"]);
    // Bronze that drops a cent from every sale of one region: its rows are
    // all there, its recorded sum is not raw's.
    let model = p.path().join("queries/bronze/sales.sql");
    let sql = std::fs::read_to_string(&model).unwrap().replace(
        "total_value, updated_at,\n",
        "CASE WHEN region = 'Sul' THEN total_value - 0.01 ELSE total_value END AS total_value, updated_at,\n",
    );
    assert!(sql.contains("- 0.01"), "the model changed: {sql}");
    std::fs::write(&model, sql).unwrap();
    let out = p.strata(&["run", "--no-report"]);
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bronze_holds_every_raw_row"),
        "the test reading meta.column_totals fails: {text}"
    );
}
