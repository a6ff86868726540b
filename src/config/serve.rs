//! `strata serve`'s settings: where it listens, who may connect, and TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Where `strata serve` listens by default: loopback, beside a PostgreSQL
/// server's own 5432.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";
/// Where `strata serve`'s HTTP side (dashboard, `/metrics`, `/health`)
/// listens by default.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// The user a client connects as when no other is configured.
pub const DEFAULT_USER: &str = "strata";
/// How long a statement may run by default: long enough for a scan of a
/// large lake, short enough that a forgotten dashboard query ends.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// The server's settings, resolved once: `--listen` > `STRATA_LISTEN` >
/// `[serve] listen`; the password from `STRATA_PASSWORD` or `[serve]
/// password` (never a flag, which other users could read in the process
/// list).
#[derive(Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The address the PostgreSQL protocol listens on.
    pub listen: SocketAddr,
    /// The address the HTTP side listens on; `None` serves no HTTP
    /// (`--http`, `STRATA_HTTP`, `[serve] http`, `off` for none).
    pub http: Option<SocketAddr>,
    /// The one user clients log in as.
    pub user: String,
    /// Its password; without one, only loopback is served, without
    /// authentication.
    pub password: Option<String>,
    /// A certificate chain and its private key (PEM), for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long a statement may work before its first rows, after which
    /// it is cancelled (`STRATA_QUERY_TIMEOUT`, `[serve] query_timeout`).
    pub query_timeout: Duration,
}

impl std::fmt::Debug for ServeConfig {
    /// Everything but the password's value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("http", &self.http)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(set)"))
            .field("tls", &self.tls)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            http: Some(DEFAULT_HTTP.parse().expect("a valid address")),
            user: DEFAULT_USER.into(),
            password: None,
            tls: None,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }
}

/// `[serve]` in `strata.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeText {
    listen: Option<String>,
    http: Option<String>,
    user: Option<String>,
    password: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    query_timeout: Option<String>,
}

/// The environment variables the server reads.
#[derive(Debug, Default, Clone)]
pub struct ServeEnv {
    /// `STRATA_LISTEN`.
    pub listen: Option<String>,
    /// `STRATA_HTTP`.
    pub http: Option<String>,
    /// `STRATA_USER`.
    pub user: Option<String>,
    /// `STRATA_PASSWORD`.
    pub password: Option<String>,
    /// `STRATA_TLS_CERT`.
    pub tls_cert: Option<String>,
    /// `STRATA_TLS_KEY`.
    pub tls_key: Option<String>,
    /// `STRATA_QUERY_TIMEOUT`.
    pub query_timeout: Option<String>,
}

impl ServeConfig {
    /// The settings from the environment over `[serve]` (relative paths
    /// in the file are the project's).
    pub(crate) fn resolve(env: &ServeEnv, file: ServeText, project_dir: &Path) -> Result<Self> {
        let listen = match (&env.listen, &file.listen) {
            (Some(l), _) => parse_listen(l, "STRATA_LISTEN")?,
            (None, Some(l)) => parse_listen(l, "[serve] listen")?,
            (None, None) => ServeConfig::default().listen,
        };
        let http = match (&env.http, &file.http) {
            (Some(h), _) => parse_http(h, "STRATA_HTTP")?,
            (None, Some(h)) => parse_http(h, "[serve] http")?,
            (None, None) => ServeConfig::default().http,
        };
        let cert = env
            .tls_cert
            .as_ref()
            .map(PathBuf::from)
            .or(file.tls_cert.map(|p| project_dir.join(p)));
        let key = env
            .tls_key
            .as_ref()
            .map(PathBuf::from)
            .or(file.tls_key.map(|p| project_dir.join(p)));
        let tls = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(Error::Config(
                    "TLS needs both a certificate and its key (STRATA_TLS_CERT and \
                     STRATA_TLS_KEY, or tls_cert and tls_key under [serve])"
                        .into(),
                ));
            }
        };
        let query_timeout = match (&env.query_timeout, &file.query_timeout) {
            (Some(t), _) => parse_timeout(t, "STRATA_QUERY_TIMEOUT")?,
            (None, Some(t)) => parse_timeout(t, "[serve] query_timeout")?,
            (None, None) => DEFAULT_QUERY_TIMEOUT,
        };
        Ok(ServeConfig {
            query_timeout,
            listen,
            http,
            user: env
                .user
                .clone()
                .or(file.user)
                .unwrap_or_else(|| DEFAULT_USER.into()),
            password: env.password.clone().or(file.password),
            tls,
        })
    }

    /// Refuses to serve anything but loopback without a password: the
    /// lake would be open to anyone who can reach the port.
    pub fn check(&self) -> Result<()> {
        for addr in std::iter::once(self.listen).chain(self.http) {
            if self.password.is_none() && !addr.ip().is_loopback() {
                return Err(Error::Config(format!(
                    "refusing to listen on {addr} without a password: set STRATA_PASSWORD (or \
                     password under [serve] in strata.toml), or listen on 127.0.0.1"
                )));
            }
        }
        if self.listen.port() != 0 && self.http == Some(self.listen) {
            return Err(Error::Config(format!(
                "the PostgreSQL protocol and HTTP cannot both listen on {}",
                self.listen
            )));
        }
        Ok(())
    }
}

