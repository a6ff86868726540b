//! Connecting to the legacy PostgreSQL: a URL completed by the standard
//! `PG*` variables, TLS through rustls, read-only sessions, and bounded
//! retries of transient failures. The password never appears in any message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::redact_url;
use crate::error::{Error, Result};

/// The database the contract names, used when the URL names none.
const DEFAULT_DATABASE: &str = "legacy_sales_db";

/// A connection, and why the server closed it if it did: PostgreSQL sends
/// its reason (e.g. "terminating connection due to administrator command")
/// to the connection, while the request in flight only sees it closed.
pub struct PgSession {
    client: Client,
    closed: Arc<Mutex<Option<String>>>,
    display: String,
}

impl std::ops::Deref for PgSession {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl PgSession {
    /// A failed request as Strata's error, with the server's reason for
    /// closing the connection when that is what failed it.
    pub fn error(&self, e: tokio_postgres::Error) -> Error {
        if e.as_db_error().is_none() {
            // The connection task records the reason as it ends; give it a moment.
            for _ in 0..20 {
                if let Some(reason) = self.closed.lock().expect("lock").clone() {
                    return Error::source_caused(format!("{}: {reason}", self.display), e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        describe(&self.display, e)
    }
}

/// How to reach the legacy server.
#[derive(Clone)]
pub struct PgConnector {
    pub(super) config: Config,
    pub(super) tls: Tls,
    /// The URL with its password hidden, for messages.
    display: String,
    /// An exported snapshot every scan imports (see [`PgEnv::snapshot`]).
    snapshot: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Tls {
    Disable,
    /// Encrypt if the server offers it (`prefer`) or insist (`require`), without checking the certificate, as libpq does.
    Unverified,
    /// `verify-ca` / `verify-full`: the certificate must chain to a trusted root and name the host.
    Verified,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConnector({})", self.display)
    }
}

pub use crate::config::PgEnv;

impl PgConnector {
    /// Parses a `postgres://` URL; what it leaves out comes from `PG*`
    /// variables, then libpq's defaults (local socket, user `postgres`),
    /// and the database defaults to `legacy_sales_db`.
    pub fn new(url: &str, env: &PgEnv) -> Result<Self> {
        let display = redact_url(url);
        // sslmode is handled here (tokio-postgres knows no verify-*).
        let (base, sslmode) = take_query_param(url, "sslmode");
        let sslmode = sslmode.or_else(|| env.sslmode.clone());
        let mut config: Config = base
            .parse()
            .map_err(|e: tokio_postgres::Error| Error::Config(format!("source {display}: {e}")))?;
        if config.get_hosts().is_empty() {
            match &env.host {
                Some(h) => {
                    config.host(h);
                }
                None => {
                    config.host("/var/run/postgresql");
                }
            }
        }
        if config.get_ports().is_empty()
            && let Some(p) = &env.port
        {
            let port = p
                .parse()
                .map_err(|_| Error::Config(format!("PGPORT `{p}` is not a port number")))?;
            config.port(port);
        }
        if config.get_user().is_none() {
            config.user(env.user.as_deref().unwrap_or("postgres"));
        }
        if config.get_password().is_none()
            && let Some(p) = &env.password
        {
            config.password(p);
        }
        if config.get_dbname().is_none() {
            config.dbname(env.database.as_deref().unwrap_or(DEFAULT_DATABASE));
        }
        config.application_name("strata");
        config.connect_timeout(Duration::from_secs(10));
        let tls = match sslmode.as_deref().unwrap_or("prefer") {
            "disable" => Tls::Disable,
            "allow" | "prefer" => {
                config.ssl_mode(SslMode::Prefer);
                Tls::Unverified
            }
            "require" => {
                config.ssl_mode(SslMode::Require);
                Tls::Unverified
            }
            "verify-ca" | "verify-full" => {
                config.ssl_mode(SslMode::Require);
                Tls::Verified
            }
            other => {
                return Err(Error::Config(format!(
                    "source {display}: unknown sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
                )));
            }
        };
        Ok(PgConnector {
            config,
            tls,
            display,
            snapshot: env.snapshot.clone(),
        })
    }

    /// The same server, another database (for `CREATE DATABASE`).
    pub fn with_database(&self, db: &str) -> Self {
        let mut c = self.clone();
        c.config.dbname(db);
        c
    }

    /// The exported snapshot every scan reads in, when one is set.
    pub fn snapshot(&self) -> Option<&str> {
        self.snapshot.as_deref()
    }

    /// The database this connects to.
    pub fn database(&self) -> &str {
        self.config.get_dbname().unwrap_or(DEFAULT_DATABASE)
    }

    /// The URL with its password hidden.
    pub fn describe(&self) -> &str {
        &self.display
    }

    /// Connects, retrying transient failures (refused, reset, the server
    /// starting or shutting down) with exponential backoff, 5 attempts.
    pub async fn connect(&self) -> Result<PgSession> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.connect_once().await {
                Ok(c) => return Ok(c),
                Err(e) if attempt < 5 && is_transient(&e) => {
                    tracing::warn!(source = %self.display, attempt, error = %e, "connection failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Connects for reading: the session can write nothing.
    pub async fn connect_read_only(&self) -> Result<PgSession> {
        let session = self.connect().await?;
        session
            .batch_execute("SET default_transaction_read_only = on")
            .await
            .map_err(|e| session.error(e))?;
        Ok(session)
    }

    async fn connect_once(&self) -> std::result::Result<PgSession, tokio_postgres::Error> {
        let closed = Arc::new(Mutex::new(None));
        let slot = closed.clone();
        let source_name = self.display.clone();
        let record = move |result: std::result::Result<(), tokio_postgres::Error>| {
            if let Err(e) = result {
                tracing::debug!(source = %source_name, error = %e, "connection closed");
                *slot.lock().expect("lock") = Some(detail(&e));
            }
        };
        let client = match self.tls {
            Tls::Disable => {
                let (client, conn) = self.config.connect(NoTls).await?;
                tokio::spawn(async move { record(conn.await) });
                client
            }
            Tls::Unverified | Tls::Verified => {
                let tls = MakeRustlsConnect::new(self.rustls_config());
                let (client, conn) = self.config.connect(tls).await?;
                tokio::spawn(async move { record(conn.await) });
                client
            }
        };
        Ok(PgSession {
            client,
            closed,
            display: self.display.clone(),
        })
    }

    pub(super) fn rustls_config(&self) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        if self.tls == Tls::Verified {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        }
    }

    /// A PostgreSQL error as Strata's, with the server's message and no secret.
    pub fn error(&self, e: tokio_postgres::Error) -> Error {
        describe(&self.display, e)
    }
}

fn describe(display: &str, e: tokio_postgres::Error) -> Error {
    let message = format!("{display}: {}", detail(&e));
    Error::source_caused(message, e)
}

/// The server's message and SQLSTATE, or the whole chain of causes.
fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                source = s.source();
            }
            text
        }
    }
}

/// Failures worth another attempt: the network, or a server that is
/// starting, shutting down or out of connections.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::NotFound
            );
        }
        source = s.source();
    }
    e.is_closed()
}

