//! Settings, resolved once per command: flags > environment > `strata.toml` >
//! defaults. The resulting [`Config`] is passed down; nothing reads the
//! environment after this.

pub mod alert;
pub mod serve;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Where the legacy data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A CSV file of the legacy table's shape (PostgreSQL `COPY ... CSV HEADER`).
    Csv(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl SourceSpec {
    /// Reads a user's spelling: a `postgres://` / `postgresql://` URL, or a path.
    pub fn parse(value: &str, relative_to: &Path) -> Self {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            SourceSpec::Postgres(value.to_string())
        } else {
            SourceSpec::Csv(absolute(relative_to, Path::new(value)))
        }
    }

    /// A printable description that never shows a password.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Csv(p) => p.display().to_string(),
            SourceSpec::Postgres(url) => redact_url(url),
        }
    }
}

/// Hides the password part of a `scheme://user:password@host` URL.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

/// Where the lake's root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeRoot {
    /// A directory on local disk (absolute).
    Local(PathBuf),
    /// A prefix in an S3 bucket (or an S3-compatible server).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix inside it, without slashes at either end (may be empty).
        prefix: String,
    },
}

impl LakeRoot {
    /// Reads a user's spelling: `s3://bucket/prefix`, `file:///path`, or a
    /// path (relative to `base`).
    pub fn parse(value: &str, base: &Path) -> Result<Self> {
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!("lake {value}: no bucket")));
            }
            return Ok(LakeRoot::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = value.split_once("://")
            && scheme != "file"
        {
            return Err(Error::Config(format!(
                "lake {value}: `{scheme}://` lakes are not supported; use a local directory or s3://bucket/prefix"
            )));
        }
        Ok(LakeRoot::Local(absolute(
            base,
            Path::new(value.trim_start_matches("file://")),
        )))
    }

    /// The root as a URL (`file:///...` or `s3://bucket/prefix/`), with a
    /// trailing slash.
    pub fn url(&self) -> String {
        match self {
            LakeRoot::Local(p) => format!("file://{}/", p.display()),
            LakeRoot::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}/"),
            LakeRoot::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}/"),
        }
    }
}

impl std::fmt::Display for LakeRoot {
    /// A local root as its path, an S3 root as its URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LakeRoot::Local(p) => write!(f, "{}", p.display()),
            LakeRoot::S3 { .. } => f.write_str(self.url().trim_end_matches('/')),
        }
    }
}

/// The `AWS_*` variables, captured once: credentials, region, endpoint,
/// `AWS_ALLOW_HTTP`, as the AWS tools read them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Env {
    vars: Vec<(String, String)>,
}

impl S3Env {
    /// Reads the process environment.
    fn from_process() -> Self {
        let mut vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty())
            .collect();
        vars.sort();
        S3Env { vars }
    }

    /// Settings given as `(AWS_NAME, value)` pairs (a program that opens
    /// a lake itself, such as a test, instead of the process environment).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        S3Env {
            vars: pairs.into_iter().collect(),
        }
    }

    /// Every variable captured.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// One variable's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for S3Env {
    /// Names only: the values include secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.vars.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Where queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EngineSpec {
    /// In this process (DataFusion).
    #[default]
    Local,
    /// An in-process Ballista scheduler and executor (for tests and trials).
    BallistaStandalone,
    /// A Ballista cluster's scheduler, `ballista://host:port`.
    BallistaRemote(String),
}

impl EngineSpec {
    /// Parses `local`, `ballista-standalone` or `ballista://host[:port]`.
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim() {
            "" | "local" => Ok(EngineSpec::Local),
            "ballista-standalone" => Ok(EngineSpec::BallistaStandalone),
            v if v.starts_with("ballista://") => Ok(EngineSpec::BallistaRemote(v.replacen(
                "ballista://",
                "df://",
                1,
            ))),
            other => Err(Error::Config(format!(
                "engine {other:?}: expected local, ballista-standalone or ballista://host:port"
            ))),
        }
    }
}

