//! The legacy source: what `legacy.*` means in SQL.
//!
//! The models only ever read `legacy.sales`; which system stands behind that
//! name is configuration. With no database configured it is the shipped CSV
//! fixture, read with the contract's exact column types.

/// The methods every scan of a source shares as a leaf of a plan: no
/// children, no expressions, its `properties` field.
macro_rules! leaf_plan {
    () => {
        fn properties(&self) -> &::std::sync::Arc<::datafusion::physical_plan::PlanProperties> {
            &self.properties
        }

        fn children(&self) -> Vec<&::std::sync::Arc<dyn ExecutionPlan>> {
            vec![]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(
                &::std::sync::Arc<dyn ::datafusion::physical_expr::PhysicalExpr>,
            ) -> ::datafusion::error::Result<
                ::datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> ::datafusion::error::Result<::datafusion::common::tree_node::TreeNodeRecursion> {
            Ok(::datafusion::common::tree_node::TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: ::std::sync::Arc<Self>,
            _: Vec<::std::sync::Arc<dyn ExecutionPlan>>,
            _: ::datafusion::physical_plan::ReplaceChildrenOptions,
        ) -> ::datafusion::error::Result<::std::sync::Arc<dyn ExecutionPlan>> {
            Ok(self)
        }

        fn with_new_children(
            self: ::std::sync::Arc<Self>,
            children: Vec<::std::sync::Arc<dyn ExecutionPlan>>,
        ) -> ::datafusion::error::Result<::std::sync::Arc<dyn ExecutionPlan>> {
            self.replace_children(
                children,
                ::datafusion::physical_plan::ReplaceChildrenOptions::new(
                    ::datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
                ),
            )
        }
    };
}

pub(crate) mod csv;
pub mod postgres;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::config::{PgEnv, SourceSpec};
use crate::error::{Error, Result};

/// The SQL schema the source's tables are registered under.
pub const SCHEMA: &str = "legacy";

/// The legacy `public.sales` table's columns, exactly as the contract types them.
pub fn sales_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("sale_id", DataType::Int64, false),
        Field::new("sale_date", DataType::Utf8, false),
        Field::new("customer_id", DataType::Int32, false),
        Field::new("customer_name", DataType::Utf8, true),
        Field::new("product_id", DataType::Int32, false),
        Field::new("product_name", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("seller_id", DataType::Int32, false),
        Field::new("seller_name", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("quantity", DataType::Int32, false),
        Field::new("unit_price", DataType::Decimal128(12, 2), false),
        Field::new("total_value", DataType::Decimal128(14, 2), false),
        Field::new(
            "updated_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]))
}

/// The `legacy` schema when the source could not be opened: it lists no
/// tables, and a statement naming one of its tables fails with the reason
/// the source could not be opened (not with "table not found").
#[derive(Debug)]
pub struct Unavailable {
    reason: String,
}

impl Unavailable {
    /// A schema standing for a source that failed with `reason`.
    pub fn new(reason: String) -> Self {
        Unavailable { reason }
    }
}

#[async_trait::async_trait]
impl SchemaProvider for Unavailable {
    fn table_names(&self) -> Vec<String> {
        vec![]
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::error::Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        // External, not Plan: the reason is not a planning mistake, and the
        // user's message drops DataFusion's "External error:" wrapper.
        Err(datafusion::error::DataFusionError::External(
            format!(
                "{SCHEMA}.{name}: the legacy source is unavailable: {}",
                self.reason
            )
            .into(),
        ))
    }

    fn table_exist(&self, _name: &str) -> bool {
        // Every name "exists", so planning asks for it and gets the reason.
        true
    }
}

/// Builds the `legacy` schema for a source.
pub async fn schema_provider(spec: &SourceSpec, pg_env: &PgEnv) -> Result<Arc<dyn SchemaProvider>> {
    let provider = Arc::new(MemorySchemaProvider::new());
    match spec {
        SourceSpec::Csv(path) => {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "source CSV {} does not exist (generate one with `strata fixtures --out {}`)",
                    path.display(),
                    path.display()
                )));
            }
            let location = Path::from_absolute_path(path)
                .map_err(|e| Error::Config(format!("source CSV {}: {e}", path.display())))?;
            let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
            // The legacy source stays in this process, like a database
            // connection: no URL for executors.
            let table = csv::CsvTable::new(
                sales_schema(),
                vec![csv::CsvFile {
                    store,
                    path: location,
                    display: path.display().to_string(),
                    url: None,
                }],
            );
            provider.register_table("sales".into(), Arc::new(table))?;
        }
        SourceSpec::Postgres(url) => {
            let connector = postgres::connect::PgConnector::new(url, pg_env)?;
            return postgres::schema_provider(Arc::new(connector)).await;
        }
    }
    Ok(provider)
}
