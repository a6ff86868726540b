//! The sales and pipeline-health dashboard: one page, two ways to feed it.
//!
//! - **Offline** (`strata dashboard --out`): a self-contained HTML file (no
//!   CDN, renders without a network) that carries its data. So that it stays
//!   a few hundred KB at any lake size, the data is monthly, by product and
//!   region, for the [`TOP_PRODUCTS`] products that sold most; the others
//!   are summed as one "Other products" entry. The page says so.
//! - **Live** (`strata serve`'s HTTP side): the page asks the server, which
//!   answers each filter with a DataFusion query over gold
//!   ([`slice`], [`filters`], [`pipeline`]), so the page does not grow with
//!   the data and its dates are days.
//!
//! Money travels as integer cents and is summed in cents: exact, like the
//! lake.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::scalar::ScalarValue;
use serde::Serialize;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::metadata::History;
use crate::metadata::metrics::Summary;

const TEMPLATE: &str = include_str!("page.html");
const PLACEHOLDER: &str = "/*STRATA_DATA*/";

/// Products the offline page keeps apart; the rest are one entry.
pub const TOP_PRODUCTS: usize = 50;

/// The name the products past [`TOP_PRODUCTS`] are summed under.
pub const OTHER_PRODUCTS: &str = "Other products";

/// Bars in the live page's sales-by-product chart.
const TOP_SHOWN: usize = 10;

/// The sales the dashboard reads: one row per fact, with its product's
/// name and its customer's region (`(unknown)` where a dimension has none).
const SALES: &str = "
SELECT f.sale_date AS sale_date,
       substr(CAST(f.sale_date AS VARCHAR), 1, 7) AS month,
       COALESCE(p.product_name, '(unknown)') AS product,
       COALESCE(c.region, '(unknown)') AS region,
       f.quantity AS quantity, f.total_value AS total_value
FROM gold.fact_sales f
JOIN gold.dim_product p ON p.product_id = f.product_id
JOIN gold.dim_customer c ON c.customer_id = f.customer_id";

/// What the filters of the page select; `None` is "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// First day, inclusive.
    pub from: Option<chrono::NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<chrono::NaiveDate>,
    /// One product's name.
    pub product: Option<String>,
    /// One region.
    pub region: Option<String>,
}

impl Filters {
    /// The `WHERE` clause over [`SALES`]' columns, with `$n` parameters,
    /// and the values they are bound to: a filter's text never becomes SQL.
    fn sql(&self) -> (String, Vec<ScalarValue>) {
        let mut conditions = vec![];
        let mut values = vec![];
        let mut bind = |condition: &str, value: ScalarValue| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(d) = self.from {
            bind("sale_date >= ?", date(d));
        }
        if let Some(d) = self.to {
            bind("sale_date <= ?", date(d));
        }
        if let Some(p) = &self.product {
            bind("product = ?", ScalarValue::Utf8(Some(p.clone())));
        }
        if let Some(r) = &self.region {
            bind("region = ?", ScalarValue::Utf8(Some(r.clone())));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        (clause, values)
    }
}

fn date(d: chrono::NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(
        datafusion::arrow::datatypes::Date32Type::from_naive_date(d),
    ))
}

/// What the page shows for some filters: the cards, the products that sold
/// most, and sales per month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Slice {
    /// Total sales, cents.
    pub cents: i64,
    /// Items sold.
    pub items: i64,
    /// Sales (fact rows).
    pub sales: i64,
    /// The products that sold most, with their cents, most first.
    pub top: Vec<Named>,
    /// Cents per month (`YYYY-MM`), in order.
    pub months: Vec<Month>,
}

/// A product and its sales, cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    /// The product.
    pub name: String,
    /// Its sales, cents.
    pub cents: i64,
}

/// A month and its sales, cents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Its sales, cents.
    pub cents: i64,
}

/// What the filters can choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choices {
    /// Every product name, sorted.
    pub products: Vec<String>,
    /// Every region, sorted.
    pub regions: Vec<String>,
    /// The first and last day with sales.
    pub first: Option<String>,
    /// The last day with sales.
    pub last: Option<String>,
}

