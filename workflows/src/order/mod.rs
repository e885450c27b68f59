//! The order workflow on Temporal: the seat half of hold → pay → confirm or release.
//!
//! This first slice owns the intake's hold and races the payment outcome (a signal), the
//! buyer's cancel (a signal) and the hold's own deadline (a durable timer); it then confirms the
//! seats or releases them. Payment intents, capture, ticket issue and the PostgreSQL record join
//! it in the order issue; the workflow type and its signals keep their names so that work extends
//! this code instead of replacing it.

pub mod activities;
pub mod workflow;

use boxoffice_nats::seat::{Hold, OrderRef};
use serde::{Deserialize, Serialize};

pub use activities::SeatActivities;
pub use workflow::OrderWorkflow;

/// What the workflow is started with: the hold intake took by compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInput {
    /// The hold (order, seats with revisions, expiry).
    pub hold: Hold,
}

/// The payment provider's verdict, delivered as a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// The money is authorised.
    Authorized,
    /// Declined or failed.
    Declined,
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
