//! Picks on a general-admission section: the store chooses the units, from a random start,
//! among those the caller's access lets it take.

use std::time::Duration;

use rand::Rng;

use super::{
    Access, BlockUnits, HeldSeat, Hold, InvalidRequest, OrderRef, SeatError, SeatState, SeatStore,
    SectionKind, SectionMeta, block_unit_label, claim::observed, section_of, validate_hold,
    validate_quantity,
};
use crate::{
    ids::{BlockId, SeatId, SectionCode},
    namespace::keys,
};

/// Scans of a general-admission section before a pick reports it sold out.
const PICK_PASSES: usize = 3;
/// Fresh starts of a pick that came up short while the section still counted enough units.
const PICK_ATTEMPTS: usize = 6;

impl SeatStore {
    /// Picks and holds `quantity` free units of a general-admission section.
    ///
    /// Each call starts at a random unit and walks the section, so concurrent buyers spread
    /// over the units instead of all fighting for the first free one (no hot key). The walk
    /// reads a live view of the section fed by a KV watch; every claim is still a
    /// compare-and-swap, so a stale view costs a retry, never a double sale.
    ///
    /// Picking again for the same order (a redelivered or retried request) returns the hold
    /// the first pick took, found through the buyer's ledger, rather than picking other units.
    #[tracing::instrument(name = "seat.pick", skip_all,
        fields(event = %order.event, order = %order.order, section = %section, quantity, outcome = tracing::field::Empty))]
    pub async fn pick_general_admission(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        hold_for: Duration,
    ) -> Result<Hold, SeatError> {
        self.pick_general_admission_with(order, section, quantity, hold_for, Access::General)
            .await
    }

    /// [`Self::pick_general_admission`] for a caller with `access`: a general pick walks the
    /// section's `u` units and the units of its released blocks, a block's pick only that
    /// block's units (see [`may_take`]).
    pub async fn pick_general_admission_with(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        observed("pick", async {
            let picked = self
                .pick_inner(order, section, quantity, hold_for, access)
                .await;
            self.or_earlier_hold(order, section, quantity, picked).await
        })
        .await
    }

    async fn pick_inner(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        quantity: u32,
        hold_for: Duration,
        access: Access,
    ) -> Result<Hold, SeatError> {
        validate_quantity(&self.inner.opts, quantity)?;
        validate_hold(&self.inner.opts, hold_for)?;
        let meta = self.event_meta(order.event).await?;
        let section_meta = section_of(&meta, order.event, section)?;
        if section_meta.kind != SectionKind::GeneralAdmission {
            return Err(InvalidRequest::NotGeneralAdmission(section.clone()).into());
        }
        self.precheck_limit(order, meta.max_per_buyer, quantity)
            .await?;
        self.track_section(order.event, section).await?;

        let pool = Pool::of(section, section_meta, access);
        let expires_at = self.now() + hold_for.as_millis() as i64;
        let held = SeatState::Held {
            order: order.order,
            buyer: order.buyer,
            expires_at,
        };
        // Near sell-out, units are briefly held by picks that will give them back (a pick that
        // came up short compensates). Before calling the section sold out, let those settle and
        // look again with a fresh snapshot, a bounded number of times. If the pick still comes
        // up short, it gives back what it took and counts again: many short picks holding each
        // other's units must not all answer "sold out" while enough units are free, so while
        // the fresh count says there are enough, it starts over after a random back-off.
        let mut attempt = 0;
        let mut claimed = loop {
            let claimed = self
                .pick_passes(order, section, &pool, quantity, &held)
                .await?;
            if claimed.len() == quantity as usize {
                break claimed;
            }
            self.undo_claims(order, &claimed).await;
            // The section's tracker feeds the view within moments of any change (and is
            // restarted here if its watch broke). Never a new watch per pick: each one is a
            // consumer the cluster must create and delete, which under a storm of picks is
            // the cost, and after a node loss, a pile of orphans.
            self.track_section(order.event, section).await?;
            let available = self.count_claimable(order.event, &pool);
            attempt += 1;
            if available < quantity || attempt == PICK_ATTEMPTS {
                return Err(SeatError::SoldOut {
                    section: section.clone(),
                    requested: quantity,
                    available,
                });
            }
            let backoff = rand::rng().random_range(10..60 * attempt as u64);
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        };
        if let Err(e) = self
            .reserve(
                order,
                meta.max_per_buyer,
                &claimed.iter().map(|h| h.seat.clone()).collect::<Vec<_>>(),
                expires_at,
                false,
            )
            .await
        {
            self.undo_claims(order, &claimed).await;
            return Err(e);
        }
        claimed.sort_by(|a, b| a.seat.cmp(&b.seat));
        Ok(Hold {
            order: *order,
            seats: claimed,
            expires_at,
        })
    }

    /// Claims up to `quantity` units of a general-admission section from a random start, in
    /// [`PICK_PASSES`] scans that keep what they took; returns the claims (fewer than asked
    /// when the section looked short). On an error, what was taken is given back.
    async fn pick_passes(
        &self,
        order: &OrderRef,
        section: &SectionCode,
        pool: &Pool<'_>,
        quantity: u32,
        held: &SeatState,
    ) -> Result<Vec<HeldSeat>, SeatError> {
        let mut claimed: Vec<HeldSeat> = Vec::with_capacity(quantity as usize);
        let units = pool.len();
        if units == 0 {
            return Ok(claimed);
        }
        for pass in 0..PICK_PASSES {
            let start = rand::rng().random_range(0..units);
            for i in 0..units {
                if claimed.len() == quantity as usize {
                    break;
                }
                let seat = pool.seat((start + i) % units);
                let key = keys::seat(order.event, &seat);
                let Some(snap) = self.inner.cache.get(&key).map(|s| s.clone()) else {
                    continue;
                };
                if !snap.state.is_claimable(self.now()) {
                    continue;
                }
                match self.swap("pick", &key, held, snap.revision).await {
                    Ok(Some(revision)) => claimed.push(HeldSeat { seat, revision }),
                    // Someone else took it (or our view was stale): move on to the next unit.
                    Ok(None) => {}
                    Err(e) => {
                        self.undo_claims(order, &claimed).await;
                        return Err(e);
                    }
                }
            }
            if claimed.len() == quantity as usize || pass + 1 == PICK_PASSES {
                break;
            }
            let jitter = rand::rng().random_range(0..20);
            tokio::time::sleep(Duration::from_millis(20 * (pass as u64 + 1) + jitter)).await;
            if let Err(e) = self.track_section(order.event, section).await {
                self.undo_claims(order, &claimed).await;
                return Err(e);
            }
        }
        Ok(claimed)
    }

    fn count_claimable(&self, event: crate::EventId, pool: &Pool<'_>) -> u32 {
        let now = self.now();
        (0..pool.len())
            .filter(|i| {
                let key = keys::seat(event, &pool.seat(*i));
                self.inner
                    .cache
                    .get(&key)
                    .is_some_and(|s| s.state.is_claimable(now))
            })
            .count() as u32
    }
}

