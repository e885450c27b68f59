//! The order on Temporal: hold → pay → confirm or release → issue, and a refund after.
//!
//! Intake settles contention: it takes the hold by compare-and-swap the moment the intent
//! arrives, tells the buyer, and queues the start of [`OrderWorkflow`] with that hold
//! ([`starts`]); the workers start workflows off that queue at Temporal's pace, and the
//! workflow renews the hold when it opens the checkout, so the buyer's time to pay starts then. Its rules (redelivery,
//! races between deliveries) are in [`intake`]; the worker runs the consumer around them. The
//! workflow owns the hold from then on: it records the order, opens a payment that closes
//! before the hold does, waits for the provider's verdict (a signal from the webhook, or its
//! own active query when the callback is late or lost), the buyer's cancel or the deadline,
//! and then sells the seats and takes the money, or gives both back. Every change is written
//! to PostgreSQL and published on the [`StatusBoard`].

pub mod activities;
mod client;
pub mod intake;
pub mod starts;
pub mod status;
pub mod tickets;
pub mod workflow;

use boxoffice_nats::seat::OrderRef;
use serde::{Deserialize, Serialize};

pub use activities::OrderActivities;
pub use client::{HistoryEntry, OrderClient, OrderClientError, RunView};
pub use starts::{StartQueue, StartQueueError, StartRequest};
pub use status::{StatusBoard, StatusError};
pub use tickets::TicketSigner;
pub use workflow::OrderWorkflow;

use crate::domain::PurchaseIntent;

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
