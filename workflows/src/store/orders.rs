//! Orders, their seats, state transitions, payments and tickets in PostgreSQL.
//!
//! Every write here is idempotent, because each is called from a Temporal activity that may
//! run more than once: inserts are `on conflict do nothing` on a natural key, and state changes
//! are conditional on the state they leave (a repeat finds the state already there).

use std::collections::HashMap;

use boxoffice_nats::{
    SeatId, SectionCode, UnitLabel,
    seat::{OrderRef, UnixMillis},
};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use crate::{
    domain::{OrderState, TicketView},
    payments::PaymentIntent,
};

/// An order to record, as its workflow first sees it.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Who and what.
    pub order: OrderRef,
    /// The buyer's idempotency key.
    pub idempotency_key: String,
    /// Hash of the request body.
    pub request_hash: String,
    /// The held seats.
    pub seats: Vec<SeatId>,
    /// When the hold lapses.
    pub hold_expires_at: UnixMillis,
    /// The workflow driving it.
    pub workflow_id: String,
}

/// What recording an order priced it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOrder {
    /// Total in minor units.
    pub amount_cents: i64,
    /// ISO currency.
    pub currency: String,
}

/// What a conditional state change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transitioned {
    /// Applied now.
    Applied,
    /// The order was already in the target state (a retried write).
    AlreadyThere,
    /// The order is somewhere else: the change was refused.
    Conflict(OrderState),
    /// PostgreSQL has no such order (it was never recorded).
    Missing,
}

pub(crate) fn ts(ms: UnixMillis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Records an order in `held` with its seats, priced from the catalog, in one transaction.
/// Recording it again returns the same price and changes nothing.
pub async fn record_order(pool: &PgPool, o: &NewOrder) -> Result<RecordedOrder, StoreError> {
    let key = o.order.order;
    let classify = |e| StoreError::classify(e, "order", key);
    let codes: Vec<&str> = o.seats.iter().map(|s| s.section.as_str()).collect();
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    let rows = sqlx::query!(
        "select code, section_id, price_cents, currency from sections
         where event_id = $1 and code = any($2)",
        o.order.event.as_uuid(),
        &codes[..] as &[&str],
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let sections: HashMap<String, (Uuid, i64, String)> = rows
        .into_iter()
        .map(|r| (r.code, (r.section_id, r.price_cents, r.currency)))
        .collect();
    let mut amount = 0i64;
    let mut currency: Option<String> = None;
    let (mut section_ids, mut labels, mut prices) = (vec![], vec![], vec![]);
    for seat in &o.seats {
        let Some((id, price, cur)) = sections.get(seat.section.as_str()) else {
            return Err(StoreError::Invalid(format!(
                "section {} is not in the catalog of event {}",
                seat.section, o.order.event
            )));
        };
        if currency.get_or_insert_with(|| cur.clone()) != cur {
            return Err(StoreError::Invalid("an order spans two currencies".into()));
        }
        amount += price;
        section_ids.push(*id);
        labels.push(seat.label.as_str().to_owned());
        prices.push(*price);
    }
    let currency = currency.ok_or_else(|| StoreError::Invalid("an order without seats".into()))?;
    let inserted = sqlx::query!(
        "insert into orders (order_id, event_id, buyer_id, idempotency_key, request_hash, state,
                             amount_cents, currency, hold_expires_at, workflow_id)
         values ($1, $2, $3, $4, $5, 'held', $6, $7, $8, $9)
         on conflict (order_id) do nothing",
        key.as_uuid(),
        o.order.event.as_uuid(),
        o.order.buyer.as_uuid(),
        o.idempotency_key,
        o.request_hash,
        amount,
        currency,
        ts(o.hold_expires_at),
        o.workflow_id,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query!(
            "insert into order_seats (order_id, event_id, section_id, label, price_cents)
             select $1, $2, s, l, p from unnest($3::uuid[], $4::text[], $5::bigint[]) as t(s, l, p)",
            key.as_uuid(),
            o.order.event.as_uuid(),
            &section_ids,
            &labels,
            &prices,
        )
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query!(
            "insert into order_transitions (order_id, seq, from_state, to_state, detail)
             values ($1, 0, 'requested', 'held', '{}')",
            key.as_uuid(),
        )
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    }
    tx.commit().await.map_err(StoreError::Unavailable)?;
    if inserted {
        return Ok(RecordedOrder {
            amount_cents: amount,
            currency,
        });
    }
    // Recorded by an earlier attempt: answer what was stored then.
    let row = sqlx::query!(
        "select amount_cents, currency from orders where order_id = $1",
        key.as_uuid(),
    )
    .fetch_one(pool)
    .await
    .map_err(classify)?;
    Ok(RecordedOrder {
        amount_cents: row.amount_cents,
        currency: row.currency,
    })
}

/// Records an order that ends without ever being opened (no seats, no money): refused by
/// intake (`rejected`), refused by the catalog, or started too late for its hold (`expired`),
/// so PostgreSQL knows every order the buyer can read. Idempotent; `state` must be terminal.
#[allow(clippy::too_many_arguments)]
pub async fn record_closed(
    pool: &PgPool,
    order: &OrderRef,
    idempotency_key: &str,
    request_hash: &str,
    workflow_id: &str,
    state: OrderState,
    reason: &str,
) -> Result<(), StoreError> {
    if !state.is_terminal() {
        return Err(StoreError::Invalid(format!(
            "{state} is not a terminal state"
        )));
    }
    let classify = |e| StoreError::classify(e, "order", order.order);
    sqlx::query!(
        "with o as (
             insert into orders (order_id, event_id, buyer_id, idempotency_key, request_hash, state,
                                 reason, currency, workflow_id)
             select $1, $2, $3, $4, $5, $8, $6, coalesce(
                        (select min(currency) from sections where event_id = $2), 'XXX'), $7
             where exists (select 1 from events where event_id = $2)
             on conflict do nothing
             returning order_id)
         insert into order_transitions (order_id, seq, from_state, to_state, detail)
         select order_id, 0, 'requested', $8, jsonb_build_object('reason', $6::text) from o",
        order.order.as_uuid(),
        order.event.as_uuid(),
        order.buyer.as_uuid(),
        idempotency_key,
        request_hash,
        reason,
        workflow_id,
        state.as_str(),
    )
    .execute(pool)
    .await
    .map_err(classify)?;
    Ok(())
}

