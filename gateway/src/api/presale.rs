//! Presale codes: a buyer redeems a code for a signed grant (`presale_token`) to buy from one
//! presale block, and sends it as `Presale-Token` with orders and seat maps.
//!
//! A wrong code, an unknown event, an event without presales and a released block are one
//! answer, worded and timed alike: the code is verified against every unreleased block's hash
//! of the event, or against a decoy hash when there is none, so an answer never tells whether a
//! block exists. Attempts are rate limited per buyer session and per client address.
//! docs/adr/0022-presale-blocks-gated-in-the-seat-store.md says why the block is enforced in
//! the seat store and not here.

use axum::{Json, extract::State, http::HeaderMap};
use boxoffice_nats::{BlockId, BuyerId, EventId, seat::Access};
use boxoffice_workflows::store::{
    self,
    accounts::{decoy_hash, verify_password},
    inventory::SectionKind,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiPath, Session};
use crate::{
    AppState,
    error::{ApiError, ErrorBody, ErrorCode},
    limits::ClientIp,
    tokens::TokenError,
};

/// How long a grant lasts (never past the sale's close).
const GRANT_TTL_S: i64 = 2 * 3600;

/// The one answer to every code that opens nothing.
fn invalid_code() -> ApiError {
    ApiError::unprocessable(
        ErrorCode::AccessCodeInvalid,
        "this code does not open a presale of this event",
    )
}

/// `POST /api/v1/events/{event_id}/presale` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The access code, as the organizer gave it out.
    pub code: String,
}

/// What a code unlocks.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresaleBlockView {
    /// The block's section code.
    pub section: String,
    /// `seated` or `general_admission`.
    #[schema(value_type = String)]
    pub kind: SectionKind,
    /// Seated: the block's seat labels within `section` (a seat id is `section:label`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<String>>,
    /// General admission: the block's units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Tickets one buyer may hold or own for the event (the block's buyers included).
    pub max_per_buyer: u32,
}

/// A redeemed code.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresaleGrant {
    /// Send as `Presale-Token` with `POST /api/v1/events/{event_id}/orders` (and with the seat
    /// map) to buy from the block; good for this buyer and this event only.
    pub presale_token: String,
    /// When the token lapses (redeem the code again after).
    pub expires_at: DateTime<Utc>,
    /// The block.
    pub block: PresaleBlockView,
}

/// Redeems a presale access code. A code that opens no presale of this event (wrong, released,
/// or for an event that has none, or no such event) is `422 access_code_invalid`, always the
/// same body. Attempts per buyer and per client address are rate limited.
#[utoipa::path(
    post, path = "/api/v1/events/{event_id}/presale", tag = "orders",
    params(("event_id" = uuid::Uuid, Path, description = "Event id")),
    request_body = RedeemRequest,
    security(("session" = [])),
    responses(
        (status = 200, description = "The code opens a presale block", body = PresaleGrant),
        (status = 400, description = "Malformed body or id", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 409, description = "The event's sale is over", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "The code opens nothing (`access_code_invalid`)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this buyer or address (`presale_rate_limited`); see `Retry-After`", body = ErrorBody),
        (status = 503, description = "PostgreSQL is unreachable", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "presale.redeem", skip_all, fields(event = %event_id, buyer = %buyer))]
