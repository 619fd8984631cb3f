//! The status API (axum): a thin layer over the store, the object store and the job queue. The portal
//! puts rosters and uploads scans, staff follow jobs, read exam status, download scans and work the
//! review list; operators get health, readiness, Prometheus metrics and the OpenAPI document.
//!
//! # Layout
//! - [`error`]: the one error shape.
//! - [`auth`]: bearer tokens, roles and permissions.
//! - [`handlers`]: the `/v1` routes of `contracts.md`.
//! - [`ledger`]: the blank-ledger routes (`/v1/blank-packs`).
//! - [`life`]: the exam list, the issuance register, the handover and the events feed.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
//! - [`openapi`]: the routes and their OpenAPI document, from one declaration; [`views`]: the types
//!   the handlers answer and take, which the document is generated from.
//! - [`server`]: assembling a running service from `Settings` (embedded or distributed).

pub mod auth;
pub mod drain;
pub mod error;
pub mod handlers;
pub mod ledger;
pub mod life;
pub mod openapi;
pub mod ops;
pub mod server;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;

use certscan_pipeline::PdfEngine;
use certscan_templates::Template;
use certscan_workers::objects::Objects;
use certscan_workers::queue::JobQueue;
use certscan_workers::settings::ApiToken;
use certscan_workers::store::Store;

/// Everything a request may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub objects: Objects,
    pub queue: JobQueue,
    pub engine: &'static PdfEngine,
    pub template: Arc<Template>,
    /// Printer profiles for generation.
    pub calibration_dir: PathBuf,
    pub tokens: Arc<Vec<ApiToken>>,
    /// Largest upload, bytes.
    pub max_upload: usize,
    pub limits: Limits,
    pub metrics: ops::Metrics,
}

/// What one caller may hold of the API (README "Limits"; each from its setting).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// To send a request's headers (`header_timeout_s`).
    pub header_timeout: Duration,
    /// A request body may stall this long between two chunks (`body_timeout_s`).
    pub body_timeout: Duration,
    /// A whole request, answer included (`request_timeout_s`).
    pub request_timeout: Duration,
    /// Connections held at once; one more is answered 503 and closed (`max_connections`).
    pub max_connections: usize,
    /// A FIS FRDO file (`fis_max_rows`, `fis_max_mb`).
    pub fis: certscan_domain::FisLimits,
}

impl Limits {
    pub fn from_settings(s: &certscan_workers::Settings) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(s.header_timeout_s.max(1)),
            body_timeout: Duration::from_secs(s.body_timeout_s.max(1)),
            request_timeout: Duration::from_secs(s.request_timeout_s.max(1)),
            max_connections: s.max_connections.max(1),
            fis: certscan_domain::FisLimits { max_rows: s.fis_max_rows, max_bytes: s.fis_max_mb.max(1) * 1024 * 1024 },
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("queue", &self.queue.kind()).field("tokens", &self.tokens.len()).finish_non_exhaustive()
    }
}

/// JSON bodies (rosters, decisions) are small; files have their own limit.
const JSON_LIMIT: usize = 4 * 1024 * 1024;

/// The whole API.
pub fn router(state: AppState) -> Router {
    let fis_limit = usize::try_from(state.limits.fis.max_bytes).unwrap_or(usize::MAX);
    let (routes, _document) = openapi::routes(state.max_upload, fis_limit).split_for_parts();
    routes
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        // Inside the body timeout: the rest of a refused body is read under it too.
        .layer(axum::middleware::from_fn(drain::drain_unread))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.limits.body_timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// A request that takes longer than `request_timeout` is answered 408 and dropped.
async fn time_limit(axum::extract::State(state): axum::extract::State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {} s (request_timeout_s)", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Counts and times every request by its route (never by its raw path: ids would explode the labels).
async fn observe(axum::extract::State(state): axum::extract::State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    state.metrics.http_requests.with_label_values(&[&method, &route, &status]).inc();
    state.metrics.http_seconds.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    tracing::debug!(%method, %route, %status, ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Serves until `shutdown` resolves: HTTP/1.1 with a header-read timeout, at most `max_connections`
/// connections (one more is answered 503 in the error shape and closed), then a graceful end (requests in
/// flight finish, for at most 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let limits = state.limits;
    let app = router(state);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: give the system a moment, then go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%remote, limit = limits.max_connections, "too many connections; refused");
            tokio::spawn(refuse_connection(stream, limits.max_connections));
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone().map_request(|request: axum::http::Request<hyper::body::Incoming>| request.map(axum::body::Body::new)),
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 30 s after the shutdown; closing them");
    }
    Ok(())
}

/// How long a refused connection may take to send its request's head, and how much of it is read.
const REFUSE_READ: Duration = Duration::from_secs(2);
const REFUSE_HEAD_BYTES: usize = 16 * 1024;

/// Answers a connection over the limit with 503 in the one error shape and closes it.
async fn refuse_connection(mut stream: tokio::net::TcpStream, limit: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Take the request's head first (briefly, and a bounded amount): a client that gets the answer
    // before it has sent its request sees an unexpected message instead of the 503.
    let _ = tokio::time::timeout(REFUSE_READ, async {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while head.len() < REFUSE_HEAD_BYTES && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let body = serde_json::json!({"error": {"code": "too_many_connections", "message": format!("the service holds its limit of {limit} connections (max_connections); try again shortly")}}).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\n{}: application/json\r\n{}: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
