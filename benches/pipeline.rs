//! `cargo bench`: the whole lake build on generated data, with figures as
//! ratios to a baseline measured in the same run (see `strata::bench`).
//!
//! `STRATA_BENCH_SALES` sets the number of sales (default 1,000,000);
//! `STRATA_BENCH_DIR` where the data goes (default a temporary folder);
//! `STRATA_BENCH_ROUNDS` the rounds alternating with DuckDB's (default 3).

fn main() {
    let sales = std::env::var("STRATA_BENCH_SALES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().expect("temporary folder");
    let work_dir = std::env::var("STRATA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let spec = strata::app::bench::BenchSpec {
        sales,
        seed: 1,
        work_dir,
        project_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        rounds: std::env::var("STRATA_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
        resources: strata::config::Resources::default(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(strata::app::bench::run(&spec)) {
        Ok(report) => print!("{}", report.render()),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}
