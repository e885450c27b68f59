//! Extractors whose every rejection is an [`ApiError`] in the brief's JSON shape, so no input
//! reaches a handler half-parsed and none gets axum's plain-text defaults.

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> ApiError {
    let text = r.body_text();
    match r.status() {
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::unprocessable(ErrorCode::InvalidBody, text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(text),
        _ => ApiError::bad_request(ErrorCode::MalformedJson, text),
    }
}

/// Path parameters (a malformed id is a 400, not axum's plain-text answer).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|e| ApiError::bad_request(ErrorCode::MalformedPath, e.body_text()))
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e| ApiError::bad_request(ErrorCode::MalformedQuery, e.body_text()))
    }
}
