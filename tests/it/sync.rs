//! `strata sync`: after any sequence of inserts, updates and deletes at a
//! PostgreSQL source, a synced lake equals, table by table, a lake built
//! from scratch over the same source state; a sync killed with SIGKILL and
//! run again gives the same lake; and what cannot be followed stops the
//! sync with a message naming the fix.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{Project, pg};

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A seeded source whose deletes and updates carry the old row.
async fn source(database: &str, sales: u64) -> String {
    let url = pg::fresh_database(database).await;
    pg::seed(&Project::without_models(), &url, sales, 11);
    pg::client(database)
        .await
        .batch_execute("ALTER TABLE sales REPLICA IDENTITY FULL")
        .await
        .unwrap();
    url
}

fn project_on(url: &str) -> Project {
    let p = Project::new();
    p.write("strata.toml", &format!("source = \"{url}\"\n"));
    p
}

/// One random transaction of the kinds the legacy system and its users
/// make, as SQL. For a lake that follows by cursor, every write moves
/// `updated_at` (as the contract says the legacy system does), and there
/// are no deletes, which a cursor cannot see.
fn random_transaction(rng: &mut StdRng, cursor: bool) -> String {
    let mut sql = vec!["BEGIN".to_string()];
    // Rows are picked by position in a fixed order, so a seed replays.
    let pick = |rng: &mut StdRng| {
        format!(
            "(SELECT sale_id FROM sales ORDER BY sale_id, ctid OFFSET {} LIMIT 1)",
            rng.random_range(0..150)
        )
    };
    let touch = if cursor {
        ", updated_at = localtimestamp"
    } else {
        ""
    };
    let stamp = if cursor {
        "localtimestamp"
    } else {
        "updated_at + interval '1 day'"
    };
    for _ in 0..rng.random_range(1..=4) {
        let kind = match rng.random_range(0..8) {
            1 | 7 if cursor => 0,
            k => k,
        };
        sql.push(match kind {
            // A sale moved to another day.
            0 => format!(
                "UPDATE sales SET sale_date = to_char(DATE '2022-01-01' + {}, 'DD/MM/YYYY'){touch} WHERE sale_id = {}",
                rng.random_range(0..400),
                pick(rng)
            ),
            // Every sale of a day deleted.
            1 => format!(
                "DELETE FROM sales WHERE sale_date IN (SELECT sale_date FROM sales WHERE sale_id = {})",
                pick(rng)
            ),
            // A good date made bad.
            2 => format!(
                "UPDATE sales SET sale_date = '{}'{touch} WHERE sale_id = {}",
                ["31/02/2023", "N/A", "", "00/00/0000"][rng.random_range(0..4)],
                pick(rng)
            ),
            // A bad one fixed.
            3 => format!(
                "UPDATE sales SET sale_date = '2023-03-01'{touch} WHERE sale_id = (SELECT min(sale_id) FROM sales \
                  WHERE sale_date IN ('', 'N/A', '00/00/0000', '31/02/2023'))"
            ),
            // An exact duplicate (by cursor, the original is touched too,
            // so that the two stay equal).
            4 => {
                let id = pick(rng);
                let mut s = format!("INSERT INTO sales SELECT * FROM sales WHERE sale_id = {id} LIMIT 1");
                if cursor {
                    s.push_str(&format!(
                        ";\nUPDATE sales SET updated_at = localtimestamp WHERE sale_id = \
                         (SELECT max(sale_id) FROM sales WHERE sale_id = {id})"
                    ));
                }
                s
            }
            // A customer renamed, on every sale of theirs.
            5 => format!(
                "UPDATE sales SET customer_name = customer_name || ' Jr'{touch} WHERE customer_id = \
                 (SELECT customer_id FROM sales WHERE sale_id = {} LIMIT 1)",
                pick(rng)
            ),
            // A new sale.
            6 => format!(
                "INSERT INTO sales SELECT (SELECT max(sale_id) + 1 FROM sales), sale_date, customer_id, \
                 customer_name, product_id, product_name, category, seller_id, seller_name, region, \
                 quantity, unit_price, total_value, {stamp} \
                 FROM sales WHERE sale_id = {} LIMIT 1",
                pick(rng)
            ),
            // One copy of a sale deleted (of a duplicate, the other stays).
            _ => format!(
                "DELETE FROM sales WHERE ctid = (SELECT ctid FROM sales WHERE sale_id = {} LIMIT 1)",
                pick(rng)
            ),
        });
    }
    sql.push("COMMIT".into());
    sql.join(";\n")
}

