//! `strata verify`: the lake is compared with its source, bronze with
//! every source row and silver (with its quarantine) with bronze's distinct
//! rows;
//! what differs is named down to the rows, recorded in `meta.verify` and
//! `meta.verify_rows`, and makes the command exit 1.

use datafusion::arrow::array::{Array, AsArray, Decimal128Array, RecordBatch};
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;

use crate::common::{Project, pg, query};

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `(lake_tables, sale_id, only_in, copies)` of the newest verification.
async fn differences(project: &Project) -> Vec<(String, i64, String, u64)> {
    let engine = project.engine().await;
    let batches = query(
        &engine,
        "SELECT lake_tables, CAST(sale_id AS BIGINT), only_in, copies FROM meta.verify_rows \
         WHERE verify_id = (SELECT max(verify_id) FROM meta.verify) \
         ORDER BY lake_tables, 2, only_in",
    )
    .await;
    let mut out = vec![];
    for b in &batches {
        let text = |i: usize| {
            datafusion::arrow::compute::cast(
                b.column(i),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .unwrap()
        };
        let (tables, ids, sides, copies) = (text(0), text(1), text(2), text(3));
        for r in 0..b.num_rows() {
            out.push((
                tables.as_string::<i32>().value(r).to_string(),
                ids.as_string::<i32>().value(r).parse().unwrap(),
                sides.as_string::<i32>().value(r).to_string(),
                copies.as_string::<i32>().value(r).parse().unwrap(),
            ));
        }
    }
    out
}

/// Adds a cent to the `total_value` of the one row of a bronze file, as a
/// bit flip or a careless hand would, and makes the manifest agree on the
/// file's size (so only the content differs). Returns the row's sale id.
fn tamper_one_bronze_row(project: &Project) -> i64 {
    let (_, manifest) = project
        .current_manifests()
        .into_iter()
        .find(|(t, _)| t == "bronze/sales")
        .expect("bronze.sales");
    let file = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rows"] == 1 && !f["key"].as_str().unwrap().contains("__HIVE"))
        .expect("a day with one sale");
    let key = file["key"].as_str().unwrap().to_string();
    let path = project.lake().join("bronze/sales").join(&key);

    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let batch = &batches[0];
    let sale_id = batch
        .column_by_name("sale_id")
        .unwrap()
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    let i = batch.schema().index_of("total_value").unwrap();
    let total = batch.column(i).as_primitive::<Decimal128Type>();
    let tampered =
        Decimal128Array::from(vec![total.value(0) + 1]).with_data_type(total.data_type().clone());
    let mut columns = batch.columns().to_vec();
    columns[i] = Arc::new(tampered);
    let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let size = std::fs::metadata(&path).unwrap().len();
    let logs = project.lake().join("bronze/sales/_strata_log");
    let mut entries: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let last = entries.last().unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(last).unwrap()).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["key"] == key.as_str() {
            f["bytes"] = size.into();
        }
    }
    std::fs::write(last, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    sale_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_lake_equals_its_csv_source_and_a_tampered_row_is_named() {
    let project = Project::new();
    project.strata_ok(&["run", "--no-report"]);
    let out = project.strata_ok(&["verify"]);
    assert!(
        out.contains("bronze.sales against the source: equal (513 rows, 412 days)"),
        "{out}"
    );
    assert!(
        out.contains(
            "silver.sales + silver.sales_quarantine against bronze.sales's distinct rows: \
             equal (500 rows, 412 days)"
        ),
        "{out}"
    );
    assert!(out.contains("The lake equals its source."), "{out}");

    let sale = tamper_one_bronze_row(&project);
    let run = project.strata(&["verify"]);
    let out = output(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "bronze.sales against the source: DIFFERENT: source 513 rows, lake 513 rows; \
             1 of 412 days differ"
        ),
        "{out}"
    );
    // The same row, twice in each comparison: bronze holds the tampered
    // row where the source has the true one, and silver, built before the
    // tampering, still holds the true one where bronze does not.
    assert_eq!(
        out.matches(&format!(" sale {sale}: only in the ")).count(),
        4,
        "{out}"
    );
    let row = |table: &str, side: &str| (table.to_string(), sale, side.to_string(), 1);
    let silver = "silver.sales + silver.sales_quarantine";
    assert_eq!(
        differences(&project).await,
        vec![
            row("bronze.sales", "lake"),
            row("bronze.sales", "source"),
            row(silver, "bronze"),
            row(silver, "silver"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_at_a_postgres_source_are_named_down_to_the_rows() {
    let url = pg::fresh_database("verify_db").await;
    let project = Project::new();
    pg::seed(&project, &url, 2_000, 7);
    project.write("strata.toml", &format!("source = \"{url}\"\n"));
    project.strata_ok(&["run", "--no-report"]);
    let out = project.strata_ok(&["verify"]);
    assert!(out.contains("The lake equals its source."), "{out}");

    // Four sales that appear once each, one of them in a region spelled
    // with lower-case letters.
    let client = pg::client("verify_db").await;
    let once = "SELECT sale_id FROM sales GROUP BY sale_id HAVING count(*) = 1";
    let ids: Vec<i64> = client
        .query(&format!("{once} ORDER BY sale_id LIMIT 3"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let (renamed, deleted, doubled) = (ids[0], ids[1], ids[2]);
    let recased: i64 = client
        .query_one(
            &format!(
                "SELECT min(sale_id) FROM sales WHERE sale_id IN ({once}) \
                 AND sale_id > {doubled} AND region <> upper(region)"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&format!(
            "UPDATE sales SET customer_name = customer_name || ' (renamed)' WHERE sale_id = {renamed};
             DELETE FROM sales WHERE sale_id = {deleted};
             INSERT INTO sales SELECT * FROM sales WHERE sale_id = {doubled};
             UPDATE sales SET region = upper(region) WHERE sale_id = {recased};"
        ))
        .await
        .unwrap();

    let run = project.strata(&["verify"]);
    let out = output(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    let row = |table: &str, id: i64, side: &str| (table.to_string(), id, side.to_string(), 1);
    let expected = vec![
        row("bronze.sales", renamed, "lake"),
        row("bronze.sales", renamed, "source"),
        row("bronze.sales", deleted, "lake"),
        row("bronze.sales", doubled, "source"),
        row("bronze.sales", recased, "lake"),
        row("bronze.sales", recased, "source"),
        // Silver still equals the lake's bronze: the difference is bronze's.
    ];
    assert!(
        out.contains(
            "silver.sales + silver.sales_quarantine against bronze.sales's distinct rows: equal"
        ),
        "{out}"
    );
    assert_eq!(differences(&project).await, expected, "{out}");
}
