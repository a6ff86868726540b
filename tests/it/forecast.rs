//! `strata forecast`: monthly sales ahead from gold, written to
//! `gold.sales_forecast` with each series' backtest. The history it holds
//! is gold's to the cent, the forecast is the same on every run, and the
//! seasonal-naive baseline's error is worked out here independently.

use crate::common::{Project, query, scalar};

/// One column of a query's rows, as text.
async fn column(engine: &strata::engine::Engine, sql: &str) -> Vec<String> {
    let mut out = vec![];
    for b in query(engine, sql).await {
        for r in 0..b.num_rows() {
            out.push(
                datafusion::arrow::util::display::array_value_to_string(b.column(0), r).unwrap(),
            );
        }
    }
    out
}

fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    let n = actual.len() as f64;
    100.0
        * actual
            .iter()
            .zip(forecast)
            .map(|(a, f)| {
                if a.abs() + f.abs() == 0.0 {
                    0.0
                } else {
                    2.0 * (f - a).abs() / (a.abs() + f.abs())
                }
            })
            .sum::<f64>()
        / n
}

#[tokio::test(flavor = "multi_thread")]
async fn the_forecast_holds_gold_to_the_cent_is_deterministic_and_its_baseline_checks_out() {
    let p = Project::new();
    p.strata_ok(&[
        "fixtures", "--sales", "3000", "--seed", "7", "--out", "many.csv",
    ]);
    p.strata_ok(&["run", "--no-report", "--no-tests", "--source", "many.csv"]);
    let printed = p.strata_ok(&["forecast", "--months", "6"]);
    assert!(
        printed.contains("Written to gold.sales_forecast"),
        "{printed}"
    );
    assert!(printed.contains("seasonal naive sMAPE"), "{printed}");
    let engine = p.engine().await;

    // The history: every series' actual months add up to gold's sales.
    let gold = scalar(
        &engine,
        "SELECT CAST(sum(total_value) AS VARCHAR) FROM gold.fact_sales",
    )
    .await;
    for series in ["total", "region", "category"] {
        let held = scalar(
            &engine,
            &format!(
                "SELECT CAST(sum(sales) AS VARCHAR) FROM gold.sales_forecast \
                 WHERE series = '{series}' AND kind = 'actual'"
            ),
        )
        .await;
        assert_eq!(held, gold, "{series}: the history is gold's, to the cent");
    }
    let regions = scalar(
        &engine,
        "SELECT CAST(count(DISTINCT region) AS VARCHAR) FROM gold.dim_customer",
    )
    .await;
    let members = scalar(
        &engine,
        "SELECT CAST(count(DISTINCT member) AS VARCHAR) FROM gold.sales_forecast WHERE series = 'region'",
    )
    .await;
    assert_eq!(members, regions);

    // Six months ahead of each series, the month after its last actual,
    // inside their intervals.
    let bad = scalar(
        &engine,
        "SELECT CAST(count(*) AS VARCHAR) FROM gold.sales_forecast \
         WHERE kind = 'forecast' AND NOT (lower_95 <= sales AND sales <= upper_95 AND lower_95 >= 0)",
    )
    .await;
    assert_eq!(bad, "0");
    let ahead = column(
        &engine,
        "SELECT CAST(month AS VARCHAR) AS m FROM gold.sales_forecast \
         WHERE series = 'total' AND kind = 'forecast' ORDER BY month",
    )
    .await;
    let last = scalar(
        &engine,
        "SELECT CAST(max(month) AS VARCHAR) FROM gold.sales_forecast WHERE kind = 'actual'",
    )
    .await;
    assert_eq!(ahead.len(), 6);
    let next =
        chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d").unwrap() + chrono::Months::new(1);
    assert_eq!(ahead[0], next.to_string());
    let method = scalar(
        &engine,
        "SELECT method FROM gold.sales_forecast WHERE series = 'total' LIMIT 1",
    )
    .await;
    // The generated sales have no yearly pattern: either model may be
    // chosen, and the method says which.
    assert!(
        method.starts_with("Holt-Winters additive, period 12")
            || method.contains("a yearly season did not earn its keep"),
        "{method}"
    );

    // The seasonal-naive baseline, worked out here from the history.
    let history: Vec<f64> = column(
        &engine,
        "SELECT CAST(sales AS VARCHAR) FROM gold.sales_forecast \
         WHERE series = 'total' AND kind = 'actual' ORDER BY month",
    )
    .await
    .iter()
    .map(|v| v.parse().unwrap())
    .collect();
    let n = history.len();
    let naive: Vec<f64> = (n - 6..n).map(|t| history[t - 12]).collect();
    let want = smape(&history[n - 6..], &naive);
    let got: f64 = scalar(
        &engine,
        "SELECT CAST(naive_smape AS VARCHAR) FROM gold.sales_forecast WHERE series = 'total' LIMIT 1",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        (got - want).abs() < 1e-3,
        "naive sMAPE {got}, worked out {want}"
    );

    // The same history, the same forecast.
    let rows = "SELECT series || '|' || member || '|' || CAST(month AS VARCHAR) || '|' || \
                CAST(sales AS VARCHAR) || '|' || COALESCE(CAST(upper_95 AS VARCHAR), '') \
                FROM gold.sales_forecast ORDER BY series, member, month";
    let first = column(&engine, rows).await;
    p.strata_ok(&["forecast", "--months", "6"]);
    let engine = p.engine().await;
    assert_eq!(column(&engine, rows).await, first);
}

#[test]
fn without_gold_the_forecast_says_what_to_run() {
    let p = Project::new();
    let out = p.strata(&["forecast"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gold.fact_sales") && err.contains("strata run"),
        "{err}"
    );
}
