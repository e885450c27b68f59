//! Orders: place one with an admission (published as an intent for the intake), read its
//! status from the status board, follow it as server-sent events, cancel it.
//!
//! `place.rs` takes an order in; `follow.rs` reads, streams and cancels it; this file holds
//! the shapes the buyer sees.

mod follow;
mod place;

pub(crate) use follow::own_order;
pub use follow::{__path_cancel, __path_events, __path_get, CancelAccepted, cancel, events, get};
pub use place::{__path_place, place};

use boxoffice_nats::{EventId, OrderId};
use boxoffice_workflows::domain::{OrderStatus, SeatRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::records::OrderIndex;

/// What to buy: named seats, or a quantity of the best available in a section (on a seated
/// section, side by side in the front-most row that has them, else the front-most free seats;
/// the order's status names them once held).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Seats as `SECTION:LABEL`, e.g. `["A:B-7", "A:B-8"]`.
    pub seats: Option<Vec<String>>,
    /// A section's code (with `quantity`): best available.
    pub section: Option<String>,
    /// How many (with `section`).
    pub quantity: Option<i64>,
}

/// An accepted order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderAccepted {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// `requested` at first; follow `status_url`.
    pub state: String,
    /// Where to read it.
    pub status_url: String,
    /// Where to follow it as server-sent events.
    pub events_url: String,
}

/// The payment as the buyer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentInfo {
    /// `requires_confirmation`, `authorized`, `captured`, `canceled`, `failed`, `refunded`.
    pub state: String,
    /// Where to pay.
    pub checkout_url: String,
    /// When the checkout closes.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An issued ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketInfo {
    /// The seat.
    pub seat: String,
    /// The code in the QR.
    pub code: String,
    /// Ed25519 signature over event, seat and code.
    pub signature: String,
}

/// The buyer's own order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// Its event.
    #[schema(value_type = uuid::Uuid)]
    pub event_id: EventId,
    /// `requested`, `held`, `awaiting_payment`, `authorized`, `confirmed`, `issued`,
    /// `rejected`, `expired`, `payment_failed`, `canceled` or `refunded`.
    pub state: String,
    /// Seats held or sold (or asked for, while `requested`).
    pub seats: Vec<String>,
    /// Total, minor units.
    pub amount_cents: Option<i64>,
    /// ISO currency.
    pub currency: Option<String>,
    /// When the hold lapses, once the checkout is open (`awaiting_payment`): the time to pay
    /// is counted from the checkout's opening, never from the hold.
    pub hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// While `held`: the seats are the buyer's and the checkout is about to open; this is
    /// when it is expected to (an estimate from the orders ahead of this one). The buyer
    /// loses no time to pay while waiting for it.
    pub checkout_opens_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The payment, once created.
    pub payment: Option<PaymentInfo>,
    /// Tickets, once issued.
    pub tickets: Vec<TicketInfo>,
    /// Why it ended as it did.
    pub reason: Option<String>,
    /// Increases with every change.
    pub version: u32,
    /// When this state was entered.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn time(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<&OrderStatus> for OrderView {
    fn from(s: &OrderStatus) -> Self {
        Self {
            order_id: s.order_id,
            event_id: s.event_id,
            state: s.state.as_str().into(),
            seats: s.seats.iter().map(ToString::to_string).collect(),
            amount_cents: s.amount_cents,
            currency: s.currency.clone(),
            hold_expires_at: s.hold_expires_at.and_then(time),
            checkout_opens_at: s.checkout_opens_at.and_then(time),
            payment: s.payment.as_ref().map(|p| PaymentInfo {
                state: label(&p.state),
                checkout_url: p.checkout_url.clone(),
                expires_at: time(p.expires_at),
            }),
            tickets: s
                .tickets
                .iter()
                .map(|t| TicketInfo {
                    seat: t.seat.to_string(),
                    code: t.code.clone(),
                    signature: t.signature.clone(),
                })
                .collect(),
            reason: s.reason.clone(),
            version: s.version,
            updated_at: time(s.at),
        }
    }
}

fn requested_view(order: OrderId, index: &OrderIndex) -> OrderView {
    let seats = match &index.request {
        SeatRequest::Seats(s) => s.iter().map(ToString::to_string).collect(),
        SeatRequest::BestAvailable { .. } => Vec::new(),
    };
    OrderView {
        order_id: order,
        event_id: index.event_id,
        state: "requested".into(),
        seats,
        amount_cents: None,
        currency: None,
        hold_expires_at: None,
        checkout_opens_at: None,
        payment: None,
        tickets: Vec::new(),
        reason: None,
        version: 0,
        updated_at: time(index.submitted_at),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
