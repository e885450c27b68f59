//! An event's inventory as its organizer shapes it before the sale: sections (with their
//! seats) and allocations (seats or units withheld from the public sale), each change audited
//! in the transaction that makes it. The on-sale workflow loads what is left
//! ([`super::sellable_inventory`]).

use boxoffice_nats::UnitLabel;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{
    StoreError, audit, parse_stored,
    refusal::{Refusal, organizer_write},
};

/// How a section sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Named seats.
    Seated,
    /// Standing units.
    GeneralAdmission,
}

impl SectionKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seated => "seated",
            Self::GeneralAdmission => "general_admission",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Seated, Self::GeneralAdmission]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Why seats or units are withheld from the public sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationKind {
    /// Never sold (a camera position, a broken seat); never released.
    Kill,
    /// Held back for someone (artist, promoter) until released.
    Reserved,
    /// For buyers with an access code, until released.
    Presale,
}

impl AllocationKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Kill, Self::Reserved, Self::Presale];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Reserved => "reserved",
            Self::Presale => "presale",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One seat of a seated section: its row and its number in the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPlace {
    /// Row label (display and the first part of the seat label).
    pub row: String,
    /// Seat number in its row.
    pub number: u32,
}

impl SeatPlace {
    /// The seat's label in the seat store: `<row>-<number>`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.row, self.number)
    }
}

/// How a new section is laid out.
#[derive(Debug, Clone)]
pub enum Layout {
    /// These seats.
    Seated(Vec<SeatPlace>),
    /// Standing units.
    GeneralAdmission(u32),
}

impl Layout {
    /// The section's kind and its seats or units.
    pub fn shape(&self) -> (SectionKind, usize) {
        match self {
            Self::Seated(seats) => (SectionKind::Seated, seats.len()),
            Self::GeneralAdmission(n) => (SectionKind::GeneralAdmission, *n as usize),
        }
    }
}

/// A section of an event.
#[derive(Debug, Clone, Serialize)]
pub struct SectionRow {
    /// Code (`A`, `FLOOR`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// How it sells.
    pub kind: SectionKind,
    /// Seats or units.
    pub capacity: i32,
    /// Price per ticket, cents.
    pub price_cents: i64,
    /// ISO currency.
    pub currency: String,
}

/// Seats or units withheld from sale.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationRow {
    /// Id.
    pub id: Uuid,
    /// Section code.
    pub section: String,
    /// Why they are withheld.
    pub kind: AllocationKind,
    /// Seated: the labels.
    pub labels: Vec<String>,
    /// General admission: units.
    pub quantity: Option<i32>,
    /// Free text.
    pub note: Option<String>,
    /// When returned to sale.
    pub released_at: Option<DateTime<Utc>>,
}

impl AllocationRow {
    /// Whether it can still be returned to sale (unreleased, and not a kill).
    pub fn releasable(&self) -> bool {
        self.released_at.is_none() && self.kind != AllocationKind::Kill
    }
}

/// A seat of a seated section, for the seat map.
#[derive(Debug, Clone)]
pub struct SeatRow {
    /// Section code.
    pub section: String,
    /// Seat label.
    pub label: String,
    /// Row label (empty if none).
    pub row: String,
    /// Number in the row (0 if none).
    pub number: i32,
}

/// A section to add to an event.
#[derive(Debug, Clone)]
pub struct SectionDraft {
    /// Code (a KV key token).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Price per ticket, cents.
    pub price_cents: i64,
    /// ISO currency.
    pub currency: String,
    /// Seats or units.
    pub layout: Layout,
}

/// What an allocation takes out of sale.
#[derive(Debug, Clone)]
pub enum Withheld {
    /// Named seats.
    Seats(Vec<String>),
    /// General-admission units.
    Units(i32),
}

/// An allocation to add to an event.
#[derive(Debug, Clone)]
pub struct AllocationDraft {
    /// The section's code.
    pub section: String,
    /// Why.
    pub kind: AllocationKind,
    /// What.
    pub withheld: Withheld,
    /// Presale: the argon2 hash of the access code.
    pub access_code_hash: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

fn classify(event: Uuid) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| organizer_write(e, "event", event)
}

