//! SQL behaviour as sqllogictest files (`tests/slt/*.slt`), each its own
//! test case against its own fixture lake, through the same statement path
//! as `strata sql`.

use std::path::PathBuf;

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use strata::app::Workspace;
use strata::config::{Config, Environment, Overrides};

struct Strata {
    ws: Workspace,
}

#[async_trait]
impl AsyncDB for Strata {
    type Error = strata::error::Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let batches = strata::app::statement::execute(&self.ws, sql).await?;
        let Some(first) = batches.first() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        if first.num_columns() == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = vec![DefaultColumnType::Any; first.num_columns()];
        let mut rows = vec![];
        for b in &batches {
            for row in strata::cli::print::rows_of(b, "NULL")? {
                rows.push(
                    row.into_iter()
                        .map(|v| {
                            if v.is_empty() {
                                "(empty)".to_string()
                            } else {
                                v
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}
}

async fn open(project: PathBuf) -> Result<Strata, strata::error::Error> {
    let config = Config::load(
        &Overrides {
            project: Some(project),
            ..Default::default()
        },
        &Environment::default(),
    )?;
    Ok(Strata {
        ws: Workspace::open(config).await?,
    })
}

/// Runs `tests/slt/<name>.slt` against a freshly built fixture lake.
async fn slt(name: &str) {
    let file = crate::common::repo().join(format!("tests/slt/{name}.slt"));
    let project = crate::common::Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let path = project.path().to_path_buf();
    let mut runner = sqllogictest::Runner::new(move || open(path.clone()));
    if let Err(e) = runner.run_file_async(&file).await {
        panic!("{}:\n{e}", file.display());
    }
}

/// One test case per file, so a failure names its file.
macro_rules! slt_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                slt(stringify!($name)).await;
            }
        )*

        /// A new `.slt` file needs its line above, or it would never run.
        #[test]
        fn every_slt_file_has_a_test_case() {
            let cases = [$(stringify!($name)),*];
            let dir = crate::common::repo().join("tests/slt");
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "slt"))
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let mut named: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
            named.sort();
            assert_eq!(files, named, "tests/slt/*.slt and the cases in tests/it/slt.rs");
        }
    };
}

slt_files!(
    athena_statements,
    legacy_dates,
    partitioned_tables,
    trino_datetime,
    trino_functions,
);
