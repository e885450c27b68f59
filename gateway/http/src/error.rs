//! The gateway's one error type (buyer API and admin side alike): a precise JSON 4xx, or an
//! opaque 503 whose cause is logged.
//!
//! Body shape (brief section 4): `{"error": {"code": "...", "message": "..."}}`. Nothing a
//! client sends can produce a 500: handlers map every failure to one of these. The store's
//! errors become one of these in one place, `From<StoreError>`, so a handler only writes `?`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use boxoffice_workflows::store::{Refusal, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::code::ErrorCode;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A 4xx (or a 429) with a stable code.
    #[error("{message}")]
    Client {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine-readable code.
        code: ErrorCode,
        /// For humans.
        message: String,
        /// Seconds for `Retry-After` (429 only).
        retry_after_s: Option<u32>,
    },
    /// 503 with `Retry-After`: a dependency is down; nothing was written.
    #[error("a dependency is unavailable, retry shortly")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The error body every failure carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `seat_unknown`, `admission_used`.
    pub code: ErrorCode,
    /// For humans.
    pub message: String,
}

impl ApiError {
    fn client(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// 400: the request is malformed (bad JSON, a bad header, a bad signature).
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no credential, or one that is forged or expired.
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403: a valid credential for something else.
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, code, message)
    }

    /// 404.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the state moved on (the admission was used, the order is past cancelling).
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }

    /// 410: gone for good (an expired admission).
    pub fn gone(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::GONE, code, message)
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            message,
        )
    }

    /// 415.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            message,
        )
    }

    /// 422: well-formed, but the values are not acceptable.
    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(code: ErrorCode, message: impl Into<String>, retry_after_s: u32) -> Self {
        Self::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code,
            message: message.into(),
            retry_after_s: Some(retry_after_s),
        }
    }

    /// 503: a dependency failed.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self::Unavailable(cause.to_string().into())
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, retry_after) = match &self {
            Self::Client {
                code,
                retry_after_s,
                ..
            } => (*code, *retry_after_s),
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable");
                (ErrorCode::Unavailable, Some(2))
            }
        };
        metrics::counter!("boxoffice_http_errors_total", "code" => code.as_str(), "status" => status.as_str().to_owned()).increment(1);
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(s) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// The one conversion of the store's errors into answers, at the edge. A refusal the caller
/// can act on is its precise 4xx; a value the database will not store is a 422 whose
/// constraint stays in the log; a missing row is a 404; anything else is the store's fault,
/// an opaque 503.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => refused(r),
            StoreError::NotFound { entity, .. } => {
                let code = match entity {
                    "event" => ErrorCode::EventNotFound,
                    "order" => ErrorCode::OrderNotFound,
                    _ => ErrorCode::NotFound,
                };
                Self::not_found(code, format!("no such {entity}"))
            }
            StoreError::Constraint(c) => {
                tracing::warn!(constraint = %c, "a write was refused");
                Self::unprocessable(
                    ErrorCode::InvalidValue,
                    "a value is out of range or conflicts with another",
                )
            }
            StoreError::BadValue(e) => {
                tracing::warn!(error = %e, "a write was refused");
                Self::unprocessable(ErrorCode::InvalidValue, "a value cannot be stored as given")
            }
            StoreError::Invalid(m) => Self::unprocessable(ErrorCode::InvalidValue, m),
            StoreError::Unavailable(e) => Self::unavailable(e),
            other => Self::unavailable(other),
        }
    }
}

fn refused(r: Refusal) -> ApiError {
    let message = r.to_string();
    match r {
        Refusal::ClosesBeforeOpens => ApiError::unprocessable(ErrorCode::InvalidWindow, message),
        Refusal::SectionExists => ApiError::conflict(ErrorCode::SectionExists, message),
        Refusal::UnknownSection(_) => ApiError::unprocessable(ErrorCode::SectionUnknown, message),
        Refusal::SeatsInStandingSection | Refusal::UnitsInSeatedSection => {
            ApiError::unprocessable(ErrorCode::AllocationInvalid, message)
        }
        Refusal::UnknownSeats { .. } => ApiError::unprocessable(ErrorCode::SeatUnknown, message),
        Refusal::SeatsAllocated(_) => ApiError::conflict(ErrorCode::SeatAllocated, message),
        Refusal::TooManyUnits { .. } => {
            ApiError::unprocessable(ErrorCode::AllocationTooLarge, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status, and the code and message as the body shows them.
    fn answer(e: StoreError) -> (StatusCode, String) {
        let e = ApiError::from(e);
        let code = match &e {
            ApiError::Client { code, .. } => code.as_str(),
            ApiError::Unavailable(_) => ErrorCode::Unavailable.as_str(),
        };
        (e.status(), format!("{code} {e} {e:?}"))
    }

    #[test]
    fn a_constraint_is_a_code_and_never_shown_by_name() {
        let (status, shown) = answer(StoreError::Constraint("events_hold_seconds_check".into()));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!shown.contains("events_"), "{shown}");
        assert!(shown.contains("invalid_value"), "{shown}");
    }

    #[test]
    fn a_value_the_database_cannot_store_is_the_inputs_fault_not_a_503() {
        let bad = StoreError::BadValue(sqlx::Error::Protocol("invalid byte sequence".into()));
        assert_eq!(answer(bad).0, StatusCode::UNPROCESSABLE_ENTITY);
        let down = StoreError::Unavailable(sqlx::Error::PoolTimedOut);
        assert_eq!(answer(down).0, StatusCode::SERVICE_UNAVAILABLE);
        let corrupt = StoreError::Corrupt("order state \"lost\"".into());
        assert_eq!(answer(corrupt).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn a_refusal_is_its_own_code_with_the_stores_words() {
        let (status, shown) = answer(StoreError::Refused(Refusal::SeatsAllocated(vec![
            "A-1".into(),
        ])));
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(shown.contains("seat_allocated") && shown.contains("already allocated: A-1"));
        let (status, _) = answer(StoreError::Refused(Refusal::ClosesBeforeOpens));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
