//! The SQL engine: one DataFusion session in which the legacy source and
//! every lake table are registered (`legacy.sales`, `raw.sales`, ...,
//! `gold.daily_sales`). The runner, reports and tests all build it here, so
//! a query means the same thing wherever it runs.

pub(crate) mod athena;
pub(crate) mod catalog;
pub(crate) mod clock;
pub(crate) mod codec;
pub(crate) mod dialect;
pub(crate) mod functions;
pub mod interrupt;

pub(crate) mod lenient;
pub(crate) mod overlay;
pub(crate) mod partitioned;
pub mod split;
pub mod time_travel;
pub mod trino;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::config::{Config, EngineSpec};
use crate::error::{Error, Result};
use crate::lake::manifest::TableManifest;
use crate::lake::{Lake, Layer};

/// The catalog all schemas live in.
pub(crate) const CATALOG: &str = "datafusion";

/// A session over the source and the lake.
pub struct Engine {
    ctx: SessionContext,
    lake: Arc<Lake>,
    /// Why `legacy.*` is empty, when the source could not be opened.
    source_error: Option<Error>,
    /// Whether plans run on Ballista executors, which receive them as
    /// protobuf and so cannot read providers that live only here.
    distributed: bool,
    /// The manifest of every registered lake table, by `layer.table`.
    manifests: Mutex<BTreeMap<String, TableManifest>>,
}

/// A session with Strata's functions, settings and the lake's object store,
/// but no tables: the engine's base, and what each process of a Strata
/// cluster plans and executes in (so functions and `s3://` lake files
/// resolve there as here).
pub(crate) fn session(config: &Config, lake: &Lake) -> Result<SessionContext> {
    use ballista::prelude::SessionConfigExt;
    let mut session = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(CATALOG, "public")
        .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()))
        .with_option_extension(clock::SessionOptions::default());
    session.options_mut().sql_parser.collect_spans = true;
    session = session.with_target_partitions(config.resources.threads);
    // A scan whose streams are already hash-partitioned on some of a
    // GROUP BY's columns (a partitioned table's folders) needs no shuffle
    // once it uses every core; DataFusion's default waits for 4 streams,
    // more than a laptop has.
    session.options_mut().optimizer.subset_repartition_threshold = config.resources.threads;
    session.options_mut().execution.spill_compression = {
        use crate::config::SpillCompression;
        use datafusion::common::config::SpillCompression as Codec;
        match config.resources.spill_compression {
            SpillCompression::Lz4 => Codec::Lz4Frame,
            SpillCompression::Zstd => Codec::Zstd,
            SpillCompression::None => Codec::Uncompressed,
        }
    };
    let mut state = SessionStateBuilder::new()
        .with_config(session)
        .with_runtime_env(runtime(config, lake)?)
        .with_default_features()
        .with_type_planner(Arc::new(trino::TrinoTypes));
    // Asked before DataFusion's own, which take every `x[i]` for an array
    // and refuse an interval times a number.
    if let Some(planners) = state.expr_planners() {
        planners.insert(0, Arc::new(trino::TrinoPlanner));
    }
    let state = state.build();
    let ctx = SessionContext::new_with_state(state);
    functions::register(&ctx);
    trino::register(&ctx);
    Ok(ctx)
}

/// The runtime: the memory pool of `config`'s limit and the lake's bucket.
pub(crate) fn runtime(config: &Config, lake: &Lake) -> Result<Arc<RuntimeEnv>> {
    // A cached listing would miss the files of versions committed
    // since (a table's folder gains files with each version).
    // Sorts and aggregates spill to disk past the limit, so a table of
    // any size builds in bounded memory. The fair pool gives each
    // spilling operator its share, so concurrent models and the
    // partitions of one all make progress.
    let limit = usize::try_from(config.resources.memory_limit).unwrap_or(usize::MAX);
    let runtime = RuntimeEnvBuilder::new()
        .with_object_list_cache_limit(0)
        .with_max_spill_merge_fan_in(spill_merge_fan_in(&config.resources))
        .with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            NonZeroUsize::new(5).expect("5 is not 0"),
        )))
        .build_arc()?;
    // An S3 lake's tables are read by URL: DataFusion needs the bucket.
    if let Some((url, store)) = lake.bucket() {
        let url = datafusion::execution::object_store::ObjectStoreUrl::parse(&url)?;
        runtime.register_object_store(url.as_ref(), store);
    }
    Ok(runtime)
}

