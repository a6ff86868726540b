//! What each command does, from a resolved [`Config`] to printed output.

use std::io::Write;
use std::sync::Arc;

use super::print::{OutputFormat, new_table, render};
use super::{BenchArgs, FixturesArgs, ReportArgs, RunArgs, SeedArgs, SqlArgs};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::metadata::{History, Journal};
use crate::models::dag::Dag;
use crate::models::{self, discover_queries};
use crate::runner::data_tests::{self, TestOutcome};
use crate::runner::progress::{Progress, bytes, thousands};
use crate::runner::{self, StepStatus};
use object_store::ObjectStoreExt;

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done.
    Success,
    /// The command ran but something failed (a model, a data test).
    Failed,
}

/// Opens the session. `needs_source`: fail when the legacy source cannot be
/// opened; otherwise warn and go on with the lake alone.
async fn open(config: &Config, needs_source: bool) -> Result<Engine> {
    open_on(config, Arc::new(Lake::open(&config.lake)?), needs_source).await
}

async fn open_on(config: &Config, lake: Arc<Lake>, needs_source: bool) -> Result<Engine> {
    let mut engine = Engine::open(config, lake).await?;
    if let Some(e) = engine.take_source_error() {
        if needs_source {
            return Err(e);
        }
        eprintln!(
            "warning: legacy.* is unavailable: {}",
            crate::error::user_message(&e)
        );
    }
    Ok(engine)
}

fn dag(config: &Config, engine: &Engine) -> Result<Dag> {
    let models = models::discover(&config.queries_dir)?;
    Dag::new(models, |table| {
        table
            .split_once('.')
            .is_some_and(|(s, t)| engine.has_table(s, t))
    })
}

