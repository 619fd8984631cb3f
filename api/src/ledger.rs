//! The blank-ledger routes of `contracts.md` ("Blank ledger"): register a pack, list packs with their
//! counts, write off a blank, and a pack's report as JSON, CSV or XLSX. Rules are the domain's
//! (`certscan_domain::ledger`); the store keeps the data and guards the writes.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use certscan_domain::ledger::{Pack, PackCounts};
use certscan_domain::{is_valid_id, ledger_export};
use certscan_workers::store::{PutPack, StoreError};

use crate::auth::{Caller, Permission};
use crate::error::{ApiError, ApiResult};
use crate::handlers::JsonBody;
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

fn pack_json(pack: &Pack, counts: Option<&PackCounts>) -> Value {
    let mut v = serde_json::to_value(pack).unwrap_or(Value::Null);
    v["size"] = json!(pack.size());
    if let Some(c) = counts {
        v["counts"] = json!(c);
    }
    v
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackBody {
    pub series: String,
    pub first: String,
    pub last: String,
    pub received_on: Option<String>,
    pub note: Option<String>,
}

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
    Ok((status, Json(pack_json(&pack, None))).into_response())
}

pub async fn list_packs(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Permission::Read)?;
    let packs: Vec<Value> = state
        .store
        .packs_with_counts()
        .await?
        .iter()
        .map(|s| {
            let mut v = pack_json(&s.pack, Some(&s.counts));
            v["registered_at"] = json!(s.registered_at);
            v["registered_by"] = json!(s.registered_by);
            v
        })
        .collect();
    Ok(Json(json!({ "packs": packs })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoilBody {
    pub blank_number: String,
    pub reason: String,
}

pub async fn spoil_blank(
    State(state): State<AppState>,
    caller: Caller,
    Path(pack_id): Path<String>,
    JsonBody(body): JsonBody<SpoilBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(json!({
            "pack_id": pack_id,
            "blank_number": blank_number,
            "state": "spoiled",
            "reason": spoiled.reason,
            "by": spoiled.by,
            "at": spoiled.at,
        })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

pub async fn pack_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(pack_id): Path<String>,
    Query(query): Query<ReportQuery>,
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
        _ => Json(json!({"pack": pack_json(&pack, Some(&counts)), "counts": counts, "blanks": rows})).into_response(),
    })
}
