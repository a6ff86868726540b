//! Reports: named queries in `queries/reports/` run against the lake.

use datafusion::arrow::array::RecordBatch;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::QueryFile;

/// The folder reports live in, under `queries/`.
pub const DIR: &str = "reports";

/// A report's parameters, bound as typed values to `$from` and `$to`
/// (never pasted into the SQL text).
#[derive(Debug, Clone, Copy)]
pub struct ReportParams {
    /// First day included.
    pub from: chrono::NaiveDate,
    /// Last day included.
    pub to: chrono::NaiveDate,
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams {
            from: chrono::NaiveDate::MIN,
            to: chrono::NaiveDate::MAX,
        }
    }
}

impl ReportParams {
    /// `--year`, `--from`, `--to` as one date range; the year narrows the others.
    pub fn new(
        year: Option<i32>,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Self> {
        let mut p = ReportParams::default();
        if let Some(y) = year {
            p.from = chrono::NaiveDate::from_ymd_opt(y, 1, 1)
                .ok_or_else(|| Error::Config(format!("--year {y} is out of range")))?;
            p.to = chrono::NaiveDate::from_ymd_opt(y, 12, 31).expect("Dec 31 exists");
        }
        if let Some(f) = from {
            p.from = p.from.max(f);
        }
        if let Some(t) = to {
            p.to = p.to.min(t);
        }
        if p.from > p.to {
            return Err(Error::Config(format!(
                "empty date range: {} .. {}",
                p.from, p.to
            )));
        }
        Ok(p)
    }

    fn values(&self) -> std::collections::HashMap<String, datafusion::scalar::ScalarValue> {
        let day = |d: chrono::NaiveDate| {
            datafusion::scalar::ScalarValue::Date32(Some(
                (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32,
            ))
        };
        [
            ("from".to_string(), day(self.from)),
            ("to".to_string(), day(self.to)),
        ]
        .into()
    }
}

/// Runs the report `name` (`queries/reports/<name>.sql`) and returns its rows.
/// A report is small by nature (one row per month), so it is collected.
pub async fn run(
    engine: &Engine,
    queries_dir: &std::path::Path,
    name: &str,
    params: &ReportParams,
) -> Result<Vec<RecordBatch>> {
    let report = load(queries_dir, name)?;
    let ctx = engine.session_for(&report.sql)?;
    execute(ctx, &report, params).await
}

/// The report `name` (`queries/reports/<name>.sql`), or an error naming the
/// reports there are.
pub(crate) fn load(queries_dir: &std::path::Path, name: &str) -> Result<QueryFile> {
    let dir = queries_dir.join(DIR);
    let path = dir.join(format!("{name}.sql"));
    if !path.is_file() {
        let known: Vec<String> = crate::models::discover_queries(&dir)?
            .into_iter()
            .map(|q| q.name)
            .collect();
        let project_dir = queries_dir.parent().unwrap_or(queries_dir);
        return Err(Error::Config(format!(
            "no report `{name}` ({} does not exist; reports: {})",
            crate::runner::relative(&path, project_dir),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    }
    QueryFile::load(&path)
}

/// Runs `report` in `ctx` with `params` bound, and collects its rows.
pub(crate) async fn execute(
    ctx: datafusion::prelude::SessionContext,
    report: &QueryFile,
    params: &ReportParams,
) -> Result<Vec<RecordBatch>> {
    let mut df = Engine::sql_from_file(&ctx, &report.path, &report.sql).await?;
    if report.sql.contains("$from") || report.sql.contains("$to") {
        df = df
            .with_param_values(params.values())
            .map_err(|e| Error::sql(&report.path, e))?;
    }
    df.collect().await.map_err(|e| Error::sql(&report.path, e))
}
