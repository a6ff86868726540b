//! The command line: argument parsing and the commands.

pub mod commands;
pub mod print;
mod progress;
pub(crate) mod repl;
mod status;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;
use print::OutputFormat;

/// Strata: migrate the legacy sales database into a medallion lake and query it with SQL.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command takes (flags beat `STRATA_*` variables, which beat `strata.toml`).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Project folder holding queries/, fixtures/ and strata.toml [env: STRATA_PROJECT] [default: .]
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Lake root [env: STRATA_LAKE] [default: <project>/s3]
    #[arg(long, global = true, value_name = "DIR")]
    pub lake: Option<String>,
    /// Legacy source: a CSV file of the contract's shape [env: STRATA_SOURCE] [default: <project>/fixtures/legacy_sales.csv]
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub source: Option<String>,
    /// Where queries run: local, ballista-standalone (in-process scheduler
    /// and executor), or ballista://host:port [env: STRATA_ENGINE] [default: local]
    #[arg(long, global = true, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Cores each query and model uses [env: STRATA_THREADS] [default: all]
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<String>,
    /// Memory that sorts, joins and aggregations share before spilling to
    /// disk, e.g. 512MiB, 4GiB [env: STRATA_MEMORY_LIMIT] [default: 512MiB]
    #[arg(long, global = true, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// How spilled batches are compressed: lz4, zstd or none
    /// [env: STRATA_SPILL_COMPRESSION] [default: lz4]
    #[arg(long, global = true, value_name = "CODEC")]
    pub spill_compression: Option<String>,
    /// Print no progress lines.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log lines on stderr: `text`, or `json` (one object per event, for
    /// log shippers; level `info` unless STRATA_LOG says otherwise).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// JSON objects, one per line.
    Json,
}

impl GlobalArgs {
    /// The flags that take part in configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            project: self.project.clone(),
            lake: self.lake.clone(),
            source: self.source.clone(),
            engine: self.engine.clone(),
            threads: self.threads.clone(),
            memory_limit: self.memory_limit.clone(),
            spill_compression: self.spill_compression.clone(),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the lake: run the models in dependency order, then the data tests
    /// and the monthly report.
    Run(RunArgs),
    /// Query the lake with SQL: a prompt, or `-c`, `-f` and piped input.
    Sql(SqlArgs),
    /// Run the data tests (queries/tests/*.sql) against the lake as it is.
    Test,
    /// Print a report from queries/reports/NAME.sql (e.g. `monthly`).
    Report(ReportArgs),
    /// Forecast monthly sales (total, by region, by category) from gold
    /// with a seasonal model and its backtest; writes gold.sales_forecast.
    Forecast(ForecastArgs),
    /// Generate a legacy sales CSV of the contract's shape, deterministically.
    Fixtures(FixturesArgs),
    /// Benchmark the whole build on generated data, against a baseline
    /// measured in the same run (use a release build).
    Bench(BenchArgs),
    /// The lake's health: recent runs, success rate, durations, errors,
    /// objects per layer, dead letters waiting.
    Status(StatusArgs),
    /// Watch the landing zone (<lake>/landing/<table>/): load each CSV or
    /// Parquet file that lands into raw.<table>, then rebuild what depends
    /// on it.
    Watch(WatchArgs),
    /// The dead-letter place: files that could not be landed.
    Dlq(DlqArgs),
    /// The lake's tables for other engines' catalogs (Athena/Glue, Trino,
    /// Spark, DuckDB, DataFusion).
    Catalog(CatalogArgs),
    /// Write the sales and pipeline-health dashboard: one HTML file that
    /// renders offline.
    Dashboard(DashboardArgs),
    /// Create the legacy PostgreSQL database and load `public.sales` with
    /// the fixture (or generated sales), as the legacy system holds it.
    Seed(SeedArgs),
    /// A table's versions: run, time, rows, bytes, what it was built from.
    History(HistoryArgs),
    /// Make an old version of a table current again (as a new version).
    Rollback(RollbackArgs),
    /// Delete the table versions the retention no longer keeps, and files
    /// no kept version lists.
    Vacuum(VacuumArgs),
    /// Is the lake equal to its source? Compares bronze with every source
    /// row and silver (with its quarantine) with the distinct ones, day by
    /// day, then row by row where they differ; records the result in
    /// meta.verify. Exits 1 when something differs.
    Verify,
    /// Keep the lake in step with a PostgreSQL source through logical
    /// replication: the first sync builds the lake from a new slot's
    /// snapshot, later ones apply what was committed since, then exit.
    Sync(SyncArgs),
    /// Serve the lake over PostgreSQL's wire protocol, for psql, BI tools
    /// and drivers (read-only, until stopped).
    Serve(ServeArgs),
    /// Run a Ballista scheduler with Strata's functions and lake, for
    /// `--engine ballista://host:port` (until stopped).
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor with Strata's functions and lake, joining a
    /// `strata scheduler` (until stopped).
    Executor(ExecutorArgs),
}

