//! Extractors whose every rejection is an [`ApiError`] in the brief's JSON shape, so no input
//! reaches a handler half-parsed and none gets axum's plain-text defaults.

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use boxoffice_nats::BuyerId;
use serde::de::DeserializeOwned;

use crate::{AppState, error::ApiError, tokens::TokenError};

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
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::unprocessable("invalid_body", text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(text),
        _ => ApiError::bad_request("malformed_json", text),
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
            .map_err(|e| ApiError::bad_request("malformed_path", e.body_text()))
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
            .map_err(|e| ApiError::bad_request("malformed_query", e.body_text()))
    }
}

/// The buyer behind a valid `Authorization: Bearer <session token>`, checked without any
/// round trip.
#[derive(Debug, Clone, Copy)]
pub struct Session(pub BuyerId);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "session_missing",
                "an Authorization: Bearer <token> header from POST /api/v1/sessions is required",
            )
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("session_invalid", "the Authorization header is not Bearer")
            })?;
        match state.buyer.tokens.session(token) {
            Ok(claims) => Ok(Self(claims.sub)),
            Err(TokenError::Expired) => Err(ApiError::unauthorized(
                "session_expired",
                "the session has expired; start a new one",
            )),
            Err(TokenError::Invalid) => Err(ApiError::unauthorized(
                "session_invalid",
                "the session token is not valid",
            )),
        }
    }
}
