//! `strata serve`: the lake over the network. PostgreSQL's wire protocol
//! lets psql, BI tools and any PostgreSQL driver query every lake table in
//! the same dialect and session as `strata sql`, read-only.

mod encode;
mod http;
mod metrics;
mod pg_catalog;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lake::Lake;

/// The addresses a server listens on, ports resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    /// PostgreSQL's wire protocol.
    pub postgres: SocketAddr,
    /// HTTP (the live dashboard, `/metrics`, `/health`), unless turned off.
    pub http: Option<SocketAddr>,
}

/// Serves the lake until `stop` resolves; `ready` is told the addresses
/// listened on (the ports, when 0 was asked for) once clients can connect.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(Listening),
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    config.serve.check()?;
    let tls = match &config.serve.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let lake = Arc::new(Lake::open(&config.lake, &config.s3)?);
    let listener = TcpListener::bind(config.serve.listen)
        .await
        .map_err(|e| Error::io(config.serve.listen.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io(config.serve.listen.to_string(), e))?;
    let http = match config.serve.http {
        Some(at) => {
            let listener = TcpListener::bind(at)
                .await
                .map_err(|e| Error::io(at.to_string(), e))?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::io(at.to_string(), e))?;
            Some((listener, addr))
        }
        None => None,
    };
    let queries = QueryRuntime::start(config.resources.threads)?;
    let shared = Arc::new(wire::Shared::new(config, lake, queries.handle()));
    // Both sides stop together: the HTTP loop when `stop` resolves, through
    // this channel.
    let (stopped, stopping) = tokio::sync::watch::channel(false);
    ready(Listening {
        postgres: addr,
        http: http.as_ref().map(|(_, a)| *a),
    });
    if let Some((listener, _)) = http {
        let mut stopping = stopping.clone();
        tokio::spawn(http::serve(
            listener,
            shared.clone(),
            tls.clone(),
            async move {
                let _ = stopping.wait_for(|s| *s).await;
            },
        ));
    }
    let stop = async move {
        stop.await;
        let _ = stopped.send(true);
    };
    tokio::pin!(stop);
    while let Some((socket, peer)) = accept(&listener, stop.as_mut()).await {
        let handlers = Arc::new(wire::Handlers::new(&shared));
        let tls = tls.clone();
        tokio::spawn(async move {
            tracing::debug!(%peer, "client connected");
            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    Ok(())
}

/// The next client, or `None` once `stop` resolves. A failed accept (a
/// client gone mid-handshake, too many open files) is logged and the
/// server goes on.
pub(crate) async fn accept(
    listener: &TcpListener,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Option<(tokio::net::TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => return Some(a),
                Err(e) => tracing::warn!(error = %e, "accepting a connection failed"),
            },
            () = &mut stop => return None,
        }
    }
}

/// The threads statements run on, apart from those that speak to clients.
/// Tokio cannot preempt a task, and an operator busy with a large join
/// keeps its thread until it yields: on the same threads, a CancelRequest,
/// a timeout and every other client would wait for it.
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl QueryRuntime {
    fn start(threads: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("strata-query")
            .enable_all()
            .build()
            .map_err(|e| Error::io("the query threads", e))?;
        Ok(QueryRuntime(Some(runtime)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.0
            .as_ref()
            .map(|r| r.handle().clone())
            .expect("the runtime lives until drop")
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropped inside the serving runtime, where waiting for the query
        // threads is not allowed; interrupted statements end on their own.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A TLS acceptor from a PEM certificate chain and key.
fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<pgwire::tokio::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::Config(format!(
                "{}: not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Config(format!("{}: not a PEM private key: {e}", key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Config(format!("TLS: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| Error::Config(format!("{}: {e}", cert.display())))?;
    Ok(pgwire::tokio::TlsAcceptor::from(Arc::new(config)))
}
