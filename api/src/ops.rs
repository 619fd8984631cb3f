//! What operators call: liveness, readiness (database and queue), Prometheus metrics (requests, jobs,
//! pages by outcome and reason, durations, queue depth) and the OpenAPI document of the API.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

use crate::error::ApiError;
use crate::views::{ErrorBody, Health, Readiness};
use crate::AppState;

/// The API process's own counters; job and page figures are read from the database at scrape time, so
/// they are right whichever process did the work.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    pub jobs_published: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("certscan_http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("certscan_http_request_seconds", "HTTP request duration by method and route"),
            &["method", "route"],
        )
        .expect("valid metric");
        let jobs_published =
            IntCounter::new("certscan_jobs_published_total", "Scan jobs this API process published").expect("valid metric");
        registry.register(Box::new(http_requests.clone())).expect("registered once");
        registry.register(Box::new(http_seconds.clone())).expect("registered once");
        registry.register(Box::new(jobs_published.clone())).expect("registered once");
        Metrics { registry, http_requests, http_seconds, jobs_published }
    }
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database and the queue.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "Ready", body = Readiness), (status = 503, description = "Not ready", body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await;
    let queue = state.queue.is_ready();
    let body = Readiness {
        database: match &database {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("unavailable: {e}"),
        },
        queue: if queue { "ok" } else { "unavailable" }.to_string(),
        queue_kind: state.queue.kind().to_string(),
    };
    let status = if database.is_ok() && queue { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut out = Vec::new();
    TextEncoder::new().encode(&state.metrics.registry.gather(), &mut out).map_err(|e| ApiError::internal("encoding metrics", e))?;
    let mut text = String::from_utf8(out).map_err(|e| ApiError::internal("encoding metrics", e))?;
    let totals = state.store.totals().await?;
    text.push_str("# HELP certscan_jobs Scan jobs by state.\n# TYPE certscan_jobs gauge\n");
    for s in ["queued", "running", "done", "failed"] {
        text.push_str(&format!("certscan_jobs{{state=\"{s}\"}} {}\n", totals.jobs_by_state.get(s).copied().unwrap_or(0)));
    }
    text.push_str("# HELP certscan_pages Pages of done jobs by outcome and review reason.\n# TYPE certscan_pages gauge\n");
    for ((outcome, reason), n) in &totals.pages {
        text.push_str(&format!("certscan_pages{{outcome=\"{}\",reason=\"{}\"}} {n}\n", escape(outcome), escape(reason)));
    }
    text.push_str(&format!(
        "# HELP certscan_review_open Review items waiting for a person.\n# TYPE certscan_review_open gauge\ncertscan_review_open {}\n",
        totals.review_open
    ));
    text.push_str(&format!(
        "# HELP certscan_attachments Applications with an attached scan.\n# TYPE certscan_attachments gauge\ncertscan_attachments {}\n",
        totals.attachments
    ));
    text.push_str(&format!(
        "# HELP certscan_job_processing_seconds Processing time of done jobs.\n# TYPE certscan_job_processing_seconds summary\ncertscan_job_processing_seconds_sum {}\ncertscan_job_processing_seconds_count {}\n",
        totals.done_jobs_seconds, totals.done_jobs
    ));
    if let Some(depth) = state.queue.depth().await {
        text.push_str(&format!("# HELP certscan_queue_depth Jobs waiting in the queue.\n# TYPE certscan_queue_depth gauge\ncertscan_queue_depth{{queue=\"{}\"}} {depth}\n", state.queue.kind()));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; GET /openapi.json lists them")
}

/// This document: OpenAPI 3.1, generated from the handlers' types.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = serde_json::Value)))]
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::document_json()).into_response()
}
