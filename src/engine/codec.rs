//! How Strata's own plan nodes cross the wire to a Ballista scheduler and
//! its executors (`--engine ballista…`, `strata scheduler`, `strata executor`): a lake CSV table (and its scan) as the URLs of its files,
//! which every process of the cluster resolves in its own object stores.
//! Everything else goes through Ballista's codecs unchanged.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;

use crate::source::csv::{CsvFile, CsvScanExec, CsvTable};

/// Marks a node as Strata's, ahead of its protobuf bytes: anything without
/// it is Ballista's (or DataFusion's) own.
const MAGIC: &[u8] = b"strata-csv\0";

/// A CSV file on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct FileNode {
    #[prost(string, tag = "1")]
    url: String,
    #[prost(string, tag = "2")]
    display: String,
}

/// A [`CsvTable`] or a [`CsvScanExec`] on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct CsvNode {
    #[prost(message, repeated, tag = "1")]
    files: Vec<FileNode>,
    /// The files' schema (the table's is sent by DataFusion itself).
    #[prost(message, optional, tag = "2")]
    schema: Option<datafusion_proto::protobuf::Schema>,
    #[prost(bool, tag = "3")]
    projected: bool,
    #[prost(uint64, repeated, tag = "4")]
    projection: Vec<u64>,
}

fn encode_files(files: &[CsvFile]) -> Result<Vec<FileNode>> {
    files
        .iter()
        .map(|f| match &f.url {
            Some(url) => Ok(FileNode {
                url: url.clone(),
                display: f.display.clone(),
            }),
            None => Err(DataFusionError::Plan(format!(
                "{} is read by this process only and cannot be shipped to Ballista executors",
                f.display
            ))),
        })
        .collect()
}

/// Each file's store, found by its URL in this process's registry (the
/// cluster processes register the lake's store as the client does).
fn decode_files(files: &[FileNode], ctx: &TaskContext) -> Result<Vec<CsvFile>> {
    files
        .iter()
        .map(|f| {
            let url = ListingTableUrl::parse(&f.url)?;
            let store = ctx.runtime_env().object_store(&url)?;
            Ok(CsvFile {
                store,
                path: url.prefix().clone(),
                display: f.display.clone(),
                url: Some(f.url.clone()),
            })
        })
        .collect()
}

fn encode(node: &CsvNode, buf: &mut Vec<u8>) {
    buf.extend_from_slice(MAGIC);
    node.encode(buf).expect("a Vec grows to hold any message");
}

fn decode(buf: &[u8]) -> Option<Result<CsvNode>> {
    let body = buf.strip_prefix(MAGIC)?;
    Some(CsvNode::decode(body).map_err(|e| DataFusionError::Internal(format!("CSV node: {e}"))))
}

/// Ballista's logical codec, plus lake CSV tables.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match decode(buf) {
            Some(node) => Ok(Arc::new(CsvTable::new(
                schema,
                decode_files(&node?.files, ctx)?,
            ))),
            None => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<CsvTable>() {
            Some(table) => {
                let node = CsvNode {
                    files: encode_files(table.files())?,
                    ..Default::default()
                };
                encode(&node, buf);
                Ok(())
            }
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, plus scans of lake CSV tables.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(node) = decode(buf) else {
            return self.inner.try_decode(buf, inputs, ctx, proto_converter);
        };
        let node = node?;
        let schema = node
            .schema
            .as_ref()
            .ok_or_else(|| DataFusionError::Internal("CSV scan without a schema".into()))?;
        let schema = Arc::new(
            Schema::try_from(schema)
                .map_err(|e| DataFusionError::Internal(format!("CSV scan schema: {e}")))?,
        );
        let projection = node
            .projected
            .then(|| node.projection.iter().map(|&i| i as usize).collect());
        Ok(Arc::new(CsvScanExec::try_new(
            schema,
            decode_files(&node.files, ctx)?,
            projection,
        )?))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(scan) = node.downcast_ref::<CsvScanExec>() else {
            return self.inner.try_encode(node, buf, proto_converter);
        };
        let schema = datafusion_proto::protobuf::Schema::try_from(scan.file_schema().as_ref())
            .map_err(|e| DataFusionError::Internal(format!("CSV scan schema: {e}")))?;
        let node = CsvNode {
            files: encode_files(scan.files())?,
            schema: Some(schema),
            projected: scan.projection().is_some(),
            projection: scan
                .projection()
                .unwrap_or_default()
                .iter()
                .map(|&i| i as u64)
                .collect(),
        };
        encode(&node, buf);
        Ok(())
    }
}
