//! "Best available" on a seated section: the store picks the seats at hold time.
//!
//! At the busiest minute most buyers do not want a particular seat, they want the best ones
//! left, side by side. Letting each of them name seats from a map that is seconds old makes
//! them all ask for the same front-row seats, and all but one are refused after waiting their
//! turn. Picking at hold time, from this process's live view of the section, turns those
//! refusals into the next-best seats. Every claim is still a compare-and-swap through
//! [`SeatStore::hold`]'s all-or-nothing path, so a stale view costs a retry, never a double sale.

use std::{cmp::Ordering, sync::Arc, time::Duration};

use rand::Rng;

use super::{Access, EventMeta, Hold, OrderRef, SeatError, SeatStore, SectionKind, may_take};
use crate::{
    EventId,
    ids::{SeatId, SectionCode},
    namespace::keys,
};

/// Blocks a pick tries before it reports the section sold out.
const ATTEMPTS: usize = 8;
/// A pick chooses at random among this many of the best blocks, so buyers picking at the same
/// moment from the same view spread over several blocks instead of all fighting for the first.
const SPREAD: usize = 6;

/// A seat's place in its section: row and number, from a `<row>-<number>` label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    row: String,
    number: u32,
}

impl Place {
    fn of(seat: &SeatId) -> Option<Self> {
        let (row, number) = seat.label.as_str().rsplit_once('-')?;
        Some(Self {
            row: row.to_owned(),
            number: number.parse().ok()?,
        })
    }

    /// Rows front to back: `A` < `B` < ... < `Z` < `AA` (shorter labels first).
    fn row_order(a: &str, b: &str) -> Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

/// A section's seats, front row first and by number within a row; labels that are not
/// `<row>-<number>` come last, in label order.
pub(super) struct Layout {
    /// `(row index, number, seat)`.
    seats: Vec<(usize, u32, SeatId)>,
}

impl Layout {
    fn new(mut ids: Vec<SeatId>) -> Self {
        ids.sort_by(|a, b| match (Place::of(a), Place::of(b)) {
            (Some(x), Some(y)) => {
                Place::row_order(&x.row, &y.row).then_with(|| x.number.cmp(&y.number))
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        });
        let mut seats = Vec::with_capacity(ids.len());
        let mut row = 0;
        let mut last: Option<String> = None;
        for id in ids {
            let (r, n) = match Place::of(&id) {
                Some(p) => (Some(p.row), p.number),
                // Unplaced labels: each its own row, so they are never "side by side".
                None => (None, 0),
            };
            if r.is_none() || r != last {
                if !seats.is_empty() {
                    row += 1;
                }
                last = r;
            }
            seats.push((row, n, id));
        }
        Self { seats }
    }

    fn len(&self) -> usize {
        self.seats.len()
    }

    /// The best blocks of `quantity` seats side by side among those `free` says are free,
    /// best first: front rows first; within a row, blocks that leave no single seat stranded
    /// between them and a taken seat (or the row's end) first, then those nearest the row's
    /// middle. When no row has that many together: the front-most free seats wherever they
    /// are, as one block. Each block comes with its rank (row, stranded seats), so a pick can
    /// spread over blocks as good as the best without settling for a worse one.
    fn blocks(&self, quantity: usize, free: impl Fn(&SeatId) -> bool) -> Vec<Block> {
        let mut blocks: Vec<(u32, Block)> = Vec::new();
        let mut row_start = 0;
        while row_start < self.seats.len() {
            let row = self.seats[row_start].0;
            let row_end = self.seats[row_start..]
                .iter()
                .position(|s| s.0 != row)
                .map_or(self.seats.len(), |p| row_start + p);
            let seats = &self.seats[row_start..row_end];
            let middle = (seats.first().map_or(0, |s| s.1) + seats.last().map_or(0, |s| s.1)) / 2;
            // Runs of free, consecutively numbered seats; every window of `quantity` in a run.
            let mut run: Vec<&(usize, u32, SeatId)> = Vec::new();
            let mut flush = |run: &mut Vec<&(usize, u32, SeatId)>| {
                for (start, w) in run.windows(quantity).enumerate() {
                    let left = start;
                    let right = run.len() - start - quantity;
                    let stranded = u8::from(left == 1) + u8::from(right == 1);
                    let centre = (w[0].1 + w[quantity - 1].1) / 2;
                    let seats = w.iter().map(|s| s.2.clone()).collect();
                    blocks.push((
                        centre.abs_diff(middle),
                        Block {
                            rank: (row, stranded),
                            seats,
                        },
                    ));
                }
                run.clear();
            };
            for s in seats {
                if !free(&s.2) {
                    flush(&mut run);
                    continue;
                }
                if run.last().is_some_and(|l| l.1 + 1 != s.1) {
                    flush(&mut run);
                }
                run.push(s);
            }
            flush(&mut run);
            row_start = row_end;
        }
        if blocks.is_empty() {
            let scattered: Vec<SeatId> = self
                .seats
                .iter()
                .filter(|s| free(&s.2))
                .take(quantity)
                .map(|s| s.2.clone())
                .collect();
            return if scattered.len() == quantity {
                vec![Block {
                    rank: (usize::MAX, 0),
                    seats: scattered,
                }]
            } else {
                Vec::new()
            };
        }
        blocks.sort_by_key(|(distance, b)| (b.rank, *distance));
        blocks.into_iter().map(|(_, b)| b).collect()
    }
}

/// Seats a pick may hold together, with how good they are: `(row, stranded seats)`, lower is
/// better.
struct Block {
    rank: (usize, u8),
    seats: Vec<SeatId>,
}

impl SeatStore {
    /// Holds the best `quantity` seats of a section that are free: side by side in the
    /// front-most row that has them (nearest its middle), else the front-most free seats
    /// wherever they are; on a general-admission section, any units (see
    /// [`SeatStore::pick_general_admission`]).
    ///
    /// Blocks come from this process's live view of the section; each is held all or nothing
    /// by compare-and-swap, and one taken under it is followed by the next-best, a bounded
    /// number of times, before the section is reported sold out. Picking again for the same
    /// order (a redelivered or retried request) returns the hold the first pick took.
    pub async fn pick_best(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        self.pick_best_with(order, section, quantity, hold_for, Access::General)
            .await
    }

