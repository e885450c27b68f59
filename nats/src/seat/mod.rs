//! The seat store: who owns each seat, changed only by compare-and-swap.
//!
//! Layout (see [`crate::namespace`]): one permanent KV key per seat holding a [`SeatState`],
//! one key per event holding its [`EventMeta`], one key per (event, buyer) holding a
//! [`BuyerLedger`]. Every write is a KV update with the expected revision, so of any number of
//! concurrent writers exactly one wins and the others learn they lost.
//!
//! Multi-seat operations claim seats one by one in a fixed (sorted) order and compensate on the
//! first failure, so no partial hold survives an error; the reasons are in
//! `docs/adr/0002-multi-seat-holds-claim-in-order.md`. A hold carries its expiry in the value, so
//! it lapses by itself even if every process that could release it is gone.
//!
//! The store keeps a cache of `(revision, value)` pairs it has read or written. A cached pair is
//! only ever used as the *hypothesis* of a compare-and-swap: if it is stale the swap fails, the
//! store re-reads and decides again. The cache can make the store faster, never wrong.

mod again;
mod allowance;
mod best;
mod claim;
mod error;
mod ledger;
mod pick;
mod read;
mod renew;
mod repair;
mod state;
mod validate;

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::kv;
use bytes::Bytes;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

pub use allowance::{AllowanceCheck, AllowanceFinding};
pub use error::{InvalidRequest, SeatError};
pub use read::{SeatChange, SeatView};
pub use repair::Freed;
pub use state::{
    Access, Availability, BlockMeta, BlockUnits, BuyerLedger, EventMeta, LedgerEntry, SeatState,
    SectionKind, SectionMeta, Standing, UnixMillis, block_unit_label, may_take,
};
pub use validate::{MAX_PER_BUYER, MAX_SECTION_UNITS};
use validate::{
    section_of, validate_hold, validate_inventory, validate_limit, validate_quantity,
    validate_seats,
};

use crate::{
    ids::{BuyerId, EventId, OrderId, SeatId, SectionCode, UnitLabel},
    namespace::keys,
};

/// Who is asking: the order, its event and its buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderRef {
    /// The event the seats belong to.
    pub event: EventId,
    /// The order.
    pub order: OrderId,
    /// The buyer placing it.
    pub buyer: BuyerId,
}

/// A seat an order holds, with the revision its hold was written at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSeat {
    /// The seat.
    pub seat: SeatId,
    /// KV revision of the hold.
    pub revision: u64,
}

/// A successful hold: every seat requested, held until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The holding order.
    pub order: OrderRef,
    /// The seats, sorted.
    pub seats: Vec<HeldSeat>,
    /// When the hold lapses (Unix milliseconds).
    pub expires_at: UnixMillis,
}

impl Hold {
    /// The held seat ids.
    pub fn seat_ids(&self) -> Vec<SeatId> {
        self.seats.iter().map(|s| s.seat.clone()).collect()
    }
}

/// One section of an inventory to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionInventory {
    /// The section's code.
    pub code: SectionCode,
    /// Its sellable units.
    pub units: SectionUnits,
}

/// The sellable units of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionUnits {
    /// Named seats (what is left after kills and blocks).
    Seated(Vec<UnitLabel>),
    /// A general-admission capacity, stored as units `u1..uN`.
    GeneralAdmission(u32),
}

/// What is sellable for an event: the catalog minus allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInventory {
    /// The event.
    pub event: EventId,
    /// Maximum tickets per buyer.
    pub max_per_buyer: u32,
    /// The sections.
    pub sections: Vec<SectionInventory>,
    /// Presale blocks by section. A seated block names seats listed in its section; a
    /// general-admission block's units are loaded besides the section's `u` units, under their
    /// own labels ([`block_unit_label`]). A gated block's units are sold only to its code
    /// holders; an open one's to anyone.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub blocks: std::collections::BTreeMap<SectionCode, Vec<BlockMeta>>,
}

/// What [`SeatStore::load_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Seat keys created by this call.
    pub created: u64,
    /// Seat keys that already existed and were left untouched.
    pub existing: u64,
}

