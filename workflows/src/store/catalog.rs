//! The catalog: events, sections and seats; and what of it is sellable.

use std::collections::BTreeMap;

use boxoffice_nats::{
    SectionCode, UnitLabel,
    ids::EventId,
    seat::{BlockMeta, EventInventory, SectionInventory, SectionUnits},
};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    StoreError,
    inventory::{Layout, SeatPlace, SectionDraft, SectionKind, insert_section},
};

/// How a new section is laid out.
#[derive(Debug, Clone)]
pub enum SectionLayout {
    /// `rows` rows labelled from `first_row` (A, B, ... or numbers), `seats_per_row` seats
    /// each, numbered from 1. Seat labels are `<row>-<n>`, e.g. `C-12`.
    Seated {
        /// Row labels, front to back.
        rows: Vec<String>,
        /// Seats in each row.
        seats_per_row: u32,
    },
    /// A standing area of `capacity` units.
    GeneralAdmission {
        /// Units for sale.
        capacity: u32,
    },
}

/// A section to create.
#[derive(Debug, Clone)]
pub struct NewSection {
    /// Short code (a KV key token).
    pub code: SectionCode,
    /// Display name.
    pub name: String,
    /// Layout.
    pub layout: SectionLayout,
    /// Price per ticket, in cents.
    pub price_cents: i64,
}

/// An event to create with its venue and sections.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The organizer that owns it.
    pub organizer_id: Uuid,
    /// Venue name (a venue is created for it).
    pub venue_name: String,
    /// Event name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// When the show starts.
    pub starts_at: DateTime<Utc>,
    /// ISO currency of every price.
    pub currency: String,
    /// Per-buyer limit.
    pub max_tickets_per_buyer: i32,
    /// Hold time in seconds.
    pub hold_seconds: i32,
    /// Sections, in display order.
    pub sections: Vec<NewSection>,
}

/// Creates an event with its venue, sections and seats in one transaction, status `on_sale`.
/// Returns the event id.
pub async fn create_event(pool: &PgPool, ev: &NewEvent) -> Result<EventId, StoreError> {
    let event_id = EventId::new();
    let venue_id = Uuid::now_v7();
    let classify = |e| StoreError::classify(e, "event", event_id);
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    sqlx::query!(
        "insert into venues (venue_id, organizer_id, name, timezone) values ($1, $2, $3, $4)",
        venue_id,
        ev.organizer_id,
        ev.venue_name,
        ev.timezone,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    sqlx::query!(
        "insert into events (event_id, organizer_id, venue_id, name, starts_at, timezone, status,
                             max_tickets_per_buyer, hold_seconds)
         values ($1, $2, $3, $4, $5, $6, 'on_sale', $7, $8)",
        event_id.as_uuid(),
        ev.organizer_id,
        venue_id,
        ev.name,
        ev.starts_at,
        ev.timezone,
        ev.max_tickets_per_buyer,
        ev.hold_seconds,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    for (i, s) in ev.sections.iter().enumerate() {
        let layout = match &s.layout {
            SectionLayout::Seated {
                rows,
                seats_per_row,
            } => Layout::Seated(
                rows.iter()
                    .flat_map(|row| {
                        (1..=*seats_per_row).map(|number| SeatPlace {
                            row: row.clone(),
                            number,
                        })
                    })
                    .collect(),
            ),
            SectionLayout::GeneralAdmission { capacity } => Layout::GeneralAdmission(*capacity),
        };
        let section = SectionDraft {
            code: s.code.as_str().to_owned(),
            name: s.name.clone(),
            price_cents: s.price_cents,
            currency: ev.currency.clone(),
            layout,
        };
        insert_section(&mut tx, event_id.as_uuid(), &section, Some(i as i32)).await?;
    }
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(event_id)
}

/// What is sellable for an event: every seat of the catalog minus unreleased kills and reserved
/// blocks; for general admission, the capacity minus their quantities and minus every presale
/// block's. Presale blocks are sellable to their code holders: listed by section, gated until
/// released (docs/adr/0022-presale-blocks-gated-in-the-seat-store.md). This, and only this, is
/// loaded into the seat store.
pub async fn sellable_inventory(
    pool: &PgPool,
    event: EventId,
) -> Result<EventInventory, StoreError> {
    let classify = |e| StoreError::classify(e, "event", event);
    let max_per_buyer = sqlx::query_scalar!(
        "select max_tickets_per_buyer from events where event_id = $1",
        event.as_uuid(),
    )
    .fetch_one(pool)
    .await
    .map_err(classify)?;
    let sections = sqlx::query!(
        r#"select s.code, s.kind, s.capacity,
                coalesce((select sum(a.quantity) from allocations a
                          where a.section_id = s.section_id
                            and (a.released_at is null or a.kind = 'presale')), 0)::int as "blocked!",
                coalesce((select array_agg(st.label order by st.row_label, st.seat_number, st.label)
                          from seats st
                          where st.section_id = s.section_id
                            and not exists (select 1 from allocations a
                                            where a.section_id = s.section_id and a.released_at is null
                                              and a.kind <> 'presale'
                                              and st.label = any(a.labels))), '{}') as "labels!"
         from sections s where s.event_id = $1 order by s.sort_order, s.code"#,
        event.as_uuid(),
    )
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    // Presale blocks are loaded (their units gated to their code holders until released). A
    // standing block's units keep their own labels even once released, so its units, whoever
    // bought them, never reappear as `u` units.
    let mut blocks: BTreeMap<SectionCode, Vec<BlockMeta>> = BTreeMap::new();
    for b in super::presale_blocks(pool, event).await? {
        if b.released && b.kind == SectionKind::Seated {
            continue;
        }
        blocks.entry(b.section.clone()).or_default().push(b.meta());
    }
    let mut out = Vec::with_capacity(sections.len());
    for row in sections {
        let code = SectionCode::parse(row.code).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let units = if row.kind == "seated" {
            let labels = row
                .labels
                .into_iter()
                .map(UnitLabel::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            if labels.is_empty() {
                continue;
            }
            SectionUnits::Seated(labels)
        } else {
            let free = row.capacity - row.blocked;
            if free <= 0 && !blocks.contains_key(&code) {
                continue;
            }
            SectionUnits::GeneralAdmission(free.max(0) as u32)
        };
        out.push(SectionInventory { code, units });
    }
    Ok(EventInventory {
        event,
        max_per_buyer: max_per_buyer as u32,
        sections: out,
        blocks,
    })
}
