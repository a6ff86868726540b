//! Cursor mode: following a source that grants no replication (a read
//! replica, a managed database without logical replication) by an
//! incremental extract on a declared column, `updated_at` by default.
//!
//! The first sync builds the lake inside one exported snapshot, in which it
//! also reads the column's highest value: the watermark. Each later sync
//! opens a new snapshot, finds the keys of the rows whose column is past
//! the watermark minus a lookback window (a transaction that wrote an older
//! value and committed after the last sync read is still seen), reads every
//! row of those keys as the source holds them now, and replaces bronze's
//! rows of those keys with them. Replacing by key is idempotent, so a batch
//! read twice (the lookback, or a sync killed before its commit) changes
//! nothing the second time.
//!
//! What a cursor cannot see, the README says plainly: a deleted row leaves
//! no row behind to be found, and a change that does not move the column
//! is invisible. `strata verify` finds both.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{Expr, SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::apply::{self, Span};
use super::{Position, Synced, rebuild_stale};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::versions;
use crate::runner::Observer;
use crate::source::postgres::connect::{PgConnector, PgSession};
use crate::source::postgres::table::quote_ident;

/// Where a cursor-following lake keeps its settings, under the lake root.
pub(crate) const CURSOR_KEY: &str = "_strata/sync/cursor.json";

/// The text of a watermark: PostgreSQL's `timestamp` at microseconds.
const WATERMARK_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// How a lake follows its source by cursor, as the first sync was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorSpec {
    /// The column every insert and update moves forward (a `timestamp`).
    pub column: String,
    /// The column that names a sale: all rows of a changed key are re-read.
    pub key: String,
    /// How far before the watermark each sync looks again, for
    /// transactions that committed after a sync read, with older values.
    pub lookback: Duration,
}

/// What the lake records of its cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CursorState {
    /// The cursor column.
    pub column: String,
    /// The key column.
    pub key: String,
    /// The lookback window, in seconds.
    pub lookback_seconds: f64,
    /// The source, its password hidden.
    pub source: String,
    /// The watermark the latest batch (or the first build) reached.
    pub watermark: Watermark,
    /// The run that built the lake from the first snapshot.
    pub snapshot_run: String,
    /// When the lake started following.
    pub created_at: String,
}

impl CursorState {
    fn spec(&self) -> CursorSpec {
        CursorSpec {
            column: self.column.clone(),
            key: self.key.clone(),
            lookback: Duration::from_secs_f64(self.lookback_seconds.max(0.0)),
        }
    }
}

/// The highest value of the cursor column the lake holds every row up to;
/// none while the source table is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Watermark(#[serde(with = "watermark_text")] pub Option<NaiveDateTime>);

mod watermark_text {
    use super::{NaiveDateTime, WATERMARK_FORMAT};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.format(WATERMARK_FORMAT).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                NaiveDateTime::parse_from_str(&t, WATERMARK_FORMAT)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

impl Watermark {
    /// The watermark as a number that orders batches (microseconds since
    /// 1970, 0 for none or before).
    fn ordinal(&self) -> u64 {
        self.0
            .map_or(0, |t| t.and_utc().timestamp_micros().max(0) as u64)
    }

    /// What a bronze manifest records: `cursor <column> <value>`.
    fn position(&self, column: &str) -> String {
        format!("cursor {column} {self}")
    }

    /// Reads a bronze manifest's position, if it is this column's.
    fn parse_position(text: &str, column: &str) -> Option<Result<Self>> {
        let rest = text.strip_prefix("cursor ")?.strip_prefix(column)?;
        let value = rest.strip_prefix(' ')?;
        Some(if value == "none" {
            Ok(Watermark(None))
        } else {
            NaiveDateTime::parse_from_str(value, WATERMARK_FORMAT)
                .map(|t| Watermark(Some(t)))
                .map_err(|e| Error::Lake {
                    key: apply::bronze_table().to_string(),
                    message: format!("unreadable cursor position {text:?}: {e}"),
                })
        })
    }
}

impl std::fmt::Display for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(t) => write!(f, "{}", t.format(WATERMARK_FORMAT)),
            None => f.write_str("none"),
        }
    }
}