/// `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on [env: STRATA_LISTEN] [default: 127.0.0.1:5433].
    /// Any address but loopback needs a password (STRATA_PASSWORD).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Where the live dashboard, /metrics and /health are served, or `off`
    /// [env: STRATA_HTTP] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub http: Option<String>,
}

/// `strata forecast`.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// Months ahead.
    #[arg(long, default_value_t = 6)]
    pub months: usize,
}

/// `strata scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The address to listen on (0.0.0.0:50050 for other machines).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,
    /// The host name executors and clients reach this machine by.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
}

/// `strata executor`.
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to join.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub scheduler: String,
    /// The address its services bind (0.0.0.0 for other machines).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub bind_host: String,
    /// The host name the scheduler and other executors reach it by.
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Its Arrow Flight port: shuffle data and results.
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    pub port: u16,
    /// Its gRPC port: tasks from the scheduler.
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// Where it keeps shuffle files and spills [default: a temporary folder].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
}

/// `strata history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The table, `layer.table`.
    pub table: String,
}

/// `strata rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The table, `layer.table`.
    pub table: String,
    /// The version to make current (see `strata history`).
    #[arg(long, value_name = "VERSION")]
    pub to: u64,
}

/// `strata vacuum`.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Keep this many of each table's latest versions [default: the
    /// `[retention] versions` setting, or 10].
    #[arg(long, value_name = "N")]
    pub keep_versions: Option<u64>,
    /// Also keep versions replaced less than this long ago, e.g. `30m`
    /// [default: the `[retention] keep_for` setting, or 1h].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub keep_for: Option<std::time::Duration>,
}

/// `strata status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Runs listed, newest first.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

/// `strata watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Process what is in the landing zone now, then exit.
    #[arg(long)]
    pub once: bool,
    /// Poll every SECONDS instead of using file-system events.
    #[arg(long, value_name = "SECONDS")]
    pub poll: Option<f64>,
    /// Quiet time that ends a burst of files (one rebuild per burst).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub debounce_ms: u64,
}

/// `strata dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DlqAction,
}

/// `strata dlq` actions.
#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// List the dead letters with their errors.
    List,
    /// Move a dead letter back to the landing zone (its sidecar is kept,
    /// renamed .retried).
    Retry {
        /// Its key (as `list` shows it) or its file name.
        key: String,
    },
}

/// `strata catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CatalogAction,
}

/// `strata catalog` actions.
#[derive(Debug, Subcommand)]
pub enum CatalogAction {
    /// Print CREATE statements for every lake table (or the selected layers
    /// and tables), with types, partitions and locations from the manifests.
    Ddl {
        /// The engine the statements are for.
        #[arg(long, value_enum, default_value_t = crate::lake::ddl::Dialect::Athena)]
        dialect: crate::lake::ddl::Dialect,
        /// The lake's root as the engine sees it (e.g. s3://bucket/lake/)
        /// [default: the lake's own URL]
        #[arg(long, value_name = "URL")]
        location: Option<String>,
        /// Only these layers or layer.table names.
        #[arg(long = "select", value_name = "NAME")]
        select: Vec<String>,
    },
}

/// `strata dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The HTML file to write.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE",
        default_value = "dashboard.html"
    )]
    pub out: PathBuf,
}

