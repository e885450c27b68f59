//! Orders as the admin side reads them: searched within the caller's scope, one order's full
//! record (seats, payments, tickets, transitions), and an event's attendees. States are
//! [`OrderState`]s from here on: parsed once, where the rows come in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{StoreError, parse_stored};
use crate::domain::OrderState;

/// An order in a list.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    /// Id.
    pub order_id: Uuid,
    /// Event.
    pub event_id: Uuid,
    /// Event name.
    pub event_name: String,
    /// Buyer.
    pub buyer_id: Uuid,
    /// State.
    pub state: OrderState,
    /// Why it ended, if it did not sell.
    pub reason: Option<String>,
    /// Total, cents.
    pub amount_cents: i64,
    /// Currency.
    pub currency: String,
    /// Seats, `CODE:LABEL`.
    pub seats: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Which orders to find (every filter optional).
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// The organizer whose events' orders may be seen (`None`: an operator, all).
    pub scope: Option<Uuid>,
    /// One order.
    pub order: Option<Uuid>,
    /// One event.
    pub event: Option<Uuid>,
    /// One buyer.
    pub buyer: Option<Uuid>,
    /// One state.
    pub state: Option<OrderState>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many (`None`: all).
    pub limit: Option<i64>,
    /// Oldest first (exports) instead of newest first (searches).
    pub oldest_first: bool,
}

fn state_of(stored: &str) -> Result<OrderState, StoreError> {
    parse_stored("order state", stored, OrderState::parse)
}

/// The orders matching `q`.
pub async fn find_orders(pool: &PgPool, q: &OrderQuery) -> Result<Vec<OrderRow>, StoreError> {
    // One statement for every use: a null filter matches everything, a null limit is no limit,
    // and the first sort key is null for every row unless the oldest come first.
    let rows = sqlx::query!(
        r#"select o.order_id, o.event_id, e.name as event_name, o.buyer_id, o.state,
                o.reason, o.amount_cents, o.currency, o.created_at, o.updated_at,
                coalesce((select array_agg(s.code || ':' || os.label order by s.code, os.label)
                          from order_seats os join sections s using (section_id)
                          where os.order_id = o.order_id), '{}') as "seats!"
         from orders o join events e using (event_id)
         where ($1::uuid is null or e.organizer_id = $1)
           and ($2::uuid is null or o.order_id = $2)
           and ($3::uuid is null or o.event_id = $3)
           and ($4::uuid is null or o.buyer_id = $4)
           and ($5::text is null or o.state = $5)
           and ($6::timestamptz is null or o.created_at >= $6)
           and ($7::timestamptz is null or o.created_at < $7)
         order by case when $9 then o.created_at end, o.created_at desc
         limit $8"#,
        q.scope,
        q.order,
        q.event,
        q.buyer,
        q.state.map(OrderState::as_str),
        q.from,
        q.to,
        q.limit,
        q.oldest_first,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "order", q.order.unwrap_or_default()))?;
    rows.into_iter()
        .map(|r| {
            Ok(OrderRow {
                order_id: r.order_id,
                event_id: r.event_id,
                event_name: r.event_name,
                buyer_id: r.buyer_id,
                state: state_of(&r.state)?,
                reason: r.reason,
                amount_cents: r.amount_cents,
                currency: r.currency.trim().to_owned(),
                seats: r.seats,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// A payment of an order.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRow {
    /// The provider's id.
    pub provider_intent_id: String,
    /// State.
    pub state: String,
    /// Amounts, cents.
    pub amount_cents: i64,
    /// Captured.
    pub captured_cents: i64,
    /// Refunded.
    pub refunded_cents: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A ticket of an order.
#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    /// `CODE:LABEL`.
    pub seat: String,
    /// The scannable code.
    pub code: String,
    /// `issued` or `void`.
    pub state: String,
    /// Issued.
    pub issued_at: DateTime<Utc>,
}

/// A state change of an order.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionRow {
    /// From (`None`: the order's first state).
    pub from: Option<OrderState>,
    /// To.
    pub to: OrderState,
    /// When.
    pub at: DateTime<Utc>,
}

/// Everything PostgreSQL has about one order.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    /// The list fields.
    pub order: OrderRow,
    /// Payments, oldest first.
    pub payments: Vec<PaymentRow>,
    /// Tickets, by seat.
    pub tickets: Vec<TicketRow>,
    /// State changes, in order.
    pub transitions: Vec<TransitionRow>,
}

/// The order, if it exists and `scope` may see it.
pub async fn order_record(
    pool: &PgPool,
    scope: Option<Uuid>,
    id: Uuid,
) -> Result<Option<OrderRecord>, StoreError> {
    let q = OrderQuery {
        scope,
        order: Some(id),
        ..OrderQuery::default()
    };
    let Some(order) = find_orders(pool, &q).await?.pop() else {
        return Ok(None);
    };
    Ok(Some(OrderRecord {
        order,
        payments: payments(pool, id).await?,
        tickets: tickets(pool, id).await?,
        transitions: transitions(pool, id).await?,
    }))
}

async fn payments(pool: &PgPool, order: Uuid) -> Result<Vec<PaymentRow>, StoreError> {
    sqlx::query_as!(
        PaymentRow,
        "select provider_intent_id, state, amount_cents, captured_cents, refunded_cents, updated_at
         from payments where order_id = $1 order by created_at",
        order,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "order", order))
}

