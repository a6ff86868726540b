//! `strata verify`: is the lake equal to its source?
//!
//! Two comparisons, each day by day and then, for the days that differ,
//! row by row:
//! - bronze against every source row as extracted (duplicates included);
//! - silver with its quarantine against bronze's distinct rows, in the form
//!   silver keeps them (see [`recipe::Form::Cleaned`]). With the first, this
//!   compares silver with the source, and the source is scanned once.
//!
//! Each side computes its own fingerprints ([`recipe`]): a PostgreSQL source
//! in one `REPEATABLE READ` snapshot on the server, so only a row per day
//! crosses the network; a CSV source and the lake in Strata's session, and
//! bronze's two fingerprints in one scan. The lake side reads the table
//! versions current when the session opened. The
//! result is recorded under `_strata/meta/verify/` and queryable as
//! `meta.verify` and `meta.verify_rows`.

pub(crate) mod recipe;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;

use super::Workspace;
use crate::config::SourceSpec;
use crate::engine::Engine;
use crate::error::{Error, Result};
pub use crate::metadata::verifications::{Check, RowDifference, Verification};
use crate::source::postgres::connect::{PgConnector, PgSession};
use recipe::{Dialect, Form};

/// Days of a comparison looked at row by row; the others are only counted.
const DAYS_BISECTED: usize = 20;
/// Rows named per comparison; past it the count still says how many differ.
const ROWS_NAMED: usize = 200;

/// Per day: rows and the exact sum of their hashes.
type Fingerprint = BTreeMap<String, (u64, i128)>;

/// Rows of some days, by (day, row text): sale id and copies.
type Rows = BTreeMap<(String, String), (String, u64)>;

/// Compares the lake with its source and records the result.
pub async fn verify(ws: &Workspace) -> Result<Verification> {
    let started = Instant::now();
    let verified_at = crate::sys::now();
    let engine = &ws.engine;
    for table in ["bronze.sales", "silver.sales", "silver.sales_quarantine"] {
        let (schema, name) = table.split_once('.').expect("qualified");
        if !engine.has_table(schema, name) {
            return Err(Error::Config(format!(
                "{table} is not in the lake yet: build it with `strata run` before verifying"
            )));
        }
    }
    let source = Source::open(ws).await?;
    let lake = Side::Lake(engine);
    let (from_source, (bronze, bronze_distinct), silver) =
        tokio::try_join!(source.fingerprint(), lake.bronze(), lake.silver())?;
    let checks = vec![
        compare(
            Compared::BronzeWithSource,
            &source.side(),
            &lake,
            &from_source,
            &bronze,
        )
        .await?,
        compare(
            Compared::SilverWithBronze,
            &lake,
            &lake,
            &bronze_distinct,
            &silver,
        )
        .await?,
    ];
    source.finish().await?;
    let verification = Verification {
        verify_id: crate::runner::new_run_id(),
        verified_at,
        source: source.describe(),
        duration_s: started.elapsed().as_secs_f64(),
        checks,
    };
    crate::metadata::record_verification(engine.lake(), &verification).await?;
    Ok(verification)
}

/// What the lake is compared with.
enum Source<'a> {
    /// A PostgreSQL source, in a transaction holding one snapshot.
    Postgres(PgSession, String),
    /// A CSV source, read by Strata.
    Csv(&'a Engine, String),
}

impl<'a> Source<'a> {
    async fn open(ws: &'a Workspace) -> Result<Self> {
        match &ws.config.source {
            SourceSpec::Postgres(url) => {
                let connector = PgConnector::new(url, &ws.config.pg_env)?;
                let session = connector.connect_read_only().await?;
                session
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(|e| session.error(e))?;
                Ok(Source::Postgres(session, connector.describe().to_string()))
            }
            SourceSpec::Csv(path) => Ok(Source::Csv(&ws.engine, path.display().to_string())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Postgres(_, d) | Source::Csv(_, d) => d.clone(),
        }
    }

    fn side(&self) -> Side<'_> {
        match self {
            Source::Postgres(s, _) => Side::Postgres(s),
            Source::Csv(engine, _) => Side::Csv(engine),
        }
    }

    /// The source's fingerprint, its rows as extracted.
    async fn fingerprint(&self) -> Result<Fingerprint> {
        let sql = match self {
            Source::Postgres(..) => Dialect::Postgres.fingerprint("public.sales"),
            Source::Csv(..) => Dialect::DataFusion.fingerprint("legacy.sales"),
        };
        let rows = self.side().query(&sql).await?;
        rows.into_iter()
            .map(|r| Ok((r[0].clone(), (number(&r[1])?, number(&r[2])?))))
            .collect()
    }

