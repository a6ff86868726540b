//! `strata seed`: create the legacy database and load its `sales` table with
//! `COPY FROM STDIN`, from the fixture or freshly generated sales.

use std::time::Instant;

use bytes::Bytes;
use futures::SinkExt;

use super::connect::PgConnector;
use super::table::quote_ident;
use crate::error::{Error, Result};

/// The contract's DDL for the legacy table.
const SALES_DDL: &str = "CREATE TABLE public.sales (
    sale_id       BIGINT        NOT NULL,
    sale_date     VARCHAR(32)   NOT NULL,
    customer_id   INTEGER       NOT NULL,
    customer_name VARCHAR(100),
    product_id    INTEGER       NOT NULL,
    product_name  VARCHAR(100),
    category      VARCHAR(50),
    seller_id     INTEGER       NOT NULL,
    seller_name   VARCHAR(100),
    region        VARCHAR(30),
    quantity      INTEGER       NOT NULL,
    unit_price    NUMERIC(12,2) NOT NULL,
    total_value   NUMERIC(14,2) NOT NULL,
    updated_at    TIMESTAMP     NOT NULL
)";

/// Where the rows come from.
pub enum SeedData {
    /// A CSV file of the contract's shape (e.g. the shipped fixture).
    Csv(std::path::PathBuf),
    /// `strata fixtures` output, generated on the fly.
    Generated(crate::fixtures::FixtureSpec),
}

/// What seeding did.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    /// Rows loaded.
    pub rows: u64,
    /// Whether the database had to be created.
    pub created_database: bool,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Creates the database if missing, (re)creates `public.sales` and loads it.
/// Refuses to replace a table that holds rows unless `replace` is set.
pub async fn seed(connector: &PgConnector, data: SeedData, replace: bool) -> Result<Seeded> {
    let started = Instant::now();
    let db = connector.database().to_string();
    let created_database = ensure_database(connector, &db).await?;
    let client = connector.connect().await?;
    let pg = |e| client.error(e);

    let existing: Option<i64> = client
        .query_opt(
            "SELECT 1::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname = 'sales'",
            &[],
        )
        .await
        .map_err(pg)?
        .map(|r| r.get(0));
    if existing.is_some() && !replace {
        let has_rows = client
            .query_opt("SELECT 1 FROM public.sales LIMIT 1", &[])
            .await
            .map_err(pg)?
            .is_some();
        if has_rows {
            return Err(Error::Config(format!(
                "{}: public.sales already holds rows; pass --replace to drop and reload it",
                connector.describe()
            )));
        }
    }
    client
        .batch_execute(&format!(
            "BEGIN; DROP TABLE IF EXISTS public.sales; {SALES_DDL};"
        ))
        .await
        .map_err(pg)?;
    let sink = client
        .copy_in("COPY public.sales FROM STDIN (FORMAT csv, HEADER true)")
        .await
        .map_err(pg)?;
    futures::pin_mut!(sink);

    // The CSV is produced on a blocking thread and sent in 1 MiB chunks, so
    // any size loads in constant memory.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = ChunkWriter {
            buf: Vec::with_capacity(1 << 20),
            tx,
        };
        match data {
            SeedData::Csv(path) => {
                let mut file = std::fs::File::open(&path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                })?;
                std::io::copy(&mut file, &mut out)?;
            }
            SeedData::Generated(spec) => {
                crate::fixtures::write_fixture(spec, &mut out)?;
            }
        }
        std::io::Write::flush(&mut out)
    });
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.map_err(|e| Error::io("seed data", e))?;
        sink.send(chunk).await.map_err(pg)?;
    }
    producer
        .await
        .map_err(|e| Error::source(format!("seed producer failed: {e}")))?
        .map_err(|e| Error::io("seed data", e))?;
    let rows = sink.as_mut().finish().await.map_err(pg)?;
    client
        .batch_execute("COMMIT; ANALYZE public.sales;")
        .await
        .map_err(pg)?;
    Ok(Seeded {
        rows,
        created_database,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn ensure_database(connector: &PgConnector, db: &str) -> Result<bool> {
    let admin = connector.with_database("postgres");
    let client = admin.connect().await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .await
        .map_err(|e| client.error(e))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(db)))
            .await
            .map_err(|e| client.error(e))?;
    }
    Ok(!exists)
}

struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(1 << 20),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the database stopped accepting rows"))
    }
}