/// The settings every command works from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project: where `queries/`, `fixtures/` and `strata.toml` live.
    pub project_dir: PathBuf,
    /// The lake root: a local directory or `s3://bucket/prefix`.
    pub lake: LakeRoot,
    /// The `AWS_*` settings an S3 lake is opened with.
    pub s3: S3Env,
    /// Where the prompt keeps its history (`~/.strata_history`).
    pub history_file: Option<PathBuf>,
    /// The legacy source behind `legacy.*`.
    pub source: SourceSpec,
    /// The folder of SQL models, data tests and reports.
    pub queries_dir: PathBuf,
    /// Alert rules (`[[alert]]` in `strata.toml`), checked after each run.
    pub alerts: Vec<alert::AlertRule>,
    /// Where queries run.
    pub engine: EngineSpec,
    /// `DATABASE_URL`, for commands that need a PostgreSQL server of their
    /// own (`seed`, `bench --extract`) whatever the source is.
    pub database_url: Option<String>,
    /// The `PG*` variables: what a PostgreSQL URL leaves out.
    pub pg_env: PgEnv,
    /// How long old table versions stay readable (`[retention]`).
    pub retention: Retention,
    /// Cores and memory queries may use.
    pub resources: Resources,
    /// What `strata serve` listens on and whom it lets in (`[serve]`).
    pub serve: serve::ServeConfig,
}

/// What a query may use of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// Partitions each query runs on: the cores it keeps busy, and the
    /// files a model writes at once (`--threads`, `threads =`).
    pub threads: usize,
    /// Bytes that sorts, joins and aggregations may hold, together, before
    /// they spill to disk (`--memory-limit`, `memory_limit =`). The
    /// process uses some more besides: batches in flight and the files
    /// being encoded.
    pub memory_limit: u64,
    /// How spilled batches are compressed on disk (`--spill-compression`,
    /// `spill_compression =`).
    pub spill_compression: SpillCompression,
}

/// How sorts and aggregations compress what they spill to disk: a choice
/// between disk and CPU. At 100M sales bronze's sort spilled more than the
/// disk had free as plain Arrow IPC; LZ4 halves the bytes (a 1M-sale sort at
/// 96 MiB: 147 MB instead of 300 MB) for some CPU (paired 10M runs: about
/// 6-11 s more user time of 81-99 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpillCompression {
    /// LZ4 frames: fast, about half the bytes (the default).
    #[default]
    Lz4,
    /// Zstandard: fewer bytes than LZ4, more CPU.
    Zstd,
    /// Plain Arrow IPC: no CPU, the most disk.
    None,
}

impl SpillCompression {
    /// Reads `lz4`, `zstd` or `none`; `origin` names where it was given.
    fn parse(text: &str, origin: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "lz4" => Ok(SpillCompression::Lz4),
            "zstd" => Ok(SpillCompression::Zstd),
            "none" | "uncompressed" => Ok(SpillCompression::None),
            _ => Err(Error::Config(format!(
                "{origin}: spill compression {text:?}: expected lz4, zstd or none"
            ))),
        }
    }
}

/// The default `memory_limit` of the spilling operators (sorts, joins,
/// aggregates). Measured with it, the whole run (models, data tests and
/// report) peaked at 0.69 GiB of RSS at 10M sales and 1.12 GiB at 100M:
/// about 0.2 GiB is the process and its sessions, and batches in flight,
/// the Parquet writers' buffers and the tests running beside the models
/// come on top of the pool. Halving the limit saved only 0.1 GiB of the
/// peak at 10M and spilled more.
pub const DEFAULT_MEMORY_LIMIT: u64 = 512 << 20;

impl Default for Resources {
    fn default() -> Self {
        Resources {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            spill_compression: SpillCompression::default(),
        }
    }
}

impl Resources {
    /// Reads `threads` and `memory_limit` as a user spells them (`4`,
    /// `512MiB`, `2 GB`); `None` keeps the default. `origin` names where
    /// they were given, for errors.
    fn parse(threads: Option<&str>, memory_limit: Option<&str>, origin: &str) -> Result<Self> {
        let mut r = Resources::default();
        if let Some(t) = threads {
            r.threads = match t.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::Config(format!(
                        "{origin}: threads {t:?}: expected a number of cores, 1 or more"
                    )));
                }
            };
        }
        if let Some(m) = memory_limit {
            r.memory_limit = parse_size::parse_size(m.trim()).map_err(|e| {
                Error::Config(format!(
                    "{origin}: memory limit {m:?}: {e} (write e.g. 512MiB or 2GiB)"
                ))
            })?;
            if r.memory_limit < 16 << 20 {
                return Err(Error::Config(format!(
                    "{origin}: memory limit {m:?} is below 16 MiB, too little to sort a batch"
                )));
            }
        }
        Ok(r)
    }
}

