//! A CSV table in PostgreSQL's dialect, streamed from an object store.

use std::io::BufReader;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;
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
}

/// Builds a table over `files` (one stream per file, in order) with a fixed schema.
pub fn csv_table(
    schema: SchemaRef,
    files: Vec<CsvFile>,
) -> datafusion::error::Result<StreamingTable> {
    let partitions = files
        .into_iter()
        .map(|file| {
            Arc::new(CsvPartition {
                schema: schema.clone(),
                file,
            }) as Arc<dyn PartitionStream>
        })
        .collect();
    StreamingTable::try_new(schema, partitions)
}

#[derive(Debug)]
struct CsvPartition {
    schema: SchemaRef,
    file: CsvFile,
}

impl PartitionStream for CsvPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 4);
        let tx = builder.tx();
        let file = self.file.clone();
        let schema = self.schema.clone();
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
                if tx.blocking_send(Ok(batch)).is_err() {
                    break; // the consumer went away (LIMIT, cancellation)
                }
            }
            Ok(())
        });
        builder.build()
    }
}