async fn tickets(pool: &PgPool, order: Uuid) -> Result<Vec<TicketRow>, StoreError> {
    // Sorted by position: the seat's alias carries the non-null assertion.
    sqlx::query_as!(
        TicketRow,
        r#"select s.code || ':' || t.label as "seat!", t.code, t.state, t.issued_at
         from tickets t join sections s using (section_id) where t.order_id = $1 order by 1"#,
        order,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "order", order))
}

async fn transitions(pool: &PgPool, order: Uuid) -> Result<Vec<TransitionRow>, StoreError> {
    let rows = sqlx::query!(
        "select from_state, to_state, at from order_transitions where order_id = $1 order by seq",
        order,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "order", order))?;
    rows.into_iter()
        .map(|t| {
            Ok(TransitionRow {
                from: t.from_state.as_deref().map(state_of).transpose()?,
                to: state_of(&t.to_state)?,
                at: t.at,
            })
        })
        .collect()
}

/// An issued ticket, as the door list has it.
#[derive(Debug, Clone)]
pub struct Attendee {
    /// Ticket id.
    pub ticket_id: Uuid,
    /// Section code.
    pub section: String,
    /// Section name.
    pub section_name: String,
    /// Seat or unit label.
    pub seat: String,
    /// Row, if seated.
    pub row: Option<String>,
    /// Number in the row, if seated.
    pub number: Option<i32>,
    /// The scannable code.
    pub ticket_code: String,
    /// Its order.
    pub order_id: Uuid,
    /// Its buyer.
    pub buyer_id: Uuid,
    /// Issued.
    pub issued_at: DateTime<Utc>,
}

/// The event's issued tickets, by section and seat.
pub async fn attendees(pool: &PgPool, event: Uuid) -> Result<Vec<Attendee>, StoreError> {
    Ok(sqlx::query!(
        "select t.ticket_id, s.code, s.name, t.label, st.row_label, st.seat_number, t.code as ticket_code,
                t.order_id, o.buyer_id, t.issued_at
         from tickets t join sections s using (section_id) join orders o using (order_id)
         left join seats st on st.section_id = t.section_id and st.label = t.label
         where t.event_id = $1 and t.state = 'issued' order by s.sort_order, s.code, t.label",
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::classify(e, "event", event))?
    .into_iter()
    .map(|r| Attendee {
        ticket_id: r.ticket_id,
        section: r.code,
        section_name: r.name,
        seat: r.label,
        row: r.row_label,
        number: r.seat_number,
        ticket_code: r.ticket_code,
        order_id: r.order_id,
        buyer_id: r.buyer_id,
        issued_at: r.issued_at,
    })
    .collect())
}
