//! `strata serve`'s HTTP side: the live dashboard and the JSON it asks
//! for, `/metrics` for Prometheus, and `/health`.
//!
//! The dashboard's filters are answered here by DataFusion queries over
//! gold (`app::dashboard`), on the same query threads as the PostgreSQL
//! protocol's statements and under the same timeout. With a password
//! configured every path but `/health` asks for it (HTTP Basic), and with a
//! certificate configured the side speaks HTTPS, as the PostgreSQL side
//! speaks TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::OnceCell;

use super::metrics::{Outcome, Via};
use super::wire::Shared;
use crate::app::Workspace;
use crate::app::dashboard::{self, Filters};
use crate::error::{Error, user_message};

/// What every request shares: the server's settings, metrics and query
/// threads, and one session over the lake, opened at the first request.
struct Http {
    shared: Arc<Shared>,
    workspace: OnceCell<Arc<Workspace>>,
}

impl Http {
    async fn workspace(&self) -> Result<Arc<Workspace>, Error> {
        self.workspace
            .get_or_try_init(|| async {
                let ws = Workspace::open_on(self.shared.config.clone(), self.shared.lake.clone())
                    .await?;
                Ok(Arc::new(ws))
            })
            .await
            .cloned()
    }

    /// Runs `work` over the lake's tables as they are now, on the query
    /// threads, within the statement timeout; counted in the metrics.
    async fn query<T, F, Fut>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Workspace>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let started = Instant::now();
        let timeout = self.shared.config.serve.query_timeout;
        let answer = async {
            let ws = self.workspace().await?;
            let task = self.shared.queries.spawn(async move {
                ws.engine.refresh().await?;
                work(ws).await
            });
            // Dropped unfinished (the timeout, the client gone), the work
            // is aborted.
            let mut task = AbortOnDrop(task);
            match (&mut task.0).await {
                Ok(answer) => answer,
                Err(e) => Err(Error::Internal(format!("a dashboard query failed: {e}"))),
            }
        };
        let answer = tokio::time::timeout(timeout, answer)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Cancelled(format!(
                    "canceling statement due to statement timeout ({})",
                    humantime::format_duration(timeout)
                )))
            });
        let outcome = match &answer {
            Ok(_) => Outcome::Ok,
            Err(Error::Cancelled(_)) => Outcome::Cancelled,
            Err(_) => Outcome::Error,
        };
        self.shared
            .metrics
            .observe(Via::Http, outcome, started.elapsed());
        answer
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An error as JSON, with a status that says whose fault it was.
struct Failure(StatusCode, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Cancelled(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Lake { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure(status, user_message(&e))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

async fn page(State(http): State<Arc<Http>>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(dashboard::live(http.shared.lake.describe())),
    )
}

async fn sales(
    State(http): State<Arc<Http>>,
    Query(filters): Query<FilterText>,
) -> Result<axum::Json<dashboard::Slice>, Failure> {
    let filters = filters.parse()?;
    let slice = http
        .query(move |ws| async move { dashboard::slice(&ws.engine, &filters).await })
        .await?;
    Ok(axum::Json(slice))
}

async fn filters(State(http): State<Arc<Http>>) -> Result<axum::Json<dashboard::Choices>, Failure> {
    let choices = http
        .query(|ws| async move { dashboard::filters(&ws.engine).await })
        .await?;
    Ok(axum::Json(choices))
}

async fn pipeline(
    State(http): State<Arc<Http>>,
) -> Result<axum::Json<dashboard::Pipeline>, Failure> {
    let panel = http
        .query(|ws| async move {
            let history = crate::metadata::History::load(ws.engine.lake()).await?;
            Ok(dashboard::pipeline(&history))
        })
        .await?;
    Ok(axum::Json(panel))
}

async fn outlook(
    State(http): State<Arc<Http>>,
) -> Result<axum::Json<Option<dashboard::Outlook>>, Failure> {
    let panel = http
        .query(|ws| async move { dashboard::outlook(&ws.engine).await })
        .await?;
    Ok(axum::Json(panel))
}

async fn metrics(State(http): State<Arc<Http>>) -> Result<Response, Failure> {
    let mut text = crate::app::recorded::metrics(&http.shared.lake).await?;
    text.push_str(&http.shared.metrics.render());
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// Up when the lake can be read: its run records listed within a few
/// seconds.
async fn health(State(http): State<Arc<Http>>) -> Response {
    let lake = http.shared.lake.clone();
    let check = tokio::time::timeout(Duration::from_secs(5), async move {
        crate::metadata::running(&lake).await
    })
    .await;
    let (status, body) = match check {
        Ok(Ok(running)) => (
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "lake": http.shared.lake.describe(),
                "runs_running": running,
                "version": env!("CARGO_PKG_VERSION"),
            }),
        ),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "error": user_message(&e) }),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "error": "the lake did not answer within 5s" }),
        ),
    };
    (status, axum::Json(body)).into_response()
}

