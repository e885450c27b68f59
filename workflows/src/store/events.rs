//! Events as their organizer sees and edits them. Every read takes the caller's scope
//! (`Some(organizer)`, or `None` for an operator) into its `where`, so another organizer's
//! data is never loaded, let alone shown. Every change is audited in its own transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    StoreError, audit,
    inventory::{self, AllocationRow, SectionRow},
    parse_stored,
    refusal::organizer_write,
};
use crate::domain::SaleStatus;

/// An event in lists.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Venue name.
    pub venue: String,
    /// Where its sale is.
    pub status: SaleStatus,
    /// Show time.
    pub starts_at: DateTime<Utc>,
    /// Sale opens.
    pub opens_at: Option<DateTime<Utc>>,
    /// Sale closes.
    pub closes_at: Option<DateTime<Utc>>,
    /// The owning organizer's email.
    pub organizer: String,
    /// Units in the catalog.
    pub capacity: i64,
    /// Tickets issued and not voided.
    pub sold: i64,
}

/// An event with everything an organizer edits.
#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    /// The list fields.
    #[serde(flatten)]
    pub summary: EventSummary,
    /// Owner.
    pub organizer_id: Uuid,
    /// City of the venue.
    pub city: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Per-buyer limit.
    pub max_tickets_per_buyer: i32,
    /// Hold time, seconds.
    pub hold_seconds: i32,
    /// Admission cap per second.
    pub admission_rate_per_s: Option<i32>,
    /// Sections in display order.
    pub sections: Vec<SectionRow>,
    /// Allocations, newest first.
    pub allocations: Vec<AllocationRow>,
}

impl EventDetail {
    /// Whether the sale has opened (or ended): the layout and allocations are then fixed.
    pub fn sale_started(&self, now: DateTime<Utc>) -> bool {
        match self.summary.status {
            SaleStatus::Draft => false,
            SaleStatus::Scheduled => self.summary.opens_at.is_some_and(|t| t <= now),
            _ => true,
        }
    }
}

/// A row of [`event_rows`]: an event with its venue, owner and counts, as stored.
struct EventRecord {
    event_id: Uuid,
    name: String,
    venue: String,
    city: Option<String>,
    status: String,
    starts_at: DateTime<Utc>,
    opens_at: Option<DateTime<Utc>>,
    closes_at: Option<DateTime<Utc>>,
    timezone: String,
    organizer_id: Uuid,
    organizer: String,
    max_tickets_per_buyer: i32,
    hold_seconds: i32,
    admission_rate_per_s: Option<i32>,
    capacity: i64,
    sold: i64,
}

/// The rows of the events `scope` may see, soonest first; with `event`, of that one only.
async fn event_rows(
    pool: &PgPool,
    scope: Option<Uuid>,
    event: Option<Uuid>,
) -> Result<Vec<EventRecord>, StoreError> {
    sqlx::query_as!(
        EventRecord,
        r#"select e.event_id, e.name, v.name as venue, v.city, e.status, e.starts_at,
                e.opens_at, e.closes_at, e.timezone, e.organizer_id, o.email as organizer,
                e.max_tickets_per_buyer, e.hold_seconds, e.admission_rate_per_s,
                coalesce((select sum(capacity) from sections s where s.event_id = e.event_id), 0)::bigint as "capacity!",
                (select count(*) from tickets t where t.event_id = e.event_id and t.state = 'issued') as "sold!"
         from events e join venues v using (venue_id) join organizers o on o.organizer_id = e.organizer_id
         where ($1::uuid is null or e.organizer_id = $1) and ($2::uuid is null or e.event_id = $2)
         order by e.starts_at, e.name"#,
        scope,
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "event", event.unwrap_or_default()))
}

fn summary(r: &EventRecord) -> Result<EventSummary, StoreError> {
    Ok(EventSummary {
        id: r.event_id,
        name: r.name.clone(),
        venue: r.venue.clone(),
        status: parse_stored("sale status", &r.status, SaleStatus::parse)?,
        starts_at: r.starts_at,
        opens_at: r.opens_at,
        closes_at: r.closes_at,
        organizer: r.organizer.clone(),
        capacity: r.capacity,
        sold: r.sold,
    })
}

/// Events the scope may see, soonest first.
pub async fn list_events(
    pool: &PgPool,
    scope: Option<Uuid>,
) -> Result<Vec<EventSummary>, StoreError> {
    event_rows(pool, scope, None)
        .await?
        .iter()
        .map(summary)
        .collect()
}

