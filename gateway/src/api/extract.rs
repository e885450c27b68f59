//! Extractors whose every rejection is an [`ApiError`] in the brief's JSON shape, so no input
//! reaches a handler half-parsed and none gets axum's plain-text defaults. The body, path and
//! query ones are shared with the admin side (`boxoffice_http::extract`); the buyer's session
//! is this API's own.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
pub use boxoffice_http::extract::{ApiJson, ApiPath, ApiQuery};
use boxoffice_nats::BuyerId;

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
    tokens::TokenError,
};

/// The buyer behind a valid `Authorization: Bearer <session token>`, checked without any
/// round trip.
#[derive(Debug, Clone, Copy)]
pub struct Session(pub BuyerId);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                ErrorCode::SessionMissing,
                "an Authorization: Bearer <token> header from POST /api/v1/sessions is required",
            )
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::SessionInvalid,
                    "the Authorization header is not Bearer",
                )
            })?;
        match state.buyer.tokens.session(token) {
            Ok(claims) => Ok(Self(claims.sub)),
            Err(TokenError::Expired) => Err(ApiError::unauthorized(
                ErrorCode::SessionExpired,
                "the session has expired; start a new one",
            )),
            Err(TokenError::Invalid) => Err(ApiError::unauthorized(
                ErrorCode::SessionInvalid,
                "the session token is not valid",
            )),
        }
    }
}
