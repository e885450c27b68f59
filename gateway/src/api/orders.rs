//! Orders: place one with an admission (published as an intent for the intake), read its
//! status from the status board, follow it as server-sent events, cancel it.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use boxoffice_nats::{BuyerId, EventId, OrderId, SeatId, SectionCode, queue::Phase};
use boxoffice_workflows::{
    domain::{OrderState, OrderStatus, PurchaseIntent, Quantity, SeatRequest},
    order::OrderClientError,
};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    events::published,
    extract::{ApiJson, ApiPath, Session},
};
use crate::{
    AppState,
    catalog::Event,
    error::{ApiError, ErrorBody},
    limits::StreamsFull,
    records::{AdmissionUse, KeyRecord, OrderIndex, Written},
    tokens::TokenError,
};

/// What to buy: named seats, or a quantity of the best available in a section (on a seated
/// section, side by side in the front-most row that has them, else the front-most free seats;
/// the order's status names them once held).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Seats as `SECTION:LABEL`, e.g. `["A:B-7", "A:B-8"]`.
    pub seats: Option<Vec<String>>,
    /// A section's code (with `quantity`): best available.
    pub section: Option<String>,
    /// How many (with `section`).
    pub quantity: Option<i64>,
}

/// An accepted order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderAccepted {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// `requested` at first; follow `status_url`.
    pub state: String,
    /// Where to read it.
    pub status_url: String,
    /// Where to follow it as server-sent events.
    pub events_url: String,
}

/// The payment as the buyer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentInfo {
    /// `requires_confirmation`, `authorized`, `captured`, `canceled`, `failed`, `refunded`.
    pub state: String,
    /// Where to pay.
    pub checkout_url: String,
    /// When the checkout closes.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An issued ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketInfo {
    /// The seat.
    pub seat: String,
    /// The code in the QR.
    pub code: String,
    /// Ed25519 signature over event, seat and code.
    pub signature: String,
}

/// The buyer's own order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// Its event.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// `requested`, `held`, `awaiting_payment`, `authorized`, `confirmed`, `issued`,
    /// `rejected`, `expired`, `payment_failed`, `canceled` or `refunded`.
    pub state: String,
    /// Seats held or sold (or asked for, while `requested`).
    pub seats: Vec<String>,
    /// Total, minor units.
    pub amount_cents: Option<i64>,
    /// ISO currency.
    pub currency: Option<String>,
    /// When the hold lapses, while held.
    pub hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The payment, once created.
    pub payment: Option<PaymentInfo>,
    /// Tickets, once issued.
    pub tickets: Vec<TicketInfo>,
    /// Why it ended as it did.
    pub reason: Option<String>,
    /// Increases with every change.
    pub version: u32,
    /// When this state was entered.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn time(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<&OrderStatus> for OrderView {
    fn from(s: &OrderStatus) -> Self {
        Self {
            order_id: s.order_id,
            event_id: s.event_id,
            state: s.state.as_str().into(),
            seats: s.seats.iter().map(ToString::to_string).collect(),
            amount_cents: s.amount_cents,
            currency: s.currency.clone(),
            hold_expires_at: s.hold_expires_at.and_then(time),
            payment: s.payment.as_ref().map(|p| PaymentInfo {
                state: label(&p.state),
                checkout_url: p.checkout_url.clone(),
                expires_at: time(p.expires_at),
            }),
            tickets: s
                .tickets
                .iter()
                .map(|t| TicketInfo {
                    seat: t.seat.to_string(),
                    code: t.code.clone(),
                    signature: t.signature.clone(),
                })
                .collect(),
            reason: s.reason.clone(),
            version: s.version,
            updated_at: time(s.at),
        }
    }
}

