//! A purchase intent: what an admitted buyer asked for, as the gateway publishes it onto the
//! intents stream and the intake consumes it.

use boxoffice_nats::{
    BlockId, BuyerId, EventId, OrderId, SeatId, SectionCode,
    seat::{Access, OrderRef, UnixMillis},
};
use serde::{Deserialize, Serialize};

use super::Quantity;

/// What the buyer asked for: named seats, or a number of the best available in a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatRequest {
    /// These seats, all or nothing.
    Seats(Vec<SeatId>),
    /// `quantity` units of a general-admission section.
    BestAvailable {
        /// The section.
        section: SectionCode,
        /// How many.
        quantity: Quantity,
    },
}

impl SeatRequest {
    /// How many tickets the request is for.
    pub fn quantity(&self) -> u32 {
        match self {
            Self::Seats(s) => s.len() as u32,
            Self::BestAvailable { quantity, .. } => quantity.get(),
        }
    }
}

/// One admitted purchase intent. The gateway publishes it with the buyer's idempotency key as
/// the JetStream message id, so a retried request within the stream's duplicate window is one
/// message; the order id it carries is fixed by the gateway for that key, so even a publish
/// outside the window leads to the same order (and workflow id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseIntent {
    /// The order this intent becomes.
    pub order_id: OrderId,
    /// The event.
    pub event_id: EventId,
    /// The buyer (from the session).
    pub buyer_id: BuyerId,
    /// The buyer's `Idempotency-Key`.
    pub idempotency_key: String,
    /// Hash of the request body (a replayed key with another body is refused by the gateway).
    pub request_hash: String,
    /// The seats asked for.
    pub request: SeatRequest,
    /// How long the hold lasts (the event's setting, copied by the gateway).
    pub hold_seconds: u32,
    /// When the gateway accepted it (Unix ms); hold latency is measured from here.
    pub submitted_at: UnixMillis,
    /// The presale block the buyer redeemed a code for (from a valid presale token): the
    /// seats come from that block only. Absent: the general sale (and intents written before
    /// presales were sold still read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presale: Option<BlockId>,
}

impl PurchaseIntent {
    /// The seat store's view of who is asking.
    pub fn order_ref(&self) -> OrderRef {
        OrderRef {
            event: self.event_id,
            order: self.order_id,
            buyer: self.buyer_id,
        }
    }

    /// Which seats the claim may take: the presale block's, or the general sale's.
    pub fn access(&self) -> Access {
        self.presale.map_or(Access::General, Access::Block)
    }
}
