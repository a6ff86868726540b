//! A Ballista cluster that runs Strata's SQL: `strata scheduler` and
//! `strata executor` are Ballista 55's own scheduler and executor, started
//! with what Ballista alone lacks, so a plan from `--engine
//! ballista://host:port` means there what it means in one process:
//! Strata's SQL functions, the lake's object store (its `s3://` bucket, with
//! this process's credentials), the codec that ships a lake CSV table as its
//! files' URLs, and the memory limit.
//!
//! Every process reads the lake itself, so all must see the same lake root:
//! an S3 lake, or one folder at the same path on each machine.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use ballista_scheduler::scheduler_server::SessionBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;

use crate::config::Config;
use crate::engine::{self, codec};
use crate::error::{Error, Result};
use crate::lake::Lake;

/// Where a scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerSpec {
    /// The address its gRPC service binds.
    pub bind: SocketAddr,
    /// The host name executors and clients reach it by, when not `bind`'s.
    pub external_host: Option<String>,
}

/// Where an executor listens and which scheduler it joins.
#[derive(Debug, Clone)]
pub struct ExecutorSpec {
    /// The scheduler, `host:port`.
    pub scheduler: String,
    /// The host its services bind.
    pub bind_host: String,
    /// The host name the scheduler and other executors reach it by.
    pub external_host: Option<String>,
    /// Its Arrow Flight port (shuffle data and results).
    pub port: u16,
    /// Its gRPC port (tasks from the scheduler).
    pub grpc_port: u16,
    /// Where it keeps shuffle files and spills; a temporary folder when
    /// `None`.
    pub work_dir: Option<String>,
}

/// Runs a scheduler until the process is stopped.
pub async fn scheduler(config: &Config, lake: &Lake, spec: &SchedulerSpec) -> Result<()> {
    let base = engine::session(config, lake)?.state();
    // A client's session arrives as its settings: they are laid over
    // Strata's functions and object stores.
    let session_builder: SessionBuilder = {
        let base = base.clone();
        Arc::new(move |settings: SessionConfig| {
            Ok(SessionStateBuilder::new_from_existing(base.clone())
                .with_config(with_codecs(settings))
                .build())
        })
    };
    let settings = base.config().clone();
    let config_producer: ConfigProducer = Arc::new(move || settings.clone());
    let mut scheduler = SchedulerConfig {
        bind_host: spec.bind.ip().to_string(),
        bind_port: spec.bind.port(),
        external_host: spec
            .external_host
            .clone()
            .unwrap_or_else(|| spec.bind.ip().to_string()),
        ..SchedulerConfig::default()
    };
    scheduler.override_session_builder = Some(session_builder.clone());
    scheduler.override_config_producer = Some(config_producer.clone());
    scheduler.override_logical_codec = Some(Arc::new(codec::LogicalCodec::default()));
    scheduler.override_physical_codec = Some(Arc::new(codec::PhysicalCodec::default()));
    let cluster = BallistaCluster::new_memory(
        format!("{}:{}", scheduler.external_host, spec.bind.port()),
        session_builder,
        config_producer,
    );
    start_server(cluster, spec.bind, Arc::new(scheduler))
        .await
        .map_err(|e| Error::Cluster(format!("scheduler on {}: {e}", spec.bind)))
}

/// Runs an executor until the process is stopped or its scheduler tells it
/// to stop.
pub async fn executor(config: &Config, lake: &Lake, spec: &ExecutorSpec) -> Result<()> {
    let (scheduler_host, scheduler_port) = spec
        .scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            Error::Config(format!(
                "scheduler {:?}: expected host:port, e.g. 127.0.0.1:50050",
                spec.scheduler
            ))
        })?;
    let base = engine::session(config, lake)?.state();
    let functions = Arc::new(BallistaFunctionRegistry::from(&base));
    let settings = with_codecs(base.config().clone()).upgrade_for_ballista();
    let config_producer: ConfigProducer = Arc::new(move || settings.clone());
    // Each task's runtime: the lake's bucket and spills in the work
    // folder; the executor adds its memory pool (the limit over its cores).
    let bucket = lake.bucket();
    // Ballista's own fallback drops its temporary folder at once and then
    // writes into the path, so the folder and every shuffle file outlive the
    // executor. Ours lives as long as this function, which returns when
    // the executor stops (SIGTERM, Ctrl-C or the scheduler's stop).
    let own_dir = match &spec.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("strata-executor-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?,
        ),
    };
    let work_dir = spec
        .work_dir
        .clone()
        .or_else(|| own_dir.as_ref().map(|d| d.path().display().to_string()));
    let spill_dir = work_dir.clone();
    let runtime_producer: RuntimeProducer = Arc::new(move |_| {
        let mut builder = RuntimeEnvBuilder::new().with_object_list_cache_limit(0);
        if let Some(dir) = &spill_dir {
            builder = builder.with_temp_file_path(dir);
        }
        let runtime = builder.build_arc()?;
        if let Some((url, store)) = &bucket {
            let url = datafusion::execution::object_store::ObjectStoreUrl::parse(url)?;
            runtime.register_object_store(url.as_ref(), store.clone());
        }
        Ok(runtime)
    });
    let process = ExecutorProcessConfig {
        bind_host: spec.bind_host.clone(),
        external_host: spec.external_host.clone(),
        port: spec.port,
        grpc_port: spec.grpc_port,
        scheduler_host,
        scheduler_port,
        // Wait for a scheduler that is still starting, as in a cluster
        // whose processes start together.
        scheduler_connect_timeout_seconds: 30,
        vcores: config.resources.threads,
        work_dir,
        memory_pool_size: Some(config.resources.memory_limit),
        override_function_registry: Some(functions),
        override_runtime_producer: Some(runtime_producer),
        override_config_producer: Some(config_producer),
        override_logical_codec: Some(Arc::new(codec::LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(codec::PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    // `own_dir` is dropped (the folder removed) after this returns.
    start_executor_process(Arc::new(process))
        .await
        .map_err(|e| Error::Cluster(format!("executor joining {}: {e}", spec.scheduler)))
}

/// `settings` with Strata's codecs, which a session's settings lose on the
/// wire (they are objects, not options).
fn with_codecs(settings: SessionConfig) -> SessionConfig {
    settings
        .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()))
}
