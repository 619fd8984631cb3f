//! The `/v1` routes of `contracts.md`. Each handler checks the caller's permission, validates input,
//! and calls the store, the object store or the queue; CPU work (rendering) runs on a blocking thread.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use certscan_domain::{import_fis_with_limits, is_valid_id, FisImportError, Roster};
use certscan_workers::message::JobMessage;
use certscan_workers::objects::{certificates_key, scan_key};
use certscan_workers::store::{JobRecord, JobState, NewJob, PutRoster, ReviewItem};

use crate::auth::{Caller, Permission};
use crate::error::{body_error, echo, ApiError, ApiResult};
use crate::views::{
    ApplicationView, AssignBody, Assigned, AttachedFrom, AuditTrail, ErrorBody, ExamStatusView, FileBody, FisImported, GenerateQuery,
    JobAccepted, JobPages, JobTimings, JobView, ReasonBody, ReviewItemView, ReviewList, ReviewQuery, RosterStored, StatusLabel, UploadForm,
};
use crate::AppState;

pub(crate) fn check_id(kind: &str, id: &str) -> ApiResult<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{kind} {} is not an id (letters, digits, - and _, at most 64)", echo(id))))
    }
}

fn pdf(bytes: impl Into<Bytes>, file_name: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, format!("inline; filename=\"{file_name}\""))],
        bytes.into(),
    )
        .into_response()
}

/// A JSON body, with parse errors in the one error shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| body_error(e.status(), &e, e.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::unprocessable("invalid_json", format!("the body is not the expected JSON: {e}")))
    }
}

/// A raw body, with read errors (too large, stalled) in the one error shape.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e| body_error(e.status(), &e, e.body_text()))
    }
}

/// An uploaded file: the raw request body, or the multipart form field `file`.
#[derive(Debug)]
pub struct Upload {
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_multipart =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/form-data"));
        let upload = if is_multipart {
            let mut form = Multipart::from_request(req, state).await.map_err(|e| body_error(e.status(), &e, e.body_text()))?;
            let mut found = None;
            while let Some(field) = form.next_field().await.map_err(|e| body_error(e.status(), &e, e.body_text()))? {
                if field.name() == Some("file") {
                    let file_name = field.file_name().map(str::to_string);
                    let bytes = field.bytes().await.map_err(|e| body_error(e.status(), &e, e.body_text()))?;
                    found = Some(Upload { file_name, bytes });
                    break;
                }
            }
            found.ok_or_else(|| ApiError::bad_request("the multipart form has no field named `file`"))?
        } else {
            let name = req.headers().get("x-file-name").and_then(|v| v.to_str().ok()).map(str::to_string);
            let bytes = Bytes::from_request(req, state).await.map_err(|e| body_error(e.status(), &e, e.body_text()))?;
            Upload { file_name: name, bytes }
        };
        if upload.bytes.is_empty() {
            return Err(ApiError::bad_request("the uploaded file is empty"));
        }
        Ok(upload)
    }
}

async fn roster_of(state: &AppState, exam_id: &str) -> ApiResult<Roster> {
    check_id("exam", exam_id)?;
    state.store.roster(exam_id).await?.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} is not known: PUT its roster first")))
}

// ---- exams ----

/// Create or replace the exam roster. Refused (409, every affected application listed) when it would
/// drop, fail, rename or change the birth date of an application with an attached scan, or withdraw the
/// approved protocol while scans are attached.
#[utoipa::path(put, path = "/v1/exams/{exam_id}", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id (letters, digits, - and _, at most 64)")),
    request_body(content = certscan_domain::Roster, description = "The roster (contracts.md)", content_type = "application/json"),
    responses((status = 200, description = "Replaced", body = RosterStored), (status = 201, description = "Created", body = RosterStored),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn put_roster(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    caller.require(Permission::Roster)?;
    check_id("exam", &exam_id)?;
    let roster = Roster::from_json("roster", &body).map_err(|e| ApiError::unprocessable("invalid_roster", e.to_string()))?;
    if roster.exam_id != exam_id {
        return Err(ApiError::unprocessable(
            "invalid_roster",
            format!("the roster is for exam {}, the path names {exam_id}", roster.exam_id),
        ));
    }
    let result = state.store.put_roster(&roster, &caller.name).await?;
    let status = if result == PutRoster::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(RosterStored { exam_id, applications: roster.applications.len() })).into_response())
}

