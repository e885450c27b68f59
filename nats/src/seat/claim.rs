//! The operations that change ownership: hold, confirm, release, refund (picks: `pick.rs`).
//!
//! Each either completes or undoes what it did before returning an error (compensation by
//! compare-and-swap from the revision it wrote), so the only partial state a failure can leave
//! is a hold that lapses by itself.

use std::time::{Duration, Instant};

use super::{
    Access, HeldSeat, Hold, OrderRef, SeatError, SeatState, SeatStore, Snapshot, Standing,
    UnixMillis, may_take, validate_hold, validate_seats,
};
use crate::{ids::SeatId, namespace::keys};

/// One seat claimed for an order.
struct Claimed {
    revision: u64,
    until: UnixMillis,
    /// Written by this call (as opposed to found already held by the same order).
    fresh: bool,
}

/// Why one seat could not be claimed.
enum Refused {
    Taken,
    Unknown,
}

impl SeatStore {
    /// Holds `seats` for `order` until now + `hold_for`, all or nothing.
    ///
    /// Seats are claimed in sorted order (so two orders wanting overlapping seats cannot both
    /// fail by each taking part) and the buyer's ledger is charged last; on any failure every
    /// seat already claimed is released before the error is returned. Holding again for the same
    /// order is a no-op that returns the existing hold.
    pub async fn hold(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        self.hold_with(order, seats, hold_for, Access::General)
            .await
    }

