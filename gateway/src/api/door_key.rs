//! `GET /api/v1/tickets/public-key`: the key the doors' gates verify tickets with, offline.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{AppState, error::ApiError};

/// The tickets' public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPublicKey {
    /// The Ed25519 public key, 64 hex digits.
    pub public_key: String,
    /// Always `ed25519`.
    pub algorithm: &'static str,
    /// The scan code format it verifies: `bxt1` (`bxt1.<event>.<section:label>.<code>.<signature
    /// hex>`, the signature over everything before it).
    pub format: &'static str,
}

/// The public key every ticket's signature verifies with, for gates that check tickets
/// offline (`boxofficectl verify-ticket --public-key`). Public: it proves tickets, it cannot
/// make them.
#[utoipa::path(
    get, path = "/api/v1/tickets/public-key", tag = "tickets",
    responses(
        (status = 200, description = "The key", body = TicketPublicKey),
    )
)]
pub async fn public_key(State(state): State<AppState>) -> Result<Json<TicketPublicKey>, ApiError> {
    let key = state
        .admin
        .own
        .config
        .ticket_key()
        .map_err(ApiError::unavailable)?;
    Ok(Json(TicketPublicKey {
        public_key: key.to_owned(),
        algorithm: "ed25519",
        format: "bxt1",
    }))
}