/// Moves an order `from → to` if it is still in `from`, with an audit row in the same
/// statement. The state machine is checked first: an illegal move is `Invalid`.
pub async fn transition(
    pool: &PgPool,
    order: Uuid,
    from: OrderState,
    to: OrderState,
    reason: Option<&str>,
    detail: serde_json::Value,
) -> Result<Transitioned, StoreError> {
    from.transition(to)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let classify = |e| StoreError::classify(e, "order", order);
    let applied = sqlx::query!(
        "with u as (
             update orders set state = $3, reason = coalesce($4, reason), version = version + 1,
                               hold_expires_at = case when $6 then hold_expires_at end
             where order_id = $1 and state = $2
             returning version)
         insert into order_transitions (order_id, seq, from_state, to_state, detail)
         select $1, version, $2, $3, $5 from u",
        order,
        from.as_str(),
        to.as_str(),
        reason,
        detail,
        to.is_on_hold(),
    )
    .execute(pool)
    .await
    .map_err(classify)?
    .rows_affected()
        == 1;
    if applied {
        return Ok(Transitioned::Applied);
    }
    let now = sqlx::query_scalar!("select state from orders where order_id = $1", order)
        .fetch_optional(pool)
        .await
        .map_err(classify)?;
    let Some(now) = now else {
        return Ok(Transitioned::Missing);
    };
    let now = OrderState::parse(&now)
        .ok_or_else(|| StoreError::Invalid(format!("unknown stored state {now}")))?;
    Ok(if now == to {
        Transitioned::AlreadyThere
    } else {
        Transitioned::Conflict(now)
    })
}