/// `strata seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The server and database (created if missing) [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Load this many generated sales instead of the fixture.
    #[arg(long)]
    pub sales: Option<u64>,
    /// Seed for generated sales.
    #[arg(long, default_value_t = crate::fixtures::DEFAULT_SEED)]
    pub seed: u64,
    /// Load this CSV (the contract's shape) instead of the fixture.
    #[arg(long, value_name = "FILE", conflicts_with = "sales")]
    pub csv: Option<PathBuf>,
    /// Drop and reload `public.sales` even if it holds rows.
    #[arg(long)]
    pub replace: bool,
}

/// `strata bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Distinct sales to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub sales: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for the data and the lake (default: a temporary folder, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Benchmark extraction from PostgreSQL instead: raw.sales against
    /// `psql COPY ... TO STDOUT`. Seeds `--sales` generated sales into the
    /// `strata_bench` database of DATABASE_URL's server, or of a throwaway
    /// cluster started for the purpose.
    #[arg(long)]
    pub extract: bool,
    /// Alternating rounds (Strata and DuckDB, or Strata and psql with
    /// --extract); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// `strata run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Models to build: `layer.table`, `layer.table+` (and downstream),
    /// `+layer.table` (and upstream), or a layer. Repeatable; comma lists work.
    #[arg(long, short = 's', value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Print the plan (order, inputs, outputs) and build nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Build only the stale models (an input has a newer version than the
    /// one they were built from, or they were never built) and what depends
    /// on them, as make would.
    #[arg(long, conflicts_with = "select")]
    pub changed: bool,
    /// Skip the data tests after the models.
    #[arg(long)]
    pub no_tests: bool,
    /// Skip the monthly report at the end.
    #[arg(long)]
    pub no_report: bool,
}

/// `strata sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep applying changes as they commit, until Ctrl-C (which stops
    /// between batches).
    #[arg(long, conflicts_with = "drop_slot")]
    pub follow: bool,
    /// Seconds between batches with --follow.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Stop capturing: remove the lake's replication slot and publication
    /// (or forget its cursor).
    #[arg(long)]
    pub drop_slot: bool,
    /// Follow the source without replication rights: re-read the rows of
    /// every key whose COLUMN (a timestamp every insert and update sets)
    /// moved past the last sync's. Cannot see deletes. Given on the first
    /// sync; later ones remember it.
    #[arg(long, value_name = "COLUMN", conflicts_with = "drop_slot")]
    pub cursor: Option<String>,
    /// The most change rows one lake commit takes from the slot: a longer
    /// backlog is applied in several batches, each confirmed in turn, so
    /// memory holds one batch (a transaction is never split).
    #[arg(long, value_name = "ROWS", default_value_t = 500_000)]
    pub batch_rows: usize,
    /// With --cursor: the column that names a sale; all its rows are re-read.
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "sale_id",
        requires = "cursor"
    )]
    pub key: String,
    /// With --cursor: how many seconds before the last sync's cursor value
    /// to look again, for transactions that committed late with older
    /// values (longer than the source's longest transaction).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600.0,
        requires = "cursor"
    )]
    pub lookback: f64,
}

/// `strata sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Run these statements and exit (repeatable); exits 1 on the first error.
    #[arg(long, short = 'c', value_name = "SQL")]
    pub command: Vec<String>,
    /// Run the statements in this file and exit.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write results to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows shown at most per result [default: 40 at the prompt, all otherwise]
    #[arg(long, value_name = "N")]
    pub max_rows: Option<usize>,
}

/// `strata report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report's name: a file in queries/reports/ without `.sql`.
    pub name: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Only this year (bound to the report's `$from`/`$to`).
    #[arg(long)]
    pub year: Option<i32>,
    /// First day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// Last day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
}

/// `strata fixtures`.
#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Distinct sales to generate (duplicates come on top, about 2%).
    #[arg(long, default_value_t = crate::fixtures::DEFAULT_SALES)]
    pub sales: u64,
    /// Seed: the same sales and seed give the same file, byte for byte.
    #[arg(long, default_value_t = crate::fixtures::DEFAULT_SEED)]
    pub seed: u64,
    /// Output file (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}
