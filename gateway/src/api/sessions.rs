//! `POST /api/v1/sessions`: an anonymous buyer session.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, error::ErrorBody};

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
/// a database round trip.
#[utoipa::path(
    post, path = "/api/v1/sessions", tag = "buyers",
    responses(
        (status = 201, description = "Session created", body = SessionCreated),
        (status = 429, description = "Shedding load", body = ErrorBody),
    )
)]
pub async fn create(State(state): State<AppState>) -> (StatusCode, Json<SessionCreated>) {
    let now = chrono::Utc::now();
    let (buyer_id, token, exp) = state.buyer.tokens.new_session(now.timestamp());
    metrics::counter!("boxoffice_sessions_created_total").increment(1);
    (
        StatusCode::CREATED,
        Json(SessionCreated {
            buyer_id,
            token,
            expires_at: chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now),
        }),
    )
}