/// Upserts the payment row for a provider intent, as the provider last reported it.
pub async fn record_payment(
    pool: &PgPool,
    provider: &str,
    order: Uuid,
    intent: &PaymentIntent,
) -> Result<(), StoreError> {
    sqlx::query!(
        "insert into payments (payment_id, order_id, provider, provider_intent_id, state,
                               amount_cents, captured_cents, refunded_cents, currency,
                               checkout_url, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (provider, provider_intent_id) do update
            set state = excluded.state, captured_cents = excluded.captured_cents,
                refunded_cents = excluded.refunded_cents",
        Uuid::now_v7(),
        order,
        provider,
        intent.id,
        payment_state(intent.status),
        intent.amount,
        intent.amount_captured,
        intent.amount_refunded,
        intent.currency,
        intent.checkout_url,
        intent.expires_at,
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::classify(e, "payment", &intent.id))?;
    Ok(())
}

pub(crate) fn payment_state(s: crate::payments::PaymentStatus) -> &'static str {
    use crate::payments::PaymentStatus::*;
    match s {
        RequiresConfirmation => "requires_confirmation",
        Authorized => "authorized",
        Captured => "captured",
        Canceled => "canceled",
        Failed => "failed",
        Refunded => "refunded",
        PartiallyRefunded => "partially_refunded",
    }
}

/// A ticket to issue: the seat, and a fresh code with its signature.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// The seat.
    pub seat: SeatId,
    /// Code.
    pub code: String,
    /// Signature over the ticket payload.
    pub signature: String,
}

/// Issues one ticket per seat of the order, reusing tickets an earlier attempt issued (their
/// codes are already in the buyer's hands). `fresh` proposes a ticket for a seat; it is called
/// only for seats without one. Returns every issued ticket of the order.
pub async fn issue_tickets(
    pool: &PgPool,
    order: &OrderRef,
    seats: &[SeatId],
    fresh: impl FnMut(&SeatId) -> NewTicket,
) -> Result<Vec<TicketView>, StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    let all = insert_missing_tickets(&mut tx, order, seats, fresh).await?;
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(all)
}

/// What a repair conditional on the order's state and version came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repaired<T> {
    /// Applied: the order was where the repair expected it.
    Applied(T),
    /// The order moved (another state or version): nothing was written.
    Moved,
}

/// Reconciliation's ticket repair: issues the tickets of an order that is still `confirmed`
/// at `version` and moves it to `issued`, in one transaction holding the order's row, so a
/// workflow or a refund that moved the order first makes this do nothing.
pub async fn issue_confirmed(
    pool: &PgPool,
    order: &OrderRef,
    version: i64,
    seats: &[SeatId],
    fresh: impl FnMut(&SeatId) -> NewTicket,
    detail: serde_json::Value,
) -> Result<Repaired<Vec<TicketView>>, StoreError> {
    let classify = |e| StoreError::classify(e, "order", order.order);
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    let locked = sqlx::query_scalar!(
        "select version from orders where order_id = $1 and state = $2 and version = $3 for update",
        order.order.as_uuid(),
        OrderState::Confirmed.as_str(),
        version,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(classify)?;
    if locked.is_none() {
        return Ok(Repaired::Moved);
    }
    let all = insert_missing_tickets(&mut tx, order, seats, fresh).await?;
    sqlx::query!(
        "with u as (
             update orders set state = $2, version = version + 1, hold_expires_at = null
             where order_id = $1 returning version)
         insert into order_transitions (order_id, seq, from_state, to_state, detail)
         select $1, version, $3, $2, $4 from u",
        order.order.as_uuid(),
        OrderState::Issued.as_str(),
        OrderState::Confirmed.as_str(),
        detail,
    )
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    tx.commit().await.map_err(StoreError::Unavailable)?;
    Ok(Repaired::Applied(all))
}

