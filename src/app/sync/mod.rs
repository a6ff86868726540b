//! `strata sync`: the lake kept in step with a live PostgreSQL source
//! through logical replication, or by cursor where the source grants no
//! replication ([`cursor`]).
//!
//! The first sync creates a publication of `public.sales` and a logical
//! replication slot, and builds the whole lake from the snapshot the slot
//! exports: exactly the source's state the slot's stream starts after, so
//! no change is missed or applied twice between the two. Each later sync
//! reads the changes committed since, up to the server's position when it
//! started, appends them to `bronze.sales_changes` (`_op`, `_sign`, `_lsn`,
//! `_commit_ts`), applies them to the touched day partitions of
//! `bronze.sales`, rebuilds what reads bronze, and only then confirms the
//! slot. A sync killed anywhere leaves the slot unconfirmed; the next one
//! finds the position bronze holds (its manifest's `source_position`) and
//! skips what it already applied.
//!
//! What reads bronze is then rebuilt by the models' `--changed` build:
//! incremental models replace only the partitions the batch reached, the
//! others are rebuilt whole.

pub(crate) mod apply;
pub(crate) mod capture;
pub(crate) mod cursor;

pub use cursor::{CursorSpec, CursorState, Watermark};

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::build::{BuildOptions, Built, build};
use crate::config::{Config, SourceSpec};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lake::versions;
use crate::runner::Observer;
use crate::source::postgres::connect::PgConnector;
use crate::source::postgres::replication::{Lsn, ReplicationConnection};

/// Where the sync's own state lives, under the lake root.
const STATE_KEY: &str = "_strata/sync/state.json";

/// What the lake knows of its slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncState {
    /// The replication slot.
    pub slot: String,
    /// The publication it streams.
    pub publication: String,
    /// The source, its password hidden.
    pub source: String,
    /// Where the slot's stream started: the snapshot's position.
    pub consistent_point: String,
    /// The run that built the lake from that snapshot.
    pub snapshot_run: String,
    /// When the slot was created.
    pub created_at: String,
}

/// How a sync goes.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Follow by this cursor, for a source without replication rights (the
    /// first sync's choice; later ones remember it).
    pub cursor: Option<CursorSpec>,
    /// The most change rows one lake commit takes from a slot: a longer
    /// backlog is applied in several batches, each confirmed in turn.
    pub batch_rows: usize,
}

/// Where a lake stands in its source's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A position in the source's write-ahead log, through a slot.
    Log(Lsn),
    /// The cursor column's value every row up to is applied.
    Cursor(Watermark),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Log(l) => write!(f, "{l}"),
            Position::Cursor(w) => write!(f, "{w}"),
        }
    }
}

/// What one sync did.
#[derive(Debug)]
pub enum Synced {
    /// The first sync: a slot created and the lake built from its snapshot.
    Snapshot {
        /// The slot.
        slot: String,
        /// Where its stream starts.
        at: Position,
        /// The build from the snapshot.
        built: Box<Built>,
    },
    /// The first sync by cursor: the lake built from one snapshot, and the
    /// cursor's value in it recorded.
    CursorSnapshot {
        /// The cursor column.
        column: String,
        /// Its highest value in the snapshot.
        at: Position,
        /// The build from the snapshot.
        built: Box<Built>,
    },
    /// Changed keys re-read by cursor, and their rows replaced.
    CursorApplied {
        /// Keys whose rows the source changed since the watermark (less the
        /// lookback).
        keys: u64,
        /// Rows added to bronze.
        added: u64,
        /// Rows removed from it.
        removed: u64,
        /// The watermark before.
        from: Position,
        /// The watermark now.
        to: Position,
        /// The rebuild of what reads bronze.
        built: Option<Box<Built>>,
    },
    /// Changes applied.
    Applied {
        /// Transactions applied.
        transactions: u64,
        /// Rows inserted, updated and deleted.
        inserted: u64,
        /// Rows updated.
        updated: u64,
        /// Rows deleted.
        deleted: u64,
        /// The lake commits they took (a backlog longer than a batch takes
        /// several).
        batches: u64,
        /// The position the lake held before.
        from: Position,
        /// The position it holds now.
        to: Position,
        /// The rebuild of what reads bronze.
        built: Option<Box<Built>>,
    },
    /// Nothing committed at the source since the last sync.
    UpToDate {
        /// The position the lake holds.
        at: Position,
        /// The rebuild of what a killed sync left stale, if it left any.
        built: Option<Box<Built>>,
    },
}

