//! The same models and report on Apache Ballista: an in-process scheduler
//! and executor (`--engine ballista-standalone`) build gold and answer the
//! monthly report exactly as the single-process engine does.

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
        "gold",
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
        "gold rebuilt on Ballista differs"
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
