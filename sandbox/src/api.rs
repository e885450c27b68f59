//! The HTTP API: Stripe-like payment intents with manual capture, refunds, idempotency keys,
//! and a hosted checkout page for the buyer.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State as AxState},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    faults::Faults,
    ledger::{Change, Ledger, Refusal, Status, StoredReply},
    webhooks::Outbox,
};

/// What the handlers share.
#[derive(Clone)]
pub struct State {
    /// The ledger; one lock keeps every change (and its idempotency record) atomic.
    pub ledger: Arc<tokio::sync::Mutex<Ledger>>,
    /// Outgoing webhooks.
    pub outbox: Outbox,
    /// Fault injection.
    pub faults: Faults,
    /// The secret key clients must present.
    pub api_key: String,
    /// Base URL of the hosted checkout.
    pub public_url: String,
}

/// The router, with the expiry sweep started.
pub fn router(state: State) -> Router {
    let sweeper = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            let changes = sweeper.ledger.lock().await.expire_sessions();
            match changes {
                Ok(changes) => changes.iter().for_each(|c| sweeper.outbox.send(c)),
                Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
            }
        }
    });
    Router::new()
        .route("/v1/payment_intents", post(create).get(list))
        .route("/v1/payment_intents/{id}", get(retrieve))
        .route("/v1/payment_intents/{id}/confirm", post(confirm))
        .route("/v1/payment_intents/{id}/capture", post(capture))
        .route("/v1/payment_intents/{id}/cancel", post(cancel))
        .route("/v1/refunds", post(refund))
        .route("/checkout/{id}", get(checkout_page).post(checkout_submit))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": { "type": "invalid_request_error", "code": code, "message": message.into() } }),
    )
}

fn refusal(r: Refusal) -> (StatusCode, Value) {
    match &r {
        Refusal::NotFound(_) => error(StatusCode::NOT_FOUND, "resource_missing", r.to_string()),
        Refusal::InvalidState(_) => error(
            StatusCode::CONFLICT,
            "payment_intent_unexpected_state",
            r.to_string(),
        ),
        Refusal::Expired => error(StatusCode::GONE, "checkout_session_expired", r.to_string()),
        Refusal::Invalid(_) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            r.to_string(),
        ),
    }
}

fn reply((status, body): (StatusCode, Value)) -> Response {
    (status, axum::Json(body)).into_response()
}

fn authorised(state: &State, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| k == state.api_key)
}

/// The outcome of one ledger operation: the reply, and the changes to announce.
type Outcome = Result<(Value, Vec<Change>), (StatusCode, Value)>;

/// Runs one mutating call: authentication, injected faults, the idempotency key, the operation
/// under the ledger lock, the webhooks of its changes.
async fn mutate(
    state: &State,
    headers: &HeaderMap,
    route: String,
    body: &Bytes,
    op: impl FnOnce(&mut Ledger, &Value) -> Outcome,
) -> Response {
    if !authorised(state, headers) {
        return reply(error(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "missing or wrong API key",
        ));
    }
    tokio::time::sleep(state.faults.latency()).await;
    if Faults::roll(state.faults.error_rate) {
        return reply(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_fault",
            "try again",
        ));
    }
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return reply(error(
                    StatusCode::BAD_REQUEST,
                    "body_invalid",
                    "the body must be a JSON object",
                ));
            }
        }
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fingerprint = hex::encode(
        Sha256::new()
            .chain_update(route.as_bytes())
            .chain_update(b"\n")
            .chain_update(body)
            .finalize(),
    );
    let mut ledger = state.ledger.lock().await;
    if let Some(stored) = key.as_deref().and_then(|k| ledger.reply(k)) {
        if stored.fingerprint != fingerprint {
            return reply(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_in_use",
                "this idempotency key was used with another request",
            ));
        }
        let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
        let mut response = reply((status, stored.body.clone()));
        response.headers_mut().insert(
            "idempotent-replayed",
            "true".parse().expect("static header"),
        );
        return response;
    }
    let (status, body, changes) = match op(&mut ledger, &params) {
        Ok((body, changes)) => (StatusCode::OK, body, changes),
        Err((status, body)) => (status, body, Vec::new()),
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return reply((status, body));
    }
    if let Some(key) = key {
        let stored = StoredReply {
            fingerprint,
            status: status.as_u16(),
            body: body.clone(),
        };
        if let Err(e) = ledger.remember_reply(key, stored) {
            tracing::error!(error = %e, "cannot store idempotent reply");
        }
    }
    drop(ledger);
    changes.iter().for_each(|c| state.outbox.send(c));
    if status.is_success() && Faults::roll(state.faults.lost_reply_rate) {
        // The work is done and recorded; the caller just never hears about it.
        return reply(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_fault",
            "try again",
        ));
    }
    reply((status, body))
}

