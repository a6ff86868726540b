//! Writing a query's result stream as a table's files.
//!
//! Strata writes files itself rather than with DataFusion's `COPY`: the lake
//! needs names that say which version a file belongs to
//! (`part-00000.<run>.parquet`), NULL partition values spelled the Hive way,
//! and a manifest listing exactly what was written.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::NULL_PARTITION;
use super::manifest::{DataFile, Format};
use crate::error::{Error, Result};
use crate::pgcsv::CsvEncoder;

/// How a table is to be stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSpec {
    /// File format.
    pub format: Format,
    /// Hive partition columns, outermost first.
    pub partition_by: Vec<String>,
}

impl WriteSpec {
    /// Orders a result by its partition columns, which `write_stream` needs to
    /// keep one file open at a time (the sort spills to disk past the
    /// session's memory limit). Unpartitioned results are left as they are.
    pub fn cluster(
        &self,
        df: datafusion::dataframe::DataFrame,
    ) -> datafusion::error::Result<datafusion::dataframe::DataFrame> {
        if self.partition_by.is_empty() {
            return Ok(df);
        }
        df.sort(
            self.partition_by
                .iter()
                .map(|c| {
                    datafusion::logical_expr::Expr::Column(datafusion::common::Column::from_name(c))
                        .sort(true, false)
                })
                .collect(),
        )
    }
}

/// What a write produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The result's schema (partition columns included).
    pub schema: SchemaRef,
    /// The files, sorted by key (relative to the table's folder).
    pub files: Vec<DataFile>,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Files being finished (footer written, upload completed) at the same time.
const FINISHING_AT_ONCE: usize = 32;

/// Finishes files in the background, a bounded number at a time: with many
/// small partitions, finishing one after another would dominate the write.
struct Closer {
    tasks: tokio::task::JoinSet<Result<DataFile>>,
    done: Vec<DataFile>,
}

impl Closer {
    fn new() -> Self {
        Closer {
            tasks: tokio::task::JoinSet::new(),
            done: Vec::new(),
        }
    }

    async fn close(&mut self, file: OpenFile) -> Result<()> {
        while self.tasks.len() >= FINISHING_AT_ONCE {
            self.join_one().await?;
        }
        self.tasks.spawn(file.finish());
        Ok(())
    }

