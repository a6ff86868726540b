//! The lake, end to end: the real binary builds it from the shipped fixture,
//! and its numbers are checked against what the contract implies, computed
//! here from the fixture's text independently of the pipeline.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::common::oracle::{cents, classify, money};
use crate::common::{Project, query, scalar};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// What the contract says the lake must hold for a legacy CSV.
#[derive(Debug, Default)]
struct Expected {
    raw_rows: usize,
    raw_cents: i64,
    distinct_rows: usize,
    /// sale_id -> reason, for distinct rows whose date is bad.
    quarantine: BTreeMap<i64, &'static str>,
    clean_rows: usize,
    clean_cents: i64,
    clean_quantity: i64,
    customers: usize,
    products: usize,
    sellers: usize,
    days_with_sales: usize,
    first_day: Option<NaiveDate>,
    last_day: Option<NaiveDate>,
    /// (year, month) -> (cents, quantity, count)
    monthly: BTreeMap<(i32, u32), (i64, i64, i64)>,
}

fn expected_from(csv: &str) -> Expected {
    let mut e = Expected::default();
    let mut seen = HashSet::new();
    let (mut customers, mut products, mut sellers, mut days) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for line in csv.lines().skip(1) {
        // The shipped fixture quotes only empty strings, so a split is exact.
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 14, "fixture line has 14 fields: {line}");
        e.raw_rows += 1;
        e.raw_cents += cents(f[12]);
        if !seen.insert(line.to_string()) {
            continue; // an exact duplicate
        }
        e.distinct_rows += 1;
        let sale_id: i64 = f[0].parse().unwrap();
        let date_text = f[1].trim_matches('"');
        match classify(date_text) {
            Err(reason) => {
                e.quarantine.insert(sale_id, reason);
            }
            Ok(day) => {
                let (quantity, total) = (f[10].parse::<i64>().unwrap(), cents(f[12]));
                e.clean_rows += 1;
                e.clean_cents += total;
                e.clean_quantity += quantity;
                customers.insert(f[2].to_string());
                products.insert(f[4].to_string());
                sellers.insert(f[7].to_string());
                days.insert(day);
                let m = e
                    .monthly
                    .entry((chrono::Datelike::year(&day), chrono::Datelike::month(&day)))
                    .or_default();
                m.0 += total;
                m.1 += quantity;
                m.2 += 1;
            }
        }
    }
    e.customers = customers.len();
    e.products = products.len();
    e.sellers = sellers.len();
    e.days_with_sales = days.len();
    e.first_day = days.first().copied();
    e.last_day = days.last().copied();
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_builds_the_lake_the_contract_describes() {
    let project = Project::new();
    let out = project.strata_ok(&["run"]);
    let csv = std::fs::read_to_string(project.path().join("fixtures/legacy_sales.csv")).unwrap();
    let e = expected_from(&csv);
    assert!(out.contains("Data tests: 8 passed, 0 failed"), "{out}");
    assert!(out.contains("Monthly sales"), "{out}");

    // The fixture itself follows the contract's shape for 500 sales.
    assert_eq!(e.distinct_rows, 500);
    assert!(e.raw_rows > 500, "the fixture has exact duplicates");
    assert!(e.quarantine.len() >= 3, "the fixture has a few bad dates");
    let reasons: BTreeSet<&str> = e.quarantine.values().copied().collect();
    assert_eq!(reasons.len(), 3, "every reason is exercised: {reasons:?}");

    let lake = project.engine().await;
    let count = |t: &str| format!("SELECT count(*) FROM {t}");

    // raw is the extract, byte for byte.
    let raw = std::fs::read(project.current_file("raw/sales/part-00000.csv")).unwrap();
    assert_eq!(raw, csv.as_bytes());

    // bronze keeps every legacy row, duplicates and bad dates included.
    assert_eq!(
        scalar(&lake, &count("bronze.sales")).await,
        e.raw_rows.to_string()
    );
    assert_eq!(
        scalar(&lake, "SELECT sum(total_value) FROM bronze.sales").await,
        money(e.raw_cents)
    );
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM bronze.sales WHERE year IS NULL"
        )
        .await,
        e.quarantine.len().to_string(),
        "bad dates sit in the __HIVE_DEFAULT_PARTITION__ partition"
    );
    assert!(
        project
            .current_file("bronze/sales/year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__/part-00000.parquet")
            .is_file()
    );

    // silver: distinct, dated rows; quarantine: exactly the bad ones, with reasons.
    assert_eq!(
        scalar(&lake, &count("silver.sales")).await,
        e.clean_rows.to_string()
    );
    assert_eq!(
        scalar(&lake, "SELECT sum(total_value) FROM silver.sales").await,
        money(e.clean_cents)
    );
    let quarantined = query(
        &lake,
        "SELECT sale_id, reason FROM silver.sales_quarantine ORDER BY sale_id",
    )
    .await;
    let mut got = BTreeMap::new();
    for b in &quarantined {
        let ids = b
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap();
        let reasons = b
            .column(1)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            got.insert(ids.value(i), reasons.value(i).to_string());
        }
    }
    let want: BTreeMap<i64, String> = e
        .quarantine
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        scalar(
            &lake,
            "SELECT count(*) FROM silver.sales WHERE region NOT IN ('Norte','Nordeste','Centro-Oeste','Sudeste','Sul')"
        )
        .await,
        "0"
    );

    // gold: dimensions, dates, facts and the daily aggregate.
    assert_eq!(
        scalar(&lake, &count("gold.dim_customer")).await,
        e.customers.to_string()
    );
    assert_eq!(
        scalar(&lake, &count("gold.dim_product")).await,
        e.products.to_string()
    );
    assert_eq!(
        scalar(&lake, &count("gold.dim_seller")).await,
        e.sellers.to_string()
    );
    let days = (e.last_day.unwrap() - e.first_day.unwrap()).num_days() + 1;
    assert_eq!(
        scalar(&lake, &count("gold.dim_date")).await,
        days.to_string()
    );
    assert_eq!(
        scalar(&lake, &count("gold.fact_sales")).await,
        e.clean_rows.to_string()
    );
    assert_eq!(
        scalar(&lake, "SELECT sum(total_value) FROM gold.fact_sales").await,
        money(e.clean_cents)
    );
    assert_eq!(
        scalar(&lake, &count("gold.daily_sales")).await,
        e.days_with_sales.to_string()
    );
    assert_eq!(
        scalar(&lake, "SELECT sum(total_sales) FROM gold.daily_sales").await,
        money(e.clean_cents)
    );
    assert_eq!(
        scalar(&lake, "SELECT sum(total_quantity) FROM gold.daily_sales").await,
        e.clean_quantity.to_string()
    );

    // The monthly report, row by row.
    let report = project.strata_ok(&["report", "monthly", "--format", "csv"]);
    let mut want = String::from("year,month,total_sales,total_quantity,sales_count\n");
    for ((y, m), (c, q, n)) in &e.monthly {
        want.push_str(&format!("{y},{m},{},{q},{n}\n", money(*c)));
    }
    assert_eq!(report, want);

    // Parameters narrow it, typed: a year, and a day range inside it.
    let only_2022 = project.strata_ok(&["report", "monthly", "--format", "csv", "--year", "2022"]);
    let lines: Vec<&str> = want.lines().filter(|l| l.starts_with("2022,")).collect();
    assert_eq!(
        only_2022,
        format!(
            "year,month,total_sales,total_quantity,sales_count\n{}\n",
            lines.join("\n")
        )
    );
    let march = project.strata_ok(&[
        "report",
        "monthly",
        "--format",
        "csv",
        "--from",
        "2023-03-01",
        "--to",
        "2023-03-31",
    ]);
    assert_eq!(march.lines().count(), 2, "{march}");
    assert!(march.contains("\n2023,3,"), "{march}");
    let bad = project.strata(&[
        "report",
        "monthly",
        "--from",
        "2024-02-01",
        "--to",
        "2024-01-01",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gold_has_the_contract_types_and_dim_date_its_calendar() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report"]);
    let lake = project.engine().await;
    let types = |table: &'static str| {
        let lake = &lake;
        async move {
            let df = lake.ctx().table(table).await.unwrap();
            df.schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect::<BTreeMap<_, _>>()
        }
    };
    let fact = types("gold.fact_sales").await;
    assert_eq!(fact["unit_price"], DataType::Decimal128(12, 2));
    assert_eq!(fact["total_value"], DataType::Decimal128(14, 2));
    assert_eq!(fact["sale_date"], DataType::Date32);
    assert_eq!(fact["sale_id"], DataType::Int64);
    assert_eq!(fact["quantity"], DataType::Int32);
    assert_eq!(fact["date_key"], DataType::Int32);
    let daily = types("gold.daily_sales").await;
    assert_eq!(daily["total_sales"], DataType::Decimal128(18, 2));
    assert_eq!(daily["total_quantity"], DataType::Int64);
    assert_eq!(daily["sales_count"], DataType::Int64);
    for p in ["year", "month", "day"] {
        assert_eq!(daily[p], DataType::Int32, "{p} reads back as an integer");
    }
    let bronze = types("bronze.sales").await;
    assert_eq!(bronze["sale_date"], DataType::Utf8);
    assert_eq!(
        bronze["updated_at"],
        DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(bronze["year"], DataType::Int32);

    let cols: Vec<String> = types("gold.dim_date").await.into_keys().collect();
    let mut want = vec![
        "date_key",
        "sale_date",
        "year",
        "month",
        "day",
        "quarter",
        "month_name",
        "day_of_week",
        "is_weekend",
    ];
    want.sort();
    assert_eq!(cols, want);
    // 2024-02-29 was a Thursday; 2023-12-31 a Sunday.
    let row = query(
        &lake,
        "SELECT date_key, quarter, month_name, day_of_week, is_weekend FROM gold.dim_date \
         WHERE sale_date IN (DATE '2024-02-29', DATE '2023-12-31') ORDER BY sale_date",
    )
    .await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&row)
        .unwrap()
        .to_string();
    assert!(
        text.contains("| 20231231 | 4       | December   | 7           | true       |"),
        "{text}"
    );
    assert!(
        text.contains("| 20240229 | 1       | February   | 4           | false      |"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_filters_prune_folders() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let lake = project.engine().await;
    let plan = query(
        &lake,
        "EXPLAIN SELECT sum(total_sales) FROM gold.daily_sales WHERE year = 2023 AND month = 5",
    )
    .await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(text.contains("year=2023/month=5/"), "{text}");
    assert!(
        !text.contains("year=2022"),
        "other years are pruned:\n{text}"
    );
    assert!(
        !text.contains("month=6/"),
        "other months are pruned:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_changes_nothing() {
    let project = Project::new();
    // Several cores even on a machine with one: the guarantee must hold
    // when models run and write in parallel.
    project.strata_ok(&["run", "--no-report", "--threads", "3"]);
    let first = project.data_files();
    let first_content = project.table_contents().await;
    project.strata_ok(&["run", "--no-report", "--threads", "3"]);
    let second = project.data_files();
    assert!(first.len() > 800, "{} files", first.len());
    assert_eq!(
        first_content,
        project.table_contents().await,
        "the same rows in the same partitions"
    );
    // Tables written in a declared order (`ORDER BY`, `-- order_by:`) and
    // the raw extract of a CSV source are the same bytes too.
    let ordered = |files: &[(String, String)]| -> Vec<(String, String)> {
        files
            .iter()
            .filter(|(k, _)| {
                k.starts_with("gold/dim_")
                    || k.starts_with("gold/daily_sales/")
                    || k.starts_with("raw/")
            })
            .cloned()
            .collect()
    };
    assert!(ordered(&first).len() > 400, "{first:?}");
    assert_eq!(
        ordered(&first),
        ordered(&second),
        "the same files (but for the run's tag in their names), the same bytes"
    );
    let names = |files: &[(String, String)]| -> Vec<String> {
        files.iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(names(&first), names(&second), "the same file names");
    // Versions are immutable: the second run wrote files of its own, and
    // the first run's stay readable (as version 0) until they expire.
    for (table, m) in project.current_manifests() {
        assert_eq!(m["version"], 1, "{table}");
    }
    let both = project.objects_on_disk();
    assert_eq!(both.len(), 2 * first.len(), "both versions' files are kept");
}

#[test]
fn the_documented_command_regenerates_the_fixture_byte_for_byte() {
    let project = Project::new();
    project.strata_ok(&[
        "fixtures",
        "--sales",
        "500",
        "--seed",
        "42",
        "--out",
        "again.csv",
    ]);
    let again = std::fs::read(project.path().join("again.csv")).unwrap();
    let shipped = std::fs::read(crate::common::repo().join("fixtures/legacy_sales.csv")).unwrap();
    assert!(
        again == shipped,
        "fixtures/legacy_sales.csv is not what the README's command makes"
    );
}
