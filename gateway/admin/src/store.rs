//! The admin side's PostgreSQL reads and writes. Every read of an event or an order takes the
//! caller's scope (`Some(organizer)`, or `None` for an operator) into its `where`, so data of
//! another organizer is never loaded, let alone shown.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::seatspec::SpecSeat;
use boxoffice_http::error::ApiError;

/// A database error as the organizer reads it: the constraints an organizer can break by
/// hand get their own code and words; any other is `invalid_value`, its name only in the log.
fn db(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::Database(d) => match d.constraint() {
            Some("events_closes_after_opens_check") => {
                ApiError::unprocessable("invalid_window", "the sale must close after it opens")
            }
            Some("sections_event_code_unique") => ApiError::conflict(
                "section_exists",
                "this event already has a section with that code",
            ),
            Some(c) => {
                tracing::warn!(constraint = c, error = %e, "an admin write was refused");
                ApiError::unprocessable(
                    "invalid_value",
                    "a value is out of range or conflicts with another",
                )
            }
            // Class 22 (data exception: a NUL byte, a number out of the column's range) is the
            // input's fault, not the database's.
            None if d.code().is_some_and(|c| c.starts_with("22")) => {
                tracing::warn!(error = %e, "an admin write was refused");
                ApiError::unprocessable("invalid_value", "a value cannot be stored as given")
            }
            None => ApiError::unavailable(e),
        },
        _ => ApiError::unavailable(e),
    }
}

/// An event in lists.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Venue name.
    pub venue: String,
    /// `draft`, `scheduled`, `on_sale`, `paused`, `closed`, `canceled`.
    pub status: String,
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

/// A section of an event.
#[derive(Debug, Clone, Serialize)]
pub struct SectionRow {
    /// Code (`A`, `FLOOR`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// `seated` or `general_admission`.
    pub kind: String,
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
    /// `kill`, `reserved`, `presale`.
    pub kind: String,
    /// Seated: the labels.
    pub labels: Vec<String>,
    /// General admission: units.
    pub quantity: Option<i32>,
    /// Free text.
    pub note: Option<String>,
    /// When returned to sale.
    pub released_at: Option<DateTime<Utc>>,
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
        match self.summary.status.as_str() {
            "draft" => false,
            "scheduled" => self.summary.opens_at.is_some_and(|t| t <= now),
            _ => true,
        }
    }
}

const SUMMARY: &str = "select e.event_id, e.name, v.name as venue, v.city, e.status, e.starts_at,
        e.opens_at, e.closes_at, e.timezone, e.organizer_id, o.email as organizer,
        e.max_tickets_per_buyer, e.hold_seconds, e.admission_rate_per_s,
        coalesce((select sum(capacity) from sections s where s.event_id = e.event_id), 0)::bigint as capacity,
        (select count(*) from tickets t where t.event_id = e.event_id and t.state = 'issued') as sold
    from events e join venues v using (venue_id) join organizers o on o.organizer_id = e.organizer_id";

fn summary(r: &sqlx::postgres::PgRow) -> EventSummary {
    EventSummary {
        id: r.get("event_id"),
        name: r.get("name"),
        venue: r.get("venue"),
        status: r.get("status"),
        starts_at: r.get("starts_at"),
        opens_at: r.get("opens_at"),
        closes_at: r.get("closes_at"),
        organizer: r.get("organizer"),
        capacity: r.get("capacity"),
        sold: r.get("sold"),
    }
}

/// Events the scope may see, soonest first.
pub async fn list_events(
    pool: &PgPool,
    scope: Option<Uuid>,
) -> Result<Vec<EventSummary>, ApiError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SUMMARY} where ($1::uuid is null or e.organizer_id = $1) order by e.starts_at, e.name"
    )))
    .bind(scope)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    Ok(rows.iter().map(summary).collect())
}

