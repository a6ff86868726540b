//! A hive-partitioned Parquet table read from its manifest's file list, so
//! that DataFusion knows two facts the directory listing hides from it: the
//! rows of one partition value are all in one stream, and every stream reads
//! its partitions in order.
//!
//! With those facts an aggregate that groups by the partition columns (and
//! anything else) runs in each stream without a shuffle, and emits a day's
//! groups as soon as the stream moves past that day: silver's wide
//! `SELECT DISTINCT` holds one day in memory instead of the whole table.
//!
//! The streams are formed by the same hash DataFusion's own repartitioning
//! uses, so the declared `Hash(partition columns)` is true of the data:
//! a join or aggregate that trusts it meets the same rows a shuffle would
//! have brought it.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, DFSchema, ScalarValue, Statistics};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile, helpers};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::metrics::Time;
use datafusion::physical_plan::repartition::BatchPartitioner;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use crate::lake::NULL_PARTITION;
use crate::lake::manifest::TableManifest;

/// Hash streams are declared only when each stream gets several partition
/// values; with fewer, hashing would leave cores idle, and contiguous runs
/// of partitions keep the order without the claim.
const VALUES_PER_STREAM: usize = 4;

/// One data file with the values of its partition folders.
#[derive(Debug, Clone)]
struct File {
    path: object_store::path::Path,
    bytes: u64,
    rows: u64,
    values: Vec<ScalarValue>,
}

/// A partitioned Parquet table version: its files as the manifest lists
/// them, partition columns typed as declared and NULL for
/// `__HIVE_DEFAULT_PARTITION__`.
#[derive(Debug)]
pub(crate) struct PartitionedTable {
    schema: SchemaRef,
    file_schema: SchemaRef,
    partition_fields: Vec<FieldRef>,
    url: ListingTableUrl,
    files: Vec<File>,
}

