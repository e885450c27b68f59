//! The values stored under seat, event and buyer keys, and the rules that read them.
//!
//! Every rule that decides "may this order take this seat" lives here, as pure functions of the
//! value and the clock, so the model test and the store agree by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{BlockId, BuyerId, OrderId, SeatId, SectionCode, UnitLabel};

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

    /// Where the seat stands for `order` at `now`, for the steps that act on the order's own
    /// hold (renew, confirm): both need it live with more than `margin` left, so they never
    /// race a claimer that already sees it as lapsed.
    pub fn standing(&self, order: OrderId, now: UnixMillis, margin: i64) -> Standing {
        match self {
            Self::Sold { order: o, .. } if *o == order => Standing::Sold,
            Self::Held {
                order: o,
                expires_at,
                ..
            } if *o == order && *expires_at - now > margin => Standing::Held {
                expires_at: *expires_at,
            },
            // The order's own hold (or sale) has been matched above, so an owner is another.
            s if s.owner(now).is_some_and(|o| o != order) => Standing::Foreign,
            _ => Standing::Lapsed,
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

/// Where a seat stands for one order ([`SeatState::standing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Sold to the order.
    Sold,
    /// Held by the order, with more than the margin left.
    Held {
        /// When the hold lapses.
        expires_at: UnixMillis,
    },
    /// Another order owns it.
    Foreign,
    /// The order's hold has lapsed or is within the margin of lapsing, or nobody owns it.
    Lapsed,
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
    /// Not for sale to whoever is looking: a presale block's seat to anyone without its code
    /// (or, to a block's buyer, a seat outside the block). Never a state of the seat itself.
    Unavailable,
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
    /// Seated: the seats loaded (a presale block's included). General admission: the units
    /// `u1..uN` loaded (a presale block's own units are counted in [`Self::blocks`]).
    pub units: u32,
    /// The section's presale blocks (absent in values written before presales were sold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<BlockMeta>,
}

impl SectionMeta {
    /// The gated block `label` belongs to, if any: a unit of a block still gated is for that
    /// block's code holders only.
    pub fn gate_of(&self, label: &UnitLabel) -> Option<BlockId> {
        self.blocks
            .iter()
            .find(|b| !b.open && b.units.contains(b.id, label))
            .map(|b| b.id)
    }

    /// Seat keys loaded for the section: its seats, or its `u` units and its blocks' units.
    pub fn keys(&self) -> u32 {
        match self.kind {
            SectionKind::Seated => self.units,
            SectionKind::GeneralAdmission => {
                self.units
                    + self
                        .blocks
                        .iter()
                        .map(|b| match &b.units {
                            BlockUnits::Quantity(n) => *n,
                            BlockUnits::Seats(_) => 0,
                        })
                        .sum::<u32>()
            }
        }
    }

    /// The gated block `id` of this section, if it has one.
    pub fn gated_block(&self, id: BlockId) -> Option<&BlockMeta> {
        self.blocks.iter().find(|b| b.id == id && !b.open)
    }
}

/// One presale block of a section, as the seat store sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// The block (its allocation's id).
    pub id: BlockId,
    /// Its units.
    pub units: BlockUnits,
    /// Released to the general sale: its units are anyone's. Only a general-admission block
    /// is kept once open (its units keep their own labels); an open seated block's seats are
    /// plain seats of the section.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
}

/// The units of a presale block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockUnits {
    /// Named seats of a seated section.
    Seats(std::collections::BTreeSet<UnitLabel>),
    /// A number of general-admission units, labelled [`block_unit_label`] `1..=n`.
    Quantity(u32),
}

impl BlockUnits {
    /// Whether `label` is one of the block's units.
    pub fn contains(&self, block: BlockId, label: &UnitLabel) -> bool {
        match self {
            Self::Seats(seats) => seats.contains(label),
            Self::Quantity(n) => label
                .as_str()
                .strip_prefix(block_unit_prefix(block).as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|k| k.parse::<u32>().ok())
                .is_some_and(|k| (1..=*n).contains(&k) && *label == block_unit_label(block, k)),
        }
    }
}

/// The label prefix of a general-admission presale block's units: `p` and the last 12 hex
/// digits of its id (a UUIDv7's random part: its first digits are a timestamp, shared by
/// blocks created in the same minute).
pub(super) fn block_unit_prefix(block: BlockId) -> String {
    let hex = block.as_uuid().simple().to_string();
    format!("p{}", &hex[hex.len() - 12..])
}

/// The `n`th unit (1-based) of a general-admission presale block: `p<12 hex>-<n>`, never
/// `u<n>` (general units, whose numbers grow when other blocks are released).
pub fn block_unit_label(block: BlockId, n: u32) -> UnitLabel {
    // "p" + 12 hex + "-" + at most 10 digits always fits the 32-character token.
    UnitLabel::built(format!("{}-{n}", block_unit_prefix(block)))
}

/// Who a claim is for: the public sale, or the code holders of one presale block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// The general sale.
    #[default]
    General,
    /// A presale block's code holders.
    Block(BlockId),
}

