//! The one error shape a client sees: `{"error": {"code", "message"}}` with a stable code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A client-facing error.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// `429 rate-limited` with `Retry-After: wait`.
    pub(crate) fn rate_limited(message: impl Into<String>, wait: u64) -> ApiError {
        ApiError {
            retry_after: Some(wait),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r =
            (self.status, Json(json!({"error": {"code": self.code, "message": self.message}})))
                .into_response();
        if let Some(wait) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        r
    }
}