impl PartitionedTable {
    /// The table of `m`, whose files live under `url`; `None` when this
    /// reader cannot take it (a folder value that needs decoding), and the
    /// listing reads it instead. Its schema has the partition columns last,
    /// wherever the manifest puts them; the catalog puts them back.
    pub(crate) fn try_new(
        m: &TableManifest,
        schema: SchemaRef,
        url: ListingTableUrl,
    ) -> Option<Self> {
        let k = m.partition_by.len();
        let n = schema.fields().len();
        if k == 0 || k >= n {
            return None;
        }
        // The default partition reads as NULL whatever the manifest says.
        let partition_fields: Vec<FieldRef> = m
            .partition_by
            .iter()
            .map(|p| {
                let f = schema.field_with_name(p).ok()?;
                Some(Arc::new(f.clone().with_nullable(true)))
            })
            .collect::<Option<_>>()?;
        let file_schema = m.file_schema().ok()?;
        let schema = Arc::new(Schema::new(
            file_schema
                .fields()
                .iter()
                .chain(&partition_fields)
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let mut files = Vec::with_capacity(m.files.len());
        for f in &m.files {
            let values = partition_values(&f.key, &partition_fields)?;
            let path =
                object_store::path::Path::parse(format!("{}/{}", url.prefix(), f.key)).ok()?;
            files.push(File {
                path,
                bytes: f.bytes,
                rows: f.rows,
                values,
            });
        }
        // Sorted by partition values, NULL last, then by key: every stream
        // made from this order reads its partitions in order.
        files
            .sort_by(|a, b| compare_values(&a.values, &b.values).then_with(|| a.path.cmp(&b.path)));
        Some(Self {
            schema,
            file_schema,
            partition_fields,
            url,
            files,
        })
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partition_fields
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// The partition columns as the table schema's columns.
    fn partition_columns(&self) -> Vec<Arc<dyn PhysicalExpr>> {
        let first = self.file_schema.fields().len();
        self.partition_fields
            .iter()
            .enumerate()
            .map(|(i, f)| Arc::new(Column::new(f.name(), first + i)) as Arc<dyn PhysicalExpr>)
            .collect()
    }

    /// A file as DataFusion reads it, with statistics that say which
    /// partition it holds (so the declared order can be checked).
    fn partitioned_file(&self, f: &File) -> PartitionedFile {
        let mut stats = Statistics::new_unknown(&self.file_schema);
        stats.num_rows = Precision::Inexact(f.rows as usize);
        stats.total_byte_size = Precision::Inexact(f.bytes as usize);
        for v in &f.values {
            stats.column_statistics.push(if v.is_null() {
                // NULL as both bounds, so that DataFusion's check of the
                // declared order (NULLs last) also passes for a stream
                // ending in the default partition; unknown bounds made it
                // drop the order of the whole scan. Inexact, so that no
                // aggregate is ever answered from these bounds.
                ColumnStatistics {
                    null_count: Precision::Inexact(f.rows as usize),
                    max_value: Precision::Inexact(v.clone()),
                    min_value: Precision::Inexact(v.clone()),
                    ..ColumnStatistics::new_unknown()
                }
            } else {
                ColumnStatistics {
                    null_count: Precision::Exact(0),
                    max_value: Precision::Exact(v.clone()),
                    min_value: Precision::Exact(v.clone()),
                    distinct_count: Precision::Exact(1),
                    ..ColumnStatistics::new_unknown()
                }
            });
        }
        let mut pf = PartitionedFile::new(f.path.to_string(), f.bytes);
        pf.partition_values = f.values.clone();
        pf.statistics = Some(Arc::new(stats));
        pf
    }

    /// The files split into `streams` groups, each in partition order, and
    /// whether the split is DataFusion's hash of the partition columns.
    fn groups(&self, files: &[&File], streams: usize) -> Result<(Vec<Vec<PartitionedFile>>, bool)> {
        let mut distinct: Vec<&[ScalarValue]> = files.iter().map(|f| f.values.as_slice()).collect();
        distinct.dedup();
        if streams > 1 && distinct.len() >= VALUES_PER_STREAM * streams {
            let stream_of = self.hash_streams(&distinct, streams)?;
            let mut groups = vec![Vec::new(); streams];
            let mut value = 0;
            for (i, f) in files.iter().enumerate() {
                if i > 0 && files[i - 1].values != f.values {
                    value += 1;
                }
                groups[stream_of[value]].push(self.partitioned_file(f));
            }
            return Ok((groups, true));
        }
        // Contiguous runs of about equal bytes; a partition may straddle two
        // runs, which keeps each run in order.
        let total: u64 = files.iter().map(|f| f.bytes).sum::<u64>().max(1);
        let streams = streams.max(1);
        let mut groups = vec![Vec::new(); streams];
        let mut seen = 0u64;
        for f in files {
            let g = ((seen * streams as u64) / total).min(streams as u64 - 1) as usize;
            groups[g].push(self.partitioned_file(f));
            seen += f.bytes;
        }
        groups.retain(|g| !g.is_empty());
        Ok((groups, false))
    }

    /// The stream each distinct partition value goes to: the partition
    /// DataFusion's hash repartitioning would send its rows to.
    fn hash_streams(&self, distinct: &[&[ScalarValue]], streams: usize) -> Result<Vec<usize>> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.partition_fields.len() + 1);
        let mut fields: Vec<Field> = Vec::with_capacity(self.partition_fields.len() + 1);
        for (i, f) in self.partition_fields.iter().enumerate() {
            columns.push(ScalarValue::iter_to_array(
                distinct.iter().map(|v| v[i].clone()),
            )?);
            fields.push(Field::new(f.name(), f.data_type().clone(), true));
        }
        let position = self.partition_fields.len();
        columns.push(Arc::new(UInt32Array::from_iter_values(
            0..distinct.len() as u32,
        )));
        fields.push(Field::new("position", DataType::UInt32, false));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let exprs = (0..position)
            .map(|i| {
                Arc::new(Column::new(self.partition_fields[i].name(), i)) as Arc<dyn PhysicalExpr>
            })
            .collect();
        let mut partitioner = BatchPartitioner::new_hash_partitioner(exprs, streams, Time::new())?;
        let mut stream_of = vec![0; distinct.len()];
        for part in partitioner.partition_iter(batch)? {
            let (stream, rows) = part?;
            let positions = rows
                .column(position)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .expect("position column is UInt32");
            for p in positions.values() {
                stream_of[*p as usize] = stream;
            }
        }
        Ok(stream_of)
    }
}

/// The typed values of a file's partition folders, in `fields`' order.
fn partition_values(key: &str, fields: &[FieldRef]) -> Option<Vec<ScalarValue>> {
    let folders: Vec<(&str, &str)> = key.split('/').filter_map(|s| s.split_once('=')).collect();
    if folders.len() != fields.len() {
        return None;
    }
    folders
        .iter()
        .zip(fields)
        .map(|((name, value), field)| {
            if name != field.name() || value.contains('%') {
                return None;
            }
            if *value == NULL_PARTITION {
                return ScalarValue::try_from(field.data_type()).ok();
            }
            ScalarValue::try_from_string(value.to_string(), field.data_type()).ok()
        })
        .collect()
}

/// Partition values in ascending order, NULL after every value.
fn compare_values(a: &[ScalarValue], b: &[ScalarValue]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[async_trait::async_trait]
impl TableProvider for PartitionedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let names = self.partition_names();
        // Filters on partition columns alone choose the files (and are
        // reported exact); the rest reach Parquet through DataFusion's own
        // pushdown above this scan.
        let pruning: Vec<Expr> = filters
            .iter()
            .filter(|f| helpers::expr_applicable_for_cols(&names, f))
            .cloned()
            .collect();
        let partition_schema = DFSchema::from_unqualified_fields(
            self.partition_fields
                .iter()
                .map(|f| Field::new(f.name(), f.data_type().clone(), true))
                .collect(),
            Default::default(),
        )?;
        let mut kept = Vec::with_capacity(self.files.len());
        for f in &self.files {
            let probe = PartitionedFile::new(f.path.to_string(), f.bytes)
                .with_partition_values(f.values.clone());
            if pruning.is_empty()
                || helpers::filter_partitioned_file(probe, &pruning, &partition_schema)?.is_some()
            {
                kept.push(f);
            }
        }
        let streams = state.config().target_partitions();
        let (groups, hashed) = self.groups(&kept, streams)?;

        let order = LexOrdering::new(self.partition_columns().into_iter().map(|c| {
            PhysicalSortExpr::new(
                c,
                SortOptions {
                    descending: false,
                    nulls_first: false,
                },
            )
        }));
        let mut table_stats = Statistics::new_unknown(&self.schema);
        table_stats.num_rows = Precision::Inexact(kept.iter().map(|f| f.rows as usize).sum());

        let format = ParquetFormat::default();
        let source = format.file_source(
            TableSchema::builder(self.file_schema.clone())
                .with_table_partition_cols(self.partition_fields.clone())
                .build(),
        );
        let config = FileScanConfigBuilder::new(self.url.object_store(), source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_statistics(table_stats)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .with_output_ordering(order.into_iter().collect())
            .with_output_partitioning(
                hashed.then(|| Partitioning::Hash(self.partition_columns(), streams)),
            )
            .build();
        format.create_physical_plan(state, config).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        Ok(filters
            .iter()
            .map(|f| {
                if helpers::expr_applicable_for_cols(&names, f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<FieldRef> {
        ["year", "month", "day"]
            .iter()
            .map(|n| Arc::new(Field::new(*n, DataType::Int32, true)))
            .collect()
    }

    #[test]
    fn folder_values_are_typed_and_the_default_partition_is_null() {
        let v = partition_values("year=2024/month=1/day=15/part-0.parquet", &fields()).unwrap();
        assert_eq!(
            v,
            vec![
                ScalarValue::Int32(Some(2024)),
                ScalarValue::Int32(Some(1)),
                ScalarValue::Int32(Some(15))
            ]
        );
        let v = partition_values(
            "year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__/p.parquet",
            &fields(),
        )
        .unwrap();
        assert!(v.iter().all(ScalarValue::is_null));
        assert!(partition_values("year=2024/day=1/p.parquet", &fields()).is_none());
        assert!(partition_values("year=2024/month=x/day=1/p.parquet", &fields()).is_none());
    }

    #[test]
    fn numeric_order_with_null_last() {
        let a = partition_values("year=2024/month=2/day=1/p", &fields()).unwrap();
        let b = partition_values("year=2024/month=10/day=1/p", &fields()).unwrap();
        let n = vec![ScalarValue::Int32(None); 3];
        assert_eq!(compare_values(&a, &b), Ordering::Less);
        assert_eq!(compare_values(&b, &n), Ordering::Less);
        assert_eq!(compare_values(&n, &a), Ordering::Greater);
    }
}
