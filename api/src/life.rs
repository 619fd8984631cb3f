//! The certificate's life after the scan (`contracts.md` "Exam list", "Issuance register", "Handover",
//! "Events"): the exam list the seeds filter on, the register's statuses and document, the handover
//! («Сертификат выдан лично») and the events feed. Thin: the rules are `certscan_domain::register` and
//! `status`, the data and the outbox are the store's.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use certscan_domain::register::transition;
use certscan_domain::{ExamCertificateStatus, RegisterAction, RegisterStatus};
use certscan_workers::settings::Role;
use certscan_workers::store::{ExamStatus, RegisterView};

use crate::auth::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::handlers::{check_id, JsonBody, ReasonBody, Upload};
use crate::AppState;

fn status_json(code: &str, label: &str) -> Value {
    json!({"code": code, "label": label})
}

// ---- exam list ----

#[derive(Debug, Deserialize)]
pub struct ExamListQuery {
    pub certificate_status: Option<String>,
    pub register_status: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Page size when none is asked for, and the largest one.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 500;

fn exam_list_entry(s: &ExamStatus) -> Value {
    json!({
        "exam_id": s.exam_id,
        "certificate_status": status_json(s.status.code(), s.status.label()),
        "register_status": status_json(s.register_status.code(), s.register_status.label()),
        "counts": s.counts,
    })
}

pub async fn exam_list(State(state): State<AppState>, caller: Caller, Query(q): Query<ExamListQuery>) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({"exams": exams.iter().map(exam_list_entry).collect::<Vec<_>>(), "next_cursor": next})))
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
fn signatures_json(v: &RegisterView) -> Value {
    let Some(s) = &v.signatures else {
        return json!({"checked": false, "signed": null, "empty": null, "unclear": null, "summary": null, "not_scanned": [], "rows": []});
    };
    let rows: Vec<Value> = s
        .rows
        .iter()
        .map(|r| {
            json!({
                "row": r.row,
                "verdict": r.verdict.code(),
                "ink": r.ink,
                "page": r.page,
                "page_url": v.scan_job_id.as_ref().map(|j| format!("/v1/jobs/{j}/pages/{}", r.page)),
                "crop_url": r.crop_key.as_ref().map(|_| format!("/v1/exams/{}/register/signatures/{}", v.exam_id, r.row)),
            })
        })
        .collect();
    json!({
        "checked": true,
        "signed": s.signed,
        "empty": s.empty,
        "unclear": s.unclear,
        "summary": s.sentence(),
        "not_scanned": s.not_scanned,
        "rows": rows,
    })
}

fn register_json(v: &RegisterView) -> Value {
    let signatures = signatures_json(v);
    json!({
        "exam_id": v.exam_id,
        "status": status_json(v.status.code(), v.status.label()),
        "version": v.version,
        "reason": v.reason,
        "generated_at": v.generated_at,
        "generated_by": v.generated_by,
        "rows": v.rows,
        "scan": v.scan_object_key.as_ref().map(|_| json!({
            "version": v.scan_version,
            "url": format!("/v1/exams/{}/register/scan", v.exam_id),
            "job_id": v.scan_job_id,
            "pages": v.scan_job_id.as_ref().map(|j| v.scan_pages.iter().map(|p| format!("/v1/jobs/{j}/pages/{p}")).collect::<Vec<_>>()),
            "problems": v.scan_problems,
        })),
        "signatures": signatures,
        "document": v.version.map(|_| json!({
            "pdf": format!("/v1/exams/{}/register/document?format=pdf", v.exam_id),
            "xlsx": format!("/v1/exams/{}/register/document?format=xlsx", v.exam_id),
        })),
    })
}

async fn register_of(state: &AppState, exam_id: &str) -> ApiResult<RegisterView> {
    check_id("exam", exam_id)?;
    state.store.register(exam_id).await?.ok_or_else(|| ApiError::not_found(format!("exam {exam_id} is not known")))
}

pub async fn get_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<Value>> {
    caller.require(Permission::Read)?;
    Ok(Json(register_json(&register_of(&state, &exam_id).await?)))
}

pub async fn generate_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<Value>> {
    require_exam_site(&caller)?;
    check_id("exam", &exam_id)?;
    Ok(Json(register_json(&state.store.generate_register(&exam_id, &caller.name).await?)))
}

#[derive(Debug, Deserialize)]
pub struct DocumentQuery {
    /// `pdf` (default) or `xlsx`.
    pub format: Option<String>,
}

pub async fn register_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    Query(q): Query<DocumentQuery>,
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
pub async fn upload_register_scan(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_exam_site(&caller)?;
    let view = register_of(&state, &exam_id).await?;
    if let Err(e) = transition(view.status, view.version.is_some(), true, RegisterAction::UploadScan) {
        return Err(ApiError::from(certscan_workers::store::StoreError::InvalidTransition(e)));
    }
    let (status, Json(mut body)) = crate::handlers::submit(&state, &caller, &exam_id, None, upload).await?;
    body["register_url"] = json!(format!("/v1/exams/{exam_id}/register"));
    Ok((status, Json(body)))
}

/// The crop (PNG) of one row's signature cell from the last recognised register scan.
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
) -> ApiResult<Json<Value>> {
    caller.require(Permission::Manage)?;
    check_id("exam", exam_id)?;
    Ok(Json(register_json(&state.store.review_register(exam_id, action, reason, &caller.name).await?)))
}

pub async fn take_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<Value>> {
    review_step(&state, &caller, &exam_id, RegisterAction::TakeForReview, None).await
}

pub async fn approve_register(State(state): State<AppState>, caller: Caller, Path(exam_id): Path<String>) -> ApiResult<Json<Value>> {
    review_step(&state, &caller, &exam_id, RegisterAction::Approve, None).await
}

pub async fn reject_register(
    State(state): State<AppState>,
    caller: Caller,
    Path(exam_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<Value>> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the register is rejected (reason): the exam site reads it"));
    }
    review_step(&state, &caller, &exam_id, RegisterAction::Reject, Some(&body.reason)).await
}

// ---- handover ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    pub handed_over_on: Option<String>,
}

pub async fn hand_over(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "application_id": h.application_id,
        "exam_id": h.exam_id,
        "status": status_json("done", "Экзаменован - услуга оказана"),
        "handed_over_on": h.handed_over_on,
        "handed_over_by": h.handed_over_by,
        "recorded_at": h.recorded_at,
    })))
}

pub async fn undo_handover(
    State(state): State<AppState>,
    caller: Caller,
    Path(application_id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Json<Value>> {
    caller.require(Permission::Manage)?;
    check_id("application", &application_id)?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the handover is undone (reason)"));
    }
    let h = state.store.undo_handover(&application_id, body.reason.trim(), &caller.name).await?;
    Ok(Json(json!({
        "application_id": h.application_id,
        "exam_id": h.exam_id,
        "status": status_json("certificate_issue_required", "Требуется выдать сертификат"),
        "undone": {"handed_over_on": h.handed_over_on, "handed_over_by": h.handed_over_by, "reason": body.reason.trim()},
    })))
}

// ---- events ----

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    pub after: Option<i64>,
    pub limit: Option<i64>,
    pub exam_id: Option<String>,
}

pub async fn events(State(state): State<AppState>, caller: Caller, Query(q): Query<EventsQuery>) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({"events": events, "last_seq": last_seq})))
}