/// Spill files one merge pass of a sort reads at once. Unlimited (DataFusion's
/// default), the first partition's merge reserves all of the pool for read
/// buffers and the other partitions' merges fail: at 100M sales bronze's
/// sort stopped with "Not enough memory to continue external sort". With a
/// bounded fan-in, merges of more files take several passes instead, and
/// all the partitions' merges together keep within half the limit (a
/// spilled stream's buffers take about 16 MiB at the lake's row widths).
fn spill_merge_fan_in(resources: &crate::config::Resources) -> usize {
    let per_partition = resources.memory_limit / 2 / resources.threads.max(1) as u64;
    usize::try_from(per_partition / (16 << 20))
        .unwrap_or(usize::MAX)
        .clamp(4, 64)
}

impl Engine {
    /// Builds the session: functions, `legacy.*`, and every table the lake holds.
    pub async fn open(config: &Config, lake: Arc<Lake>) -> Result<Self> {
        let ctx = session(config, &lake)?;
        let ctx = match &config.engine {
            EngineSpec::Local => ctx,
            // Executors get this session's state (functions, object
            // stores), so Strata's SQL functions run on them too.
            EngineSpec::BallistaStandalone => {
                use ballista::prelude::SessionContextExt;
                SessionContext::standalone_with_state(ctx.state())
                    .await
                    .map_err(|e| Error::Cluster(format!("cannot start in-process: {e}")))?
            }
            EngineSpec::BallistaRemote(url) => {
                use ballista::prelude::SessionContextExt;
                SessionContext::remote_with_state(url, ctx.state())
                    .await
                    .map_err(|e| Error::Cluster(format!("scheduler {url}: {e}")))?
            }
        };
        if config.engine != EngineSpec::Local {
            // Ballista's session replaces the scalar functions with its own
            // defaults: Strata's are registered again on top.
            functions::register(&ctx);
            trino::register(&ctx);
        }

        // The lake stays queryable when the source is down: reports and
        // tests read only the lake. `run` checks `source_error` itself.
        let (legacy, source_error) =
            match crate::source::schema_provider(&config.source, &config.pg_env).await {
                Ok(p) => (p, None),
                Err(e) => {
                    let unavailable: Arc<dyn SchemaProvider> = Arc::new(
                        crate::source::Unavailable::new(crate::error::user_message(&e)),
                    );
                    (unavailable, Some(e))
                }
            };
        let engine = Engine {
            ctx,
            lake,
            source_error,
            distributed: config.engine != EngineSpec::Local,
            manifests: Mutex::new(BTreeMap::new()),
        };
        engine
            .catalog()
            .register_schema(crate::source::SCHEMA, legacy)?;
        for layer in Layer::MEDALLION {
            engine.layer_schema(&Layer::new(layer)?)?;
        }
        for m in engine.lake.tables().await? {
            engine.register(&m)?;
        }
        Ok(engine)
    }

    /// Registers (or replaces) a whole schema of tables that are not the
    /// lake's, such as the lake's records (`meta.*`).
    pub fn register_schema(&self, name: &str, schema: Arc<dyn SchemaProvider>) -> Result<()> {
        self.catalog().register_schema(name, schema)?;
        Ok(())
    }

    /// The manifests of every registered lake table, by `layer.table`.
    pub fn manifests(&self) -> BTreeMap<String, TableManifest> {
        self.manifests.lock().expect("manifest lock").clone()
    }

    /// Of `tables` (`schema.table`), those a distributed engine cannot ship
    /// to its executors: the legacy source's and `meta.*` live only in this
    /// process (lake tables, Parquet or CSV, are read by URL). `None` when
    /// all can be read.
    pub fn unshippable(&self, tables: &[String]) -> Option<String> {
        if !self.distributed {
            return None;
        }
        let local: Vec<&str> = tables
            .iter()
            .filter(|t| {
                t.split_once('.')
                    .is_some_and(|(schema, _)| Layer::RESERVED.contains(&schema))
            })
            .map(String::as_str)
            .collect();
        (!local.is_empty()).then(|| local.join(", "))
    }

    /// Takes the source's error out, to report it.
    pub fn take_source_error(&mut self) -> Option<Error> {
        self.source_error.take()
    }

    /// The session.
    pub fn ctx(&self) -> &SessionContext {
        &self.ctx
    }

    /// The lake behind the session.
    pub fn lake(&self) -> &Arc<Lake> {
        &self.lake
    }

    fn catalog(&self) -> Arc<dyn CatalogProvider> {
        self.ctx
            .catalog(CATALOG)
            .expect("the default catalog always exists")
    }

    /// The schema of a layer, created when first needed.
    fn layer_schema(&self, layer: &Layer) -> Result<Arc<dyn SchemaProvider>> {
        let catalog = self.catalog();
        if let Some(s) = catalog.schema(layer.as_str()) {
            return Ok(s);
        }
        let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
        catalog.register_schema(layer.as_str(), s.clone())?;
        Ok(s)
    }

