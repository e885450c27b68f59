//! The live sales dashboard's feed: one task per watched event, shared by every viewer.
//!
//! The task turns the gateway's in-memory seat view (itself fed by the seat store's KV watch)
//! into batched seat changes every 250 ms, and once a second computes the event's stats: seat
//! counts per section and the queue from memory, orders by state, revenue, sales over time and
//! tickets checked in at the door from five small PostgreSQL queries (`store::event_stats`). Viewers get the frames over server-sent events. So a
//! hundred people watching an on-sale cost what one does, and nobody polls the database; the
//! task ends a second after its last viewer leaves.

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
    routing::get,
};
use boxoffice_nats::{EventId, seat::Availability as Public};
use boxoffice_workflows::{
    domain::SaleStatus,
    store::{event_stats, sessions},
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use boxoffice_http::{
    availability::{Counts, SeatChange},
    error::ApiError,
    extract::ApiPath,
};

use crate::{AdminState, api::visible_event, auth::Admin};

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/admin/api/v1/events/{id}/live", get(live))
        .route("/admin/api/v1/events/{id}/stats", get(stats_now))
}

/// One frame for the browser: an SSE event name and its JSON.
#[derive(Debug)]
pub struct Frame {
    /// `snapshot`, `seats` or `stats`.
    pub name: &'static str,
    /// JSON.
    pub data: String,
}

struct Feed {
    tx: broadcast::Sender<Arc<Frame>>,
    last_stats: Arc<Mutex<Option<Arc<Frame>>>>,
}

/// The feeds of the events being watched.
#[derive(Default)]
pub struct LiveHub {
    feeds: Mutex<HashMap<Uuid, Feed>>,
}

/// Counts of a section, with its code.
#[derive(Debug, Clone, Serialize)]
pub struct SectionStats {
    /// Code.
    pub code: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// What the dashboard shows besides the map.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// When, Unix ms.
    pub at: i64,
    /// The event's sale status.
    pub status: SaleStatus,
    /// The waiting room's phase (`pending`, `open`, ...), if it has one.
    pub phase: Option<String>,
    /// Per section (`None` until the seat store has the event).
    pub sections: Vec<SectionStats>,
    /// All sections.
    pub total: Option<Counts>,
    /// Captured less refunded, cents.
    pub revenue_cents: i64,
    /// Orders by state.
    pub orders: BTreeMap<String, i64>,
    /// Waiting in line.
    pub queue_waiting: u64,
    /// Entries in the room.
    pub queue_entries: u64,
    /// Admissions per second now.
    pub admission_rate_per_s: f64,
    /// The pacer's reason for that rate.
    pub admission_reason: Option<String>,
    /// Tickets issued per 10-second bucket over the last 30 minutes: `[bucket start ms, n]`.
    pub sales: Vec<(i64, i64)>,
    /// Tickets checked in at the door, per section code (sections with none left out).
    pub checked_in: BTreeMap<String, i64>,
    /// Tickets checked in at the door, all sections.
    pub checked_in_total: i64,
}

fn public(state: &boxoffice_nats::seat::SeatState, now: i64) -> &'static str {
    match state.availability(now) {
        Public::Free => "free",
        Public::Held => "held",
        Public::Sold => "sold",
        Public::Unavailable => "unavailable",
    }
}

fn snapshot(state: &AdminState, event: EventId) -> Arc<Frame> {
    let now = state.seats.now();
    let seats: BTreeMap<String, &'static str> = state
        .seats
        .states(event)
        .unwrap_or_default()
        .iter()
        .map(|(seat, st)| (seat.to_string(), public(st, now)))
        .collect();
    Arc::new(Frame {
        name: "snapshot",
        data: serde_json::json!({ "seats": seats }).to_string(),
    })
}

