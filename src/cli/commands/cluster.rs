//! `strata scheduler` and `strata executor`: the processes of a Strata
//! cluster, each running until stopped.

use super::Outcome;
use crate::cli::{ExecutorArgs, SchedulerArgs};
use crate::cluster::{self, ExecutorSpec, SchedulerSpec};
use crate::config::Config;
use crate::error::Result;
use crate::lake::Lake;

/// Runs a scheduler.
pub async fn scheduler(config: &Config, args: &SchedulerArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    eprintln!(
        "strata scheduler on {} (lake {}); clients use --engine ballista://{}",
        args.bind,
        lake.describe(),
        args.external_host
            .as_deref()
            .map(|h| format!("{h}:{}", args.bind.port()))
            .unwrap_or_else(|| args.bind.to_string())
    );
    let spec = SchedulerSpec {
        bind: args.bind,
        external_host: args.external_host.clone(),
    };
    cluster::scheduler(config, &lake, &spec).await?;
    Ok(Outcome::Success)
}

/// Runs an executor.
pub async fn executor(config: &Config, args: &ExecutorArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake, &config.s3)?;
    eprintln!(
        "strata executor on {}:{} (flight) and :{} (grpc), {} cores, joining {} (lake {})",
        args.bind_host,
        args.port,
        args.grpc_port,
        config.resources.threads,
        args.scheduler,
        lake.describe()
    );
    let spec = ExecutorSpec {
        scheduler: args.scheduler.clone(),
        bind_host: args.bind_host.clone(),
        external_host: args.external_host.clone(),
        port: args.port,
        grpc_port: args.grpc_port,
        work_dir: args.work_dir.clone(),
    };
    cluster::executor(config, &lake, &spec).await?;
    Ok(Outcome::Success)
}
