//! `strata sql` without a prompt: `-c`, `-f`, piped input, formats, errors.

use crate::common::Project;

fn built() -> Project {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    p
}

fn sql_with_stdin(p: &Project, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("sql")
        .args(args)
        .current_dir(p.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_output_format_prints_the_same_rows() {
    let p = built();
    let q = "SELECT customer_id, customer_name, region FROM gold.dim_customer ORDER BY customer_id LIMIT 2";
    let out = |format: &str| p.strata_ok(&["sql", "-c", q, "--format", format]);
    let csv = out("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "customer_id,customer_name,region");
    assert_eq!(lines.len(), 3);
    let (id, rest) = lines[1].split_once(',').unwrap();
    assert_eq!(id, "1");
    assert_eq!(out("tsv"), csv.replace(',', "\t"));
    assert_eq!(
        out("markdown"),
        format!(
            "| customer_id | customer_name | region |\n| --- | --- | --- |\n| 1 | {} |\n| {} |\n",
            rest.replace(',', " | "),
            lines[2].replace(',', " | ")
        )
    );
    let ndjson = out("ndjson");
    assert_eq!(ndjson.lines().count(), 2);
    assert!(ndjson.starts_with("{\"customer_id\":1,"), "{ndjson}");
    let json = out("json");
    assert!(
        json.starts_with("[{\"customer_id\":1,") && json.trim_end().ends_with("}]"),
        "{json}"
    );
    let table = out("table");
    assert!(
        table.contains("customer_id") && table.contains("│"),
        "{table}"
    );
}

#[test]
fn piped_statements_run_in_order_and_the_first_error_stops_with_exit_1() {
    let p = built();
    let ok = sql_with_stdin(
        &p,
        &["--format", "csv"],
        "SELECT 'a;b' AS x;\n-- a comment; not a statement\nSELECT count(*) AS n\nFROM gold.fact_sales;\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "x\na;b\nn\n496\n");

    let bad = sql_with_stdin(
        &p,
        &["--format", "csv"],
        "SELECT 1 AS one;\nSELECT nope FROM gold.fact_sales;\nSELECT 2 AS two;\n",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&bad.stdout), "one\n1\n");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("error:") && err.contains("nope") && err.contains("line 1, column 8"),
        "{err}"
    );
}

#[test]
fn athena_catalog_statements_answer_from_the_lake() {
    let p = built();
    let tables = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SHOW TABLES IN gold LIKE 'dim*'",
    ]);
    assert_eq!(
        tables,
        "schema,table\ngold,dim_customer\ngold,dim_date\ngold,dim_product\ngold,dim_seller\n"
    );
    let describe = p.strata_ok(&["sql", "--format", "csv", "-c", "\\d gold.daily_sales"]);
    assert!(
        describe.contains("year,integer,YES,partition key\n"),
        "{describe}"
    );
    assert!(
        describe.contains("total_sales,\"decimal(18,2)\",YES,\"\"\n"),
        "{describe}"
    );
    let partitions = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SHOW PARTITIONS gold.daily_sales",
    ]);
    assert_eq!(
        partitions.lines().count(),
        410,
        "a header and one line per day with sales"
    );
    assert!(
        partitions.contains("\nyear=2024/month=2/day=29\n")
            || partitions.contains("\nyear=2021/month=1/day=10\n")
    );
    let repaired = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "MSCK REPAIR TABLE gold.daily_sales",
    ]);
    assert!(
        repaired.contains("gold.daily_sales: version 0, 409 files, 409 rows"),
        "{repaired}"
    );
}

#[test]
fn max_rows_says_what_it_left_out_and_output_goes_to_a_file() {
    let p = built();
    let out = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "--max-rows",
        "3",
        "-c",
        "SELECT sale_id FROM gold.fact_sales ORDER BY sale_id",
    ]);
    assert_eq!(
        out,
        "sale_id\n1\n2\n3\n(3 of 496 rows shown, 493 left out; raise --max-rows to see more)\n"
    );
    p.strata_ok(&[
        "sql",
        "-c",
        "SELECT 42 AS answer",
        "--format",
        "csv",
        "--output",
        "answer.csv",
    ]);
    assert_eq!(
        std::fs::read_to_string(p.path().join("answer.csv")).unwrap(),
        "answer\n42\n"
    );
}