    async fn join_one(&mut self) -> Result<()> {
        if let Some(joined) = self.tasks.join_next().await {
            let file = joined.map_err(|e| Error::Lake {
                key: "writer".into(),
                message: format!("finishing a file failed: {e}"),
            })??;
            self.done.push(file);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<Vec<DataFile>> {
        while !self.tasks.is_empty() {
            self.join_one().await?;
        }
        Ok(self.done)
    }
}

/// Rows per file before an unpartitioned table rolls to the next file.
const MAX_ROWS_PER_FILE: u64 = 5_000_000;
/// Encoded Parquet held in memory across open partition files before the
/// largest are flushed as row groups: bounds memory for any table size.
const MEMORY_BUDGET: usize = 256 << 20;

/// An upload that hashes what passes through it, so a file's checksum costs
/// no second read.
struct Hashing {
    inner: BufWriter,
    hasher: Sha256,
}

impl Hashing {
    fn new(inner: BufWriter) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl tokio::io::AsyncWrite for Hashing {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            this.hasher.update(&buf[..*n]);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

enum Sink {
    Parquet(Box<AsyncArrowWriter<Hashing>>),
    Csv { out: Box<Hashing>, bytes: u64 },
}

struct OpenFile {
    key: String,
    rows: u64,
    sink: Sink,
}

impl OpenFile {
    async fn create(
        store: &Arc<dyn ObjectStore>,
        prefix: &Path,
        key: String,
        format: Format,
        schema: &SchemaRef,
    ) -> Result<Self> {
        let path = Path::from(format!("{prefix}/{key}"));
        let sink = match format {
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                    .build();
                let writer = Hashing::new(BufWriter::new(store.clone(), path));
                Sink::Parquet(Box::new(AsyncArrowWriter::try_new(
                    writer,
                    schema.clone(),
                    Some(props),
                )?))
            }
            Format::Csv => {
                let mut header = Vec::new();
                CsvEncoder::default()
                    .write_header(&mut header, schema)
                    .map_err(|e| Error::io(path.to_string(), e))?;
                let mut out = Box::new(Hashing::new(BufWriter::new(store.clone(), path.clone())));
                out.write_all(&header)
                    .await
                    .map_err(|e| Error::io(path.to_string(), e))?;
                Sink::Csv {
                    out,
                    bytes: header.len() as u64,
                }
            }
        };
        Ok(OpenFile { key, rows: 0, sink })
    }

    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match &mut self.sink {
            Sink::Parquet(w) => w.write(batch).await?,
            Sink::Csv { out, bytes } => {
                let mut buf = Vec::with_capacity(batch.num_rows() * 64);
                CsvEncoder::default().write_batch(&mut buf, batch)?;
                *bytes += buf.len() as u64;
                out.write_all(&buf)
                    .await
                    .map_err(|e| Error::io(self.key.clone(), e))?;
            }
        }
        Ok(())
    }

    fn memory(&self) -> usize {
        match &self.sink {
            Sink::Parquet(w) => w.memory_size(),
            Sink::Csv { .. } => 0,
        }
    }

    async fn finish(self) -> Result<DataFile> {
        let (bytes, sha256) = match self.sink {
            Sink::Parquet(mut w) => {
                w.finish().await?;
                let bytes = w.bytes_written() as u64;
                (bytes, w.into_inner().hex())
            }
            Sink::Csv { mut out, bytes } => {
                out.shutdown()
                    .await
                    .map_err(|e| Error::io(self.key.clone(), e))?;
                (bytes, out.hex())
            }
        };
        Ok(DataFile {
            key: self.key,
            rows: self.rows,
            bytes,
            sha256,
            run_id: None,
        })
    }
}

/// Writes `stream` under `prefix` as `spec` says, reporting the running row
/// count to `on_rows`. Batches are pulled by a separate task so that
/// computing the next batch overlaps with encoding this one.
///
/// For a partitioned table the stream should be clustered by partition (the
/// runner sorts it): a partition's file is finished as soon as a batch
/// arrives without it, so one file is open at a time. Unclustered input still
/// loses nothing; a partition seen again gets its next file (`part-00001`).
pub async fn write_stream(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    spec: &WriteSpec,
    tag: Option<&str>,
    stream: SendableRecordBatchStream,
    on_rows: impl Fn(u64),
) -> Result<Written> {
    let schema = stream.schema();
    let partition_idx: Vec<usize> = spec
        .partition_by
        .iter()
        .map(|name| {
            let i = schema.index_of(name).map_err(|_| Error::Lake {
                key: prefix.to_string(),
                message: format!("partition column `{name}` is not in the result"),
            })?;
            check_partition_type(name, schema.field(i).data_type())?;
            Ok(i)
        })
        .collect::<Result<_>>()?;
    let data_idx: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !partition_idx.contains(i))
        .collect();
    let file_schema = Arc::new(schema.project(&data_idx)?);
    // `part-00000.<tag>.parquet`: the tag keeps a version's names its own.
    let ext = match tag {
        Some(t) => format!("{t}.{}", spec.format.extension()),
        None => spec.format.extension().to_string(),
    };

    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::spawn(async move {
        let mut stream = stream;
        while let Some(batch) = stream.next().await {
            if tx.send(batch).await.is_err() {
                break;
            }
        }
    });

    let mut open: HashMap<String, OpenFile> = HashMap::new();
    let mut closer = Closer::new();
    let mut rows = 0u64;
    let mut partitioner = if partition_idx.is_empty() {
        None
    } else {
        Some(Partitioner::new(&schema, &partition_idx)?)
    };
    let mut file_seq = 0usize;
    let mut next_part: HashMap<String, usize> = HashMap::new();

    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        rows += batch.num_rows() as u64;
        let data = batch.project(&data_idx)?;
        match &mut partitioner {
            None => {
                let key = format!("part-{file_seq:05}.{ext}");
                if !open.contains_key(&key) {
                    let f = OpenFile::create(store, prefix, key.clone(), spec.format, &file_schema)
                        .await?;
                    open.insert(key.clone(), f);
                }
                let file = open.get_mut(&key).expect("just opened");
                file.write(&data).await?;
                if file.rows >= MAX_ROWS_PER_FILE {
                    closer.close(open.remove(&key).expect("open")).await?;
                    file_seq += 1;
                }
            }
            Some(p) => {
                let groups = p.split(&batch)?;
                // Partitions absent from this batch are finished.
                let present: std::collections::HashSet<&str> =
                    groups.iter().map(|(d, _)| d.as_str()).collect();
                let finished: Vec<String> = open
                    .iter()
                    .filter(|(k, _)| !present.contains(folder_of(k)))
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in finished {
                    closer.close(open.remove(&key).expect("open")).await?;
                }
                for (dir, indices) in groups {
                    let part = if indices.len() == batch.num_rows() {
                        data.clone()
                    } else {
                        take_record_batch(&data, &UInt32Array::from(indices))?
                    };
                    let current = open.keys().find(|k| folder_of(k) == dir).cloned();
                    let key = match current {
                        Some(k) => k,
                        None => {
                            let seq = next_part.entry(dir.clone()).or_insert(0);
                            let k = format!("{dir}/part-{seq:05}.{ext}");
                            *seq += 1;
                            k
                        }
                    };
                    if !open.contains_key(&key) {
                        let f =
                            OpenFile::create(store, prefix, key.clone(), spec.format, &file_schema)
                                .await?;
                        open.insert(key.clone(), f);
                    }
                    open.get_mut(&key).expect("open").write(&part).await?;
                }
                enforce_budget(&mut open).await?;
            }
        }
        on_rows(rows);
    }
    producer.await.map_err(|e| Error::Lake {
        key: prefix.to_string(),
        message: format!("query task failed: {e}"),
    })?;