/// The event, if it exists and the scope may see it.
pub async fn get_event(
    pool: &PgPool,
    scope: Option<Uuid>,
    event: Uuid,
) -> Result<Option<EventDetail>, ApiError> {
    let Some(r) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SUMMARY} where e.event_id = $2 and ($1::uuid is null or e.organizer_id = $1)"
    )))
    .bind(scope)
    .bind(event)
    .fetch_optional(pool)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let sections = sqlx::query(
        "select code, name, kind, capacity, price_cents, currency from sections
         where event_id = $1 order by sort_order, code",
    )
    .bind(event)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(|s| SectionRow {
        code: s.get("code"),
        name: s.get("name"),
        kind: s.get("kind"),
        capacity: s.get("capacity"),
        price_cents: s.get("price_cents"),
        currency: s.get::<String, _>("currency").trim().to_owned(),
    })
    .collect();
    let allocations = sqlx::query(
        "select a.allocation_id, s.code, a.kind, a.labels, a.quantity, a.note, a.released_at
         from allocations a join sections s using (section_id)
         where a.event_id = $1 order by a.created_at desc",
    )
    .bind(event)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(|a| AllocationRow {
        id: a.get("allocation_id"),
        section: a.get("code"),
        kind: a.get("kind"),
        labels: a.get("labels"),
        quantity: a.get("quantity"),
        note: a.get("note"),
        released_at: a.get("released_at"),
    })
    .collect();
    Ok(Some(EventDetail {
        summary: summary(&r),
        organizer_id: r.get("organizer_id"),
        city: r.get("city"),
        timezone: r.get("timezone"),
        max_tickets_per_buyer: r.get("max_tickets_per_buyer"),
        hold_seconds: r.get("hold_seconds"),
        admission_rate_per_s: r.get("admission_rate_per_s"),
        sections,
        allocations,
    }))
}