/// The filters as a page sends them: empty fields mean "all".
#[derive(Debug, Default, serde::Deserialize)]
struct FilterText {
    from: Option<String>,
    to: Option<String>,
    product: Option<String>,
    region: Option<String>,
}

impl FilterText {
    fn parse(self) -> Result<Filters, Failure> {
        let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let day = |name: &str, v: Option<String>| {
            some(v)
                .map(|s| {
                    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                        Failure(
                            StatusCode::BAD_REQUEST,
                            format!("{name}: `{s}` is not a date (YYYY-MM-DD)"),
                        )
                    })
                })
                .transpose()
        };
        Ok(Filters {
            from: day("from", self.from)?,
            to: day("to", self.to)?,
            product: some(self.product),
            region: some(self.region),
        })
    }
}

/// Lets a request through when it carries the configured user and
/// password (HTTP Basic), or when none is configured; `/health` is open.
async fn login(
    State(http): State<Arc<Http>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let serve = &http.shared.config.serve;
    let Some(password) = &serve.password else {
        return next.run(request).await;
    };
    if request.uri().path() == "/health" || basic_matches(request.headers(), &serve.user, password)
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"strata\", charset=\"UTF-8\"",
        )],
        "the lake asks for its user and password\n",
    )
        .into_response()
}

fn basic_matches(headers: &HeaderMap, user: &str, password: &str) -> bool {
    use base64::Engine as _;
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
    else {
        return false;
    };
    let expected = format!("{user}:{password}");
    // Compared in full whatever differs first, so the time taken does not
    // tell how much of a guess was right.
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn router(http: Arc<Http>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/sales", get(sales))
        .route("/api/filters", get(filters))
        .route("/api/pipeline", get(pipeline))
        .route("/api/forecast", get(outlook))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .layer(axum::middleware::from_fn_with_state(http.clone(), login))
        .with_state(http)
}

/// Serves HTTP (HTTPS with `tls`) on `listener` until `stop` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
) {
    let app = router(Arc::new(Http {
        shared,
        workspace: OnceCell::new(),
    }));
    tokio::pin!(stop);
    while let Some((socket, peer)) = super::accept(&listener, stop.as_mut()).await {
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let served = match tls {
                Some(tls) => match tls.accept(socket).await {
                    Ok(stream) => {
                        http.serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    http.serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_must_match_in_full() {
        use base64::Engine as _;
        let mut h = HeaderMap::new();
        assert!(!basic_matches(&h, "strata", "pw"));
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for (given, ok) in [
            ("strata:pw", true),
            ("strata:pw2", false),
            ("strata:p", false),
            ("other:pw", false),
        ] {
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {}", encode(given))).unwrap(),
            );
            assert_eq!(basic_matches(&h, "strata", "pw"), ok, "{given}");
        }
    }

    #[test]
    fn a_bad_date_is_refused_naming_the_field() {
        let f = FilterText {
            from: Some("2023-13-01".into()),
            to: Some(String::new()),
            ..Default::default()
        };
        let Err(Failure(status, message)) = f.parse() else {
            panic!("accepted a bad date")
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("from:"), "{message}");
        let f = FilterText {
            region: Some("Sul".into()),
            product: Some(" ".into()),
            ..Default::default()
        };
        let f = f.parse().ok().unwrap();
        assert_eq!(f.region.as_deref(), Some("Sul"));
        assert_eq!(f.product, None);
    }
}