/// The event, if it exists and the scope may see it.
pub async fn get_event(
    pool: &PgPool,
    scope: Option<Uuid>,
    event: Uuid,
) -> Result<Option<EventDetail>, StoreError> {
    let Some(r) = event_rows(pool, scope, Some(event)).await?.pop() else {
        return Ok(None);
    };
    Ok(Some(EventDetail {
        summary: summary(&r)?,
        organizer_id: r.organizer_id,
        city: r.city,
        timezone: r.timezone,
        max_tickets_per_buyer: r.max_tickets_per_buyer,
        hold_seconds: r.hold_seconds,
        admission_rate_per_s: r.admission_rate_per_s,
        sections: inventory::sections(pool, event).await?,
        allocations: inventory::allocations(pool, event).await?,
    }))
}

/// A new event's fields.
#[derive(Debug, Clone)]
pub struct DraftEvent {
    /// Name.
    pub name: String,
    /// Venue name.
    pub venue: String,
    /// Venue city.
    pub city: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Show time.
    pub starts_at: DateTime<Utc>,
}

/// Creates a draft event (and its venue) owned by `who`. Returns its id.
pub async fn create_draft(pool: &PgPool, who: Uuid, ev: &DraftEvent) -> Result<Uuid, StoreError> {
    let (event, venue) = (Uuid::now_v7(), Uuid::now_v7());
    let classify = |e| organizer_write(e, "event", event);
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    sqlx::query!(
        "insert into venues (venue_id, organizer_id, name, city, timezone) values ($1, $2, $3, $4, $5)",
        venue,
        who,
        ev.venue,
        ev.city.as_deref(),
        ev.timezone,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    sqlx::query!(
        "insert into events (event_id, organizer_id, venue_id, name, starts_at, timezone, status)
         values ($1, $2, $3, $4, $5, $6, 'draft')",
        event,
        who,
        venue,
        ev.name,
        ev.starts_at,
        ev.timezone,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    let detail = serde_json::json!({ "name": ev.name });
    audit::write(&mut tx, who, Some(event), "event.create", detail).await?;
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(event)
}

/// Changes to an event (absent fields stay as they are).
#[derive(Debug, Clone, Default)]
pub struct EventChanges {
    /// Name.
    pub name: Option<String>,
    /// Show time.
    pub starts_at: Option<DateTime<Utc>>,
    /// Time zone.
    pub timezone: Option<String>,
    /// Sale opens.
    pub opens_at: Option<DateTime<Utc>>,
    /// Sale closes (`Some(None)` clears it).
    pub closes_at: Option<Option<DateTime<Utc>>>,
    /// Per-buyer limit.
    pub max_tickets_per_buyer: Option<i32>,
    /// Hold time.
    pub hold_seconds: Option<i32>,
    /// Admission cap (`Some(None)` clears it).
    pub admission_rate_per_s: Option<Option<i32>>,
    /// New status (the caller has checked the move).
    pub status: Option<SaleStatus>,
}

/// Applies `changes` in one statement, with an audit line saying `action`.
pub async fn update_event(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    changes: &EventChanges,
    action: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    sqlx::query!(
        "update events set
            name = coalesce($2, name),
            starts_at = coalesce($3, starts_at),
            timezone = coalesce($4, timezone),
            opens_at = coalesce($5, opens_at),
            closes_at = case when $6 then $7 else closes_at end,
            max_tickets_per_buyer = coalesce($8, max_tickets_per_buyer),
            hold_seconds = coalesce($9, hold_seconds),
            admission_rate_per_s = case when $10 then $11 else admission_rate_per_s end,
            status = coalesce($12, status)
         where event_id = $1",
        event,
        changes.name.as_deref(),
        changes.starts_at,
        changes.timezone.as_deref(),
        changes.opens_at,
        changes.closes_at.is_some(),
        changes.closes_at.flatten(),
        changes.max_tickets_per_buyer,
        changes.hold_seconds,
        changes.admission_rate_per_s.is_some(),
        changes.admission_rate_per_s.flatten(),
        changes.status.map(SaleStatus::as_str),
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| organizer_write(e, "event", event))?;
    let detail = serde_json::json!({
        "name": changes.name, "starts_at": changes.starts_at, "opens_at": changes.opens_at,
        "closes_at": changes.closes_at, "max_tickets_per_buyer": changes.max_tickets_per_buyer,
        "hold_seconds": changes.hold_seconds, "admission_rate_per_s": changes.admission_rate_per_s,
        "status": changes.status,
    });
    audit::write(&mut tx, who, Some(event), action, detail).await?;
    tx.commit().await.map_err(StoreError::Unavailable)
}
