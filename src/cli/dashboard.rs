//! `strata dashboard`: one self-contained HTML page (no CDN, renders
//! offline) with the original project's mock-up: cards for total sales,
//! items sold and average ticket, sales by product and over time, filters by
//! date range, product and region, and the pipeline's health.
//!
//! The page carries its data as JSON, aggregated per day, product and region
//! (a few thousand rows for years of sales), and draws inline SVG with a
//! little script, so filtering needs no server. Money travels as integer
//! cents and is summed in cents: exact, like the lake.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metadata::History;
use crate::metadata::metrics::Summary;

const TEMPLATE: &str = include_str!("dashboard.html");
const PLACEHOLDER: &str = "/*STRATA_DATA*/";

/// Sales per day, product and region: what the filters slice.
const SALES_SQL: &str = "
SELECT CAST(f.sale_date AS VARCHAR) AS date, p.product_name AS product, c.region AS region,
       count(*) AS sales, sum(f.quantity) AS items,
       CAST(sum(f.total_value) * 100 AS BIGINT) AS cents
FROM gold.fact_sales f
JOIN gold.dim_product p ON p.product_id = f.product_id
JOIN gold.dim_customer c ON c.customer_id = f.customer_id
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3";

#[derive(Serialize)]
struct SalesRow {
    date: String,
    product: String,
    region: String,
    sales: i64,
    items: i64,
    cents: i64,
}

#[derive(Serialize)]
struct RecentRun {
    run_id: String,
    status: &'static str,
    duration_s: Option<f64>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Pipeline {
    runs: u64,
    success_rate: f64,
    errors: u64,
    p50: Option<f64>,
    p95: Option<f64>,
    recent: Vec<RecentRun>,
}

#[derive(Serialize)]
struct Data {
    lake: String,
    generated_at: String,
    currency: &'static str,
    sales: Vec<SalesRow>,
    pipeline: Pipeline,
}

async fn sales(engine: &Engine) -> Result<Vec<SalesRow>> {
    for t in ["fact_sales", "dim_product", "dim_customer"] {
        if !engine.has_table("gold", t) {
            return Err(Error::Lake {
                key: format!("gold.{t}"),
                message: "missing: `strata run` builds it before a dashboard can show it".into(),
            });
        }
    }
    let batches = engine
        .ctx()
        .sql(SALES_SQL)
        .await
        .map_err(|e| Error::sql("dashboard", e))?
        .collect()
        .await
        .map_err(|e| Error::sql("dashboard", e))?;
    let mut out = Vec::new();
    for b in batches {
        let text = |i: usize| cast(b.column(i), &DataType::Utf8);
        let int = |i: usize| cast(b.column(i), &DataType::Int64);
        let (date, product, region) = (text(0)?, text(1)?, text(2)?);
        let (count, items, cents) = (int(3)?, int(4)?, int(5)?);
        let (date, product, region) = (
            date.as_string::<i32>(),
            product.as_string::<i32>(),
            region.as_string::<i32>(),
        );
        let (count, items, cents) = (
            count.as_primitive::<Int64Type>(),
            items.as_primitive::<Int64Type>(),
            cents.as_primitive::<Int64Type>(),
        );
        for i in 0..b.num_rows() {
            out.push(SalesRow {
                date: date.value(i).to_string(),
                product: if product.is_null(i) {
                    "(unknown)".into()
                } else {
                    product.value(i).to_string()
                },
                region: if region.is_null(i) {
                    "(unknown)".into()
                } else {
                    region.value(i).to_string()
                },
                sales: count.value(i),
                items: items.value(i),
                cents: cents.value(i),
            });
        }
    }
    Ok(out)
}

/// The page, with its data.
pub async fn render(engine: &Engine, h: &History) -> Result<String> {
    let all = Summary::of(h, None);
    let data = Data {
        lake: engine.lake().describe(),
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        currency: "R$",
        sales: sales(engine).await?,
        pipeline: Pipeline {
            runs: all.runs,
            success_rate: all.success_rate,
            errors: all.errors,
            p50: all.duration_p50,
            p95: all.duration_p95,
            recent: h
                .runs
                .iter()
                .rev()
                .take(20)
                .map(|r| RecentRun {
                    run_id: r.run_id.clone(),
                    status: r.status.as_str(),
                    duration_s: r.duration_s,
                    error: r.error.clone(),
                })
                .collect(),
        },
    };
    // Inside <script>, "</" could end the element early.
    let json = serde_json::to_string(&data)
        .expect("dashboard data serializes")
        .replace("</", "<\\/");
    Ok(TEMPLATE.replace(PLACEHOLDER, &json))
}