/// Records what an organizer did, in the transaction that did it.
pub async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    who: Uuid,
    event: Option<Uuid>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    sqlx::query(
        "insert into admin_audit (audit_id, organizer_id, event_id, action, detail) values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(who)
    .bind(event)
    .bind(action)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// One line of an event's audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (email).
    pub who: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// The event's latest audit lines.
pub async fn audit_trail(
    pool: &PgPool,
    event: Uuid,
    limit: i64,
) -> Result<Vec<AuditRow>, ApiError> {
    Ok(sqlx::query(
        "select a.at, o.email, a.action, a.detail from admin_audit a
         join organizers o using (organizer_id) where a.event_id = $1 order by a.at desc limit $2",
    )
    .bind(event)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(|r| AuditRow {
        at: r.get("at"),
        who: r.get("email"),
        action: r.get("action"),
        detail: r.get("detail"),
    })
    .collect())
}

/// A new event's fields.
#[derive(Debug, Clone)]
pub struct NewEvent {
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

/// Creates a draft event (and its venue). Returns its id.
pub async fn create_event(pool: &PgPool, who: Uuid, ev: &NewEvent) -> Result<Uuid, ApiError> {
    let (event, venue) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("insert into venues (venue_id, organizer_id, name, city, timezone) values ($1, $2, $3, $4, $5)")
        .bind(venue)
        .bind(who)
        .bind(&ev.venue)
        .bind(&ev.city)
        .bind(&ev.timezone)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query(
        "insert into events (event_id, organizer_id, venue_id, name, starts_at, timezone, status)
         values ($1, $2, $3, $4, $5, $6, 'draft')",
    )
    .bind(event)
    .bind(who)
    .bind(venue)
    .bind(&ev.name)
    .bind(ev.starts_at)
    .bind(&ev.timezone)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit(
        &mut tx,
        who,
        Some(event),
        "event.create",
        serde_json::json!({ "name": ev.name }),
    )
    .await?;
    tx.commit().await.map_err(db)?;
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
    pub status: Option<&'static str>,
}

/// Applies `changes` in one statement, with an audit line.
pub async fn update_event(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    changes: &EventChanges,
    action: &str,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
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
    )
    .bind(event)
    .bind(&changes.name)
    .bind(changes.starts_at)
    .bind(&changes.timezone)
    .bind(changes.opens_at)
    .bind(changes.closes_at.is_some())
    .bind(changes.closes_at.flatten())
    .bind(changes.max_tickets_per_buyer)
    .bind(changes.hold_seconds)
    .bind(changes.admission_rate_per_s.is_some())
    .bind(changes.admission_rate_per_s.flatten())
    .bind(changes.status)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit(
        &mut tx,
        who,
        Some(event),
        action,
        serde_json::json!({
            "name": changes.name, "starts_at": changes.starts_at, "opens_at": changes.opens_at,
            "closes_at": changes.closes_at, "max_tickets_per_buyer": changes.max_tickets_per_buyer,
            "hold_seconds": changes.hold_seconds, "admission_rate_per_s": changes.admission_rate_per_s,
            "status": changes.status,
        }),
    )
    .await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// How a new section is laid out.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Seats from a description.
    Seated(Vec<SpecSeat>),
    /// Standing units.
    GeneralAdmission(u32),
}

/// Adds a section (with its seats) to an event, with an audit line.
#[allow(clippy::too_many_arguments)]
pub async fn add_section(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    code: &str,
    name: &str,
    price_cents: i64,
    currency: &str,
    layout: &Layout,
) -> Result<(), ApiError> {
    let section = Uuid::now_v7();
    let (kind, capacity) = match layout {
        Layout::Seated(seats) => ("seated", seats.len() as i32),
        Layout::GeneralAdmission(n) => ("general_admission", *n as i32),
    };
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "insert into sections (section_id, event_id, code, name, kind, capacity, price_cents, currency, sort_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8,
                 (select coalesce(max(sort_order) + 1, 0) from sections where event_id = $2))",
    )
    .bind(section)
    .bind(event)
    .bind(code)
    .bind(name)
    .bind(kind)
    .bind(capacity)
    .bind(price_cents)
    .bind(currency)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if let Layout::Seated(seats) = layout {
        let labels: Vec<String> = seats.iter().map(SpecSeat::label).collect();
        let rows: Vec<String> = seats.iter().map(|s| s.row.clone()).collect();
        let numbers: Vec<i32> = seats.iter().map(|s| s.number as i32).collect();
        sqlx::query(
            "insert into seats (event_id, section_id, label, row_label, seat_number)
             select $1, $2, l, r, n from unnest($3::text[], $4::text[], $5::int[]) as t(l, r, n)",
        )
        .bind(event)
        .bind(section)
        .bind(&labels)
        .bind(&rows)
        .bind(&numbers)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    audit(
        &mut tx,
        who,
        Some(event),
        "section.add",
        serde_json::json!({ "code": code, "kind": kind, "capacity": capacity, "price_cents": price_cents }),
    )
    .await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// Removes a section (and its seats and allocations). Whether it existed.
pub async fn delete_section(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    code: &str,
) -> Result<bool, ApiError> {
    change_audited(
        pool,
        who,
        event,
        sqlx::query("delete from sections where event_id = $1 and code = $2")
            .bind(event)
            .bind(code),
        "section.delete",
        serde_json::json!({ "code": code }),
    )
    .await
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
) -> Result<bool, ApiError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let n = statement
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
    if n > 0 {
        audit(&mut tx, who, Some(event), action, detail).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(n > 0)
}

/// The seat labels of a seated section (row by row), for the seat map.
pub async fn section_seats(
    pool: &PgPool,
    event: Uuid,
) -> Result<Vec<(String, String, String, i32)>, ApiError> {
    Ok(sqlx::query(
        "select s.code, st.label, coalesce(st.row_label, ''), coalesce(st.seat_number, 0)
         from seats st join sections s using (section_id)
         where st.event_id = $1 order by s.sort_order, s.code, st.row_label, st.seat_number, st.label",
    )
    .bind(event)
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect())
}

/// What an allocation takes out of sale.
#[derive(Debug, Clone)]
pub enum Withheld {
    /// Named seats.
    Seats(Vec<String>),
    /// General-admission units.
    Units(i32),
}

/// Adds an allocation after checking it names seats of the section that no other unreleased
/// allocation holds (or units the section still has). Returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn add_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    section_code: &str,
    kind: &str,
    withheld: &Withheld,
    access_code_hash: Option<String>,
    note: Option<String>,
) -> Result<Uuid, ApiError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let Some(section) = sqlx::query(
        "select section_id, kind, capacity from sections where event_id = $1 and code = $2 for update",
    )
    .bind(event)
    .bind(section_code)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?
    else {
        return Err(ApiError::unprocessable("section_unknown", format!("no section {section_code:?} in this event")));
    };
    let section_id: Uuid = section.get("section_id");
    let section_kind: String = section.get("kind");
    let (labels, quantity): (Vec<String>, Option<i32>) = match withheld {
        Withheld::Seats(labels) => {
            if section_kind != "seated" {
                return Err(ApiError::unprocessable(
                    "allocation_invalid",
                    "a general-admission section takes a quantity, not seats",
                ));
            }
            let unknown: Vec<String> = sqlx::query_scalar(
                "select l from unnest($2::text[]) l where not exists
                   (select 1 from seats where section_id = $1 and label = l)",
            )
            .bind(section_id)
            .bind(labels)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            if !unknown.is_empty() {
                return Err(ApiError::unprocessable(
                    "seat_unknown",
                    format!("not seats of {section_code}: {}", unknown.join(", ")),
                ));
            }
            let taken: Vec<String> = sqlx::query_scalar(
                "select distinct l from allocations a, unnest(a.labels) l
                 where a.section_id = $1 and a.released_at is null and l = any($2)",
            )
            .bind(section_id)
            .bind(labels)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            if !taken.is_empty() {
                return Err(ApiError::conflict(
                    "seat_allocated",
                    format!("already allocated: {}", taken.join(", ")),
                ));
            }
            (labels.clone(), None)
        }
        Withheld::Units(n) => {
            if section_kind == "seated" {
                return Err(ApiError::unprocessable(
                    "allocation_invalid",
                    "a seated section takes seats, not a quantity",
                ));
            }
            let blocked: i64 = sqlx::query_scalar(
                "select coalesce(sum(quantity), 0) from allocations where section_id = $1 and released_at is null",
            )
            .bind(section_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let capacity: i32 = section.get("capacity");
            if i64::from(*n) + blocked > i64::from(capacity) {
                return Err(ApiError::unprocessable(
                    "allocation_too_large",
                    format!(
                        "{section_code} has {} units left to allocate",
                        i64::from(capacity) - blocked
                    ),
                ));
            }
            (Vec::new(), Some(*n))
        }
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into allocations (allocation_id, event_id, section_id, kind, labels, quantity, access_code_hash, note)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(event)
    .bind(section_id)
    .bind(kind)
    .bind(&labels)
    .bind(quantity)
    .bind(access_code_hash)
    .bind(&note)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit(
        &mut tx,
        who,
        Some(event),
        "allocation.add",
        serde_json::json!({ "id": id, "section": section_code, "kind": kind, "labels": labels, "quantity": quantity }),
    )
    .await?;
    tx.commit().await.map_err(db)?;
    Ok(id)
}

/// Returns an allocation to general sale. `Ok(false)`: no such unreleased allocation; kills
/// are never released (that is what makes them kills).
pub async fn release_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    id: Uuid,
) -> Result<bool, ApiError> {
    change_audited(
        pool,
        who,
        event,
        sqlx::query(
            "update allocations set released_at = now()
             where allocation_id = $1 and event_id = $2 and released_at is null and kind <> 'kill'",
        )
        .bind(id)
        .bind(event),
        "allocation.release",
        serde_json::json!({ "id": id }),
    )
    .await
}

