//! The same models and report on Apache Ballista: an in-process scheduler
//! and executor (`--engine ballista-standalone`), and a cluster of three
//! `strata` processes, build bronze to gold and answer the monthly report
//! exactly as the single-process engine does.

use crate::common::Project;

fn gold(p: &Project, engine: &str) -> Vec<String> {
    [
        "dim_customer",
        "dim_product",
        "dim_seller",
        "dim_date",
        "fact_sales",
    ]
    .iter()
    .map(|t| {
        p.strata_ok(&[
            "sql",
            "--engine",
            engine,
            "--format",
            "csv",
            "-c",
            &format!("SELECT * FROM gold.{t} ORDER BY 1"),
        ])
    })
    .collect()
}

#[test]
fn ballista_builds_gold_and_answers_the_monthly_report_like_datafusion() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-tests", "--no-report"]);
    let local_report = p.strata_ok(&["report", "monthly", "--format", "csv"]);
    let local_gold = gold(&p, "local");

    let out = p.strata_ok(&[
        "run",
        "--engine",
        "ballista-standalone",
        "--select",
        "bronze+",
        "--no-tests",
        "--no-report",
    ]);
    assert!(out.contains("gold.fact_sales"), "{out}");
    let runs = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT count(*) FROM meta.runs WHERE status = 'succeeded'",
    ]);
    assert_eq!(runs.lines().nth(1).unwrap(), "2");

    assert_eq!(
        gold(&p, "local"),
        local_gold,
        "bronze to gold rebuilt on Ballista differ"
    );
    let ballista_report = p.strata_ok(&[
        "report",
        "monthly",
        "--format",
        "csv",
        "--engine",
        "ballista-standalone",
    ]);
    assert_eq!(ballista_report, local_report);
    assert!(local_report.lines().count() > 40, "{local_report}");
}

#[test]
fn a_source_that_cannot_be_shipped_to_executors_is_named() {
    let p = Project::new();
    let out = p.strata(&[
        "run",
        "--engine",
        "ballista-standalone",
        "--select",
        "raw.sales",
        "--no-tests",
        "--no-report",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("raw.sales") && text.contains("cannot be shipped to Ballista executors"),
        "{text}"
    );
}

/// A process of the test's cluster, stopped when dropped.
struct Process(std::process::Child, &'static str);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn start(p: &Project, what: &'static str, args: &[&str]) -> Process {
        Self::start_with_temp(p, what, args, &std::env::temp_dir())
    }

    /// Starts it with `tmp` as its temporary folder (`TMPDIR`).
    fn start_with_temp(
        p: &Project,
        what: &'static str,
        args: &[&str],
        tmp: &std::path::Path,
    ) -> Process {
        let log = std::fs::File::create(p.path().join(format!("{what}.log"))).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(args)
            .env("TMPDIR", tmp)
            .current_dir(p.path())
            .env_remove("STRATA_LAKE")
            .env_remove("STRATA_SOURCE")
            .env_remove("STRATA_PROJECT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start strata {what}: {e}"));
        Process(child, what)
    }

    /// Fails the test, with the process's log, if it has exited.
    fn assert_running(&mut self, p: &Project) {
        if let Some(status) = self.0.try_wait().unwrap() {
            let log = std::fs::read_to_string(p.path().join(format!("{}.log", self.1)))
                .unwrap_or_default();
            panic!("strata {} exited ({status}):\n{log}", self.1);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET of the scheduler's REST API, as JSON.
fn api(port: u16, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(body).ok()
}

/// A real cluster: a scheduler and two executors, each its own `strata`
/// process on loopback, run the bronze, silver and gold models (Strata's
/// SQL functions and the raw CSV table included) as the scheduler's jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_strata_processes_builds_bronze_to_gold_like_one_process() {
    let local = Project::new();
    local.strata_ok(&["run", "--no-report", "--no-tests"]);
    let expected = local.table_contents().await;

    let p = Project::new();
    p.strata_ok(&["run", "--select", "raw", "--no-report", "--no-tests"]);
    let scheduler_port = free_port();
    let scheduler_addr = format!("127.0.0.1:{scheduler_port}");
    let mut processes = vec![Process::start(
        &p,
        "scheduler",
        &["scheduler", "--bind", &scheduler_addr],
    )];
    // The first executor keeps its shuffle files in a given folder; the
    // second in a temporary one of its own, under a TMPDIR the test watches.
    let executor_tmp = p.path().join("executor-2-tmp");
    std::fs::create_dir_all(&executor_tmp).unwrap();
    for name in ["executor-1", "executor-2"] {
        let (flight, grpc) = (free_port().to_string(), free_port().to_string());
        let work = p.path().join(name);
        let mut args = vec![
            "executor",
            "--scheduler",
            &scheduler_addr,
            "--port",
            &flight,
            "--grpc-port",
            &grpc,
            "--threads",
            "1",
        ];
        if name == "executor-1" {
            args.extend(["--work-dir", work.to_str().unwrap()]);
        }
        processes.push(Process::start_with_temp(&p, name, &args, &executor_tmp));
    }
    // Both executors registered with the scheduler.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        for process in &mut processes {
            process.assert_running(&p);
        }
        let registered = api(scheduler_port, "/api/executors")
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0);
        if registered == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{registered} of 2 executors registered in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let engine = format!("ballista://{scheduler_addr}");
    let out = p.strata_ok(&[
        "run",
        "--engine",
        &engine,
        "--select",
        "bronze+",
        "--no-report",
        "--no-tests",
    ]);
    assert!(out.contains("gold.fact_sales"), "{out}");
    // The models ran as the scheduler's jobs, every one completed.
    let jobs = api(scheduler_port, "/api/jobs").expect("the scheduler's jobs");
    let jobs = jobs.as_array().expect("a list of jobs");
    assert!(jobs.len() >= 9, "{} jobs: {jobs:?}", jobs.len());
    for job in jobs {
        assert_eq!(job["status"], "Completed", "{job}");
    }

    let built = p.table_contents().await;
    assert_eq!(
        built, expected,
        "bronze to gold built on the cluster differ from the one-process build"
    );
    for process in &mut processes {
        process.assert_running(&p);
    }

    // Stopped as an operator stops it, an executor without --work-dir
    // leaves no temporary folder behind (Ballista's own fallback did, with
    // every shuffle file of every job in it).
    let executor = &mut processes[2];
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&executor.0),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = executor.0.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(&executor_tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        left.is_empty(),
        "executor stopped ({status}) and left {left:?} in its TMPDIR"
    );
}
