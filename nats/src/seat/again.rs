//! A pick asked again: a redelivered (or retried) best-available or general-admission request
//! finds and keeps the hold its first delivery took.
//!
//! A hold for named seats is idempotent by itself: the retry finds the same seats held by the
//! same order. A pick is not: the store chooses the seats, so a retry would choose others and
//! be refused (`OrderAlreadyHolds`, since an order holds once), or find the section sold out
//! by its own first hold, while that hold and the buyer's allowance stay blocked until it
//! lapses. The buyer's ledger names the order's seats, so a refused pick asks it whether the
//! order already holds what was asked for, and returns that hold instead of the refusal.
//! The happy path pays nothing for this: only a refusal reads the ledger.

use super::{HeldSeat, Hold, InvalidRequest, OrderRef, SeatError, SeatState, SeatStore};
use crate::{ids::SectionCode, namespace::keys};

impl SeatStore {
    /// `result` of a pick of `quantity` units of `section`, unless it is a refusal that an
    /// earlier delivery of the same request explains: then that delivery's hold.
    pub(super) async fn or_earlier_hold(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        result: Result<Hold, SeatError>,
    ) -> Result<Hold, SeatError> {
        match result {
            Err(
                refusal @ (SeatError::Invalid(InvalidRequest::OrderAlreadyHolds(_))
                | SeatError::SoldOut { .. }
                | SeatError::Taken { .. }),
            ) => match self.earlier_hold(order, section, quantity).await? {
                Some(hold) => {
                    metrics::counter!("boxoffice_seat_picks_kept_total").increment(1);
                    Ok(hold)
                }
                None => Err(refusal),
            },
            other => other,
        }
    }

    /// The live hold the order already has on `quantity` units of `section`, read fresh: the
    /// order's entry in the buyer's ledger is a hold (not a sale) naming exactly that many
    /// seats of that section, and every one of them is held by the order and not lapsed.
    /// `None` otherwise (no earlier hold, or one that has lapsed or moved on).
    pub(super) async fn earlier_hold(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
    ) -> Result<Option<Hold>, SeatError> {
        let ledger = self.buyer_ledger(order).await?;
        let now = self.now();
        let Some(entry) = ledger.orders.get(&order.order) else {
            return Ok(None);
        };
        let live = entry.expires_at.is_some_and(|t| t > now);
        if !live
            || entry.seats.len() != quantity as usize
            || entry.seats.iter().any(|s| &s.section != section)
        {
            return Ok(None);
        }
        let mut seats = Vec::with_capacity(entry.seats.len());
        let mut expires_at = i64::MAX;
        for seat in &entry.seats {
            let Some(snap) = self.read(&keys::seat(order.event, seat)).await? else {
                return Ok(None);
            };
            match snap.state {
                SeatState::Held {
                    order: o,
                    expires_at: until,
                    ..
                } if o == order.order && until > now => {
                    expires_at = expires_at.min(until);
                    seats.push(HeldSeat {
                        seat: seat.clone(),
                        revision: snap.revision,
                    });
                }
                _ => return Ok(None),
            }
        }
        // The entry's seats are a sorted set, so `seats` is sorted as a `Hold` requires.
        Ok(Some(Hold {
            order: *order,
            seats,
            expires_at,
        }))
    }
}
