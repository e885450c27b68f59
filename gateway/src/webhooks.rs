//! `POST /webhooks/payments`: the payment provider's signed callbacks.
//!
//! The signature is checked on the raw body with a timestamp tolerance (so a captured callback
//! cannot be replayed later); a bad one is 400 and writes nothing. A good one is recorded once in
//! `webhook_inbox`, keyed by the provider's event id, then applied: a verdict
//! (`payment_intent.authorized`, `payment_intent.payment_failed`) is signalled to the order's
//! workflow, and the row is marked processed. Duplicates of a processed event, events that need
//! no signal and events for finished orders are answered 200, so the provider stops retrying.
//! If Temporal cannot be reached the answer is 503: the row stays unprocessed and the
//! provider's retry applies it (the workflow takes the first verdict only, so a repeat is
//! harmless).

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use boxoffice_workflows::{
    order::{OrderClientError, PaymentOutcome, PaymentSignal},
    payments::webhook::{SIGNATURE_HEADER, verify},
    service::ExposeSecret,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
};

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
    id: Option<String>,
    order_id: Option<String>,
}

/// The verdict an event carries, if it carries one.
fn verdict(kind: &str) -> Option<PaymentOutcome> {
    match kind {
        "payment_intent.authorized" => Some(PaymentOutcome::Authorized),
        "payment_intent.payment_failed" => Some(PaymentOutcome::Declined),
        // captured / canceled / refunded follow our own calls: the workflow already knows.
        _ => None,
    }
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
                ErrorCode::BadSignature,
                format!("missing {SIGNATURE_HEADER} header"),
            )
        })?;
    let now = chrono::Utc::now().timestamp();
    verify(
        state.webhooks.secret.expose_secret(),
        signature,
        &body,
        now,
        state.webhooks.tolerance_s,
    )
    .map_err(|e| ApiError::bad_request(ErrorCode::BadSignature, e.to_string()))?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(ErrorCode::MalformedJson, e.to_string()))?;
    let event: Event = serde_json::from_value(payload.clone())
        .map_err(|e| ApiError::bad_request(ErrorCode::MalformedEvent, e.to_string()))?;
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
    let inserted = sqlx::query!(
        "insert into webhook_inbox (provider, provider_event_id, event_type, order_id, payload, signature_ok)
         values ($1, $2, $3, $4, $5, true)
         on conflict (provider, provider_event_id) do nothing",
        state.webhooks.provider,
        event.id,
        event.kind,
        order_id,
        payload,
    )
    .execute(&state.db)
    .await
    .map_err(|e| ApiError::Unavailable(Box::new(e)))?
    .rows_affected()
        == 1;
    let processed: bool = if inserted {
        false
    } else {
        sqlx::query_scalar!(
            r#"select processed_at is not null as "processed!" from webhook_inbox
             where provider = $1 and provider_event_id = $2"#,
            state.webhooks.provider,
            event.id,
        )
        .fetch_one(&state.db)
        .await
        .map_err(|e| ApiError::Unavailable(Box::new(e)))?
    };
    span.record("duplicate", !inserted);
    metrics::counter!("boxoffice_webhooks_total", "kind" => event.kind.clone(), "duplicate" => (!inserted).to_string())
        .increment(1);
    if processed {
        return Ok(Json(json!({ "received": true, "duplicate": true })));
    }
    if let (Some(outcome), Some(order), Some(intent_id)) =
        (verdict(&event.kind), order_id, event.data.object.id.clone())
    {
        let verdict = PaymentSignal { intent_id, outcome };
        match crate::api::order_client(&state)?
            .payment(order.into(), verdict)
            .await
        {
            Ok(()) => {}
            // The order is finished (or never was ours): nothing left to tell it.
            Err(OrderClientError::NotRunning) => {
                metrics::counter!("boxoffice_webhooks_for_finished_orders_total").increment(1);
            }
            Err(e) => return Err(ApiError::Unavailable(Box::new(e))),
        }
    }
    sqlx::query!(
        "update webhook_inbox set processed_at = now()
         where provider = $1 and provider_event_id = $2 and processed_at is null",
        state.webhooks.provider,
        event.id,
    )
    .execute(&state.db)
    .await
    .map_err(|e| ApiError::Unavailable(Box::new(e)))?;
    Ok(Json(json!({ "received": true, "duplicate": !inserted })))
}
