//! PostgreSQL's wire protocol over the lake (through `pgwire`): each
//! connection is a session of its own over the lake, as `strata sql` is,
//! answering the simple and the extended query protocols (prepared
//! statements with typed parameters), read-only.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Sink, StreamExt, stream};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::OnceCell;

use super::metrics::{Metrics, Outcome, Via};
use super::{encode, pg_catalog};
use crate::app::Workspace;
use crate::app::statement::{self, Planned, Prepared};
use crate::config::Config;
use crate::engine::interrupt::Interrupt;
use crate::error::{Error, user_message};
use crate::lake::Lake;

/// SCRAM's iteration count (PostgreSQL's default).
const SCRAM_ITERATIONS: usize = 4096;

/// What every connection shares: the settings, the open lake, the
/// registry that routes a CancelRequest to its connection.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) lake: Arc<Lake>,
    pub(crate) connections: Arc<ConnectionManager>,
    /// Where statements run (see `QueryRuntime`).
    pub(crate) queries: tokio::runtime::Handle,
    /// Statements answered and clients connected, for `/metrics`.
    pub(crate) metrics: Metrics,
    /// The SCRAM verifier's salt, drawn once per server.
    salt: [u8; 16],
}

impl Shared {
    pub(crate) fn new(config: Config, lake: Arc<Lake>, queries: tokio::runtime::Handle) -> Self {
        Shared {
            config,
            lake,
            connections: Arc::new(ConnectionManager::new()),
            queries,
            metrics: Metrics::default(),
            salt: rand::random(),
        }
    }
}

/// One client's connection: its own session over the lake, opened at its
/// first statement.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    workspace: OnceCell<Workspace>,
    parser: Arc<Parser>,
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>) -> Arc<Self> {
        shared.metrics.connected(1);
        Arc::new_cyclic(|me| Connection {
            shared,
            workspace: OnceCell::new(),
            parser: Arc::new(Parser {
                connection: me.clone(),
            }),
        })
    }

    /// A statement that failed before it ran, counted; the client's error.
    fn failed(&self, started: Instant, e: Error) -> PgWireError {
        self.shared
            .metrics
            .observe(Via::Postgres, Outcome::Error, started.elapsed());
        to_pg(e)
    }

    async fn workspace(&self) -> Result<&Workspace, Error> {
        self.workspace
            .get_or_try_init(|| async {
                let config = self.shared.config.clone();
                let mut ws = Workspace::open_on(config, self.shared.lake.clone()).await?;
                if let Some(e) = ws.engine.take_source_error() {
                    tracing::warn!(error = %user_message(&e), "legacy.* is unavailable");
                }
                Ok(ws)
            })
            .await
    }

    async fn plan(&self, sql: &str) -> Result<Planned, Error> {
        let ws = self.workspace().await?;
        if let Some(answer) = pg_catalog::shown_setting(sql) {
            return statement::plan(ws, &answer).await;
        }
        if pg_catalog::mentions_catalog(sql) {
            // The catalog as the lake is now, in PostgreSQL's spelling.
            ws.engine.refresh().await?;
            pg_catalog::register(&ws.engine).await?;
            let planned = statement::plan(ws, &pg_catalog::pg_spelling(sql)).await;
            return match planned {
                Err(_) if pg_catalog::about_nothing_here(sql) => {
                    statement::plan(ws, "SELECT CAST(NULL AS VARCHAR) AS none WHERE false").await
                }
                other => other,
            };
        }
        statement::plan(ws, sql).await
    }

    /// Answers with the rows `work` streams, of columns `schema`, in
    /// `format`. The work runs on the query threads; up to its first rows
    /// (an aggregate reads its whole input before it gives one) it is
    /// waited for here, where a CancelRequest or the timeout can stop it.
    /// However it ends (answered, cancelled, timed out, the client gone),
    /// its operators stop at their next batch.
    async fn respond(
        &self,
        started: Instant,
        schema: &datafusion::arrow::datatypes::Schema,
        work: statement::Work,
        format: &Format,
    ) -> Result<Response, Error> {
        let running = Running::start(self.shared.clone(), work, started);
        let timeout = self.shared.config.serve.query_timeout;
        let (first, running) = tokio::time::timeout(timeout, running.next())
            .await
            .map_err(|_| {
                Error::Cancelled(format!(
                    "canceling statement due to statement timeout ({})",
                    humantime::format_duration(timeout)
                ))
            })?;
        let first = first.transpose()?;
        let fields = Arc::new(encode::fields(schema, |i| format.format_for(i)));
        let rows_fields = fields.clone();
        let rest = stream::unfold(running, |running| async {
            let (batch, running) = running.next().await;
            Some((batch?, running))
        });
        let rows = stream::iter(first.map(Ok))
            .chain(rest)
            .flat_map(move |batch| {
                let rows = batch.and_then(|b| encode::rows(&b, &rows_fields));
                match rows {
                    Ok(rows) => stream::iter(rows.into_iter().map(Ok)).left_stream(),
                    Err(e) => stream::once(async move { Err(to_pg(e)) }).right_stream(),
                }
            });
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }
}

