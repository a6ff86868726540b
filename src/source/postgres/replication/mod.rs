//! PostgreSQL's streaming replication protocol, as much of it as logical
//! decoding needs: a connection in `replication=database` mode, its
//! commands (`IDENTIFY_SYSTEM`, `CREATE_REPLICATION_SLOT ... (SNAPSHOT
//! 'export')`, `START_REPLICATION ... LOGICAL`), and the stream of WAL data
//! and keepalives with the standby status updates that confirm progress.
//!
//! tokio-postgres cannot open such a connection, so the messages are
//! framed here; their encoding and the SCRAM and MD5 exchanges come from
//! `postgres-protocol`, the crate tokio-postgres itself is built on. What
//! the WAL data means is [`pgoutput`]'s.

pub mod pgoutput;

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_postgres::config::{Host, SslMode};

use super::connect::{PgConnector, Tls};
use crate::error::{Error, Result};

/// A position in the write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Lsn(pub u64);

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl std::str::FromStr for Lsn {
    type Err = Error;

    /// PostgreSQL's spelling, `16/B374D848`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::source(format!("`{s}` is not a WAL position (X/Y)"));
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((hi << 32) | lo))
    }
}

/// Microseconds from 2000-01-01, PostgreSQL's epoch, to 1970's.
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// A PostgreSQL timestamp (µs since 2000-01-01) as µs since 1970-01-01.
pub fn unix_micros(pg_micros: i64) -> i64 {
    pg_micros + PG_EPOCH_OFFSET_US
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection in replication mode.
pub struct ReplicationConnection {
    io: Box<dyn Io>,
    read: BytesMut,
    display: String,
}

/// What `CREATE_REPLICATION_SLOT` answers.
#[derive(Debug, Clone)]
pub struct CreatedSlot {
    /// The first position the slot will stream changes after.
    pub consistent_point: Lsn,
    /// The snapshot that sees exactly the state at that point, importable
    /// (`SET TRANSACTION SNAPSHOT`) while this connection runs no other
    /// command.
    pub snapshot: String,
}

/// One message of a replication stream.
#[derive(Debug, Clone)]
pub enum WalEvent {
    /// A piece of decoded WAL (one pgoutput message).
    Data {
        /// Where it starts.
        start: Lsn,
        /// The server's WAL end when it was sent.
        end: Lsn,
        /// The output plugin's message.
        data: Bytes,
    },
    /// The server is alive; its WAL ends at `end`.
    Keepalive {
        /// The server's current WAL end.
        end: Lsn,
        /// Whether the server asks for a status update now.
        reply: bool,
    },
}

impl ReplicationConnection {
    /// Connects to the source's server for logical replication of its
    /// database, with its user, password and TLS settings.
    pub async fn connect(connector: &PgConnector) -> Result<Self> {
        let config = &connector.config;
        let display = connector.describe().to_string();
        let fail =
            |what: String| Error::source(format!("{display}: replication connection: {what}"));
        let host = config
            .get_hosts()
            .first()
            .cloned()
            .ok_or_else(|| fail("no host".into()))?;
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let io: Box<dyn Io> = match &host {
            Host::Tcp(name) => {
                let tcp = tokio::net::TcpStream::connect((name.as_str(), port))
                    .await
                    .map_err(|e| fail(format!("cannot connect to {name}:{port}: {e}")))?;
                tcp.set_nodelay(true).ok();
                match connector.tls {
                    Tls::Disable => Box::new(tcp),
                    _ => Self::tls(connector, tcp, name, &fail).await?,
                }
            }
            Host::Unix(dir) => {
                let path = dir.join(format!(".s.PGSQL.{port}"));
                Box::new(
                    tokio::net::UnixStream::connect(&path)
                        .await
                        .map_err(|e| fail(format!("cannot connect to {}: {e}", path.display())))?,
                )
            }
        };
        let mut conn = ReplicationConnection {
            io,
            read: BytesMut::with_capacity(64 * 1024),
            display,
        };
        conn.startup(connector).await?;
        Ok(conn)
    }

    async fn tls(
        connector: &PgConnector,
        mut tcp: tokio::net::TcpStream,
        name: &str,
        fail: &dyn Fn(String) -> Error,
    ) -> Result<Box<dyn Io>> {
        let mut buf = BytesMut::new();
        frontend::ssl_request(&mut buf);
        tcp.write_all(&buf)
            .await
            .map_err(|e| fail(format!("TLS request: {e}")))?;
        let answer = tcp
            .read_u8()
            .await
            .map_err(|e| fail(format!("TLS request: {e}")))?;
        if answer != b'S' {
            if connector.config.get_ssl_mode() == SslMode::Prefer {
                return Ok(Box::new(tcp));
            }
            return Err(fail(
                "the server does not offer TLS, and sslmode requires it".into(),
            ));
        }
        let server = rustls::pki_types::ServerName::try_from(name.to_string())
            .map_err(|e| fail(format!("`{name}` as a TLS server name: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(connector.rustls_config()))
            .connect(server, tcp)
            .await
            .map_err(|e| fail(format!("TLS: {e}")))?;
        Ok(Box::new(tls))
    }

    fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::source(format!("{}: replication: {what}", self.display))
    }

    async fn send(&mut self, buf: &[u8]) -> Result<()> {
        self.io
            .write_all(buf)
            .await
            .map_err(|e| self.error(format!("write: {e}")))?;
        self.io
            .flush()
            .await
            .map_err(|e| self.error(format!("write: {e}")))
    }

    /// The next message: its tag and body.
    async fn message(&mut self) -> Result<(u8, Bytes)> {
        loop {
            if self.read.len() >= 5 {
                let len = u32::from_be_bytes(self.read[1..5].try_into().expect("4 bytes")) as usize;
                if len < 4 {
                    return Err(self.error(format!("malformed message length {len}")));
                }
                if self.read.len() > len {
                    let tag = self.read[0];
                    let mut msg = self.read.split_to(len + 1);
                    msg.advance(5);
                    return Ok((tag, msg.freeze()));
                }
                self.read.reserve(len + 1 - self.read.len());
            }
            let n = self
                .io
                .read_buf(&mut self.read)
                .await
                .map_err(|e| self.error(format!("read: {e}")))?;
            if n == 0 {
                return Err(self.error("the server closed the connection"));
            }
        }
    }

    /// A message that is not the one expected: the server's error, or a
    /// protocol violation.
    fn unexpected(&self, tag: u8, body: &Bytes) -> Error {
        if tag == b'E' {
            return self.error(server_error(body));
        }
        self.error(format!("unexpected message `{}`", tag as char))
    }

    async fn startup(&mut self, connector: &PgConnector) -> Result<()> {
        let config = &connector.config;
        let user = config.get_user().unwrap_or("postgres").to_string();
        let database = connector.database().to_string();
        let mut buf = BytesMut::new();
        frontend::startup_message(
            [
                ("user", user.as_str()),
                ("database", database.as_str()),
                ("replication", "database"),
                ("application_name", "strata"),
                ("client_encoding", "UTF8"),
            ],
            &mut buf,
        )
        .map_err(|e| self.error(e))?;
        self.send(&buf).await?;
        let password = config.get_password().map(<[u8]>::to_vec);
        let need_password = |c: &Self| {
            password
                .clone()
                .ok_or_else(|| c.error("the server asks for a password and none is configured"))
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, mut body) = self.message().await?;
            match tag {
                b'R' => {
                    let code = body.get_i32();
                    let mut out = BytesMut::new();
                    match code {
                        0 => {}
                        3 => {
                            frontend::password_message(&need_password(self)?, &mut out)
                                .map_err(|e| self.error(e))?;
                        }
                        5 => {
                            let salt: [u8; 4] = body[..4]
                                .try_into()
                                .map_err(|_| self.error("bad MD5 salt"))?;
                            let hash = postgres_protocol::authentication::md5_hash(
                                user.as_bytes(),
                                &need_password(self)?,
                                salt,
                            );
                            frontend::password_message(hash.as_bytes(), &mut out)
                                .map_err(|e| self.error(e))?;
                        }
                        10 => {
                            let offered: Vec<&[u8]> =
                                body.split(|b| *b == 0).filter(|m| !m.is_empty()).collect();
                            if !offered.contains(&SCRAM_SHA_256.as_bytes()) {
                                return Err(self.error("the server offers no SASL mechanism Strata speaks (SCRAM-SHA-256)"));
                            }
                            let s = ScramSha256::new(
                                &need_password(self)?,
                                ChannelBinding::unsupported(),
                            );
                            frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                                .map_err(|e| self.error(e))?;
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram
                                .as_mut()
                                .ok_or_else(|| self.error("SASL out of order"))?;
                            s.update(&body)
                                .map_err(|e| self.error(format!("SCRAM: {e}")))?;
                            frontend::sasl_response(s.message(), &mut out)
                                .map_err(|e| self.error(e))?;
                        }
                        12 => {
                            let s = scram
                                .as_mut()
                                .ok_or_else(|| self.error("SASL out of order"))?;
                            s.finish(&body).map_err(|e| {
                                self.error(format!("SCRAM: the server's proof is wrong: {e}"))
                            })?;
                        }
                        other => {
                            return Err(self.error(format!(
                                "the server asks for an authentication Strata does not speak (code {other})"
                            )));
                        }
                    }
                    if !out.is_empty() {
                        self.send(&out).await?;
                    }
                }
                b'S' | b'K' | b'N' => {}
                b'Z' => return Ok(()),
                _ => return Err(self.unexpected(tag, &body)),
            }
        }
    }

    /// Runs one command of the simple protocol; its rows, as text.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf).map_err(|e| self.error(e))?;
        self.send(&buf).await?;
        let mut rows = vec![];
        let mut failed = None;
        loop {
            let (tag, mut body) = self.message().await?;
            match tag {
                b'T' | b'C' | b'N' | b'S' | b'I' => {}
                b'D' => {
                    let n = body.get_i16();
                    let mut row = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        let len = body.get_i32();
                        if len < 0 {
                            row.push(None);
                        } else {
                            let v = body.split_to(len as usize);
                            row.push(Some(String::from_utf8_lossy(&v).into_owned()));
                        }
                    }
                    rows.push(row);
                }
                b'E' => failed = Some(server_error(&body)),
                b'Z' => {
                    return match failed {
                        Some(e) => Err(self.error(format!("{sql}: {e}"))),
                        None => Ok(rows),
                    };
                }
                _ => return Err(self.unexpected(tag, &body)),
            }
        }
    }

    /// Where the server's WAL ends now, committed or not yet flushed: a
    /// source with `synchronous_commit = off` acknowledges commits before
    /// flushing them, and a sync that waits up to here sees every commit
    /// acknowledged before it started. A standby has no insert position;
    /// there it is the flushed end.
    pub async fn current_position(&mut self) -> Result<Lsn> {
        match self.query("SELECT pg_current_wal_insert_lsn()::text").await {
            Ok(rows) => match rows.first().and_then(|r| r.first().cloned().flatten()) {
                Some(lsn) => lsn.parse(),
                None => self.identify_system().await,
            },
            Err(_) => self.identify_system().await,
        }
    }

    /// The server's flushed WAL position.
    pub async fn identify_system(&mut self) -> Result<Lsn> {
        let rows = self.query("IDENTIFY_SYSTEM").await?;
        let pos = rows
            .first()
            .and_then(|r| r.get(2).cloned().flatten())
            .ok_or_else(|| self.error("IDENTIFY_SYSTEM answered no position"))?;
        pos.parse()
    }

    /// Creates a logical slot for pgoutput and exports its snapshot, which
    /// stays importable until this connection's next command.
    pub async fn create_slot(&mut self, slot: &str) -> Result<CreatedSlot> {
        let rows = self
            .query(&format!(
                "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')",
                quote_ident(slot)
            ))
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| self.error("no slot was created"))?;
        let field = |i: usize| row.get(i).cloned().flatten();
        Ok(CreatedSlot {
            consistent_point: field(1)
                .ok_or_else(|| self.error("no consistent point"))?
                .parse()?,
            snapshot: field(2).ok_or_else(|| self.error("no snapshot was exported"))?,
        })
    }

    /// Starts streaming the slot's changes after `from`, for the tables of
    /// `publication`.
    pub async fn start(
        mut self,
        slot: &str,
        from: Lsn,
        publication: &str,
    ) -> Result<ReplicationStream> {
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {from} (proto_version '1', publication_names '{}')",
            quote_ident(slot),
            publication.replace('\'', "''")
        );
        let mut buf = BytesMut::new();
        frontend::query(&sql, &mut buf).map_err(|e| self.error(e))?;
        self.send(&buf).await?;
        loop {
            let (tag, body) = self.message().await?;
            match tag {
                b'W' => break,
                b'N' | b'S' => {}
                b'E' => {
                    let e = server_error(&body);
                    // Read up to ReadyForQuery, so the error is all there is.
                    return Err(self.error(format!("START_REPLICATION: {e}")));
                }
                _ => return Err(self.unexpected(tag, &body)),
            }
        }
        Ok(ReplicationStream {
            conn: self,
            received: from,
        })
    }
}