fn requested_view(order: OrderId, index: &OrderIndex) -> OrderView {
    let seats = match &index.request {
        SeatRequest::Seats(s) => s.iter().map(ToString::to_string).collect(),
        SeatRequest::BestAvailable { .. } => Vec::new(),
    };
    OrderView {
        order_id: order,
        event_id: index.event_id,
        state: "requested".into(),
        seats,
        amount_cents: None,
        currency: None,
        hold_expires_at: None,
        payment: None,
        tickets: Vec::new(),
        reason: None,
        version: 0,
        updated_at: time(index.submitted_at),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks the body against the event: seats that exist and are for sale, or a quantity of a
/// section ("best available": side by side on a seated section), within the per-buyer limit.
fn seat_request(
    state: &AppState,
    event: &Event,
    body: OrderRequest,
) -> Result<SeatRequest, ApiError> {
    let limit = event.max_tickets_per_buyer;
    match (body.seats, body.section, body.quantity) {
        (Some(seats), None, None) => {
            if seats.is_empty() || seats.len() as u32 > limit {
                return Err(ApiError::unprocessable(
                    "quantity_out_of_range",
                    format!("ask for 1 to {limit} seats"),
                ));
            }
            let mut parsed = Vec::with_capacity(seats.len());
            for s in &seats {
                let seat: SeatId = s.parse().map_err(|e: boxoffice_nats::IdError| {
                    ApiError::unprocessable("seat_invalid", e.to_string())
                })?;
                match state.buyer.availability.has_seat(event.event_id, &seat) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(ApiError::unprocessable(
                            "seat_unknown",
                            format!("{seat} is not for sale in this event"),
                        ));
                    }
                    None => return Err(ApiError::unavailable("the seat map is still loading")),
                }
                parsed.push(seat);
            }
            parsed.sort();
            let before = parsed.len();
            parsed.dedup();
            if parsed.len() != before {
                return Err(ApiError::unprocessable(
                    "seat_duplicate",
                    "a seat is listed twice",
                ));
            }
            Ok(SeatRequest::Seats(parsed))
        }
        (None, Some(section), Some(quantity)) => {
            let code = SectionCode::parse(section.as_str())
                .map_err(|e| ApiError::unprocessable("section_invalid", e.to_string()))?;
            // Seated or standing: the best available seats are picked when the hold runs.
            event.section(&code).ok_or_else(|| {
                ApiError::unprocessable("section_unknown", format!("no section {code}"))
            })?;
            if quantity < 1 || quantity > i64::from(limit) {
                return Err(ApiError::unprocessable(
                    "quantity_out_of_range",
                    format!("quantity must be 1 to {limit}"),
                ));
            }
            let quantity = Quantity::parse(quantity)
                .map_err(|e| ApiError::unprocessable("quantity_out_of_range", e.to_string()))?;
            Ok(SeatRequest::BestAvailable {
                section: code,
                quantity,
            })
        }
        _ => Err(ApiError::unprocessable(
            "request_shape",
            "give either seats, or section with quantity",
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let raw = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::bad_request(
            "idempotency_key_missing",
            "an Idempotency-Key header is required",
        )
    })?;
    let key = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_invalid",
                "the Idempotency-Key must be 1 to 200 visible ASCII characters",
            )
        })?;
    Ok(key.to_owned())
}

/// Checks the admission: signed by us, not expired, for this buyer and this event.
fn admission(
    state: &AppState,
    headers: &HeaderMap,
    buyer: BuyerId,
    event: EventId,
) -> Result<u64, ApiError> {
    let token = headers
        .get("admission-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "admission_missing",
                "an Admission-Token header from the waiting room is required",
            )
        })?;
    let claims = state
        .buyer
        .tokens
        .check_admission(token.trim())
        .map_err(|e| match e {
            TokenError::Expired => ApiError::gone(
                "admission_expired",
                "the admission has expired; join the queue again",
            ),
            TokenError::Invalid => {
                ApiError::unauthorized("admission_invalid", "the admission token is not valid")
            }
        })?;
    if claims.sub != buyer {
        return Err(ApiError::forbidden(
            "admission_not_yours",
            "this admission belongs to another buyer",
        ));
    }
    if claims.evt != event {
        return Err(ApiError::forbidden(
            "admission_wrong_event",
            "this admission is for another event",
        ));
    }
    Ok(claims.ent)
}

