//! `POST /api/v1/sessions`: an anonymous buyer session.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ErrorBody, ErrorCode},
    limits::ClientIp,
};

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    /// The buyer this session speaks for.
    #[schema(value_type = uuid::Uuid)]
    pub buyer_id: boxoffice_nats::BuyerId,
    /// Bearer credential for `Authorization: Bearer <token>`.
    pub token: String,
    /// When it expires.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Starts an anonymous buyer session. The token is signed and checked by every gateway without
/// a database round trip. Sessions per client address are bounded (a token bucket per
/// address, `--sessions-per-address-per-minute`): each session is another buyer in the draw
/// and another per-buyer allowance, so one client may not mint them without end.
#[utoipa::path(
    post, path = "/api/v1/sessions", tag = "buyers",
    responses(
        (status = 201, description = "Session created", body = SessionCreated),
        (status = 429, description = "Too many sessions from this address (`sessions_rate_limited`), or shedding load; see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(from): ClientIp,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    state.clients.sessions.check(from).map_err(|wait| {
        metrics::counter!("boxoffice_sessions_refused_total").increment(1);
        ApiError::too_many(
            ErrorCode::SessionsRateLimited,
            "too many sessions started from this address; wait and try again",
            wait,
        )
    })?;
    let now = chrono::Utc::now();
    let (buyer_id, token, exp) = state.buyer.tokens.new_session(now.timestamp());
    metrics::counter!("boxoffice_sessions_created_total").increment(1);
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            buyer_id,
            token,
            expires_at: chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now),
        }),
    ))
}