/// The stored roster.
#[utoipa::path(get, path = "/v1/exams/{exam_id}", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The roster", body = certscan_domain::Roster),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn get_roster(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<Roster>> {
    caller.require(Permission::Read)?;
    Ok(Json(roster_of(&state, &exam_id).await?))
}

/// Bad rows a refused FIS FRDO file lists at most; `rows_total` says how many there were.
pub const MAX_ROWS_LISTED: usize = 1_000;

/// Import the FIS FRDO file (CSV or XLSX, raw body or multipart field `file`), all-or-nothing; 422
/// `fis_rows_invalid` lists the bad rows, `fis_file_too_large` names the limit.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/fis-frdo", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id"),
        ("X-File-Name" = Option<String>, Header, description = "The file's name, for messages and the audit trail")),
    request_body(content(
        (FileBody = "text/csv"),
        (FileBody = "application/octet-stream"),
        (FileBody = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (UploadForm = "multipart/form-data"))),
    responses((status = 200, description = "Imported", body = FisImported),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn import_fis(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    upload: Upload,
) -> ApiResult<Json<FisImported>> {
    caller.require(Permission::Manage)?;
    let roster = roster_of(&state, &exam_id).await?;
    let name: String =
        upload.file_name.clone().unwrap_or_else(|| "FIS FRDO file".into()).chars().filter(|c| !c.is_control()).take(200).collect();
    // Reading and checking a file is CPU work: on a blocking thread, never on the runtime's.
    let limits = state.limits.fis;
    let file = name.clone();
    let import = tokio::task::spawn_blocking(move || import_fis_with_limits(&roster, &file, &upload.bytes, &limits))
        .await
        .map_err(|e| ApiError::internal("reading the FIS FRDO file", e))?
        .map_err(|e| match &e {
            FisImportError::Rows { rows, .. } => {
                let listed: Vec<Value> = rows
                    .iter()
                    .take(MAX_ROWS_LISTED)
                    .map(|r| json!({"line": r.line, "code": r.code(), "message": r.kind.to_string()}))
                    .collect();
                let message = if rows.len() > listed.len() {
                    format!("{name}: {} bad rows (the first {} listed); nothing was imported", rows.len(), listed.len())
                } else {
                    format!("{name}: {} bad rows; nothing was imported", rows.len())
                };
                ApiError::unprocessable("fis_rows_invalid", message)
                    .with("rows", Value::Array(listed))
                    .with("rows_total", json!(rows.len()))
            }
            other => ApiError::unprocessable(other.code(), format!("{other}; nothing was imported")),
        })?;
    state.store.put_fis_import(&exam_id, &name, &import, &caller.name).await?;
    Ok(Json(FisImported { exam_id, file: name, records: import.records.len() }))
}

/// Generate the printable certificates (one A4 page per passed application); answers the PDF.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/certificates", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id"), GenerateQuery),
    responses((status = 200, description = "The certificates", content_type = "application/pdf", body = FileBody),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    Query(query): Query<GenerateQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::Manage)?;
    let roster = roster_of(&state, &exam_id).await?;
    roster.check_ready_for_generation().map_err(|e| ApiError::conflict("not_ready", e.to_string()))?;
    let import = state.store.fis_import(&exam_id).await?.ok_or_else(|| {
        ApiError::conflict("fis_import_missing", format!("exam {exam_id} has no FIS FRDO import: POST /v1/exams/{exam_id}/fis-frdo first"))
    })?;
    let printer = query.printer.unwrap_or_else(|| "default".into());
    check_id("printer", &printer)?;
    // The message names the printer, never the server's folders.
    let profile = certscan_calibration::PrinterProfile::load(&state.calibration_dir, &printer).map_err(|e| match e {
        certscan_calibration::CalibrationError::Unknown { .. } => ApiError::unprocessable(
            "printer_profile",
            format!("no calibration is stored for printer {printer}; calibrate it first (certscan calibrate --printer {printer})"),
        ),
        other => {
            tracing::warn!(error = %other, printer = %printer, "printer profile unreadable");
            ApiError::unprocessable("printer_profile", format!("the calibration of printer {printer} cannot be read; calibrate it again"))
        }
    })?;
    let certificates = import.certificates(&roster);
    let template = state.template.clone();
    let certs = certificates.clone();
    let bytes = tokio::task::spawn_blocking(move || certscan_templates::render_certificates(&template, &certs, profile.offset()))
        .await
        .map_err(|e| ApiError::internal("rendering certificates", e))?
        .map_err(|e| ApiError::unprocessable("render_failed", e.to_string()))?;
    let batch = uuid::Uuid::new_v4().simple().to_string();
    let key = certificates_key(&exam_id, &batch);
    state.objects.put(&key, bytes.clone()).await?;
    state.store.record_generation(&exam_id, &key, &printer, &certificates, &caller.name).await?;
    Ok(pdf(bytes, &format!("certificates-{exam_id}.pdf")))
}

// ---- scans and jobs ----

pub(crate) async fn submit(
    state: &AppState,
    caller: &Caller,
    exam_id: &str,
    application_id: Option<&str>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    if certscan_pipeline::source::detect_format(&upload.bytes).is_none() {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_a_scan",
            "the file is not a scan (expected PDF, TIFF, JPEG or PNG)",
        ));
    }
    if state.store.fis_import(exam_id).await?.is_none() {
        return Err(ApiError::conflict(
            "fis_import_missing",
            format!("exam {exam_id} has no FIS FRDO import: scans are checked against it"),
        ));
    }
    let job_id = uuid::Uuid::new_v4().simple().to_string();
    let key = scan_key(&job_id);
    state.objects.put(&key, upload.bytes).await?;
    let file_name = upload.file_name.map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
    state
        .store
        .create_job(&NewJob {
            job_id: job_id.clone(),
            exam_id: exam_id.to_string(),
            application_id: application_id.map(str::to_string),
            object_key: key.clone(),
            file_name: file_name.clone(),
            submitted_by: Some(caller.name.clone()),
        })
        .await?;
    let mut message = JobMessage::new(&job_id, exam_id, &key);
    message.file_name = file_name;
    message.application_id = application_id.map(str::to_string);
    message.submitted_by = Some(caller.name.clone());
    if let Err(e) = state.queue.publish(&message).await {
        let _ = state.store.fail_job(&job_id, "the job queue was unavailable at upload; upload the file again").await;
        return Err(ApiError::unavailable("publishing the job", e));
    }
    state.metrics.jobs_published.inc();
    let status_url = format!("/v1/jobs/{job_id}");
    Ok((StatusCode::ACCEPTED, Json(JobAccepted { job_id, exam_id: exam_id.to_string(), status_url, register_url: None })))
}

