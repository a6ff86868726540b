//! `strata bench`.

use indicatif::HumanCount;

use super::{Outcome, out};
use crate::app::bench::{BenchSpec, extract_seeded, run};
use crate::cli::BenchArgs;
use crate::config::Config;
use crate::error::{Error, Result};

/// Measures the whole build (or, with `--extract`, the PostgreSQL
/// extraction) against a baseline measured in the same run.
pub async fn bench(config: &Config, args: &BenchArgs) -> Result<Outcome> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let spec = BenchSpec {
        sales: args.sales,
        seed: args.seed,
        work_dir: args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf()),
        project_dir: config.project_dir.clone(),
        rounds: args.rounds,
        resources: config.resources,
    };
    eprintln!(
        "benchmarking {} sales in {}",
        HumanCount(args.sales),
        spec.work_dir.display()
    );
    let text = if args.extract {
        extract_seeded(config, &spec, args.rounds, |rows, seconds| {
            eprintln!("seeded {} rows in {seconds:.1}s", HumanCount(rows));
        })
        .await?
        .render()
    } else {
        run(&spec).await?.render()
    };
    out(text)?;
    Ok(Outcome::Success)
}