    /// [`Self::hold`] for a caller with `access`: a seat the gate rule ([`may_take`]) keeps
    /// from it is refused as `Taken`, the way a seat someone else holds is, and nothing is
    /// held.
    #[tracing::instrument(name = "seat.hold", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn hold_with(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        observed("hold", self.hold_inner(order, seats, hold_for, access)).await
    }

    pub(super) async fn hold_inner(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        let seats = validate_seats(&self.inner.opts, seats)?;
        validate_hold(&self.inner.opts, hold_for)?;
        let meta = self.event_meta(order.event).await?;
        if let Some(seat) = seats
            .iter()
            .find(|s| !meta.sections.contains_key(&s.section))
        {
            return Err(SeatError::UnknownSeat {
                event: order.event,
                seat: seat.clone(),
            });
        }
        if let Some(seat) = seats.iter().find(|s| !may_take(&meta, s, access)) {
            return Err(SeatError::Taken {
                seats: vec![seat.clone()],
            });
        }
        let qty = seats.len() as u32;
        self.precheck_limit(order, meta.max_per_buyer, qty).await?;

        let expires_at = self.now() + hold_for.as_millis() as i64;
        let held = SeatState::Held {
            order: order.order,
            buyer: order.buyer,
            expires_at,
        };
        let mut claimed = Vec::with_capacity(seats.len());
        // Only seats this call wrote are undone on failure; seats found already held by this
        // order belong to an earlier attempt of the same request.
        let mut fresh = Vec::new();
        // A retried hold finds seats already held by an earlier attempt; report their expiry.
        let mut earliest = expires_at;
        for seat in &seats {
            let claim = self.claim(order, seat, &held).await;
            let refusal = match claim {
                Ok(Ok(c)) => {
                    earliest = earliest.min(c.until);
                    let h = HeldSeat {
                        seat: seat.clone(),
                        revision: c.revision,
                    };
                    if c.fresh {
                        fresh.push(h.clone());
                    }
                    claimed.push(h);
                    continue;
                }
                Ok(Err(Refused::Taken)) => SeatError::Taken {
                    seats: vec![seat.clone()],
                },
                Ok(Err(Refused::Unknown)) => SeatError::UnknownSeat {
                    event: order.event,
                    seat: seat.clone(),
                },
                Err(e) => e,
            };
            self.undo_claims(order, &fresh).await;
            return Err(refusal);
        }
        let retry = fresh.is_empty();
        if let Err(e) = self
            .reserve(order, meta.max_per_buyer, &seats, expires_at, retry)
            .await
        {
            self.undo_claims(order, &fresh).await;
            return Err(e);
        }
        Ok(Hold {
            order: *order,
            seats: claimed,
            expires_at: earliest,
        })
    }

    /// Turns the order's hold on `seats` into a sale.
    ///
    /// Succeeds only from the order's own hold with at least `confirm_margin` left, so it cannot
    /// race a claimer that sees the hold as lapsed. The ledger entry is marked sold first and
    /// each seat is swapped from its hold revision to sold; if any seat fails, the ones already
    /// sold and the ledger are put back as they were and `Lapsed` is returned. Confirming an
    /// already confirmed order succeeds (retries are safe).
    #[tracing::instrument(name = "seat.confirm", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn confirm(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
    ) -> Result<Vec<HeldSeat>, SeatError> {
        observed("confirm", self.confirm_inner(order, seats)).await
    }

    async fn confirm_inner(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
    ) -> Result<Vec<HeldSeat>, SeatError> {
        let seats = validate_seats(&self.inner.opts, seats)?;
        self.event_meta(order.event).await?;
        let margin = self.inner.opts.confirm_margin.as_millis() as i64;
        let sold = SeatState::Sold {
            order: order.order,
            buyer: order.buyer,
        };

        // Decide from the current values before writing anything.
        let mut plan: Vec<(SeatId, String, Snapshot)> = Vec::new();
        let mut done: Vec<HeldSeat> = Vec::new();
        let (mut lapsed, mut foreign) = (Vec::new(), Vec::new());
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
                Standing::Sold => done.push(HeldSeat {
                    seat: seat.clone(),
                    revision: snap.revision,
                }),
                Standing::Held { .. } => plan.push((seat.clone(), key, snap)),
                Standing::Foreign => foreign.push(seat.clone()),
                Standing::Lapsed => lapsed.push(seat.clone()),
            }
        }
        if !foreign.is_empty() {
            return Err(SeatError::NotOwner { seats: foreign });
        }
        if !lapsed.is_empty() {
            return Err(SeatError::Lapsed { seats: lapsed });
        }
        if plan.is_empty() {
            return Ok(done);
        }
        self.mark_sold(order, &seats).await?;
        let mut sold_now: Vec<(HeldSeat, Snapshot)> = Vec::new();
        for (seat, key, snap) in plan {
            match self.swap("confirm", &key, &sold, snap.revision).await {
                Ok(Some(revision)) => {
                    sold_now.push((HeldSeat { seat, revision }, snap));
                }
                other => {
                    // The seat moved under us (it can only be a lapse that someone claimed, or
                    // NATS failing): put back what this call changed.
                    let expires_at = hold_expiry_of(&snap.state);
                    self.undo_confirm(order, &sold_now).await;
                    self.unmark_sold(order, expires_at).await?;
                    return Err(match other {
                        Err(e) => e,
                        _ => SeatError::Lapsed { seats: vec![seat] },
                    });
                }
            }
        }
        done.extend(sold_now.into_iter().map(|(h, _)| h));
        done.sort_by(|a, b| a.seat.cmp(&b.seat));
        Ok(done)
    }

    /// Releases the order's holds on `seats` (payment failed, canceled, or expired).
    ///
    /// Seats that are free or held by a lapsed hold of another order are skipped (a release is
    /// safe to retry). If any seat is owned by another order, no seat is changed and `NotOwner`
    /// is returned, but the listed seats the order no longer owns stop counting against the
    /// buyer (a confirm that died after marking the ledger sold, whose holds then lapsed and
    /// went to others, must not leave them counted forever). Sold seats leave an order only
    /// through [`Self::refund`]. Returns how many seats this call freed.
    #[tracing::instrument(name = "seat.release", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn release(&self, order: &OrderRef, seats: &[SeatId]) -> Result<usize, SeatError> {
        observed("release", self.give_back(order, seats, false)).await
    }

    /// Returns a refunded order's sold (or still held) seats to the pool. Same rules as
    /// [`Self::release`], but sold seats of the order are freed too.
    #[tracing::instrument(name = "seat.refund", skip_all,
        fields(event = %order.event, order = %order.order, seats = seats.len(), outcome = tracing::field::Empty))]
    pub async fn refund(&self, order: &OrderRef, seats: &[SeatId]) -> Result<usize, SeatError> {
        observed("refund", self.give_back(order, seats, true)).await
    }

    async fn give_back(
        &self,
        order: &OrderRef,
        seats: &[SeatId],
        sold_too: bool,
    ) -> Result<usize, SeatError> {
        let seats = validate_seats(&self.inner.opts, seats)?;
        self.event_meta(order.event).await?;
        let ours = |s: &SeatState| match s {
            SeatState::Held { order: o, .. } => *o == order.order,
            SeatState::Sold { order: o, .. } => sold_too && *o == order.order,
            SeatState::Free => false,
        };
        let now = self.now();
        let mut plan = Vec::new();
        let mut foreign = Vec::new();
        // Listed seats the order does not own (free, lapsed, or another order's).
        let mut lost = Vec::new();
        for seat in &seats {
            let key = keys::seat(order.event, seat);
            let Some(snap) = self.read(&key).await? else {
                return Err(SeatError::UnknownSeat {
                    event: order.event,
                    seat: seat.clone(),
                });
            };
            let owner = snap.state.owner(now);
            if owner != Some(order.order) {
                lost.push(seat.clone());
            }
            if ours(&snap.state) {
                plan.push((seat.clone(), key, snap));
            } else if owner.is_some() {
                foreign.push(seat.clone());
            }
        }
        if !foreign.is_empty() {
            self.give_back_allowance(order, &lost).await?;
            return Err(SeatError::NotOwner { seats: foreign });
        }
        let mut freed = 0;
        let mut kept = Vec::new();
        for (seat, key, mut snap) in plan {
            for attempt in 0..self.inner.opts.cas_attempts {
                if !ours(&snap.state) {
                    break;
                }
                if attempt + 1 == self.inner.opts.cas_attempts {
                    kept.push(seat.clone());
                }
                if self
                    .swap("release", &key, &SeatState::Free, snap.revision)
                    .await?
                    .is_some()
                {
                    freed += 1;
                    break;
                }
                match self.read(&key).await? {
                    Some(s) => snap = s,
                    None => break,
                }
            }
        }
        // Every listed seat not still ours no longer counts against the buyer, including seats
        // an earlier, interrupted attempt already freed.
        let gone: Vec<SeatId> = seats.into_iter().filter(|s| !kept.contains(s)).collect();
        self.give_back_allowance(order, &gone).await?;
        Ok(freed)
    }

    // ---- helpers ----

    /// Claims one seat for `held` by compare-and-swap, re-reading on conflict. A seat already
    /// held by the same order counts as claimed (a retried hold).
    async fn claim(
        &self,
        order: &OrderRef,
        seat: &SeatId,
        held: &SeatState,
    ) -> Result<Result<Claimed, Refused>, SeatError> {
        let key = keys::seat(order.event, seat);
        let new_expiry = hold_expiry_of(held);
        // A cached value is good enough to attempt a swap (a stale one just fails), but never
        // to refuse a claim or to accept one without writing: those need a fresh read.
        let cached = self.inner.cache.get(&key).map(|s| s.clone());
        let (mut snap, mut verified) = match cached {
            Some(s) => (s, false),
            None => match self.read(&key).await? {
                Some(s) => (s, true),
                None => return Ok(Err(Refused::Unknown)),
            },
        };
        for _ in 0..self.inner.opts.cas_attempts {
            let now = self.now();
            if !snap.state.is_claimable(now) {
                if !verified {
                    match self.read(&key).await? {
                        Some(s) => (snap, verified) = (s, true),
                        None => return Ok(Err(Refused::Unknown)),
                    }
                    continue;
                }
                return Ok(match &snap.state {
                    SeatState::Held {
                        order: o,
                        expires_at,
                        ..
                    } if *o == order.order => Ok(Claimed {
                        revision: snap.revision,
                        until: *expires_at,
                        fresh: false,
                    }),
                    _ => Err(Refused::Taken),
                });
            }
            if let Some(revision) = self.swap("hold", &key, held, snap.revision).await? {
                return Ok(Ok(Claimed {
                    revision,
                    until: new_expiry,
                    fresh: true,
                }));
            }
            match self.read(&key).await? {
                Some(s) => (snap, verified) = (s, true),
                None => return Ok(Err(Refused::Unknown)),
            }
        }
        Ok(Err(Refused::Taken))
    }

    /// Best-effort compensation of claims this call made: each goes back to free from the
    /// revision we wrote. A failure here leaves a hold that lapses by itself.
    pub(super) async fn undo_claims(&self, order: &OrderRef, claimed: &[HeldSeat]) {
        for h in claimed {
            let key = keys::seat(order.event, &h.seat);
            if let Err(e) = self.swap("undo", &key, &SeatState::Free, h.revision).await {
                tracing::warn!(seat = %h.seat, error = %e, "could not undo a claim; it will lapse");
            }
        }
    }

    /// Puts seats this confirm sold back to the hold they came from.
    async fn undo_confirm(&self, order: &OrderRef, sold: &[(HeldSeat, Snapshot)]) {
        for (h, before) in sold {
            let key = keys::seat(order.event, &h.seat);
            if let Err(e) = self.swap("undo", &key, &before.state, h.revision).await {
                tracing::error!(seat = %h.seat, error = %e, "could not undo a confirm");
            }
        }
    }
}

/// The expiry of a hold (callers only pass holds; anything else has lapsed long ago).
fn hold_expiry_of(state: &SeatState) -> UnixMillis {
    match *state {
        SeatState::Held { expires_at, .. } => expires_at,
        _ => 0,
    }
}

/// Runs one public operation: its metrics (count by outcome, latency) and the `outcome` field
/// of its span.
pub(super) async fn observed<T>(
    op: &'static str,
    operation: impl std::future::Future<Output = Result<T, SeatError>>,
) -> Result<T, SeatError> {
    let started = Instant::now();
    let result = operation.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    metrics::counter!("boxoffice_seat_ops_total", "op" => op, "outcome" => outcome).increment(1);
    metrics::histogram!("boxoffice_seat_op_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    tracing::Span::current().record("outcome", outcome);
    result
}
