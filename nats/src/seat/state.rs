//! The values stored under seat, event and buyer keys, and the rules that read them.
//!
//! Every rule that decides "may this order take this seat" lives here, as pure functions of the
//! value and the clock, so the model test and the store agree by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{BuyerId, OrderId, SectionCode};

/// Milliseconds since the Unix epoch: how expiry instants are stored.
pub type UnixMillis = i64;

/// The state of one seat (or general-admission unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "st", rename_all = "snake_case")]
pub enum SeatState {
    /// Nobody owns it.
    Free,
    /// An order holds it until `expires_at`; after that it counts as free.
    Held {
        /// The holding order.
        order: OrderId,
        /// The buyer behind the order (for the per-buyer ledger).
        buyer: BuyerId,
        /// When the hold lapses.
        expires_at: UnixMillis,
    },
    /// Sold to an order. Only a refund returns it to the pool.
    Sold {
        /// The order it was sold to.
        order: OrderId,
        /// The buyer behind the order.
        buyer: BuyerId,
    },
}

impl SeatState {
    /// Whether a new order may claim the seat at `now`: free, or held by a lapsed hold.
    pub fn is_claimable(&self, now: UnixMillis) -> bool {
        match self {
            Self::Free => true,
            Self::Held { expires_at, .. } => *expires_at <= now,
            Self::Sold { .. } => false,
        }
    }

    /// The order owning the seat at `now`, if any (a lapsed hold owns nothing).
    pub fn owner(&self, now: UnixMillis) -> Option<OrderId> {
        match self {
            Self::Free => None,
            Self::Held {
                order, expires_at, ..
            } => (*expires_at > now).then_some(*order),
            Self::Sold { order, .. } => Some(*order),
        }
    }

    /// What a live-availability view shows: `free`, `held` or `sold` at `now`.
    pub fn availability(&self, now: UnixMillis) -> Availability {
        match self {
            Self::Sold { .. } => Availability::Sold,
            s if s.is_claimable(now) => Availability::Free,
            _ => Availability::Held,
        }
    }
}

/// A seat as the public sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Can be bought.
    Free,
    /// Someone is paying for it.
    Held,
    /// Gone.
    Sold,
}

/// How a section is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Buyers pick seats.
    Seated,
    /// Buyers ask for a quantity; units `u1..uN` are picked for them.
    GeneralAdmission,
}

/// What the store knows of a section (sellable units only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionMeta {
    /// Seated or general admission.
    pub kind: SectionKind,
    /// Number of sellable units loaded.
    pub units: u32,
}

/// Stored under `e.<event>`: written last by [`super::SeatStore::load_event`], so an event is
/// known only once all of its seat keys exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Maximum tickets one buyer may hold or own for this event.
    pub max_per_buyer: u32,
    /// The event's sections.
    pub sections: BTreeMap<SectionCode, SectionMeta>,
}

/// One order's share of a buyer's limit: the seats themselves, not a count, so giving seats
/// back is idempotent (a retried release cannot uncount a seat twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The order's seats.
    pub seats: std::collections::BTreeSet<crate::ids::SeatId>,
    /// When the order's hold lapses; `None` once it is sold.
    pub expires_at: Option<UnixMillis>,
}

impl LedgerEntry {
    fn counts_at(&self, now: UnixMillis) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// Stored under `b.<event>.<buyer>`: the buyer's live holds and purchases for the event. Changed
/// only by compare-and-swap, so ten tabs racing each other serialise here and nowhere else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerLedger {
    /// Entries by order.
    pub orders: BTreeMap<OrderId, LedgerEntry>,
}

impl BuyerLedger {
    /// Tickets that count against the limit at `now`: sold, or held by an unexpired hold.
    pub fn active(&self, now: UnixMillis) -> u32 {
        self.orders
            .values()
            .filter(|e| e.counts_at(now))
            .map(|e| e.seats.len() as u32)
            .sum()
    }

    /// Drops lapsed entries (they no longer count, and the ledger must not grow without bound).
    pub fn prune(&mut self, now: UnixMillis) {
        self.orders.retain(|_, e| e.counts_at(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lapsed_hold_is_claimable_and_owned_by_nobody() {
        let order = OrderId::new();
        let held = SeatState::Held {
            order,
            buyer: BuyerId::new(),
            expires_at: 1_000,
        };
        assert!(!held.is_claimable(999));
        assert_eq!(held.owner(999), Some(order));
        assert!(held.is_claimable(1_000));
        assert_eq!(held.owner(1_000), None);
        assert_eq!(held.availability(1_000), Availability::Free);
    }

    #[test]
    fn a_sold_seat_is_never_claimable() {
        let sold = SeatState::Sold {
            order: OrderId::new(),
            buyer: BuyerId::new(),
        };
        assert!(!sold.is_claimable(i64::MAX));
    }

    fn seats(ids: &[&str]) -> std::collections::BTreeSet<crate::ids::SeatId> {
        ids.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_ledger_counts_sold_and_unexpired_entries_only() {
        let mut ledger = BuyerLedger::default();
        ledger.orders.insert(
            OrderId::new(),
            LedgerEntry {
                seats: seats(&["A:1", "A:2"]),
                expires_at: None,
            },
        );
        ledger.orders.insert(
            OrderId::new(),
            LedgerEntry {
                seats: seats(&["A:3", "A:4", "A:5"]),
                expires_at: Some(100),
            },
        );
        assert_eq!(ledger.active(99), 5);
        assert_eq!(ledger.active(100), 2);
        ledger.prune(100);
        assert_eq!(ledger.orders.len(), 1);
    }

    #[test]
    fn seat_values_have_a_stable_compact_encoding() {
        assert_eq!(
            serde_json::to_string(&SeatState::Free).unwrap(),
            r#"{"st":"free"}"#
        );
    }
}
