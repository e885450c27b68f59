//! Renewing a hold: the buyer's time to pay starts when the checkout opens, not when the seats
//! were taken (docs/adr/0021-held-at-seat-store-speed.md).
//!
//! Intake holds at the seat store's pace, for the hold time plus the longest the platform may
//! take to open the checkout; the order's workflow opens it at Temporal's pace behind, and
//! renews the hold to the full hold time from that moment. The renewal changes nothing but the
//! expiry, only on the order's own live hold, so it can never take a seat from anyone.

use std::time::Duration;

use super::{
    HeldSeat, Hold, OrderRef, SeatError, SeatState, SeatStore, Standing, UnixMillis,
    claim::observed, validate_hold, validate_seats,
};
use crate::{SeatId, namespace::keys};

impl SeatStore {
    /// Renews `order`'s hold on `seats`, taken until `taken_until`, to now + `hold_for`, seats
    /// and the buyer's ledger alike, and returns the renewed hold.
    ///
    /// Renewing is done once: a seat whose expiry is before `taken_until` has been renewed
    /// already (by an earlier attempt of the same step, whose result the workflow never
    /// recorded because its worker died), and its expiry is the renewal's. A retry therefore
    /// returns the first attempt's expiry, and the checkout the workflow opens from it is the
    /// same one (the provider refuses another body under the same idempotency key).
    ///
    /// Succeeds only while every seat is still held by the order with at least
    /// `confirm_margin` left (the rule a confirm follows, for the same reason: never race a
    /// claimer that already sees the hold as lapsed); otherwise `Lapsed` (or `NotOwner`) and
    /// nothing that matters changed: a seat renewed before the failure is still the order's,
    /// and the order gives all of them back.
    #[tracing::instrument(name = "seat.renew", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn renew(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        taken_until: UnixMillis,
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        observed(
            "renew",
            self.renew_inner(order, seats, taken_until, hold_for),
        )
        .await
    }

    async fn renew_inner(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        taken_until: UnixMillis,
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        let seats = validate_seats(&self.inner.opts, seats)?;
        validate_hold(&self.inner.opts, hold_for)?;
        self.event_meta(order.event).await?;
        let margin = self.inner.opts.confirm_margin.as_millis() as i64;

        // Decide from the current values before writing anything.
        let mut plan = Vec::with_capacity(seats.len());
        let mut renewed_before = None;
        let now = self.now();
        for seat in &seats {
            let key = keys::seat(order.event, seat);
            let Some(snap) = self.read(&key).await? else {
                return Err(SeatError::UnknownSeat {
                    event: order.event,
                    seat: seat.clone(),
                });
            };
            match snap.state.standing(order.order, now, margin) {
                Standing::Held { expires_at: until } => {
                    // A renewal always ends before intake's hold would have (the checkout
                    // opens within intake's allowance): a later expiry is a later delivery's
                    // hold on this seat, not a renewal.
                    if until < taken_until {
                        renewed_before = Some(until);
                    }
                }
                Standing::Foreign => {
                    return Err(SeatError::NotOwner {
                        seats: vec![seat.clone()],
                    });
                }
                // A sold seat is past renewing: as for a lapse, the order gives them back.
                Standing::Sold | Standing::Lapsed => {
                    return Err(SeatError::Lapsed {
                        seats: vec![seat.clone()],
                    });
                }
            }
            plan.push((seat.clone(), key, snap));
        }
        let expires_at = renewed_before.unwrap_or(now + hold_for.as_millis() as i64);
        let renewed = SeatState::Held {
            order: order.order,
            buyer: order.buyer,
            expires_at,
        };
        let mut held = Vec::with_capacity(seats.len());
        for (seat, key, snap) in plan {
            let revision = if snap.state == renewed {
                snap.revision
            } else {
                // Only this order writes its live hold: a lost swap means NATS failed or the
                // hold lapsed and was claimed in between; either way not renewed.
                match self.swap("renew", &key, &renewed, snap.revision).await? {
                    Some(rev) => rev,
                    None => return Err(SeatError::Lapsed { seats: vec![seat] }),
                }
            };
            held.push(HeldSeat { seat, revision });
        }
        self.extend_entry(order, expires_at).await?;
        Ok(Hold {
            order: *order,
            seats: held,
            expires_at,
        })
    }
}
