//! The order on Temporal: hold → pay → confirm or release → issue, and a refund after.
//!
//! Intake (in the worker) settles contention: it takes the hold by compare-and-swap the moment
//! the intent arrives, tells the buyer, and starts [`OrderWorkflow`] with that hold. The
//! workflow owns the hold from then on: it records the order, opens a payment that closes
//! before the hold does, waits for the provider's verdict (a signal from the webhook, or its
//! own active query when the callback is late or lost), the buyer's cancel or the deadline,
//! and then sells the seats and takes the money, or gives both back. Every change is written
//! to PostgreSQL and published on the [`StatusBoard`].

pub mod activities;
mod client;
pub mod status;
pub mod tickets;
pub mod workflow;

use boxoffice_nats::seat::{OrderRef, UnixMillis};
use serde::{Deserialize, Serialize};

pub use activities::OrderActivities;
pub use client::{HistoryEntry, OrderClient, OrderClientError, RunView};
pub use status::{StatusBoard, StatusError};
pub use tickets::TicketSigner;
pub use workflow::OrderWorkflow;

use crate::{
    domain::{OrderState, OrderStatus, PurchaseIntent, SeatRequest},
    store::{self, StoreError},
};
use boxoffice_nats::{SeatError, SeatStore, seat::Hold};

/// What the workflow is started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInput {
    /// What the buyer asked for.
    pub intent: PurchaseIntent,
    /// The hold intake took; `None`: the workflow holds (all or nothing) itself.
    pub hold: Option<boxoffice_nats::seat::Hold>,
    /// How long after issuing the order stays open for an organizer's refund (seconds).
    pub refund_window_s: u64,
}

/// The provider's verdict, delivered as a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// The money is authorised.
    Authorized,
    /// Declined or failed.
    Declined,
}

/// The `payment` signal: which intent, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSignal {
    /// The provider's intent id (a verdict about another intent is ignored).
    pub intent_id: String,
    /// The verdict.
    pub outcome: PaymentOutcome,
}

/// The `refund` signal (organizer or operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// Why, for the audit trail.
    pub reason: String,
}

/// Input of the seat activities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatsRequest {
    /// The order.
    pub order: OrderRef,
    /// Its seats.
    pub seats: Vec<boxoffice_nats::SeatId>,
}

/// What confirming the seats came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmOutcome {
    /// Sold to the order.
    Confirmed,
    /// The hold lapsed (or is too close to lapsing): nothing was sold.
    Lapsed,
}

/// The workflow id of an order: a business key, so Temporal itself refuses a second start.
pub fn workflow_id(order: boxoffice_nats::OrderId) -> String {
    format!("order-{order}")
}

/// The first status of an order intake refused.
pub fn rejected_status(intent: &PurchaseIntent, reason: &str, at: UnixMillis) -> OrderStatus {
    OrderStatus {
        order_id: intent.order_id,
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        state: OrderState::Rejected,
        version: 1,
        seats: Vec::new(),
        hold_expires_at: None,
        amount_cents: None,
        currency: None,
        payment: None,
        tickets: Vec::new(),
        reason: Some(reason.to_owned()),
        hold: None,
        at,
    }
}

/// The first status of an order intake held.
pub fn held_status(
    intent: &PurchaseIntent,
    hold: &boxoffice_nats::seat::Hold,
    at: UnixMillis,
) -> OrderStatus {
    OrderStatus {
        order_id: intent.order_id,
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        state: OrderState::Held,
        version: 1,
        seats: hold.seat_ids(),
        hold_expires_at: Some(hold.expires_at),
        amount_cents: None,
        currency: None,
        payment: None,
        tickets: Vec::new(),
        reason: None,
        hold: Some(hold.clone()),
        at,
    }
}

/// Takes the hold an intent asks for: its named seats, or the best available seats of a
/// section (side by side where they can be; any units of a general-admission section), for
/// the intent's hold time. Intake and the workflow (when started
/// without a hold) both hold through here. Taking the hold again for the same intent (a
/// redelivery, a retried activity) returns the hold already taken, picked seats included.
pub async fn take_hold(seats: &SeatStore, intent: &PurchaseIntent) -> Result<Hold, SeatError> {
    let order = intent.order_ref();
    let hold_for = std::time::Duration::from_secs(intent.hold_seconds.into());
    match &intent.request {
        SeatRequest::Seats(list) => seats.hold(&order, list, hold_for).await,
        SeatRequest::BestAvailable { section, quantity } => {
            seats
                .pick_best(&order, section, quantity.get(), hold_for)
                .await
        }
    }
}

/// Records an order that ends before it is opened (no seats, no money) in PostgreSQL.
/// Idempotent.
pub async fn record_unopened(
    db: &sqlx::PgPool,
    intent: &PurchaseIntent,
    state: OrderState,
    reason: &str,
) -> Result<(), StoreError> {
    store::record_closed(
        db,
        &intent.order_ref(),
        &intent.idempotency_key,
        &intent.request_hash,
        &workflow_id(intent.order_id),
        state,
        reason,
    )
    .await
}

/// Telling a buyer "rejected" failed; retry.
#[derive(Debug, thiserror::Error)]
pub enum RejectError {
    /// The status board.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// PostgreSQL.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tells the buyer the order is refused, then records it. The buyer hears first; the row
/// follows. A refusal that lost the race to another delivery's answer (a `held`, say) records
/// nothing, and a retry after the publish still writes the row.
pub async fn reject(
    db: &sqlx::PgPool,
    board: &StatusBoard,
    intent: &PurchaseIntent,
    reason: &str,
    now: UnixMillis,
) -> Result<(), RejectError> {
    let first = board
        .publish_first(&rejected_status(intent, reason, now))
        .await?;
    let ours = first
        || board
            .latest(intent.event_id, intent.order_id)
            .await?
            .is_some_and(|s| s.state == OrderState::Rejected);
    if ours {
        record_unopened(db, intent, OrderState::Rejected, reason).await?;
    }
    Ok(())
}