/// Upload one scan file (PDF, TIFF, JPEG, PNG; raw body with `X-File-Name`, or multipart field `file`);
/// 202 with the job. 415 for a file that is no scan at all, 409 before the FIS FRDO import.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/scans", tag = "scans",
    params(("exam_id" = String, Path, description = "The exam's id"),
        ("X-File-Name" = Option<String>, Header, description = "The file's name")),
    request_body(content(
        (FileBody = "application/pdf"), (FileBody = "image/tiff"), (FileBody = "image/jpeg"), (FileBody = "image/png"),
        (FileBody = "application/octet-stream"), (UploadForm = "multipart/form-data"))),
    responses((status = 202, description = "Accepted: a job", body = JobAccepted),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn upload_scan(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    caller.require(Permission::Upload)?;
    roster_of(&state, &exam_id).await?;
    submit(&state, &caller, &exam_id, None, upload).await
}

/// Point upload (точечная загрузка) of one scan onto this application; 202 with the job. Still
/// recognised: a page naming another application goes to review.
#[utoipa::path(put, path = "/v1/applications/{application_id}/certificate-scan", tag = "scans",
    params(("application_id" = String, Path, description = "The application's id"),
        ("X-File-Name" = Option<String>, Header, description = "The file's name")),
    request_body(content(
        (FileBody = "application/pdf"), (FileBody = "image/tiff"), (FileBody = "image/jpeg"), (FileBody = "image/png"),
        (FileBody = "application/octet-stream"), (UploadForm = "multipart/form-data"))),
    responses((status = 202, description = "Accepted: a job", body = JobAccepted),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn point_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    caller.require(Permission::Manage)?;
    check_id("application", &application_id)?;
    let exam_id = state
        .store
        .exam_of_application(&application_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("application {application_id} is not in any stored roster")))?;
    submit(&state, &caller, &exam_id, Some(&application_id), upload).await
}