    async fn finish(&self) -> Result<()> {
        if let Source::Postgres(session, _) = self {
            session
                .batch_execute("COMMIT")
                .await
                .map_err(|e| session.error(e))?;
        }
        Ok(())
    }
}

/// One side of a comparison, as something that answers SQL with text.
enum Side<'a> {
    Postgres(&'a PgSession),
    Csv(&'a Engine),
    Lake(&'a Engine),
}

impl Side<'_> {
    /// Bronze's fingerprints: as extracted, and its distinct rows cleaned.
    async fn bronze(&self) -> Result<(Fingerprint, Fingerprint)> {
        let rows = self.query(&recipe::bronze_fingerprint()).await?;
        let (mut extracted, mut cleaned) = (Fingerprint::new(), Fingerprint::new());
        for r in rows {
            extracted.insert(r[0].clone(), (number(&r[1])?, number(&r[2])?));
            cleaned.insert(r[0].clone(), (number(&r[3])?, number(&r[4])?));
        }
        Ok((extracted, cleaned))
    }

    /// Silver's fingerprint, with its quarantine.
    async fn silver(&self) -> Result<Fingerprint> {
        let rows = self.query(&recipe::silver_fingerprint()).await?;
        rows.into_iter()
            .map(|r| Ok((r[0].clone(), (number(&r[1])?, number(&r[2])?))))
            .collect()
    }

    /// The rows of `days` this side holds in the comparison `what`.
    async fn rows(&self, what: Compared, expected: bool, days: &[String]) -> Result<Rows> {
        let sql = match (what, expected, self) {
            (Compared::BronzeWithSource, true, Side::Postgres(_)) => {
                Dialect::Postgres.rows("public.sales", Form::Extracted, days)
            }
            (Compared::BronzeWithSource, true, _) => {
                Dialect::DataFusion.rows("legacy.sales", Form::Extracted, days)
            }
            (Compared::BronzeWithSource, false, _) => {
                Dialect::DataFusion.rows("bronze.sales", Form::Extracted, days)
            }
            (Compared::SilverWithBronze, true, _) => {
                Dialect::DataFusion.rows("bronze.sales", Form::Cleaned, days)
            }
            (Compared::SilverWithBronze, false, _) => recipe::silver_rows(days),
        };
        let mut out = Rows::new();
        for r in self.query(&sql).await? {
            let [day, sale_id, row, copies] = <[String; 4]>::try_from(r)
                .map_err(|_| Error::Internal("a row query answered other than 4 columns".into()))?;
            let copies = number::<u64>(&copies)?;
            out.entry((day, row))
                .and_modify(|e: &mut (String, u64)| e.1 += copies)
                .or_insert((sale_id, copies));
        }
        Ok(out)
    }

    /// Runs `sql`, every column read as text (NULL as the empty string).
    async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let started = Instant::now();
        let rows = self.query_timed(sql).await;
        tracing::debug!(
            side = match self {
                Side::Postgres(_) => "source (postgres)",
                Side::Csv(_) => "source (csv)",
                Side::Lake(_) => "lake",
            },
            seconds = started.elapsed().as_secs_f64(),
            %sql,
            "verify query"
        );
        rows
    }

    async fn query_timed(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        match self {
            Side::Postgres(session) => {
                let rows = session
                    .query(sql, &[])
                    .await
                    .map_err(|e| session.error(e))?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                            .collect()
                    })
                    .collect())
            }
            Side::Csv(engine) | Side::Lake(engine) => {
                let origin = "strata verify";
                let df = crate::engine::plan(
                    engine.ctx(),
                    sql,
                    datafusion::execution::context::SQLOptions::new(),
                )
                .await
                .map_err(|e| Error::query(origin, e))?;
                let batches = df.collect().await.map_err(|e| Error::query(origin, e))?;
                texts(&batches)
            }
        }
    }
}

/// Batches as rows of text.
fn texts(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let mut out = vec![];
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::DataFusion(Box::new(e.into())))?;
        for i in 0..batch.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let c = c.as_string::<i32>();
                        if c.is_null(i) {
                            String::new()
                        } else {
                            c.value(i).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T> {
    // An empty side of a day sums to NULL, which reads as "".
    let text = if text.is_empty() { "0" } else { text };
    text.parse()
        .map_err(|_| Error::Internal(format!("a fingerprint is not a number: {text:?}")))
}

/// What a comparison holds against what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compared {
    /// Bronze, against the source's rows as extracted.
    BronzeWithSource,
    /// Silver and its quarantine, against bronze's distinct rows cleaned.
    SilverWithBronze,
}

