//! Reports: named queries in `queries/reports/` run against the lake.

use datafusion::arrow::array::RecordBatch;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::models::QueryFile;

/// The folder reports live in, under `queries/`.
pub const DIR: &str = "reports";

/// Runs the report `name` (`queries/reports/<name>.sql`) and returns its rows.
/// A report is small by nature (one row per month), so it is collected.
pub async fn run(
    engine: &Engine,
    queries_dir: &std::path::Path,
    name: &str,
) -> Result<Vec<RecordBatch>> {
    let dir = queries_dir.join(DIR);
    let path = dir.join(format!("{name}.sql"));
    if !path.is_file() {
        let known: Vec<String> = crate::models::discover_queries(&dir)?
            .into_iter()
            .map(|q| q.name)
            .collect();
        return Err(Error::Config(format!(
            "no report `{name}` ({} does not exist; reports: {})",
            path.display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    }
    let report = QueryFile::load(&path)?;
    let df = Engine::sql_from_file(engine.ctx(), &report.path, &report.sql).await?;
    df.collect().await.map_err(|e| Error::sql(&report.path, e))
}
