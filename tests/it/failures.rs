//! What goes wrong, and what the user sees then: the failing file is named,
//! the exit code says it failed, and the lake keeps its previous tables.

use crate::common::Project;

fn stdout_and_stderr(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_broken_model_fails_the_run_naming_its_file_and_position() {
    let project = Project::new();
    project.write(
        "queries/gold/broken.sql",
        "SELECT customer_id,\n       no_such_column\nFROM silver.sales\n",
    );
    let out = project.strata(&["run", "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("queries/gold/broken.sql:2:8"), "{text}");
    assert!(text.contains("no_such_column"), "{text}");
    // Independent models still built.
    assert!(
        project
            .lake()
            .join("gold/fact_sales/_strata_log/00000000000000000000.json")
            .is_file()
    );
    assert!(!project.lake().join("gold/broken").exists());
}

#[test]
fn a_model_failing_midway_leaves_the_previous_table_whole() {
    // 20,000 sales are three record batches: the first is written to
    // staging before the failing rows are even read.
    let project = Project::new();
    project.strata_ok(&[
        "fixtures", "--sales", "20000", "--seed", "5", "--out", "big.csv",
    ]);
    project.write("strata.toml", "source = \"big.csv\"\n");
    project.strata_ok(&["run", "--no-report"]);
    let before = project.data_files();
    let on_disk = project.objects_on_disk();

    // Fails at execution, after bronze's first partitions have been written
    // to staging: the cast only breaks on late rows.
    let bronze = std::fs::read_to_string(project.path().join("queries/bronze/sales.sql")).unwrap();
    project.write(
        "queries/bronze/sales.sql",
        &bronze.replace(
            "sale_id, sale_date,",
            "CASE WHEN sale_id > 15000 THEN CAST(sale_date AS INT) ELSE 0 END AS boom,\n    sale_id, sale_date,",
        ),
    );
    let out = project.strata(&["run", "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("queries/bronze/sales.sql"), "{text}");
    assert!(
        text.contains("skipped"),
        "downstream models are skipped: {text}"
    );
    assert_eq!(
        project.data_files(),
        before,
        "every table is exactly as before"
    );
    // What the run added on disk is its committed versions' (raw.sales
    // built again), never the failed model's partial files.
    let committed = project.current_keys();
    let left: Vec<_> = project
        .objects_on_disk()
        .into_iter()
        .filter(|k| !on_disk.contains(k) && !committed.contains(k))
        .collect();
    assert!(
        left.is_empty(),
        "the failed model's files are removed: {left:?}"
    );
    // Queries still see the old, complete bronze.
    let out = project.strata_ok(&["test"]);
    assert!(out.contains("0 failed"), "{out}");
}

#[test]
fn a_data_test_reading_a_failed_model_is_skipped_naming_it_while_the_others_run() {
    // The tests run beside the models: those whose tables were built run
    // and pass; the one reading the table that failed is named, not run.
    let project = Project::new();
    project.write(
        "queries/gold/daily_sales.sql",
        "SELECT no_such_column FROM gold.fact_sales\n",
    );
    let out = project.strata(&["run", "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("queries/gold/daily_sales.sql"), "{text}");
    assert!(
        text.contains("Data tests: 7 passed, 0 failed, 1 skipped"),
        "{text}"
    );
    assert!(
        text.contains("warning: skipped fact_total_matches_daily_total")
            && text.contains("gold.daily_sales failed to build"),
        "{text}"
    );
}

#[test]
fn a_cycle_is_reported_before_anything_runs() {
    let project = Project::new();
    project.write("queries/gold/a.sql", "SELECT * FROM gold.b");
    project.write("queries/gold/b.sql", "SELECT * FROM gold.a");
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("dependency cycle"), "{text}");
    assert!(
        text.contains("gold.a -> gold.b -> gold.a") || text.contains("gold.b -> gold.a -> gold.b"),
        "{text}"
    );
    assert!(!project.lake().join("raw").exists(), "nothing was built");
}

#[test]
fn a_table_nobody_produces_is_named_with_the_reader() {
    let project = Project::new();
    project.write(
        "queries/gold/orphan.sql",
        "SELECT * FROM silver.nothing_here",
    );
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("queries/gold/orphan.sql"), "{text}");
    assert!(text.contains("silver.nothing_here"), "{text}");
}

#[test]
fn a_malformed_source_row_names_the_file_and_line() {
    let project = Project::new();
    let path = project.path().join("fixtures/legacy_sales.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let good_line = lines[41].clone();
    lines[41] = format!("{good_line},oops");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(
        text.contains("fixtures/legacy_sales.csv:42: expected 14 fields"),
        "{text}"
    );

    let mut fields: Vec<&str> = good_line.split(',').collect();
    fields[11] = "abc";
    lines[41] = fields.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let text = stdout_and_stderr(&project.strata(&["run"]));
    assert!(
        text.contains("fixtures/legacy_sales.csv:42: column unit_price: cannot read \"abc\""),
        "{text}"
    );
}

#[test]
fn another_run_holding_the_lake_is_refused() {
    let project = Project::new();
    let lake = strata::lake::Lake::open(
        &strata::lake::LakeRoot::Local(project.lake()),
        &Default::default(),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _held = runtime.block_on(lake.lock()).unwrap();
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_and_stderr(&out).contains("locked by another strata run"));
}

#[test]
fn select_builds_a_model_and_what_depends_on_it() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report"]);
    // The same content, as a re-run promises (files are byte-identical only
    // for tables with an order, and silver has none).
    let contents = || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(project.table_contents())
    };
    let before = contents();
    let out = project.strata_ok(&["run", "--select", "silver.sales+", "--no-report"]);
    assert!(
        out.contains("silver.sales ")
            && out.contains("gold.fact_sales")
            && out.contains("gold.daily_sales"),
        "{out}"
    );
    assert!(!out.contains("bronze.sales"), "{out}");
    assert!(!out.contains("raw.sales"), "{out}");
    assert_eq!(contents(), before);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let project = Project::new();
    let out = project.strata_ok(&["run", "--dry-run"]);
    let order: Vec<usize> = [
        "raw.sales",
        "bronze.sales",
        "silver.sales",
        "gold.fact_sales",
    ]
    .iter()
    .map(|t| {
        out.find(&format!("{t} ->"))
            .unwrap_or_else(|| panic!("{t} in plan:\n{out}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "dependency order:\n{out}"
    );
    assert!(
        out.find("gold.daily_sales ->") > out.find("silver.sales ->"),
        "dependency order:\n{out}"
    );
    assert!(out.contains("partitioned by year, month, day"), "{out}");
    assert!(out.contains("legacy.sales"), "{out}");
    assert!(!project.lake().join("raw").exists());
}

#[test]
fn usage_errors_exit_2() {
    let project = Project::new();
    assert_eq!(
        project.strata(&["run", "--no-such-flag"]).status.code(),
        Some(2)
    );
    project.write("strata.toml", "lake = 3\n");
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout_and_stderr(&out).contains("strata.toml"));
}

#[test]
fn a_failing_data_test_fails_the_run_with_a_sample() {
    let project = Project::new();
    project.write(
        "queries/tests/no_big_orders.sql",
        "SELECT sale_id, quantity FROM gold.fact_sales WHERE quantity > 18",
    );
    let out = project.strata(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(
        text.contains("FAIL no_big_orders (queries/tests/no_big_orders.sql)"),
        "{text}"
    );
    assert!(text.contains("| sale_id | quantity |"), "{text}");
}

#[test]
fn an_emptied_daily_sales_fails_the_data_tests() {
    // The totals test once compared sums with `<>`: an empty table sums to
    // NULL, and the comparison passed. It must fail.
    let project = Project::new();
    project.strata_ok(&["run", "--no-report"]);
    let model = project.path().join("queries/gold/daily_sales.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, format!("{}\nLIMIT 0\n", sql.trim_end())).unwrap();
    let out = project.strata(&["run", "--select", "gold.daily_sales", "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(
        text.contains("FAIL fact_total_matches_daily_total"),
        "{text}"
    );
}

#[test]
fn a_sale_lost_between_bronze_and_silver_or_quarantine_fails_the_data_tests() {
    let project = Project::new();
    // Runs with `clause` appended to `model`, which must fail the cover
    // test; the model is put back after. Returns what the run printed.
    let losing = |model: &str, clause: &str| {
        let path = project.path().join(model);
        let sql = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{}\n{clause}\n", sql.trim_end())).unwrap();
        let out = project.strata(&["run", "--no-report"]);
        std::fs::write(&path, sql).unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = stdout_and_stderr(&out);
        assert!(
            text.contains("FAIL silver_and_quarantine_cover_raw"),
            "{text}"
        );
        text
    };
    let text = losing("queries/silver/sales.sql", "WHERE sale_id <> 7");
    // The day that lost it, one sale short.
    let day = project.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT year, month, day FROM bronze.sales WHERE sale_id = 7 LIMIT 1",
    ]);
    let day: Vec<&str> = day
        .lines()
        .nth(1)
        .expect("sale 7's day")
        .split(',')
        .collect();
    let row = text
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells.len() > 5 && cells[1..4] == day[..]
        })
        .unwrap_or_else(|| panic!("no row for day {day:?} in {text}"));
    let cells: Vec<i64> = row
        .split('|')
        .map(str::trim)
        .filter_map(|c| c.parse().ok())
        .collect();
    assert_eq!(cells[3], cells[4] + 1, "bronze has one sale more: {row}");

    // A quarantined row dropped shows as the undated folder's loss.
    losing("queries/silver/sales_quarantine.sql", "OFFSET 1");
}

#[test]
fn a_selector_naming_no_model_is_a_usage_error_with_a_suggestion() {
    let project = Project::new();
    let out = project.strata(&["run", "--select", "gold.fact_sale"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout_and_stderr(&out));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("gold.fact_sales"), "{text}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            // About 10,000 rows, far more than a pipe's buffer holds, so
            // the write really meets the closed pipe.
            "SELECT * FROM gold.fact_sales CROSS JOIN gold.dim_seller",
        ])
        .current_dir(project.path())
        .env_remove("STRATA_LAKE")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then hang up, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn a_mistyped_table_is_named_as_written_with_a_suggestion() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let out = project.strata(&["sql", "-c", "SELECT count(*) FROM gold.fact_sale"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("gold.fact_sale"), "{text}");
    assert!(!text.contains("datafusion.gold"), "{text}");
    assert!(text.contains("did you mean gold.fact_sales"), "{text}");
}

#[test]
fn an_unknown_report_is_named_without_the_configuration_prefix() {
    let project = Project::new();
    let out = project.strata(&["report", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout_and_stderr(&out);
    assert!(text.contains("no report `nope`"), "{text}");
    assert!(text.contains("queries/reports/nope.sql"), "{text}");
    assert!(!text.contains("configuration:"), "{text}");
    assert!(
        !text.contains(&project.path().display().to_string()),
        "paths are relative to the project: {text}"
    );
}

#[test]
fn a_source_that_is_one_huge_line_gives_a_bounded_error() {
    let project = Project::new();
    // 2 MB and no newline: the whole file is its header.
    let line = "x".repeat(2 << 20);
    project.write("fixtures/legacy_sales.csv", &line);
    let out = project.strata(&["run", "--no-report"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_and_stderr(&out);
    assert!(
        text.contains("header does not match"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(
        text.contains(&format!("({} bytes)", 2 << 20)),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.len() < 20_000, "{} bytes of output", text.len());
    // The run record holds the same bounded message.
    let error = project.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT error FROM meta.runs",
    ]);
    assert!(error.len() < 20_000, "{} bytes in meta.runs", error.len());
}

#[test]
fn select_runs_only_the_data_tests_of_what_it_built_and_skips_missing_tables() {
    let project = Project::new();
    // A new lake: the tests reading bronze, silver and gold have no tables
    // yet. They are skipped, named as warnings; the run succeeds.
    let out = project.strata(&["run", "--select", "raw.sales", "--no-report"]);
    let text = stdout_and_stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Data tests: 0 passed, 0 failed, 8 skipped"),
        "{text}"
    );
    assert!(
        text.contains("warning: skipped totals_are_quantity_times_price")
            && text.contains("the lake has no silver.sales"),
        "{text}"
    );
    // With every table there, a selection runs the tests reading what it
    // built, and only counts the others.
    project.strata_ok(&["run", "--no-report", "-q"]);
    let out = project.strata_ok(&["run", "--select", "gold.dim_date", "--no-report"]);
    assert!(
        out.contains("Data tests: 2 passed, 0 failed, 6 skipped"),
        "{out}"
    );
    assert!(!out.contains("warning: skipped"), "{out}");
    // `strata test` runs them all.
    let all = project.strata_ok(&["test"]);
    assert!(all.contains("Data tests: 8 passed, 0 failed\n"), "{all}");
}