pub async fn redeem(
    State(state): State<AppState>,
    Session(buyer): Session,
    ClientIp(from): ClientIp,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
    ApiJson(body): ApiJson<RedeemRequest>,
) -> Result<Json<PresaleGrant>, ApiError> {
    state.clients.presale.check(buyer, from).map_err(|wait| {
        metrics::counter!("boxoffice_presale_codes_total", "outcome" => "rate_limited")
            .increment(1);
        ApiError::too_many(
            ErrorCode::PresaleRateLimited,
            "too many presale code attempts; wait and try again",
            wait,
        )
    })?;
    let now = Utc::now();
    let event = state.buyer.catalog.get(EventId::from_uuid(event_id));
    if let Some(ev) = &event
        && ev.closed_at(now)
    {
        return Err(ApiError::conflict(
            ErrorCode::SaleClosed,
            "the sale is over",
        ));
    }
    let blocks = match &event {
        Some(ev) => store::presale_blocks(&state.db, ev.event_id)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter()
            .filter(|b| !b.released)
            .collect(),
        None => Vec::new(),
    };
    // Argon2 is slow on purpose: off the async threads. Every hash is tried (no early exit),
    // and a decoy when there is none, so the time does not say which or whether one matched.
    let code = body.code.trim().to_owned();
    let hashes: Vec<String> = blocks.iter().map(|b| b.access_code_hash.clone()).collect();
    let matched = tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            verify_password(decoy_hash(), &code);
            return None;
        }
        let mut found = None;
        for (i, h) in hashes.iter().enumerate() {
            if verify_password(h, &code) && found.is_none() {
                found = Some(i);
            }
        }
        found
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("verifying the code: {e}")))?;
    let (Some(ev), Some(block)) = (event, matched.and_then(|i| blocks.into_iter().nth(i))) else {
        metrics::counter!("boxoffice_presale_codes_total", "outcome" => "invalid").increment(1);
        return Err(invalid_code());
    };
    let exp = ev.closes_at.map_or(now.timestamp() + GRANT_TTL_S, |c| {
        c.timestamp().min(now.timestamp() + GRANT_TTL_S)
    });
    let token = state
        .buyer
        .tokens
        .presale(buyer, ev.event_id, block.id, exp);
    metrics::counter!("boxoffice_presale_codes_total", "outcome" => "redeemed").increment(1);
    let seated = block.kind == SectionKind::Seated;
    Ok(Json(PresaleGrant {
        presale_token: token,
        expires_at: DateTime::from_timestamp(exp, 0).unwrap_or(now),
        block: PresaleBlockView {
            section: block.section.to_string(),
            kind: block.kind,
            seats: seated.then(|| block.labels.iter().map(ToString::to_string).collect()),
            quantity: (!seated).then_some(block.quantity),
            max_per_buyer: ev.max_tickets_per_buyer,
        },
    }))
}

/// The access a request's `Presale-Token` header gives `buyer` on `event`: none without the
/// header; a block with a valid grant of this buyer for this event; else a 401 or 403 (a
/// token that is not good is an error, never a silent general sale). `buyer` is `None` where
/// the route has no session (the seat map): the grant is then checked against the event only.
pub(crate) fn presale_access(
    state: &AppState,
    headers: &HeaderMap,
    buyer: Option<BuyerId>,
    event: EventId,
) -> Result<Access, ApiError> {
    let Some(raw) = headers.get("presale-token") else {
        return Ok(Access::General);
    };
    let invalid = || {
        ApiError::unauthorized(
            ErrorCode::PresaleTokenInvalid,
            "the presale token is not valid or has expired; redeem the code again",
        )
    };
    let token = raw.to_str().map_err(|_| invalid())?.trim();
    let claims = state
        .buyer
        .tokens
        .check_presale(token)
        .map_err(|e| match e {
            TokenError::Expired | TokenError::Invalid => invalid(),
        })?;
    if buyer.is_some_and(|b| b != claims.sub) || claims.evt != event {
        return Err(ApiError::forbidden(
            ErrorCode::PresaleTokenNotYours,
            "this presale token is another buyer's or another event's",
        ));
    }
    Ok(Access::Block(claims.blk))
}

/// The block an access names, for the intent.
pub(crate) fn block_of(access: Access) -> Option<BlockId> {
    match access {
        Access::General => None,
        Access::Block(id) => Some(id),
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_redeem_endpoint_and_the_presale_header_are_documented() {
        let doc = serde_json::to_value(crate::api::ApiDoc::openapi()).expect("serializable");
        let redeem = &doc["paths"]["/api/v1/events/{event_id}/presale"]["post"];
        assert!(redeem["responses"]["422"].is_object(), "{redeem}");
        assert!(redeem["responses"]["429"].is_object(), "{redeem}");
        for schema in ["PresaleGrant", "PresaleBlockView", "RedeemRequest"] {
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} missing"
            );
        }
        for path in [
            "/api/v1/events/{event_id}/orders",
            "/api/v1/events/{event_id}/seats",
        ] {
            let params = doc["paths"][path]
                .as_object()
                .and_then(|p| p.values().next())
                .map(|op| op["parameters"].to_string())
                .unwrap_or_default();
            assert!(params.contains("Presale-Token"), "{path}: {params}");
        }
    }
}