#[test]
fn ctas_writes_a_lake_table_atomically_and_unload_writes_files() {
    let p = built();
    let ctas = "CREATE TABLE gold.region_revenue WITH (format = 'PARQUET', partitioned_by = ARRAY['region']) AS \
                SELECT sum(f.total_value) AS revenue, count(*) AS sales, c.region \
                FROM gold.fact_sales f JOIN gold.dim_customer c USING (customer_id) GROUP BY c.region";
    let out = p.strata_ok(&["sql", "--format", "csv", "-c", ctas]);
    assert!(
        out.contains("gold.region_revenue: 5 rows in 5 files"),
        "{out}"
    );
    // Registered for the next session, partitioned, and summing to the facts.
    let check = p.strata_ok(&[
        "sql", "--format", "csv", "-c",
        "SELECT (SELECT sum(revenue) FROM gold.region_revenue) = (SELECT sum(total_value) FROM gold.fact_sales) AS same, \
                (SELECT sum(sales) FROM gold.region_revenue) AS sales",
    ]);
    assert_eq!(check, "same,sales\ntrue,496\n");
    // Recorded as a run, its files as objects.
    let recorded = p.strata_ok(&[
        "sql", "--format", "csv", "-c",
        "SELECT count(*), bool_and(current), min(r.status) FROM meta.objects o JOIN meta.runs r USING (run_id) \
         WHERE o.table_name = 'region_revenue' AND r.command = 'CREATE TABLE gold.region_revenue AS'",
    ]);
    assert_eq!(
        recorded.lines().nth(1),
        Some("5,true,succeeded"),
        "{recorded}"
    );
    assert!(
        p.current_file("gold/region_revenue/region=Sudeste/part-00000.parquet")
            .is_file()
    );
    // Running it again replaces the table whole (no doubled rows).
    p.strata_ok(&["sql", "-c", ctas]);
    let again = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT sum(sales) AS n FROM gold.region_revenue",
    ]);
    assert_eq!(again, "n\n496\n");

    let out_dir = p.path().join("exports/y2024");
    let unload = format!(
        "UNLOAD (SELECT sale_date, total_sales FROM gold.daily_sales WHERE year = 2024) TO '{}' WITH (format = 'TEXTFILE')",
        out_dir.display()
    );
    let out = p.strata_ok(&["sql", "--format", "csv", "-c", &unload]);
    assert!(out.contains("90 rows in 1 files unloaded"), "{out}");
    let csv = std::fs::read_to_string(out_dir.join("part-00000.csv")).unwrap();
    assert_eq!(csv.lines().count(), 91);
    // Athena's rule: the location must be empty.
    let again = p.strata(&["sql", "-c", &unload]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    let bad = p.strata(&[
        "sql",
        "-c",
        "CREATE TABLE gold.t WITH (format = 'ORC') AS SELECT 1 AS x",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("format 'ORC' is not supported"));
}

#[test]
fn path_and_file_size_name_each_rows_file_as_on_disk() {
    let p = built();
    let out = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        r#"SELECT "$path", "$file_size", count(*) FROM gold.daily_sales WHERE year = 2024 AND month = 2 GROUP BY 1, 2 ORDER BY 1"#,
    ]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        let path = fields[0]
            .strip_prefix("file://")
            .unwrap_or_else(|| panic!("not a file URL: {row}"));
        assert!(
            path.contains("/gold/daily_sales/year=2024/month=2/day="),
            "{row}"
        );
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(fields[1], size.to_string(), "{row}");
        assert_eq!(fields[2], "1", "one row per day file: {row}");
    }
    // Without a pseudo-column, `SELECT *` shows the table's own columns only.
    let header = p.strata_ok(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT * FROM gold.dim_date LIMIT 1",
    ]);
    assert!(!header.lines().next().unwrap().contains('$'), "{header}");
}

#[test]
fn the_spill_codec_setting_reaches_the_engine() {
    let p = Project::without_models();
    let setting = |args: &[&str]| {
        let mut all = vec!["sql", "--format", "csv"];
        all.extend_from_slice(args);
        all.extend([
            "-c",
            "SELECT value FROM information_schema.df_settings \
             WHERE name = 'datafusion.execution.spill_compression'",
        ]);
        p.strata_ok(&all)
    };
    assert!(setting(&[]).contains("lz4_frame"), "the default is LZ4");
    assert!(setting(&["--spill-compression", "zstd"]).contains("zstd"));
    assert!(setting(&["--spill-compression", "none"]).contains("uncompressed"));
    let out = p.strata(&["sql", "--spill-compression", "snappy", "-c", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2), "a bad setting is a usage error");
}

#[test]
fn a_group_by_over_all_of_bronze_streams_day_by_day() {
    // The default (NULL) partition is the last folder of a stream; the scan
    // keeps its declared day order with it, so grouping by the partition
    // columns and a sale streams instead of hashing every row to the end.
    let p = built();
    let plan = p.strata_ok(&[
        "sql",
        "--threads",
        "2",
        "-c",
        "EXPLAIN SELECT year, month, day, count(DISTINCT sale_id) FROM bronze.sales GROUP BY year, month, day",
    ]);
    assert!(
        plan.contains("ordering_mode=PartiallySorted([0, 1, 2])"),
        "{plan}"
    );
}
