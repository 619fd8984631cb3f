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
//! - [`server`]: assembling a running service from `Settings` (embedded or distributed).

pub mod auth;
pub mod error;
pub mod handlers;
pub mod ledger;
pub mod life;
pub mod ops;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;

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
    pub metrics: ops::Metrics,
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
    let upload_limit = DefaultBodyLimit::max(state.max_upload);
    let v1 = Router::new()
        .route("/v1/exams/{exam_id}", put(handlers::put_roster).get(handlers::get_roster))
        .route("/v1/exams/{exam_id}/fis-frdo", post(handlers::import_fis).layer(upload_limit))
        .route("/v1/exams/{exam_id}/certificates", post(handlers::generate))
        .route("/v1/exams/{exam_id}/scans", post(handlers::upload_scan).layer(upload_limit))
        .route("/v1/exams/{exam_id}/certificates/status", get(handlers::exam_status))
        .route("/v1/exams/{exam_id}/review", get(handlers::review_list))
        .route("/v1/exams/{exam_id}/audit", get(handlers::audit_trail))
        .route("/v1/jobs/{job_id}", get(handlers::job))
        .route("/v1/jobs/{job_id}/pages/{page}", get(handlers::job_page))
        .route(
            "/v1/applications/{application_id}/certificate-scan",
            get(handlers::download_scan).put(handlers::point_upload).delete(handlers::unattach).layer(upload_limit),
        )
        .route("/v1/review/{item_id}/assign", post(handlers::assign))
        .route("/v1/review/{item_id}/dismiss", post(handlers::dismiss))
        .route("/v1/review/{item_id}/page", get(handlers::review_page))
        .route("/v1/review/{item_id}/preview", get(handlers::review_preview))
        .route("/v1/exams", get(life::exam_list))
        .route("/v1/exams/{exam_id}/register", get(life::get_register).post(life::generate_register))
        .route("/v1/exams/{exam_id}/register/document", get(life::register_document))
        .route("/v1/exams/{exam_id}/register/scans", post(life::upload_register_scan).layer(upload_limit))
        .route("/v1/exams/{exam_id}/register/scan", get(life::register_scan))
        .route("/v1/exams/{exam_id}/register/review", post(life::take_register))
        .route("/v1/exams/{exam_id}/register/approve", post(life::approve_register))
        .route("/v1/exams/{exam_id}/register/reject", post(life::reject_register))
        .route("/v1/applications/{application_id}/handover", post(life::hand_over).delete(life::undo_handover))
        .route("/v1/events", get(life::events))
        .route("/v1/blank-packs", get(ledger::list_packs))
        .route("/v1/blank-packs/{pack_id}", put(ledger::put_pack))
        .route("/v1/blank-packs/{pack_id}/spoiled", post(ledger::spoil_blank))
        .route("/v1/blank-packs/{pack_id}/report", get(ledger::pack_report));
    Router::new()
        .merge(v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
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

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
