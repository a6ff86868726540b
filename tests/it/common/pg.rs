//! The PostgreSQL server the tests talk to: `DATABASE_URL` when set,
//! otherwise one throwaway cluster per test binary, started on first use.

use std::sync::OnceLock;

use strata::testing::Cluster;

enum Server {
    External(String),
    Throwaway(Cluster),
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Server::External(url),
        _ => Server::Throwaway(Cluster::start().expect("start a throwaway PostgreSQL cluster")),
    })
}

/// A URL for `database` on the test server (the database may not exist yet).
pub fn url(database: &str) -> String {
    match server() {
        Server::Throwaway(c) => c.url(database),
        Server::External(url) => {
            let (base, query) = match url.split_once('?') {
                Some((b, q)) => (b, format!("?{q}")),
                None => (url.as_str(), String::new()),
            };
            let authority_end = base.find("://").map_or(0, |i| i + 3);
            let root = match base[authority_end..].find('/') {
                Some(slash) => &base[..authority_end + slash],
                None => base,
            };
            format!("{root}/{database}{query}")
        }
    }
}

/// The throwaway server's password, when the tests started it.
pub fn password() -> Option<String> {
    match server() {
        Server::Throwaway(c) => Some(c.password().to_string()),
        Server::External(_) => None,
    }
}

/// A plain client to the test server, for setting up tables.
pub async fn client(database: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&url(database), tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(conn);
    client
}

/// Creates an empty database (dropping one of the same name).
pub async fn fresh_database(name: &str) -> String {
    let admin = client("postgres").await;
    // Separate statements: DROP/CREATE DATABASE refuse a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .expect("create the test database");
    }
    url(name)
}

/// Seeds `sales` generated sales (seed `seed`) into the database of `url`.
pub fn seed(project: &super::Project, url: &str, sales: u64, seed: u64) {
    project.strata_ok(&[
        "seed",
        "--database-url",
        url,
        "--replace",
        "--sales",
        &sales.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
}
