//! Placing an order: the checks, the idempotency key, the admission, the intent.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use boxoffice_nats::{BuyerId, EventId, OrderId, SeatId, SectionCode, queue::Phase};
use boxoffice_workflows::domain::{PurchaseIntent, Quantity, SeatRequest};

use crate::{
    AppState,
    api::{
        events::published,
        extract::{ApiJson, ApiPath, Session},
        presale::{block_of, presale_access},
    },
    catalog::Event,
    error::{ApiError, ErrorBody, ErrorCode},
    records::{AdmissionUse, KeyRecord, OrderIndex, Written},
    tokens::TokenError,
};

use super::{OrderAccepted, OrderRequest, sha256_hex};

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
                    ErrorCode::QuantityOutOfRange,
                    format!("ask for 1 to {limit} seats"),
                ));
            }
            let mut parsed = Vec::with_capacity(seats.len());
            for s in &seats {
                let seat: SeatId = s.parse().map_err(|e: boxoffice_nats::IdError| {
                    ApiError::unprocessable(ErrorCode::SeatInvalid, e.to_string())
                })?;
                match state.buyer.availability.has_seat(event.event_id, &seat) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(ApiError::unprocessable(
                            ErrorCode::SeatUnknown,
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
                    ErrorCode::SeatDuplicate,
                    "a seat is listed twice",
                ));
            }
            Ok(SeatRequest::Seats(parsed))
        }
        (None, Some(section), Some(quantity)) => {
            let code = SectionCode::parse(section.as_str())
                .map_err(|e| ApiError::unprocessable(ErrorCode::SectionInvalid, e.to_string()))?;
            // Seated or standing: the best available seats are picked when the hold runs.
            event.section(&code).ok_or_else(|| {
                ApiError::unprocessable(ErrorCode::SectionUnknown, format!("no section {code}"))
            })?;
            if quantity < 1 || quantity > i64::from(limit) {
                return Err(ApiError::unprocessable(
                    ErrorCode::QuantityOutOfRange,
                    format!("quantity must be 1 to {limit}"),
                ));
            }
            let quantity = Quantity::parse(quantity).map_err(|e| {
                ApiError::unprocessable(ErrorCode::QuantityOutOfRange, e.to_string())
            })?;
            Ok(SeatRequest::BestAvailable {
                section: code,
                quantity,
            })
        }
        _ => Err(ApiError::unprocessable(
            ErrorCode::RequestShape,
            "give either seats, or section with quantity",
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let raw = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::IdempotencyKeyMissing,
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
                ErrorCode::IdempotencyKeyInvalid,
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
                ErrorCode::AdmissionMissing,
                "an Admission-Token header from the waiting room is required",
            )
        })?;
    let claims = state
        .buyer
        .tokens
        .check_admission(token.trim())
        .map_err(|e| match e {
            TokenError::Expired => ApiError::gone(
                ErrorCode::AdmissionExpired,
                "the admission has expired; join the queue again",
            ),
            TokenError::Invalid => ApiError::unauthorized(
                ErrorCode::AdmissionInvalid,
                "the admission token is not valid",
            ),
        })?;
    if claims.sub != buyer {
        return Err(ApiError::forbidden(
            ErrorCode::AdmissionNotYours,
            "this admission belongs to another buyer",
        ));
    }
    if claims.evt != event {
        return Err(ApiError::forbidden(
            ErrorCode::AdmissionWrongEvent,
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
        ("Presale-Token" = Option<String>, Header, description = "From POST /api/v1/events/{event_id}/presale: buy from that presale block (named seats must be the block's; best available picks within it). Without it, a presale block's seats are taken seats"),
    ),
    request_body = OrderRequest,
    security(("session" = [])),
    responses(
        (status = 202, description = "Accepted (or the same order again)", body = OrderAccepted),
        (status = 400, description = "Malformed body or headers", body = ErrorBody),
        (status = 401, description = "No or bad session, admission or presale token", body = ErrorBody),
        (status = 403, description = "The admission or presale token is another buyer's or another event's", body = ErrorBody),
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
    let access = presale_access(&state, &headers, Some(buyer), id)?;
    let presale = block_of(access);
    let key = idempotency_key(&headers)?;
    let request = seat_request(&state, &event, body)?;
    let phase = state
        .buyer
        .room
        .read(id, |b| b.and_then(|b| b.control().map(|(_, c)| c.phase)));
    if phase == Some(Phase::Closed) || event.closed_at(chrono::Utc::now()) {
        return Err(ApiError::conflict(
            ErrorCode::SaleClosed,
            "the sale is over",
        ));
    }
    // The block is part of what was asked: the same key with and without a grant is two
    // requests (a general one hashes as it always did).
    let request_hash = match presale {
        None => sha256_hex(&serde_json::to_vec(&(id, &request)).unwrap_or_default()),
        Some(block) => sha256_hex(&serde_json::to_vec(&(id, &request, block)).unwrap_or_default()),
    };
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
        && let Some(taken) = state.buyer.availability.taken(id, seats, access)
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
            ErrorCode::SeatsTaken,
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
                ErrorCode::AdmissionUsed,
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
        presale,
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
                ErrorCode::AdmissionUsed,
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
            ErrorCode::IdempotencyKeyReused,
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