    // An unpartitioned table always has a file, so its schema is visible to
    // every reader even when it has no rows.
    if partition_idx.is_empty() && open.is_empty() && file_seq == 0 {
        let key = format!("part-00000.{ext}");
        let f = OpenFile::create(store, prefix, key.clone(), spec.format, &file_schema).await?;
        open.insert(key, f);
    }
    for (_, file) in open.drain() {
        closer.close(file).await?;
    }
    let mut done = closer.finish().await?;
    done.sort_by(|a, b| a.key.cmp(&b.key));
    let bytes = done.iter().map(|f| f.bytes).sum();
    Ok(Written {
        schema,
        files: done,
        rows,
        bytes,
    })
}

/// The partition folder of a file key (`year=2024/month=1/part-00000.parquet`).
fn folder_of(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

async fn enforce_budget(open: &mut HashMap<String, OpenFile>) -> Result<()> {
    let total: usize = open.values().map(OpenFile::memory).sum();
    if total <= MEMORY_BUDGET {
        return Ok(());
    }
    let mut by_size: Vec<(usize, String)> =
        open.iter().map(|(k, f)| (f.memory(), k.clone())).collect();
    by_size.sort_unstable_by(|a, b| b.cmp(a));
    let mut remaining = total;
    for (size, key) in by_size {
        if remaining <= MEMORY_BUDGET / 2 {
            break;
        }
        if let Some(OpenFile {
            sink: Sink::Parquet(w),
            ..
        }) = open.get_mut(&key)
        {
            w.flush().await?;
        }
        remaining -= size;
    }
    Ok(())
}

fn check_partition_type(name: &str, t: &DataType) -> Result<()> {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Date32
        | DataType::Boolean => Ok(()),
        other => Err(Error::Config(format!(
            "partition column `{name}` has type {other}; partition by integers, dates or text"
        ))),
    }
}

/// Splits batches into the rows of each Hive partition folder.
struct Partitioner {
    columns: Vec<usize>,
    names: Vec<String>,
    converter: RowConverter,
    /// Folder name of each partition seen so far, by its row encoding.
    dirs: HashMap<OwnedRow, String>,
}

impl Partitioner {
    fn new(schema: &SchemaRef, columns: &[usize]) -> Result<Self> {
        let fields = columns
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect();
        Ok(Partitioner {
            columns: columns.to_vec(),
            names: columns
                .iter()
                .map(|&i| schema.field(i).name().clone())
                .collect(),
            converter: RowConverter::new(fields)?,
            dirs: HashMap::new(),
        })
    }

    /// The batch's rows grouped by partition folder, in order of first appearance.
    fn split(&mut self, batch: &RecordBatch) -> Result<Vec<(String, Vec<u32>)>> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let rows = self.converter.convert_columns(&arrays)?;
        let mut order: Vec<(String, Vec<u32>)> = Vec::new();
        let mut slot: HashMap<&[u8], usize> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let at = match slot.get(row.as_ref()) {
                Some(&at) => at,
                None => {
                    let owned = row.owned();
                    let dir = match self.dirs.get(&owned) {
                        Some(d) => d.clone(),
                        None => {
                            let d = self.dir_name(&arrays, i)?;
                            self.dirs.insert(owned, d.clone());
                            d
                        }
                    };
                    order.push((dir, Vec::new()));
                    slot.insert(row.data(), order.len() - 1);
                    order.len() - 1
                }
            };
            order[at].1.push(i as u32);
        }
        Ok(order)
    }

    fn dir_name(&self, arrays: &[ArrayRef], row: usize) -> Result<String> {
        let options = FormatOptions::default();
        let mut parts = Vec::with_capacity(arrays.len());
        for (name, array) in self.names.iter().zip(arrays) {
            let value = if array.is_null(row) {
                NULL_PARTITION.to_string()
            } else {
                escape_partition_value(
                    &ArrayFormatter::try_new(array.as_ref(), &options)?
                        .value(row)
                        .to_string(),
                )
            };
            parts.push(format!("{name}={value}"));
        }
        Ok(parts.join("/"))
    }
}

/// Escapes a partition value as Hive does: characters that would break a
/// path or a `key=value` pair are written `%XX`.
fn escape_partition_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c.is_control()
            || matches!(
                c,
                '/' | '\\' | '=' | '%' | '"' | '#' | '?' | ':' | '*' | '\'' | '[' | ']' | '^' | '{'
            )
        {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn partitions_group_rows_and_spell_null_the_hive_way() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Utf8, false),
            Field::new("year", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c", "d"])),
                Arc::new(Int32Array::from(vec![
                    Some(2024),
                    None,
                    Some(2024),
                    Some(2023),
                ])),
            ],
        )
        .unwrap();
        let mut p = Partitioner::new(&schema, &[1]).unwrap();
        let groups = p.split(&batch).unwrap();
        assert_eq!(
            groups,
            vec![
                ("year=2024".to_string(), vec![0, 2]),
                (format!("year={NULL_PARTITION}"), vec![1]),
                ("year=2023".to_string(), vec![3]),
            ]
        );
    }

    #[test]
    fn escaping_keeps_paths_intact() {
        assert_eq!(escape_partition_value("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(escape_partition_value("Sudeste"), "Sudeste");
    }
}