/// Places an order. Needs the session, an admission from the waiting room (good for one
/// order) and an `Idempotency-Key`, the buyer's across all events: the same key with the same
/// event and body returns the same order; with another body or on another event, 422
/// `idempotency_key_reused`, and nothing is held.
#[utoipa::path(
    post, path = "/api/v1/events/{event_id}/orders", tag = "orders",
    params(
        ("event_id" = uuid::Uuid, Path, description = "Event id"),
        ("Admission-Token" = String, Header, description = "From the waiting room once admitted"),
        ("Idempotency-Key" = String, Header, description = "Unique per intended order of this buyer (across events), 1-200 visible ASCII characters"),
    ),
    request_body = OrderRequest,
    security(("session" = [])),
    responses(
        (status = 202, description = "Accepted (or the same order again)", body = OrderAccepted),
        (status = 400, description = "Malformed body or headers", body = ErrorBody),
        (status = 401, description = "No or bad session or admission", body = ErrorBody),
        (status = 403, description = "The admission is another buyer's or another event's", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        (status = 409, description = "Seats already taken (the admission stays valid), the admission was used for another order, or the sale is over", body = ErrorBody),
        (status = 410, description = "The admission expired", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Unacceptable values, or the key reused with another body or on another event (`idempotency_key_reused`)", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "order.place", skip_all, fields(event = %event_id, buyer = %buyer, order = tracing::field::Empty))]
pub async fn place(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrderRequest>,
) -> Result<(StatusCode, Json<OrderAccepted>), ApiError> {
    let event = published(&state, event_id)?;
    let id = event.event_id;
    let entry = admission(&state, &headers, buyer, id)?;
    let key = idempotency_key(&headers)?;
    let request = seat_request(&state, &event, body)?;
    let phase = state
        .buyer
        .room
        .read(id, |b| b.and_then(|b| b.control().map(|(_, c)| c.phase)));
    if phase == Some(Phase::Closed) || event.closed_at(chrono::Utc::now()) {
        return Err(ApiError::conflict("sale_closed", "the sale is over"));
    }
    let request_hash = sha256_hex(&serde_json::to_vec(&(id, &request)).unwrap_or_default());
    let key_hash = sha256_hex(key.as_bytes());
    let records = &state.buyer.records;
    let ns = records.ns().clone();
    let msg_id = format!("{buyer}:{key_hash}");
    let key_subject = ns.order_key_subject(buyer, &key_hash);

    // 1. A key seen before decides everything: same body, same order; else 422. Keys are the
    //    buyer's across events (the request hash covers the event), so a key reused on another
    //    event is refused here, before any admission is claimed or seat held.
    if let Some(rec) = records.read::<KeyRecord>(key_subject.clone()).await? {
        return replay(&state, rec, &request_hash, &msg_id).await;
    }
    // 2. Seats this gateway already sees held or sold: answered now, the admission kept for
    //    another choice, instead of an order that can only be rejected. Unless an earlier
    //    attempt with this key already claimed the admission (its answer was lost): that
    //    order exists and goes on below.
    if let SeatRequest::Seats(seats) = &request
        && let Some(taken) = state.buyer.availability.taken(id, seats)
        && !taken.is_empty()
        && !claimed_by(
            records,
            &ns.order_admission_subject(id, buyer, entry),
            &key_hash,
        )
        .await?
    {
        metrics::counter!("boxoffice_orders_refused_total", "reason" => "seats_taken").increment(1);
        let list: Vec<String> = taken.iter().map(ToString::to_string).collect();
        return Err(ApiError::conflict(
            "seats_taken",
            format!(
                "{} already taken; choose other seats (the admission is still yours)",
                list.join(", ")
            ),
        ));
    }
    // 3. Claim the admission for this key's order: one order per admission.
    let claim = AdmissionUse {
        order_id: OrderId::new(),
        key_hash: key_hash.clone(),
    };
    let order_id = match records
        .create(ns.order_admission_subject(id, buyer, entry), &claim)
        .await?
    {
        Written::Created => claim.order_id,
        // A concurrent twin of this very request claimed it: same order.
        Written::Exists(used) if used.key_hash == key_hash => used.order_id,
        Written::Exists(_) => {
            metrics::counter!("boxoffice_orders_refused_total", "reason" => "admission_used")
                .increment(1);
            return Err(ApiError::conflict(
                "admission_used",
                "this admission was already used for another order",
            ));
        }
    };
    tracing::Span::current().record("order", tracing::field::display(order_id));
    let intent = PurchaseIntent {
        order_id,
        event_id: id,
        buyer_id: buyer,
        idempotency_key: key,
        request_hash: request_hash.clone(),
        request,
        hold_seconds: event.hold_seconds,
        submitted_at: chrono::Utc::now().timestamp_millis(),
    };
    // 4. The key's record (the twin may have written it: then it is the one to follow).
    let record = KeyRecord {
        request_hash: request_hash.clone(),
        entry,
        intent,
    };
    let record = match records.create(key_subject, &record).await? {
        Written::Created => record,
        Written::Exists(existing) => return replay(&state, existing, &request_hash, &msg_id).await,
    };
    // 5. The index, then the intent itself.
    index_and_publish(&state, &record.intent, &msg_id).await?;
    metrics::counter!("boxoffice_orders_accepted_total").increment(1);
    Ok(accepted(order_id))
}

/// Whether the admission is already claimed by this key's order; another key's claim is the
/// `admission_used` refusal.
async fn claimed_by(
    records: &crate::records::Records,
    subject: &str,
    key_hash: &str,
) -> Result<bool, ApiError> {
    match records
        .read_confirmed::<AdmissionUse>(subject.to_owned())
        .await?
    {
        None => Ok(false),
        Some(used) if used.key_hash == key_hash => Ok(true),
        Some(_) => {
            metrics::counter!("boxoffice_orders_refused_total", "reason" => "admission_used")
                .increment(1);
            Err(ApiError::conflict(
                "admission_used",
                "this admission was already used for another order",
            ))
        }
    }
}

fn accepted(order_id: OrderId) -> (StatusCode, Json<OrderAccepted>) {
    (
        StatusCode::ACCEPTED,
        Json(OrderAccepted {
            order_id,
            state: "requested".into(),
            status_url: format!("/api/v1/orders/{order_id}"),
            events_url: format!("/api/v1/orders/{order_id}/events"),
        }),
    )
}

async fn index_and_publish(
    state: &AppState,
    intent: &PurchaseIntent,
    msg_id: &str,
) -> Result<(), ApiError> {
    let records = &state.buyer.records;
    let index = OrderIndex {
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        request: intent.request.clone(),
        submitted_at: intent.submitted_at,
    };
    records
        .create(records.ns().order_index_subject(intent.order_id), &index)
        .await?;
    records.publish_intent(intent, msg_id).await
}

/// A key seen before: the same body gets the same order (its intent published again if it
/// never reached the intake); another body is refused.
async fn replay(
    state: &AppState,
    rec: KeyRecord,
    request_hash: &str,
    msg_id: &str,
) -> Result<(StatusCode, Json<OrderAccepted>), ApiError> {
    if rec.request_hash != request_hash {
        metrics::counter!("boxoffice_orders_refused_total", "reason" => "idempotency_key_reused")
            .increment(1);
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for another order (keys are per buyer, across events); send a new key for a new order",
        ));
    }
    let intent = &rec.intent;
    let known = state
        .buyer
        .board
        .latest(intent.event_id, intent.order_id)
        .await
        .map_err(ApiError::unavailable)?;
    if known.is_none() {
        // The first attempt may have stopped before its intent landed; publishing again is
        // harmless (deduplicated by message id, and the intake never holds an order twice).
        index_and_publish(state, intent, msg_id).await?;
    }
    metrics::counter!("boxoffice_orders_replayed_total").increment(1);
    Ok(accepted(intent.order_id))
}

/// Finds the order's index and checks it is the buyer's.
async fn own_order(
    state: &AppState,
    order: OrderId,
    buyer: BuyerId,
) -> Result<OrderIndex, ApiError> {
    let records = &state.buyer.records;
    let index: OrderIndex = records
        .read_confirmed(records.ns().order_index_subject(order))
        .await?
        .ok_or_else(|| ApiError::not_found("order_unknown", format!("no order {order}")))?;
    if index.buyer_id != buyer {
        return Err(ApiError::forbidden(
            "order_not_yours",
            "this order is another buyer's",
        ));
    }
    Ok(index)
}

/// The buyer's own order, from the status board.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let status = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(status.as_ref().map_or_else(
        || requested_view(order, &index),
        OrderView::from,
    )))
}

