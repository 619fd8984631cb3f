//! The certificate's life after the scan (`contracts.md` "Exam list", "Issuance register", "Handover",
//! "Events"): the exam list the seeds filter on, the register's statuses and document, the handover
//! («Сертификат выдан лично») and the events feed. Thin: the rules are `certscan_domain::register` and
//! `status`, the data and the outbox are the store's.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;

use certscan_domain::register::transition;
use certscan_domain::{ExamCertificateStatus, RegisterAction, RegisterStatus};
use certscan_workers::settings::Role;
use certscan_workers::store::{ExamStatus, RegisterView};

use crate::auth::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::handlers::{check_id, JsonBody, Upload};
use crate::views::{
    DocumentLinks, ErrorBody, EventsPage, ExamList, ExamListEntry, ExamListQuery, FileBody, FormatQuery, HandedOver, HandoverBody,
    HandoverUndone, JobAccepted, ReasonBody, RegisterJson, RegisterScanView, SignatureRowView, SignaturesView, StatusLabel, UndoneHandover,
    UploadForm,
};
use crate::AppState;

// ---- exam list ----

/// Page size when none is asked for, and the largest one.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 500;

fn exam_list_entry(s: ExamStatus) -> ExamListEntry {
    ExamListEntry {
        certificate_status: StatusLabel::new(s.status.code(), s.status.label()),
        register_status: StatusLabel::new(s.register_status.code(), s.register_status.label()),
        exam_id: s.exam_id,
        counts: s.counts,
    }
}

