//! `POST /webhooks/payments`: the payment provider's signed callbacks.
//!
//! The signature is checked on the raw body with a timestamp tolerance (so a captured callback
//! cannot be replayed later); a bad one is 400 and writes nothing. A good one is recorded once in
//! `webhook_inbox`, keyed by the provider's event id, and answered 200, duplicates included, so
//! the provider stops retrying. Applying it to the order (a signal to its workflow) is the
//! order workflow's part; until then the row waits with `processed_at` unset.

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use boxoffice_workflows::payments::webhook::{SIGNATURE_HEADER, verify};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, error::ApiError};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/payments", post(receive))
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Deserialize)]
struct EventObject {
    order_id: Option<String>,
}

#[tracing::instrument(name = "webhook.receive", skip_all, fields(event = tracing::field::Empty, kind = tracing::field::Empty, duplicate = tracing::field::Empty))]
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_signature",
                format!("missing {SIGNATURE_HEADER} header"),
            )
        })?;
    let now = chrono::Utc::now().timestamp();
    verify(
        &state.webhooks.secret,
        signature,
        &body,
        now,
        state.webhooks.tolerance_s,
    )
    .map_err(|e| ApiError::bad_request("bad_signature", e.to_string()))?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    let event: Event = serde_json::from_value(payload.clone())
        .map_err(|e| ApiError::bad_request("malformed_event", e.to_string()))?;
    let span = tracing::Span::current();
    span.record("event", event.id.as_str());
    span.record("kind", event.kind.as_str());
    // Our orders are UUIDs; a callback naming anything else is kept, unattached, for audit.
    let order_id = event
        .data
        .object
        .order_id
        .as_deref()
        .and_then(|o| uuid::Uuid::parse_str(o).ok());
    let inserted = sqlx::query(
        "insert into webhook_inbox (provider, provider_event_id, event_type, order_id, payload, signature_ok)
         values ($1, $2, $3, $4, $5, true)
         on conflict (provider, provider_event_id) do nothing",
    )
    .bind(&state.webhooks.provider)
    .bind(&event.id)
    .bind(&event.kind)
    .bind(order_id)
    .bind(&payload)
    .execute(&state.db)
    .await
    .map_err(|e| ApiError::Unavailable(Box::new(e)))?
    .rows_affected()
        == 1;
    span.record("duplicate", !inserted);
    metrics::counter!("boxoffice_webhooks_total", "kind" => event.kind.clone(), "duplicate" => (!inserted).to_string())
        .increment(1);
    Ok(Json(json!({ "received": true, "duplicate": !inserted })))
}
