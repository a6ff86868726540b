//! A session that sees some tables differently from the engine's: the same
//! functions, settings and every other table, with a few names bound to
//! other providers. How a build reads only a slice of its input, how
//! `strata sync` runs the bronze model over a batch of changed rows, and
//! how a statement naming `"$path"` reads tables with their file columns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::error::Result as DfResult;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use super::CATALOG;
use crate::error::{Error, Result};

/// A schema whose named tables are replaced, the rest read through.
#[derive(Debug)]
struct OverlaySchema {
    inner: Arc<dyn SchemaProvider>,
    tables: HashMap<String, Arc<dyn TableProvider>>,
}

#[async_trait::async_trait]
impl SchemaProvider for OverlaySchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.extend(
            self.tables
                .keys()
                .filter(|t| !self.inner.table_exist(t))
                .cloned(),
        );
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        match self.tables.get(name) {
            Some(t) => Ok(Some(t.clone())),
            None => self.inner.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.inner.table_exist(name)
    }
}

/// `ctx`'s session with each `(schema, table)` of `tables` read from the
/// provider given (a schema `ctx` lacks is created). Nothing is copied:
/// other tables resolve through `ctx`'s own catalog.
pub(crate) fn overlay(
    ctx: &SessionContext,
    tables: Vec<((String, String), Arc<dyn TableProvider>)>,
) -> Result<SessionContext> {
    let ours = ctx
        .catalog(CATALOG)
        .ok_or_else(|| Error::Internal("the session has no catalog".into()))?;
    let mut by_schema: BTreeMap<String, HashMap<String, Arc<dyn TableProvider>>> = BTreeMap::new();
    for ((schema, table), provider) in tables {
        by_schema.entry(schema).or_default().insert(table, provider);
    }
    let catalog = MemoryCatalogProvider::new();
    for name in ours.schema_names() {
        if let Some(s) = ours.schema(&name) {
            catalog.register_schema(&name, s)?;
        }
    }
    for (name, tables) in by_schema {
        let inner = ours
            .schema(&name)
            .unwrap_or_else(|| Arc::new(MemorySchemaProvider::new()));
        catalog.register_schema(&name, Arc::new(OverlaySchema { inner, tables }))?;
    }
    let catalogs = MemoryCatalogProviderList::new();
    catalogs.register_catalog(CATALOG.to_string(), Arc::new(catalog));
    let state = SessionStateBuilder::new_from_existing(ctx.state())
        .with_catalog_list(Arc::new(catalogs))
        .build();
    Ok(SessionContext::new_with_state(state))
}