/// A slot's changes as they stream.
pub struct ReplicationStream {
    conn: ReplicationConnection,
    received: Lsn,
}

impl ReplicationStream {
    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<WalEvent>> {
        loop {
            let (tag, mut body) = self.conn.message().await?;
            match tag {
                b'd' => {
                    let kind = body.get_u8();
                    match kind {
                        b'w' => {
                            let start = Lsn(body.get_u64());
                            let end = Lsn(body.get_u64());
                            let _sent_at = body.get_i64();
                            self.received = self.received.max(start);
                            return Ok(Some(WalEvent::Data {
                                start,
                                end,
                                data: body,
                            }));
                        }
                        b'k' => {
                            let end = Lsn(body.get_u64());
                            let _sent_at = body.get_i64();
                            let reply = body.get_u8() == 1;
                            return Ok(Some(WalEvent::Keepalive { end, reply }));
                        }
                        other => {
                            return Err(self.conn.error(format!(
                                "unknown replication message `{}`",
                                other as char
                            )));
                        }
                    }
                }
                b'c' => return Ok(None),
                b'N' => {}
                _ => return Err(self.conn.unexpected(tag, &body)),
            }
        }
    }

    /// Tells the server every change up to `flushed` is safely stored: the
    /// slot may release the WAL before it, and a restart resumes after it.
    pub async fn confirm(&mut self, flushed: Lsn) -> Result<()> {
        let mut msg = BytesMut::with_capacity(34);
        msg.put_u8(b'r');
        msg.put_u64(self.received.max(flushed).0);
        msg.put_u64(flushed.0);
        msg.put_u64(flushed.0);
        let now = chrono::Utc::now().timestamp_micros() - PG_EPOCH_OFFSET_US;
        msg.put_i64(now);
        msg.put_u8(0);
        let mut buf = BytesMut::new();
        frontend::CopyData::new(&msg[..])
            .map_err(|e| self.conn.error(e))?
            .write(&mut buf);
        self.conn.send(&buf).await
    }