/// The gate rule: whether a claim with `access` may take `seat` of the event described by
/// `meta`. A general claim never takes a unit of a gated block; a block claim takes only units
/// of its own block while that block is gated (once released, its units are general and so
/// is the sale). Every claim path (named seats, best available, general-admission picks) asks
/// this, and the model test states the same rule.
pub fn may_take(meta: &EventMeta, seat: &SeatId, access: Access) -> bool {
    let gate = meta
        .sections
        .get(&seat.section)
        .and_then(|s| s.gate_of(&seat.label));
    match access {
        Access::General => gate.is_none(),
        Access::Block(id) => gate == Some(id),
    }
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
    fn a_seat_stands_for_an_order_by_owner_and_time_left() {
        let (mine, theirs, buyer) = (OrderId::new(), OrderId::new(), BuyerId::new());
        let held = |order, expires_at| SeatState::Held {
            order,
            buyer,
            expires_at,
        };
        let (now, margin) = (1_000, 100);
        assert_eq!(
            held(mine, 1_101).standing(mine, now, margin),
            Standing::Held { expires_at: 1_101 }
        );
        assert_eq!(
            held(mine, 1_100).standing(mine, now, margin),
            Standing::Lapsed,
            "within the margin"
        );
        assert_eq!(
            held(mine, 900).standing(mine, now, margin),
            Standing::Lapsed
        );
        assert_eq!(
            SeatState::Sold { order: mine, buyer }.standing(mine, now, margin),
            Standing::Sold
        );
        assert_eq!(
            held(theirs, 2_000).standing(mine, now, margin),
            Standing::Foreign
        );
        assert_eq!(
            SeatState::Sold {
                order: theirs,
                buyer
            }
            .standing(mine, now, margin),
            Standing::Foreign
        );
        assert_eq!(
            held(theirs, 900).standing(mine, now, margin),
            Standing::Lapsed,
            "another's lapsed hold owns nothing"
        );
        assert_eq!(
            SeatState::Free.standing(mine, now, margin),
            Standing::Lapsed
        );
    }

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

    fn gated_meta(block: BlockId, open: bool) -> EventMeta {
        let seated = SectionMeta {
            kind: SectionKind::Seated,
            units: 4,
            blocks: vec![BlockMeta {
                id: block,
                units: BlockUnits::Seats(["1", "2"].iter().map(|l| l.parse().unwrap()).collect()),
                open,
            }],
        };
        let standing = SectionMeta {
            kind: SectionKind::GeneralAdmission,
            units: 3,
            blocks: vec![BlockMeta {
                id: block,
                units: BlockUnits::Quantity(2),
                open,
            }],
        };
        EventMeta {
            max_per_buyer: 4,
            sections: [
                ("A".parse().unwrap(), seated),
                ("F".parse().unwrap(), standing),
            ]
            .into(),
        }
    }

    #[test]
    fn the_gate_keeps_general_claims_out_and_block_claims_in() {
        let block = BlockId::new();
        let other = Access::Block(BlockId::new());
        let meta = gated_meta(block, false);
        let unit = |n| SeatId::new("F".parse().unwrap(), block_unit_label(block, n));
        let gated = [
            seats(&["A:1", "A:2"]).into_iter().collect::<Vec<_>>(),
            vec![unit(1), unit(2)],
        ];
        let general = [
            seats(&["A:3", "A:4", "F:u1"])
                .into_iter()
                .collect::<Vec<_>>(),
            vec![unit(3)],
        ];
        for seat in gated.iter().flatten() {
            assert!(!may_take(&meta, seat, Access::General), "{seat}");
            assert!(may_take(&meta, seat, Access::Block(block)), "{seat}");
            assert!(!may_take(&meta, seat, other), "{seat}");
        }
        for seat in general.iter().flatten() {
            assert!(!may_take(&meta, seat, Access::Block(block)), "{seat}");
        }
        assert!(may_take(&meta, &"A:3".parse().unwrap(), Access::General));
        // Released: everything is general, and the block's claims take nothing.
        let open = gated_meta(block, true);
        for seat in gated.iter().flatten() {
            assert!(may_take(&open, seat, Access::General), "{seat}");
            assert!(!may_take(&open, seat, Access::Block(block)), "{seat}");
        }
        assert_eq!(open.sections[&"F".parse().unwrap()].keys(), 5);
    }

    #[test]
    fn old_event_values_still_read_and_new_ones_stay_compact() {
        let old = r#"{"max_per_buyer":4,"sections":{"A":{"kind":"seated","units":10}}}"#;
        let meta: EventMeta = serde_json::from_str(old).unwrap();
        assert!(meta.sections.values().all(|s| s.blocks.is_empty()));
        assert_eq!(serde_json::to_string(&meta).unwrap(), old);
        let label = block_unit_label(BlockId::new(), 100_000);
        assert_eq!(label.as_str().len(), 20);
    }

    #[test]
    fn seat_values_have_a_stable_compact_encoding() {
        assert_eq!(
            serde_json::to_string(&SeatState::Free).unwrap(),
            r#"{"st":"free"}"#
        );
    }
}
