//! `strata forecast`: monthly sales ahead, for the total, each region and
//! each category, from gold; written to `gold.sales_forecast` so it can be
//! queried, with each series' backtest beside a seasonal-naive baseline's.
//!
//! The history is gold's sales per calendar month. A last month the data
//! does not cover to its end is left out of the fit (it would read as a
//! fall in sales) and said so. Each series is backtested by fitting all
//! but its last [`HOLDOUT`] months and comparing the forecast for them
//! with what was sold (sMAPE), and the same for the seasonal-naive
//! forecast (each month as the same month a year before); the forecast
//! itself is then fitted on the whole history.

pub mod model;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};

use super::Workspace;
use crate::error::{Error, Result};

/// Months held out to measure each series' error.
pub const HOLDOUT: usize = 6;

/// Months in a season: sales repeat yearly.
const PERIOD: usize = 12;

/// The table the forecast is written to.
pub const TABLE: &str = "gold.sales_forecast";

/// Gold's sales per month, region and category, in cents.
const MONTHLY: &str = "
SELECT CAST(date_trunc('month', f.sale_date) AS DATE) AS month,
       COALESCE(c.region, '(unknown)') AS region,
       COALESCE(p.category, '(unknown)') AS category,
       CAST(sum(f.total_value) * 100 AS BIGINT) AS cents,
       max(f.sale_date) AS last_day
FROM gold.fact_sales f
JOIN gold.dim_customer c ON c.customer_id = f.customer_id
JOIN gold.dim_product p ON p.product_id = f.product_id
GROUP BY 1, 2, 3";

/// One series' result.
#[derive(Debug, Clone)]
pub struct Forecast {
    /// `total`, `region` or `category`.
    pub series: &'static str,
    /// The region's or category's name; `all` for the total.
    pub member: String,
    /// The method fitted, with its parameters.
    pub method: String,
    /// The months of history fitted, first to last.
    pub history: Vec<(NaiveDate, i64)>,
    /// The months ahead: month, forecast, 95% interval, in cents.
    pub ahead: Vec<Ahead>,
    /// Backtest sMAPE (percent) of the method over the last [`HOLDOUT`]
    /// months, and of the seasonal-naive forecast; `None` when the history
    /// is too short to hold months out.
    pub backtest: Option<(f64, f64)>,
}

/// One month ahead, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    /// The month's first day.
    pub month: NaiveDate,
    /// The forecast.
    pub cents: i64,
    /// The 95% interval's bounds (sales are never below 0).
    pub lower: i64,
    /// The 95% interval's upper bound.
    pub upper: i64,
}

/// What `strata forecast` found.
#[derive(Debug, Clone)]
pub struct Outlook {
    /// Every series: the total first, then regions, then categories.
    pub series: Vec<Forecast>,
    /// The month left out because the data stops before its end.
    pub partial: Option<NaiveDate>,
}

fn first_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("every month has a first day")
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("a valid month")
}

fn last_day_of(month: NaiveDate) -> NaiveDate {
    next_month(month).pred_opt().expect("a valid day")
}

/// Forecasts `months` ahead for every series of `ws`'s gold.
pub async fn forecast(ws: &Workspace, months: usize) -> Result<Outlook> {
    for t in ["fact_sales", "dim_customer", "dim_product"] {
        if !ws.engine.has_table("gold", t) {
            return Err(Error::Lake {
                key: format!("gold.{t}"),
                message: "missing: `strata run` builds it before a forecast can read it".into(),
            });
        }
    }
    let batches = ws
        .engine
        .ctx()
        .sql(MONTHLY)
        .await
        .map_err(|e| Error::query("forecast", e))?
        .collect()
        .await
        .map_err(|e| Error::query("forecast", e))?;
    // (month, region, category) -> cents; and the last day with sales.
    let mut cells: Vec<(NaiveDate, String, String, i64)> = vec![];
    let mut last_day: Option<NaiveDate> = None;
    for b in &batches {
        cells.extend(rows(b)?);
        let days = cast(b.column(4), &DataType::Date32)?;
        let days = days.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
        for i in 0..days.len() {
            if let Some(d) = days.value_as_date(i) {
                last_day = last_day.max(Some(d));
            }
        }
    }
    let Some(last_day) = last_day else {
        return Err(Error::Lake {
            key: "gold.fact_sales".into(),
            message: "holds no sales to forecast from".into(),
        });
    };
    let partial = (last_day != last_day_of(first_of(last_day))).then(|| first_of(last_day));
    let first = cells
        .iter()
        .map(|c| c.0)
        .min()
        .expect("a last day means a month");
    let end = partial.unwrap_or_else(|| next_month(first_of(last_day)));
    let mut calendar = vec![];
    let mut m = first;
    while m < end {
        calendar.push(m);
        m = next_month(m);
    }
    let index: BTreeMap<NaiveDate, usize> =
        calendar.iter().enumerate().map(|(i, m)| (*m, i)).collect();

    // Every series over the whole calendar: a month without sales is 0.
    let mut total = vec![0i64; calendar.len()];
    let mut regions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut categories: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (month, region, category, cents) in cells {
        let Some(&i) = index.get(&month) else {
            continue; // the partial month
        };
        total[i] += cents;
        regions
            .entry(region)
            .or_insert_with(|| vec![0; calendar.len()])[i] += cents;
        categories
            .entry(category)
            .or_insert_with(|| vec![0; calendar.len()])[i] += cents;
    }
    let mut series = vec![one("total", "all".into(), &calendar, &total, months)?];
    for (name, values) in &regions {
        series.push(one("region", name.clone(), &calendar, values, months)?);
    }
    for (name, values) in &categories {
        series.push(one("category", name.clone(), &calendar, values, months)?);
    }
    Ok(Outlook { series, partial })
}