/// The units of a general-admission section a pick with some access may walk: the section's
/// `u` units and its released blocks' units (general), or one gated block's units. Indexed
/// `0..len`, so a pick can start anywhere and wrap around.
struct Pool<'a> {
    section: &'a SectionCode,
    /// `u1..u<general>`.
    general: u32,
    /// Blocks' units after those, in order: `(block, units)`.
    blocks: Vec<(BlockId, u32)>,
}

impl<'a> Pool<'a> {
    fn of(section: &'a SectionCode, meta: &SectionMeta, access: Access) -> Self {
        let quantity = |units: &BlockUnits| match units {
            BlockUnits::Quantity(n) => *n,
            BlockUnits::Seats(_) => 0,
        };
        let (general, blocks) = match access {
            Access::General => (
                meta.units,
                meta.blocks
                    .iter()
                    .filter(|b| b.open)
                    .map(|b| (b.id, quantity(&b.units)))
                    .collect(),
            ),
            Access::Block(id) => (
                0,
                meta.gated_block(id)
                    .map(|b| (b.id, quantity(&b.units)))
                    .into_iter()
                    .collect(),
            ),
        };
        Self {
            section,
            general,
            blocks,
        }
    }

    fn len(&self) -> u32 {
        self.general + self.blocks.iter().map(|b| b.1).sum::<u32>()
    }

    /// The `i`th unit, `i < len`.
    fn seat(&self, i: u32) -> SeatId {
        if i < self.general {
            return SeatId::general_admission(self.section, i + 1);
        }
        let mut rest = i - self.general;
        for (block, n) in &self.blocks {
            if rest < *n {
                return SeatId::new(self.section.clone(), block_unit_label(*block, rest + 1));
            }
            rest -= n;
        }
        // Out of range (callers stay below `len`): a unit that is never claimable.
        SeatId::general_admission(self.section, 0)
    }
}
