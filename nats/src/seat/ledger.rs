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
    /// Reads the ledger under `key` from the server: `(revision, ledger)`, `(0, empty)` when
    /// the buyer has none yet.
    pub(super) async fn read_ledger(&self, key: &str) -> Result<(u64, BuyerLedger), SeatError> {
        let entry = self
            .inner
            .kv
            .entry(key)
            .await
            .map_err(|e| SeatError::unavailable("reading buyer ledger", e))?;
        let read = match entry.filter(|e| e.operation == kv::Operation::Put) {
            None => (0, BuyerLedger::default()),
            Some(e) => {
                let ledger = serde_json::from_slice(&e.value)
                    .map_err(|err| SeatError::unavailable("decoding buyer ledger", err))?;
                (e.revision, ledger)
            }
        };
        self.inner.ledgers.insert(key.to_owned(), read.clone());
        Ok(read)
    }

    /// Applies `edit` to the buyer's ledger by compare-and-swap, retrying on conflicts with the
    /// buyer's other concurrent requests. Lapsed entries are pruned first.
    ///
    /// The first attempt starts from this process's last known ledger, or from "no ledger yet"
    /// (a buyer's first hold, the common case), and writes without reading: a wrong guess only
    /// fails the swap. An edit that refuses, or has nothing to write, is re-run on a fresh read
    /// before its answer counts.
    pub(super) async fn edit_ledger(
        &self,
        order: &OrderRef,
        mut edit: impl FnMut(&mut BuyerLedger, UnixMillis) -> Result<Edit, SeatError>,
    ) -> Result<(), SeatError> {
        let key = keys::buyer(order.event, order.buyer);
        let mut guess = Some(
            self.inner
                .ledgers
                .get(&key)
                .map(|l| l.clone())
                .unwrap_or_default(),
        );
        // A buyer's own tabs are the only contenders; 32 rounds is far beyond any real race.
        for _ in 0..32 {
            let verified = guess.is_none();
            let (revision, mut ledger) = match guess.take() {
                Some(g) => g,
                None => self.read_ledger(&key).await?,
            };
            let now = self.now();
            ledger.prune(now);
            match edit(&mut ledger, now) {
                Ok(Edit::Write) => {}
                Ok(Edit::Unchanged) if verified => return Ok(()),
                Err(e) if verified => return Err(e),
                // Decided on a guess: confirm on the real ledger.
                _ => continue,
            }
            // Revision 0 expects no message yet: ledger keys are never deleted, so this is an
            // atomic create without the delete-marker emulation of `kv.create`.
            let value = encode(&ledger);
            match self.inner.kv.update(&key, value, revision).await {
                Ok(rev) => {
                    self.inner.ledgers.insert(key, (rev, ledger));
                    return Ok(());
                }
                Err(e) if crate::conflict::is_wrong_last_sequence(&e) => {
                    metrics::counter!("boxoffice_seat_cas_conflicts_total", "op" => "ledger")
                        .increment(1);
                }
                Err(e) => return Err(SeatError::unavailable("writing buyer ledger", e)),
            }
        }
        Err(SeatError::Unavailable(
            "buyer ledger kept changing under contention".into(),
        ))
    }

    /// Fails fast when the buyer is at the limit, so a buyer hammering the button at the limit
    /// does not touch (and briefly block) seats. No I/O unless this process last saw the buyer
    /// at the limit, and then a fresh read decides. The authoritative check is
    /// [`Self::reserve`], after the seats are claimed.
    pub(super) async fn precheck_limit(
        &self,
        order: &OrderRef,
        limit: u32,
        requested: u32,
    ) -> Result<(), SeatError> {
        let key = keys::buyer(order.event, order.buyer);
        let over = |ledger: &BuyerLedger, now: UnixMillis| {
            let retry = ledger
                .orders
                .get(&order.order)
                .is_some_and(|e| e.expires_at.is_none_or(|t| t > now));
            let active = ledger.active(now);
            // A retried hold of the same order is already counted.
            (!retry && active + requested > limit).then_some(active)
        };
        let cached_over = match self.inner.ledgers.get(&key) {
            Some(cached) => over(&cached.1, self.now()).is_some(),
            None => false,
        };
        if !cached_over {
            return Ok(());
        }
        // Only a fresh read may refuse: the cached ledger may predate a release elsewhere.
        let (_, ledger) = self.read_ledger(&key).await?;
        match over(&ledger, self.now()) {
            Some(active) => Err(SeatError::LimitReached {
                limit,
                active,
                requested,
            }),
            None => Ok(()),
        }
    }

    /// Records the order's hold in the buyer's ledger, unless that would pass the limit.
    ///
    /// `retry` says every seat was already held by this order (a retried request): then an
    /// existing entry is the one the first attempt wrote. Otherwise an existing entry means the
    /// order is trying to hold more seats, which is refused, unless it names exactly these
    /// seats (a concurrent delivery of the same request): then it is written again, so an
    /// allowance repair that read the seats before this call claimed some of them finds the
    /// ledger moved and writes nothing. An order whose entry is sold takes no new seats.
    pub(super) async fn reserve(
        &self,
        order: &OrderRef,
        limit: u32,
        seats: &[crate::SeatId],
        expires_at: UnixMillis,
        retry: bool,
    ) -> Result<(), SeatError> {
        let qty = seats.len() as u32;
        self.edit_ledger(order, |ledger, now| {
            if let Some(entry) = ledger.orders.get(&order.order) {
                // The same request charged already: by an earlier attempt, or by a concurrent
                // delivery of it that claimed some of these seats while this call claimed the
                // others. Either way the hold is one hold; refusing here would make this call
                // undo seats the other counts as its own.
                let same = entry.seats.len() == seats.len()
                    && seats.iter().all(|s| entry.seats.contains(s));
                let held = entry.expires_at.is_some();
                return if retry {
                    Ok(Edit::Unchanged)
                } else if same && held {
                    Ok(Edit::Write)
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
                    seats: seats.iter().cloned().collect(),
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

    /// Moves the expiry of the order's held entry to `expires_at` (a renewed hold). Fails with
    /// `Lapsed` when the entry is gone, i.e. the hold lapsed and the ledger dropped it.
    pub(super) async fn extend_entry(
        &self,
        order: &OrderRef,
        expires_at: UnixMillis,
    ) -> Result<(), SeatError> {
        self.edit_ledger(order, |ledger, _| {
            match ledger.orders.get_mut(&order.order) {
                Some(e) if e.expires_at == Some(expires_at) => Ok(Edit::Unchanged),
                Some(e) if e.expires_at.is_some() => {
                    e.expires_at = Some(expires_at);
                    Ok(Edit::Write)
                }
                Some(_) => Ok(Edit::Unchanged),
                None => Err(SeatError::Lapsed { seats: Vec::new() }),
            }
        })
        .await
    }

    /// Takes `gone` (seats no longer owned by the order: released, refunded, or lost to a
    /// lapse) out of the order's entry, dropping the entry when it is empty. Idempotent.
    pub(super) async fn give_back_allowance(
        &self,
        order: &OrderRef,
        gone: &[crate::SeatId],
    ) -> Result<(), SeatError> {
        if gone.is_empty() {
            return Ok(());
        }
        self.edit_ledger(order, |ledger, _| {
            match ledger.orders.get_mut(&order.order) {
                Some(e) if gone.iter().any(|s| e.seats.contains(s)) => {
                    for s in gone {
                        e.seats.remove(s);
                    }
                    if e.seats.is_empty() {
                        ledger.orders.remove(&order.order);
                    }
                    Ok(Edit::Write)
                }
                _ => Ok(Edit::Unchanged),
            }
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