/// How long old table versions stay readable before a run or `strata
/// vacuum` removes them: a version is kept while it is one of the latest
/// `versions`, or was replaced less than `keep_for` ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// This many of the latest versions are always kept (1 at least: the
    /// current one).
    pub versions: u64,
    /// A version replaced less than this long ago is kept too, so that
    /// queries planned on it can finish and time travel can reach it.
    pub keep_for: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            versions: 10,
            keep_for: std::time::Duration::from_secs(3600),
        }
    }
}

/// `[retention]` as written in `strata.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionText {
    versions: Option<u64>,
    keep_for: Option<String>,
}

impl RetentionText {
    fn parse(self) -> Result<Retention> {
        let d = Retention::default();
        let keep_for = match self.keep_for {
            Some(t) => humantime::parse_duration(&t).map_err(|e| {
                Error::Config(format!("{CONFIG_FILE}: [retention] keep_for = {t:?}: {e}"))
            })?,
            None => d.keep_for,
        };
        let versions = self.versions.unwrap_or(d.versions);
        if versions == 0 {
            return Err(Error::Config(format!(
                "{CONFIG_FILE}: [retention] versions = 0: the current version is always kept; write 1 or more"
            )));
        }
        Ok(Retention { versions, keep_for })
    }
}

/// The `PG*` variables, captured once.
#[derive(Debug, Default, Clone)]
pub struct PgEnv {
    /// `PGHOST`.
    pub host: Option<String>,
    /// `PGPORT`.
    pub port: Option<String>,
    /// `PGUSER`.
    pub user: Option<String>,
    /// `PGPASSWORD`.
    pub password: Option<String>,
    /// `PGDATABASE`.
    pub database: Option<String>,
    /// `PGSSLMODE`.
    pub sslmode: Option<String>,
    /// A snapshot another session exported, which every read of the source
    /// imports: how `strata sync` builds its first lake from exactly the
    /// state its replication slot starts after. Never from the environment.
    pub snapshot: Option<String>,
}