/// The slot and publication names of a lake: one per lake, so two lakes
/// can follow the same source.
fn names(lake: &Lake) -> (String, String) {
    let digest = crate::lake::manifest::sha256_hex(lake.url().as_bytes());
    let slot = format!("strata_{}", &digest[..16]);
    (slot.clone(), slot)
}

fn postgres(config: &Config) -> Result<PgConnector> {
    match &config.source {
        SourceSpec::Postgres(url) => PgConnector::new(url, &config.pg_env),
        SourceSpec::Csv(path) => Err(Error::Config(format!(
            "strata sync follows a PostgreSQL source through logical replication; the source is \
             the CSV {} (set --source postgres://... or DATABASE_URL)",
            path.display()
        ))),
    }
}

/// A state file of the sync's under the lake root, if it is there.
async fn read_json<T: serde::de::DeserializeOwned>(lake: &Lake, key: &str) -> Result<Option<T>> {
    match lake.store().get(&Path::from(key)).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Lake {
                    key: key.into(),
                    message: format!("unreadable sync state: {e}"),
                })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a state file of the sync's (one PUT: whole or not at all).
async fn write_json<T: Serialize>(lake: &Lake, key: &str, state: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
    lake.store()
        .put(&Path::from(key), PutPayload::from(bytes))
        .await?;
    Ok(())
}

async fn load_state(lake: &Lake) -> Result<Option<SyncState>> {
    read_json(lake, STATE_KEY).await
}

async fn save_state(lake: &Lake, state: &SyncState) -> Result<()> {
    write_json(lake, STATE_KEY, state).await
}

/// The sync's state, if the lake has a slot.
pub async fn state(config: &Config) -> Result<Option<SyncState>> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    load_state(&lake).await
}

/// One sync: the first builds from a new slot's snapshot (or, with a
/// cursor, from one snapshot whose cursor value it records), later ones
/// apply what was committed since. A lake follows its source one way: a
/// cursor asked of a lake with a slot, or another cursor than the one it
/// has, is refused.
pub async fn sync(
    config: &Config,
    options: &SyncOptions,
    observer: Arc<dyn Observer>,
) -> Result<Synced> {
    let cursor = options.cursor.as_ref();
    let connector = postgres(config)?;
    let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
    match (load_state(&lake).await?, cursor::load(&lake).await?, cursor) {
        (Some(state), _, Some(_)) => Err(Error::Config(format!(
            "this lake follows its source through replication slot {}; to follow it by cursor \
             instead, `strata sync --drop-slot` first",
            state.slot
        ))),
        (Some(state), _, None) => {
            next(
                config,
                &connector,
                &lake,
                &state,
                options.batch_rows,
                observer,
            )
            .await
        }
        (None, Some(state), Some(asked))
            if asked.column != state.column || asked.key != state.key =>
        {
            Err(Error::Config(format!(
                "this lake follows its source by cursor {} (key {}), not {} (key {}); \
                 `strata sync --drop-slot` forgets the cursor, and the next sync starts over",
                state.column, state.key, asked.column, asked.key
            )))
        }
        (None, Some(state), _) => cursor::next(config, &connector, &lake, &state, observer).await,
        (None, None, Some(spec)) => cursor::first(config, &connector, &lake, spec, observer).await,
        (None, None, None) => first(config, &connector, &lake, observer).await,
    }
}