fn parse_timeout(text: &str, origin: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim())
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::Config(format!(
                "{origin}: `{text}` is not a duration (e.g. 30s, 10m, 1h)"
            ))
        })
}

/// The HTTP side's address, or `off` for none.
pub fn parse_http(text: &str, origin: &str) -> Result<Option<SocketAddr>> {
    if matches!(text.trim(), "off" | "none" | "false") {
        return Ok(None);
    }
    parse_listen(text, origin).map(Some)
}

/// `host:port`, with `localhost` read as 127.0.0.1.
pub fn parse_listen(text: &str, origin: &str) -> Result<SocketAddr> {
    let text = text.trim();
    let spelled = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    spelled.parse().map_err(|_| {
        Error::Config(format!(
            "{origin}: `{text}` is not an address to listen on (host:port, e.g. {DEFAULT_LISTEN})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_over_the_file_and_a_lone_certificate_is_refused() {
        let env = ServeEnv {
            listen: Some("localhost:6000".into()),
            ..Default::default()
        };
        let file = ServeText {
            listen: Some("0.0.0.0:7000".into()),
            user: Some("bi".into()),
            password: Some("secret".into()),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&env, file, Path::new("/p")).unwrap();
        assert_eq!(c.listen, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(c.user, "bi");
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert!(
            !format!("{c:?}").contains("secret"),
            "Debug hides the password"
        );

        let file = ServeText {
            tls_cert: Some("c.pem".into()),
            ..Default::default()
        };
        let e = ServeConfig::resolve(&ServeEnv::default(), file, Path::new("/p")).unwrap_err();
        assert!(
            e.to_string().contains("both a certificate and its key"),
            "{e}"
        );
    }

    #[test]
    fn only_loopback_is_served_without_a_password() {
        let mut c = ServeConfig::default();
        c.check().unwrap();
        c.listen = "0.0.0.0:5433".parse().unwrap();
        let e = c.check().unwrap_err();
        assert!(e.to_string().contains("without a password"), "{e}");
        c.listen = "127.0.0.1:5433".parse().unwrap();
        c.http = parse_http("0.0.0.0:8080", "--http").unwrap();
        let e = c.check().unwrap_err();
        assert!(e.to_string().contains("on 0.0.0.0:8080 without"), "{e}");
        c.http = parse_http("off", "--http").unwrap();
        c.check().unwrap();
        c.listen = "0.0.0.0:5433".parse().unwrap();
        c.password = Some("x".into());
        c.check().unwrap();
        c.listen = "[::1]:5433".parse().unwrap();
        c.password = None;
        c.check().unwrap();
        assert!(parse_listen("nonsense", "--listen").is_err());
    }
}
