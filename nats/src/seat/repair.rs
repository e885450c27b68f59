//! The one seat change reconciliation may make: free a seat exactly as it was read.
//!
//! A repair job must never act on a picture that has moved (ADR 0017): it reads a seat, reads
//! the order behind it fresh, decides, and then writes only if the seat is still at the
//! revision it read. Any change in between (a confirm, a new claim, a release) makes the swap
//! lose, and the repair does nothing.

use super::{SeatError, SeatState, SeatStore, SeatView};
use crate::{namespace::keys, seat::OrderRef};

/// What a conditional free came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freed {
    /// The seat was at the revision read and is free now.
    Freed,
    /// The seat moved since it was read: nothing was written.
    Moved,
}

impl SeatStore {
    /// Frees `view.seat` if it is still at `view.revision`, and takes it out of the order's
    /// allowance. `view` must have been read as held by or sold to `order.order` (anything
    /// else is refused as `NotOwner` before any write).
    #[tracing::instrument(name = "seat.free_if_unchanged", skip_all,
        fields(event = %order.event, order = %order.order, seat = %view.seat, revision = view.revision))]
    pub async fn free_if_unchanged(
        &self,
        order: &OrderRef,
        view: &SeatView,
    ) -> Result<Freed, SeatError> {
        let owned = match &view.state {
            SeatState::Held { order: o, .. } | SeatState::Sold { order: o, .. } => {
                *o == order.order
            }
            SeatState::Free => false,
        };
        if !owned {
            return Err(SeatError::NotOwner {
                seats: vec![view.seat.clone()],
            });
        }
        let key = keys::seat(order.event, &view.seat);
        match self
            .swap("repair", &key, &SeatState::Free, view.revision)
            .await?
        {
            Some(_) => {
                self.give_back_allowance(order, std::slice::from_ref(&view.seat))
                    .await?;
                Ok(Freed::Freed)
            }
            None => Ok(Freed::Moved),
        }
    }
}
