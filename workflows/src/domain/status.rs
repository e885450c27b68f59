//! The order status snapshot published on NATS after every state change: what the buyer's
//! `GET /orders/{id}` and its server-sent events show, without asking Temporal or PostgreSQL.

use boxoffice_nats::{
    BuyerId, EventId, OrderId, SeatId,
    seat::{Hold, UnixMillis},
};
use serde::{Deserialize, Serialize};

use super::OrderState;
use crate::payments::PaymentStatus;

/// The payment as the buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    /// The provider's intent id.
    pub id: String,
    /// Its state as last seen.
    pub state: PaymentStatus,
    /// Where the buyer pays.
    pub checkout_url: String,
    /// When the checkout closes (Unix ms), always before the hold lapses.
    pub expires_at: UnixMillis,
}

/// One issued ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketView {
    /// The seat.
    pub seat: SeatId,
    /// The unguessable code printed in the QR.
    pub code: String,
    /// Signature a scanner verifies offline with the issuer's public key.
    pub signature: String,
}

/// Everything the buyer may read about an order, as of one state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// The order.
    pub order_id: OrderId,
    /// Its event.
    pub event_id: EventId,
    /// Its buyer.
    pub buyer_id: BuyerId,
    /// The state.
    pub state: OrderState,
    /// Increases with every change; readers keep the highest.
    pub version: u32,
    /// The seats held or sold (empty when rejected).
    pub seats: Vec<SeatId>,
    /// When the hold lapses (Unix ms), once the checkout is open: the buyer's time to pay
    /// counts from the checkout's opening, never from the hold. `None` while `held`.
    pub hold_expires_at: Option<UnixMillis>,
    /// While `held`: when the checkout is expected to open (Unix ms), estimated by intake from
    /// the orders ahead of this one waiting for their workflow and the pace workflows start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_opens_at: Option<UnixMillis>,
    /// Total in minor units, once known.
    pub amount_cents: Option<i64>,
    /// ISO currency, once known.
    pub currency: Option<String>,
    /// The payment, once created.
    pub payment: Option<PaymentView>,
    /// Tickets, once issued.
    pub tickets: Vec<TicketView>,
    /// Why the order ended as it did (`sold_out`, `limit_reached`, `hold_lapsed`, ...).
    pub reason: Option<String>,
    /// The hold itself, with revisions: intake publishes it so that a redelivered intent can
    /// start the workflow with the very hold it took.
    pub hold: Option<Hold>,
    /// When this state was entered (Unix ms).
    pub at: UnixMillis,
}