fn job_view(job: JobRecord) -> JobView {
    let summary = job.report.as_ref().map(|r| r.summary.clone()).unwrap_or_default();
    JobView {
        pages: JobPages {
            total: job.pages_total.unwrap_or(0),
            processed: job.pages_processed,
            attached: summary.attached,
            review: summary.review,
            ignored: summary.ignored,
            duplicate: summary.duplicate,
            register: summary.register,
        },
        timings: JobTimings { created_at: job.created_at, started_at: job.started_at, finished_at: job.finished_at, seconds: job.seconds },
        report: if job.state == JobState::Done { job.report } else { None },
        state: job.state.code().to_string(),
        job_id: job.job_id,
        exam_id: job.exam_id,
        application_id: job.application_id,
        file_name: job.file_name,
        error: job.error,
        attempts: job.attempts,
    }
}

/// A job's progress; the report once done.
#[utoipa::path(get, path = "/v1/jobs/{job_id}", tag = "scans",
    params(("job_id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = JobView),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn job(State(state): State<AppState>, caller: Caller, Path(job_id): Path<String>) -> ApiResult<Json<JobView>> {
    caller.require(Permission::Read)?;
    check_id("job", &job_id)?;
    let job = state.store.job(&job_id).await?.ok_or_else(|| ApiError::not_found(format!("job {job_id} does not exist")))?;
    Ok(Json(job_view(job)))
}

/// One page of a job as its own PDF.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/pages/{page}", tag = "scans",
    params(("job_id" = String, Path, description = "The job's id"), ("page" = i64, Path, description = "The page, 1-based")),
    responses((status = 200, description = "The page", content_type = "application/pdf", body = FileBody),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn job_page(State(state): State<AppState>, caller: Caller, Path((job_id, page)): Path<(String, i64)>) -> ApiResult<Response> {
    caller.require(Permission::Read)?;
    check_id("job", &job_id)?;
    let key = state
        .store
        .page_object(&job_id, page)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {job_id} has no stored page {page}")))?;
    Ok(pdf(state.objects.get(&key).await?, &format!("{job_id}-page-{page}.pdf")))
}

// ---- status and scans ----

/// The exam's certificate status (code and Russian label), counts, and per application its registration
/// number, issue date, blank number, scan link, when, by whom and from which job and page.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/certificates/status", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The status", body = ExamStatusView),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn exam_status(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<ExamStatusView>> {
    caller.require(Permission::Read)?;
    check_id("exam", &exam_id)?;
    let status = state.store.exam_status(&exam_id).await?.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} is not known")))?;
    let applications = status
        .applications
        .into_iter()
        .map(|a| {
            let scan = a.attachment;
            ApplicationView {
                scan_url: scan.as_ref().map(|_| format!("/v1/applications/{}/certificate-scan", a.application_id)),
                application_id: a.application_id,
                full_name: a.full_name,
                outcome: a.outcome,
                outcome_label: a.outcome_label.to_string(),
                status: StatusLabel::new(a.status.code(), a.status.label()),
                handed_over_on: a.handover.as_ref().map(|h| h.handed_over_on.clone()),
                handed_over_by: a.handover.map(|h| h.handed_over_by),
                registration_number: a.registration_number,
                issue_date: a.issue_date,
                certificate_generated: a.certificate_generated,
                blank_number: scan.as_ref().map(|s| s.blank_number.clone()),
                attached_at: scan.as_ref().map(|s| s.attached_at.clone()),
                attached_by: scan.as_ref().map(|s| s.attached_by.clone()),
                attached_from: scan.map(|s| AttachedFrom { job_id: s.job_id, page: s.page, source: s.source }),
            }
        })
        .collect();
    Ok(Json(ExamStatusView {
        exam_id: status.exam_id,
        status: StatusLabel::new(status.status.code(), status.status.label()),
        register_status: StatusLabel::new(status.register_status.code(), status.register_status.label()),
        counts: status.counts,
        applications,
    }))
}