/// The exam list, filtered by certificate and register status, in exam-id order, paged by cursor.
#[utoipa::path(get, path = "/v1/exams", tag = "life", params(ExamListQuery),
    responses((status = 200, description = "A page of exams", body = ExamList), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn exam_list(State(state): State<AppState>, caller: Caller, Query(q): Query<ExamListQuery>) -> ApiResult<Json<ExamList>> {
    caller.require(Permission::Read)?;
    let certificate_status = q
        .certificate_status
        .as_deref()
        .map(|c| {
            ExamCertificateStatus::parse(c).ok_or_else(|| {
                let known: Vec<&str> = ExamCertificateStatus::ALL.iter().map(|s| s.code()).collect();
                ApiError::bad_request(format!("certificate_status {c:?} is not one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let register_status = q
        .register_status
        .as_deref()
        .map(|c| {
            RegisterStatus::parse(c).ok_or_else(|| {
                let known: Vec<&str> = RegisterStatus::ALL.iter().map(|s| s.code()).collect();
                ApiError::bad_request(format!("register_status {c:?} is not one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(LIST_DEFAULT);
    if limit == 0 || limit > LIST_MAX {
        return Err(ApiError::bad_request(format!("limit must be 1 to {LIST_MAX}")));
    }
    if let Some(c) = &q.cursor {
        check_id("cursor", c)?;
    }
    let (exams, next) = state.store.exam_list(certificate_status, register_status, limit, q.cursor.as_deref()).await?;
    Ok(Json(ExamList { exams: exams.into_iter().map(exam_list_entry).collect(), next_cursor: next }))
}

// ---- issuance register ----

/// What the exam site may do with the register (generate, download so it goes on signing, upload the
/// signed scan): the exam site, and the local user when no tokens are configured.
fn require_exam_site(caller: &Caller) -> ApiResult<()> {
    match caller.role {
        None | Some(Role::ExamSite) => Ok(()),
        Some(role) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("role {} may not do this (the exam site does)", role.code())))
        }
    }
}

/// The signature check as the reviewer reads it first: counts, the sentence ("23 of 24 signed; row 7
/// empty"), every row with its verdict, ink share, file page and crop link. Never an approval.
fn signatures_view(v: &RegisterView) -> SignaturesView {
    let Some(s) = &v.signatures else {
        return SignaturesView {
            checked: false,
            signed: None,
            empty: None,
            unclear: None,
            summary: None,
            not_scanned: vec![],
            rows: vec![],
        };
    };
    let rows = s
        .rows
        .iter()
        .map(|r| SignatureRowView {
            row: r.row,
            verdict: r.verdict,
            ink: r.ink,
            page: r.page,
            page_url: v.scan_job_id.as_ref().map(|j| format!("/v1/jobs/{j}/pages/{}", r.page)),
            crop_url: r.crop_key.as_ref().map(|_| format!("/v1/exams/{}/register/signatures/{}", v.exam_id, r.row)),
        })
        .collect();
    SignaturesView {
        checked: true,
        signed: Some(s.signed),
        empty: Some(s.empty),
        unclear: Some(s.unclear),
        summary: Some(s.sentence()),
        not_scanned: s.not_scanned.clone(),
        rows,
    }
}

fn register_json(v: RegisterView) -> RegisterJson {
    let signatures = signatures_view(&v);
    let exam_id = v.exam_id.clone();
    let scan = v.scan_object_key.as_ref().map(|_| RegisterScanView {
        version: v.scan_version,
        url: format!("/v1/exams/{exam_id}/register/scan"),
        job_id: v.scan_job_id.clone(),
        pages: v.scan_job_id.as_ref().map(|j| v.scan_pages.iter().map(|p| format!("/v1/jobs/{j}/pages/{p}")).collect()),
        problems: v.scan_problems.clone(),
    });
    RegisterJson {
        status: StatusLabel::new(v.status.code(), v.status.label()),
        version: v.version,
        reason: v.reason,
        generated_at: v.generated_at,
        generated_by: v.generated_by,
        rows: v.rows,
        scan,
        signatures,
        document: v.version.map(|_| DocumentLinks {
            pdf: format!("/v1/exams/{exam_id}/register/document?format=pdf"),
            xlsx: format!("/v1/exams/{exam_id}/register/document?format=xlsx"),
        }),
        exam_id,
    }
}

async fn register_of(state: &AppState, exam_id: &str) -> ApiResult<RegisterView> {
    check_id("exam", exam_id)?;
    state.store.register(exam_id).await?.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} is not known")))
}

/// The issuance register: status, version, reason, rows, the last scan (its pages and problems) and the
/// signature check (counts, summary, every row's verdict and crop link).
#[utoipa::path(get, path = "/v1/exams/{exam_id}/register", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The register", body = RegisterJson), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn get_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<RegisterJson>> {
    caller.require(Permission::Read)?;
    Ok(Json(register_json(register_of(&state, &exam_id).await?)))
}

/// Generate a new version of the issuance register (the exam site).
#[utoipa::path(post, path = "/v1/exams/{exam_id}/register", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The register", body = RegisterJson), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn generate_register(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
) -> ApiResult<Json<RegisterJson>> {
    require_exam_site(&caller)?;
    check_id("exam", &exam_id)?;
    Ok(Json(register_json(state.store.generate_register(&exam_id, &caller.name).await?)))
}

/// The register document (`?format=pdf|xlsx`); every PDF page carries its code. The exam site's first
/// download puts it on signing.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/register/document", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id"), FormatQuery),
    responses((status = 200, description = "The document", content(
        (FileBody = "application/pdf"), (FileBody = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn register_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    match caller.role {
        None | Some(Role::ExamSite) | Some(Role::TestingCenter) => {}
        Some(role) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("role {} may not download the register", role.code())))
        }
    }
    let format = q.format.as_deref().unwrap_or("pdf");
    if !matches!(format, "pdf" | "xlsx") {
        return Err(ApiError::bad_request(format!("format must be pdf or xlsx, not {format:?}")));
    }
    let view = register_of(&state, &exam_id).await?;
    let version = view.version.ok_or_else(|| {
        ApiError::conflict(
            "invalid_transition",
            format!("the register is {} ({}): generate it first", view.status.code(), view.status.label()),
        )
    })?;
    let roster = state.store.roster(&exam_id).await?.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} is not known")))?;
    let document = certscan_templates::register::RegisterDocument::new(&roster, version as u32, &view.rows);
    let (bytes, content_type) = match format {
        "xlsx" => (
            document.to_xlsx().map_err(|e| ApiError::internal("writing the register XLSX", e))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        _ => {
            let rendered = tokio::task::spawn_blocking(move || document.to_pdf())
                .await
                .map_err(|e| ApiError::internal("rendering the register", e))?
                .map_err(|e| ApiError::internal("rendering the register", e))?;
            (rendered, "application/pdf")
        }
    };
    // The exam site's download puts a generated register on signing; the testing center's looks only.
    let moves = matches!(caller.role, None | Some(Role::ExamSite));
    state.store.register_downloaded(&exam_id, &caller.name, moves).await?;
    let file = format!("register-{exam_id}-v{version}.{format}");
    Ok((
        [(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\""))],
        bytes,
    )
        .into_response())
}

/// The signed register scan: a job like any scan upload (its pages route themselves by their codes: the
/// register's go to the register, certificate pages to their applications). Refused at once (409) when
/// the register cannot take a scan now.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/register/scans", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id"),
        ("X-File-Name" = Option<String>, Header, description = "The file's name")),
    request_body(content(
        (FileBody = "application/pdf"), (FileBody = "image/tiff"), (FileBody = "image/jpeg"), (FileBody = "image/png"),
        (FileBody = "application/octet-stream"), (UploadForm = "multipart/form-data"))),
    responses((status = 202, description = "Accepted: a job", body = JobAccepted), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn upload_register_scan(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    require_exam_site(&caller)?;
    let view = register_of(&state, &exam_id).await?;
    if let Err(e) = transition(view.status, view.version.is_some(), true, RegisterAction::UploadScan) {
        return Err(ApiError::from(certscan_workers::store::StoreError::InvalidTransition(e)));
    }
    let (status, Json(mut body)) = crate::handlers::submit(&state, &caller, &exam_id, None, upload).await?;
    body.register_url = Some(format!("/v1/exams/{exam_id}/register"));
    Ok((status, Json(body)))
}

/// The crop (PNG) of one row's signature cell from the last recognised register scan.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/register/signatures/{row}", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id"), ("row" = u32, Path, description = "The register row (№)")),
    responses((status = 200, description = "The crop", content_type = "image/png", body = FileBody), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn register_signature(
    State(state): State<AppState>,
    caller: Caller,
    Path((exam_id, row)): Path<(String, u32)>,
) -> ApiResult<Response> {
    caller.require(Permission::Read)?;
    let view = register_of(&state, &exam_id).await?;
    let key =
        view.signatures.as_ref().and_then(|s| s.rows.iter().find(|r| r.row == row)).and_then(|r| r.crop_key.clone()).ok_or_else(|| {
            ApiError::not_found(format!("exam {exam_id}: row {row} has no checked signature cell in the last register scan"))
        })?;
    let bytes = state.objects.get(&key).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response())
}

/// The file the last recognised register scan came in.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/register/scan", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The scan as uploaded", content(
        (FileBody = "application/pdf"), (FileBody = "image/tiff"), (FileBody = "image/jpeg"), (FileBody = "image/png"),
        (FileBody = "application/octet-stream"))), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn register_scan(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Response> {
    caller.require(Permission::Read)?;
    let view = register_of(&state, &exam_id).await?;
    let key = view.scan_object_key.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} has no uploaded register scan")))?;
    let bytes = state.objects.get(&key).await?;
    let content_type = match certscan_pipeline::source::detect_format(&bytes) {
        Some(certscan_pipeline::source::ScanFormat::Pdf) => "application/pdf",
        Some(certscan_pipeline::source::ScanFormat::Tiff) => "image/tiff",
        Some(certscan_pipeline::source::ScanFormat::Jpeg) => "image/jpeg",
        Some(certscan_pipeline::source::ScanFormat::Png) => "image/png",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

async fn review_step(
    state: &AppState,
    caller: &Caller,
    exam_id: &str,
    action: RegisterAction,
    reason: Option<&str>,
) -> ApiResult<Json<RegisterJson>> {
    caller.require(Permission::Manage)?;
    check_id("exam", exam_id)?;
    Ok(Json(register_json(state.store.review_register(exam_id, action, reason, &caller.name).await?)))
}

/// Take the register for review: `under_review`.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/register/review", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The register", body = RegisterJson), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn take_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<RegisterJson>> {
    review_step(&state, &caller, &exam_id, RegisterAction::TakeForReview, None).await
}

/// Approve the register.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/register/approve", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    responses((status = 200, description = "The register", body = RegisterJson), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn approve_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<RegisterJson>> {
    review_step(&state, &caller, &exam_id, RegisterAction::Approve, None).await
}

/// Reject the register with a reason the exam site reads.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/register/reject", tag = "life",
    params(("exam_id" = String, Path, description = "The exam's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "The register", body = RegisterJson), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn reject_register(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<RegisterJson>> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the register is rejected (reason): the exam site reads it"));
    }
    review_step(&state, &caller, &exam_id, RegisterAction::Reject, Some(&body.reason)).await
}

// ---- handover ----

/// «Сертификат выдан лично»: the application becomes `done` (only with a scan attached).
#[utoipa::path(post, path = "/v1/applications/{application_id}/handover", tag = "life",
    params(("application_id" = String, Path, description = "The application's id")),
    request_body(content = Option<HandoverBody>, description = "Optional; an empty body means today", content_type = "application/json"),
    responses((status = 200, description = "Handed over", body = HandedOver), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn hand_over(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<HandedOver>> {
    require_exam_site(&caller)?;
    check_id("application", &application_id)?;
    let body: HandoverBody = if body.iter().all(u8::is_ascii_whitespace) {
        HandoverBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::unprocessable("invalid_json", format!("the body is not the expected JSON: {e}")))?
    };
    let on = match body.handed_over_on.as_deref() {
        None => chrono::Utc::now().date_naive(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::unprocessable("invalid_date", format!("handed_over_on {d:?} is not a date YYYY-MM-DD")))?,
    };
    let h = state.store.hand_over(&application_id, on, &caller.name).await.map_err(|e| match e {
        certscan_workers::store::StoreError::Conflict(m) => ApiError::conflict("handover_refused", m),
        e => e.into(),
    })?;
    Ok(Json(HandedOver {
        application_id: h.application_id,
        exam_id: h.exam_id,
        status: StatusLabel::new("done", "Экзаменован - услуга оказана"),
        handed_over_on: h.handed_over_on,
        handed_over_by: h.handed_over_by,
        recorded_at: h.recorded_at,
    }))
}

/// Undo a handover (the testing center, with a reason): the application reads `certificate_issue_required` again.
#[utoipa::path(delete, path = "/v1/applications/{application_id}/handover", tag = "life",
    params(("application_id" = String, Path, description = "The application's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses((status = 200, description = "Undone", body = HandoverUndone), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn undo_handover(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<HandoverUndone>> {
    caller.require(Permission::Manage)?;
    check_id("application", &application_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the handover is undone (reason)"));
    }
    let h = state.store.undo_handover(&application_id, body.reason.trim(), &caller.name).await?;
    Ok(Json(HandoverUndone {
        application_id: h.application_id,
        exam_id: h.exam_id,
        status: StatusLabel::new("certificate_issue_required", "Требуется выдать сертификат"),
        undone: UndoneHandover {
            handed_over_on: h.handed_over_on,
            handed_over_by: h.handed_over_by,
            reason: body.reason.trim().to_string(),
        },
    }))
}

// ---- events ----

/// The events feed: every change the portal hears of, in commit order (`?after=SEQ`).
#[utoipa::path(get, path = "/v1/events", tag = "life", params(crate::views::EventsQuery),
    responses((status = 200, description = "A page of events", body = EventsPage), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<crate::views::EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    caller.require(Permission::Read)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("after must be a sequence number (0 or more)"));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    if let Some(e) = &q.exam_id {
        check_id("exam", e)?;
    }
    let events = state.store.events(after, limit, q.exam_id.as_deref()).await?;
    let last_seq = match events.last() {
        Some(e) => e.seq,
        None => after.max(0),
    };
    Ok(Json(EventsPage { events, last_seq }))
}
