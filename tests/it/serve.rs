//! `strata serve`: the lake over PostgreSQL's wire protocol, spoken to by
//! real clients (psql, and Python's psycopg driver), checked against the
//! lake as `strata sql` reads it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{Project, repo, scalar};

/// A running `strata serve` on free loopback ports; killed when dropped.
pub(crate) struct Server {
    child: Child,
    port: u16,
    /// The HTTP side's port.
    pub(crate) http: u16,
    /// What it wrote to stderr, filled in as it writes.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub(crate) fn start(project: &Project, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .current_dir(project.path())
            .env_remove("STRATA_PASSWORD")
            .env_remove("DATABASE_URL")
            .env("STRATA_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start strata serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut ports = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            // "strata serve: PostgreSQL protocol on 127.0.0.1:PORT (...
            // dashboard on http://127.0.0.1:PORT/ ..."
            let after = |marker: &str, end: char| {
                line.split(marker)
                    .nth(1)
                    .and_then(|rest| rest.split(end).next())
                    .and_then(|p| p.parse::<u16>().ok())
            };
            if let Some(port) = after("protocol on 127.0.0.1:", ' ') {
                ports = Some((port, after("dashboard on http://127.0.0.1:", '/')));
                break;
            }
        }
        let (port, http) =
            ports.unwrap_or_else(|| panic!("no address announced:\n{}", log.lock().unwrap()));
        let http = http.unwrap_or_else(|| panic!("no HTTP address:\n{}", log.lock().unwrap()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Server {
            child,
            port,
            http,
            log,
        }
    }

    /// psql with these commands in one session (`-c` each), unaligned and
    /// without headers; its stdout, stderr.
    fn psql(&self, password: Option<&str>, user: &str, commands: &[&str]) -> (String, String) {
        let mut cmd = Command::new(psql());
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
        ])
        .args(["-U", user, "strata"])
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10");
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        for c in commands {
            cmd.args(["-c", c]);
        }
        let out = cmd.output().expect("run psql");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// GET on the HTTP side, with Basic credentials if given: the status
    /// and body.
    pub(crate) async fn get(&self, path: &str, login: Option<(&str, &str)>) -> (u16, String) {
        let mut request =
            reqwest::Client::new().get(format!("http://127.0.0.1:{}{path}", self.http));
        if let Some((user, password)) = login {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.expect("the HTTP side answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    fn python(&self, password: Option<&str>, check: &str) -> serde_json::Value {
        let out = Command::new("python3")
            .arg(repo().join("tests/clients/psycopg_client.py"))
            .args([&self.port.to_string(), password.unwrap_or("-"), check])
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "psycopg client ({check}) failed:\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log.lock().unwrap()
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// psql: on PATH, or beside the PostgreSQL server binaries.
fn psql() -> String {
    if Command::new("psql").arg("--version").output().is_ok() {
        return "psql".into();
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin/psql"))
                .find(|p| p.exists())
        })
        .map(|p| p.display().to_string())
        .expect("psql is installed (PostgreSQL's client)")
}

fn built_project() -> Project {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report"]);
    project
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_reads_every_layer_and_a_bad_statement_leaves_the_session_usable() {
    let project = built_project();
    let server = Server::start(&project, &[]);
    let engine = project.engine().await;
    let facts = "SELECT count(*) || '|' || CAST(sum(total_value) AS VARCHAR) FROM gold.fact_sales";
    let (out, err) = server.psql(
        None,
        "strata",
        &[
            "SELECT count(*), sum(total_value) FROM gold.fact_sales",
            "SELECT * FROM gold.fact_sale",
            "SELECT count(*) FROM silver.sales_quarantine",
            "CREATE TABLE gold.copy AS SELECT 1 AS x",
            "SELECT status FROM meta.runs ORDER BY started_at DESC LIMIT 1",
            "SHOW TABLES IN gold",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], scalar(&engine, facts).await, "{out}\n{err}");
    assert_eq!(
        lines[1],
        scalar(&engine, "SELECT count(*) FROM silver.sales_quarantine").await
    );
    assert_eq!(lines[2], "succeeded");
    assert!(
        lines.contains(&"gold|fact_sales") && lines.contains(&"gold|dim_date"),
        "{out}"
    );
    assert!(
        err.contains("table 'gold.fact_sale' not found; did you mean gold.fact_sales?"),
        "{err}"
    );
    assert!(err.contains("read-only"), "{err}");
    assert!(!project.lake().join("gold/copy").exists());

    // psql's own catalog queries: \dt, \dn, \d.
    let (out, err) = server.psql(
        None,
        "strata",
        &["\\dt gold.*", "\\dn", "\\d gold.fact_sales"],
    );
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "gold|fact_sales|table|strata",
        "gold|dim_date|table|strata",
        "silver|strata",
        "meta|strata",
        "sale_id|bigint||not null|",
        "sale_date|date|||",
        "total_value|numeric(14,2)||not null|",
    ] {
        assert!(lines.contains(&want), "{want} in:\n{out}\n{err}");
    }
    assert!(
        !lines.contains(&"silver|sales|table|strata"),
        "\\dt gold.* lists gold only"
    );
    assert!(err.is_empty(), "{err}");

    // Several statements in one message: each answered in turn, the first
    // that fails ends the rest; settings written `name='value'` accepted.
    let (out, err) = server.psql(
        None,
        "strata",
        &[
            "set application_name='DBeaver'; SELECT 1; SELECT 2",
            "SELECT 3; SELECT * FROM gold.nope; SELECT 4",
        ],
    );
    let rows: Vec<&str> = out.lines().filter(|l| *l != "SET").collect();
    assert_eq!(rows, ["1", "2", "3"], "{out}\n{err}");
    assert!(err.contains("gold.nope"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_is_checked_with_scram_and_never_logged() {
    let project = built_project();
    let secret = "Correct-Horse-9";
    let server = Server::start(&project, &[("STRATA_PASSWORD", secret)]);
    let (out, err) = server.psql(Some("wrong-password"), "strata", &["SELECT 1"]);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    let (_, err) = server.psql(Some(secret), "someone", &["SELECT 1"]);
    assert!(!err.is_empty(), "another user is refused");
    let (out, err) = server.psql(Some(secret), "strata", &["SELECT 40 + 2"]);
    assert_eq!(out.trim(), "42", "{err}");
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.contains(secret) && !log.contains("wrong-password"),
        "{log}"
    );

    // Beyond loopback, a password is required.
    let out = project.strata(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without a password"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_driver_prepares_statements_with_parameters_and_reads_money_as_decimals() {
    let project = built_project();
    let server = Server::start(&project, &[]);
    let engine = project.engine().await;
    let got = server.python(None, "prepared");
    // The lake's own answer, as text.
    let expected = crate::common::query(
        &engine,
        "SELECT CAST(sale_date AS VARCHAR) AS d, CAST(total_sales AS VARCHAR) AS t, \
         CAST(sales_count AS VARCHAR) AS n FROM gold.daily_sales \
         WHERE sale_date BETWEEN DATE '2023-01-01' AND DATE '2023-01-31' ORDER BY sale_date",
    )
    .await;
    let mut want = vec![];
    for b in &expected {
        for r in 0..b.num_rows() {
            let s = |c: usize| {
                datafusion::arrow::util::display::array_value_to_string(b.column(c), r).unwrap()
            };
            want.push(serde_json::json!([
                ["date", s(0)],
                ["Decimal", s(1)],
                ["int", s(2)]
            ]));
        }
    }
    assert!(!want.is_empty());
    assert_eq!(got["text_0"], serde_json::Value::Array(want.clone()));
    assert_eq!(
        got["text_1"],
        serde_json::Value::Array(want),
        "the prepared statement again"
    );
    // Binary results: NUMERIC and DATE decoded by the driver.
    let top = scalar(
        &engine,
        "SELECT CAST(max(total_sales) AS VARCHAR) FROM gold.daily_sales",
    )
    .await;
    assert_eq!(got["binary"][0][0], serde_json::json!(["Decimal", top]));
    assert_eq!(got["binary"][0][1][0], "date");
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_clients_at_once_get_the_answers_strata_sql_gives() {
    let project = built_project();
    let server = Server::start(&project, &[]);
    let engine = project.engine().await;
    let got = server.python(None, "concurrent");
    for i in 0..8 {
        let want = scalar(
            &engine,
            &format!(
                "SELECT count(*) || '|' || CAST(sum(total_value) AS VARCHAR) FROM gold.fact_sales \
                 WHERE customer_id % 8 = {i}"
            ),
        )
        .await;
        let row = &got[i.to_string()];
        assert_eq!(
            format!("{}|{}", row[0].as_str().unwrap(), row[1].as_str().unwrap()),
            want,
            "client {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_query_stops_and_the_session_goes_on() {
    let project = built_project();
    // The timeout is the net under a cancel that did not land: the query
    // would otherwise run for hours.
    let server = Server::start(&project, &[("STRATA_QUERY_TIMEOUT", "60s")]);
    let got = server.python(None, "cancel");
    assert_eq!(got["error"][0], "57014", "{got}");
    assert!(
        !got["error"][1].as_str().unwrap().contains("timeout"),
        "the cancel, not the timeout, stopped it: {got}"
    );
    assert_eq!(got["after"], 42);
    assert!(got["seconds"].as_f64().unwrap() < 30.0, "{got}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_past_the_timeout_is_stopped() {
    let project = built_project();
    let server = Server::start(&project, &[("STRATA_QUERY_TIMEOUT", "1s")]);
    let got = server.python(None, "timeout");
    assert_eq!(got["error"][0], "57014", "{got}");
    assert!(
        got["error"][1]
            .as_str()
            .unwrap()
            .contains("statement timeout (1s)"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_side_answers_health_metrics_and_the_dashboards_questions() {
    let project = built_project();
    let server = Server::start(&project, &[]);
    let engine = project.engine().await;

    let (status, body) = server.get("/health", None).await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    // The dashboard's question for one region and some days, against the
    // same question asked in SQL.
    let (status, body) = server
        .get(
            "/api/sales?region=Sul&from=2023-03-15&to=2023-11-20&product=",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    let want = scalar(
        &engine,
        "SELECT CAST(CAST(sum(f.total_value) * 100 AS BIGINT) AS VARCHAR) || '|' || \
         CAST(count(*) AS VARCHAR) || '|' || CAST(sum(f.quantity) AS VARCHAR) \
         FROM gold.fact_sales f JOIN gold.dim_customer c ON c.customer_id = f.customer_id \
         JOIN gold.dim_product p ON p.product_id = f.product_id \
         WHERE c.region = 'Sul' AND f.sale_date BETWEEN DATE '2023-03-15' AND DATE '2023-11-20'",
    )
    .await;
    assert_eq!(
        format!("{}|{}|{}", got["cents"], got["sales"], got["items"]),
        want
    );
    let months: Vec<&str> = got["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    let want_months = scalar(
        &engine,
        "SELECT array_to_string(array_agg(DISTINCT substr(CAST(f.sale_date AS VARCHAR), 1, 7) \
         ORDER BY substr(CAST(f.sale_date AS VARCHAR), 1, 7)), ',') \
         FROM gold.fact_sales f JOIN gold.dim_customer c ON c.customer_id = f.customer_id \
         WHERE c.region = 'Sul' AND f.sale_date BETWEEN DATE '2023-03-15' AND DATE '2023-11-20'",
    )
    .await;
    assert_eq!(months.join(","), want_months);
    let top = got["top"].as_array().unwrap();
    assert!(!top.is_empty() && top.len() <= 10, "{got}");
    assert!(
        top.windows(2)
            .all(|w| w[0]["cents"].as_i64() >= w[1]["cents"].as_i64()),
        "most sold first: {got}"
    );

    let (status, body) = server.get("/api/sales?from=2023-02-30", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("from: `2023-02-30` is not a date"), "{body}");

    let (status, body) = server.get("/api/filters", None).await;
    assert_eq!(status, 200, "{body}");
    let choices: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        choices["regions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("Sul"))
    );
    let (status, body) = server.get("/api/pipeline", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["runs"],
        1
    );

    // A statement that fails over PostgreSQL's protocol, then the figures.
    let (_, err) = server.psql(None, "strata", &["SELECT * FROM gold.no_such_table"]);
    assert!(err.contains("no_such_table"), "{err}");
    let (status, metrics) = server.get("/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        "strata_runs_total{status=\"succeeded\"} 1",
        "strata_serve_statements_total{via=\"postgres\",outcome=\"error\"} 1",
        "strata_serve_statements_total{via=\"http\",outcome=\"ok\"} 3",
        "strata_serve_statement_duration_seconds_count{via=\"http\"} 3",
        "# TYPE strata_serve_statement_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_password_the_http_side_asks_for_it_except_for_health() {
    let project = built_project();
    let secret = "Correct-Horse-9";
    let server = Server::start(&project, &[("STRATA_PASSWORD", secret)]);
    assert_eq!(server.get("/health", None).await.0, 200);
    for path in ["/", "/api/sales", "/metrics"] {
        assert_eq!(server.get(path, None).await.0, 401, "{path}");
        assert_eq!(
            server.get(path, Some(("strata", "Wrong-Guess-7"))).await.0,
            401,
            "{path}"
        );
    }
    let (status, page) = server.get("/", Some(("strata", secret))).await;
    assert_eq!(status, 200);
    assert!(page.contains("\"mode\":\"live\""), "the live page");
    assert_eq!(
        server.get("/api/sales", Some(("strata", secret))).await.0,
        200
    );
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.contains(secret) && !log.contains("Wrong-Guess-7"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlalchemy_discovers_the_schemas_tables_and_columns_as_superset_does() {
    let project = built_project();
    let server = Server::start(&project, &[]);
    let engine = project.engine().await;
    let got = server.python(None, "discovery");
    let schemas: Vec<&str> = got["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for layer in ["raw", "bronze", "silver", "gold", "meta"] {
        assert!(schemas.contains(&layer), "{layer} in {schemas:?}");
    }
    assert!(
        !schemas.iter().any(|s| s.starts_with("pg_")),
        "the dialect leaves pg_* out with LIKE ... ESCAPE '/': {schemas:?}"
    );
    let tables = got["tables"].as_array().unwrap();
    assert!(tables.contains(&serde_json::json!("fact_sales")), "{got}");
    assert_eq!(got["views"], serde_json::json!([]));
    // Every column, named and typed as the lake has it.
    let want = crate::common::query(
        &engine,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
         WHERE table_schema = 'gold' AND table_name = 'fact_sales' ORDER BY ordinal_position",
    )
    .await;
    let names: Vec<String> = want
        .iter()
        .flat_map(|b| {
            let a = b.column(0);
            (0..b.num_rows())
                .map(|r| datafusion::arrow::util::display::array_value_to_string(a, r).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let columns = got["columns"].as_array().unwrap();
    assert_eq!(
        columns
            .iter()
            .map(|c| c[0].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        names
    );
    assert_eq!(got["reflected"], serde_json::json!(names));
    let types: std::collections::BTreeMap<&str, &str> = columns
        .iter()
        .map(|c| (c[0].as_str().unwrap(), c[1].as_str().unwrap()))
        .collect();
    assert_eq!(types["total_value"], "NUMERIC(14, 2)", "{columns:?}");
    assert_eq!(types["sale_date"], "DATE", "{columns:?}");
    assert_eq!(got["pk"], serde_json::json!([]));
    assert_eq!(got["fks"], serde_json::json!([]));
    assert_eq!(got["indexes"], serde_json::json!([]));
    let total = scalar(
        &engine,
        "SELECT CAST(sum(total_value) AS VARCHAR) FROM gold.fact_sales WHERE quantity > 5",
    )
    .await;
    assert_eq!(got["total"], serde_json::json!(["Decimal", total]));
}
