//! The one error shape of the API: `{"error": {"code", "message"}}` (plus `rows` for a refused FIS FRDO
//! file), with the right status. Internals (database messages) are logged, not sent.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
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
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), extra: Vec::new() }
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
        self.extra.push((key, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        for (key, value) in self.extra {
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
            // A concurrent request won the race; this one would now contradict what is stored.
            e if e.is_conflict() => {
                tracing::info!(error = %e, "a concurrent change won");
                ApiError::conflict("conflict", "another request changed the same data at the same moment; read it again and decide anew")
            }
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

/// Longest piece of a caller's input a message repeats; the rest is cut (`…`).
const ECHO_CHARS: usize = 64;

/// A caller's input as a message may show it: at most [`ECHO_CHARS`] characters, quoted, control
/// characters escaped.
pub fn echo(input: &str) -> String {
    if input.chars().count() <= ECHO_CHARS {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(ECHO_CHARS).collect();
        format!("{head:?}… ({} characters)", input.chars().count())
    }
}

/// A request body that could not be read: too large (413), stalled past the body timeout (408), or
/// broken off (400).
pub fn body_error(status: StatusCode, error: &(dyn std::error::Error + 'static), text: String) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    // The body wrapper's error, found in the chain or (when a layer flattened it) by its text.
    let mut timed_out = text.contains("within the designated timeout");
    while let Some(e) = cause {
        timed_out |= e.is::<tower_http::timeout::TimeoutError>();
        cause = e.source();
    }
    if timed_out {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body stalled longer than the body timeout (body_timeout_s); send it again",
        );
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "too_large", text);
    }
    ApiError::new(status, "bad_body", text)
}

/// Framework rejections (a path parameter that is not a number, a body over the limit read by a plain
/// extractor) come as text; every error leaves in the one JSON shape.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 16 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        s if s.is_server_error() => "internal",
        _ => "rejected",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    ApiError::new(status, code, message).into_response()
}
