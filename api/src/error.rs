//! The one error shape of the API: `{"error": {"code", "message"}}` (plus `rows` for a refused FIS FRDO
//! file), with the right status. Internals (database messages) are logged, not sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use certscan_workers::objects::ObjectsError;
use certscan_workers::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields inside `error` (e.g. `rows`).
    pub extra: Option<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), extra: None }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }
    pub fn internal(what: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{what} failed; the server log has the details"))
    }
    pub fn unavailable(what: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::warn!(%error, "{what}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("{what}: a backing service is unavailable, try again later"))
    }
    pub fn with(mut self, key: &'static str, value: serde_json::Value) -> ApiError {
        self.extra = Some((key, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some((key, value)) = self.extra {
            error[key] = value;
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::conflict("conflict", m),
            StoreError::InvalidTransition(t) => ApiError::conflict("invalid_transition", t.to_string())
                .with("current_status", serde_json::json!({"code": t.current.code(), "label": t.current.label()})),
            e if e.is_transient() => ApiError::unavailable("the database", e),
            e => ApiError::internal("a database request", e),
        }
    }
}

impl From<ObjectsError> for ApiError {
    fn from(e: ObjectsError) -> Self {
        if e.is_not_found() {
            ApiError::not_found("the file is not in the object store")
        } else {
            ApiError::unavailable("the object store", e)
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