fn io_failed(e: std::io::Error) -> (StatusCode, Value) {
    tracing::error!(error = %e, "ledger write failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ledger_unavailable",
        "the ledger could not be written",
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[derive(Deserialize)]
struct CreateParams {
    amount: i64,
    currency: String,
    order_id: String,
    expires_at: DateTime<Utc>,
}

fn parse<T: for<'de> Deserialize<'de>>(params: &Value) -> Result<T, (StatusCode, Value)> {
    serde_json::from_value(params.clone()).map_err(|e| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            e.to_string(),
        )
    })
}

async fn create(AxState(state): AxState<State>, headers: HeaderMap, body: Bytes) -> Response {
    let base = state.public_url.clone();
    mutate(
        &state,
        &headers,
        "POST /v1/payment_intents".into(),
        &body,
        |ledger, params| {
            let p: CreateParams = parse(params)?;
            let intent = ledger
                .create(p.amount, &p.currency, &p.order_id, p.expires_at, &base)
                .map_err(refusal)?
                .map_err(io_failed)?;
            Ok((to_json(&intent), Vec::new()))
        },
    )
    .await
}

#[derive(Deserialize)]
struct ConfirmParams {
    /// `succeed` or `decline`; absent: decided by the decline rate.
    outcome: Option<String>,
}

fn approve(outcome: Option<&str>, faults: &Faults) -> Result<bool, (StatusCode, Value)> {
    match outcome {
        Some("succeed") => Ok(true),
        Some("decline") => Ok(false),
        None => Ok(!Faults::roll(faults.decline_rate)),
        Some(other) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_invalid",
            format!("unknown outcome {other:?}"),
        )),
    }
}

async fn confirm(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = state.faults.clone();
    mutate(
        &state,
        &headers,
        format!("POST /v1/payment_intents/{id}/confirm"),
        &body,
        |ledger, params| {
            let p: ConfirmParams = parse(params)?;
            let change = ledger
                .confirm(&id, approve(p.outcome.as_deref(), &faults)?)
                .map_err(refusal)?
                .map_err(io_failed)?;
            Ok((to_json(&change.intent), vec![change]))
        },
    )
    .await
}

#[derive(Deserialize)]
struct AmountParams {
    amount: Option<i64>,
}

async fn capture(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    mutate(
        &state,
        &headers,
        format!("POST /v1/payment_intents/{id}/capture"),
        &body,
        |ledger, params| {
            let p: AmountParams = parse(params)?;
            let change = ledger
                .capture(&id, p.amount)
                .map_err(refusal)?
                .map_err(io_failed)?;
            Ok((to_json(&change.intent), vec![change]))
        },
    )
    .await
}

#[derive(Deserialize)]
struct CancelParams {
    reason: Option<String>,
}

async fn cancel(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    mutate(
        &state,
        &headers,
        format!("POST /v1/payment_intents/{id}/cancel"),
        &body,
        |ledger, params| {
            let p: CancelParams = parse(params)?;
            let reason = p.reason.unwrap_or_else(|| "requested_by_customer".into());
            let change = ledger
                .cancel(&id, &reason)
                .map_err(refusal)?
                .map_err(io_failed)?;
            Ok((to_json(&change.intent), vec![change]))
        },
    )
    .await
}

#[derive(Deserialize)]
struct RefundParams {
    payment_intent: String,
    amount: Option<i64>,
}