/// Computes the event's stats now.
pub async fn stats(state: &AdminState, event: Uuid) -> Result<Stats, ApiError> {
    let id = EventId::from_uuid(event);
    let figures = event_stats::sale_figures(&state.db, event).await?;
    let counts = state.seats.counts(id);
    let summary = state.room.read(id, |b| b.map(|b| b.summary()));
    let control = summary
        .as_ref()
        .and_then(|s| s.control.clone())
        .map(|c| c.1);
    Ok(Stats {
        at: chrono::Utc::now().timestamp_millis(),
        status: figures.status,
        phase: control.as_ref().map(|c| {
            serde_json::to_value(c.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{:?}", c.phase).to_lowercase())
        }),
        sections: counts
            .as_ref()
            .map(|(by, _)| {
                by.iter()
                    .map(|(code, c)| SectionStats {
                        code: code.to_string(),
                        counts: *c,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        total: counts.map(|(_, t)| t),
        revenue_cents: figures.revenue_cents,
        orders: figures
            .orders
            .into_iter()
            .map(|(state, n)| (state.as_str().to_owned(), n))
            .collect(),
        queue_waiting: summary.as_ref().map_or(0, |s| s.waiting),
        queue_entries: summary.as_ref().map_or(0, |s| s.entries),
        admission_rate_per_s: control.as_ref().map_or(0.0, |c| c.rate_per_s),
        admission_reason: control.map(|c| c.reason),
        sales: figures.sales,
        checked_in_total: figures.checked_in.iter().map(|(_, n)| n).sum(),
        checked_in: figures.checked_in.into_iter().collect(),
    })
}

impl LiveHub {
    /// A receiver of the event's frames and the latest stats frame, starting the feed if none
    /// runs.
    fn subscribe(
        &self,
        state: &AdminState,
        event: Uuid,
    ) -> (broadcast::Receiver<Arc<Frame>>, Option<Arc<Frame>>) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = feeds.get(&event) {
            let last = f
                .last_stats
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            return (f.tx.subscribe(), last);
        }
        let (tx, rx) = broadcast::channel(256);
        let last_stats = Arc::new(Mutex::new(None));
        feeds.insert(
            event,
            Feed {
                tx: tx.clone(),
                last_stats: last_stats.clone(),
            },
        );
        tokio::spawn(feed(state.clone(), event, tx, last_stats));
        (rx, None)
    }

    fn end(&self, event: Uuid) {
        self.feeds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&event);
    }
}

#[tracing::instrument(name = "admin.live_feed", skip_all, fields(%event))]
async fn feed(
    state: AdminState,
    event: Uuid,
    tx: broadcast::Sender<Arc<Frame>>,
    last_stats: Arc<Mutex<Option<Arc<Frame>>>>,
) {
    let id = EventId::from_uuid(event);
    let mut changes = state.seats.subscribe();
    let mut flush = tokio::time::interval(Duration::from_millis(250));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut pending: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut ticks = 0u64;
    metrics::gauge!("boxoffice_admin_live_feeds").increment(1.0);
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(SeatChange { event: e, seat, state: s }) if e == id => {
                    pending.insert(seat.to_string(), public(&s, state.seats.now()));
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    pending.clear();
                    let _ = tx.send(snapshot(&state, id));
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = flush.tick() => {
                if !pending.is_empty() {
                    let data = serde_json::json!({ "seats": std::mem::take(&mut pending) }).to_string();
                    let _ = tx.send(Arc::new(Frame { name: "seats", data }));
                }
            }
            _ = tick.tick() => {
                if tx.receiver_count() == 0 {
                    break;
                }
                ticks += 1;
                // Holds lapse by the clock, not by a write: a periodic snapshot shows them.
                if ticks.is_multiple_of(5) {
                    let _ = tx.send(snapshot(&state, id));
                }
                match stats(&state, event).await {
                    Ok(s) => {
                        let frame = Arc::new(Frame {
                            name: "stats",
                            data: serde_json::to_string(&s).unwrap_or_default(),
                        });
                        *last_stats.lock().unwrap_or_else(|e| e.into_inner()) = Some(frame.clone());
                        let _ = tx.send(frame);
                    }
                    Err(e) => tracing::warn!(error = %e, "live stats unavailable"),
                }
            }
        }
    }
    state.own.live.end(event);
    metrics::gauge!("boxoffice_admin_live_feeds").decrement(1.0);
}

fn sse(frame: &Frame) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event(frame.name)
        .data(frame.data.clone()))
}

/// Resolves once the session is gone (signed out, expired, or ended by an account update),
/// checking every `every`. A failed check is not an ending: the database being away for a
/// moment should not blank every dashboard.
async fn session_ended(db: sqlx::PgPool, session: Vec<u8>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match sessions::alive(&db, &session).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::debug!(error = %e, "cannot check a live viewer's session"),
        }
    }
}

/// `GET /admin/api/v1/events/{id}/live`: the dashboard's server-sent events (`snapshot` of
/// every seat first, then `seats` changes and `stats` every second). The stream ends when its
/// session does (checked every `--admin-live-session-check-s`: one key lookup per viewer).
async fn live(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    visible_event(&state, &admin, id).await?;
    let (rx, last) = state.own.live.subscribe(&state, id);
    let first = snapshot(&state, EventId::from_uuid(id));
    let head = futures::stream::iter(std::iter::once(first).chain(last).collect::<Vec<_>>());
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(f) => return Some((f, rx)),
                // A viewer that fell behind gets the next snapshot (sent every few seconds).
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let every = Duration::from_secs(state.own.config.live_session_check_s.max(1));
    let stream = head.chain(rest).map(|f| sse(&f)).take_until(session_ended(
        state.db.clone(),
        admin.session,
        every,
    ));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /admin/api/v1/events/{id}/stats`: the dashboard's numbers, once.
async fn stats_now(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Stats>, ApiError> {
    visible_event(&state, &admin, id).await?;
    Ok(Json(stats(&state, id).await?))
}
