//! The legacy PostgreSQL database as the `legacy` schema: every table and
//! view of its `public` schema, with columns mapped to Arrow types.

pub mod connect;
pub(crate) mod decode;
pub mod replication;
pub mod seed;
pub(crate) mod table;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};

use crate::error::Result;
use connect::PgConnector;
use decode::PgKind;
use table::{PgColumn, PgTable};

/// The schema of the legacy database that is exposed.
const SOURCE_SCHEMA: &str = "public";

/// Lists the relations of `public` and registers each as a table.
pub async fn schema_provider(connector: Arc<PgConnector>) -> Result<Arc<dyn SchemaProvider>> {
    let client = connector.connect_read_only().await?;
    // Domains read as their base type; array columns carry their element type.
    let rows = client
        .query(
            "SELECT c.relname::text, c.relkind::text, a.attname::text,
                    b.typname::text, b.typtype::text,
                    CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
                    e.typname::text, e.typtype::text, a.attnotnull
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
             LEFT JOIN pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum",
            &[&SOURCE_SCHEMA],
        )
        .await
        .map_err(|e| client.error(e))?;
    let mut tables: BTreeMap<String, (String, Vec<PgColumn>)> = BTreeMap::new();
    for row in rows {
        let relname: String = row.get(0);
        let relkind: String = row.get(1);
        let elem_name: Option<String> = row.get(6);
        let elem_type: Option<String> = row.get(7);
        let elem = elem_name.as_deref().zip(elem_type.as_deref());
        let kind = PgKind::from_catalog(
            row.get::<_, &str>(3),
            row.get::<_, &str>(4),
            row.get(5),
            elem,
        );
        tables
            .entry(relname)
            .or_insert_with(|| (relkind, vec![]))
            .1
            .push(PgColumn {
                name: row.get(2),
                kind,
                not_null: row.get(8),
            });
    }
    let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
    let provider = Arc::new(MemorySchemaProvider::new());
    for (name, (relkind, columns)) in tables {
        let table = PgTable::new(
            connector.clone(),
            SOURCE_SCHEMA,
            &name,
            &relkind,
            columns,
            parallelism,
        );
        provider.register_table(name, Arc::new(table))?;
    }
    Ok(provider)
}