/// The pipeline-health panel.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    runs: u64,
    success_rate: f64,
    errors: u64,
    p50: Option<f64>,
    p95: Option<f64>,
    recent: Vec<RecentRun>,
}

#[derive(Debug, Clone, Serialize)]
struct RecentRun {
    run_id: String,
    status: &'static str,
    duration_s: Option<f64>,
    error: Option<String>,
}

/// The offline page's data: months × products × regions.
#[derive(Serialize)]
struct Embedded {
    /// Distinct products; the rows name them by index.
    products: Vec<String>,
    /// Distinct regions; the rows name them by index.
    regions: Vec<String>,
    /// `[month, product, region, sales, items, cents]`.
    rows: Vec<(String, usize, usize, i64, i64, i64)>,
    /// The name of the bucket that holds the products past the top ones,
    /// which the page leaves out of its product ranking.
    other: &'static str,
}

/// The forecast panel: the total's recent months and the months ahead,
/// from `gold.sales_forecast` (`strata forecast`).
#[derive(Debug, Clone, Serialize)]
pub struct Outlook {
    /// The method and its parameters.
    method: String,
    /// Backtest sMAPE (percent) of the method and of seasonal naive.
    backtest_smape: Option<f64>,
    naive_smape: Option<f64>,
    /// Its months, in order.
    points: Vec<OutlookPoint>,
}

/// `[month, kind, cents, lower, upper]`, kind `actual` or `forecast`; the
/// bounds only ahead.
type OutlookPoint = (String, String, i64, Option<i64>, Option<i64>);

/// Months of history the forecast panel shows before the months ahead.
const OUTLOOK_HISTORY: usize = 24;

/// The forecast panel, if `strata forecast` has written one.
pub async fn outlook(engine: &Engine) -> Result<Option<Outlook>> {
    if !engine.has_table("gold", "sales_forecast") {
        return Ok(None);
    }
    let batches = collect(
        engine,
        "SELECT substr(CAST(month AS VARCHAR), 1, 7), kind, CAST(sales * 100 AS BIGINT), \
         CAST(lower_95 * 100 AS BIGINT), CAST(upper_95 * 100 AS BIGINT), method, \
         backtest_smape, naive_smape \
         FROM gold.sales_forecast WHERE series = 'total' ORDER BY month",
        vec![],
    )
    .await?;
    let mut points = vec![];
    let mut about = None;
    for b in &batches {
        let (month, kind, method) = (texts(b, 0)?, texts(b, 1)?, texts(b, 5)?);
        let cents = ints(b, 2)?;
        let bound = |i: usize| -> Result<Vec<Option<i64>>> {
            let a = cast(b.column(i), &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            Ok((0..a.len())
                .map(|r| (!a.is_null(r)).then(|| a.value(r)))
                .collect())
        };
        let (lower, upper) = (bound(3)?, bound(4)?);
        let ratio = |i: usize| -> Result<Option<f64>> {
            let a = cast(b.column(i), &DataType::Float64)?;
            let a = a.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            Ok((!a.is_empty() && !a.is_null(0)).then(|| a.value(0)))
        };
        if about.is_none() && b.num_rows() > 0 {
            about = Some((method[0].clone(), ratio(6)?, ratio(7)?));
        }
        for r in 0..b.num_rows() {
            points.push((
                month[r].clone(),
                kind[r].clone(),
                cents[r],
                lower[r],
                upper[r],
            ));
        }
    }
    let Some((method, backtest_smape, naive_smape)) = about else {
        return Ok(None);
    };
    let actual = points.iter().filter(|p| p.1 == "actual").count();
    let skip = actual.saturating_sub(OUTLOOK_HISTORY);
    points.drain(..skip);
    Ok(Some(Outlook {
        method,
        backtest_smape,
        naive_smape,
        points,
    }))
}

#[derive(Serialize)]
struct Page<'a> {
    mode: &'static str,
    lake: String,
    generated_at: String,
    currency: &'static str,
    /// What one entry of the data is, said on the page.
    granularity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedded: Option<Embedded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<&'a Pipeline>,
    /// The forecast panel (offline; `null` when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    outlook: Option<Option<Outlook>>,
}

