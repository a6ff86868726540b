//! Making the lake's tables queryable: each manifest becomes a table in the
//! DataFusion session, under its layer's schema.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Column, TableReference};
use datafusion::datasource::ViewTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, lit};
use datafusion::prelude::nullif;
use object_store::path::Path;

use super::manifest::{Format, TableManifest};
use super::{Lake, NULL_PARTITION};
use crate::error::{Error, Result};
use crate::source::csv::{CsvFile, csv_table};

/// Builds the provider that reads a table as its manifest describes it.
///
/// Partitioned Parquet tables are read by a `ListingTable` whose partition
/// columns are text, under a view that turns `__HIVE_DEFAULT_PARTITION__`
/// into NULL and casts to the declared type. DataFusion's listing cannot do
/// that itself (it would fail to parse the NULL folder as an integer); the
/// optimizer inlines the view, so filters on partition columns still prune
/// folders.
pub fn table_provider(lake: &Lake, m: &TableManifest) -> Result<Arc<dyn TableProvider>> {
    let schema = m.schema()?;
    let table_dir = Path::from(m.table.replacen('.', "/", 1));
    match m.format {
        Format::Csv => {
            if !m.partition_by.is_empty() {
                return Err(Error::Lake {
                    key: m.table.clone(),
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
                        path,
                    }
                })
                .collect();
            Ok(Arc::new(csv_table(schema, files)?))
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
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(
                    m.partition_by
                        .iter()
                        .map(|p| (p.clone(), DataType::Utf8))
                        .collect(),
                );
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(file_schema);
            let listing = Arc::new(ListingTable::try_new(config)?);
            if m.partition_by.is_empty() {
                return Ok(listing);
            }
            let scan_name = TableReference::bare(format!("{}__files", m.table.replace('.', "__")));
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

/// Registers (or replaces) a lake table in its layer's schema.
pub fn register(schema: &Arc<dyn SchemaProvider>, lake: &Lake, m: &TableManifest) -> Result<()> {
    let name = m
        .table
        .split_once('.')
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| m.table.clone());
    let provider = table_provider(lake, m)?;
    schema.deregister_table(&name)?;
    schema.register_table(name, provider)?;
    Ok(())
}
