//! A CSV table in PostgreSQL's dialect, streamed from an object store.
//!
//! The scan is a plan node of Strata's own rather than DataFusion's CSV
//! reader, which cannot tell an empty string (`""`) from NULL (nothing), as
//! PostgreSQL's CSV does. A file that has a URL can be read by a cluster's
//! executors too: the cluster codec ships the node as that URL.

use std::fmt;
use std::io::BufReader;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::error::Error;
use crate::pgcsv::BatchReader;

/// One CSV file: where it is and how errors should name it.
#[derive(Debug, Clone)]
pub struct CsvFile {
    /// The store holding it.
    pub store: Arc<dyn ObjectStore>,
    /// Its key in the store.
    pub path: Path,
    /// The name shown to users in errors (a file path or lake key).
    pub display: String,
    /// Its URL (`file:///…`, `s3://bucket/…`), by which another process
    /// finds it in its own object stores; `None` keeps the file to this
    /// process.
    pub url: Option<String>,
}

/// A table over CSV files (one partition per file, in order) with a fixed
/// schema.
#[derive(Debug)]
pub struct CsvTable {
    schema: SchemaRef,
    files: Vec<CsvFile>,
}

impl CsvTable {
    /// The table over `files`, read as `schema`.
    pub fn new(schema: SchemaRef, files: Vec<CsvFile>) -> Self {
        CsvTable { schema, files }
    }

    /// Its files.
    pub fn files(&self) -> &[CsvFile] {
        &self.files
    }
}

#[async_trait]
impl TableProvider for CsvTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(CsvScanExec::try_new(
            self.schema.clone(),
            self.files.clone(),
            projection.cloned(),
        )?))
    }
}

/// Reads each file on its own partition, keeping the projected columns.
pub struct CsvScanExec {
    /// The files' full schema (every column is parsed).
    schema: SchemaRef,
    files: Vec<CsvFile>,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for CsvScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CsvScanExec({} files)", self.files.len())
    }
}

impl CsvScanExec {
    /// The scan of `files` as `schema`, keeping the `projection` columns.
    pub fn try_new(
        schema: SchemaRef,
        files: Vec<CsvFile>,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let projected = match &projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema.clone(),
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(projected),
            Partitioning::UnknownPartitioning(files.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(CsvScanExec {
            schema,
            files,
            projection,
            properties,
        })
    }

    /// The full schema of the files.
    pub fn file_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The files, one per partition.
    pub fn files(&self) -> &[CsvFile] {
        &self.files
    }

    /// The columns kept, by index into the file schema.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }
}

impl DisplayAs for CsvScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self.files.iter().map(|f| f.display.as_str()).collect();
        write!(f, "CsvScan: files=[{}]", names.join(", "))?;
        if let Some(p) = &self.projection {
            write!(f, ", projection={p:?}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CsvScanExec {
    fn name(&self) -> &'static str {
        "CsvScan"
    }

    leaf_plan!();

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let output = self.properties.equivalence_properties().schema().clone();
        let mut builder = RecordBatchReceiverStreamBuilder::new(output, 4);
        let Some(file) = self.files.get(partition).cloned() else {
            // A table without files: one empty partition.
            return Ok(builder.build());
        };
        let tx = builder.tx();
        let schema = self.schema.clone();
        let projection = self.projection.clone();
        let handle = tokio::runtime::Handle::current();
        // Parsing is CPU work on a blocking thread, so it overlaps with the
        // operators consuming its batches.
        builder.spawn_blocking(move || {
            let external = |e: Error| DataFusionError::External(Box::new(e));
            let got = handle
                .block_on(file.store.get(&file.path))
                .map_err(|e| external(Error::from(e)))?;
            let input: Box<dyn std::io::BufRead> = match got.payload {
                GetResultPayload::File(f, _) => Box::new(BufReader::with_capacity(1 << 20, f)),
                GetResultPayload::Stream(s) => Box::new(BufReader::with_capacity(
                    1 << 20,
                    SyncIoBridge::new_with_handle(
                        StreamReader::new(futures::TryStreamExt::map_err(s, std::io::Error::other)),
                        handle.clone(),
                    ),
                )),
            };
            let mut reader = BatchReader::new(input, schema, &file.display).map_err(external)?;
            while let Some(batch) = reader.next_batch().map_err(external)? {
                let batch = match &projection {
                    Some(p) => batch.project(p)?,
                    None => batch,
                };
                if tx.blocking_send(Ok(batch)).is_err() {
                    break; // the consumer went away (LIMIT, cancellation)
                }
            }
            Ok(())
        });
        Ok(builder.build())
    }
}