/// `strata run`: builds, tests and reports, recording the run in the lake
/// (`meta.*`) whatever happens, then exports metrics and checks alerts.
pub async fn run(config: &Config, args: &RunArgs, quiet: bool) -> Result<Outcome> {
    if args.dry_run {
        return build(config, args, quiet, None).await.map(|(o, _)| o);
    }
    let lake = Arc::new(Lake::open(&config.lake)?);
    let command = std::iter::once("run".to_string())
        .chain(args.select.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let journal = Journal::begin(&lake, runner::new_run_id(), &command).await?;
    let result = build(config, args, quiet, Some((lake.clone(), &journal))).await;
    let (run, error) = match &result {
        Ok((_, Built { run, error })) => (run.as_ref(), error.clone()),
        Err(e) => (None, Some(crate::error::user_message(e))),
    };
    let manifests = run.map(|r| r.manifests.clone()).unwrap_or_default();
    let rows_in = |table: &str| run.and_then(|r| r.rows_in.get(table).copied().flatten());
    journal.finish(run, &manifests, &rows_in, error).await?;
    after_run(config, &lake).await?;
    result.map(|(o, _)| o)
}

/// After a run: the metrics file and the alert rules.
async fn after_run(config: &Config, lake: &Lake) -> Result<()> {
    let history = History::load(lake).await?;
    let dead = crate::metadata::dead_letters(lake).await?;
    let prom = crate::metadata::metrics::prometheus(&history, dead);
    lake.store()
        .put(
            &object_store::path::Path::from(crate::metadata::METRICS_FILE),
            prom.into_bytes().into(),
        )
        .await?;
    for fired in
        crate::metadata::alerts::evaluate(&config.alerts, &history, dead, &lake.describe())?
    {
        eprintln!(
            "alert: {} ({} is {})",
            fired.alert, fired.condition, fired.value
        );
    }
    Ok(())
}

/// What a build left for the run's record.
#[derive(Default)]
struct Built {
    run: Option<runner::Run>,
    error: Option<String>,
}

async fn build(
    config: &Config,
    args: &RunArgs,
    quiet: bool,
    recording: Option<(Arc<Lake>, &Journal)>,
) -> Result<(Outcome, Built)> {
    let engine = match &recording {
        Some((lake, _)) => open_on(config, lake.clone(), true).await?,
        None => open(config, true).await?,
    };
    let dag = dag(config, &engine)?;
    let selected = dag.select(&args.select)?;
    let order = runner::plan(&dag, &selected)?;
    let mut stdout = std::io::stdout().lock();

    if args.dry_run {
        let mut t = new_table();
        t.set_header(["#", "model", "reads", "writes", "storage"]);
        for (n, &i) in order.iter().enumerate() {
            let m = &dag.models()[i];
            let storage = if m.write.partition_by.is_empty() {
                m.write.format.extension().to_string()
            } else {
                format!(
                    "{} partitioned by {}",
                    m.write.format.extension(),
                    m.write.partition_by.join(", ")
                )
            };
            t.add_row([
                (n + 1).to_string(),
                runner::relative(&m.path, &config.project_dir),
                m.reads.join(", "),
                format!(
                    "{} -> {}/{}",
                    m.table,
                    engine.lake().describe(),
                    m.table.key()
                ),
                storage,
            ]);
        }
        writeln!(
            stdout,
            "Plan: {} models, source {}\n{t}",
            order.len(),
            config.source.describe()
        )
        .map_err(|e| Error::io("stdout", e))?;
        return Ok((Outcome::Success, Built::default()));
    }
    let Some((_, journal)) = recording else {
        unreachable!("only a dry run goes unrecorded")
    };

    drop(stdout);
    let progress = Progress::new(quiet);
    let mut run = runner::run(
        &engine,
        &dag,
        &selected,
        &config.project_dir,
        &progress,
        &journal.run_id(),
    )
    .await?;
    // Rows in: the rows of the lake tables each model reads, after the run.
    for &i in &order {
        let m = &dag.models()[i];
        let rows: Option<u64> = m
            .reads
            .iter()
            .map(|t| engine.manifest(t).map(|m| m.rows))
            .sum();
        run.rows_in.insert(m.table.to_string(), rows);
    }
    let mut stdout = std::io::stdout().lock();
    let mut t = new_table();
    t.set_header(["model", "status", "rows", "files", "bytes", "seconds"]);
    for s in &run.steps {
        let status = match &s.status {
            StepStatus::Ok => "ok",
            StepStatus::Failed(_) => "FAILED",
            StepStatus::Skipped(_) => "skipped",
        };
        t.add_row([
            s.table.clone(),
            status.to_string(),
            thousands(s.rows),
            s.files.to_string(),
            bytes(s.bytes),
            format!("{:.2}", s.seconds),
        ]);
    }
    let out = |e| Error::io("stdout", e);
    writeln!(stdout, "Run {} ({:.2}s)\n{t}", run.id, run.seconds).map_err(out)?;
    if !run.ok() {
        for (table, e) in run.failures() {
            writeln!(stdout, "error: {table} failed\n  {e}").map_err(out)?;
        }
        return Ok((
            Outcome::Failed,
            Built {
                run: Some(run),
                error: None,
            },
        ));
    }
    if !args.no_tests {
        let outcomes = run_tests(config, &engine).await?;
        print_tests(&mut stdout, &outcomes)?;
        let failed: Vec<_> = outcomes
            .iter()
            .filter(|o| !o.passed())
            .map(|o| o.name.clone())
            .collect();
        if !failed.is_empty() {
            return Ok((
                Outcome::Failed,
                Built {
                    run: Some(run),
                    error: Some(format!("data tests failed: {}", failed.join(", "))),
                },
            ));
        }
    }
    if !args.no_report
        && config
            .queries_dir
            .join(crate::report::DIR)
            .join("monthly.sql")
            .is_file()
        && engine.has_table("gold", "daily_sales")
    {
        let batches = crate::report::run(
            &engine,
            &config.queries_dir,
            "monthly",
            &crate::report::ReportParams::default(),
        )
        .await?;
        writeln!(
            stdout,
            "Monthly sales\n{}",
            render(&batches, OutputFormat::Table)?
        )
        .map_err(out)?;
    }
    Ok((
        Outcome::Success,
        Built {
            run: Some(run),
            error: None,
        },
    ))
}

async fn run_tests(config: &Config, engine: &Engine) -> Result<Vec<TestOutcome>> {
    let tests = discover_queries(&config.queries_dir.join("tests"))?;
    Ok(data_tests::run_all(engine, &tests, &config.project_dir).await)
}

fn print_tests(out: &mut impl Write, outcomes: &[TestOutcome]) -> Result<()> {
    let io = |e| Error::io("stdout", e);
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    writeln!(
        out,
        "Data tests: {passed} passed, {} failed",
        outcomes.len() - passed
    )
    .map_err(io)?;
    for o in outcomes.iter().filter(|o| !o.passed()) {
        match &o.error {
            Some(e) => writeln!(out, "FAIL {} ({}): could not run: {e}", o.name, o.file),
            None => writeln!(
                out,
                "FAIL {} ({}): {} offending rows, first ones:\n{}",
                o.name,
                o.file,
                thousands(o.failing_rows),
                o.sample
            ),
        }
        .map_err(io)?;
    }
    Ok(())
}

/// `strata test`.
pub async fn test(config: &Config) -> Result<Outcome> {
    let engine = open(config, false).await?;
    let outcomes = run_tests(config, &engine).await?;
    print_tests(&mut std::io::stdout().lock(), &outcomes)?;
    Ok(if outcomes.iter().all(TestOutcome::passed) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `strata report NAME`.
pub async fn report(config: &Config, args: &ReportArgs) -> Result<Outcome> {
    let engine = open(config, false).await?;
    let params = crate::report::ReportParams::new(args.year, args.from, args.to)?;
    let batches = crate::report::run(&engine, &config.queries_dir, &args.name, &params).await?;
    print!("{}", render(&batches, args.format)?);
    Ok(Outcome::Success)
}

/// `strata fixtures`.
pub fn fixtures(args: &FixturesArgs) -> Result<Outcome> {
    let spec = crate::fixtures::FixtureSpec {
        sales: args.sales,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let stats = if args.out.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        crate::fixtures::write_fixture(spec, &mut out).map_err(|e| Error::io("stdout", e))?
    } else {
        if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // Written aside and renamed, so an interrupted run never leaves a
        // truncated file under the real name.
        let tmp = args.out.with_extension("csv.partial");
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let stats =
            crate::fixtures::write_fixture(spec, &mut out).map_err(|e| Error::io(&tmp, e))?;
        drop(out);
        std::fs::rename(&tmp, &args.out).map_err(|e| Error::io(&args.out, e))?;
        stats
    };
    eprintln!(
        "wrote {} rows ({} sales, {} duplicates, {} bad dates) to {} in {:.2}s",
        thousands(stats.rows),
        thousands(stats.sales),
        thousands(stats.duplicates),
        stats.bad_dates,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Success)
}

/// `strata bench`.
pub async fn bench(config: &Config, args: &BenchArgs) -> Result<Outcome> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let spec = crate::bench::BenchSpec {
        sales: args.sales,
        seed: args.seed,
        work_dir: args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf()),
        project_dir: config.project_dir.clone(),
    };
    eprintln!(
        "benchmarking {} sales in {}",
        thousands(args.sales),
        spec.work_dir.display()
    );
    if args.extract {
        use crate::source::postgres::{
            cluster::Cluster, connect::PgConnector, connect::PgEnv, seed,
        };
        let (_cluster, url) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (None, url),
            _ => {
                let c = Cluster::start()?;
                let url = c.url("strata_bench");
                (Some(c), url)
            }
        };
        let connector =
            PgConnector::new(&url, &PgEnv::from_process())?.with_database("strata_bench");
        let seeded = seed::seed(
            &connector,
            seed::SeedData::Generated(crate::fixtures::FixtureSpec {
                sales: args.sales,
                seed: args.seed,
            }),
            true,
        )
        .await?;
        eprintln!(
            "seeded {} rows in {:.1}s",
            thousands(seeded.rows),
            seeded.seconds
        );
        let url = match url.rsplit_once('/') {
            Some((root, rest)) if !root.ends_with('/') => {
                let query = rest
                    .split_once('?')
                    .map(|(_, q)| format!("?{q}"))
                    .unwrap_or_default();
                format!("{root}/strata_bench{query}")
            }
            _ => url,
        };
        let report =
            crate::bench::extract(&url, &config.project_dir, &spec.work_dir, args.rounds).await?;
        print!("{}", report.render());
        return Ok(Outcome::Success);
    }
    let report = crate::bench::run(&spec).await?;
    print!("{}", report.render());
    Ok(Outcome::Success)
}