/// Limits and timings of the store.
#[derive(Debug, Clone)]
pub struct SeatStoreOptions {
    /// Shortest hold accepted.
    pub min_hold: Duration,
    /// Longest hold accepted.
    pub max_hold: Duration,
    /// A confirm needs at least this much hold time left. It covers the time the confirm itself
    /// takes plus clock skew between processes, so a confirm never races a claimer that already
    /// sees the hold as lapsed.
    pub confirm_margin: Duration,
    /// Most units one order may hold.
    pub max_units_per_order: usize,
    /// Compare-and-swap attempts on one key before giving up.
    pub cas_attempts: usize,
    /// How long a process uses its copy of an event's settings (per-buyer limit, sections)
    /// before reading them again: a change written to the seat store (by a reload, or
    /// [`SeatStore::set_max_per_buyer`]) is enforced by every process within this long.
    /// Costs one KV read per event per process per period.
    pub event_meta_ttl: Duration,
    /// The time source for expiry decisions.
    pub clock: Clock,
}

impl Default for SeatStoreOptions {
    fn default() -> Self {
        Self {
            min_hold: Duration::from_secs(1),
            max_hold: Duration::from_secs(3600),
            confirm_margin: Duration::from_secs(2),
            max_units_per_order: 50,
            cas_attempts: 8,
            event_meta_ttl: Duration::from_secs(2),
            clock: Clock::System,
        }
    }
}

/// A `(revision, value)` pair read from or written to the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) revision: u64,
    pub(crate) state: SeatState,
}

/// The seat store. Cheap to clone; clones share the connection and cache.
#[derive(Clone)]
pub struct SeatStore {
    inner: Arc<Inner>,
}

struct Inner {
    kv: kv::Store,
    opts: SeatStoreOptions,
    cache: DashMap<String, Snapshot>,
    /// Each event's settings as last read, kept for [`SeatStoreOptions::event_meta_ttl`].
    events: DashMap<EventId, CachedMeta>,
    /// Last known `(revision, ledger)` per buyer key; a hypothesis like `cache`.
    ledgers: DashMap<String, (u64, BuyerLedger)>,
    trackers: DashMap<String, Arc<tokio::sync::OnceCell<()>>>,
    /// Never sent on: dropped with the store, which stops its trackers at once (they would
    /// otherwise notice only at the next change, holding the connection open till then).
    dropped: tokio::sync::watch::Sender<()>,
    /// Seated sections' layouts for best-available picks, built from the live view.
    layouts: DashMap<(EventId, SectionCode), Arc<best::Layout>>,
}

/// An event's settings and when they were read (by the store's clock).
#[derive(Clone)]
struct CachedMeta {
    meta: Arc<EventMeta>,
    read_at: UnixMillis,
}

impl CachedMeta {
    /// Whether the copy may still be used at `now` (a clock that went back counts as stale).
    fn fresh_at(&self, now: UnixMillis, ttl: Duration) -> bool {
        (self.read_at..self.read_at.saturating_add(ttl.as_millis() as i64)).contains(&now)
    }
}

/// Where the store reads the time. Expiry decisions are made against it, so tests can make
/// holds lapse without sleeping.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's wall clock (production).
    #[default]
    System,
    /// A clock that moves only when told to (tests).
    Manual(Arc<std::sync::atomic::AtomicI64>),
}

impl Clock {
    /// A manual clock starting at the current wall-clock time.
    pub fn manual() -> Self {
        Self::Manual(Arc::new(chrono::Utc::now().timestamp_millis().into()))
    }

