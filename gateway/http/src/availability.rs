//! Live seat availability per event, kept in memory from the seat store's change stream (a KV
//! watch), so seat maps, counters, order validation and the pacer's sold-out check never read
//! NATS per request.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, RwLock},
    time::Duration,
};

use boxoffice_nats::{
    EventId, SeatId, SeatStore, SectionCode,
    seat::{Access, Availability as SeatAvailability, EventMeta, SeatState, UnixMillis, may_take},
};
use boxoffice_workflows::service::Background;
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

/// Counts of one section (or the whole event).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Can be bought now (free, or held by a lapsed hold).
    pub available: u32,
    /// Held by an order that is paying.
    pub held: u32,
    /// Sold.
    pub sold: u32,
}

impl Counts {
    fn add(&mut self, a: SeatAvailability) {
        match a {
            SeatAvailability::Free => self.available += 1,
            SeatAvailability::Held => self.held += 1,
            SeatAvailability::Sold => self.sold += 1,
            SeatAvailability::Unavailable => {}
        }
    }

    fn merge(&mut self, other: Counts) {
        self.available += other.available;
        self.held += other.held;
        self.sold += other.sold;
    }
}

struct EventSeats {
    /// Per section, sorted by seat, so a section's map is read without scanning the event.
    sections: HashMap<SectionCode, BTreeMap<SeatId, SeatState>>,
    /// Seats known (the sum of the sections' sizes).
    len: usize,
    /// Set once the watch has delivered every seat as it was.
    ready: bool,
    /// The event's settings as last read: which seats are gated to a presale block.
    meta: Arc<EventMeta>,
}

impl EventSeats {
    fn get(&self, seat: &SeatId) -> Option<&SeatState> {
        self.sections.get(&seat.section)?.get(seat)
    }

    fn iter(&self) -> impl Iterator<Item = (&SeatId, &SeatState)> {
        self.sections.values().flat_map(|s| s.iter())
    }

    /// What a caller with `access` sees of a seat: its live state if the gate lets the caller
    /// take it, else `unavailable`.
    fn seen(
        &self,
        seat: &SeatId,
        state: &SeatState,
        access: Access,
        now: UnixMillis,
    ) -> SeatAvailability {
        if may_take(&self.meta, seat, access) {
            state.availability(now)
        } else {
            SeatAvailability::Unavailable
        }
    }
}

impl Default for EventSeats {
    fn default() -> Self {
        Self {
            sections: HashMap::new(),
            len: 0,
            ready: false,
            meta: Arc::new(EventMeta {
                max_per_buyer: 0,
                sections: BTreeMap::new(),
            }),
        }
    }
}

/// One seat's change, as the watch delivered it.
#[derive(Debug, Clone)]
pub struct SeatChange {
    /// The event.
    pub event: EventId,
    /// The seat.
    pub seat: SeatId,
    /// Its new state.
    pub state: SeatState,
}

/// The tracker. Cheap to clone.
#[derive(Clone)]
pub struct Availability {
    store: SeatStore,
    events: Arc<RwLock<HashMap<EventId, Arc<RwLock<EventSeats>>>>>,
    /// Every change of every followed event, for live dashboards (a slow reader lags and
    /// resynchronises from a snapshot; the watch never waits for it).
    changes: tokio::sync::broadcast::Sender<SeatChange>,
    /// Where the followers run (they stop with it).
    background: Background,
}

impl Availability {
    /// A tracker over `store`; events are followed from their first use, in `background`.
    pub fn new(store: SeatStore, background: Background) -> Self {
        Self {
            store,
            events: Arc::default(),
            changes: tokio::sync::broadcast::channel(8_192).0,
            background,
        }
    }