async fn refund(AxState(state): AxState<State>, headers: HeaderMap, body: Bytes) -> Response {
    mutate(
        &state,
        &headers,
        "POST /v1/refunds".into(),
        &body,
        |ledger, params| {
            let p: RefundParams = parse(params)?;
            let (refund, change) = ledger
                .refund(&p.payment_intent, p.amount)
                .map_err(refusal)?
                .map_err(io_failed)?;
            Ok((to_json(&refund), vec![change]))
        },
    )
    .await
}

async fn retrieve(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&state, &headers) {
        return reply(error(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "missing or wrong API key",
        ));
    }
    tokio::time::sleep(state.faults.latency()).await;
    if Faults::roll(state.faults.error_rate) {
        return reply(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_fault",
            "try again",
        ));
    }
    match state.ledger.lock().await.intent(&id) {
        Ok(i) => reply((StatusCode::OK, to_json(i))),
        Err(r) => reply(refusal(r)),
    }
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<Status>,
    starting_after: Option<String>,
    limit: Option<usize>,
}

async fn list(
    AxState(state): AxState<State>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !authorised(&state, &headers) {
        return reply(error(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "missing or wrong API key",
        ));
    }
    let Ok(Query(q)) = query else {
        return reply(error(
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
            "bad query parameters",
        ));
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (data, has_more) =
        state
            .ledger
            .lock()
            .await
            .list(q.status, q.starting_after.as_deref(), limit);
    reply((
        StatusCode::OK,
        json!({ "data": data, "has_more": has_more }),
    ))
}

/// The hosted checkout's query: like Stripe's `return_url` (given where the buyer's page starts
/// the payment, since only that page knows the address it is served under), where to send the
/// buyer once the payment is decided.
#[derive(Deserialize)]
struct CheckoutQuery {
    return_url: Option<String>,
}

/// A return address the checkout will send a buyer to: an absolute `http(s)` URL of printable
/// characters (never `javascript:` or the like).
fn return_url(u: Option<&str>) -> Option<&str> {
    u.filter(|u| {
        (u.starts_with("https://") || u.starts_with("http://"))
            && u.len() <= 2000
            && u.bytes().all(|b| b.is_ascii_graphic())
    })
}

/// `s` safe inside an HTML attribute or text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn checkout_page(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    Query(q): Query<CheckoutQuery>,
) -> Response {
    let ledger = state.ledger.lock().await;
    let Ok(intent) = ledger.intent(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Unknown payment</h1>".to_owned()),
        )
            .into_response();
    };
    let amount = format!(
        "{}.{:02} {}",
        intent.amount / 100,
        intent.amount % 100,
        intent.currency
    );
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Sandbox checkout</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#222}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}}</style></head><body>
<h1>Sandbox checkout</h1><p>Order <code>{order}</code>: <strong>{amount}</strong></p>
<p>Status: <code>{status:?}</code>, session closes {expires}.</p>
<form method="post">{back}<button name="outcome" value="succeed">Pay</button>
<button name="outcome" value="decline">Decline</button></form></body></html>"#,
        order = intent.order_id,
        status = intent.status,
        expires = intent.expires_at.to_rfc3339(),
        back = return_url(q.return_url.as_deref()).map_or(String::new(), |u| format!(
            r#"<input type="hidden" name="return_url" value="{}">"#,
            escape(u)
        )),
    ))
    .into_response()
}

async fn checkout_submit(
    AxState(state): AxState<State>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let outcome = field("outcome");
    let back = return_url(field("return_url")).map(str::to_owned);
    let approve = match approve(outcome, &state.faults) {
        Ok(a) => a,
        Err(e) => return reply(e),
    };
    let result = state.ledger.lock().await.confirm(&id, approve);
    match result {
        Ok(Ok(change)) => {
            state.outbox.send(&change);
            if let Some(back) = back {
                // As a provider's hosted page does: back to the shop, which shows the outcome.
                return axum::response::Redirect::to(&back).into_response();
            }
            Html(format!(
                "<h1>{}</h1>",
                if approve { "Paid" } else { "Declined" }
            ))
            .into_response()
        }
        Ok(Err(e)) => reply(io_failed(e)),
        Err(r) => reply(refusal(r)),
    }
}