/// Inserts a ticket for each seat of the order that has none. Two issuers at once (a retried
/// activity and reconciliation) both find the seat without a ticket: the second insert does
/// nothing on the one-issued-ticket-per-seat index, and both return the first one's tickets.
/// A seat ticketed to another order leaves this order short, which is an error.
async fn insert_missing_tickets(
    tx: &mut sqlx::PgConnection,
    order: &OrderRef,
    seats: &[SeatId],
    mut fresh: impl FnMut(&SeatId) -> NewTicket,
) -> Result<Vec<TicketView>, StoreError> {
    let classify = |e| StoreError::classify(e, "tickets", order.order);
    // The lock the tickets' foreign key takes on the order's row, taken before any ticket row
    // exists: taken after (at the end of the insert), it could wait on reconciliation's repair,
    // which holds the row `for update` and waits on these uncommitted tickets: a deadlock.
    sqlx::query!(
        "select 1 as locked from orders where order_id = $1 for key share",
        order.order.as_uuid(),
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(classify)?;
    let existing = issued_in(&mut *tx, order.order.as_uuid()).await?;
    let have: std::collections::HashSet<&SeatId> = existing.iter().map(|t| &t.seat).collect();
    let new: Vec<NewTicket> = seats
        .iter()
        .filter(|s| !have.contains(s))
        .map(&mut fresh)
        .collect();
    if !new.is_empty() {
        let ids: Vec<Uuid> = new.iter().map(|_| Uuid::new_v4()).collect();
        let codes: Vec<&str> = new.iter().map(|t| t.code.as_str()).collect();
        let sigs: Vec<&str> = new.iter().map(|t| t.signature.as_str()).collect();
        let sections: Vec<&str> = new.iter().map(|t| t.seat.section.as_str()).collect();
        let labels: Vec<&str> = new.iter().map(|t| t.seat.label.as_str()).collect();
        sqlx::query!(
            "insert into tickets (ticket_id, order_id, event_id, section_id, label, code, signature)
             select t.id, $1, $2, s.section_id, t.label, t.code, t.sig
             from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
                  as t(id, code, sig, section, label)
             join sections s on s.event_id = $2 and s.code = t.section
             on conflict (event_id, section_id, label) where state = 'issued' do nothing",
            order.order.as_uuid(),
            order.event.as_uuid(),
            &ids,
            &codes[..] as &[&str],
            &sigs[..] as &[&str],
            &sections[..] as &[&str],
            &labels[..] as &[&str],
        )
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    }
    let all = issued_in(&mut *tx, order.order.as_uuid()).await?;
    if all.len() != seats.len() {
        return Err(StoreError::Invalid(format!(
            "order {} has {} seats but {} tickets",
            order.order,
            seats.len(),
            all.len()
        )));
    }
    Ok(all)
}

async fn issued_in(
    conn: &mut sqlx::PgConnection,
    order: Uuid,
) -> Result<Vec<TicketView>, StoreError> {
    let rows = sqlx::query!(
        "select s.code as section, t.label, t.code, t.signature
         from tickets t join sections s on s.section_id = t.section_id
         where t.order_id = $1 and t.state = 'issued' order by s.code, t.label",
        order,
    )
    .fetch_all(conn)
    .await
    .map_err(|e| StoreError::classify(e, "tickets", order))?;
    rows.into_iter()
        .map(|r| {
            let seat = SeatId::new(
                SectionCode::parse(r.section).map_err(|e| StoreError::Invalid(e.to_string()))?,
                UnitLabel::parse(r.label).map_err(|e| StoreError::Invalid(e.to_string()))?,
            );
            Ok(TicketView {
                seat,
                code: r.code,
                signature: r.signature,
            })
        })
        .collect()
}

/// Voids every issued ticket of an order (refund). Returns how many were voided now.
pub async fn void_tickets(pool: &PgPool, order: Uuid) -> Result<u64, StoreError> {
    Ok(sqlx::query!(
        "update tickets set state = 'void', voided_at = now() where order_id = $1 and state = 'issued'",
        order,
    )
    .execute(pool)
    .await
    .map_err(|e| StoreError::classify(e, "tickets", order))?
    .rows_affected())
}