    /// Ends the stream cleanly: the server stops sending, and the
    /// connection closes.
    pub async fn stop(mut self) -> Result<()> {
        let mut buf = BytesMut::new();
        frontend::copy_done(&mut buf);
        self.conn.send(&buf).await?;
        // The server may still send what it had queued, then its CopyDone,
        // CommandComplete and ReadyForQuery.
        loop {
            let (tag, body) = self.conn.message().await?;
            match tag {
                b'Z' => break,
                b'E' => return Err(self.conn.unexpected(tag, &body)),
                _ => {}
            }
        }
        let mut buf = BytesMut::new();
        frontend::terminate(&mut buf);
        let _ = self.conn.send(&buf).await;
        Ok(())
    }
}

/// An ErrorResponse's message, with its SQLSTATE.
fn server_error(body: &Bytes) -> String {
    let mut message = String::new();
    let mut code = String::new();
    for field in body.split(|b| *b == 0) {
        if let Some((&kind, value)) = field.split_first() {
            let value = String::from_utf8_lossy(value);
            match kind {
                b'M' => message = value.into_owned(),
                b'C' => code = value.into_owned(),
                _ => {}
            }
        }
    }
    format!("{message} ({code})")
}

/// An identifier as PostgreSQL quotes it.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_read_and_print_as_postgresql_spells_them() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn(0).to_string(), "0/0");
        assert!("16".parse::<Lsn>().is_err());
    }

    #[test]
    fn a_server_error_names_its_message_and_code() {
        let body =
            Bytes::from_static(b"SERROR\0C42704\0Mreplication slot \"x\" does not exist\0\0");
        assert_eq!(
            server_error(&body),
            "replication slot \"x\" does not exist (42704)"
        );
    }
}