/// The tables a sync keeps, as a full build would write them.
async fn contents(project: &Project) -> Vec<(String, Vec<String>, String)> {
    project
        .table_contents()
        .await
        .into_iter()
        // raw is the first extract, and the change log only the synced
        // lake has.
        .filter(|(t, _, _)| t != "raw/sales" && t != "bronze/sales_changes")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_changes_leave_the_lake_equal_to_a_full_rebuild() {
    let url = source("sync_property", 300).await;
    let synced = project_on(&url);
    synced.write(
        "strata.toml",
        &format!(
            "source = \"{url}\"\n\n[[alert]]\nname = \"slot kept\"\n\
             when = \"slot_lag_bytes >= 0\"\non_alert = \"cat > slot_alert.json\"\n"
        ),
    );
    let out = synced.strata_ok(&["sync"]);
    assert!(out.contains("Created replication slot"), "{out}");

    let seed: u64 = std::env::var("STRATA_SYNC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261206);
    let mut rng = StdRng::seed_from_u64(seed);
    let client = pg::client("sync_property").await;
    let batches = 6;
    let mut split = false;
    for batch in 0..batches {
        for _ in 0..rng.random_range(1..=3) {
            let tx = random_transaction(&mut rng, false);
            client
                .batch_execute(&tx)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}, batch {batch}: {e}\n{tx}"));
        }
        // Every other sync takes its backlog a few rows at a time: each
        // part landed and confirmed before the next is read.
        let out = if batch % 2 == 1 {
            synced.strata_ok(&["sync", "--batch-rows", "3"])
        } else {
            synced.strata_ok(&["sync"])
        };
        assert!(
            out.contains("Applied") || out.contains("Up to date"),
            "seed {seed}, batch {batch}: {out}"
        );
        split |= out.contains(" batches.");

        let rebuilt = project_on(&url);
        rebuilt.strata_ok(&["run", "--no-report", "--no-tests"]);
        assert_eq!(
            contents(&synced).await,
            contents(&rebuilt).await,
            "seed {seed}, batch {batch}: the synced lake differs from a full rebuild\n{out}"
        );
        let verified = synced.strata(&["verify"]);
        assert!(
            verified.status.success(),
            "seed {seed}, batch {batch}: {}",
            output(&verified)
        );
    }
    assert!(split, "no sync applied its backlog in several batches");
    // How far the slot is behind, once the lake follows it: in the metrics,
    // where an alert rule can test it, and in the status.
    let prom = std::fs::read_to_string(synced.lake().join("_strata/metrics.prom")).unwrap();
    for gauge in [
        "strata_sync_slot_lag_bytes{slot=",
        "strata_sync_lag_seconds{slot=",
        "strata_sync_slot_exists{slot=",
    ] {
        assert!(prom.contains(gauge), "{gauge} missing from\n{prom}");
    }
    let alert: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(synced.path().join("slot_alert.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(alert["condition"], "slot_lag_bytes >= 0");
    let status = synced.strata_ok(&["status"]);
    assert!(status.contains("Sync: slot"), "{status}");
    // Each batch reached a few days: the incremental models replaced those
    // days and kept every other file of the versions before.
    let manifests = synced.current_manifests();
    for table in ["silver/sales", "gold/daily_sales", "gold/fact_sales"] {
        let (_, m) = manifests.iter().find(|(t, _)| t == table).unwrap();
        let carried = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.get("run_id").is_some())
            .count();
        assert!(
            carried > 0,
            "{table} was rebuilt whole by the last sync, not updated in place"
        );
    }
    // A model whose SQL changed is rebuilt whole: the days it kept were
    // made by the old SQL.
    let silver_sql = synced.path().join("queries/silver/sales.sql");
    let edited = format!(
        "-- Edited: each day is rebuilt.\n{}",
        std::fs::read_to_string(&silver_sql).unwrap()
    );
    synced.write("queries/silver/sales.sql", &edited);
    client
        .batch_execute(&random_transaction(&mut rng, false))
        .await
        .unwrap();
    synced.strata_ok(&["sync"]);
    let silver = synced
        .current_manifests()
        .into_iter()
        .find(|(t, _)| t == "silver/sales")
        .unwrap()
        .1;
    assert!(
        silver["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("run_id").is_none()),
        "silver.sales's SQL changed, yet a sync kept files the old SQL wrote"
    );
    let rebuilt = project_on(&url);
    rebuilt.strata_ok(&["run", "--no-report", "--no-tests"]);
    assert_eq!(contents(&synced).await, contents(&rebuilt).await);
    // The change log holds every change, each with its commit's position.
    let engine = synced.engine().await;
    let ops = crate::common::scalar(
        &engine,
        "SELECT count(DISTINCT _op) FROM bronze.sales_changes WHERE _lsn > 0",
    )
    .await;
    assert_eq!(ops, "3", "inserts, updates and deletes were all captured");
    synced.strata_ok(&["sync", "--drop-slot"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_at_any_point_resumes_to_the_same_lake() {
    let url = source("sync_kill", 300).await;
    let synced = project_on(&url);
    synced.strata_ok(&["sync"]);
    let client = pg::client("sync_kill").await;
    let mut rng = StdRng::seed_from_u64(7);
    // Kills spread over a sync's length (a debug build's sync of this size
    // takes a few seconds): while it reads the slot, writes bronze, rebuilds.
    for delay_ms in [150u64, 400, 700, 1000, 1400, 1900, 2600] {
        for _ in 0..2 {
            client
                .batch_execute(&random_transaction(&mut rng, false))
                .await
                .unwrap();
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["sync", "-q"])
            .current_dir(synced.path())
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SIGKILL: no cleanup of any kind runs.
        let _ = child.kill();
        let _ = child.wait();
        synced.strata_ok(&["sync"]);

        let rebuilt = project_on(&url);
        rebuilt.strata_ok(&["run", "--no-report", "--no-tests"]);
        assert_eq!(
            contents(&synced).await,
            contents(&rebuilt).await,
            "killed after {delay_ms} ms"
        );
    }
    // The kills did land inside syncs: their runs are recorded as
    // interrupted (a batch's commit, or the rebuild after it).
    let engine = synced.engine().await;
    let interrupted: u64 = crate::common::scalar(
        &engine,
        "SELECT count(*) FROM meta.runs WHERE status = 'interrupted'",
    )
    .await
    .parse()
    .unwrap();
    assert!(
        interrupted >= 2,
        "only {interrupted} kills landed inside a run"
    );
    synced.strata_ok(&["sync", "--drop-slot"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_sync_cannot_follow_stops_it_with_the_fix() {
    let url = pg::fresh_database("sync_refusals").await;
    let project = project_on(&url);
    pg::seed(&project, &url, 50, 3);

    // Without the old row, deletes could not be applied.
    let out = project.strata(&["sync"]);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(
        output(&out).contains("ALTER TABLE public.sales REPLICA IDENTITY FULL"),
        "{}",
        output(&out)
    );

    let client = pg::client("sync_refusals").await;
    client
        .batch_execute("ALTER TABLE sales REPLICA IDENTITY FULL")
        .await
        .unwrap();
    project.strata_ok(&["sync"]);

    // A column added at the source stops the sync, naming it; nothing of
    // the batch is applied, and the lake still equals its source's rows.
    client
        .batch_execute(
            "ALTER TABLE sales ADD COLUMN discount NUMERIC(12,2);
             UPDATE sales SET discount = 1 WHERE sale_id = (SELECT min(sale_id) FROM sales)",
        )
        .await
        .unwrap();
    let before = project.current_manifests();
    let out = project.strata(&["sync"]);
    assert_ne!(out.status.code(), Some(0), "{}", output(&out));
    assert!(
        output(&out).contains("public.sales: column discount was added at the source"),
        "{}",
        output(&out)
    );
    assert_eq!(project.current_manifests(), before, "nothing was applied");

    // A lake rebuilt by `strata run` no longer matches the slot's position.
    client
        .batch_execute("ALTER TABLE sales DROP COLUMN discount")
        .await
        .unwrap();
    project.strata_ok(&["sync", "--drop-slot"]);
    project.strata_ok(&["sync"]);
    project.strata_ok(&["run", "--no-report"]);
    let out = project.strata(&["sync"]);
    assert!(
        output(&out).contains("outside `strata sync`")
            && output(&out).contains("strata sync --drop-slot"),
        "{}",
        output(&out)
    );
    project.strata_ok(&["sync", "--drop-slot"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_applies_changes_as_they_commit_and_stops_on_ctrl_c() {
    let url = source("sync_follow", 100).await;
    let project = project_on(&url);
    project.strata_ok(&["sync"]);
    let follower = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["sync", "--follow", "--interval", "0.2", "-q"])
        .current_dir(project.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = pg::client("sync_follow").await;
    client
        .batch_execute(
            "INSERT INTO sales SELECT 999999, '24/12/2024', customer_id, customer_name, product_id,
                    product_name, category, seller_id, seller_name, region, quantity, unit_price,
                    total_value, updated_at
             FROM sales LIMIT 1",
        )
        .await
        .unwrap();
    // Gold shows the sale once a batch has been applied and rebuilt.
    let started = std::time::Instant::now();
    let seen = loop {
        let engine = project.engine().await;
        let n = crate::common::scalar(
            &engine,
            "SELECT count(*) FROM gold.fact_sales WHERE sale_id = 999999",
        )
        .await;
        if n == "1" {
            break true;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Ctrl-C: the follower stops between batches, successfully.
    let pid = follower.id() as i32;
    // SAFETY: a plain signal to a child this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = follower.wait_with_output().unwrap();
    assert!(seen, "gold never showed the new sale");
    assert!(out.status.success(), "{}", output(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Applied 1 transactions (1 inserts"),
        "{}",
        output(&out)
    );
    project.strata_ok(&["sync", "--drop-slot"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_follows_inserts_and_updates_and_verify_names_the_deletes_it_cannot_see() {
    let url = source("sync_cursor", 300).await;
    let synced = project_on(&url);
    // The cursor must be a timestamp the source has.
    for (column, says) in [
        ("nope", "public.sales has no column nope"),
        ("sale_date", "public.sales.sale_date is a character varying"),
    ] {
        let out = synced.strata(&["sync", "--cursor", column]);
        assert_eq!(out.status.code(), Some(2), "{}", output(&out));
        assert!(output(&out).contains(says), "{}", output(&out));
    }
    let out = synced.strata_ok(&["sync", "--cursor", "updated_at"]);
    assert!(
        out.contains("Following the source by cursor updated_at"),
        "{out}"
    );

    let client = pg::client("sync_cursor").await;
    let mut rng = StdRng::seed_from_u64(20261207);
    let equal_to_a_rebuild = async |what: &str| {
        let rebuilt = project_on(&url);
        rebuilt.strata_ok(&["run", "--no-report", "--no-tests"]);
        assert_eq!(
            contents(&synced).await,
            contents(&rebuilt).await,
            "{what}: the lake synced by cursor differs from a full rebuild"
        );
    };
    for batch in 0..4 {
        for _ in 0..rng.random_range(1..=3) {
            let tx = random_transaction(&mut rng, true);
            client
                .batch_execute(&tx)
                .await
                .unwrap_or_else(|e| panic!("batch {batch}: {e}\n{tx}"));
        }
        // Later syncs remember the cursor.
        let out = synced.strata_ok(&["sync"]);
        assert!(out.contains("changed keys"), "batch {batch}: {out}");
        equal_to_a_rebuild(&format!("batch {batch}")).await;
    }

    // A transaction that stamps its rows before a sync reads and commits
    // after it: its older stamps are inside the lookback window, and the
    // next sync still finds them.
    let late = pg::client("sync_cursor").await;
    late.batch_execute(
        "BEGIN;
         UPDATE sales SET customer_name = 'Late Writer', updated_at = localtimestamp
         WHERE customer_id = (SELECT customer_id FROM sales ORDER BY sale_id LIMIT 1)",
    )
    .await
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    // A new sale, later stamped: the watermark passes the late one's.
    client
        .batch_execute(
            "INSERT INTO sales SELECT (SELECT max(sale_id) + 1 FROM sales), sale_date, customer_id,
                    customer_name, product_id, product_name, category, seller_id, seller_name,
                    region, quantity, unit_price, total_value, localtimestamp
             FROM sales WHERE sale_id = (SELECT max(sale_id) FROM sales) LIMIT 1",
        )
        .await
        .unwrap();
    synced.strata_ok(&["sync"]);
    late.batch_execute("COMMIT").await.unwrap();
    synced.strata_ok(&["sync"]);
    equal_to_a_rebuild("a late commit").await;
    let engine = synced.engine().await;
    assert_eq!(
        crate::common::scalar(
            &engine,
            "SELECT count(*) FROM gold.dim_customer WHERE customer_name = 'Late Writer'"
        )
        .await,
        "1"
    );

    // A delete leaves nothing for a cursor to find: the lake keeps the
    // sale, and verify names it.
    client
        .batch_execute("DELETE FROM sales WHERE sale_id = (SELECT max(sale_id) FROM sales)")
        .await
        .unwrap();
    synced.strata_ok(&["sync"]);
    let verified = synced.strata(&["verify"]);
    assert_eq!(verified.status.code(), Some(1), "{}", output(&verified));
    assert!(
        output(&verified).contains("only in the lake"),
        "{}",
        output(&verified)
    );
    let status = synced.strata_ok(&["status"]);
    assert!(status.contains("Sync: cursor on updated_at"), "{status}");

    // One way of following at a time.
    let out = synced.strata(&["sync", "--cursor", "updated_at", "--key", "customer_id"]);
    assert_eq!(out.status.code(), Some(2), "{}", output(&out));
    assert!(output(&out).contains("follows its source by cursor updated_at (key sale_id)"));
    let out = synced.strata_ok(&["sync", "--drop-slot"]);
    assert!(out.contains("Forgot the cursor on updated_at"), "{out}");
}