/// Checks the source can stream what a sync needs, and creates the
/// publication when it is missing.
async fn prepare_source(connector: &PgConnector, publication: &str) -> Result<()> {
    let client = connector.connect().await?;
    let identity: Option<String> = client
        .query_opt(
            "SELECT c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname = 'sales'",
            &[],
        )
        .await
        .map_err(|e| client.error(e))?
        .map(|r| r.get(0));
    match identity.as_deref() {
        None => {
            return Err(Error::source(format!(
                "{}: there is no table public.sales to follow",
                connector.describe()
            )));
        }
        Some("f") => {}
        Some(_) => {
            return Err(Error::Config(format!(
                "{}: public.sales must have REPLICA IDENTITY FULL, so that its updates and \
                 deletes carry the old row (it has no key, and duplicates are legal): run \
                 ALTER TABLE public.sales REPLICA IDENTITY FULL",
                connector.describe()
            )));
        }
    }
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(|e| client.error(e))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!(
                "CREATE PUBLICATION \"{publication}\" FOR TABLE public.sales"
            ))
            .await
            .map_err(|e| client.error(e))?;
    }
    Ok(())
}

async fn first(
    config: &Config,
    connector: &PgConnector,
    lake: &Arc<Lake>,
    observer: Arc<dyn Observer>,
) -> Result<Synced> {
    let (slot, publication) = names(lake);
    prepare_source(connector, &publication).await?;
    let mut repl = ReplicationConnection::connect(connector).await?;
    let created = repl.create_slot(&slot).await.map_err(|e| match e {
        Error::Source { message, .. } if message.contains("already exists") => {
            Error::Config(format!(
                "{message}: the lake has no record of it (a first sync that did not finish, or \
             another copy of this lake); remove it with `strata sync --drop-slot`, then sync again"
            ))
        }
        e => e,
    })?;
    // The connection stays idle while the build reads: that keeps the
    // exported snapshot importable.
    let built = build_in_snapshot(config, &created.snapshot, observer).await;
    let built = match built {
        Ok(b) if b.run.ok() => b,
        other => {
            // No lake holds this snapshot: the slot would only keep WAL.
            let _ = repl
                .query(&format!("DROP_REPLICATION_SLOT \"{slot}\""))
                .await;
            return match other {
                Ok(_) => Err(Error::Config(
                    "the first sync's build failed (see above); the slot was removed, and the next \
                     sync starts over"
                        .into(),
                )),
                Err(e) => Err(e),
            };
        }
    };
    let state = SyncState {
        slot: slot.clone(),
        publication,
        source: connector.describe().to_string(),
        consistent_point: created.consistent_point.to_string(),
        snapshot_run: built.record.run_id.clone(),
        created_at: crate::sys::now(),
    };
    save_state(lake, &state).await?;
    Ok(Synced::Snapshot {
        slot,
        at: Position::Log(created.consistent_point),
        built: Box::new(built),
    })
}

/// The whole lake built with every read of the source inside `snapshot`,
/// with the data tests.
async fn build_in_snapshot(
    config: &Config,
    snapshot: &str,
    observer: Arc<dyn Observer>,
) -> Result<Built> {
    let mut snapshot_config = config.clone();
    snapshot_config.pg_env.snapshot = Some(snapshot.to_string());
    build(
        &snapshot_config,
        &BuildOptions {
            select: vec![],
            tests: true,
            report: false,
            changed: false,
        },
        observer,
    )
    .await
}

/// The position `bronze.sales` holds every change up to.
async fn applied(lake: &Lake, state: &SyncState) -> Result<Lsn> {
    let bronze = versions::current(lake, &apply::bronze_table())
        .await?
        .ok_or_else(|| {
            Error::Config("bronze.sales is gone from the lake; start over with `strata sync --drop-slot` then `strata sync`".into())
        })?;
    if let Some(p) = &bronze.source_position {
        return p.parse();
    }
    if bronze.run_id == state.snapshot_run {
        return state.consistent_point.parse();
    }
    Err(Error::Config(format!(
        "bronze.sales was rebuilt by run {} outside `strata sync`, from the source as it was \
         then: the lake no longer matches the slot's position. Start over with \
         `strata sync --drop-slot` then `strata sync`",
        bronze.run_id
    )))
}

