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
use datafusion::arrow::array::RecordBatch;
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
use crate::pgcsv::{BatchReader, Chunker};

/// Bytes of a CSV file parsed as one piece on one core.
const CHUNK_BYTES: usize = 4 << 20;

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
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let output = self.properties.equivalence_properties().schema().clone();
        let mut builder = RecordBatchReceiverStreamBuilder::new(output, 4);
        let Some(file) = self.files.get(partition).cloned() else {
            // A table without files: one empty partition.
            return Ok(builder.build());
        };
        // The cores left to each file when all are read at once.
        let parsers = (context.session_config().target_partitions() / self.files.len()).max(1);
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
            let input: Box<dyn std::io::BufRead + Send> = match got.payload {
                GetResultPayload::File(f, _) => Box::new(BufReader::with_capacity(1 << 20, f)),
                GetResultPayload::Stream(s) => Box::new(BufReader::with_capacity(
                    1 << 20,
                    SyncIoBridge::new_with_handle(
                        StreamReader::new(futures::TryStreamExt::map_err(s, std::io::Error::other)),
                        handle.clone(),
                    ),
                )),
            };
            let project = |batch: RecordBatch| match &projection {
                Some(p) => batch.project(p),
                None => Ok(batch),
            };
            let mut reader =
                BatchReader::new(input, schema.clone(), &file.display).map_err(external)?;
            if parsers == 1 {
                while let Some(batch) = reader.next_batch().map_err(external)? {
                    if tx.blocking_send(Ok(project(batch)?)).is_err() {
                        break; // the consumer went away (LIMIT, cancellation)
                    }
                }
                return Ok(());
            }
            // This thread cuts the file into chunks of whole records; each
            // is parsed on a core of its own, and their batches are sent on
            // in the file's order, with at most `parsers` chunks in flight.
            let (rest, line) = reader.into_rest();
            let mut chunks = Chunker::new(rest, line, CHUNK_BYTES);
            let mut parsing = std::collections::VecDeque::new();
            let mut exhausted = false;
            loop {
                while !exhausted && parsing.len() < parsers {
                    let Some(chunk) = chunks
                        .next_chunk()
                        .map_err(|e| external(Error::io(file.display.clone(), e)))?
                    else {
                        exhausted = true;
                        break;
                    };
                    let (schema, display) = (schema.clone(), file.display.clone());
                    parsing.push_back(handle.spawn_blocking(move || {
                        let mut reader = BatchReader::headless(
                            &chunk.bytes[..],
                            schema,
                            display,
                            chunk.first_line,
                        );
                        let mut batches = Vec::new();
                        while let Some(batch) = reader.next_batch()? {
                            batches.push(batch);
                        }
                        Ok::<_, Error>(batches)
                    }));
                }
                let Some(next) = parsing.pop_front() else {
                    return Ok(());
                };
                let batches = handle
                    .block_on(next)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
                    .map_err(external)?;
                for batch in batches {
                    if tx.blocking_send(Ok(project(batch)?)).is_err() {
                        return Ok(()); // the consumer went away
                    }
                }
            }
        });
        Ok(builder.build())
    }
}