    /// [`Self::pick_best`] for a caller with `access`: a general pick never chooses a gated
    /// seat, a block's pick chooses only among its block's seats (see [`may_take`]).
    #[tracing::instrument(name = "seat.pick_best", skip_all,
        fields(event = %order.event, order = %order.order, section = %section, quantity, outcome = tracing::field::Empty))]
    pub async fn pick_best_with(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        let meta = self.event_meta(order.event).await?;
        let section_meta = super::section_of(&meta, order.event, section)?;
        if section_meta.kind == SectionKind::GeneralAdmission {
            return self
                .pick_general_admission_with(order, section, quantity, hold_for, access)
                .await;
        }
        super::validate_quantity(&self.inner.opts, quantity)?;
        super::claim::observed("pick_best", async {
            let picked = self
                .pick_best_inner(order, (&meta, section), quantity, hold_for, access)
                .await;
            self.or_earlier_hold(order, section, quantity, picked).await
        })
        .await
    }

    async fn pick_best_inner(
        &self,
        order: &OrderRef,
        (meta, section): (&EventMeta, &SectionCode),
        quantity: u32,
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        self.track_section(order.event, section).await?;
        let units = meta.sections.get(section).map_or(0, |s| s.units);
        let layout = self.layout(order.event, section, units);
        let q = quantity as usize;
        let mut last_taken = None;
        // A seat is a candidate if the caller may take it and this process sees it claimable.
        let open = |seat: &SeatId, now| {
            may_take(meta, seat, access)
                && self
                    .inner
                    .cache
                    .get(&keys::seat(order.event, seat))
                    .is_some_and(|s| s.state.is_claimable(now))
        };
        for attempt in 0..ATTEMPTS {
            let now = self.now();
            let blocks = layout.blocks(q, |seat| open(seat, now));
            if blocks.is_empty() {
                break;
            }
            // The first try spreads over the few blocks as good as the best; a try after a lost
            // race widens the spread, as the front is where everyone is.
            let as_good = blocks
                .iter()
                .take_while(|b| b.rank == blocks[0].rank)
                .count();
            let spread = if attempt == 0 {
                as_good.min(SPREAD)
            } else {
                (SPREAD * (attempt + 1)).min(blocks.len())
            };
            let block = &blocks[rand::rng().random_range(0..spread)].seats;
            match self.hold_inner(order, block, hold_for, access).await {
                Err(SeatError::Taken { seats }) => last_taken = Some(seats),
                other => return other,
            }
        }
        let now = self.now();
        let available = layout.seats.iter().filter(|s| open(&s.2, now)).count() as u32;
        if available >= quantity
            && let Some(seats) = last_taken
        {
            // Enough free in the view, yet every try lost its race: say so, not sold out.
            return Err(SeatError::Taken { seats });
        }
        Err(SeatError::SoldOut {
            section: section.clone(),
            requested: quantity,
            available,
        })
    }

