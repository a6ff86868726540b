//! Making the lake's tables queryable: each manifest becomes a table in the
//! DataFusion session, under its layer's schema.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Column, DFSchema, ScalarValue, TableReference};
use datafusion::datasource::ViewTable;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{EmptyRelation, Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};
use datafusion::prelude::nullif;
use object_store::path::Path;

use crate::engine::partitioned::PartitionedTable;
use crate::error::{Error, Result};
use crate::lake::manifest::{Format, TableManifest};
use crate::lake::{Lake, NULL_PARTITION, TableId, versions};
use crate::source::csv::{CsvFile, CsvTable};
use datafusion::catalog::{ScanArgs, ScanResult, Session};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::physical_plan::ExecutionPlan;

/// Builds the provider that reads a table as its manifest describes it.
///
/// Partitioned Parquet tables are read by a `ListingTable` whose partition
/// columns are text, under a view that turns `__HIVE_DEFAULT_PARTITION__`
/// into NULL and casts to the declared type. DataFusion's listing cannot do
/// that itself (it would fail to parse the NULL folder as an integer); the
/// optimizer inlines the view, so filters on partition columns still prune
/// folders.
pub(crate) fn table_provider(
    lake: &Arc<Lake>,
    m: &TableManifest,
    guard: bool,
) -> Result<Arc<dyn TableProvider>> {
    let schema = m.schema()?;
    let table_dir = m.table.key();
    match m.format {
        Format::Csv => {
            if !m.partition_by.is_empty() {
                return Err(Error::Lake {
                    key: m.table.to_string(),
                    message: "CSV tables cannot be partitioned".into(),
                });
            }
            let files = m
                .files
                .iter()
                .map(|f| {
                    let path = Path::from(format!("{table_dir}/{}", f.key));
                    CsvFile {
                        store: lake.store().clone(),
                        display: path.to_string(),
                        url: Some(format!("{}{path}", lake.url())),
                        path,
                    }
                })
                .collect();
            Ok(Arc::new(CsvTable::new(schema, files)))
        }
        Format::Parquet => {
            let file_fields: Vec<_> = schema
                .fields()
                .iter()
                .filter(|f| !m.partition_by.contains(f.name()))
                .cloned()
                .collect();
            let file_schema = Arc::new(Schema::new(file_fields));
            let url = ListingTableUrl::parse(format!("{}{table_dir}/", lake.url()))?;
            // Ballista ships a plan's tables to executors as protobuf, which
            // knows listing tables only.
            if guard && let Some(table) = PartitionedTable::try_new(m, schema.clone(), url.clone())
            {
                let pinned: Arc<dyn TableProvider> = Arc::new(Pinned {
                    inner: Arc::new(table),
                    lake: lake.clone(),
                    table: m.table.clone(),
                    version: m.version,
                });
                return in_table_order(pinned, m, &schema);
            }
            // The folder holds the files of every kept version; this
            // version's carry its tag, so the listing reads exactly them.
            // A version that kept files of earlier runs (a bronze that
            // `strata sync` updated in place) cannot be listed so: refused
            // when read, rather than read in part.
            // Ballista ships a plan's tables to executors as protobuf, which
            // knows listing tables only; there the check is not made.
            let pin = |listing: Arc<dyn TableProvider>| -> Arc<dyn TableProvider> {
                if guard {
                    Arc::new(Pinned {
                        inner: listing,
                        lake: lake.clone(),
                        table: m.table.clone(),
                        version: m.version,
                    })
                } else {
                    listing
                }
            };
            let extension = m.parquet_suffix();
            let several_runs = m.files.iter().any(|f| !f.key.ends_with(&extension));
            if several_runs && !guard {
                return Ok(Arc::new(Unlistable {
                    schema,
                    table: m.table.to_string(),
                }));
            }
            // Files in folders that are no columns (hidden partitions), which
            // a listing of the table's folder passes over as Hive does, or of
            // several runs (a table updated in place): read by their paths.
            if several_runs || !m.hidden_partition_by.is_empty() {
                if m.files.is_empty() {
                    return Ok(Arc::new(EmptyTable::new(schema)));
                }
                let urls = m
                    .files
                    .iter()
                    .map(|f| ListingTableUrl::parse(format!("{}{table_dir}/{}", lake.url(), f.key)))
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(options)
                    .with_schema(file_schema);
                return Ok(pin(Arc::new(ListingTable::try_new(config)?)));
            }
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(extension)
                .with_table_partition_cols(
                    m.partition_by
                        .iter()
                        .map(|p| (p.clone(), DataType::Utf8))
                        .collect(),
                );
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(file_schema);
            let listing = pin(Arc::new(ListingTable::try_new(config)?));
            if m.partition_by.is_empty() {
                return Ok(listing);
            }
            let scan_name =
                TableReference::bare(format!("{}__{}__files", m.table.layer, m.table.name));
            let columns: Vec<Expr> = schema
                .fields()
                .iter()
                .map(|f| {
                    let c = Expr::Column(Column::new(Some(scan_name.clone()), f.name()));
                    if m.partition_by.contains(f.name()) {
                        cast(nullif(c, lit(NULL_PARTITION)), f.data_type().clone()).alias(f.name())
                    } else {
                        c
                    }
                })
                .collect();
            let plan = LogicalPlanBuilder::scan(scan_name, provider_as_source(listing), None)?
                .project(columns)?
                .build()?;
            Ok(Arc::new(ViewTable::new(plan, None)))
        }
    }
}