/// Compares two fingerprints (`expected` from what the tables should
/// hold), then the rows of the days that differ.
async fn compare(
    what: Compared,
    expected_side: &Side<'_>,
    lake: &Side<'_>,
    expected: &Fingerprint,
    found: &Fingerprint,
) -> Result<Check> {
    let days: BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    let different: Vec<String> = days
        .iter()
        .filter(|d| expected.get(**d) != found.get(**d))
        .map(|d| (*d).clone())
        .collect();
    let mut rows = vec![];
    let mut rows_different = 0;
    if !different.is_empty() {
        let looked_at = &different[..different.len().min(DAYS_BISECTED)];
        let (in_expected, in_lake) = tokio::try_join!(
            expected_side.rows(what, true, looked_at),
            lake.rows(what, false, looked_at)
        )?;
        for diff in row_differences(&in_expected, &in_lake, what) {
            rows_different += 1;
            if rows.len() < ROWS_NAMED {
                rows.push(diff);
            }
        }
    }
    let (lake_tables, against) = match what {
        Compared::BronzeWithSource => ("bronze.sales", "source"),
        Compared::SilverWithBronze => ("silver.sales + silver.sales_quarantine", "bronze.sales"),
    };
    Ok(Check {
        lake_tables: lake_tables.into(),
        against: against.into(),
        status: if different.is_empty() {
            "equal"
        } else {
            "different"
        }
        .into(),
        source_rows: expected.values().map(|v| v.0).sum(),
        lake_rows: found.values().map(|v| v.0).sum(),
        days: days.len() as u64,
        days_different: different,
        rows,
        rows_different,
    })
}

/// The rows one side holds more copies of, in day and sale order.
fn row_differences(source: &Rows, lake: &Rows, what: Compared) -> Vec<RowDifference> {
    let (expected_name, found_name) = match what {
        Compared::BronzeWithSource => ("source", "lake"),
        Compared::SilverWithBronze => ("bronze", "silver"),
    };
    let keys: BTreeSet<&(String, String)> = source.keys().chain(lake.keys()).collect();
    let mut out: Vec<RowDifference> = keys
        .into_iter()
        .filter_map(|key| {
            let s = source.get(key);
            let l = lake.get(key);
            let (sc, lc) = (s.map_or(0, |v| v.1), l.map_or(0, |v| v.1));
            let (only_in, copies, sale_id) = match sc.cmp(&lc) {
                std::cmp::Ordering::Equal => return None,
                std::cmp::Ordering::Greater => (expected_name, sc - lc, &s?.0),
                std::cmp::Ordering::Less => (found_name, lc - sc, &l?.0),
            };
            Some(RowDifference {
                day: key.0.clone(),
                sale_id: sale_id.clone(),
                only_in: only_in.into(),
                copies,
                row: key.1.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.day, a.sale_id.parse::<i64>().ok(), &a.only_in).cmp(&(
            &b.day,
            b.sale_id.parse::<i64>().ok(),
            &b.only_in,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(entries: &[(&str, &str, &str, u64)]) -> Rows {
        entries
            .iter()
            .map(|(day, id, row, n)| ((day.to_string(), row.to_string()), (id.to_string(), *n)))
            .collect()
    }

    #[test]
    fn a_changed_row_shows_on_both_sides_and_a_lost_copy_on_the_source_side() {
        let source = rows(&[
            ("2021-01-02", "7", "(7, 'a')", 2),
            ("2021-01-02", "8", "(8, 'b')", 1),
            ("2021-01-02", "9", "(9, 'c')", 1),
        ]);
        let lake = rows(&[
            ("2021-01-02", "7", "(7, 'a')", 1),
            ("2021-01-02", "8", "(8, 'B')", 1),
            ("2021-01-02", "9", "(9, 'c')", 1),
        ]);
        let diffs = row_differences(&source, &lake, Compared::BronzeWithSource);
        let summary: Vec<(&str, &str, u64)> = diffs
            .iter()
            .map(|d| (d.sale_id.as_str(), d.only_in.as_str(), d.copies))
            .collect();
        assert_eq!(
            summary,
            vec![("7", "source", 1), ("8", "lake", 1), ("8", "source", 1)]
        );
    }
}