/// The attached scan (PDF).
#[utoipa::path(get, path = "/v1/applications/{application_id}/certificate-scan", tag = "scans",
    params(("application_id" = String, Path, description = "The application's id")),
    responses((status = 200, description = "The scan", content_type = "application/pdf", body = FileBody),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn download_scan(State(state): State<AppState>, caller: Caller, Path(application_id): Path<String>) -> ApiResult<Response> {
    caller.require(Permission::Read)?;
    check_id("application", &application_id)?;
    let attachment = state
        .store
        .attachment(&application_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("application {application_id} has no attached scan")))?;
    Ok(pdf(state.objects.get(&attachment.object_key).await?, &format!("{application_id}.pdf")))
}

/// Unattach the scan (body `{"reason"}`); the page goes back to the review list as `unattached`.
#[utoipa::path(delete, path = "/v1/applications/{application_id}/certificate-scan", tag = "review",
    params(("application_id" = String, Path, description = "The application's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "The review item the page became", body = ReviewItemView),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn unattach(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<ReviewItemView>> {
    caller.require(Permission::Manage)?;
    check_id("application", &application_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the scan is taken off (reason)"));
    }
    let item = state.store.unattach(&application_id, body.reason.trim(), &caller.name).await?;
    Ok(Json(ReviewItemView::of(item)))
}

// ---- review ----

/// The pages waiting for a person (`?state=open|all`), with page and preview links.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/review", tag = "review",
    params(("exam_id" = String, Path, description = "The exam's id"), ReviewQuery),
    responses((status = 200, description = "The review list", body = ReviewList),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn review_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    Query(query): Query<ReviewQuery>,
) -> ApiResult<Json<ReviewList>> {
    caller.require(Permission::Manage)?;
    roster_of(&state, &exam_id).await?;
    let open_only = match query.state.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => return Err(ApiError::bad_request(format!("state must be open or all, not {other:?}"))),
    };
    let items = state.store.review_items(&exam_id, open_only).await?;
    Ok(Json(ReviewList { exam_id, items: items.into_iter().map(ReviewItemView::of).collect() }))
}

async fn review_item(state: &AppState, item_id: &str) -> ApiResult<ReviewItem> {
    check_id("review item", item_id)?;
    state.store.review_item(item_id).await?.ok_or_else(|| ApiError::not_found(format!("review item {item_id} does not exist")))
}

