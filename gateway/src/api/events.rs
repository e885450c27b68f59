//! The public catalog: published events with live availability, and seat maps.

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::HeaderMap};
use boxoffice_nats::{EventId, SectionCode, seat::Availability as SeatAvailability};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    extract::{ApiPath, ApiQuery},
    presale::presale_access,
};
use crate::{
    AppState,
    availability::Counts,
    catalog::{Event, Section},
    error::{ApiError, ErrorBody, ErrorCode},
};

/// A section with its live counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct SectionView {
    /// The section.
    #[serde(flatten)]
    pub section: Section,
    /// Live counts (absent until the seat store's view is loaded).
    pub availability: Option<Counts>,
}

/// A published event with live availability and its waiting room's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Id.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// Name.
    pub name: String,
    /// Venue.
    pub venue: String,
    /// Start.
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// IANA time zone.
    pub timezone: String,
    /// Sale status.
    pub status: boxoffice_workflows::domain::SaleStatus,
    /// Sale opens.
    pub opens_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Sale closes.
    pub closes_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Per-buyer limit.
    pub max_tickets_per_buyer: u32,
    /// Hold time, seconds.
    pub hold_seconds: u32,
    /// Sections.
    pub sections: Vec<SectionView>,
    /// Totals over every section.
    pub availability: Option<Counts>,
    /// The waiting room.
    pub queue: QueueSummary,
    /// How the organizer's pages for this event look (logo, colours, intro and footer; `{}`
    /// when unset), for any client that shows the event.
    pub branding: boxoffice_workflows::store::branding::Branding,
}

/// An event's waiting room at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSummary {
    /// `pending`, `open`, `paused`, `sold_out` or `closed`.
    pub phase: String,
    /// Buyers in line not yet admitted.
    pub waiting: u64,
    /// Admissions per second right now.
    pub admission_rate_per_s: f64,
}

pub(super) fn view(state: &AppState, event: &Event) -> EventView {
    let counts = state.buyer.availability.counts(event.event_id);
    let (by_section, total) = match counts {
        Some((s, t)) => (s, Some(t)),
        None => (BTreeMap::new(), None),
    };
    let summary = state
        .buyer
        .room
        .read(event.event_id, |b| b.map(|b| b.summary()));
    let control = summary.as_ref().and_then(|s| s.control.as_ref());
    EventView {
        event_id: event.event_id,
        name: event.name.clone(),
        venue: event.venue.clone(),
        starts_at: event.starts_at,
        timezone: event.timezone.clone(),
        status: event.status,
        opens_at: event.opens_at,
        closes_at: event.closes_at,
        max_tickets_per_buyer: event.max_tickets_per_buyer,
        hold_seconds: event.hold_seconds,
        sections: event
            .sections
            .iter()
            .map(|s| SectionView {
                section: s.clone(),
                availability: total.map(|_| by_section.get(&s.code).copied().unwrap_or_default()),
            })
            .collect(),
        availability: total,
        queue: QueueSummary {
            phase: control.map_or("pending".into(), |(_, c)| {
                serde_json::to_value(c.phase)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            waiting: summary.as_ref().map_or(0, |s| s.waiting),
            admission_rate_per_s: control.map_or(0.0, |(_, c)| c.rate_per_s),
        },
        branding: (state.buyer.catalog.branding(event.event_id))
            .map(|b| (*b).clone())
            .unwrap_or_default(),
    }
}

/// Looks an event up in the published catalog (404 otherwise).
pub(super) fn published(
    state: &AppState,
    id: uuid::Uuid,
) -> Result<std::sync::Arc<Event>, ApiError> {
    state
        .buyer
        .catalog
        .get(EventId::from_uuid(id))
        .ok_or_else(|| {
            ApiError::not_found(ErrorCode::EventNotFound, format!("no published event {id}"))
        })
}

/// Published events.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "catalog",
    responses((status = 200, description = "Published events, soonest first", body = [EventView]))
)]
pub async fn list(State(state): State<AppState>) -> Json<Vec<EventView>> {
    Json(
        state
            .buyer
            .catalog
            .list()
            .iter()
            .map(|e| view(&state, e))
            .collect(),
    )
}

/// One published event with sections, prices and live availability.
#[utoipa::path(
    get, path = "/api/v1/events/{event_id}", tag = "catalog",
    params(("event_id" = uuid::Uuid, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No such published event", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Json<EventView>, ApiError> {
    let event = published(&state, id)?;
    Ok(Json(view(&state, &event)))
}

/// Which seats to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SeatsQuery {
    /// A section code; all sections when absent.
    pub section: Option<String>,
}

/// One seat on the map.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatView {
    /// `SECTION:LABEL`.
    pub seat: String,
    /// `free`, `held` or `sold`; `unavailable`: not for sale to the caller (a presale
    /// block's seat without that block's `Presale-Token`, or with a token, a seat outside its
    /// block). Seats never for sale (kills, reserved blocks) are not listed.
    #[schema(value_type = String)]
    pub state: SeatAvailability,
}

/// The seat map.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatMap {
    /// Event.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// Seats, sorted.
    pub seats: Vec<SeatView>,
}

/// The seat map with each seat's state, live.
#[utoipa::path(
    get, path = "/api/v1/events/{event_id}/seats", tag = "catalog",
    params(
        ("event_id" = uuid::Uuid, Path, description = "Event id"),
        SeatsQuery,
        ("Presale-Token" = Option<String>, Header, description = "From POST /api/v1/events/{event_id}/presale: the map as that block's buyer sees it (the block's seats live, every other seat `unavailable`)"),
    ),
    responses(
        (status = 200, description = "Seats and their states", body = SeatMap),
        (status = 400, description = "Malformed id or section", body = ErrorBody),
        (status = 401, description = "A presale token that is not valid or has expired", body = ErrorBody),
        (status = 403, description = "A presale token for another event", body = ErrorBody),
        (status = 404, description = "No such event or section", body = ErrorBody),
        (status = 503, description = "The seat map is loading", body = ErrorBody),
    )
)]
pub async fn seats(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiQuery(query): ApiQuery<SeatsQuery>,
    headers: HeaderMap,
) -> Result<Json<SeatMap>, ApiError> {
    let event = published(&state, id)?;
    let access = presale_access(&state, &headers, None, event.event_id)?;
    let section = match query.section.as_deref() {
        None => None,
        Some(code) => {
            let code = SectionCode::parse(code)
                .map_err(|e| ApiError::bad_request(ErrorCode::MalformedSection, e.to_string()))?;
            if event.section(&code).is_none() {
                return Err(ApiError::not_found(
                    ErrorCode::SectionNotFound,
                    format!("event {id} has no section {code}"),
                ));
            }
            Some(code)
        }
    };
    let seats = state
        .buyer
        .availability
        .seat_map(event.event_id, section.as_ref(), access)
        .ok_or_else(|| ApiError::unavailable("the seat map is still loading"))?;
    Ok(Json(SeatMap {
        event_id: event.event_id,
        seats: seats
            .into_iter()
            .map(|(seat, state)| SeatView {
                seat: seat.to_string(),
                state,
            })
            .collect(),
    }))
}