/// A statement's work running on the query threads, its batches handed
/// over one by one. Dropping it interrupts the work, and counts the
/// statement in the metrics.
struct Running {
    batches: tokio::sync::mpsc::Receiver<Result<RecordBatch, Error>>,
    interrupt: Interrupt,
    task: tokio::task::AbortHandle,
    shared: Arc<Shared>,
    started: Instant,
    /// How it ended, once it has; dropped before, it was cancelled.
    ended: Option<Outcome>,
}

impl Running {
    fn start(shared: Arc<Shared>, work: statement::Work, started: Instant) -> Self {
        // Two batches ahead: the work goes on while the client reads.
        let (tx, batches) = tokio::sync::mpsc::channel(2);
        let interrupt = Interrupt::default();
        let task = {
            let interrupt = interrupt.clone();
            shared.queries.spawn(async move {
                let mut stream = match work.run(&interrupt).await {
                    Ok(stream) => stream,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                while let Some(batch) = stream.next().await {
                    let failed = batch.is_err();
                    let batch = batch.map_err(|e| Error::query("", e));
                    if tx.send(batch).await.is_err() || failed {
                        return;
                    }
                }
            })
        };
        Running {
            batches,
            interrupt,
            task: task.abort_handle(),
            shared,
            started,
            ended: None,
        }
    }

    /// The next batch, or `None` at the end; the work stops at its first
    /// error.
    async fn next(mut self) -> (Option<Result<RecordBatch, Error>>, Self) {
        let batch = self.batches.recv().await;
        if self.ended.is_none() {
            self.ended = match &batch {
                None => Some(Outcome::Ok),
                Some(Err(_)) => Some(Outcome::Error),
                Some(Ok(_)) => None,
            };
        }
        (batch, self)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.interrupt.interrupt();
        self.task.abort();
        self.shared.metrics.observe(
            Via::Postgres,
            self.ended.unwrap_or(Outcome::Cancelled),
            self.started.elapsed(),
        );
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.metrics.connected(-1);
    }
}

/// A client error for a Strata error: the message the prompt would print,
/// with the SQLSTATE of its kind.
fn to_pg(e: Error) -> PgWireError {
    let message = user_message(&e);
    let code = match &e {
        Error::Statement(m) if m.contains("read-only") => "25006",
        Error::Statement(m) if m.contains("not found") => "42P01",
        Error::Statement(_) => "42000",
        Error::Config(_) => "22023",
        Error::Cancelled(_) => "57014",
        _ if message.contains("not found") => "42P01",
        _ if message.contains("Cancelled") => "57014",
        _ => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

/// What the server answers itself, without the lake: transaction control
/// (every statement reads the tables' current versions, and nothing
/// writes, so a transaction has nothing to keep) and the session settings
/// drivers send on connecting, which change no answer.
fn answered_here(sql: &str) -> Option<Response> {
    let s = sql.trim().trim_end_matches(';').trim().to_ascii_lowercase();
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        ["begin", ..] | ["start", "transaction", ..] => {
            Some(Response::TransactionStart(Tag::new("BEGIN")))
        }
        ["savepoint", ..] => Some(Response::Execution(Tag::new("SAVEPOINT"))),
        ["release", ..] => Some(Response::Execution(Tag::new("RELEASE"))),
        ["rollback", "to", ..] => Some(Response::Execution(Tag::new("ROLLBACK"))),
        ["commit", ..] | ["end", ..] => Some(Response::TransactionEnd(Tag::new("COMMIT"))),
        ["rollback", ..] | ["abort", ..] => Some(Response::TransactionEnd(Tag::new("ROLLBACK"))),
        ["set", "session", "characteristics", ..] | ["set", "transaction", ..] => {
            Some(Response::Execution(Tag::new("SET")))
        }
        ["set", name, ..] | ["set", "session", name, ..]
            if [
                "application_name",
                "extra_float_digits",
                "client_encoding",
                "datestyle",
                "intervalstyle",
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
            ]
            // `SET application_name='psql'` is one word to split at `=`.
            .contains(&name.split('=').next().unwrap_or(name)) =>
        {
            Some(Response::Execution(Tag::new("SET")))
        }
        _ => None,
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `psql -c 'SELECT 1; SELECT 2'` sends both in one message: each
        // is answered in turn, and the first that fails ends the rest, as
        // PostgreSQL does.
        let (mut statements, rest) = crate::engine::split::split(query);
        if !crate::engine::split::is_blank(&rest) {
            statements.push(rest);
        }
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = vec![];
        for sql in &statements {
            match self.answer(sql).await {
                Ok(r) => responses.push(r),
                Err(e) if responses.is_empty() => return Err(e),
                Err(PgWireError::UserError(info)) => {
                    responses.push(Response::Error(info));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(responses)
    }
}

impl Connection {
    /// One statement of a simple query.
    async fn answer(&self, sql: &str) -> PgWireResult<Response> {
        if let Some(r) = answered_here(sql) {
            return Ok(r);
        }
        let started = Instant::now();
        // Planned once and run as planned: one refresh of the tables, one plan.
        let planned = self.plan(sql).await.map_err(|e| self.failed(started, e))?;
        self.respond(
            started,
            &planned.prepared.schema,
            planned.work,
            &Format::UnifiedText,
        )
        .await
        .map_err(to_pg)
    }
}

/// A statement as parsed for the extended protocol: answered here, or
/// prepared over the lake.
#[derive(Debug, Clone)]
pub(crate) enum Parsed {
    /// Transaction control or a harmless setting.
    Here(String),
    /// A query, planned.
    Lake(Prepared),
}

/// Plans statements in the connection's session at Parse time, so that
/// Describe can say their parameters' and columns' types.
pub(crate) struct Parser {
    connection: std::sync::Weak<Connection>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Parsed;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Parsed>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if answered_here(sql).is_some() {
            return Ok(Some(Parsed::Here(sql.to_string())));
        }
        let connection = self
            .connection
            .upgrade()
            .ok_or_else(|| to_pg(Error::Internal("the connection has closed".into())))?;
        let started = Instant::now();
        let planned = connection
            .plan(sql)
            .await
            .map_err(|e| connection.failed(started, e))?;
        Ok(Some(Parsed::Lake(planned.prepared)))
    }

    fn get_parameter_types(&self, stmt: &Parsed) -> PgWireResult<Vec<Type>> {
        Ok(match stmt {
            Parsed::Here(_) => vec![],
            Parsed::Lake(p) => p
                .params
                .iter()
                .map(|t| t.as_ref().map_or(Type::UNKNOWN, |t| encode::pg_type(t).0))
                .collect(),
        })
    }

    fn get_result_schema(
        &self,
        stmt: &Parsed,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(match stmt {
            Parsed::Here(_) => vec![],
            Parsed::Lake(p) => encode::fields(&p.schema, |i| {
                column_format.map_or(FieldFormat::Text, |f| f.format_for(i))
            }),
        })
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Parsed;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Parsed>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = match &portal.statement.statement {
            Parsed::Here(sql) => {
                return answered_here(sql)
                    .ok_or_else(|| to_pg(Error::Internal("a statement changed its kind".into())));
            }
            Parsed::Lake(p) => p,
        };
        let started = Instant::now();
        let declared = &portal.statement.parameter_types;
        let params = (0..portal.parameter_len())
            .map(|i| {
                encode::param(
                    portal.parameters[i].as_deref(),
                    portal.parameter_format.is_binary(i),
                    declared.get(i).and_then(|t| t.as_ref()),
                    prepared.params.get(i).and_then(|t| t.as_ref()),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.failed(started, e))?;
        let work = async {
            let ws = self.workspace().await?;
            statement::bind(ws, prepared, params).await
        };
        let work = work.await.map_err(|e| self.failed(started, e))?;
        self.respond(
            started,
            &prepared.schema,
            work,
            &portal.result_column_format,
        )
        .await
        .map_err(to_pg)
    }
}

/// The one user's password, as a SCRAM verifier; any other user is
/// refused before a password is asked.
#[derive(Debug)]
struct Verifier {
    user: String,
    salted: Vec<u8>,
    salt: Vec<u8>,
}

#[async_trait]
impl AuthSource for Verifier {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        if login.user() != Some(self.user.as_str()) {
            return Err(PgWireError::InvalidPassword(
                login.user().unwrap_or_default().to_string(),
            ));
        }
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// Loopback without a password: anyone on this machine may read.
pub(crate) struct Trust {
    connections: Arc<ConnectionManager>,
}

#[async_trait]
impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.connections.clone())
    }

    async fn post_startup<C>(
        &self,
        _client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Ok(())
    }
}

/// How a connection logs in: trusted on loopback without a password, or
/// SCRAM-SHA-256 against the configured password.
pub(crate) enum Login {
    Trust(Trust),
    Scram(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
}

#[async_trait]
impl StartupHandler for Login {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Login::Trust(t) => t.on_startup(client, message).await,
            Login::Scram(s) => s.on_startup(client, message).await,
        }
    }
}

/// The handlers pgwire asks of a connection.
pub(crate) struct Handlers {
    pub(crate) connection: Arc<Connection>,
    pub(crate) login: Arc<Login>,
    pub(crate) cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        let serve = &shared.config.serve;
        let login = match &serve.password {
            None => Login::Trust(Trust {
                connections: shared.connections.clone(),
            }),
            Some(password) => {
                let verifier = Verifier {
                    user: serve.user.clone(),
                    salted: gen_salted_password(password, &shared.salt, SCRAM_ITERATIONS),
                    salt: shared.salt.to_vec(),
                };
                let mut scram = ScramAuth::new(Arc::new(verifier));
                scram.set_iterations(SCRAM_ITERATIONS);
                let handler = SASLAuthStartupHandler::new(Arc::new(parameters()))
                    .with_scram(scram)
                    .with_connection_manager(shared.connections.clone());
                Login::Scram(Box::new(handler))
            }
        };
        Handlers {
            connection: Connection::new(shared.clone()),
            login: Arc::new(login),
            cancel: Arc::new(DefaultCancelHandler::new(shared.connections.clone())),
        }
    }
}

/// What the server tells a client about itself on connecting.
fn parameters() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    p.server_version = format!("16.0 (Strata {})", env!("CARGO_PKG_VERSION"));
    p.default_transaction_read_only = true;
    p.is_superuser = false;
    p.time_zone = "UTC".into();
    p
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.connection.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.connection.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.login.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_and_driver_settings_are_answered_here() {
        for sql in [
            "BEGIN",
            "begin;",
            "START TRANSACTION READ ONLY",
            "COMMIT",
            "rollback",
            "SET application_name = 'psql'",
            "set application_name='DBeaver 24'",
            "SET extra_float_digits = 3",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "SAVEPOINT \"_pg3_1\"",
            "RELEASE SAVEPOINT \"_pg3_1\"",
            "ROLLBACK TO SAVEPOINT \"_pg3_1\"",
        ] {
            assert!(answered_here(sql).is_some(), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "SET TIME ZONE 'UTC'",
            "SET datafusion.execution.batch_size = 10",
        ] {
            assert!(answered_here(sql).is_none(), "{sql}");
        }
    }
}
