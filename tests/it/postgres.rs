//! The legacy source as a real PostgreSQL server: seeding, extraction,
//! types, pushdown, parallel reads, failures. The server is a throwaway
//! cluster the tests start (or the one `DATABASE_URL` names).

use crate::common::{Project, pg, query};
use datafusion::arrow::util::pretty::pretty_format_batches;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every row of a table, sorted, as text: a content fingerprint of a table.
async fn rows(project: &Project, sql: &str) -> String {
    let engine = project.engine().await;
    pretty_format_batches(&query(&engine, sql).await)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_then_run_builds_the_same_gold_layer_as_the_fixture() {
    let url = pg::url("seeded_fixture");
    let from_csv = Project::new();
    from_csv.strata_ok(&["run", "--no-report"]);

    let from_pg = Project::new();
    let out = from_pg.strata_ok(&["seed", "--database-url", &url, "--replace"]);
    assert!(out.contains("loaded 513 rows"), "{out}");
    from_pg.write("strata.toml", &format!("source = \"{url}\"\n"));
    let out = from_pg.strata_ok(&["run"]);
    assert!(out.contains("Data tests: 8 passed, 0 failed"), "{out}");

    for table in [
        "gold.dim_customer",
        "gold.dim_product",
        "gold.dim_seller",
        "gold.dim_date",
        "gold.fact_sales",
        "gold.daily_sales",
        "silver.sales_quarantine",
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY 1, 2");
        assert_eq!(
            rows(&from_pg, &sql).await,
            rows(&from_csv, &sql).await,
            "{table}"
        );
    }
    // raw holds what the database holds: the fixture's rows, possibly in
    // another order (parallel ranges), byte for byte per line.
    let sorted = |p: &std::path::Path| {
        let mut lines: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(&from_pg.current_file("raw/sales/part-00000.csv")),
        sorted(&from_csv.current_file("raw/sales/part-00000.csv"))
    );

    // A second seed without --replace refuses to touch the rows.
    let again = from_pg.strata(&["seed", "--database-url", &url]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("--replace"), "{}", text(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_type_round_trips_to_parquet_and_back() {
    let url = pg::fresh_database("types_db").await;
    let client = pg::client("types_db").await;
    client
        .batch_execute(
            "CREATE TYPE mood AS ENUM ('sad', 'happy');
             CREATE DOMAIN money2 AS numeric(12,2);
             CREATE TABLE every_type (
                 id int2, i4 int4, i8 int8, f4 real, f8 double precision,
                 n numeric(14,2), nu numeric, m money2, t text, v varchar(10), c char(3),
                 b bool, d date, ts timestamp, tstz timestamptz, tm time,
                 iv interval, u uuid, j json, jb jsonb, by bytea, e mood,
                 ai int4[], at text[]
             );
             INSERT INTO every_type VALUES
               (1, -2147483648, 9223372036854775807, 1.5, -2.25,
                -123456789012.34, 3.1415926535, 19.99, 'tëxt', 'var', 'ab', true,
                '2024-02-29', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59+02', '13:14:15.5',
                '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                '{\"a\": 1}', '{\"b\": [1, 2]}', '\\x00ff', 'happy',
                '{1,NULL,3}', '{\"x\",\"\"}'),
               (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
        )
        .await
        .unwrap();
    let project = Project::without_models();
    project.write(
        "queries/raw/every_type.sql",
        "SELECT * FROM legacy.every_type",
    );
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    let out = project.strata_ok(&[
        "run",
        "--select",
        "raw.every_type",
        "--no-tests",
        "--no-report",
    ]);
    assert!(out.contains("raw.every_type"), "{out}");

    let engine = project.engine().await;
    let types = engine.ctx().table("raw.every_type").await.unwrap();
    let types: Vec<String> = types
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        types.join(", "),
        "id Int16, i4 Int32, i8 Int64, f4 Float32, f8 Float64, n Decimal128(14, 2), \
         nu Decimal128(38, 10), m Decimal128(12, 2), t Utf8, v Utf8, c Utf8, b Boolean, \
         d Date32, ts Timestamp(µs), tstz Timestamp(µs, \"UTC\"), tm Time64(µs), iv Utf8, u Utf8, \
         j Utf8, jb Utf8, by Binary, e Utf8, ai List(Int32), at List(Utf8)"
    );
    let got = rows(&project, "SELECT * FROM raw.every_type ORDER BY id").await;
    let lines: Vec<&str> = got.lines().collect();
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    assert_eq!(
        cells(lines[3]),
        [
            "1",
            "-2147483648",
            "9223372036854775807",
            "1.5",
            "-2.25",
            "-123456789012.34",
            "3.1415926535",
            "19.99",
            "tëxt",
            "var",
            "ab",
            "true",
            "2024-02-29",
            "2024-02-29T23:59:59.123456",
            "2024-02-29T21:59:59Z",
            "13:14:15.500",
            "P1Y2M3DT4H5M6.5S",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{\"a\": 1}",
            "{\"b\": [1, 2]}",
            "00ff",
            "happy",
            "[1, , 3]",
            "[x, ]"
        ],
        "{got}"
    );
    // The second row is NULL in every column but its id.
    let nulls = cells(lines[4]);
    assert_eq!(nulls[0], "2");
    assert!(nulls[1..].iter().all(String::is_empty), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_arrow_cannot_hold_are_errors_naming_column_and_row() {
    let url = pg::fresh_database("bad_values_db").await;
    let client = pg::client("bad_values_db").await;
    client
        .batch_execute(
            "CREATE TABLE prices (id int, price numeric(12,2), seen date, spot point);
             INSERT INTO prices VALUES (1, 1.00, '2024-01-01', '(1,2)'), (2, 'NaN', 'infinity', '(3,4)');",
        )
        .await
        .unwrap();
    let project = Project::new();
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    let engine = project.engine().await;
    let err = |sql: &'static str| {
        let engine = &engine;
        async move {
            let df = engine.ctx().sql(sql).await;
            match df {
                Err(e) => e.to_string(),
                Ok(df) => df.collect().await.unwrap_err().to_string(),
            }
        }
    };
    let nan = err("SELECT id, price FROM legacy.prices").await;
    assert!(nan.contains("column price"), "{nan}");
    assert!(nan.contains("row ctid (0,2)"), "{nan}");
    assert!(nan.contains("NaN"), "{nan}");
    let inf = err("SELECT seen FROM legacy.prices").await;
    assert!(
        inf.contains("column seen") && inf.contains("infinity"),
        "{inf}"
    );
    let point = err("SELECT * FROM legacy.prices").await;
    assert!(
        point.contains("legacy.prices")
            && point.contains("spot")
            && point.contains("point")
            && point.contains("view"),
        "{point}"
    );
    // The readable columns of that table still work.
    let ok = query(&engine, "SELECT id FROM legacy.prices ORDER BY id").await;
    assert_eq!(ok.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_projection_and_limit_reach_the_sql_sent() {
    let url = pg::url("pushdown_db");
    let project = Project::new();
    project.strata_ok(&["seed", "--database-url", &url, "--replace"]);
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    let engine = project.engine().await;
    let plan = |sql: String| {
        let engine = &engine;
        async move {
            pretty_format_batches(&query(engine, &format!("EXPLAIN {sql}")).await)
                .unwrap()
                .to_string()
        }
    };
    let p = plan("SELECT sale_id FROM legacy.sales WHERE quantity > 10 AND region = 'Sul'".into())
        .await;
    assert!(
        p.contains("SELECT \"sale_id\", \"region\", \"quantity\", ctid FROM \"public\".\"sales\" WHERE \"quantity\" > 10 AND \"region\" = 'Sul'"),
        "{p}"
    );
    let p = plan("SELECT sale_id FROM legacy.sales LIMIT 5".into()).await;
    assert!(p.contains("LIMIT 5"), "{p}");
    // Text ranges are not sent: collations differ between the two engines.
    let p = plan("SELECT sale_id FROM legacy.sales WHERE region > 'N'".into()).await;
    assert!(!p.contains("\"region\" >"), "{p}");
    // And the answers are right.
    let n = crate::common::scalar(
        &engine,
        "SELECT count(*) FROM legacy.sales WHERE quantity > 10 AND region = 'Sul'",
    )
    .await;
    let client = pg::client("pushdown_db").await;
    let want: i64 = client
        .query_one(
            "SELECT count(*) FROM sales WHERE quantity > 10 AND region = 'Sul'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, want.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_read_returns_exactly_the_rows_of_a_serial_read() {
    let url = pg::url("parallel_db");
    let project = Project::new();
    pg::seed(&project, &url, 30000, 9);
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    let engine = project.engine().await;
    let plan = pretty_format_batches(&query(&engine, "EXPLAIN SELECT * FROM legacy.sales").await)
        .unwrap()
        .to_string();
    assert!(plan.contains("partitions=2"), "{plan}");
    assert!(plan.contains("ctid >= '(0,0)'::tid AND ctid <"), "{plan}");

    // Parallel: strata's extract; serial: PostgreSQL's own COPY on one connection.
    project.strata_ok(&["run", "--select", "raw.sales", "--no-tests", "--no-report"]);
    let mut parallel: Vec<String> =
        std::fs::read_to_string(project.current_file("raw/sales/part-00000.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(String::from)
            .collect();
    let client = pg::client("parallel_db").await;
    let stream = client
        .copy_out("COPY sales TO STDOUT (FORMAT csv)")
        .await
        .unwrap();
    use futures::TryStreamExt;
    let bytes: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let serial_text = String::from_utf8(bytes.concat()).unwrap();
    let mut serial: Vec<String> = serial_text.lines().map(String::from).collect();
    assert!(serial.len() > 30_000);
    parallel.sort();
    serial.sort();
    assert!(
        parallel == serial,
        "the parallel extract differs from PostgreSQL's own COPY"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_extract_fails_the_run_and_keeps_the_lake() {
    let url = pg::url("killed_db");
    let project = Project::new();
    pg::seed(&project, &url, 100000, 3);
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    let extract = ["run", "--select", "raw.sales", "--no-report", "--no-tests"];
    project.strata_ok(&extract);
    let before = project.data_files();

    let child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(extract)
        .current_dir(project.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The administrator terminates the extract's sessions while they stream.
    let admin = pg::client("postgres").await;
    let started = std::time::Instant::now();
    loop {
        let killed: i64 = admin
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'strata' AND datname = 'killed_db' AND query LIKE 'COPY%') t",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if killed > 0 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the extract never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    // The server says why when its message arrives before the reset.
    assert!(
        t.contains("terminating connection due to administrator command")
            || t.contains("error communicating with the server")
            || t.contains("connection closed"),
        "{t}"
    );
    assert!(
        t.contains("FAIL  raw.sales") && t.contains("/killed_db"),
        "{t}"
    );
    assert_eq!(project.data_files(), before, "the previous lake is intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let Some(real) = pg::password() else {
        return; // an external DATABASE_URL server: its auth is not ours to test
    };
    let url = pg::url("postgres").replace(&real, "not-the-password-123");
    let project = Project::new();
    let out = project.strata(&["run", "--source", &url]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("password authentication failed"), "{t}");
    assert!(!t.contains("not-the-password-123"), "{t}");
    assert!(t.contains("postgres://postgres:***@"), "{t}");

    // The lake stays readable when the source is not: reports warn and go on.
    project.strata_ok(&["run", "--no-report"]);
    let out = project.strata(&["report", "monthly", "--source", &url]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("warning: legacy.* is unavailable") && t.contains("total_sales"),
        "{t}"
    );
    assert!(!t.contains("not-the-password-123"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_on_an_unreachable_source_fails_with_the_source_s_reason() {
    let Some(real) = pg::password() else {
        return; // an external DATABASE_URL server: its auth is not ours to test
    };
    let url = pg::url("postgres").replace(&real, "not-the-password-123");
    let project = Project::new();
    let out = project.strata(&[
        "sql",
        "--source",
        &url,
        "-c",
        "SELECT count(*) FROM legacy.sales",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    let error = t
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {t}"));
    // The error itself says why, not only the warning above it.
    assert!(error.contains("password authentication failed"), "{t}");
    assert!(!error.contains("not found"), "{t}");
    assert!(!t.contains("not-the-password-123"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_sessions_cannot_write() {
    let url = pg::url("postgres");
    let connector = strata::source::postgres::connect::PgConnector::new(
        &url,
        &strata::source::postgres::connect::PgEnv::default(),
    )
    .unwrap();
    let client = connector.connect_read_only().await.unwrap();
    let err = client
        .batch_execute("CREATE TABLE nope (x int)")
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("read-only transaction"),
        "{err}"
    );
}
