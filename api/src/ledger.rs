//! The blank-ledger routes of `contracts.md` ("Blank ledger"): register a pack, list packs with their
//! counts, write off a blank, and a pack's report as JSON, CSV or XLSX. Rules are the domain's
//! (`certscan_domain::ledger`); the store keeps the data and guards the writes.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use certscan_domain::ledger::Pack;
use certscan_domain::{is_valid_id, ledger_export};
use certscan_workers::store::{PutPack, StoreError};

use crate::auth::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::handlers::JsonBody;
use crate::views::{ErrorBody, FileBody, FormatQuery, PackBody, PackList, PackReport, PackView, SpoilBody, Spoiled};
use crate::AppState;

fn check_pack_id(pack_id: &str) -> ApiResult<()> {
    if is_valid_id(pack_id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("pack {pack_id:?} is not an id (letters, digits, - and _, at most 64)")))
    }
}

/// A store refusal in the ledger's words: a conflict keeps its message, with a ledger code.
fn refused(code: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Conflict(m) => ApiError::conflict(code, m),
        other => other.into(),
    }
}

/// Register a pack of blanks: 201 new, 200 replaced; 422 `invalid_pack` names the field; 409
/// `pack_conflict` when it overlaps another pack or would leave out a used or written-off number.
#[utoipa::path(put, path = "/v1/blank-packs/{pack_id}", tag = "ledger",
    params(("pack_id" = String, Path, description = "The pack's id")),
    request_body(content = PackBody, content_type = "application/json"),
    responses((status = 200, description = "Replaced", body = PackView), (status = 201, description = "Registered", body = PackView), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn put_pack(
    State(state): State<AppState>,
    caller: Caller,
    Path(pack_id): Path<String>,
    JsonBody(body): JsonBody<PackBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Manage)?;
    check_pack_id(&pack_id)?;
    let invalid = |field: &'static str, message: String| ApiError::unprocessable("invalid_pack", message).with("field", json!(field));
    let Some(received_on) = body.received_on.as_deref().filter(|d| !d.trim().is_empty()) else {
        return Err(invalid("received_on", "received_on (YYYY-MM-DD) is required".into()));
    };
    let pack = Pack::new(&pack_id, &body.series, &body.first, &body.last, Some(received_on), body.note.as_deref())
        .map_err(|e| invalid(e.field(), format!("{}: {e}", e.field())))?;
    let result = state.store.put_pack(&pack, &caller.name).await.map_err(refused("pack_conflict"))?;
    let status = if result == PutPack::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(PackView::of(&pack, None))).into_response())
}

/// Every pack of blanks with its counts `{used, spoiled, free}`.
#[utoipa::path(get, path = "/v1/blank-packs", tag = "ledger",
    responses((status = 200, description = "The packs", body = PackList), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn list_packs(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<PackList>> {
    caller.require(Permission::Read)?;
    let packs = state
        .store
        .packs_with_counts()
        .await?
        .into_iter()
        .map(|s| PackView {
            registered_at: Some(s.registered_at),
            registered_by: Some(s.registered_by),
            ..PackView::of(&s.pack, Some(s.counts))
        })
        .collect();
    Ok(Json(PackList { packs }))
}

/// Write off one blank; 422 when the number is not the pack's, 409 `blank_conflict` when it is used or
/// already written off.
#[utoipa::path(post, path = "/v1/blank-packs/{pack_id}/spoiled", tag = "ledger",
    params(("pack_id" = String, Path, description = "The pack's id")),
    request_body(content = SpoilBody, content_type = "application/json"),
    responses((status = 201, description = "Written off", body = Spoiled), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn spoil_blank(
    State(state): State<AppState>,
    caller: Caller,
    Path(pack_id): Path<String>,
    JsonBody(body): JsonBody<SpoilBody>,
) -> ApiResult<(StatusCode, Json<Spoiled>)> {
    caller.require(Permission::Manage)?;
    check_pack_id(&pack_id)?;
    let (blank_number, reason) = (body.blank_number.trim(), body.reason.trim());
    if reason.is_empty() {
        return Err(ApiError::unprocessable("reason_required", "say why the blank is written off (reason)").with("field", json!("reason")));
    }
    let pack = state.store.pack(&pack_id).await?.ok_or_else(|| ApiError::not_found(format!("pack {pack_id} is not registered")))?;
    if !pack.contains(blank_number) {
        return Err(ApiError::unprocessable(
            "blank_not_in_pack",
            format!("blank_number: {blank_number:?} is not a number of pack {pack_id} ({} {}–{})", pack.series, pack.first, pack.last),
        )
        .with("field", json!("blank_number")));
    }
    let spoiled = state.store.spoil_blank(&pack_id, blank_number, reason, &caller.name).await.map_err(refused("blank_conflict"))?;
    Ok((
        StatusCode::CREATED,
        Json(Spoiled {
            blank_number: blank_number.to_string(),
            pack_id,
            state: "spoiled".into(),
            reason: spoiled.reason,
            by: spoiled.by,
            at: spoiled.at,
        }),
    ))
}

/// Every number of the pack once: `used` (exam, application, when), `spoiled` (reason, who, when) or
/// `free`; as JSON, CSV (UTF-8, `;`) or XLSX (`?format=`).
#[utoipa::path(get, path = "/v1/blank-packs/{pack_id}/report", tag = "ledger",
    params(("pack_id" = String, Path, description = "The pack's id"), FormatQuery),
    responses((status = 200, description = "The report", content(
        (PackReport = "application/json"), (FileBody = "text/csv"),
        (FileBody = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = "4XX", description = "Refused", body = ErrorBody), (status = "5XX", description = "Server trouble", body = ErrorBody)))]
pub async fn pack_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(pack_id): Path<String>,
    Query(query): Query<FormatQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::Manage)?;
    check_pack_id(&pack_id)?;
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::bad_request(format!("format must be json, csv or xlsx, not {format:?}")));
    }
    let (pack, counts, rows) =
        state.store.pack_report(&pack_id).await?.ok_or_else(|| ApiError::not_found(format!("pack {pack_id} is not registered")))?;
    let attachment = |ext: &str| format!("attachment; filename=\"blanks-{pack_id}.{ext}\"");
    Ok(match format {
        "csv" => {
            let bytes = ledger_export::report_csv(&rows);
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, attachment("csv"))], bytes)
                .into_response()
        }
        "xlsx" => {
            let bytes = tokio::task::spawn_blocking(move || ledger_export::report_xlsx(&pack, &counts, &rows))
                .await
                .map_err(|e| ApiError::internal("writing the XLSX report", e))?
                .map_err(|e| ApiError::internal("writing the XLSX report", e))?;
            (
                [
                    (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
                    (header::CONTENT_DISPOSITION, attachment("xlsx")),
                ],
                bytes,
            )
                .into_response()
        }
        _ => Json(PackReport { pack: PackView::of(&pack, Some(counts)), counts, blanks: rows }).into_response(),
    })
}
