//! What operators call: liveness, readiness (database and queue), Prometheus metrics (requests, jobs,
//! pages by outcome and reason, durations, queue depth) and the OpenAPI document of the API.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};
use serde_json::{json, Value};

use crate::error::ApiError;
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

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await;
    let queue = state.queue.is_ready();
    let body = json!({
        "database": if database.is_ok() { "ok".to_string() } else { format!("unavailable: {}", database.as_ref().err().map(ToString::to_string).unwrap_or_default()) },
        "queue": if queue { "ok" } else { "unavailable" },
        "queue_kind": state.queue.kind(),
    });
    let status = if database.is_ok() && queue { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

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

/// Every route: method, path, who may call it, what it does. The OpenAPI document is built from this
/// list and a test checks the router serves each one.
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("put", "/v1/exams/{exam_id}", "portal", "Create or replace the exam roster (body: roster JSON). 201 created, 200 replaced."),
    ("get", "/v1/exams/{exam_id}", "all", "The stored roster."),
    ("post", "/v1/exams/{exam_id}/fis-frdo", "testing_center", "Import the FIS FRDO file (raw body or multipart field `file`; CSV or XLSX). All-or-nothing; 422 lists every bad row in error.rows."),
    ("post", "/v1/exams/{exam_id}/certificates", "testing_center", "Generate the printable certificates; answers the PDF. Query: printer (calibration profile)."),
    ("post", "/v1/exams/{exam_id}/scans", "portal, testing_center", "Upload one scan file (PDF, TIFF, JPEG, PNG); 202 with {job_id}."),
    ("get", "/v1/exams/{exam_id}/certificates/status", "all", "Exam certificate status (code and label), counts, per-application details."),
    ("get", "/v1/exams/{exam_id}/review", "testing_center", "Pages waiting for a person (query state=open|all), with page and preview links."),
    ("get", "/v1/exams/{exam_id}/audit", "testing_center", "Audit trail: who attached, unattached, assigned, dismissed, uploaded, when."),
    ("get", "/v1/jobs/{job_id}", "all", "Job progress; the report once done."),
    ("get", "/v1/jobs/{job_id}/pages/{page}", "all", "One page of a job as its own PDF."),
    ("get", "/v1/applications/{application_id}/certificate-scan", "all", "The attached scan (PDF)."),
    ("put", "/v1/applications/{application_id}/certificate-scan", "testing_center", "Point upload of one scan onto this application; 202 with {job_id}. Still recognised; a mismatch goes to review."),
    ("delete", "/v1/applications/{application_id}/certificate-scan", "testing_center", "Unattach (body {reason}); the page returns to the review list."),
    ("post", "/v1/review/{item_id}/assign", "testing_center", "Attach a review page (body {application_id, blank_number?})."),
    ("post", "/v1/review/{item_id}/dismiss", "testing_center", "Dismiss a review page (body {reason})."),
    ("get", "/v1/review/{item_id}/page", "testing_center", "The review page as PDF."),
    ("get", "/v1/review/{item_id}/preview", "testing_center", "The review page as a small PNG."),
    ("put", "/v1/blank-packs/{pack_id}", "testing_center", "Register a pack of blanks (body {series, first, last, received_on, note?}). 201 new, 200 replaced; 409 when it overlaps another pack or would leave out a used or written-off number."),
    ("get", "/v1/blank-packs", "all", "Every pack of blanks with counts {used, spoiled, free}."),
    ("post", "/v1/blank-packs/{pack_id}/spoiled", "testing_center", "Write off one blank (body {blank_number, reason}); 409 when it is used or already written off."),
    ("get", "/v1/blank-packs/{pack_id}/report", "testing_center", "Every number of the pack once: used (exam, application, when), spoiled (reason, who, when) or free. Query: format=json|csv|xlsx."),
    ("get", "/v1/exams/{exam_id}/register", "all", "The issuance register: status, version, reason, rows, the last scan (its pages and problems) and the signature check (counts, summary, every row's verdict and crop link)."),
    ("post", "/v1/exams/{exam_id}/register", "exam_site", "Generate a new version of the issuance register."),
    ("get", "/v1/exams/{exam_id}/register/document", "exam_site, testing_center", "The register document (query format=pdf|xlsx); every PDF page carries its code. The exam site's first download puts it on signing."),
    ("post", "/v1/exams/{exam_id}/register/scans", "exam_site", "Upload the signed register scan; 202 with {job_id}: a job like any scan (register pages go to the register, certificate pages to their applications). 409 when the register cannot take a scan now."),
    ("get", "/v1/exams/{exam_id}/register/scan", "all", "The file the last recognised register scan came in."),
    ("get", "/v1/exams/{exam_id}/register/signatures/{row}", "all", "The crop (PNG) of one row's signature cell from the last register scan."),
    ("post", "/v1/exams/{exam_id}/register/review", "testing_center", "Take the register for review: under_review."),
    ("post", "/v1/exams/{exam_id}/register/approve", "testing_center", "Approve the register."),
    ("post", "/v1/exams/{exam_id}/register/reject", "testing_center", "Reject the register (body {reason})."),
    ("get", "/healthz", "none", "Liveness."),
    ("get", "/readyz", "none", "Readiness: database and queue."),
    ("get", "/metrics", "none", "Prometheus metrics."),
    ("get", "/openapi.json", "none", "This document."),
];

pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, who, summary) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": if name == "page" { "integer" } else { "string" }}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "description": format!("Who: {who}."),
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if *who == "none" {
            op["security"] = json!([]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "certscan", "version": env!("CARGO_PKG_VERSION"), "description": "Certificate printing, scan recognition and attachment. Shapes as in contracts.md."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "rows": {"type": "array"}}}}}
            }
        },
        "security": [{"bearer": []}],
    })
}

pub async fn openapi() -> Json<Value> {
    Json(openapi_document())
}