async fn next(
    config: &Config,
    connector: &PgConnector,
    lake: &Arc<Lake>,
    state: &SyncState,
    batch_rows: usize,
    observer: Arc<dyn Observer>,
) -> Result<Synced> {
    let from = applied(lake, state).await?;
    let (target, mut stream) = start(connector, state, from).await?;
    if target <= from {
        stream.confirm(from).await?;
        stream.stop().await?;
        let built = rebuild_stale(config, observer).await?;
        return Ok(Synced::UpToDate {
            at: Position::Log(from),
            built,
        });
    }
    // A backlog is applied in batches of at most `batch_rows` change rows,
    // each landed and confirmed before the next is read: memory holds one
    // batch, however long the lake was left behind.
    let (mut at, mut batches) = (from, 0u64);
    let (mut transactions, mut inserted, mut updated, mut deleted) = (0, 0, 0, 0);
    loop {
        let captured = capture::capture(&mut stream, at, target, batch_rows.max(1)).await?;
        if captured.batch.num_rows() == 0 {
            // Other tables' commits, or none: the slot moves on all the same.
            stream.confirm(captured.through).await?;
            stream.stop().await?;
            break;
        }
        // The stream ends before the lake is written: a server would close
        // a stream left silent for longer than its wal_sender_timeout (60 s
        // by default), and applying a large batch can take longer. The slot
        // is confirmed afterwards, on a plain connection.
        stream.stop().await?;
        let span = apply::Span::of_log(at, &captured);
        land(
            config,
            lake,
            &format!("sync {at}..{}", captured.through),
            &captured.batch,
            &span,
        )
        .await?;
        // Bronze holds the batch: the slot may let it go. A failure here
        // loses nothing: bronze records its position, and the next sync
        // skips what it holds.
        advance_slot(connector, &state.slot, captured.through).await?;
        batches += 1;
        transactions += captured.transactions;
        inserted += captured.inserted;
        updated += captured.updated;
        deleted += captured.deleted;
        at = captured.through;
        if at >= target {
            break;
        }
        stream = start(connector, state, at).await?.1;
    }
    let built = rebuild_stale(config, observer).await?;
    if batches == 0 {
        return Ok(Synced::UpToDate {
            at: Position::Log(from),
            built,
        });
    }
    Ok(Synced::Applied {
        transactions,
        inserted,
        updated,
        deleted,
        batches,
        from: Position::Log(from),
        to: Position::Log(at),
        built,
    })
}

/// Lands a batch of changes as one recorded run: appended to the change
/// log, then applied to `bronze.sales`, each one commit of its table.
async fn land(
    config: &Config,
    lake: &Arc<Lake>,
    command: &str,
    batch: &datafusion::arrow::array::RecordBatch,
    span: &apply::Span,
) -> Result<()> {
    let model = crate::models::discover(&config.queries_dir)?
        .into_iter()
        .find(|m| m.table == apply::bronze_table())
        .ok_or_else(|| {
            Error::Config("no model builds bronze.sales (queries/bronze/sales.sql)".into())
        })?;
    let ((), _) = super::recorded::recorded(config, lake, command, async |run_id| {
        let ws = super::Workspace::open_on(config.clone(), lake.clone()).await?;
        let _lock = lake.lock().await?;
        let changes = apply::append_changes(lake, run_id, batch, span).await?;
        let bronze = apply::apply_to_bronze(
            &ws.engine,
            &model,
            lake,
            run_id,
            batch,
            changes.version,
            &span.position,
        )
        .await?;
        Ok((
            (),
            super::recorded::Record {
                run: None,
                manifests: vec![changes, bronze],
                error: None,
            },
        ))
    })
    .await?;
    Ok(())
}

/// Confirms the slot up to `to`, as a stream's status update would.
async fn advance_slot(connector: &PgConnector, slot: &str, to: Lsn) -> Result<()> {
    let client = connector.connect().await?;
    client
        .execute(
            "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)",
            &[&slot, &to.to_string()],
        )
        .await
        .map_err(|e| client.error(e))?;
    Ok(())
}

/// Rebuilds what reads a table newer than the version it was built from
/// (the models' `--changed` build), if anything does: after a batch, silver
/// and gold; after a sync killed between its bronze commit and the rebuild,
/// what that sync left stale.
async fn rebuild_stale(config: &Config, observer: Arc<dyn Observer>) -> Result<Option<Box<Built>>> {
    let ws = super::Workspace::open(config.clone()).await?;
    let dag = ws.dag()?;
    if super::versions::changed_selection(&ws.engine, &dag, false)?.is_empty() {
        return Ok(None);
    }
    drop(ws);
    let built = build(
        config,
        &BuildOptions {
            select: vec![],
            tests: true,
            report: false,
            changed: true,
        },
        observer,
    )
    .await?;
    Ok(Some(Box::new(built)))
}

