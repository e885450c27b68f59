//! Names of every subject, stream and bucket, derived from one prefix.
//!
//! Production uses the prefix `bo`; each test uses its own, so tests share one NATS server
//! without seeing each other's data.

use crate::{
    IdError,
    ids::{BuyerId, EventId, SeatId, SectionCode},
};

/// The prefix all JetStream names derive from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    prefix: String,
}

impl Namespace {
    /// A namespace; the prefix must be a valid token (`A-Z a-z 0-9 _ -`, at most 32).
    pub fn new(prefix: &str) -> Result<Self, IdError> {
        crate::ids::SectionCode::parse(prefix).map_err(|_| IdError::BadToken {
            kind: "namespace prefix",
            got: prefix.to_owned(),
        })?;
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// A fresh namespace for one test: `t` plus 12 random hex digits.
    pub fn for_test() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            prefix: format!("t{}", &id[..12]),
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The KV bucket holding seat ownership, event metadata and per-buyer ledgers.
    pub fn seat_bucket(&self) -> String {
        format!("{}_seats", self.prefix)
    }

    /// The stream of admitted purchase intents.
    pub fn intents_stream(&self) -> String {
        format!("{}_INTENTS", self.prefix.to_uppercase())
    }

    /// Subject of an event's purchase intents.
    pub fn intent_subject(&self, event: EventId) -> String {
        format!("{}.intent.{event}", self.prefix)
    }

    /// The stream of held orders whose workflow is yet to start.
    pub fn starts_stream(&self) -> String {
        format!("{}_STARTS", self.prefix.to_uppercase())
    }

    /// Subject of an event's workflow start requests.
    pub fn start_subject(&self, event: EventId) -> String {
        format!("{}.start.{event}", self.prefix)
    }

    /// The stream holding every event's waiting room (joins and control messages).
    pub fn queue_stream(&self) -> String {
        format!("{}_QUEUE", self.prefix.to_uppercase())
    }

    /// Subject of an event's waiting-room join batches.
    pub fn queue_joins_subject(&self, event: EventId) -> String {
        format!("{}.queue.{event}.joins", self.prefix)
    }

    /// Subject of an event's waiting-room control messages.
    pub fn queue_control_subject(&self, event: EventId) -> String {
        format!("{}.queue.{event}.control", self.prefix)
    }

    /// The stream of the gateway's order records (idempotency keys, used admissions, the
    /// order index).
    pub fn order_keys_stream(&self) -> String {
        format!("{}_ORDER_KEYS", self.prefix.to_uppercase())
    }

    /// Subject of the order a buyer's idempotency key (its SHA-256, hex) made. A key is the
    /// buyer's across every event, as PostgreSQL's `orders_buyer_idempotency_key_unique` has
    /// it, so the event is not part of the subject: a key reused on another event finds the
    /// first order's record and is refused before anything is held.
    pub fn order_key_subject(&self, buyer: BuyerId, key_hash: &str) -> String {
        format!("{}.okeys.key.{buyer}.{key_hash}", self.prefix)
    }

    /// Subject recording the one order an admission (a queue entry's sequence) was used for.
    pub fn order_admission_subject(&self, event: EventId, buyer: BuyerId, entry: u64) -> String {
        format!("{}.okeys.{event}.admission.{buyer}.{entry}", self.prefix)
    }

    /// Subject of an order's index record (which event and buyer it belongs to).
    pub fn order_index_subject(&self, order: crate::OrderId) -> String {
        format!("{}.okeys.order.{order}", self.prefix)
    }

    /// Plain (not JetStream) subject where intake processes report their health.
    pub fn intake_health_subject(&self) -> String {
        format!("{}.health.intake", self.prefix)
    }

    /// The stream of order state changes (what the gateway reads order status from).
    pub fn order_events_stream(&self) -> String {
        format!("{}_ORDER_EVENTS", self.prefix.to_uppercase())
    }

    /// Subject of one order's state changes.
    pub fn order_event_subject(&self, event: EventId, order: crate::OrderId) -> String {
        format!("{}.order.{event}.{order}", self.prefix)
    }
}

/// KV keys inside the seat bucket. Three families, so each can be watched on its own:
/// `s.<event>.<section>.<label>` (one per seat, permanent), `e.<event>` (event metadata) and
/// `b.<event>.<buyer>` (the buyer's ticket ledger for the per-buyer limit).
pub(crate) mod keys {
    use super::*;

    pub(crate) fn seat(event: EventId, seat: &SeatId) -> String {
        format!("s.{event}.{}.{}", seat.section, seat.label)
    }

    pub(crate) fn event_seats(event: EventId) -> String {
        format!("s.{event}.>")
    }

    pub(crate) fn section_seats(event: EventId, section: &SectionCode) -> String {
        format!("s.{event}.{section}.*")
    }

    pub(crate) fn event_meta(event: EventId) -> String {
        format!("e.{event}")
    }

    pub(crate) fn buyer(event: EventId, buyer: BuyerId) -> String {
        format!("b.{event}.{buyer}")
    }

    /// Parses a seat key back into its seat id (`None` for other key families).
    pub(crate) fn parse_seat(key: &str) -> Option<SeatId> {
        let mut parts = key.splitn(4, '.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("s"), Some(_event), Some(section), Some(label)) => Some(SeatId::new(
                SectionCode::parse(section).ok()?,
                crate::UnitLabel::parse(label).ok()?,
            )),
            _ => None,
        }
    }
}
