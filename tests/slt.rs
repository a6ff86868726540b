//! SQL behaviour as sqllogictest files (`tests/slt/*.slt`), run against the
//! fixture lake through the same statement path as `strata sql`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use strata::config::{Config, Environment, Overrides};
use strata::engine::Engine;
use strata::lake::Lake;

struct Strata {
    engine: Engine,
}

#[async_trait]
impl AsyncDB for Strata {
    type Error = strata::error::Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let batches = strata::cli::repl::execute(&self.engine, sql).await?;
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
    let lake = Arc::new(Lake::open(&config.lake)?);
    Ok(Strata {
        engine: Engine::open(&config, lake).await?,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files() {
    let project = common::Project::new();
    project.strata_ok(&["run", "--no-report", "--no-tests"]);
    let dir = common::repo().join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = vec![];
    for file in &files {
        let path = project.path().to_path_buf();
        let mut runner = sqllogictest::Runner::new(move || open(path.clone()));
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