    /// The current time in Unix milliseconds.
    pub fn now_ms(&self) -> UnixMillis {
        match self {
            Self::System => chrono::Utc::now().timestamp_millis(),
            Self::Manual(t) => t.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(t) = self {
            t.fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn encode<T: Serialize>(v: &T) -> Bytes {
    // Serialising these plain structs cannot fail (no maps with non-string keys, no I/O).
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

impl SeatStore {
    /// A store over the seat bucket (see [`crate::Topology::provision`]).
    pub fn new(kv: kv::Store, opts: SeatStoreOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                kv,
                opts,
                cache: DashMap::new(),
                events: DashMap::new(),
                ledgers: DashMap::new(),
                trackers: DashMap::new(),
                dropped: tokio::sync::watch::channel(()).0,
                layouts: DashMap::new(),
            }),
        }
    }

    /// The current time by the store's clock.
    pub fn now(&self) -> UnixMillis {
        self.inner.opts.clock.now_ms()
    }

    /// The options in force.
    pub fn options(&self) -> &SeatStoreOptions {
        &self.inner.opts
    }

    /// Loads an event's sellable inventory: creates every missing seat key as free and then
    /// writes the event's metadata. Idempotent and additive: an existing seat keeps its state
    /// (a reload never frees a held or sold seat).
    #[tracing::instrument(name = "seat.load_event", skip_all, fields(event = %inv.event))]
    pub async fn load_event(&self, inv: &EventInventory) -> Result<LoadReport, SeatError> {
        use futures::{StreamExt, TryStreamExt};

        let meta = validate_inventory(inv)?;
        let free = encode(&SeatState::Free);
        let block_units = inv.blocks.iter().flat_map(|(code, blocks)| {
            blocks.iter().flat_map(move |b| match &b.units {
                BlockUnits::Quantity(n) => (1..=*n)
                    .map(|i| {
                        let label = block_unit_label(b.id, i);
                        keys::seat(inv.event, &SeatId::new(code.clone(), label))
                    })
                    .collect::<Vec<_>>(),
                // A seated block's seats are listed with its section's.
                BlockUnits::Seats(_) => Vec::new(),
            })
        });
        let keys: Vec<String> = inv
            .sections
            .iter()
            .flat_map(|s| match &s.units {
                SectionUnits::Seated(labels) => labels
                    .iter()
                    .map(|l| keys::seat(inv.event, &SeatId::new(s.code.clone(), l.clone())))
                    .collect::<Vec<_>>(),
                SectionUnits::GeneralAdmission(n) => (1..=*n)
                    .map(|i| keys::seat(inv.event, &SeatId::general_admission(&s.code, i)))
                    .collect(),
            })
            .chain(block_units)
            .collect();
        let kv = &self.inner.kv;
        let outcomes: Vec<bool> = futures::stream::iter(keys)
            .map(|key| {
                let free = free.clone();
                async move {
                    match kv.create(&key, free).await {
                        Ok(revision) => {
                            self.remember(
                                &key,
                                Snapshot {
                                    revision,
                                    state: SeatState::Free,
                                },
                            );
                            Ok(true)
                        }
                        // Seat keys are never deleted, so a refused create is an existing key.
                        Err(e)
                            if e.kind() == kv::CreateErrorKind::AlreadyExists
                                || crate::conflict::is_wrong_last_sequence(&e) =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(SeatError::unavailable("creating seat key", e)),
                    }
                }
            })
            .buffer_unordered(256)
            .try_collect()
            .await?;
        let created = outcomes.iter().filter(|c| **c).count() as u64;
        kv.put(keys::event_meta(inv.event), encode(&meta))
            .await
            .map_err(|e| SeatError::unavailable("writing event metadata", e))?;
        self.cache_meta(inv.event, Arc::new(meta), self.now());
        Ok(LoadReport {
            created,
            existing: outcomes.len() as u64 - created,
        })
    }

    /// The event's metadata. A copy read less than [`SeatStoreOptions::event_meta_ttl`] ago is
    /// used as it is; an older one is read again, so a change of the event's settings reaches
    /// every process within that bound.
    pub async fn event_meta(&self, event: EventId) -> Result<Arc<EventMeta>, SeatError> {
        let now = self.now();
        if let Some(cached) = self.inner.events.get(&event)
            && cached.fresh_at(now, self.inner.opts.event_meta_ttl)
        {
            return Ok(cached.meta.clone());
        }
        let (_, meta) = self.read_meta(event).await?;
        let meta = Arc::new(meta);
        self.cache_meta(event, meta.clone(), now);
        Ok(meta)
    }

    /// Sets the event's per-buyer limit (an organizer's change during the sale) by
    /// compare-and-swap on its metadata; every process enforces it within
    /// [`SeatStoreOptions::event_meta_ttl`]. Tickets a buyer already holds or owns are never
    /// taken back: a buyer over a lowered limit just cannot take more. Returns whether the
    /// stored limit changed. `UnknownEvent` if the event is not loaded (its load writes the
    /// limit then).
    ///
    /// [`Self::load_event`] writes the whole metadata without comparing, so the two must not
    /// race for one event: the on-sale workflow runs both, one at a time.
    #[tracing::instrument(name = "seat.set_max_per_buyer", skip(self))]
    pub async fn set_max_per_buyer(
        &self,
        event: EventId,
        max_per_buyer: u32,
    ) -> Result<bool, SeatError> {
        validate_limit(max_per_buyer)?;
        for _ in 0..self.inner.opts.cas_attempts {
            let now = self.now();
            let (revision, mut meta) = self.read_meta(event).await?;
            if meta.max_per_buyer == max_per_buyer {
                self.cache_meta(event, Arc::new(meta), now);
                return Ok(false);
            }
            meta.max_per_buyer = max_per_buyer;
            match self
                .inner
                .kv
                .update(keys::event_meta(event), encode(&meta), revision)
                .await
            {
                Ok(_) => {
                    self.cache_meta(event, Arc::new(meta), now);
                    return Ok(true);
                }
                Err(e) if crate::conflict::is_wrong_last_sequence(&e) => continue,
                Err(e) => return Err(SeatError::unavailable("writing event metadata", e)),
            }
        }
        Err(SeatError::Unavailable(
            "event metadata kept changing under contention".into(),
        ))
    }

    /// Reads the event's metadata and its revision from the server.
    async fn read_meta(&self, event: EventId) -> Result<(u64, EventMeta), SeatError> {
        let entry = self
            .inner
            .kv
            .entry(keys::event_meta(event))
            .await
            .map_err(|e| SeatError::unavailable("reading event metadata", e))?;
        let entry = match entry {
            Some(e) if e.operation == kv::Operation::Put => e,
            _ => return Err(SeatError::UnknownEvent(event)),
        };
        let meta = serde_json::from_slice(&entry.value)
            .map_err(|e| SeatError::unavailable("decoding event metadata", e))?;
        Ok((entry.revision, meta))
    }

    /// Keeps `meta`, read (or written) at `read_at`, unless a copy read later is kept already.
    fn cache_meta(&self, event: EventId, meta: Arc<EventMeta>, read_at: UnixMillis) {
        self.inner
            .events
            .entry(event)
            .and_modify(|cur| {
                if read_at >= cur.read_at {
                    *cur = CachedMeta {
                        meta: meta.clone(),
                        read_at,
                    };
                }
            })
            .or_insert(CachedMeta { meta, read_at });
    }

    // ---- low-level reads and writes, shared by the operations ----

    fn remember(&self, key: &str, snap: Snapshot) {
        self.inner
            .cache
            .entry(key.to_owned())
            .and_modify(|cur| {
                if snap.revision > cur.revision {
                    *cur = snap.clone();
                }
            })
            .or_insert(snap);
    }

    /// Reads a seat key from the server (never the cache). `None`: no such seat.
    async fn read(&self, key: &str) -> Result<Option<Snapshot>, SeatError> {
        let entry = self
            .inner
            .kv
            .entry(key)
            .await
            .map_err(|e| SeatError::unavailable("reading seat", e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        let state: SeatState = serde_json::from_slice(&entry.value)
            .map_err(|e| SeatError::unavailable("decoding seat", e))?;
        let snap = Snapshot {
            revision: entry.revision,
            state,
        };
        self.remember(key, snap.clone());
        Ok(Some(snap))
    }

    /// Compare-and-swap: writes `state` if the key is still at `revision`. `Ok(None)` means
    /// another writer got there first.
    async fn swap(
        &self,
        op: &'static str,
        key: &str,
        state: &SeatState,
        revision: u64,
    ) -> Result<Option<u64>, SeatError> {
        match self.inner.kv.update(key, encode(state), revision).await {
            Ok(rev) => {
                self.remember(
                    key,
                    Snapshot {
                        revision: rev,
                        state: state.clone(),
                    },
                );
                Ok(Some(rev))
            }
            Err(e) if crate::conflict::is_wrong_last_sequence(&e) => {
                metrics::counter!("boxoffice_seat_cas_conflicts_total", "op" => op).increment(1);
                // The cached pair is stale: drop it so the next decision reads the server.
                self.inner
                    .cache
                    .remove_if(key, |_, s| s.revision <= revision);
                Ok(None)
            }
            Err(e) => Err(SeatError::unavailable("writing seat", e)),
        }
    }
}