/// `strata seed`.
pub async fn seed(config: &Config, args: &SeedArgs) -> Result<Outcome> {
    use crate::source::postgres::{connect, seed};
    let url = match (&args.database_url, &config.source) {
        (Some(url), _) => url.clone(),
        (None, crate::config::SourceSpec::Postgres(url)) => url.clone(),
        (None, _) => std::env::var("DATABASE_URL").map_err(|_| {
            Error::Config(
                "strata seed needs a database: --database-url postgres://... or DATABASE_URL"
                    .into(),
            )
        })?,
    };
    let connector = connect::PgConnector::new(&url, &connect::PgEnv::from_process())?;
    let data = match (&args.csv, args.sales) {
        (Some(csv), _) => seed::SeedData::Csv(csv.clone()),
        (None, Some(sales)) => seed::SeedData::Generated(crate::fixtures::FixtureSpec {
            sales,
            seed: args.seed,
        }),
        (None, None) => seed::SeedData::Csv(config.project_dir.join(crate::config::DEFAULT_SOURCE)),
    };
    let seeded = seed::seed(&connector, data, args.replace).await?;
    println!(
        "{}loaded {} rows into {} public.sales in {:.2}s ({:.0} rows/s)",
        if seeded.created_database {
            "created the database; "
        } else {
            ""
        },
        thousands(seeded.rows),
        connector.describe(),
        seeded.seconds,
        seeded.rows as f64 / seeded.seconds.max(1e-9)
    );
    Ok(Outcome::Success)
}