/// The order's state changes as server-sent events (`event: status`, `id`: the version, data:
/// the order as `GET` shows it), starting with the current state. Closes after 30 minutes;
/// reconnect to continue. A buyer may keep a few streams open at once on a gateway
/// (`--order-streams-per-buyer`), and a gateway keeps a bounded number in all
/// (`--order-streams-max`); past either, 429 with `Retry-After`. A stream's place is given
/// back when it ends or its client goes away.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}/events", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "text/event-stream of OrderView", content_type = "text/event-stream", body = OrderView),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 429, description = "Too many streams open: this buyer's (`too_many_streams`) or the gateway's (`streams_at_capacity`)", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let slot = state
        .clients
        .streams
        .acquire(buyer)
        .map_err(|full| {
            metrics::counter!("boxoffice_order_streams_refused_total").increment(1);
            match full {
                StreamsFull::Buyer(n) => ApiError::too_many(
                    "too_many_streams",
                    format!("at most {n} order streams open at once; close one first"),
                    STREAM_RETRY_S,
                ),
                StreamsFull::Gateway(_) => ApiError::too_many(
                    "streams_at_capacity",
                    "the gateway has as many order streams open as it serves; poll the order instead or retry shortly",
                    STREAM_RETRY_S,
                ),
            }
        })?;
    // Subscribe before reading, so no change falls between the two.
    let subject = state
        .buyer
        .records
        .ns()
        .order_event_subject(index.event_id, order);
    let live = state
        .buyer
        .nats
        .subscribe(subject)
        .await
        .map_err(ApiError::unavailable)?;
    let current = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?;
    let first = current
        .as_ref()
        .map_or_else(|| requested_view(order, &index), OrderView::from);
    let seen = Arc::new(AtomicU32::new(first.version));
    let first_event = sse(&first);
    let changes = live.filter_map(move |msg| {
        let seen = seen.clone();
        async move {
            let status: OrderStatus = serde_json::from_slice(&msg.payload).ok()?;
            // Newer only: a redelivered or reordered snapshot never moves the buyer back.
            (seen.fetch_max(status.version, Ordering::SeqCst) < status.version)
                .then(|| sse(&OrderView::from(&status)))
        }
    });
    let stream = futures::stream::once(async move { first_event })
        .chain(changes)
        .take_until(tokio::time::sleep(Duration::from_secs(30 * 60)))
        // The stream owns its place: dropped with it when it ends or its client goes away
        // (the response body is dropped).
        .map(move |event| {
            let _owned = &slot;
            event
        });
    metrics::counter!("boxoffice_order_streams_total").increment(1);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `Retry-After` of a refused order stream: long enough for another stream to end.