    /// Makes a lake table version (new or replacing the one registered)
    /// the one queries of the table read.
    pub fn register(&self, m: &TableManifest) -> Result<()> {
        let schema = self.layer_schema(&m.table.layer)?;
        catalog::register(&schema, &self.lake, m, &m.table.name, !self.distributed)?;
        self.manifests
            .lock()
            .expect("manifest lock")
            .insert(m.table.to_string(), m.clone());
        Ok(())
    }

    /// Registers an older version of a lake table under `name` in its
    /// layer (how `FOR VERSION AS OF` reads it); the name is the engine's.
    pub fn register_version(&self, m: &TableManifest, name: &str) -> Result<()> {
        let schema = self.layer_schema(&m.table.layer)?;
        catalog::register(&schema, &self.lake, m, name, !self.distributed)
    }

    /// Removes a name [`register_version`](Self::register_version) added.
    pub fn deregister_version(&self, m: &TableManifest, name: &str) -> Result<()> {
        self.layer_schema(&m.table.layer)?.deregister_table(name)?;
        Ok(())
    }

    /// Brings every lake table to its current version: a long-lived session
    /// calls this before each statement, which then reads, for each table
    /// it names, the version current when it was planned. Returns the
    /// tables whose version changed.
    pub async fn refresh(&self) -> Result<Vec<String>> {
        let mut changed = vec![];
        for m in self.lake.tables().await? {
            let key = m.table.to_string();
            let same = self
                .manifest(&key)
                .is_some_and(|old| old.version == m.version && old.run_id == m.run_id);
            if !same {
                self.register(&m)?;
                changed.push(key);
            }
        }
        Ok(changed)
    }

    /// The manifest of a registered lake table (`layer.table`).
    pub fn manifest(&self, table: &str) -> Option<TableManifest> {
        self.manifests
            .lock()
            .expect("manifest lock")
            .get(table)
            .cloned()
    }

    /// Every schema and its tables, sorted.
    pub fn tables(&self) -> BTreeMap<String, Vec<String>> {
        let catalog = self.catalog();
        let mut out = BTreeMap::new();
        for schema in catalog.schema_names() {
            if schema == "information_schema" {
                continue;
            }
            if let Some(s) = catalog.schema(&schema) {
                let mut names = s.table_names();
                names.sort();
                out.insert(schema, names);
            }
        }
        out
    }

    /// Whether `schema.table` is registered.
    pub fn has_table(&self, schema: &str, table: &str) -> bool {
        self.catalog()
            .schema(schema)
            .is_some_and(|s| s.table_exist(table))
    }

    /// The session to plan `sql` in: this one, unless the statement names
    /// Athena's `"$path"` or `"$file_size"`; then one whose lake tables
    /// carry those columns (see [`catalog::with_file_columns`]).
    pub fn session_for(&self, sql: &str) -> Result<SessionContext> {
        if !catalog::mentions_pseudo_columns(sql) {
            return Ok(self.ctx.clone());
        }
        let manifests = self.manifests.lock().expect("manifest lock").clone();
        let tables = manifests
            .values()
            .map(|m| {
                let name = (m.table.layer.as_str().to_string(), m.table.name.clone());
                Ok((name, catalog::with_file_columns(&self.lake, m)?))
            })
            .collect::<Result<Vec<_>>>()?;
        overlay::overlay(&self.ctx, tables)
    }

    /// Whether plans run on Ballista executors.
    pub(crate) fn distributed(&self) -> bool {
        self.distributed
    }

    /// Plans the SQL of `file`, naming the file (and position) on error.
    pub async fn sql_from_file(ctx: &SessionContext, file: &Path, sql: &str) -> Result<DataFrame> {
        plan(ctx, sql, datafusion::execution::context::SQLOptions::new())
            .await
            .map_err(|e| Error::sql(file, e))
    }
}

/// Plans one statement in Trino's dialect ([`dialect::TrinoDialect`]:
/// DataFusion's, with lambdas), as `SessionContext::sql_with_options` does
/// in the configured one.
pub(crate) async fn plan(
    ctx: &SessionContext,
    sql: &str,
    options: datafusion::execution::context::SQLOptions,
) -> datafusion::error::Result<DataFrame> {
    let state = ctx.state();
    let statement = dialect::statement(&state, sql)?;
    let plan = state.statement_to_plan(statement).await?;
    options.verify_plan(&plan)?;
    Ok(clock::pinned(ctx.execute_logical_plan(plan).await?))
}