/// `strata sql`.
pub async fn sql(config: &Config, args: &SqlArgs) -> Result<Outcome> {
    use super::print::PrintOptions;
    use super::repl::{self, Session};
    let engine = open(config, false).await?;
    let interactive = args.command.is_empty() && args.file.is_none() && repl::stdin_is_terminal();
    let print = PrintOptions {
        format: args.format,
        max_rows: args.max_rows.or(interactive.then_some(40)),
        expanded: false,
    };
    if interactive {
        return repl::interactive(&engine, print, args.output.as_deref())
            .await
            .map(|_| Outcome::Success);
    }
    let mut session = Session::new(&engine, print);
    session.set_output(args.output.as_deref())?;
    let mut texts: Vec<String> = args.command.clone();
    if let Some(f) = &args.file {
        texts.push(std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?);
    }
    if texts.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::io("stdin", e))?;
        texts.push(text);
    }
    for text in texts {
        let (ok, flow) = session.run_text(&text, true).await?;
        if !ok {
            return Ok(Outcome::Failed);
        }
        if flow == repl::Flow::Quit {
            break;
        }
    }
    Ok(Outcome::Success)
}

/// `strata status`.
pub async fn status(config: &Config, args: &super::StatusArgs) -> Result<Outcome> {
    let engine = open(config, false).await?;
    let history = engine.refresh_meta().await?;
    let dead = crate::metadata::dead_letters(engine.lake()).await?;
    let text = super::status::render(&engine, &history, dead, args.runs)?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("stdout", e))?;
    Ok(Outcome::Success)
}

/// `strata dashboard`.
pub async fn dashboard(config: &Config, args: &super::DashboardArgs) -> Result<Outcome> {
    let engine = open(config, false).await?;
    let history = engine.refresh_meta().await?;
    let html = super::dashboard::render(&engine, &history).await?;
    std::fs::write(&args.out, html).map_err(|e| Error::io(&args.out, e))?;
    println!("Wrote {}", args.out.display());
    Ok(Outcome::Success)
}