/// Connects and starts the slot's stream after `from`; returns the
/// server's position at the start too. A sync killed a moment ago may still
/// hold the slot until its server process notices: that is waited out.
async fn start(
    connector: &PgConnector,
    state: &SyncState,
    from: Lsn,
) -> Result<(Lsn, crate::source::postgres::replication::ReplicationStream)> {
    let mut attempt = 0;
    loop {
        let mut repl = ReplicationConnection::connect(connector).await?;
        let target = repl.current_position().await?;
        match repl.start(&state.slot, from, &state.publication).await {
            Ok(stream) => return Ok((target, stream)),
            Err(Error::Source { message, .. })
                if message.contains("is active for PID") && attempt < 20 =>
            {
                tracing::info!(%message, "the slot is still held; waiting");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(Error::Source { message, .. }) if message.contains("does not exist") => {
                return Err(Error::Config(format!(
                    "{message}: the slot this lake follows is gone (dropped, or the server lost \
                     it); start over from a new snapshot with `strata sync --drop-slot` then \
                     `strata sync`"
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

pub use crate::metadata::metrics::SlotLag;

/// The lag of the lake's slot, when the lake follows a source.
pub async fn lag(config: &Config) -> Result<Option<SlotLag>> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    let Some(state) = load_state(&lake).await? else {
        return Ok(None);
    };
    let connector = postgres(config)?;
    let client = connector.connect_read_only().await?;
    let row = client
        .query_opt(
            "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&state.slot],
        )
        .await
        .map_err(|e| client.error(e))?;
    let applied_at = versions::current(&lake, &apply::bronze_table())
        .await?
        .map_or(state.created_at.clone(), |m| m.written_at);
    let seconds = chrono::DateTime::parse_from_rfc3339(&applied_at)
        .map(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0
        })
        .unwrap_or(f64::NAN);
    Ok(Some(SlotLag {
        slot: state.slot,
        exists: row.is_some(),
        active: row.as_ref().is_some_and(|r| r.get(0)),
        bytes: row.as_ref().map_or(0, |r| r.get(1)),
        applied_at,
        seconds,
    }))
}

/// What `strata sync --drop-slot` removed.
#[derive(Debug, PartialEq)]
pub enum Dropped {
    /// The replication slot of this name, and its publication.
    Slot(String),
    /// The cursor on this column (nothing was on the source).
    Cursor(String),
    /// No slot existed; the publication is removed if there was one.
    Nothing,
}

/// Removes the lake's slot and publication (or forgets its cursor): the
/// next sync starts over from a new snapshot.
pub async fn drop_slot(config: &Config) -> Result<Dropped> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    // A lake that follows by cursor holds nothing on the source: forgetting
    // the cursor is all, and needs no replication rights.
    if let Some(state) = cursor::load(&lake).await? {
        cursor::forget(&lake).await?;
        return Ok(Dropped::Cursor(state.column));
    }
    let connector = postgres(config)?;
    let (slot, publication) = match load_state(&lake).await? {
        Some(s) => (s.slot, s.publication),
        None => names(&lake),
    };
    let mut repl = ReplicationConnection::connect(&connector).await?;
    let existed = repl
        .query(&format!(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ))
        .await
        .map(|rows| !rows.is_empty())
        .unwrap_or(true);
    if existed {
        repl.query(&format!("DROP_REPLICATION_SLOT \"{slot}\" WAIT"))
            .await?;
    }
    let client = connector.connect().await?;
    client
        .batch_execute(&format!("DROP PUBLICATION IF EXISTS \"{publication}\""))
        .await
        .map_err(|e| client.error(e))?;
    match lake.store().delete(&Path::from(STATE_KEY)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(if existed {
        Dropped::Slot(slot)
    } else {
        Dropped::Nothing
    })
}