/// `provider` with its columns in the order of `schema` (a table
/// partitioned by a column that is not its last, such as
/// `gold.fact_sales` by `date_key`, is scanned with its partition columns
/// last). A view, which the optimizer inlines, so filters still prune.
fn in_table_order(
    provider: Arc<dyn TableProvider>,
    m: &TableManifest,
    schema: &Schema,
) -> Result<Arc<dyn TableProvider>> {
    let same = provider
        .schema()
        .fields()
        .iter()
        .zip(schema.fields())
        .all(|(a, b)| a.name() == b.name());
    if same {
        return Ok(provider);
    }
    let scan_name = TableReference::bare(format!("{}__{}__files", m.table.layer, m.table.name));
    let columns: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::new(Some(scan_name.clone()), f.name())))
        .collect();
    let plan = LogicalPlanBuilder::scan(scan_name, provider_as_source(provider), None)?
        .project(columns)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// Athena's pseudo-columns: the URL of the file a row was read from, and
/// that file's size in bytes.
const PSEUDO_COLUMNS: [&str; 2] = ["$path", "$file_size"];

/// Whether a statement names a pseudo-column: a double-quoted identifier
/// (as Athena requires them), read with SQL's tokenizer so that the same
/// text inside a string literal or a comment does not count.
pub fn mentions_pseudo_columns(sql: &str) -> bool {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !PSEUDO_COLUMNS.iter().any(|c| sql.contains(c)) {
        return false;
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return false;
    };
    tokens.iter().any(|t| {
        matches!(t, Token::Word(w) if w.quote_style == Some('"')
            && PSEUDO_COLUMNS.contains(&w.value.as_str()))
    })
}

