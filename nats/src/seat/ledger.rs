//! The per-buyer ledger: how many tickets a buyer holds or owns for an event.
//!
//! The limit is enforced by one compare-and-swap on the buyer's own key, so ten tabs of one
//! buyer serialise on that key while different buyers never contend.

use super::{BuyerLedger, LedgerEntry, OrderRef, SeatError, SeatStore, UnixMillis, encode};
use crate::namespace::keys;
use async_nats::jetstream::kv;

/// The result of a ledger edit closure: write the ledger back, or leave it.
pub(super) enum Edit {
    Write,
    Unchanged,
}

impl SeatStore {
    async fn read_ledger(&self, key: &str) -> Result<(u64, BuyerLedger), SeatError> {
        let entry = self
            .inner
            .kv
            .entry(key)
            .await
            .map_err(|e| SeatError::unavailable("reading buyer ledger", e))?;
        match entry.filter(|e| e.operation == kv::Operation::Put) {
            None => Ok((0, BuyerLedger::default())),
            Some(e) => {
                let ledger = serde_json::from_slice(&e.value)
                    .map_err(|err| SeatError::unavailable("decoding buyer ledger", err))?;
                Ok((e.revision, ledger))
            }
        }
    }

    /// Applies `edit` to the buyer's ledger by compare-and-swap, retrying on conflicts with the
    /// buyer's other concurrent requests. Lapsed entries are pruned first.
    pub(super) async fn edit_ledger(
        &self,
        order: &OrderRef,
        mut edit: impl FnMut(&mut BuyerLedger, UnixMillis) -> Result<Edit, SeatError>,
    ) -> Result<(), SeatError> {
        let key = keys::buyer(order.event, order.buyer);
        // A buyer's own tabs are the only contenders; 32 rounds is far beyond any real race.
        for _ in 0..32 {
            let (revision, mut ledger) = self.read_ledger(&key).await?;
            let now = self.now();
            ledger.prune(now);
            if let Edit::Unchanged = edit(&mut ledger, now)? {
                return Ok(());
            }
            let value = encode(&ledger);
            let written = if revision == 0 {
                // Ledger keys are never deleted, so `create` is a plain "expect no message yet".
                match self.inner.kv.create(&key, value).await {
                    Ok(_) => true,
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(e) => return Err(SeatError::unavailable("creating buyer ledger", e)),
                }
            } else {
                match self.inner.kv.update(&key, value, revision).await {
                    Ok(_) => true,
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(e) => return Err(SeatError::unavailable("writing buyer ledger", e)),
                }
            };
            if written {
                return Ok(());
            }
            metrics::counter!("boxoffice_seat_cas_conflicts_total", "op" => "ledger").increment(1);
        }
        Err(SeatError::Unavailable(
            "buyer ledger kept changing under contention".into(),
        ))
    }

    /// Fails fast, without writing, when the buyer is already at the limit. The authoritative
    /// check is [`Self::reserve`]; this one keeps a buyer at the limit from touching seats.
    pub(super) async fn precheck_limit(
        &self,
        order: &OrderRef,
        limit: u32,
        requested: u32,
    ) -> Result<(), SeatError> {
        let (_, ledger) = self
            .read_ledger(&keys::buyer(order.event, order.buyer))
            .await?;
        let now = self.now();
        if ledger
            .orders
            .get(&order.order)
            .is_some_and(|e| e.expires_at.is_none_or(|t| t > now))
        {
            // A retried hold of the same order is already counted.
            return Ok(());
        }
        let active = ledger.active(now);
        if active + requested > limit {
            return Err(SeatError::LimitReached {
                limit,
                active,
                requested,
            });
        }
        Ok(())
    }

    /// Records the order's hold in the buyer's ledger, unless that would pass the limit.
    ///
    /// `retry` says every seat was already held by this order (a retried request): then an
    /// existing entry is the one the first attempt wrote. Otherwise an existing entry means the
    /// order is trying to hold more seats, which is refused.
    pub(super) async fn reserve(
        &self,
        order: &OrderRef,
        limit: u32,
        qty: u32,
        expires_at: UnixMillis,
        retry: bool,
    ) -> Result<(), SeatError> {
        self.edit_ledger(order, |ledger, now| {
            if ledger.orders.contains_key(&order.order) {
                return if retry {
                    Ok(Edit::Unchanged)
                } else {
                    Err(super::InvalidRequest::OrderAlreadyHolds(order.order).into())
                };
            }
            let active = ledger.active(now);
            if active + qty > limit {
                return Err(SeatError::LimitReached {
                    limit,
                    active,
                    requested: qty,
                });
            }
            ledger.orders.insert(
                order.order,
                LedgerEntry {
                    qty,
                    expires_at: Some(expires_at),
                },
            );
            Ok(Edit::Write)
        })
        .await
    }

    /// Marks the order's entry as sold (it counts for good). Fails with `Lapsed` when the
    /// entry is gone, i.e. the hold lapsed.
    pub(super) async fn mark_sold(
        &self,
        order: &OrderRef,
        seats: &[crate::SeatId],
    ) -> Result<(), SeatError> {
        self.edit_ledger(order, |ledger, _| {
            match ledger.orders.get_mut(&order.order) {
                Some(e) if e.expires_at.is_none() => Ok(Edit::Unchanged),
                Some(e) => {
                    e.expires_at = None;
                    Ok(Edit::Write)
                }
                None => Err(SeatError::Lapsed {
                    seats: seats.to_vec(),
                }),
            }
        })
        .await
    }

    /// Puts a sold entry back to held until `expires_at` (undoing [`Self::mark_sold`] when a
    /// confirm has to be rolled back).
    pub(super) async fn unmark_sold(
        &self,
        order: &OrderRef,
        expires_at: UnixMillis,
    ) -> Result<(), SeatError> {
        self.edit_ledger(order, |ledger, _| {
            match ledger.orders.get_mut(&order.order) {
                Some(e) if e.expires_at.is_none() => {
                    e.expires_at = Some(expires_at);
                    Ok(Edit::Write)
                }
                _ => Ok(Edit::Unchanged),
            }
        })
        .await
    }

    /// Removes the order's entry: a held one on release, a sold one too on refund (a release
    /// must never wipe out tickets the buyer already owns).
    pub(super) async fn forget(&self, order: &OrderRef, sold_too: bool) -> Result<(), SeatError> {
        self.edit_ledger(order, |ledger, _| match ledger.orders.get(&order.order) {
            Some(e) if sold_too || e.expires_at.is_some() => {
                ledger.orders.remove(&order.order);
                Ok(Edit::Write)
            }
            _ => Ok(Edit::Unchanged),
        })
        .await
    }

    /// The buyer's ledger as stored (for inspection and tests).
    pub async fn buyer_ledger(&self, order: &OrderRef) -> Result<BuyerLedger, SeatError> {
        Ok(self
            .read_ledger(&keys::buyer(order.event, order.buyer))
            .await?
            .1)
    }
}