fn rows(b: &RecordBatch) -> Result<Vec<(NaiveDate, String, String, i64)>> {
    let month = cast(b.column(0), &DataType::Date32)?;
    let month = month.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
    let region = cast(b.column(1), &DataType::Utf8)?;
    let region = region.as_string::<i32>();
    let category = cast(b.column(2), &DataType::Utf8)?;
    let category = category.as_string::<i32>();
    let cents = cast(b.column(3), &DataType::Int64)?;
    let cents = cents.as_primitive::<Int64Type>();
    Ok((0..b.num_rows())
        .filter_map(|i| {
            Some((
                month.value_as_date(i)?,
                region.value(i).to_string(),
                category.value(i).to_string(),
                if cents.is_null(i) { 0 } else { cents.value(i) },
            ))
        })
        .collect())
}

fn one(
    series: &'static str,
    member: String,
    calendar: &[NaiveDate],
    cents: &[i64],
    months: usize,
) -> Result<Forecast> {
    let y: Vec<f64> = cents.iter().map(|c| *c as f64).collect();
    let fit = model::fit(&y, PERIOD).ok_or_else(|| Error::Lake {
        key: "gold.fact_sales".into(),
        message: format!(
            "{} whole month(s) of sales: a forecast needs at least 3",
            calendar.len()
        ),
    })?;
    // The backtest needs the held-out months and, for the seasonal-naive
    // baseline, a whole season before them.
    let backtest = (y.len() >= HOLDOUT + PERIOD)
        .then(|| {
            let (train, test) = y.split_at(y.len() - HOLDOUT);
            let fitted = model::fit(train, PERIOD)?;
            let predicted: Vec<f64> = fitted.forecast(HOLDOUT).iter().map(|p| p.value).collect();
            let naive = model::seasonal_naive(train, PERIOD, HOLDOUT);
            Some((model::smape(test, &predicted), model::smape(test, &naive)))
        })
        .flatten();
    let mut month = *calendar.last().expect("a fit means a history");
    let ahead = fit
        .forecast(months)
        .into_iter()
        .map(|p| {
            month = next_month(month);
            let cents = |v: f64| v.max(0.0).round() as i64;
            Ahead {
                month,
                cents: cents(p.value),
                lower: cents(p.lower),
                upper: cents(p.upper),
            }
        })
        .collect();
    Ok(Forecast {
        series,
        member,
        method: fit.method,
        history: calendar
            .iter()
            .copied()
            .zip(cents.iter().copied())
            .collect(),
        ahead,
        backtest,
    })
}

fn money(cents: i64) -> String {
    format!(
        "CAST('{}.{:02}' AS DECIMAL(18,2))",
        cents / 100,
        cents % 100
    )
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("CAST(NULL AS DOUBLE)".into(), |v| {
        format!("CAST({:.4} AS DOUBLE)", v)
    })
}

/// The statement that writes the outlook as [`TABLE`]: the history and
/// the months ahead of every series, one row per series and month.
pub fn table_sql(outlook: &Outlook) -> String {
    let mut rows = vec![];
    for f in &outlook.series {
        let (model, naive) = (f.backtest.map(|b| b.0), f.backtest.map(|b| b.1));
        let common = |month: NaiveDate, kind: &str, sales: String, lower: String, upper: String| {
            format!(
                "({}, {}, DATE '{month}', {}, {sales}, {lower}, {upper}, {}, {}, {})",
                text(f.series),
                text(&f.member),
                text(kind),
                text(&f.method),
                ratio(model),
                ratio(naive)
            )
        };
        let none = || "CAST(NULL AS DECIMAL(18,2))".to_string();
        for (month, cents) in &f.history {
            rows.push(common(*month, "actual", money(*cents), none(), none()));
        }
        for a in &f.ahead {
            rows.push(common(
                a.month,
                "forecast",
                money(a.cents),
                money(a.lower),
                money(a.upper),
            ));
        }
    }
    format!(
        "CREATE TABLE {TABLE} AS SELECT * FROM (VALUES {}) AS t(series, member, month, kind, \
         sales, lower_95, upper_95, method, backtest_smape, naive_smape) \
         ORDER BY series, member, month",
        rows.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 10).unwrap();
        assert_eq!(
            last_day_of(first_of(d)),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        assert_eq!(
            next_month(NaiveDate::from_ymd_opt(2023, 12, 1).unwrap()),
            NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
        );
    }

    #[test]
    fn the_table_quotes_names_and_keeps_cents_exact() {
        let m = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let outlook = Outlook {
            series: vec![Forecast {
                series: "category",
                member: "Kids' toys".into(),
                method: "m".into(),
                history: vec![(m, 123_456_789)],
                ahead: vec![Ahead {
                    month: next_month(m),
                    cents: 5,
                    lower: 0,
                    upper: 10,
                }],
                backtest: None,
            }],
            partial: None,
        };
        let sql = table_sql(&outlook);
        assert!(sql.contains("'Kids'' toys'"), "{sql}");
        assert!(sql.contains("CAST('1234567.89' AS DECIMAL(18,2))"), "{sql}");
        assert!(sql.contains("CAST('0.05' AS DECIMAL(18,2))"), "{sql}");
    }
}