/// A table's provider with `"$path"` and `"$file_size"` after its columns:
/// a view over one scan per data file, each adding its file's URL and size
/// (and its partition values, read from its key) as constants.
///
/// Athena hides these columns from `SELECT *`; DataFusion has no hidden
/// columns, so the engine uses this provider only for statements that name
/// one of them, and `SELECT *` elsewhere stays as Athena shows it.
pub fn with_file_columns(lake: &Lake, m: &TableManifest) -> Result<Arc<dyn TableProvider>> {
    let schema = m.schema()?;
    let table_dir = m.table.key();
    let file_schema = m.file_schema()?;
    let mut plans = Vec::with_capacity(m.files.len());
    for (i, file) in m.files.iter().enumerate() {
        let key = format!("{table_dir}/{}", file.key);
        let url = format!("{}{key}", lake.url());
        let provider: Arc<dyn TableProvider> = match m.format {
            Format::Csv => {
                let path = Path::from(key.as_str());
                Arc::new(CsvTable::new(
                    file_schema.clone(),
                    vec![CsvFile {
                        store: lake.store().clone(),
                        display: path.to_string(),
                        url: Some(url.clone()),
                        path,
                    }],
                ))
            }
            Format::Parquet => {
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet");
                let config = ListingTableConfig::new(ListingTableUrl::parse(&url)?)
                    .with_listing_options(options)
                    .with_schema(file_schema.clone());
                Arc::new(ListingTable::try_new(config)?)
            }
        };
        let partition_values: std::collections::HashMap<&str, &str> = file
            .key
            .split('/')
            .filter_map(|segment| segment.split_once('='))
            .collect();
        let scan_name =
            TableReference::bare(format!("{}__{}__file{i}", m.table.layer, m.table.name));
        let mut columns: Vec<Expr> = Vec::with_capacity(schema.fields().len() + 2);
        for f in schema.fields() {
            let c = if m.partition_by.contains(f.name()) {
                match partition_values.get(f.name().as_str()) {
                    Some(v) if *v != NULL_PARTITION => cast(lit(*v), f.data_type().clone()),
                    _ => cast(lit(ScalarValue::Utf8(None)), f.data_type().clone()),
                }
            } else {
                Expr::Column(Column::new(Some(scan_name.clone()), f.name()))
            };
            columns.push(c.alias(f.name()));
        }
        columns.push(lit(url).alias(PSEUDO_COLUMNS[0]));
        columns.push(lit(file.bytes as i64).alias(PSEUDO_COLUMNS[1]));
        plans.push(
            LogicalPlanBuilder::scan(scan_name, provider_as_source(provider), None)?
                .project(columns)?
                .build()?,
        );
    }
    let plan = match plans.len() {
        0 => {
            // No files: an empty relation with the full schema.
            let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new(
                PSEUDO_COLUMNS[0],
                DataType::Utf8,
                false,
            )));
            fields.push(Arc::new(Field::new(
                PSEUDO_COLUMNS[1],
                DataType::Int64,
                false,
            )));
            LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::try_from(Schema::new(fields))?),
            })
        }
        _ => {
            let mut plans = plans.into_iter();
            let mut builder = LogicalPlanBuilder::from(plans.next().expect("one plan at least"));
            for p in plans {
                builder = builder.union(p)?;
            }
            builder.build()?
        }
    };
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// Registers (or replaces) a lake table in its layer's schema, under its
/// own name or `name` (a version read by time travel). `guard`: check at
/// each scan that the version is still kept.
pub fn register(
    schema: &Arc<dyn SchemaProvider>,
    lake: &Arc<Lake>,
    m: &TableManifest,
    name: &str,
    guard: bool,
) -> Result<()> {
    let provider = table_provider(lake, m, guard)?;
    schema.deregister_table(name)?;
    schema.register_table(name.to_string(), provider)?;
    Ok(())
}

/// A version's files, read only while the version is kept: a query that
/// starts after `strata vacuum` expired its version fails saying so,
/// instead of listing no files and answering with an empty table.
#[derive(Debug)]
struct Pinned {
    inner: Arc<dyn TableProvider>,
    lake: Arc<Lake>,
    table: TableId,
    version: u64,
}

impl Pinned {
    async fn check(&self) -> datafusion::error::Result<()> {
        let kept = versions::is_kept(&self.lake, &self.table, self.version)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if kept {
            return Ok(());
        }
        Err(DataFusionError::External(Box::new(Error::Lake {
            key: self.table.to_string(),
            message: format!(
                "version {} was vacuumed while this query read it; run the query again \
                 to read the current version",
                self.version
            ),
        })))
    }
}

#[async_trait::async_trait]
impl TableProvider for Pinned {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.check().await?;
        self.inner.scan(state, projection, filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> datafusion::error::Result<ScanResult> {
        self.check().await?;
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_columns_are_names_not_text() {
        assert!(mentions_pseudo_columns(
            "SELECT \"$path\" FROM gold.dim_date"
        ));
        assert!(mentions_pseudo_columns(
            "SELECT count(*) FROM t GROUP BY \"$file_size\""
        ));
        assert!(!mentions_pseudo_columns("SELECT '\"$path\"' AS literal"));
        assert!(!mentions_pseudo_columns("SELECT 1 -- \"$path\""));
        assert!(!mentions_pseudo_columns("SELECT path FROM t"));
    }
}

/// A table a distributed session cannot read: its version lists files of
/// several runs, and Ballista's executors read a folder by the version's
/// file tag. Its scans fail, naming it.
#[derive(Debug)]
struct Unlistable {
    schema: datafusion::arrow::datatypes::SchemaRef,
    table: String,
}

#[async_trait::async_trait]
impl TableProvider for Unlistable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(format!(
            "{}: this version keeps files of several runs (`strata sync` updates it in place), \
             which a Ballista session cannot list; query it with --engine local",
            self.table
        )))
    }
}
