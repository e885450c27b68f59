//! The published catalog, held in memory and refreshed from PostgreSQL every couple of seconds,
//! so buyer reads and the pacer never wait on the database (and survive it being down).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use boxoffice_nats::{EventId, SectionCode};
use boxoffice_workflows::service::Background;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use utoipa::ToSchema;

/// Where an event's sale is (the `events.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SaleStatus {
    /// Announced; the sale opens at `opens_at`.
    Scheduled,
    /// Selling (from `opens_at`, if set).
    OnSale,
    /// Stopped by the organizer for now.
    Paused,
    /// Over.
    Closed,
}

impl SaleStatus {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Self::Scheduled),
            "on_sale" => Some(Self::OnSale),
            "paused" => Some(Self::Paused),
            "closed" => Some(Self::Closed),
            _ => None, // drafts and canceled events are not published
        }
    }
}

/// A section as buyers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Section {
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
pub struct Event {
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
    /// Sale status.
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
    pub sections: Vec<Section>,
}

impl Event {
    /// Whether the sale is open now by the catalog (the room may still be sold out).
    pub fn selling_at(&self, now: DateTime<Utc>) -> bool {
        self.status == SaleStatus::OnSale
            && self.opens_at.is_none_or(|t| t <= now)
            && self.closes_at.is_none_or(|t| t > now)
    }

    /// Whether the sale is over by the catalog.
    pub fn closed_at(&self, now: DateTime<Utc>) -> bool {
        self.status == SaleStatus::Closed || self.closes_at.is_some_and(|t| t <= now)
    }

    /// A section by code.
    pub fn section(&self, code: &SectionCode) -> Option<&Section> {
        self.sections.iter().find(|s| &s.code == code)
    }
}

/// One snapshot of the published events, swapped whole on refresh.
type Events = Arc<HashMap<EventId, Arc<Event>>>;

/// The catalog cache. Cheap to clone.
#[derive(Clone, Default)]
pub struct Catalog {
    events: Arc<RwLock<Events>>,
}

impl Catalog {
    /// One published event.
    pub fn get(&self, event: EventId) -> Option<Arc<Event>> {
        self.snapshot().get(&event).cloned()
    }

    /// Every published event, soonest first.
    pub fn list(&self) -> Vec<Arc<Event>> {
        let mut all: Vec<_> = self.snapshot().values().cloned().collect();
        all.sort_by_key(|e| (e.starts_at, e.event_id));
        all
    }

    fn snapshot(&self) -> Arc<HashMap<EventId, Arc<Event>>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads every published event from PostgreSQL.
    pub async fn refresh(&self, db: &PgPool) -> Result<(), sqlx::Error> {
        let rows = sqlx::query(
            "select e.event_id, e.name, v.name as venue, e.starts_at, e.timezone, e.status,
                    e.opens_at, e.closes_at, e.max_tickets_per_buyer, e.hold_seconds,
                    e.admission_rate_per_s
             from events e join venues v using (venue_id)
             where e.status in ('scheduled', 'on_sale', 'paused', 'closed')",
        )
        .fetch_all(db)
        .await?;
        let sections = sqlx::query(
            "select s.event_id, s.code, s.name, s.kind, s.capacity, s.price_cents, s.currency
             from sections s join events e using (event_id)
             where e.status in ('scheduled', 'on_sale', 'paused', 'closed')
             order by s.event_id, s.sort_order, s.code",
        )
        .fetch_all(db)
        .await?;
        let mut by_event: HashMap<uuid::Uuid, Vec<Section>> = HashMap::new();
        for row in sections {
            let Ok(code) = SectionCode::parse(row.get::<String, _>("code")) else {
                continue;
            };
            by_event
                .entry(row.get("event_id"))
                .or_default()
                .push(Section {
                    code,
                    name: row.get("name"),
                    kind: row.get("kind"),
                    capacity: row.get::<i32, _>("capacity").max(0) as u32,
                    price_cents: row.get("price_cents"),
                    currency: row.get::<String, _>("currency").trim().to_owned(),
                });
        }
        let mut events = HashMap::new();
        for row in rows {
            let id: uuid::Uuid = row.get("event_id");
            let Some(status) = SaleStatus::parse(row.get("status")) else {
                continue;
            };
            let event = Event {
                event_id: EventId::from_uuid(id),
                name: row.get("name"),
                venue: row.get("venue"),
                starts_at: row.get("starts_at"),
                timezone: row.get("timezone"),
                status,
                opens_at: row.get("opens_at"),
                closes_at: row.get("closes_at"),
                max_tickets_per_buyer: row.get::<i32, _>("max_tickets_per_buyer").max(1) as u32,
                hold_seconds: row.get::<i32, _>("hold_seconds").max(1) as u32,
                admission_rate_per_s: row
                    .get::<Option<i32>, _>("admission_rate_per_s")
                    .map(|r| r.max(1) as u32),
                sections: by_event.remove(&id).unwrap_or_default(),
            };
            events.insert(event.event_id, Arc::new(event));
        }
        *self.events.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(events);
        Ok(())
    }

    /// Refreshes every `every` in `background` until it stops; failures keep the last good
    /// copy.
    pub fn spawn_refresher(&self, db: PgPool, every: Duration, background: &Background) {
        let catalog = self.clone();
        background.spawn(async move {
            loop {
                if let Err(e) = catalog.refresh(&db).await {
                    tracing::warn!(error = %e, "catalog refresh failed; serving the last copy");
                }
                tokio::time::sleep(every).await;
            }
        });
    }
}
