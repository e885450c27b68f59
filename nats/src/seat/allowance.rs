//! Checking a buyer's allowance against the seats, and repairing it.
//!
//! The ledger and the seats are separate keys, so a process that dies between writing one and
//! the other leaves them disagreeing: a confirm that marked the order's entry sold and died
//! before swapping the seats leaves a sold entry whose holds lapse, and if the seats then go
//! to others the entry would count against the buyer forever. A release or refund corrects
//! what it meets; [`SeatStore::check_allowance`] lets the reconciler find and repair the rest,
//! one buyer at a time, as a change conditional on the ledger revision it read.

use std::collections::BTreeSet;

use super::{BuyerLedger, SeatError, SeatState, SeatStore, encode};
use crate::{
    ids::{BuyerId, EventId, OrderId},
    namespace::keys,
};

/// A buyer's allowance as [`SeatStore::inspect_allowance`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceFinding {
    /// The event.
    pub event: EventId,
    /// The buyer.
    pub buyer: BuyerId,
    /// The ledger revision the finding was read at (0: the buyer has no ledger).
    pub revision: u64,
    /// Tickets the ledger counts against the limit.
    pub counted: u32,
    /// Tickets of those the seats say the buyer holds or bought.
    pub owned: u32,
    /// Orders whose entries disagree with their seats.
    pub orders: Vec<OrderId>,
    /// The ledger as the seats say it should be.
    corrected: BuyerLedger,
}

impl AllowanceFinding {
    /// Whether the ledger agrees with the seats.
    pub fn agrees(&self) -> bool {
        self.orders.is_empty()
    }
}

/// What [`SeatStore::check_allowance`] or [`SeatStore::repair_allowance`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowanceCheck {
    /// The ledger agrees with the seats; nothing was written.
    Agrees(AllowanceFinding),
    /// The ledger disagreed and was rewritten from the revision read, to agree.
    Repaired(AllowanceFinding),
    /// The ledger disagreed but changed after it was read: nothing was written. Check again.
    Moved(AllowanceFinding),
}

impl SeatStore {
    /// Checks the buyer's allowance against the seats and repairs it if they disagree:
    /// [`Self::inspect_allowance`], then [`Self::repair_allowance`].
    #[tracing::instrument(name = "seat.check_allowance", skip(self))]
    pub async fn check_allowance(
        &self,
        event: EventId,
        buyer: BuyerId,
    ) -> Result<AllowanceCheck, SeatError> {
        let finding = self.inspect_allowance(event, buyer).await?;
        self.repair_allowance(finding).await
    }

    /// Reads the buyer's ledger and, fresh, every seat its live entries name, and says where
    /// they disagree. Changes nothing.
    ///
    /// An entry should name exactly the seats its order owns: sold to it, or held by it (a
    /// hold counts for [`super::SeatStoreOptions::confirm_margin`] past its expiry, so a confirm
    /// still swapping it is not under-counted). It should be sold once any of them is sold. An
    /// entry left with no seats goes. Lapsed entries count for nothing and are left to the
    /// next edit to prune.
    pub async fn inspect_allowance(
        &self,
        event: EventId,
        buyer: BuyerId,
    ) -> Result<AllowanceFinding, SeatError> {
        let (revision, ledger) = self.read_ledger(&keys::buyer(event, buyer)).await?;
        let now = self.now();
        let grace = self.inner.opts.confirm_margin.as_millis() as i64;
        let mut corrected = ledger.clone();
        corrected.prune(now);
        let mut orders = Vec::new();
        for (order, entry) in corrected.orders.iter_mut() {
            let mut owned = BTreeSet::new();
            let mut sold = false;
            for seat in &entry.seats {
                let Some(snap) = self.read(&keys::seat(event, seat)).await? else {
                    continue;
                };
                match snap.state {
                    SeatState::Sold { order: o, .. } if o == *order => sold = true,
                    SeatState::Held {
                        order: o,
                        expires_at,
                        ..
                    } if o == *order && expires_at + grace > now => {}
                    _ => continue,
                }
                owned.insert(seat.clone());
            }
            let sold_now = sold && entry.expires_at.is_some();
            if owned != entry.seats || sold_now {
                orders.push(*order);
                entry.seats = owned;
                if sold {
                    entry.expires_at = None;
                }
            }
        }
        corrected.orders.retain(|_, e| !e.seats.is_empty());
        Ok(AllowanceFinding {
            event,
            buyer,
            revision,
            counted: ledger.active(now),
            owned: corrected.active(now),
            orders,
            corrected,
        })
    }

    /// Writes the ledger a finding says is right, only if the ledger is still at the revision
    /// the finding read (anything that moved since means the finding may be stale: `Moved`,
    /// and nothing is written).
    pub async fn repair_allowance(
        &self,
        finding: AllowanceFinding,
    ) -> Result<AllowanceCheck, SeatError> {
        if finding.agrees() {
            return Ok(AllowanceCheck::Agrees(finding));
        }
        let key = keys::buyer(finding.event, finding.buyer);
        match self
            .inner
            .kv
            .update(&key, encode(&finding.corrected), finding.revision)
            .await
        {
            Ok(revision) => {
                metrics::counter!("boxoffice_seat_allowance_repairs_total").increment(1);
                tracing::warn!(
                    event = %finding.event, buyer = %finding.buyer, counted = finding.counted,
                    owned = finding.owned, orders = ?finding.orders,
                    "buyer allowance disagreed with the seats; repaired"
                );
                self.inner
                    .ledgers
                    .insert(key, (revision, finding.corrected.clone()));
                Ok(AllowanceCheck::Repaired(finding))
            }
            Err(e) if crate::conflict::is_wrong_last_sequence(&e) => {
                Ok(AllowanceCheck::Moved(finding))
            }
            Err(e) => Err(SeatError::unavailable("writing buyer ledger", e)),
        }
    }
}