/// Deletes an allocation before the sale opens (a mistake, not a release).
pub async fn delete_allocation(
    pool: &PgPool,
    who: Uuid,
    event: Uuid,
    id: Uuid,
) -> Result<bool, ApiError> {
    change_audited(
        pool,
        who,
        event,
        sqlx::query("delete from allocations where allocation_id = $1 and event_id = $2")
            .bind(id)
            .bind(event),
        "allocation.delete",
        serde_json::json!({ "id": id }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, error::Error as StdError};

    use axum::http::StatusCode;
    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A PostgreSQL error as the driver reports it.
    #[derive(Debug)]
    struct PgFault {
        code: &'static str,
        constraint: Option<&'static str>,
    }

    impl std::fmt::Display for PgFault {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "violates check constraint {:?}", self.constraint)
        }
    }

    impl StdError for PgFault {}

    impl DatabaseError for PgFault {
        fn message(&self) -> &str {
            "violates a constraint"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            self.constraint
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn answer(code: &'static str, constraint: Option<&'static str>) -> (StatusCode, String) {
        let e = db(sqlx::Error::Database(Box::new(PgFault {
            code,
            constraint,
        })));
        let status = e.status();
        (status, format!("{e} {e:?}"))
    }

    #[test]
    fn a_constraint_is_a_code_and_never_shown_by_name() {
        let (status, shown) = answer("23514", Some("events_hold_seconds_check"));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!shown.contains("events_"), "{shown}");
        assert!(shown.contains("invalid_value"), "{shown}");
    }

    #[test]
    fn a_value_the_database_cannot_store_is_the_inputs_fault_not_a_503() {
        let (status, _) = answer("22021", None); // invalid byte sequence (a NUL)
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = answer("57P01", None); // admin shutdown
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