    /// Seat changes from now on (of every followed event).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SeatChange> {
        self.changes.subscribe()
    }

    /// Every seat of the event with its full state (`None` until the view is complete).
    pub fn states(&self, event: EventId) -> Option<Vec<(SeatId, SeatState)>> {
        if !self.ensure(event) {
            return None;
        }
        let seats = self.seats_of(event)?;
        let seats = seats.read().unwrap_or_else(|e| e.into_inner());
        Some(seats.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// The store's clock (expiry decisions use the same time as holds do).
    pub fn now(&self) -> UnixMillis {
        self.store.now()
    }

    fn seats_of(&self, event: EventId) -> Option<Arc<RwLock<EventSeats>>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&event)
            .cloned()
    }

    /// Starts following the event (idempotent) and reports whether its view is complete.
    /// An event that is not in the seat store yet is retried on the next call.
    pub fn ensure(&self, event: EventId) -> bool {
        if let Some(seats) = self.seats_of(event) {
            return seats.read().unwrap_or_else(|e| e.into_inner()).ready;
        }
        let seats = Arc::new(RwLock::new(EventSeats::default()));
        {
            let mut events = self.events.write().unwrap_or_else(|e| e.into_inner());
            if events.contains_key(&event) {
                return false;
            }
            events.insert(event, seats.clone());
        }
        let tracker = self.clone();
        self.background.spawn(async move {
            tracker.follow(event, seats).await;
            // Ended (not loaded yet, or the watch broke): forget it so the next use retries.
            tokio::time::sleep(Duration::from_secs(1)).await;
            tracker
                .events
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&event);
        });
        false
    }

    async fn follow(&self, event: EventId, seats: Arc<RwLock<EventSeats>>) {
        let Ok(meta) = self.store.event_meta(event).await else {
            return;
        };
        let total: u32 = meta.sections.values().map(|s| s.keys()).sum();
        seats.write().unwrap_or_else(|e| e.into_inner()).meta = meta;
        let mut watch = match self.store.watch_event(event).await {
            Ok(w) => Box::pin(w),
            Err(e) => {
                tracing::warn!(%event, error = %e, "cannot watch seats");
                return;
            }
        };
        // The gates change when a block is released (the event is reloaded): read the
        // settings again at the pace the seat store lets a process keep them.
        let mut reread = tokio::time::interval(self.store.options().event_meta_ttl);
        reread.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let change = tokio::select! {
                change = watch.next() => match change {
                    Some(change) => change,
                    None => break,
                },
                _ = reread.tick() => {
                    if let Ok(meta) = self.store.event_meta(event).await {
                        seats.write().unwrap_or_else(|e| e.into_inner()).meta = meta;
                    }
                    continue;
                }
            };
            match change {
                Ok(change) => {
                    let mut s = seats.write().unwrap_or_else(|e| e.into_inner());
                    let section = s.sections.entry(change.seat.section.clone()).or_default();
                    if section
                        .insert(change.seat.clone(), change.state.clone())
                        .is_none()
                    {
                        s.len += 1;
                    }
                    if !s.ready && s.len as u32 >= total {
                        s.ready = true;
                    }
                    drop(s);
                    let _ = self.changes.send(SeatChange {
                        event,
                        seat: change.seat,
                        state: change.state,
                    });
                }
                Err(e) => {
                    tracing::warn!(%event, error = %e, "seat watch failed");
                    return;
                }
            }
        }
    }

    /// Counts per section and in total, as of now; `None` until the event's view is complete.
    pub fn counts(&self, event: EventId) -> Option<(BTreeMap<SectionCode, Counts>, Counts)> {
        if !self.ensure(event) {
            return None;
        }
        let seats = self.seats_of(event)?;
        let seats = seats.read().unwrap_or_else(|e| e.into_inner());
        let now = self.now();
        // Section by section: one key per section, not a cloned section code per seat (that
        // clone was the gateway's largest cost in the 1,000,000-buyer run, at 20,000 seats and
        // every pacer tick and event read).
        let mut by_section: BTreeMap<SectionCode, Counts> = BTreeMap::new();
        let mut total = Counts::default();
        for (code, section) in &seats.sections {
            // A gated block's units are not the public's: counted nowhere.
            let mut counts = Counts::default();
            for (seat, state) in section {
                counts.add(seats.seen(seat, state, Access::General, now));
            }
            total.merge(counts);
            by_section.insert(code.clone(), counts);
        }
        Some((by_section, total))
    }

    /// Every seat of a section (or of the event) with what a caller with `access` sees (the
    /// public: [`Access::General`]), sorted: a seat the gate keeps from the caller is
    /// `unavailable`.
    pub fn seat_map(
        &self,
        event: EventId,
        section: Option<&SectionCode>,
        access: Access,
    ) -> Option<Vec<(SeatId, SeatAvailability)>> {
        if !self.ensure(event) {
            return None;
        }
        let seats = self.seats_of(event)?;
        let seats = seats.read().unwrap_or_else(|e| e.into_inner());
        let now = self.now();
        let view = |(s, st): (&SeatId, &SeatState)| (s.clone(), seats.seen(s, st, access, now));
        Some(match section {
            Some(code) => seats
                .sections
                .get(code)
                .map(|m| m.iter().map(view).collect())
                .unwrap_or_default(),
            None => {
                let mut out: Vec<_> = seats.iter().map(view).collect();
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out
            }
        })
    }

    /// Whether the seat is for sale in this event (`None`: the view is not complete yet).
    pub fn has_seat(&self, event: EventId, seat: &SeatId) -> Option<bool> {
        if !self.ensure(event) {
            return None;
        }
        let seats = self.seats_of(event)?;
        let seats = seats.read().unwrap_or_else(|e| e.into_inner());
        Some(seats.get(seat).is_some())
    }

    /// Of `wanted`, the seats this view already shows held or sold, or gated from a caller
    /// with `access`, so an order that cannot win is answered at once instead of costing a
    /// workflow. Advisory only: a seat free here may still be taken by the time the hold runs;
    /// the hold's compare-and-swap (and its gate rule) decides. `None` until the event's view
    /// is complete.
    pub fn taken(&self, event: EventId, wanted: &[SeatId], access: Access) -> Option<Vec<SeatId>> {
        if !self.ensure(event) {
            return None;
        }
        let seats = self.seats_of(event)?;
        let seats = seats.read().unwrap_or_else(|e| e.into_inner());
        let now = self.now();
        Some(
            wanted
                .iter()
                .filter(|s| {
                    seats.get(s).is_some_and(|st| {
                        !st.is_claimable(now) || !may_take(&seats.meta, s, access)
                    })
                })
                .cloned()
                .collect(),
        )
    }
}