/// The event's sections in display order.
pub async fn sections(pool: &PgPool, event: Uuid) -> Result<Vec<SectionRow>, StoreError> {
    let rows = sqlx::query!(
        "select code, name, kind, capacity, price_cents, currency from sections
         where event_id = $1 order by sort_order, code",
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(classify(event))?;
    rows.into_iter()
        .map(|s| {
            Ok(SectionRow {
                kind: parse_stored("section kind", &s.kind, SectionKind::parse)?,
                code: s.code,
                name: s.name,
                capacity: s.capacity,
                price_cents: s.price_cents,
                currency: s.currency.trim().to_owned(),
            })
        })
        .collect()
}

/// The event's allocations, newest first.
pub async fn allocations(pool: &PgPool, event: Uuid) -> Result<Vec<AllocationRow>, StoreError> {
    let rows = sqlx::query!(
        "select a.allocation_id, s.code, a.kind, a.labels, a.quantity, a.note, a.released_at
         from allocations a join sections s using (section_id)
         where a.event_id = $1 order by a.created_at desc",
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(classify(event))?;
    rows.into_iter()
        .map(|a| {
            Ok(AllocationRow {
                id: a.allocation_id,
                section: a.code,
                kind: parse_stored("allocation kind", &a.kind, AllocationKind::parse)?,
                labels: a.labels,
                quantity: a.quantity,
                note: a.note,
                released_at: a.released_at,
            })
        })
        .collect()
}

/// Every seat of the event's seated sections, section by section and row by row.
pub async fn seats(pool: &PgPool, event: Uuid) -> Result<Vec<SeatRow>, StoreError> {
    Ok(sqlx::query!(
        r#"select s.code, st.label, coalesce(st.row_label, '') as "row_label!", coalesce(st.seat_number, 0) as "seat_number!"
         from seats st join sections s using (section_id)
         where st.event_id = $1 order by s.sort_order, s.code, st.row_label, st.seat_number, st.label"#,
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(classify(event))?
    .into_iter()
    .map(|r| SeatRow {
        section: r.code,
        label: r.label,
        row: r.row_label,
        number: r.seat_number,
    })
    .collect())
}

/// Inserts a section, and its seats when it is seated, at `sort_order` (`None`: after the
/// event's last section). Returns its id. The catalog's whole-event creation and an
/// organizer's single section both go through here.
pub(super) async fn insert_section(
    tx: &mut Transaction<'_, Postgres>,
    event: Uuid,
    section: &SectionDraft,
    sort_order: Option<i32>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let (kind, units) = section.layout.shape();
    let capacity = i32::try_from(units)
        .map_err(|_| StoreError::Invalid(format!("section {} is too large", section.code)))?;
    sqlx::query!(
        "insert into sections (section_id, event_id, code, name, kind, capacity, price_cents, currency, sort_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8,
                 coalesce($9::int, (select coalesce(max(sort_order) + 1, 0) from sections where event_id = $2)))",
        id,
        event,
        section.code,
        section.name,
        kind.as_str(),
        capacity,
        section.price_cents,
        section.currency,
        sort_order,
    )
    .execute(&mut **tx)
    .await
    .map_err(classify(event))?;
    if let Layout::Seated(seats) = &section.layout {
        insert_seats(tx, event, id, seats).await?;
    }
    Ok(id)
}

/// One statement per section: the seats are unnested from three arrays instead of costing a
/// round trip each.
async fn insert_seats(
    tx: &mut Transaction<'_, Postgres>,
    event: Uuid,
    section: Uuid,
    seats: &[SeatPlace],
) -> Result<(), StoreError> {
    let labels: Vec<String> = seats.iter().map(SeatPlace::label).collect();
    for label in &labels {
        UnitLabel::parse(label.as_str()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    }
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number as i32).collect();
    sqlx::query!(
        "insert into seats (event_id, section_id, label, row_label, seat_number)
         select $1, $2, l, r, n from unnest($3::text[], $4::text[], $5::int[]) as t(l, r, n)",
        event,
        section,
        &labels,
        &rows[..] as &[&str],
        &numbers,
    )
    .execute(&mut **tx)
    .await
    .map_err(classify(event))?;
    Ok(())
}

/// Adds a section (with its seats) after the event's last, with an audit line.
pub async fn add_section(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    section: &SectionDraft,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    insert_section(&mut tx, event, section, None).await?;
    let (kind, capacity) = section.layout.shape();
    let detail = serde_json::json!({
        "code": section.code, "kind": kind, "capacity": capacity, "price_cents": section.price_cents,
    });
    audit::write(&mut tx, who, Some(event), "section.add", detail).await?;
    tx.commit().await.map_err(StoreError::Unavailable)
}

/// Removes a section (and its seats and allocations). Whether it existed.
pub async fn delete_section(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    code: &str,
) -> Result<bool, StoreError> {
    let statement = sqlx::query!(
        "delete from sections where event_id = $1 and code = $2",
        event,
        code,
    );
    let detail = serde_json::json!({ "code": code });
    change_audited(pool, who, event, statement, "section.delete", detail).await
}

/// Runs one statement and, if it changed a row, records `action` in the audit, in one
/// transaction. Whether it changed anything (nothing changed, nothing audited).
async fn change_audited(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    statement: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    action: &str,
    detail: serde_json::Value,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    let n = statement
        .execute(&mut *tx)
        .await
        .map_err(classify(event))?
        .rows_affected();
    if n > 0 {
        audit::write(&mut tx, who, Some(event), action, detail).await?;
    }
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(n > 0)
}

/// Adds an allocation after checking, with the section locked, that it names seats of the
/// section that no other unreleased allocation withholds (or units the section still has).
/// Returns its id.
pub async fn add_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    draft: &AllocationDraft,
) -> Result<Uuid, StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    let code = draft.section.as_str();
    let Some(section) = sqlx::query!(
        "select section_id, kind, capacity from sections where event_id = $1 and code = $2 for update",
        event,
        code,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(classify(event))?
    else {
        return Err(Refusal::UnknownSection(code.to_owned()).into());
    };
    let section_id = section.section_id;
    let seated =
        parse_stored("section kind", &section.kind, SectionKind::parse)? == SectionKind::Seated;
    let (labels, quantity) = match &draft.withheld {
        Withheld::Seats(_) if !seated => return Err(Refusal::SeatsInStandingSection.into()),
        Withheld::Units(_) if seated => return Err(Refusal::UnitsInSeatedSection.into()),
        Withheld::Seats(labels) => {
            check_seats(&mut tx, section_id, code, labels).await?;
            (labels.clone(), None)
        }
        Withheld::Units(n) => {
            check_units(&mut tx, section_id, code, section.capacity, *n).await?;
            (Vec::new(), Some(*n))
        }
    };
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into allocations (allocation_id, event_id, section_id, kind, labels, quantity, access_code_hash, note)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        event,
        section_id,
        draft.kind.as_str(),
        &labels,
        quantity,
        draft.access_code_hash.as_deref(),
        draft.note.as_deref(),
    )
    .execute(&mut *tx)
    .await
    .map_err(classify(event))?;
    let detail = serde_json::json!({
        "id": id, "section": code, "kind": draft.kind, "labels": labels, "quantity": quantity,
    });
    audit::write(&mut tx, who, Some(event), "allocation.add", detail).await?;
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(id)
}