const STREAM_RETRY_S: u32 = 5;

fn sse(view: &OrderView) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event("status")
        .id(view.version.to_string())
        .json_data(view)
        .unwrap_or_default())
}

/// What a cancel did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAccepted {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// `cancel_requested`: the workflow releases the hold and voids the payment.
    pub state: String,
}

/// Releases a hold that is not paid yet (the order workflow voids the payment and frees the
/// seats; follow the order to see `canceled`).
#[utoipa::path(
    post, path = "/api/v1/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 202, description = "Cancel requested", body = CancelAccepted),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Paid, finished, or not held yet", body = ErrorBody),
        (status = 503, description = "Temporal or NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<(StatusCode, Json<CancelAccepted>), ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let status = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| {
            ApiError::conflict(
                "order_not_ready",
                "the order is not held yet; retry in a moment",
            )
        })?;
    if !matches!(status.state, OrderState::Held | OrderState::AwaitingPayment) {
        return Err(ApiError::conflict(
            "order_not_cancelable",
            format!(
                "the order is {}; only an unpaid hold can be canceled",
                status.state.as_str()
            ),
        ));
    }
    match super::order_client(&state)?.cancel(order).await {
        Ok(()) => {}
        Err(OrderClientError::NotRunning) => {
            return Err(ApiError::conflict(
                "order_not_ready",
                "the order's workflow is starting; retry in a moment",
            ));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    metrics::counter!("boxoffice_order_cancels_total").increment(1);
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelAccepted {
            order_id: order,
            state: "cancel_requested".into(),
        }),
    ))
}
