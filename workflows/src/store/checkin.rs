//! Check-in at the door: a ticket is marked used exactly once.
//!
//! The mark is one conditional update (`state = 'issued' and checked_in_at is null`), so two
//! gates scanning the same ticket at the same instant are serialised by PostgreSQL's row lock:
//! one update changes the row, the other re-checks its condition after the first commits and
//! changes nothing. Only then is the ticket read again to say why it was refused (already used:
//! when, where, by whom; void: refunded or voided; not this account's event; unknown). See
//! `docs/adr/0023-check-in-marks-a-ticket-once.md`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{StoreError, parse_stored};
use crate::domain::OrderState;

/// What the door scanned, as the store looks it up.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    /// The ticket's code.
    pub code: &'a str,
    /// The event a signed scan code names (`None` for a code typed by hand): a ticket of
    /// another event is not this one.
    pub event: Option<Uuid>,
    /// The gate's name.
    pub gate: &'a str,
    /// The account scanning.
    pub by: Uuid,
    /// Whose events it may check in: this account's (an organizer, or the organizer a door
    /// account works for), or every event when this account is an operator.
    pub reach: Uuid,
}

/// A ticket as the door sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DoorTicket {
    /// Its event.
    pub event: Uuid,
    /// The event's name.
    pub event_name: String,
    /// The section's code.
    pub section: String,
    /// The section's name.
    pub section_name: String,
    /// The seat or general-admission unit.
    pub label: String,
    /// The order it was bought with.
    pub order_id: Uuid,
}

/// Why a void ticket is void.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    /// Its order was refunded.
    Refunded,
    /// It was voided otherwise (its order canceled after issue, or by hand).
    Voided,
}

/// The answer to a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckIn {
    /// Marked used now: let the holder in.
    Admitted(DoorTicket),
    /// Used before.
    AlreadyUsed {
        /// The ticket.
        ticket: DoorTicket,
        /// When it was admitted.
        at: DateTime<Utc>,
        /// At which gate.
        gate: String,
        /// By whom (`None` if that account is gone).
        by: Option<String>,
    },
    /// Refunded or voided.
    Void {
        /// The ticket.
        ticket: DoorTicket,
        /// Why.
        why: VoidReason,
        /// When.
        at: Option<DateTime<Utc>>,
    },
    /// A ticket of an event this account may not check in.
    NotYours,
    /// No ticket has this code (for this event).
    Unknown,
}

/// Marks the scanned ticket used, or says why not. Never errs for what was scanned; only for
/// the database.
pub async fn check_in(pool: &PgPool, scan: &Scan<'_>) -> Result<CheckIn, StoreError> {
    let classify = |e| StoreError::classify(e, "ticket", scan.code);
    // Twice at most: a refusal is read after the update, and a ticket that reads as issued
    // and unused there (its check-in undone in between, by hand) is tried once more.
    for _ in 0..2 {
        let admitted = sqlx::query!(
            r#"update tickets t set checked_in_at = now(), checked_in_gate = $2, checked_in_by = $3
             from events e, sections s
             where t.code = $1 and t.state = 'issued' and t.checked_in_at is null
               and ($5::uuid is null or t.event_id = $5)
               and e.event_id = t.event_id and s.section_id = t.section_id
               and (e.organizer_id = $4
                    or exists (select 1 from organizers w where w.organizer_id = $4 and w.role = 'operator'))
             returning t.event_id, e.name as event_name, s.code as section, s.name as section_name,
                       t.label, t.order_id"#,
            scan.code,
            scan.gate,
            scan.by,
            scan.reach,
            scan.event,
        )
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
        if let Some(r) = admitted {
            return Ok(CheckIn::Admitted(DoorTicket {
                event: r.event_id,
                event_name: r.event_name,
                section: r.section,
                section_name: r.section_name,
                label: r.label,
                order_id: r.order_id,
            }));
        }
        if let Some(refused) = why_not(pool, scan).await? {
            return Ok(refused);
        }
    }
    Ok(CheckIn::Unknown)
}

/// Why the conditional update changed nothing; `None` when the ticket is issued and unused
/// after all.
async fn why_not(pool: &PgPool, scan: &Scan<'_>) -> Result<Option<CheckIn>, StoreError> {
    let row = sqlx::query!(
        r#"select t.event_id, e.name as event_name, s.code as section, s.name as section_name,
                  t.label, t.order_id, t.state, t.voided_at, t.checked_in_at, t.checked_in_gate,
                  a.display_name as "checked_in_by?", o.state as order_state,
                  (e.organizer_id = $2
                   or exists (select 1 from organizers w where w.organizer_id = $2 and w.role = 'operator'))
                  as "reachable!"
         from tickets t
         join events e on e.event_id = t.event_id
         join sections s on s.section_id = t.section_id
         join orders o on o.order_id = t.order_id
         left join organizers a on a.organizer_id = t.checked_in_by
         where t.code = $1 and ($3::uuid is null or t.event_id = $3)"#,
        scan.code,
        scan.reach,
        scan.event,
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::classify(e, "ticket", scan.code))?;
    let Some(r) = row else {
        return Ok(Some(CheckIn::Unknown));
    };
    if !r.reachable {
        return Ok(Some(CheckIn::NotYours));
    }
    let ticket = DoorTicket {
        event: r.event_id,
        event_name: r.event_name,
        section: r.section,
        section_name: r.section_name,
        label: r.label,
        order_id: r.order_id,
    };
    // Used first: a ticket used and refunded later was still used, and the door is told when.
    if let (Some(at), Some(gate)) = (r.checked_in_at, r.checked_in_gate) {
        return Ok(Some(CheckIn::AlreadyUsed {
            ticket,
            at,
            gate,
            by: r.checked_in_by,
        }));
    }
    if r.state == "void" {
        let order = parse_stored("order state", &r.order_state, OrderState::parse)?;
        let why = if order == OrderState::Refunded {
            VoidReason::Refunded
        } else {
            VoidReason::Voided
        };
        return Ok(Some(CheckIn::Void {
            ticket,
            why,
            at: r.voided_at,
        }));
    }
    Ok(None)
}

/// Checked-in tickets of an event per section code, in code order.
pub async fn checked_in_by_section(
    pool: &PgPool,
    event: Uuid,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query!(
        r#"select s.code, count(*) as "n!"
         from tickets t join sections s on s.section_id = t.section_id
         where t.event_id = $1 and t.checked_in_at is not null
         group by s.code order by s.code"#,
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "event", event))?
    .into_iter()
    .map(|r| (r.code, r.n))
    .collect())
}