/// The review page as PDF.
#[utoipa::path(get, path = "/v1/review/{item_id}/page", tag = "review",
    params(("item_id" = String, Path, description = "The review item's id")),
    responses((status = 200, description = "The page", content_type = "application/pdf", body = FileBody),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn review_page(State(state): State<AppState>, caller: Caller, Path(item_id): Path<String>) -> ApiResult<Response> {
    caller.require(Permission::Manage)?;
    let item = review_item(&state, &item_id).await?;
    let key = item.object_key.ok_or_else(|| ApiError::not_found("this page could not be decoded; it has no file"))?;
    Ok(pdf(state.objects.get(&key).await?, &format!("review-{item_id}.pdf")))
}

/// A small PNG of the page (about 50 dpi), upright; 422 `preview_unavailable` when it cannot be rendered.
#[utoipa::path(get, path = "/v1/review/{item_id}/preview", tag = "review",
    params(("item_id" = String, Path, description = "The review item's id")),
    responses((status = 200, description = "The preview", content_type = "image/png", body = FileBody),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn review_preview(State(state): State<AppState>, caller: Caller, Path(item_id): Path<String>) -> ApiResult<Response> {
    caller.require(Permission::Manage)?;
    let item = review_item(&state, &item_id).await?;
    let key = item.object_key.ok_or_else(|| ApiError::not_found("this page could not be decoded; it has no file"))?;
    let bytes = state.objects.get(&key).await?;
    let engine = state.engine;
    let png = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let image = engine.render_page(&bytes, 0, 50.0).map_err(|e| e.to_string())?;
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        Ok(png)
    })
    .await
    .map_err(|e| ApiError::internal("rendering a preview", e))?
    // The page file is what the scan held; one PDFium cannot render is the page's trouble, not the server's.
    .map_err(|e| {
        tracing::info!(error = %e, item_id = %item_id, "a review page cannot be previewed");
        ApiError::unprocessable(
            "preview_unavailable",
            format!("review item {item_id}: the page cannot be rendered as a preview; download it from its page_url"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Attach a review page to an application: it must be passed, have a FIS FRDO number and no scan yet; a
/// typed blank number must match the blank design's pattern (422 `invalid_blank_number`).
#[utoipa::path(post, path = "/v1/review/{item_id}/assign", tag = "review",
    params(("item_id" = String, Path, description = "The review item's id")),
    request_body(content = AssignBody, content_type = "application/json"),
    responses((status = 200, description = "Attached", body = Assigned),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(item_id): Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult<Json<Assigned>> {
    caller.require(Permission::Manage)?;
    check_id("review item", &item_id)?;
    check_id("application", &body.application_id)?;
    let blank_number = body.blank_number.as_deref().map(str::trim);
    if let Some(blank) = blank_number {
        check_blank_number(&state, blank)?;
    }
    let attachment = state.store.assign_review(&item_id, &body.application_id, blank_number, &caller.name).await?;
    Ok(Json(Assigned {
        item_id,
        state: "assigned".into(),
        scan_url: format!("/v1/applications/{}/certificate-scan", attachment.application_id),
        application_id: attachment.application_id,
        blank_number: attachment.blank_number,
        registration_number: attachment.registration_number,
        issue_date: attachment.issue_date,
    }))
}

/// A blank number typed by a person must be one the blank design can carry: the template's pattern.
fn check_blank_number(state: &AppState, blank: &str) -> ApiResult<()> {
    let zone = &state.template.recognition.blank_number;
    // The template's pattern was checked when the template was read; it compiles.
    let pattern = regex::Regex::new(&zone.pattern).map_err(|e| ApiError::internal("the template's blank-number pattern", e))?;
    if blank.chars().count() <= 64 && pattern.is_match(blank) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_blank_number",
            format!(
                "blank_number {} is not a number of this blank design (pattern {}, like {:?})",
                echo(blank),
                zone.pattern,
                zone.example
            ),
        ))
    }
}

/// Dismiss a review page (body `{"reason"}`).
#[utoipa::path(post, path = "/v1/review/{item_id}/dismiss", tag = "review",
    params(("item_id" = String, Path, description = "The review item's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "Dismissed", body = ReviewItemView),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn dismiss(
    State(state): State<AppState>,
    caller: Caller,
    Path(item_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<ReviewItemView>> {
    caller.require(Permission::Manage)?;
    check_id("review item", &item_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the page is dismissed (reason)"));
    }
    let item = state.store.dismiss_review(&item_id, body.reason.trim(), &caller.name).await?;
    Ok(Json(ReviewItemView::of(item)))
}

/// Who attached, unattached, assigned, dismissed, uploaded, imported, generated — and when.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/audit", tag = "exams",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The audit trail", body = AuditTrail),
        (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn audit_trail(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<AuditTrail>> {
    caller.require(Permission::Manage)?;
    roster_of(&state, &exam_id).await?;
    let entries = state.store.audit_trail(&exam_id).await?;
    Ok(Json(AuditTrail { exam_id, entries }))
}
