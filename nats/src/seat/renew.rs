//! Renewing a hold: the buyer's time to pay starts when the checkout opens, not when the seats
//! were taken (docs/adr/0021-held-at-seat-store-speed.md).
//!
//! Intake holds at the seat store's pace, for the hold time plus the longest the platform may
//! take to open the checkout; the order's workflow opens it at Temporal's pace behind, and
//! renews the hold to the full hold time from that moment. The renewal changes nothing but the
//! expiry, only on the order's own live hold, so it can never take a seat from anyone.

use std::time::Duration;

use super::{
    HeldSeat, Hold, OrderRef, SeatError, SeatState, SeatStore, claim::observed, validate_hold,
    validate_seats,
};
use crate::{SeatId, namespace::keys};

impl SeatStore {
    /// Sets the expiry of `order`'s hold on `seats` to now + `hold_for`, seats and the buyer's
    /// ledger alike, and returns the renewed hold.
    ///
    /// Succeeds only while every seat is still held by the order with at least
    /// `confirm_margin` left (the rule a confirm follows, for the same reason: never race a
    /// claimer that already sees the hold as lapsed); otherwise `Lapsed` (or `NotOwner`) and
    /// nothing that matters changed: a seat renewed before the failure is still the order's,
    /// and the order gives all of them back. Renewing again (a retried activity) simply
    /// renews from the later now.
    #[tracing::instrument(name = "seat.renew", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn renew(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        observed("renew", self.renew_inner(order, seats, hold_for)).await
    }

    async fn renew_inner(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        let seats = validate_seats(&self.inner.opts, seats)?;
        validate_hold(&self.inner.opts, hold_for)?;
        self.event_meta(order.event).await?;
        let margin = self.inner.opts.confirm_margin.as_millis() as i64;
        let expires_at = self.now() + hold_for.as_millis() as i64;
        let renewed = SeatState::Held {
            order: order.order,
            buyer: order.buyer,
            expires_at,
        };
        let mut held = Vec::with_capacity(seats.len());
        for seat in &seats {
            let key = keys::seat(order.event, seat);
            let mut attempts = 0;
            let revision = loop {
                attempts += 1;
                let Some(snap) = self.read(&key).await? else {
                    return Err(SeatError::UnknownSeat {
                        event: order.event,
                        seat: seat.clone(),
                    });
                };
                let now = self.now();
                match &snap.state {
                    SeatState::Held {
                        order: o,
                        expires_at: until,
                        ..
                    } if *o == order.order && *until - now > margin => {}
                    s if s.owner(now).is_some_and(|o| o != order.order) => {
                        return Err(SeatError::NotOwner {
                            seats: vec![seat.clone()],
                        });
                    }
                    _ => {
                        return Err(SeatError::Lapsed {
                            seats: vec![seat.clone()],
                        });
                    }
                }
                // Only this order writes its live hold, so a lost swap is a read that raced a
                // retry of this very renewal: read again.
                if let Some(rev) = self.swap("renew", &key, &renewed, snap.revision).await? {
                    break rev;
                }
                if attempts >= self.inner.opts.cas_attempts {
                    return Err(SeatError::Lapsed {
                        seats: vec![seat.clone()],
                    });
                }
            };
            held.push(HeldSeat {
                seat: seat.clone(),
                revision,
            });
        }
        self.extend_entry(order, expires_at).await?;
        Ok(Hold {
            order: *order,
            seats: held,
            expires_at,
        })
    }
}
