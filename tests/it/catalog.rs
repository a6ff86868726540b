//! The catalog DDL describes the lake's files exactly: the Athena DDL of the
//! fixture lake is a snapshot, and the DataFusion dialect, executed in a
//! fresh DataFusion session against the same files, reads the same data as
//! Strata's own tables.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

use crate::common::Project;

#[test]
fn athena_ddl_of_the_gold_tables_matches_the_snapshot() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let ddl = p.strata_ok(&[
        "catalog",
        "ddl",
        "--dialect",
        "athena",
        "--location",
        "s3://acme-lake/strata",
        "--select",
        "gold",
    ]);
    // tests/it/snapshots/; after a change on purpose, `cargo insta review`
    // (or INSTA_UPDATE=always) takes the new text.
    insta::assert_snapshot!("athena_gold", ddl);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_datafusion_dialect_reads_the_same_rows_as_strata() {
    let p = Project::new();
    p.strata_ok(&["run", "--no-report", "--no-tests"]);
    let ddl = p.strata_ok(&["catalog", "ddl", "--dialect", "datafusion"]);
    assert!(ddl.contains("PARTITIONED BY (year, month, day)"), "{ddl}");

    let fresh = SessionContext::new();
    for statement in ddl.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        fresh
            .sql(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
            .collect()
            .await
            .unwrap();
    }
    let engine = p.engine().await;
    let tables: Vec<String> = engine
        .tables()
        .into_iter()
        // Bronze's partitions are text in this dialect (its NULL folder), so
        // its partition columns differ in type from Strata's by design.
        .filter(|(s, _)| ["raw", "silver", "gold"].contains(&s.as_str()))
        .flat_map(|(s, ts)| ts.into_iter().map(move |t| format!("{s}.{t}")))
        .collect();
    assert!(tables.len() >= 9, "{tables:?}");
    for table in tables {
        // Every column's count of values and distinct values, and the sum of
        // the numeric ones: equal only if both read the same rows and types.
        let schema = engine
            .ctx()
            .table(table.as_str())
            .await
            .unwrap()
            .schema()
            .clone();
        let mut measures = vec!["count(*) AS n".to_string()];
        let csv = engine.manifest(&table).unwrap().format == strata::lake::manifest::Format::Csv;
        for f in schema.fields() {
            // DataFusion's CSV reader takes `""` (an empty string in
            // PostgreSQL's CSV) for NULL; text columns of CSV tables differ
            // by reader, not by DDL.
            if csv && f.data_type() == &datafusion::arrow::datatypes::DataType::Utf8 {
                continue;
            }
            let c = format!("\"{}\"", f.name());
            measures.push(format!("count({c})"));
            measures.push(format!("count(DISTINCT {c})"));
            if f.data_type().is_numeric() {
                measures.push(format!("sum({c})"));
            }
        }
        let sql = format!("SELECT {} FROM {table}", measures.join(", "));
        let ours = pretty_format_batches(&crate::common::query(&engine, &sql).await)
            .unwrap()
            .to_string();
        let theirs = pretty_format_batches(
            &fresh
                .sql(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{table}: {e}")),
        )
        .unwrap()
        .to_string();
        assert_eq!(ours, theirs, "{table}");
    }
}