impl PgEnv {
    /// Reads the process environment.
    fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        PgEnv {
            host: get("PGHOST"),
            port: get("PGPORT"),
            user: get("PGUSER"),
            password: get("PGPASSWORD"),
            database: get("PGDATABASE"),
            sslmode: get("PGSSLMODE"),
            snapshot: None,
        }
    }
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--project`.
    pub project: Option<PathBuf>,
    /// `--lake`.
    pub lake: Option<String>,
    /// `--source`.
    pub source: Option<String>,
    /// `--engine`.
    pub engine: Option<String>,
    /// `--threads`.
    pub threads: Option<String>,
    /// `--memory-limit`.
    pub memory_limit: Option<String>,
    /// `--spill-compression`.
    pub spill_compression: Option<String>,
}

/// The environment variables Strata reads, captured once so tests and callers
/// can pass their own.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    /// `STRATA_PROJECT`.
    pub project: Option<String>,
    /// `STRATA_LAKE`.
    pub lake: Option<String>,
    /// `STRATA_SOURCE`.
    pub source: Option<String>,
    /// `DATABASE_URL`: a PostgreSQL source, below `STRATA_SOURCE`.
    pub database_url: Option<String>,
    /// `STRATA_ENGINE`.
    pub engine: Option<String>,
    /// `STRATA_THREADS`.
    pub threads: Option<String>,
    /// `STRATA_MEMORY_LIMIT`.
    pub memory_limit: Option<String>,
    /// `STRATA_SPILL_COMPRESSION`.
    pub spill_compression: Option<String>,
    /// The `PG*` variables.
    pub pg: PgEnv,
    /// The `AWS_*` variables.
    pub s3: S3Env,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `STRATA_LISTEN`, `STRATA_HTTP`, `STRATA_USER`, `STRATA_PASSWORD`,
    /// `STRATA_TLS_*`, `STRATA_QUERY_TIMEOUT`.
    pub serve: serve::ServeEnv,
}

impl Environment {
    /// Reads the process environment; empty values count as unset.
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Environment {
            project: get("STRATA_PROJECT"),
            lake: get("STRATA_LAKE"),
            source: get("STRATA_SOURCE"),
            database_url: get("DATABASE_URL"),
            engine: get("STRATA_ENGINE"),
            threads: get("STRATA_THREADS"),
            memory_limit: get("STRATA_MEMORY_LIMIT"),
            spill_compression: get("STRATA_SPILL_COMPRESSION"),
            pg: PgEnv::from_process(),
            s3: S3Env::from_process(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            serve: serve::ServeEnv {
                listen: get("STRATA_LISTEN"),
                http: get("STRATA_HTTP"),
                user: get("STRATA_USER"),
                password: get("STRATA_PASSWORD"),
                tls_cert: get("STRATA_TLS_CERT"),
                tls_key: get("STRATA_TLS_KEY"),
                query_timeout: get("STRATA_QUERY_TIMEOUT"),
            },
        }
    }
}

/// The optional `strata.toml` at the project root.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    lake: Option<String>,
    source: Option<String>,
    engine: Option<String>,
    threads: Option<toml::Value>,
    memory_limit: Option<String>,
    spill_compression: Option<String>,
    #[serde(default)]
    alert: Vec<alert::RuleText>,
    retention: Option<RetentionText>,
    serve: Option<serve::ServeText>,
}

/// The file a project's settings live in.
pub const CONFIG_FILE: &str = "strata.toml";
/// The shipped fixture, relative to the project.
pub const DEFAULT_SOURCE: &str = "fixtures/legacy_sales.csv";
/// The default lake root, relative to the project.
const DEFAULT_LAKE: &str = "s3";

impl Config {
    /// Resolves the settings from flags, environment, `strata.toml` and defaults.
    pub fn load(flags: &Overrides, env: &Environment) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        let project_dir = match (&flags.project, &env.project) {
            (Some(p), _) => absolute(&cwd, p),
            (None, Some(p)) => absolute(&cwd, Path::new(p)),
            (None, None) => cwd.clone(),
        };
        let file = read_file_config(&project_dir)?;

        let lake = if let Some(l) = flags.lake.as_ref().or(env.lake.as_ref()) {
            LakeRoot::parse(l, &cwd)?
        } else if let Some(l) = &file.lake {
            LakeRoot::parse(l, &project_dir)?
        } else {
            LakeRoot::parse(DEFAULT_LAKE, &project_dir)?
        };

        let source = if let Some(s) = flags
            .source
            .as_ref()
            .or(env.source.as_ref())
            .or(env.database_url.as_ref())
        {
            SourceSpec::parse(s, &cwd)
        } else if let Some(s) = &file.source {
            SourceSpec::parse(s, &project_dir)
        } else {
            SourceSpec::Csv(project_dir.join(DEFAULT_SOURCE))
        };

        let alerts = file
            .alert
            .into_iter()
            .map(alert::AlertRule::parse)
            .collect::<Result<Vec<_>>>()?;
        let engine = EngineSpec::parse(
            flags
                .engine
                .as_deref()
                .or(env.engine.as_deref())
                .or(file.engine.as_deref())
                .unwrap_or("local"),
        )?;
        let retention = file.retention.unwrap_or_default().parse()?;
        let serve =
            serve::ServeConfig::resolve(&env.serve, file.serve.unwrap_or_default(), &project_dir)?;
        // Each setting from the first place that gives it; an error names
        // that place.
        let from_file = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let threads = [
            ("--threads", flags.threads.clone()),
            ("STRATA_THREADS", env.threads.clone()),
            (CONFIG_FILE, file.threads.as_ref().map(from_file)),
        ]
        .into_iter()
        .find(|(_, v)| v.is_some());
        let memory_limit = [
            ("--memory-limit", flags.memory_limit.clone()),
            ("STRATA_MEMORY_LIMIT", env.memory_limit.clone()),
            (CONFIG_FILE, file.memory_limit.clone()),
        ]
        .into_iter()
        .find(|(_, v)| v.is_some());
        let spill_compression = [
            ("--spill-compression", flags.spill_compression.clone()),
            ("STRATA_SPILL_COMPRESSION", env.spill_compression.clone()),
            (CONFIG_FILE, file.spill_compression.clone()),
        ]
        .into_iter()
        .find_map(|(origin, v)| v.map(|v| (origin, v)));
        let resources = Resources {
            threads: match &threads {
                Some((origin, v)) => Resources::parse(v.as_deref(), None, origin)?.threads,
                None => Resources::default().threads,
            },
            memory_limit: match &memory_limit {
                Some((origin, v)) => Resources::parse(None, v.as_deref(), origin)?.memory_limit,
                None => DEFAULT_MEMORY_LIMIT,
            },
            spill_compression: match &spill_compression {
                Some((origin, v)) => SpillCompression::parse(v, origin)?,
                None => SpillCompression::default(),
            },
        };
        Ok(Config {
            engine,
            retention,
            resources,
            serve,
            database_url: env.database_url.clone(),
            pg_env: env.pg.clone(),
            s3: env.s3.clone(),
            history_file: env.home.as_ref().map(|h| h.join(".strata_history")),
            alerts,
            queries_dir: project_dir.join("queries"),
            project_dir,
            lake,
            source,
        })
    }
}

impl Config {
    /// The settings of a project read from nowhere: this lake and source,
    /// the project's `queries/`, the local engine, no alerts, no `PG*` or
    /// `DATABASE_URL`. For benchmarks and tools that make their own lakes.
    pub fn for_project(project_dir: &Path, lake: LakeRoot, source: SourceSpec) -> Self {
        Config {
            project_dir: project_dir.to_path_buf(),
            lake,
            s3: S3Env::default(),
            history_file: None,
            source,
            queries_dir: project_dir.join("queries"),
            alerts: vec![],
            engine: EngineSpec::Local,
            database_url: None,
            pg_env: PgEnv::default(),
            retention: Retention::default(),
            resources: Resources::default(),
            serve: serve::ServeConfig::default(),
        }
    }
}

fn read_file_config(project_dir: &Path) -> Result<FileConfig> {
    let path = project_dir.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse_and_name_what_is_accepted() {
        assert_eq!(EngineSpec::parse("local").unwrap(), EngineSpec::Local);
        assert_eq!(
            EngineSpec::parse("ballista-standalone").unwrap(),
            EngineSpec::BallistaStandalone
        );
        assert_eq!(
            EngineSpec::parse("ballista://sched:50050").unwrap(),
            EngineSpec::BallistaRemote("df://sched:50050".into())
        );
        let e = EngineSpec::parse("spark://x").unwrap_err().to_string();
        assert!(e.contains("ballista-standalone"), "{e}");
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "lake = \"from-file\"\nsource = \"file.csv\"\n",
        )
        .unwrap();
        let project = Some(dir.path().to_path_buf());
        let env = Environment {
            lake: Some("/env-lake".into()),
            ..Default::default()
        };

        let only_file = Config::load(
            &Overrides {
                project: project.clone(),
                ..Default::default()
            },
            &Environment::default(),
        )
        .unwrap();
        assert_eq!(
            only_file.lake,
            LakeRoot::Local(dir.path().join("from-file"))
        );
        assert_eq!(
            only_file.source,
            SourceSpec::Csv(dir.path().join("file.csv"))
        );

        let with_env = Config::load(
            &Overrides {
                project: project.clone(),
                ..Default::default()
            },
            &env,
        )
        .unwrap();
        assert_eq!(with_env.lake, LakeRoot::Local("/env-lake".into()));

        let with_flag = Config::load(
            &Overrides {
                project,
                lake: Some("/flag-lake".into()),
                source: Some("postgres://u:secret@h/db".into()),
                ..Default::default()
            },
            &env,
        )
        .unwrap();
        assert_eq!(with_flag.lake, LakeRoot::Local("/flag-lake".into()));
        assert_eq!(with_flag.source.describe(), "postgres://u:***@h/db");
    }

    #[test]
    fn threads_memory_and_spill_codec_come_from_flags_then_env_then_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "threads = 3\nmemory_limit = \"1GiB\"\nspill_compression = \"zstd\"\n",
        )
        .unwrap();
        let project = Some(dir.path().to_path_buf());
        let load = |flags: Overrides, env: Environment| {
            Config::load(
                &Overrides {
                    project: project.clone(),
                    ..flags
                },
                &env,
            )
        };
        let file = load(Overrides::default(), Environment::default()).unwrap();
        assert_eq!(
            file.resources,
            Resources {
                threads: 3,
                memory_limit: 1 << 30,
                spill_compression: SpillCompression::Zstd,
            }
        );
        let env = Environment {
            threads: Some("2".into()),
            memory_limit: Some("300 MiB".into()),
            spill_compression: Some("none".into()),
            ..Default::default()
        };
        let from_env = load(Overrides::default(), env.clone()).unwrap();
        assert_eq!(from_env.resources.threads, 2);
        assert_eq!(from_env.resources.memory_limit, 300 << 20);
        assert_eq!(from_env.resources.spill_compression, SpillCompression::None);
        let flags = Overrides {
            threads: Some("1".into()),
            memory_limit: Some("2GiB".into()),
            spill_compression: Some("LZ4".into()),
            ..Default::default()
        };
        let from_flags = load(flags, env.clone()).unwrap();
        assert_eq!(from_flags.resources.threads, 1);
        assert_eq!(from_flags.resources.memory_limit, 2 << 30);
        assert_eq!(
            from_flags.resources.spill_compression,
            SpillCompression::Lz4
        );

        let codec = Overrides {
            spill_compression: Some("gzip".into()),
            ..Default::default()
        };
        let err = load(codec, env.clone()).unwrap_err().to_string();
        assert!(
            err.contains("--spill-compression")
                && err.contains("gzip")
                && err.contains("lz4, zstd or none"),
            "{err}"
        );

        let bad = Overrides {
            memory_limit: Some("lots".into()),
            ..Default::default()
        };
        let err = load(bad, env).unwrap_err().to_string();
        assert!(
            err.contains("--memory-limit") && err.contains("lots"),
            "{err}"
        );
        let zero = Environment {
            threads: Some("0".into()),
            ..Default::default()
        };
        let err = load(Overrides::default(), zero).unwrap_err().to_string();
        assert!(err.contains("STRATA_THREADS"), "{err}");
    }

    #[test]
    fn defaults_point_at_the_fixture_and_s3() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(
            &Overrides {
                project: Some(dir.path().to_path_buf()),
                ..Default::default()
            },
            &Environment::default(),
        )
        .unwrap();
        assert_eq!(c.lake, LakeRoot::Local(dir.path().join("s3")));
        assert_eq!(c.source, SourceSpec::Csv(dir.path().join(DEFAULT_SOURCE)));
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "lakes = \"x\"\n").unwrap();
        let err = Config::load(
            &Overrides {
                project: Some(dir.path().to_path_buf()),
                ..Default::default()
            },
            &Environment::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("strata.toml"), "{err}");
        assert!(err.contains("lakes"), "{err}");
    }

    #[test]
    fn lake_roots_are_parsed_once() {
        let base = Path::new("/p");
        assert_eq!(
            LakeRoot::parse("s3://b/a/b/", base).unwrap(),
            LakeRoot::S3 {
                bucket: "b".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            LakeRoot::parse("s3://b/x", base).unwrap().url(),
            "s3://b/x/"
        );
        assert_eq!(
            LakeRoot::parse("lake", base).unwrap(),
            LakeRoot::Local("/p/lake".into())
        );
        assert_eq!(
            LakeRoot::parse("file:///abs", base).unwrap(),
            LakeRoot::Local("/abs".into())
        );
        assert!(LakeRoot::parse("gs://b", base).is_err());
        assert!(LakeRoot::parse("s3://", base).is_err());
        let s3 = S3Env::from_pairs([("AWS_SECRET_ACCESS_KEY".into(), "hush".into())]);
        assert!(!format!("{s3:?}").contains("hush"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://me:pw@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact_url("/a/b.csv"), "/a/b.csv");
    }
}