/// `strata watch`.
pub async fn watch(config: &Config, args: &super::WatchArgs, quiet: bool) -> Result<Outcome> {
    use crate::ingest::watch::{Wakeup, stable};
    use std::time::Duration;
    let lake = Arc::new(Lake::open(&config.lake)?);
    let mut wakeup = Wakeup::new(&lake, args.poll.map(Duration::from_secs_f64));
    let debounce = Duration::from_millis(args.debounce_ms);
    if !args.once {
        eprintln!(
            "Watching {}/{}/<table>/ ({}); Ctrl-C stops.",
            lake.describe(),
            crate::ingest::LANDING_DIR,
            wakeup.describe()
        );
    }
    let mut outcome = Outcome::Success;
    loop {
        let pass = async {
            let files = stable(&lake, &mut wakeup, debounce).await?;
            if files.is_empty() {
                return Ok(Outcome::Success);
            }
            land_and_rebuild(config, &lake, &files, quiet).await
        }
        .await;
        match pass {
            Ok(Outcome::Success) => {}
            Ok(Outcome::Failed) => outcome = Outcome::Failed,
            // A watcher outlives a failed pass: the files stay in the
            // landing zone and the next pass tries them again.
            Err(e) if !args.once => {
                eprintln!("error: {}; retrying", crate::error::user_message(&e));
                outcome = Outcome::Failed;
            }
            Err(e) => return Err(e),
        }
        if args.once {
            return Ok(outcome);
        }
        // Events wake the loop at once; the timeout is a safety net that
        // also catches files whose size was still changing.
        tokio::select! {
            () = wakeup.wait(Duration::from_secs(5)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(outcome),
        }
    }
}

/// One pass: land the files, rebuild what reads the tables that grew, and
/// record it all as one run.
async fn land_and_rebuild(
    config: &Config,
    lake: &Arc<Lake>,
    files: &[crate::ingest::Landed],
    quiet: bool,
) -> Result<Outcome> {
    use crate::ingest::Fate;
    let command = format!("watch: {} file(s)", files.len());
    let journal = Journal::begin(lake, runner::new_run_id(), &command).await?;
    let result: Result<(crate::ingest::Pass, Option<runner::Run>)> = async {
        let pass = crate::ingest::land(lake, files, &journal.run_id()).await?;
        for (f, fate) in &pass.files {
            let line = match fate {
                Fate::Loaded {
                    key,
                    rows,
                    quarantined,
                } => format!(
                    "loaded {} into raw.{}/{key}: {} rows{}",
                    f.key,
                    f.table,
                    thousands(*rows),
                    if *quarantined > 0 {
                        format!(", {quarantined} quarantined (meta.quarantine)")
                    } else {
                        String::new()
                    }
                ),
                Fate::Duplicate(key) => {
                    format!(
                        "{}: already loaded as raw.{}/{key}; skipped",
                        f.key, f.table
                    )
                }
                Fate::DeadLetter { key, error } => {
                    format!("{}: dead letter -> {key}\n  {error}", f.key)
                }
            };
            eprintln!("{line}");
        }
        if pass.manifests.is_empty() {
            return Ok((pass, None));
        }
        let engine = open_on(config, lake.clone(), false).await?;
        let dag = dag(config, &engine)?;
        let mut selected = std::collections::BTreeSet::new();
        for table in pass.tables() {
            let own = dag
                .models()
                .iter()
                .position(|m| m.table.to_string() == table);
            let mut downstream = dag.select(&[format!("{table}+")]).unwrap_or_default();
            if let Some(own) = own {
                downstream.remove(&own);
            }
            selected.extend(downstream);
        }
        if selected.is_empty() {
            return Ok((pass, None));
        }
        let progress = Progress::new(quiet);
        let run = runner::run(
            &engine,
            &dag,
            &selected,
            &config.project_dir,
            &progress,
            &journal.run_id(),
        )
        .await?;
        Ok((pass, Some(run)))
    }
    .await;
    let (run, mut manifests, error) = match &result {
        Ok((pass, run)) => {
            let dead: Vec<String> = pass
                .files
                .iter()
                .filter_map(|(f, fate)| match fate {
                    Fate::DeadLetter { error, .. } => Some(format!("{}: {error}", f.key)),
                    _ => None,
                })
                .collect();
            let error = (!dead.is_empty())
                .then(|| format!("{} file(s) dead-lettered: {}", dead.len(), dead.join("; ")));
            (run.as_ref(), pass.manifests.clone(), error)
        }
        Err(e) => (None, vec![], Some(crate::error::user_message(e))),
    };
    if let Some(run) = run {
        manifests.extend(run.manifests.iter().cloned());
        for (table, e) in run.failures() {
            eprintln!("error: {table} failed\n  {e}");
        }
    }
    let record = journal.finish(run, &manifests, &|_| None, error).await?;
    after_run(config, lake).await?;
    if let Err(e) = &result {
        return Err(Error::Config(crate::error::user_message(e)));
    }
    if let Some(run) = run {
        eprintln!(
            "rebuilt {} model(s) in {:.2}s (run {})",
            run.steps.len(),
            run.seconds,
            record.run_id
        );
    }
    Ok(if record.status == crate::metadata::RunStatus::Succeeded {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `strata dlq`.
pub async fn dlq(config: &Config, args: &super::DlqArgs) -> Result<Outcome> {
    let lake = Lake::open(&config.lake)?;
    match &args.action {
        super::DlqAction::List => {
            let letters = crate::ingest::dlq::list(&lake).await?;
            if letters.is_empty() {
                println!("No dead letters.");
                return Ok(Outcome::Success);
            }
            let mut t = new_table();
            t.set_header(["key", "table", "failed at", "error"]);
            for l in &letters {
                t.add_row([
                    l.dead_letter_key.clone(),
                    l.table_name.clone(),
                    l.failed_at.clone(),
                    l.error.clone(),
                ]);
            }
            println!("{t}");
        }
        super::DlqAction::Retry { key } => {
            let to = crate::ingest::dlq::retry(&lake, key).await?;
            println!("Moved back to {to}; `strata watch` (or `watch --once`) will try it again.");
        }
    }
    Ok(Outcome::Success)
}

/// `strata catalog`.
pub async fn catalog(config: &Config, args: &super::CatalogArgs) -> Result<Outcome> {
    let super::CatalogAction::Ddl {
        dialect,
        location,
        select,
    } = &args.action;
    let lake = Lake::open(&config.lake)?;
    let mut manifests: Vec<_> = lake
        .tables()
        .await?
        .into_iter()
        .filter(|m| {
            select.is_empty()
                || select
                    .iter()
                    .any(|s| m.table == *s || m.table.split_once('.').is_some_and(|(l, _)| l == s))
        })
        .collect();
    manifests.sort_by(|a, b| a.table.cmp(&b.table));
    if manifests.is_empty() {
        return Err(Error::Config(
            "no lake tables to describe: `strata run` builds them".into(),
        ));
    }
    let root = match location {
        Some(l) if l.ends_with('/') => l.clone(),
        Some(l) => format!("{l}/"),
        None => lake.url(),
    };
    let mut out = std::io::stdout().lock();
    if *dialect == crate::lake::ddl::Dialect::Athena && !root.starts_with("s3://") {
        writeln!(
            out,
            "-- LOCATION is this lake on local disk; Athena reads s3:// only:\n\
             -- pass --location s3://bucket/prefix/ for the bucket the lake is copied to."
        )
        .map_err(|e| Error::io("stdout", e))?;
    }
    let ddl = crate::lake::ddl::lake_ddl(&manifests, &root, *dialect)?;
    out.write_all(ddl.as_bytes())
        .map_err(|e| Error::io("stdout", e))?;
    Ok(Outcome::Success)
}