    /// The section's layout from the live view (built once, and again when the section has
    /// grown, e.g. a reserved block released into the sale).
    fn layout(&self, event: EventId, section: &SectionCode, units: u32) -> Arc<Layout> {
        let key = (event, section.clone());
        if let Some(l) = self.inner.layouts.get(&key)
            && l.len() as u32 >= units
        {
            return l.clone();
        }
        let prefix = format!("s.{event}.{section}.");
        let ids: Vec<SeatId> = self
            .inner
            .cache
            .iter()
            .filter(|e| e.key().starts_with(&prefix))
            .filter_map(|e| keys::parse_seat(e.key()))
            .collect();
        let layout = Arc::new(Layout::new(ids));
        self.inner.layouts.insert(key, layout.clone());
        layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(label: &str) -> SeatId {
        format!("A:{label}").parse().unwrap()
    }

    fn layout(rows: &[&str], per_row: u32) -> Layout {
        let mut ids = Vec::new();
        for r in rows {
            for n in 1..=per_row {
                ids.push(seat(&format!("{r}-{n}")));
            }
        }
        Layout::new(ids)
    }

    fn labels(block: &Block) -> Vec<String> {
        block
            .seats
            .iter()
            .map(|s| s.label.as_str().to_owned())
            .collect()
    }

    #[test]
    fn front_row_middle_first_and_side_by_side() {
        let l = layout(&["B", "A", "AA"], 6);
        let blocks = l.blocks(2, |_| true);
        assert_eq!(labels(&blocks[0]), ["A-3", "A-4"]);
        assert!(blocks[..5].iter().all(|b| labels(b)[0].starts_with("A-")));
        assert!(
            labels(&blocks[5])[0].starts_with("B-"),
            "{:?}",
            labels(&blocks[5])
        );
        assert!(labels(blocks.last().unwrap())[0].starts_with("AA-"));
        // No block that strands one seat (A-2-3 strands A-1) ranks with those that do not.
        let clean: Vec<Vec<String>> = blocks
            .iter()
            .take_while(|b| b.rank == blocks[0].rank)
            .map(labels)
            .collect();
        assert_eq!(
            clean,
            vec![vec!["A-3", "A-4"], vec!["A-1", "A-2"], vec!["A-5", "A-6"]]
        );
    }

    #[test]
    fn a_gap_breaks_a_block_and_a_full_row_is_skipped() {
        let l = layout(&["A", "B"], 4);
        let taken = ["A-2", "A-3", "B-1"];
        let blocks = l.blocks(2, |s| !taken.contains(&s.label.as_str()));
        let all: Vec<Vec<String>> = blocks.iter().map(labels).collect();
        assert_eq!(all, vec![vec!["B-2", "B-3"], vec!["B-3", "B-4"]]);
    }

    #[test]
    fn scattered_seats_when_nothing_is_together_and_nothing_when_too_few() {
        let l = layout(&["A", "B"], 3);
        let free = ["A-1", "A-3", "B-2"];
        let blocks = l.blocks(3, |s| free.contains(&s.label.as_str()));
        assert_eq!(blocks.len(), 1);
        assert_eq!(labels(&blocks[0]), ["A-1", "A-3", "B-2"]);
        assert!(l.blocks(4, |s| free.contains(&s.label.as_str())).is_empty());
    }
}