fn require_gold(engine: &Engine) -> Result<()> {
    for t in ["fact_sales", "dim_product", "dim_customer"] {
        if !engine.has_table("gold", t) {
            return Err(Error::Lake {
                key: format!("gold.{t}"),
                message: "missing: `strata run` builds it before a dashboard can show it".into(),
            });
        }
    }
    Ok(())
}

async fn collect(engine: &Engine, sql: &str, params: Vec<ScalarValue>) -> Result<Vec<RecordBatch>> {
    let mut df = engine
        .ctx()
        .sql(sql)
        .await
        .map_err(|e| Error::query("dashboard", e))?;
    if !params.is_empty() {
        df = df
            .with_param_values(params)
            .map_err(|e| Error::query("dashboard", e))?;
    }
    df.collect().await.map_err(|e| Error::query("dashboard", e))
}

/// Column `i` of `b` as text, `(unknown)` where null.
fn texts(b: &RecordBatch, i: usize) -> Result<Vec<String>> {
    let a = cast(b.column(i), &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|r| {
            if a.is_null(r) {
                "(unknown)".to_string()
            } else {
                a.value(r).to_string()
            }
        })
        .collect())
}

/// Column `i` of `b` as integers, 0 where null (a sum over no rows).
fn ints(b: &RecordBatch, i: usize) -> Result<Vec<i64>> {
    let a = cast(b.column(i), &DataType::Int64)?;
    let a = a.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|r| if a.is_null(r) { 0 } else { a.value(r) })
        .collect())
}

/// The cards and charts for `filters`, from one aggregation over gold.
pub async fn slice(engine: &Engine, filters: &Filters) -> Result<Slice> {
    require_gold(engine)?;
    let (clause, params) = filters.sql();
    let sql = format!(
        "SELECT month, product, count(*), sum(quantity), CAST(sum(total_value) * 100 AS BIGINT) \
         FROM ({SALES}) {clause} GROUP BY month, product"
    );
    let mut out = Slice::default();
    let mut products: BTreeMap<String, i64> = BTreeMap::new();
    let mut months: BTreeMap<String, i64> = BTreeMap::new();
    for b in collect(engine, &sql, params).await? {
        let (month, product) = (texts(&b, 0)?, texts(&b, 1)?);
        let (sales, items, cents) = (ints(&b, 2)?, ints(&b, 3)?, ints(&b, 4)?);
        for r in 0..b.num_rows() {
            out.sales += sales[r];
            out.items += items[r];
            out.cents += cents[r];
            *products.entry(product[r].clone()).or_default() += cents[r];
            *months.entry(month[r].clone()).or_default() += cents[r];
        }
    }
    let mut top: Vec<Named> = products
        .into_iter()
        .map(|(name, cents)| Named { name, cents })
        .collect();
    top.sort_by(|a, b| b.cents.cmp(&a.cents).then_with(|| a.name.cmp(&b.name)));
    top.truncate(TOP_SHOWN);
    out.top = top;
    out.months = months
        .into_iter()
        .map(|(month, cents)| Month { month, cents })
        .collect();
    Ok(out)
}

/// The products, regions and days the filters can choose from.
pub async fn filters(engine: &Engine) -> Result<Choices> {
    require_gold(engine)?;
    let distinct = |column: &str, table: &str| {
        format!("SELECT DISTINCT COALESCE({column}, '(unknown)') FROM gold.{table} ORDER BY 1")
    };
    let mut products = vec![];
    for b in collect(engine, &distinct("product_name", "dim_product"), vec![]).await? {
        products.extend(texts(&b, 0)?);
    }
    let mut regions = vec![];
    for b in collect(engine, &distinct("region", "dim_customer"), vec![]).await? {
        regions.extend(texts(&b, 0)?);
    }
    let range = collect(
        engine,
        "SELECT CAST(min(sale_date) AS VARCHAR), CAST(max(sale_date) AS VARCHAR) \
         FROM gold.fact_sales",
        vec![],
    )
    .await?;
    let day = |i: usize| {
        range.iter().find(|b| b.num_rows() > 0).and_then(|b| {
            let a = b.column(i).as_string_opt::<i32>()?;
            (!a.is_null(0)).then(|| a.value(0).to_string())
        })
    };
    Ok(Choices {
        products,
        regions,
        first: day(0),
        last: day(1),
    })
}