/// Every label is a seat of the section, and none is withheld by an unreleased allocation.
async fn check_seats(
    tx: &mut Transaction<'_, Postgres>,
    section: Uuid,
    code: &str,
    labels: &[String],
) -> Result<(), StoreError> {
    let unknown = sqlx::query_scalar!(
        r#"select l as "l!" from unnest($2::text[]) l where not exists
           (select 1 from seats where section_id = $1 and label = l)"#,
        section,
        labels,
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(classify(section))?;
    if !unknown.is_empty() {
        return Err(Refusal::UnknownSeats {
            section: code.to_owned(),
            labels: unknown,
        }
        .into());
    }
    let taken = sqlx::query_scalar!(
        r#"select distinct l as "l!" from allocations a, unnest(a.labels) l
         where a.section_id = $1 and a.released_at is null and l = any($2)"#,
        section,
        labels,
    )
    .fetch_all(&mut **tx)
    .await
    .map_err(classify(section))?;
    if !taken.is_empty() {
        return Err(Refusal::SeatsAllocated(taken).into());
    }
    Ok(())
}

/// `units` more fit in what the section has not allocated yet.
async fn check_units(
    tx: &mut Transaction<'_, Postgres>,
    section: Uuid,
    code: &str,
    capacity: i32,
    units: i32,
) -> Result<(), StoreError> {
    let blocked = sqlx::query_scalar!(
        r#"select coalesce(sum(quantity), 0) as "blocked!" from allocations where section_id = $1 and released_at is null"#,
        section,
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(classify(section))?;
    if i64::from(units) + blocked > i64::from(capacity) {
        return Err(Refusal::TooManyUnits {
            section: code.to_owned(),
            left: i64::from(capacity) - blocked,
        }
        .into());
    }
    Ok(())
}

/// Returns an allocation to general sale. `Ok(false)`: no such unreleased allocation; kills
/// are never released (that is what makes them kills).
pub async fn release_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    id: Uuid,
) -> Result<bool, StoreError> {
    let statement = sqlx::query!(
        "update allocations set released_at = now()
         where allocation_id = $1 and event_id = $2 and released_at is null and kind <> 'kill'",
        id,
        event,
    );
    let detail = serde_json::json!({ "id": id });
    change_audited(pool, who, event, statement, "allocation.release", detail).await
}

/// Deletes an allocation before the sale opens (a mistake, not a release). Whether it existed.
pub async fn delete_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    id: Uuid,
) -> Result<bool, StoreError> {
    let statement = sqlx::query!(
        "delete from allocations where allocation_id = $1 and event_id = $2",
        id,
        event,
    );
    let detail = serde_json::json!({ "id": id });
    change_audited(pool, who, event, statement, "allocation.delete", detail).await
}