/// The lake's cursor, if it follows its source by one.
pub(crate) async fn load(lake: &Lake) -> Result<Option<CursorState>> {
    super::read_json(lake, CURSOR_KEY).await
}

async fn save(lake: &Lake, state: &CursorState) -> Result<()> {
    super::write_json(lake, CURSOR_KEY, state).await
}

/// Stops following by cursor: the next sync starts from a new snapshot.
pub(crate) async fn forget(lake: &Lake) -> Result<bool> {
    match lake.store().delete(&Path::from(CURSOR_KEY)).await {
        Ok(()) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Checks that the source's `public.sales` has the two columns, the cursor
/// a `timestamp`.
async fn check_columns(connector: &PgConnector, spec: &CursorSpec) -> Result<()> {
    let client = connector.connect().await?;
    for (column, role) in [(&spec.column, "cursor"), (&spec.key, "key")] {
        let kind: Option<String> = client
            .query_opt(
                "SELECT data_type::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = 'sales' AND column_name = $1",
                &[column],
            )
            .await
            .map_err(|e| client.error(e))?
            .map(|r| r.get(0));
        match kind.as_deref() {
            None => {
                return Err(Error::Config(format!(
                    "{}: public.sales has no column {column} to use as the {role} \
                     (--cursor names a timestamp every insert and update sets, --key the \
                     column that names a sale)",
                    connector.describe()
                )));
            }
            Some(t) if role == "cursor" && t != "timestamp without time zone" => {
                return Err(Error::Config(format!(
                    "{}: public.sales.{column} is a {t}; a cursor column must be a \
                     timestamp (without time zone), which every insert and update sets",
                    connector.describe()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A read-only transaction on the source whose snapshot every scan of the
/// sync imports, and the cursor column's highest value in it. The session
/// holds the snapshot: it must live until the reads are done.
async fn snapshot(connector: &PgConnector, column: &str) -> Result<(PgSession, String, Watermark)> {
    let client = connector.connect().await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| client.error(e))?;
    let row = client
        .query_one(
            &format!(
                "SELECT pg_export_snapshot(), to_char(max({}), 'YYYY-MM-DD HH24:MI:SS.US') \
                 FROM public.sales",
                quote_ident(column)
            ),
            &[],
        )
        .await
        .map_err(|e| client.error(e))?;
    let id: String = row.get(0);
    let max: Option<String> = row.get(1);
    let watermark = match max {
        None => Watermark(None),
        Some(t) => Watermark(Some(
            NaiveDateTime::parse_from_str(&t, WATERMARK_FORMAT)
                .map_err(|e| Error::source(format!("the cursor's highest value {t:?}: {e}")))?,
        )),
    };
    Ok((client, id, watermark))
}

/// The first sync: the lake built inside one snapshot, and the cursor's
/// value in that snapshot recorded.
pub(crate) async fn first(
    config: &Config,
    connector: &PgConnector,
    lake: &Arc<Lake>,
    spec: &CursorSpec,
    observer: Arc<dyn Observer>,
) -> Result<Synced> {
    check_columns(connector, spec).await?;
    let (_holder, id, watermark) = snapshot(connector, &spec.column).await?;
    let built = super::build_in_snapshot(config, &id, observer).await?;
    if !built.run.ok() {
        return Err(Error::Config(
            "the first sync's build failed (see above); nothing was recorded, and the next sync \
             starts over"
                .into(),
        ));
    }
    save(
        lake,
        &CursorState {
            column: spec.column.clone(),
            key: spec.key.clone(),
            lookback_seconds: spec.lookback.as_secs_f64(),
            source: connector.describe().to_string(),
            watermark,
            snapshot_run: built.record.run_id.clone(),
            created_at: crate::sys::now(),
        },
    )
    .await?;
    Ok(Synced::CursorSnapshot {
        column: spec.column.clone(),
        at: Position::Cursor(watermark),
        built: Box::new(built),
    })
}

/// The watermark `bronze.sales` holds every change up to. A bronze rebuilt
/// outside `strata sync` holds the source as it was then, past the cursor's
/// last value: reading again from that value is safe, since a batch
/// replaces whole keys.
async fn applied(lake: &Lake, state: &CursorState) -> Result<Watermark> {
    let bronze = versions::current(lake, &apply::bronze_table())
        .await?
        .ok_or_else(|| {
            Error::Config(
                "bronze.sales is gone from the lake; start over with `strata sync --drop-slot` \
                 then `strata sync --cursor ...`"
                    .into(),
            )
        })?;
    if let Some(p) = bronze
        .source_position
        .as_deref()
        .and_then(|p| Watermark::parse_position(p, &state.column))
    {
        return p;
    }
    Ok(state.watermark)
}

/// Rows of a session's query, collected.
async fn rows(
    ctx: &SessionContext,
    table: &str,
    key: &str,
    keys: &[ScalarValue],
) -> Result<Vec<RecordBatch>> {
    let columns: Vec<Expr> = crate::source::sales_schema()
        .fields()
        .iter()
        .map(|f| col(quote_ident(f.name())))
        .collect();
    let list: Vec<Expr> = keys.iter().map(|k| lit(k.clone())).collect();
    Ok(ctx
        .table(table)
        .await?
        .filter(col(quote_ident(key)).in_list(list, false))?
        .select(columns)?
        .collect()
        .await?)
}

/// A later sync: the rows of every key changed since the watermark (less
/// the lookback) replace bronze's rows of those keys.
pub(crate) async fn next(
    config: &Config,
    connector: &PgConnector,
    lake: &Arc<Lake>,
    state: &CursorState,
    observer: Arc<dyn Observer>,
) -> Result<Synced> {
    let spec = state.spec();
    let from = applied(lake, state).await?;
    let (_holder, id, newest) = snapshot(connector, &spec.column).await?;
    let mut snapshot_config = config.clone();
    snapshot_config.pg_env.snapshot = Some(id);
    let mut ws = super::super::Workspace::open_on(snapshot_config, lake.clone()).await?;
    if let Some(e) = ws.engine.take_source_error() {
        return Err(e);
    }
    let ctx = ws.engine.ctx();

    // The changed keys: the server filters on the cursor column.
    let mut changed = ctx.table("legacy.sales").await?;
    if let Some(t) = from.0 {
        let since = t - chrono::Duration::from_std(spec.lookback).unwrap_or_default();
        changed = changed.filter(col(quote_ident(&spec.column)).gt(lit(
            ScalarValue::TimestampMicrosecond(Some(since.and_utc().timestamp_micros()), None),
        )))?;
    }
    let changed = changed.select(vec![col(quote_ident(&spec.key))])?;
    let mut keys: Vec<ScalarValue> = vec![];
    for b in changed.distinct()?.collect().await? {
        for i in 0..b.num_rows() {
            keys.push(ScalarValue::try_from_array(b.column(0), i)?);
        }
    }
    let to = from.max(newest);
    if keys.is_empty() {
        drop(ws);
        let built = rebuild_stale(config, observer).await?;
        return Ok(Synced::UpToDate {
            at: Position::Cursor(from),
            built,
        });
    }
    let source_rows = rows(ctx, "legacy.sales", &spec.key, &keys).await?;
    let lake_rows = rows(ctx, "bronze.sales", &spec.key, &keys).await?;
    let batch = changes(ctx, &spec, source_rows, lake_rows).await?;
    drop(ws);
    let added = count_sign(&batch, 1)?;
    let removed = batch.num_rows() as u64 - added;
    if batch.num_rows() > 0 {
        let span = Span {
            from: from.ordinal(),
            to: to.ordinal(),
            position: to.position(&spec.column),
        };
        super::land(
            config,
            lake,
            &format!("sync {} {from}..{to}", spec.column),
            &batch,
            &span,
        )
        .await?;
        // A later rebuild of bronze outside the sync reads again from here.
        save(
            lake,
            &CursorState {
                watermark: to,
                ..state.clone()
            },
        )
        .await?;
    }
    let built = rebuild_stale(config, observer).await?;
    Ok(Synced::CursorApplied {
        keys: keys.len() as u64,
        added,
        removed,
        from: Position::Cursor(from),
        to: Position::Cursor(to),
        built,
    })
}

fn count_sign(batch: &RecordBatch, sign: i32) -> Result<u64> {
    let i = batch.schema().index_of("_sign")?;
    let signs = datafusion::arrow::array::AsArray::as_primitive::<
        datafusion::arrow::datatypes::Int32Type,
    >(batch.column(i));
    Ok(signs.iter().filter(|s| *s == Some(sign)).count() as u64)
}

/// The changes that turn the lake's rows of the changed keys into the
/// source's: the multiset difference, row by row (copies counted), in
/// `bronze.sales_changes`'s form. A row on both sides is no change, so only
/// the partitions of rows that differ are rewritten. `_lsn` is 0 (there is
/// no log position) and `_commit_ts` the row's cursor value.
async fn changes(
    ctx: &SessionContext,
    spec: &CursorSpec,
    source_rows: Vec<RecordBatch>,
    lake_rows: Vec<RecordBatch>,
) -> Result<RecordBatch> {
    let contract = crate::source::sales_schema();
    let nullable = Arc::new(datafusion::arrow::datatypes::Schema::new(
        contract
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let session = SessionContext::new_with_state(ctx.state());
    for (name, batches) in [
        ("strata_cursor_source", source_rows),
        ("strata_cursor_lake", lake_rows),
    ] {
        let batches = apply::cast_all(&batches, &nullable)?;
        session.register_table(
            name,
            Arc::new(MemTable::try_new(nullable.clone(), vec![batches])?),
        )?;
    }
    let list = contract
        .fields()
        .iter()
        .map(|f| quote_ident(f.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let key = quote_ident(&spec.key);
    let e_list = contract
        .fields()
        .iter()
        .map(|f| format!("e.{}", quote_ident(f.name())))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {e_list},
                CASE WHEN k.strata_key IS NULL THEN 'insert' ELSE 'update' END AS _op,
                CASE WHEN e.copies > 0 THEN 1 ELSE -1 END AS _sign,
                0 AS _lsn,
                -- Declared non-null: a row without a cursor value cannot
                -- have been found by it, but an unchanged copy of its key can.
                coalesce(e.{column}, TIMESTAMP '1970-01-01 00:00:00') AS _commit_ts
         FROM (SELECT {list}, copies, unnest(range(abs(copies))) AS strata_copy
               FROM (SELECT {list}, sum(n) AS copies
                     FROM (SELECT {list}, 1 AS n FROM strata_cursor_source
                           UNION ALL SELECT {list}, -1 AS n FROM strata_cursor_lake) both_sides
                     GROUP BY {list}) net
               WHERE copies <> 0) e
         LEFT JOIN (SELECT DISTINCT {key} AS strata_key FROM strata_cursor_lake) k
           ON e.{key} = k.strata_key
         ORDER BY e.{key}, _sign",
        column = quote_ident(&spec.column)
    );
    let batches = session.sql(&sql).await?.collect().await?;
    let target = super::capture::changes_schema();
    Ok(datafusion::arrow::compute::concat_batches(
        &target,
        &apply::cast_all(&batches, &target)?,
    )?)
}

/// How far a cursor-following lake has come.
#[derive(Debug)]
pub struct CursorLag {
    /// The cursor as recorded.
    pub state: CursorState,
    /// The watermark bronze holds every change up to.
    pub applied: Watermark,
    /// When bronze was last written.
    pub applied_at: String,
}

/// The lake's cursor and how far it has come, when it follows by one.
pub async fn lag(config: &Config) -> Result<Option<CursorLag>> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    let Some(state) = load(&lake).await? else {
        return Ok(None);
    };
    let applied = applied(&lake, &state).await?;
    let applied_at = versions::current(&lake, &apply::bronze_table())
        .await?
        .map_or(state.created_at.clone(), |m| m.written_at);
    Ok(Some(CursorLag {
        state,
        applied,
        applied_at,
    }))
}
