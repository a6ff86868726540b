//! Writing a query's result stream as a table's files.
//!
//! Strata writes files itself rather than with DataFusion's `COPY`: the lake
//! needs names that say which version a file belongs to
//! (`part-00000.<run>.parquet`), NULL partition values spelled the Hive way,
//! and a manifest listing exactly what was written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
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
    /// Columns each file's rows are sorted by (ascending, NULLs last).
    pub order_by: Vec<String>,
    /// Whether the partition columns only group the files into folders and
    /// are no columns of the table (hidden partitioning): the table keeps
    /// its columns, and an incremental build can still replace a folder.
    pub hidden: bool,
}

impl WriteSpec {
    /// The sort a writer of this table needs: partition columns first (so
    /// one file is open at a time), then the declared order.
    pub fn sort_columns(&self) -> Vec<&str> {
        self.partition_by
            .iter()
            .chain(&self.order_by)
            .map(String::as_str)
            .collect()
    }

    /// Orders a single-stream result as [`sort_columns`](Self::sort_columns)
    /// says (the sort spills to disk past the session's memory limit).
    pub fn cluster(
        &self,
        df: datafusion::dataframe::DataFrame,
    ) -> datafusion::error::Result<datafusion::dataframe::DataFrame> {
        let columns = self.sort_columns();
        if columns.is_empty() {
            return Ok(df);
        }
        df.sort(
            columns
                .into_iter()
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
    /// The sum of each decimal (money) column, exact, as decimal text:
    /// computed from the batches as they are written, so checks of money
    /// read it here instead of scanning the table again.
    pub totals: BTreeMap<String, String>,
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

/// The largest dictionary a Parquet column chunk keeps before it falls
/// back to plain encoding (the parquet crate's default is 1 MiB). Interning
/// every value into a dictionary of hundreds of thousands of entries
/// (customer ids, names, money) was a third of `gold.fact_sales`'s CPU at
/// 10M sales; with 128 KiB, ids, categories, dates and quantities keep
/// their dictionaries and the many-valued columns stop trying early.
/// Measured writing the same 10M rows (median CPU of 3-5 writes): fact
/// rows 3.1 s -> 2.2 s for 6% more bytes, silver rows 6.3 s -> 4.6 s for 3%.
const DICTIONARY_PAGE_LIMIT: usize = 128 * 1024;

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
                    .set_dictionary_page_size_limit(DICTIONARY_PAGE_LIMIT)
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

/// Writes `stream` under `prefix` as `spec` says, with one writer, in the
/// stream's order. For a partitioned table the stream should be clustered
/// by partition: a partition's file is finished as soon as a batch arrives
/// without it, so one file is open at a time. Unclustered input still
/// loses nothing; a partition seen again gets its next file (`part-00001`).
pub async fn write_stream(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    spec: &WriteSpec,
    tag: Option<&str>,
    stream: SendableRecordBatchStream,
) -> Result<Written> {
    let one = Streams::Spread { stream, writers: 1 };
    write_parallel(store, prefix, spec, tag, one, Arc::new(|_| {})).await
}

/// The streams of a parallel write, each written by a task of its own.
pub enum Streams {
    /// Streams whose rows fall in disjoint sets of partition folders (the
    /// result hash-partitioned by the partition columns), each clustered by
    /// partition: every folder is written by exactly one writer.
    Disjoint(Vec<SendableRecordBatchStream>),
    /// Streams each clustered by partition, read from an input's ordered
    /// partitions, where two may meet in a folder (where one input stream's
    /// run of days ends and the next begins): each writer's files in a
    /// folder are numbered apart from the others' (`part-<n * writers + slot>`).
    Clustered(Vec<SendableRecordBatchStream>),
    /// One stream of an unpartitioned table, whose batches are spread over
    /// up to `writers` files written at once (one writer for a partitioned
    /// table). A small result stays one file:
    /// the k-th file opens only once k * [`SPREAD_ROWS`] rows have come.
    Spread {
        /// The result.
        stream: SendableRecordBatchStream,
        /// The most files written at the same time.
        writers: usize,
    },
}

/// Rows a table must have produced per file before one more file is
/// written alongside (see [`Streams::Spread`]).
pub const SPREAD_ROWS: u64 = 250_000;

/// Writes a result with one writer per core: encoding Parquet (or CSV) is
/// most of a model's work, so one writer would leave the other cores idle.
/// The table's content (its rows, and which folder holds each) is the same
/// whatever the number of writers; only how a folder's rows are split
/// between files and ordered within them may differ.
pub async fn write_parallel(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    spec: &WriteSpec,
    tag: Option<&str>,
    streams: Streams,
    on_rows: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<Written> {
    let schema = match &streams {
        Streams::Disjoint(s) | Streams::Clustered(s) => match s.first() {
            Some(s) => s.schema(),
            None => {
                return Err(Error::Internal(format!(
                    "{prefix}: a parallel write of no streams"
                )));
            }
        },
        Streams::Spread { stream, .. } => stream.schema(),
    };
    let layout = Arc::new(Layout::new(prefix, spec, tag, &schema)?);
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let report = move |n: usize| {
        let rows = total.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed) + n as u64;
        on_rows(rows);
    };
    let mut tasks: tokio::task::JoinSet<Result<(Vec<DataFile>, Vec<i128>)>> =
        tokio::task::JoinSet::new();
    let shared = matches!(streams, Streams::Clustered(_));
    match streams {
        Streams::Disjoint(streams) | Streams::Clustered(streams) => {
            let n = streams.len();
            for (slot, mut stream) in streams.into_iter().enumerate() {
                let mut writer = FileWriter::new(store, &layout, slot, n, MEMORY_BUDGET / n)?;
                writer.shared_folders = shared;
                let report = report.clone();
                tasks.spawn(async move {
                    while let Some(batch) = stream.next().await {
                        let batch = batch?;
                        report(batch.num_rows());
                        writer.push(batch).await?;
                    }
                    writer.finish(false).await
                });
            }
        }
        Streams::Spread { stream, writers } => {
            // Spread writers would each start a folder's files at part-00000.
            let writers = if layout.partition_idx.is_empty() {
                writers.max(1)
            } else {
                1
            };
            let mut rx = pull(stream);
            let mut senders: Vec<tokio::sync::mpsc::Sender<RecordBatch>> = vec![];
            let (mut rows, mut next) = (0u64, 0usize);
            while let Some(batch) = rx.recv().await {
                let batch = batch?;
                if batch.num_rows() == 0 {
                    continue;
                }
                if senders.len() < writers && rows >= senders.len() as u64 * SPREAD_ROWS {
                    let (tx, mut files_rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
                    let mut writer =
                        FileWriter::new(store, &layout, senders.len(), writers, MEMORY_BUDGET)?;
                    tasks.spawn(async move {
                        while let Some(batch) = files_rx.recv().await {
                            writer.push(batch).await?;
                        }
                        writer.finish(false).await
                    });
                    senders.push(tx);
                    next = senders.len() - 1;
                }
                rows += batch.num_rows() as u64;
                report(batch.num_rows());
                if senders[next].send(batch).await.is_err() {
                    // That writer failed; its error is reported below.
                    break;
                }
                next = (next + 1) % senders.len();
            }
            drop(senders);
        }
    }
    let mut files = vec![];
    let mut sums = vec![0i128; layout.decimals.len()];
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((f, s))) => {
                files.extend(f);
                for (total, part) in sums.iter_mut().zip(s) {
                    match total.checked_add(part) {
                        Some(t) => *total = t,
                        None => {
                            failure.get_or_insert(Error::Lake {
                                key: prefix.to_string(),
                                message: "a decimal column's sum overflows 38 digits".into(),
                            });
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(Error::Lake {
                    key: prefix.to_string(),
                    message: format!("a writer task failed: {e}"),
                });
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    // An unpartitioned table always has a file, so its schema is visible to
    // every reader even when it has no rows.
    if layout.partition_idx.is_empty() && files.is_empty() {
        files = FileWriter::new(store, &layout, 0, 1, MEMORY_BUDGET)?
            .finish(true)
            .await?
            .0;
    }
    Ok(layout.written(files, &sums))
}

/// Pulls a stream's batches in a task of their own, so that computing the
/// next batch overlaps with writing this one.
fn pull(
    mut stream: SendableRecordBatchStream,
) -> tokio::sync::mpsc::Receiver<datafusion::error::Result<RecordBatch>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        while let Some(batch) = stream.next().await {
            if tx.send(batch).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// What every writer of one table shares: where files go and how the
/// result's columns split into partition and data columns.
struct Layout {
    prefix: Path,
    format: Format,
    schema: SchemaRef,
    partition_idx: Vec<usize>,
    data_idx: Vec<usize>,
    file_schema: SchemaRef,
    /// `<tag>.parquet`: the tag keeps a version's names its own.
    ext: String,
    /// The decimal columns (index in `schema`), whose sums are kept.
    decimals: Vec<usize>,
}

impl Layout {
    fn new(prefix: &Path, spec: &WriteSpec, tag: Option<&str>, schema: &SchemaRef) -> Result<Self> {
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
        let ext = match tag {
            Some(t) => format!("{t}.{}", spec.format.extension()),
            None => spec.format.extension().to_string(),
        };
        let decimals = (0..schema.fields().len())
            .filter(|&i| matches!(schema.field(i).data_type(), DataType::Decimal128(..)))
            .collect();
        Ok(Layout {
            decimals,
            prefix: prefix.clone(),
            format: spec.format,
            schema: schema.clone(),
            partition_idx,
            data_idx,
            file_schema,
            ext,
        })
    }

    fn written(&self, mut files: Vec<DataFile>, sums: &[i128]) -> Written {
        files.sort_by(|a, b| a.key.cmp(&b.key));
        let totals = self
            .decimals
            .iter()
            .zip(sums)
            .map(|(&i, &sum)| {
                let field = self.schema.field(i);
                let scale = match field.data_type() {
                    DataType::Decimal128(_, s) => *s,
                    _ => 0,
                };
                let text = datafusion::common::ScalarValue::Decimal128(Some(sum), 38, scale);
                (field.name().clone(), text.to_string())
            })
            .collect();
        Written {
            totals,
            schema: self.schema.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
        }
    }
}

/// One writer: the files it has open, and those it is finishing.
struct FileWriter {
    store: Arc<dyn ObjectStore>,
    layout: Arc<Layout>,
    open: HashMap<String, OpenFile>,
    closer: Closer,
    partitioner: Option<Partitioner>,
    /// This writer's place among `stride` writers of an unpartitioned
    /// table: its n-th file is `part-<n * stride + slot>`.
    slot: usize,
    stride: usize,
    /// Whether other writers may write the same folders: then this one's
    /// files in a folder are numbered as an unpartitioned table's are.
    shared_folders: bool,
    file_seq: usize,
    next_part: HashMap<String, usize>,
    budget: usize,
    rows: u64,
    /// Running sums of the layout's decimal columns.
    sums: Vec<i128>,
}

impl FileWriter {
    fn new(
        store: &Arc<dyn ObjectStore>,
        layout: &Arc<Layout>,
        slot: usize,
        stride: usize,
        budget: usize,
    ) -> Result<Self> {
        let partitioner = if layout.partition_idx.is_empty() {
            None
        } else {
            Some(Partitioner::new(&layout.schema, &layout.partition_idx)?)
        };
        Ok(FileWriter {
            store: store.clone(),
            layout: layout.clone(),
            open: HashMap::new(),
            closer: Closer::new(),
            partitioner,
            slot,
            stride: stride.max(1),
            shared_folders: false,
            file_seq: 0,
            next_part: HashMap::new(),
            budget,
            rows: 0,
            sums: vec![0; layout.decimals.len()],
        })
    }

    /// Opens a file (a free function of the parts it needs: a borrow of the
    /// whole writer across the await would need it to be `Sync`).
    async fn create(store: &Arc<dyn ObjectStore>, l: &Layout, key: &str) -> Result<OpenFile> {
        OpenFile::create(store, &l.prefix, key.to_string(), l.format, &l.file_schema).await
    }

    fn unpartitioned_key(&self) -> String {
        let n = self.file_seq * self.stride + self.slot;
        format!("part-{n:05}.{}", self.layout.ext)
    }

    async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        for (sum, &i) in self.sums.iter_mut().zip(&self.layout.decimals) {
            let column = batch
                .column(i)
                .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
            let add = datafusion::arrow::compute::sum_checked(column)?.unwrap_or(0);
            *sum = sum.checked_add(add).ok_or_else(|| Error::Lake {
                key: self.layout.prefix.to_string(),
                message: format!(
                    "the sum of column `{}` overflows 38 digits",
                    self.layout.schema.field(i).name()
                ),
            })?;
        }
        let data = batch.project(&self.layout.data_idx)?;
        let Some(p) = &mut self.partitioner else {
            let key = self.unpartitioned_key();
            if !self.open.contains_key(&key) {
                let f = Self::create(&self.store, &self.layout, &key).await?;
                self.open.insert(key.clone(), f);
            }
            let file = self.open.get_mut(&key).expect("just opened");
            file.write(&data).await?;
            if file.rows >= MAX_ROWS_PER_FILE {
                let full = self.open.remove(&key).expect("open");
                self.closer.close(full).await?;
                self.file_seq += 1;
            }
            return Ok(());
        };
        let groups = p.split(&batch)?;
        // Partitions absent from this batch are finished.
        let present: std::collections::HashSet<&str> =
            groups.iter().map(|(d, _)| d.as_str()).collect();
        let finished: Vec<String> = self
            .open
            .keys()
            .filter(|k| !present.contains(folder_of(k)))
            .cloned()
            .collect();
        for key in finished {
            let file = self.open.remove(&key).expect("open");
            self.closer.close(file).await?;
        }
        for (dir, indices) in groups {
            let part = if indices.len() == batch.num_rows() {
                data.clone()
            } else {
                take_record_batch(&data, &UInt32Array::from(indices))?
            };
            let current = self.open.keys().find(|k| folder_of(k) == dir).cloned();
            let key = match current {
                Some(k) => k,
                None => {
                    let seq = self.next_part.entry(dir.clone()).or_insert(0);
                    let n = if self.shared_folders {
                        *seq * self.stride + self.slot
                    } else {
                        *seq
                    };
                    let k = format!("{dir}/part-{n:05}.{}", self.layout.ext);
                    *seq += 1;
                    k
                }
            };
            if !self.open.contains_key(&key) {
                let f = Self::create(&self.store, &self.layout, &key).await?;
                self.open.insert(key.clone(), f);
            }
            self.open.get_mut(&key).expect("open").write(&part).await?;
        }
        enforce_budget(&mut self.open, self.budget).await
    }

    /// Finishes every file; `always_one` writes an empty file for an
    /// unpartitioned table that had no rows.
    async fn finish(mut self, always_one: bool) -> Result<(Vec<DataFile>, Vec<i128>)> {
        if always_one && self.partitioner.is_none() && self.open.is_empty() && self.file_seq == 0 {
            let key = self.unpartitioned_key();
            let f = Self::create(&self.store, &self.layout, &key).await?;
            self.open.insert(key, f);
        }
        for (_, file) in self.open.drain() {
            self.closer.close(file).await?;
        }
        Ok((self.closer.finish().await?, self.sums))
    }
}

/// The partition folder of a file key (`year=2024/month=1/part-00000.parquet`).
pub(crate) fn folder_of(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The folders rows of `batches` are written to, partitioned by `columns`,
/// named as the writer names them.
pub(crate) fn partition_folders(
    batches: &[RecordBatch],
    columns: &[String],
) -> Result<std::collections::BTreeSet<String>> {
    let mut out = std::collections::BTreeSet::new();
    let Some(first) = batches.first() else {
        return Ok(out);
    };
    let schema = first.schema();
    let indices = columns
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut partitioner = Partitioner::new(&schema, &indices)?;
    for b in batches {
        out.extend(partitioner.split(b)?.into_iter().map(|(dir, _)| dir));
    }
    Ok(out)
}

async fn enforce_budget(open: &mut HashMap<String, OpenFile>, budget: usize) -> Result<()> {
    let total: usize = open.values().map(OpenFile::memory).sum();
    if total <= budget {
        return Ok(());
    }
    let mut by_size: Vec<(usize, String)> =
        open.iter().map(|(k, f)| (f.memory(), k.clone())).collect();
    by_size.sort_unstable_by(|a, b| b.cmp(a));
    let mut remaining = total;
    for (size, key) in by_size {
        if remaining <= budget / 2 {
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

    /// Parquet makes a zstd compression and decompression context for every
    /// column chunk; the vendored zstd-safe reuses them within a thread
    /// (vendor/README.md). A reused context must behave as a new one.
    mod zstd_contexts {
        use zstd_safe::{CCtx, CParameter, DCtx};

        fn payload() -> Vec<u8> {
            (0..100_000u32)
                .flat_map(|i| format!("{},sale {},", i % 977, i / 3).into_bytes())
                .collect()
        }

        fn compress(c: &mut CCtx<'_>, data: &[u8]) -> Vec<u8> {
            let mut out = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
            c.compress2(&mut out, data).unwrap();
            out
        }

        #[test]
        fn a_context_done_with_is_reused() {
            let new = CCtx::create().sizeof();
            // Several, so that a test on another thread taking one between
            // the drop and the create cannot hide the reuse.
            let mut used: Vec<CCtx<'static>> = (0..8).map(|_| CCtx::create()).collect();
            for c in &mut used {
                compress(c, &payload());
            }
            let size = used[0].sizeof();
            assert!(size > new, "compressing allocates ({size} > {new})");
            drop(used);
            let again: Vec<CCtx<'static>> = (0..8).map(|_| CCtx::create()).collect();
            assert!(
                again.iter().any(|c| c.sizeof() >= size),
                "a used context comes back: {:?}",
                again.iter().map(|c| c.sizeof()).collect::<Vec<_>>()
            );
        }

        #[test]
        fn a_reused_compressor_forgets_its_dictionary_and_level() {
            let data = payload();
            let mut c = CCtx::create();
            c.load_dictionary(&data[..4096]).unwrap();
            c.set_parameter(CParameter::CompressionLevel(19)).unwrap();
            compress(&mut c, &data);
            drop(c);
            let mut reused = CCtx::create();
            let mut one_shot = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
            zstd_safe::compress(&mut one_shot, &data, zstd_safe::CLEVEL_DEFAULT).unwrap();
            assert_eq!(compress(&mut reused, &data), one_shot);
        }

        #[test]
        fn a_reused_decompressor_forgets_its_dictionary() {
            let data = payload();
            let dictionary = &data[data.len() - 8192..];
            let mut c = CCtx::create();
            c.load_dictionary(dictionary).unwrap();
            let with_dictionary = compress(&mut c, &data);
            let plain = compress(&mut CCtx::create(), &data);
            let decompress = |d: &mut DCtx<'_>, frame: &[u8]| {
                let mut out = Vec::with_capacity(data.len());
                d.decompress(&mut out, frame).map(|_| out)
            };
            let mut d = DCtx::create();
            d.load_dictionary(dictionary).unwrap();
            assert_eq!(decompress(&mut d, &with_dictionary).unwrap(), data);
            drop(d);
            let mut reused = DCtx::create();
            assert_ne!(
                decompress(&mut reused, &with_dictionary).ok(),
                Some(data.clone())
            );
            let mut reused = DCtx::create();
            assert_eq!(decompress(&mut reused, &plain).unwrap(), data);
        }
    }
}
