//! The waiting room's buyer side: join (durable, idempotent), and poll for the answer.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use boxoffice_nats::{
    BuyerId, EventId,
    queue::{EntryState, EntryView},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    events::published,
    extract::{ApiPath, Session},
};
use crate::{
    AppState,
    catalog::Event,
    error::{ApiError, ErrorBody, ErrorCode},
};

/// A buyer's place in an event's waiting room.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatus {
    /// Poll `GET /api/v1/queue/{queue_ticket}` with it.
    pub queue_ticket: String,
    /// The event.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// `waiting`, `admitted`, `expired` (join again), `sold_out` or `closed`.
    #[schema(value_type = String)]
    pub state: EntryState,
    /// 1-based place in line; null until the opening draw has placed entries that joined
    /// before the sale opened.
    pub position: Option<u64>,
    /// Buyers still waiting in front.
    pub ahead: Option<u64>,
    /// Expected wait at the current admission rate, seconds.
    pub estimated_wait_s: Option<u64>,
    /// Ask again after this long; it grows with the distance to the front.
    pub poll_after_ms: u64,
    /// When admitted: the token for `POST /api/v1/events/{event_id}/orders` (header
    /// `Admission-Token`), good for one order.
    pub admission_token: Option<String>,
    /// When the admission lapses.
    pub admission_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Seats for sale right now (null while the seat map loads).
    pub seats_left: Option<u32>,
    /// The chances while waiting: `likely` (a seat remains even if everyone ahead buys the
    /// per-buyer limit), `unlikely` (they could take every seat first) or `sold_out`; null
    /// before the opening draw has placed this buyer, or once admitted.
    pub odds: Option<super::odds::Odds>,
}

fn ticket(event: EventId, seq: u64) -> String {
    format!("{event}.{seq}")
}

fn parse_ticket(t: &str) -> Option<(EventId, u64)> {
    let (event, seq) = t.rsplit_once('.')?;
    Some((event.parse().ok()?, seq.parse().ok()?))
}

fn until_open_ms(event: &Event, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    event
        .opens_at
        .filter(|t| *t > now)
        .map(|t| (t - now).num_milliseconds().max(0) as u64)
}

fn view_of(state: &AppState, event: &Event, buyer: BuyerId) -> Option<EntryView> {
    let now = chrono::Utc::now();
    let until = until_open_ms(event, now);
    state.buyer.room.read(event.event_id, |b| {
        b.and_then(|b| b.view(buyer, now.timestamp_millis(), until, &state.buyer.poll))
    })
}

fn status(state: &AppState, event: &Event, buyer: BuyerId, v: &EntryView) -> QueueStatus {
    let (per_buyer, event) = (event.max_tickets_per_buyer, event.event_id);
    let seats_left = (state.buyer.seats_left).get(&state.buyer.availability, event);
    let expires = v
        .admission_expires_at
        .and_then(chrono::DateTime::from_timestamp_millis);
    let admission_token = (v.state == EntryState::Admitted).then(|| {
        let exp = v.admission_expires_at.unwrap_or_default().div_euclid(1_000);
        state.buyer.tokens.admission(buyer, event, v.id, exp)
    });
    QueueStatus {
        queue_ticket: ticket(event, v.id),
        event_id: event,
        state: v.state,
        position: v.position,
        ahead: v.ahead,
        estimated_wait_s: v.estimated_wait_s,
        poll_after_ms: v.poll_after_ms,
        admission_token,
        admission_expires_at: expires,
        seats_left,
        odds: match (v.state, seats_left, v.ahead) {
            (EntryState::SoldOut, _, _) => Some(super::odds::Odds::SoldOut),
            (EntryState::Waiting, Some(left), Some(ahead)) => {
                Some(super::odds::odds(left, ahead, per_buyer))
            }
            _ => None,
        },
    }
}

