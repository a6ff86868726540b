//! The prompt, driven in a real pseudo-terminal as a person would use it.

use std::process::Command;
use std::time::Duration;

use crate::common::Project;

#[test]
fn the_prompt_edits_recovers_cancels_completes_and_remembers() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("sql")
        .current_dir(project.path())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env_remove("STRATA_LAKE")
        .env_remove("DATABASE_URL");
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    p.exp_string("strata> ").unwrap();

    // A statement over two lines runs when the `;` arrives.
    p.send_line("SELECT year(sale_date) AS y,").unwrap();
    p.send_line("  count(*) AS facts FROM gold.fact_sales GROUP BY 1 ORDER BY 1;")
        .unwrap();
    // (rexpect reads bytes as Latin-1: only ASCII is matched, \D+ spans the box lines.)
    p.exp_regex(r"2021\D+122").unwrap();
    p.exp_regex(r"2024\D+106").unwrap();

    // A syntax error is one line, and the prompt goes on.
    p.send_line("SELEC oops;").unwrap();
    p.exp_string("error:").unwrap();
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_regex(r"answer\D+42\D").unwrap();

    // Columns of a table, partition keys marked.
    p.send_line("\\d gold.daily_sales").unwrap();
    p.exp_regex(r"year[^A-Za-z0-9]+integer[^A-Za-z0-9]+YES[^A-Za-z0-9]+partition key")
        .unwrap();

    // Tab completes a column name from the catalog.
    p.send("SELECT max(unit_pr").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send_line(") AS top FROM gold.fact_sales;").unwrap();
    p.exp_regex(r"top\D+\d+\.\d\d").unwrap();

    // Ctrl-C cancels a long query and keeps the session.
    p.send_line(
        "SELECT sum(a.quantity * b.quantity + c.quantity - d.quantity) \
         FROM gold.fact_sales a, gold.fact_sales b, gold.fact_sales c, gold.fact_sales d;",
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();
    p.send_line("SELECT 'still here' AS status;").unwrap();
    p.exp_string("still here").unwrap();

    // Ctrl-D at the prompt leaves, and the history is kept.
    p.exp_string("strata> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(home.path().join(".strata_history")).unwrap();
    assert!(history.contains("SELECT 40 + 2 AS answer;"), "{history}");
}
