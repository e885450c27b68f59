//! The gateway's one error type: a precise JSON 4xx, or an opaque 5xx whose cause is logged.
//!
//! Body shape (brief section 4): `{"error": {"code": "...", "message": "..."}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad signature).
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// For humans.
        message: String,
    },
    /// 503 with `Retry-After`: a dependency is down; nothing was written.
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        };
        metrics::counter!("boxoffice_http_errors_total", "code" => code).increment(1);
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": self.to_string() } })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}