/// The pipeline-health panel from the lake's run history.
pub fn pipeline(h: &History) -> Pipeline {
    let all = Summary::of(h, None);
    Pipeline {
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
    }
}

/// Months × the top products (the rest as [`OTHER_PRODUCTS`]) × regions.
async fn embedded(engine: &Engine) -> Result<Embedded> {
    require_gold(engine)?;
    let sql = format!(
        "WITH s AS ({SALES}),
         top AS (SELECT product FROM s GROUP BY product
                 ORDER BY sum(total_value) DESC, product LIMIT {TOP_PRODUCTS})
         SELECT s.month, CASE WHEN top.product IS NULL THEN NULL ELSE s.product END AS product,
                s.region, count(*), sum(s.quantity), CAST(sum(s.total_value) * 100 AS BIGINT)
         FROM s LEFT JOIN top ON top.product = s.product
         GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS LAST, 3"
    );
    let batches = collect(engine, &sql, vec![]).await?;
    let mut products: Vec<String> = vec![];
    let mut regions: Vec<String> = vec![];
    let index = |names: &mut Vec<String>, name: String| match names.iter().position(|n| *n == name)
    {
        Some(i) => i,
        None => {
            names.push(name);
            names.len() - 1
        }
    };
    let mut rows = vec![];
    for b in &batches {
        let (month, region) = (texts(b, 0)?, texts(b, 2)?);
        let product = b.column(1).clone();
        let product = cast(&product, &DataType::Utf8)?;
        let product = product.as_string::<i32>();
        let (sales, items, cents) = (ints(b, 3)?, ints(b, 4)?, ints(b, 5)?);
        for r in 0..b.num_rows() {
            let name = if product.is_null(r) {
                OTHER_PRODUCTS.to_string()
            } else {
                product.value(r).to_string()
            };
            rows.push((
                month[r].clone(),
                index(&mut products, name),
                index(&mut regions, region[r].clone()),
                sales[r],
                items[r],
                cents[r],
            ));
        }
    }
    Ok(Embedded {
        products,
        regions,
        rows,
        other: OTHER_PRODUCTS,
    })
}

fn page(data: &Page) -> String {
    // Inside <script>, "</" could end the element early.
    let json = serde_json::to_string(data)
        .expect("dashboard data serializes")
        .replace("</", "<\\/");
    TEMPLATE.replace(PLACEHOLDER, &json)
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The offline page, with its data.
pub async fn offline(engine: &Engine, h: &History) -> Result<String> {
    let embedded = embedded(engine).await?;
    let others = embedded.products.iter().any(|p| p == OTHER_PRODUCTS);
    let granularity = format!(
        "monthly totals by product and region{}",
        if others {
            format!(
                "; products after the {TOP_PRODUCTS} that sold most are summed as \
                 \u{201c}{OTHER_PRODUCTS}\u{201d}"
            )
        } else {
            String::new()
        }
    );
    let pipeline = pipeline(h);
    Ok(page(&Page {
        mode: "embedded",
        lake: engine.lake().describe(),
        generated_at: now(),
        currency: "R$",
        granularity: Some(granularity),
        embedded: Some(embedded),
        pipeline: Some(&pipeline),
        outlook: Some(outlook(engine).await?),
    }))
}

/// The live page: no data, only where it comes from.
pub fn live(lake: String) -> String {
    page(&Page {
        mode: "live",
        lake,
        generated_at: now(),
        currency: "R$",
        granularity: None,
        embedded: None,
        pipeline: None,
        outlook: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_parameters_never_sql() {
        let f = Filters {
            from: chrono::NaiveDate::from_ymd_opt(2023, 1, 1),
            to: None,
            product: Some("x' OR '1'='1".into()),
            region: Some("Sul".into()),
        };
        let (clause, values) = f.sql();
        assert_eq!(
            clause,
            "WHERE sale_date >= $1 AND product = $2 AND region = $3"
        );
        assert_eq!(values.len(), 3);
        assert_eq!(values[0], ScalarValue::Date32(Some(19358)));
        assert_eq!(Filters::default().sql(), (String::new(), vec![]));
    }
}