/// Splits `key=value` out of a URL's query string.
fn take_query_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, value)
}

/// libpq's `sslmode=require`: encryption without certificate checks.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_gaps_are_filled_from_the_environment() {
        let env = PgEnv {
            host: Some("db.internal".into()),
            user: Some("reader".into()),
            password: Some("s3cret".into()),
            ..Default::default()
        };
        let c = PgConnector::new("postgres://", &env).unwrap();
        assert_eq!(c.config.get_user(), Some("reader"));
        assert_eq!(c.database(), DEFAULT_DATABASE);
        let c = PgConnector::new("postgres://me:pw@h:5433/other?sslmode=disable", &env).unwrap();
        assert_eq!(c.config.get_user(), Some("me"));
        assert_eq!(c.database(), "other");
        assert_eq!(c.tls, Tls::Disable);
        assert_eq!(
            c.describe(),
            "postgres://me:***@h:5433/other?sslmode=disable"
        );
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn sslmodes() {
        let env = PgEnv::default();
        let mode = |m: &str| {
            PgConnector::new(&format!("postgres://h/db?sslmode={m}"), &env).map(|c| c.tls)
        };
        assert_eq!(mode("require").unwrap(), Tls::Unverified);
        assert_eq!(mode("verify-full").unwrap(), Tls::Verified);
        assert!(mode("sometimes").is_err());
    }
}