/// Joins the event's waiting room, or returns the place the buyer already has (refreshing,
/// retrying and second tabs never add a place). A buyer whose admission lapsed is placed again
/// at the back.
#[utoipa::path(
    post, path = "/api/v1/events/{event_id}/queue", tag = "waiting room",
    params(("event_id" = uuid::Uuid, Path, description = "Event id")),
    security(("session" = [])),
    responses(
        (status = 202, description = "In line (or already there)", body = QueueStatus),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 404, description = "No such published event", body = ErrorBody),
        (status = 409, description = "The sale is over", body = ErrorBody),
        (status = 429, description = "Shedding load", body = ErrorBody),
        (status = 503, description = "NATS is unreachable; nothing was written", body = ErrorBody),
    )
)]
#[tracing::instrument(name = "queue.join", skip_all, fields(event = %event_id, buyer = %buyer, outcome = tracing::field::Empty))]
pub async fn join(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
) -> Result<(StatusCode, Json<QueueStatus>), ApiError> {
    let event = published(&state, event_id)?;
    let id = event.event_id;
    let existing = state
        .buyer
        .room
        .read(id, |b| b.and_then(|b| b.entry(buyer)));
    let current = view_of(&state, &event, buyer);
    let rejoin = match (existing, &current) {
        (Some(entry), Some(v)) if v.state == EntryState::Expired => Some(entry),
        (Some(_), Some(v)) => {
            metrics::counter!("boxoffice_queue_joins_total", "outcome" => "existing").increment(1);
            tracing::Span::current().record("outcome", "existing");
            return Ok((StatusCode::ACCEPTED, Json(status(&state, &event, buyer, v))));
        }
        _ => None,
    };
    if event.closed_at(chrono::Utc::now()) {
        return Err(ApiError::conflict(
            ErrorCode::SaleClosed,
            "the sale is over",
        ));
    }
    let started = std::time::Instant::now();
    let joined = state
        .buyer
        .room
        .join(id, buyer, rejoin, chrono::Utc::now().timestamp_millis())
        .await
        .map_err(ApiError::unavailable)?;
    metrics::histogram!("boxoffice_queue_join_publish_seconds")
        .record(started.elapsed().as_secs_f64());
    let outcome = match (joined.created, rejoin.is_some()) {
        (true, true) => "rejoined",
        (true, false) => "created",
        (false, _) => "existing",
    };
    metrics::counter!("boxoffice_queue_joins_total", "outcome" => outcome).increment(1);
    tracing::Span::current().record("outcome", outcome);
    let v = view_of(&state, &event, buyer)
        .filter(|v| v.id == joined.entry.id)
        .unwrap_or(EntryView {
            // The replica has not applied the join yet (it is stored): answer what is known.
            id: joined.entry.id,
            state: EntryState::Waiting,
            position: None,
            ahead: None,
            estimated_wait_s: None,
            poll_after_ms: state.buyer.poll.min_ms,
            admitted_at: None,
            admission_expires_at: None,
        });
    Ok((
        StatusCode::ACCEPTED,
        Json(status(&state, &event, buyer, &v)),
    ))
}

/// Where the buyer stands: position, wait, when to ask again, and the admission token once
/// admitted.
#[utoipa::path(
    get, path = "/api/v1/queue/{queue_ticket}", tag = "waiting room",
    params(("queue_ticket" = String, Path, description = "From the join")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The entry", body = QueueStatus),
        (status = 400, description = "Malformed ticket", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 404, description = "Not this buyer's ticket", body = ErrorBody),
        (status = 410, description = "Superseded by a later join", body = ErrorBody),
    )
)]
pub async fn poll(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(queue_ticket): ApiPath<String>,
) -> Result<Json<QueueStatus>, ApiError> {
    let (event_id, id) = parse_ticket(&queue_ticket).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::MalformedTicket,
            "a queue ticket looks like <event_id>.<n>",
        )
    })?;
    let event = published(&state, event_id.as_uuid())?;
    let room = &state.buyer.room;
    let seq = boxoffice_nats::queue::batch_seq(id);
    if room.applied() < seq {
        // Joined through another gateway a moment ago: let the replica catch up.
        room.caught_up_to(seq, Duration::from_secs(1)).await;
    }
    let unknown = || {
        ApiError::not_found(
            ErrorCode::QueueTicketNotFound,
            "no such ticket for this buyer",
        )
    };
    let entry = room
        .read(event_id, |b| b.and_then(|b| b.entry(buyer)))
        .ok_or_else(unknown)?;
    if entry.id > id {
        return Err(ApiError::gone(
            ErrorCode::QueueTicketSuperseded,
            "this buyer joined again; use the newer ticket",
        ));
    }
    if entry.id != id {
        return Err(unknown());
    }
    let v = view_of(&state, &event, buyer).ok_or_else(unknown)?;
    let state_label = match v.state {
        EntryState::Waiting => "waiting",
        EntryState::Admitted => "admitted",
        EntryState::Expired => "expired",
        EntryState::SoldOut => "sold_out",
        EntryState::Closed => "closed",
    };
    metrics::counter!("boxoffice_queue_polls_total", "state" => state_label).increment(1);
    Ok(Json(status(&state, &event, buyer, &v)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tickets_round_trip_and_junk_is_refused() {
        let e = boxoffice_nats::EventId::new();
        assert_eq!(super::parse_ticket(&super::ticket(e, 42)), Some((e, 42)));
        assert_eq!(super::parse_ticket("nope"), None);
        assert_eq!(super::parse_ticket(&format!("{e}.-1")), None);
    }
}
