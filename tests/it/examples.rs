//! The Athena example queries in `queries/examples/`, run through
//! `strata sql` and checked row by row against answers computed here from
//! the fixture's text (see `common::oracle`), not by the lake.

use std::collections::BTreeMap;

use crate::common::Project;
use crate::common::oracle::{Sale, clean_sales, money};
use chrono::Datelike;

fn run_example(p: &Project, name: &str) -> String {
    p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-f",
        &format!("queries/examples/{name}.sql"),
    ])
}

fn sales(p: &Project) -> Vec<Sale> {
    clean_sales(&std::fs::read_to_string(p.path().join("fixtures/legacy_sales.csv")).unwrap())
}

/// Trino's round(x, 2) of num/den (half away from zero), as text.
fn round2(num: i128, den: i128) -> String {
    let scaled = num * 100;
    let q = scaled / den;
    let r = scaled % den;
    let q = if 2 * r.abs() >= den.abs() {
        q + scaled.signum() * den.signum()
    } else {
        q
    };
    let sign = if q < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", q.abs() / 100, q.abs() % 100)
}

#[test]
fn the_examples_answer_what_the_fixture_implies() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let sales = sales(&p);

    // Monthly revenue by region.
    let mut by_region: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for s in &sales {
        let e = by_region
            .entry((s.date.format("%Y-%m").to_string(), s.region.clone()))
            .or_default();
        e.0 += s.cents;
        e.1 += 1;
    }
    let mut want = String::from("month,region,revenue,sales\n");
    for ((m, r), (c, n)) in &by_region {
        want.push_str(&format!("{m},{r},{},{n}\n", money(*c)));
    }
    assert_eq!(run_example(&p, "revenue_by_region"), want);

    // Top three products per category (revenue, ties by id).
    let mut by_product: BTreeMap<i64, (String, String, i64)> = BTreeMap::new();
    for s in &sales {
        let e = by_product.entry(s.product_id).or_insert((
            s.category.clone(),
            s.product_name.clone(),
            0,
        ));
        e.2 += s.cents;
    }
    let mut by_category: BTreeMap<String, Vec<(i64, i64, String)>> = BTreeMap::new();
    for (id, (cat, name, c)) in &by_product {
        by_category
            .entry(cat.clone())
            .or_default()
            .push((-c, *id, name.clone()));
    }
    let mut want = String::from("category,rank,product_id,product_name,revenue\n");
    for (cat, mut products) in by_category {
        products.sort();
        for (rank, (neg, id, name)) in products.iter().take(3).enumerate() {
            want.push_str(&format!("{cat},{},{id},{name},{}\n", rank + 1, money(-neg)));
        }
    }
    assert_eq!(run_example(&p, "top_products_per_category"), want);

    // Year over year.
    let mut yearly: BTreeMap<i32, i64> = BTreeMap::new();
    for s in &sales {
        *yearly.entry(s.date.year()).or_default() += s.cents;
    }
    let mut want = String::from("year,revenue,previous,growth_pct\n");
    let mut previous: Option<i64> = None;
    for (y, c) in &yearly {
        match previous {
            None => want.push_str(&format!("{y},{},,\n", money(*c))),
            Some(p) => want.push_str(&format!(
                "{y},{},{},{}\n",
                money(*c),
                money(p),
                round2(i128::from(c - p) * 100, i128::from(p))
            )),
        }
        previous = Some(*c);
    }
    assert_eq!(run_example(&p, "yoy_growth"), want);

    // Running totals within each year.
    let mut monthly: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    for s in &sales {
        *monthly.entry((s.date.year(), s.date.month())).or_default() += s.cents;
    }
    let mut want = String::from("year,month,revenue,year_to_date\n");
    let (mut year, mut total) = (0, 0);
    for ((y, m), c) in &monthly {
        if *y != year {
            year = *y;
            total = 0;
        }
        total += c;
        want.push_str(&format!("{y},{m},{},{}\n", money(*c), money(total)));
    }
    assert_eq!(run_example(&p, "running_total"), want);
}
