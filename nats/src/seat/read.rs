//! Reading the seat map: one seat, one section, and a live stream of changes.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::kv;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::{SeatError, SeatState, SeatStore, Snapshot};
use crate::{
    ids::{EventId, SeatId, SectionCode},
    namespace::keys,
};

/// How long a section snapshot may take before the store reports NATS as unavailable.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);

/// A seat and its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatView {
    /// The seat.
    pub seat: SeatId,
    /// Its state.
    pub state: SeatState,
    /// KV revision of that state.
    pub revision: u64,
}

/// One change from [`SeatStore::watch_event`].
pub type SeatChange = SeatView;

impl SeatStore {
    /// The current state of one seat, read from the server. `None`: not on sale.
    pub async fn seat(&self, event: EventId, seat: &SeatId) -> Result<Option<SeatView>, SeatError> {
        Ok(self
            .read(&keys::seat(event, seat))
            .await?
            .map(|s| SeatView {
                seat: seat.clone(),
                state: s.state,
                revision: s.revision,
            }))
    }

    /// Every seat of a section with its current state, sorted by seat id.
    pub async fn list_section(
        &self,
        event: EventId,
        section: &SectionCode,
    ) -> Result<Vec<SeatView>, SeatError> {
        let meta = self.event_meta(event).await?;
        let Some(section_meta) = meta.sections.get(section) else {
            return Err(SeatError::UnknownSection {
                event,
                section: section.clone(),
            });
        };
        let mut watch = self
            .inner
            .kv
            .watch_with_history(keys::section_seats(event, section))
            .await
            .map_err(|e| SeatError::unavailable("watching section", e))?;
        let mut seats = Vec::with_capacity(section_meta.units as usize);
        let collect = async {
            while let Some(entry) = watch.next().await {
                let entry = entry.map_err(|e| SeatError::unavailable("reading section", e))?;
                let caught_up = entry.delta == 0;
                if let Some(view) = self.view_of(&entry)? {
                    seats.push(view);
                }
                if caught_up {
                    break;
                }
            }
            Ok::<_, SeatError>(())
        };
        tokio::time::timeout(SNAPSHOT_TIMEOUT, collect)
            .await
            .map_err(|_| SeatError::Unavailable("section snapshot timed out".into()))??;
        seats.sort_by(|a, b| a.seat.cmp(&b.seat));
        Ok(seats)
    }

    /// Every seat of the event as it is now, then every change as it happens: the feed of live
    /// availability. The stream ends only if NATS closes it.
    pub async fn watch_event(
        &self,
        event: EventId,
    ) -> Result<impl Stream<Item = Result<SeatChange, SeatError>> + use<>, SeatError> {
        self.event_meta(event).await?;
        let watch = self
            .inner
            .kv
            .watch_with_history(keys::event_seats(event))
            .await
            .map_err(|e| SeatError::unavailable("watching event", e))?;
        let store = self.clone();
        Ok(watch.filter_map(move |entry| {
            let out = match entry {
                Err(e) => Some(Err(SeatError::unavailable("watching event", e))),
                Ok(entry) => store.view_of(&entry).transpose(),
            };
            std::future::ready(out)
        }))
    }

    /// Decodes a watched entry into a seat view, feeding the cache on the way.
    fn view_of(&self, entry: &kv::Entry) -> Result<Option<SeatView>, SeatError> {
        if entry.operation != kv::Operation::Put {
            return Ok(None);
        }
        let Some(seat) = keys::parse_seat(&entry.key) else {
            return Ok(None);
        };
        let state: SeatState = serde_json::from_slice(&entry.value)
            .map_err(|e| SeatError::unavailable("decoding seat", e))?;
        self.remember(
            &entry.key,
            Snapshot {
                revision: entry.revision,
                state: state.clone(),
            },
        );
        Ok(Some(SeatView {
            seat,
            state,
            revision: entry.revision,
        }))
    }

    /// Keeps this process's view of every seat of the event current from a KV watch, so holds
    /// start from a known revision instead of reading first (an intake process calls this for
    /// the events it serves). Returns once the view holds every seat; idempotent.
    pub async fn track_event(&self, event: EventId) -> Result<(), SeatError> {
        self.event_meta(event).await?;
        self.track(keys::event_seats(event)).await
    }

    /// Keeps this process's view of a section current, started on first use.
    pub(super) async fn track_section(
        &self,
        event: EventId,
        section: &SectionCode,
    ) -> Result<(), SeatError> {
        self.track(keys::section_seats(event, section)).await
    }

    /// Follows the keys matching `filter` into the cache: the current values first (returns
    /// once they are in), then every change, from a background task.
    async fn track(&self, filter: String) -> Result<(), SeatError> {
        let cell = self
            .inner
            .trackers
            .entry(filter.clone())
            .or_insert_with(|| Arc::new(tokio::sync::OnceCell::new()))
            .clone();
        cell.get_or_try_init(|| async {
            let mut watch = self
                .inner
                .kv
                .watch_with_history(&filter)
                .await
                .map_err(|e| SeatError::unavailable("watching seats", e))?;
            let initial = async {
                while let Some(entry) = watch.next().await {
                    let entry = entry.map_err(|e| SeatError::unavailable("reading seats", e))?;
                    self.view_of(&entry)?;
                    if entry.delta == 0 {
                        break;
                    }
                }
                Ok::<_, SeatError>(())
            };
            tokio::time::timeout(SNAPSHOT_TIMEOUT, initial)
                .await
                .map_err(|_| SeatError::Unavailable("seat snapshot timed out".into()))??;
            // The follower holds only a weak reference, so dropping the store stops it.
            let weak = Arc::downgrade(&self.inner);
            let mut dropped = self.inner.dropped.subscribe();
            tokio::spawn(async move {
                loop {
                    let entry = tokio::select! {
                        // Nothing is ever sent: this resolves when the store is dropped.
                        _ = dropped.changed() => return,
                        entry = watch.next() => match entry {
                            Some(entry) => entry,
                            None => break,
                        },
                    };
                    let Some(inner) = weak.upgrade() else { return };
                    let store = SeatStore { inner };
                    match entry {
                        Ok(entry) => {
                            if let Err(e) = store.view_of(&entry) {
                                tracing::warn!(error = %e, "skipping unreadable seat value");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "seat watch failed; will re-track on next use");
                            store.inner.trackers.remove(&filter);
                            return;
                        }
                    }
                }
                if let Some(inner) = weak.upgrade() {
                    inner.trackers.remove(&filter);
                }
            });
            Ok(())
        })
        .await
        .map(|_| ())
    }
}
