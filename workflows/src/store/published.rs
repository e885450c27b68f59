//! The published catalog as buyers see it: every event whose sale status is published, with
//! its sections (the gateway caches it in memory and refreshes it in the background).

use std::collections::HashMap;

use boxoffice_nats::{EventId, SectionCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::StoreError;
use crate::domain::SaleStatus;

/// A section as buyers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Section)]
pub struct PublishedSection {
    /// Code (used in seat ids `CODE:LABEL` and in best-available requests).
    #[schema(value_type = String)]
    pub code: SectionCode,
    /// Display name.
    pub name: String,
    /// `seated` or `general_admission`.
    pub kind: String,
    /// Seats or units in the catalog.
    pub capacity: u32,
    /// Price per ticket, in cents.
    pub price_cents: i64,
    /// ISO currency.
    pub currency: String,
}

/// A published event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct PublishedEvent {
    /// Id.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// Name.
    pub name: String,
    /// Venue.
    pub venue: String,
    /// When the show starts.
    pub starts_at: DateTime<Utc>,
    /// IANA time zone of the venue.
    pub timezone: String,
    /// Sale status (always a published one: never `draft` or `canceled`).
    pub status: SaleStatus,
    /// When the sale opens (absent: as soon as it is on sale).
    pub opens_at: Option<DateTime<Utc>>,
    /// When it closes.
    pub closes_at: Option<DateTime<Utc>>,
    /// Most tickets one buyer may hold or own.
    pub max_tickets_per_buyer: u32,
    /// How long a hold lasts, seconds.
    pub hold_seconds: u32,
    /// The organizer's cap on waiting-room admissions per second.
    pub admission_rate_per_s: Option<u32>,
    /// Sections in display order.
    pub sections: Vec<PublishedSection>,
}

impl PublishedEvent {
    /// Whether the sale is open now by the catalog (the room may still be sold out).
    pub fn selling_at(&self, now: DateTime<Utc>) -> bool {
        self.status == SaleStatus::OnSale
            && self.opens_at.is_none_or(|t| t <= now)
            && self.closes_at.is_none_or(|t| t > now)
    }

    /// Whether the sale is over by the catalog.
    pub fn closed_at(&self, now: DateTime<Utc>) -> bool {
        self.status.is_over() || self.closes_at.is_some_and(|t| t <= now)
    }

    /// A section by code.
    pub fn section(&self, code: &SectionCode) -> Option<&PublishedSection> {
        self.sections.iter().find(|s| &s.code == code)
    }
}

/// The names of the published statuses, for the queries' `status = any($1)`.
fn published_names() -> Vec<&'static str> {
    SaleStatus::ALL
        .into_iter()
        .filter(|s| s.is_published())
        .map(SaleStatus::as_str)
        .collect()
}

/// Every published event with its sections, in no particular order.
pub async fn published_events(db: &PgPool) -> Result<Vec<PublishedEvent>, StoreError> {
    let published = published_names();
    let rows = sqlx::query!(
        "select e.event_id, e.name, v.name as venue, e.starts_at, e.timezone, e.status,
                e.opens_at, e.closes_at, e.max_tickets_per_buyer, e.hold_seconds,
                e.admission_rate_per_s
         from events e join venues v using (venue_id)
         where e.status = any($1)",
        &published[..] as &[&str],
    )
    .fetch_all(db)
    .await
    .map_err(StoreError::Unavailable)?;
    let sections = sqlx::query!(
        "select s.event_id, s.code, s.name, s.kind, s.capacity, s.price_cents, s.currency
         from sections s join events e using (event_id)
         where e.status = any($1)
         order by s.event_id, s.sort_order, s.code",
        &published[..] as &[&str],
    )
    .fetch_all(db)
    .await
    .map_err(StoreError::Unavailable)?;
    let mut by_event: HashMap<uuid::Uuid, Vec<PublishedSection>> = HashMap::new();
    for row in sections {
        let Ok(code) = SectionCode::parse(row.code) else {
            continue;
        };
        by_event
            .entry(row.event_id)
            .or_default()
            .push(PublishedSection {
                code,
                name: row.name,
                kind: row.kind,
                capacity: row.capacity.max(0) as u32,
                price_cents: row.price_cents,
                currency: row.currency.trim().to_owned(),
            });
    }
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(status) = SaleStatus::parse(&row.status) else {
            continue;
        };
        events.push(PublishedEvent {
            event_id: EventId::from_uuid(row.event_id),
            name: row.name,
            venue: row.venue,
            starts_at: row.starts_at,
            timezone: row.timezone,
            status,
            opens_at: row.opens_at,
            closes_at: row.closes_at,
            max_tickets_per_buyer: row.max_tickets_per_buyer.max(1) as u32,
            hold_seconds: row.hold_seconds.max(1) as u32,
            admission_rate_per_s: row.admission_rate_per_s.map(|r| r.max(1) as u32),
            sections: by_event.remove(&row.event_id).unwrap_or_default(),
        });
    }
    Ok(events)
}
