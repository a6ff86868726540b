//! `cargo bench --bench extract`: PostgreSQL -> raw.sales against
//! `psql COPY ... TO STDOUT (FORMAT csv) > file` on the same database in the
//! same run. Uses DATABASE_URL's server or starts a throwaway cluster;
//! `STRATA_BENCH_SALES` sets the number of sales (default 1,000,000).

fn main() {
    let sales = std::env::var("STRATA_BENCH_SALES")
        .ok()
        .and_then(|v| v.replace('_', "").parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["bench", "--extract", "--sales", &sales.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run strata bench --extract");
    std::process::exit(status.code().unwrap_or(1));
}
