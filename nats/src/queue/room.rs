//! The waiting room on JetStream: joins and control messages in one stream, and a replica of
//! every event's [`Book`] in each process that serves the room, followed from that stream.
//!
//! - Joins are published in batches on `<prefix>.queue.<event>.joins`: each process collects
//!   the joins that arrive while its previous batches are being acknowledged and writes them as
//!   one message (group commit: one write and one fsync for many joins). An entry's id is the
//!   batch's stream sequence and its index in the batch, so ids sort in arrival order. The
//!   replica keeps a buyer's first entry and ignores twins (a retry, a refresh, a second tab,
//!   on any gateway); a rejoin after a lapsed admission names the entry it replaces and takes
//!   effect only if that entry is still the buyer's. Every replica applies the same rules to
//!   the same messages in the same order, so they agree on every buyer's one entry.
//! - Control messages (`<prefix>.queue.<event>.control`) carry the whole admission state and
//!   are published by compare-and-swap on the subject's last sequence.
//! - Every process follows the stream with an ordered consumer and applies each message to its
//!   books in sequence order, so all of them compute the same positions.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use async_nats::jetstream::{
    self,
    consumer::{DeliverPolicy, push::OrderedConfig},
    message::PublishMessage,
    stream::{self, DirectGetErrorKind},
};
use bytes::Bytes;
use futures::StreamExt;

use super::model::{
    Book, Control, EntryRef, JoinBatch, JoinRecord, MAX_BATCH, Summary, batch_seq, entry_id,
};
use crate::{
    Namespace,
    ids::{BuyerId, EventId},
    publish::Published,
    seat::UnixMillis,
};

/// The room could not be read or written: NATS unreachable, slow, or the stream missing.
/// Nothing was changed when a write returns this (or the change is complete and a retry finds
/// it).
#[derive(Debug, thiserror::Error)]
#[error("waiting room: {0}")]
pub struct QueueError(String);

impl QueueError {
    fn new(what: &str, e: impl std::fmt::Display) -> Self {
        Self(format!("{what}: {e}"))
    }
}

/// The outcome of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The buyer's live entry.
    pub entry: EntryRef,
    /// `true` if this call created it; `false` if it already existed.
    pub created: bool,
}

/// The waiting rooms of every event, as seen by this process. Cheap to clone.
#[derive(Clone)]
pub struct WaitingRoom {
    inner: Arc<Inner>,
}

/// One join waiting for its batch to be acknowledged.
struct Pending {
    event: EventId,
    record: JoinRecord,
    reply: tokio::sync::oneshot::Sender<Result<u64, QueueError>>,
}

/// Batches being acknowledged at once; while all are in flight, new joins gather into the next.
const BATCHES_IN_FLIGHT: usize = 4;

struct Inner {
    joins: tokio::sync::mpsc::Sender<Pending>,
    js: jetstream::Context,
    client: async_nats::Client,
    ns: Namespace,
    stream: stream::Stream,
    books: RwLock<HashMap<EventId, Book>>,
    applied: tokio::sync::watch::Sender<u64>,
    /// Never sent on: dropped with the room, which stops its follower at once (it would
    /// otherwise notice only at the next message, holding the connection open till then).
    dropped: tokio::sync::watch::Sender<()>,
}

impl WaitingRoom {
    /// Opens the room over the namespace's queue stream, replays it, and follows it from a
    /// background task. Returns once the replica has caught up with the stream as it was.
    pub async fn start(client: async_nats::Client, ns: Namespace) -> Result<Self, QueueError> {
        let js = jetstream::new(client.clone());
        let mut stream = js
            .get_stream(ns.queue_stream())
            .await
            .map_err(|e| QueueError::new("opening the queue stream", e))?;
        let last = stream
            .info()
            .await
            .map_err(|e| QueueError::new("reading the queue stream", e))?
            .state
            .last_sequence;
        let (applied, _) = tokio::sync::watch::channel(0);
        let (joins, pending) = tokio::sync::mpsc::channel(64 * 1024);
        let room = Self {
            inner: Arc::new(Inner {
                joins,
                js,
                client,
                ns,
                stream,
                books: RwLock::new(HashMap::new()),
                applied,
                dropped: tokio::sync::watch::channel(()).0,
            }),
        };
        let consumer = room
            .inner
            .stream
            .create_consumer(OrderedConfig {
                deliver_subject: room.inner.client.new_inbox(),
                filter_subject: format!("{}.queue.>", room.inner.ns.prefix()),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| QueueError::new("following the queue", e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| QueueError::new("following the queue", e))?;
        tokio::spawn(follow(
            Arc::downgrade(&room.inner),
            messages,
            room.inner.dropped.subscribe(),
        ));
        tokio::spawn(batch_joins(Arc::downgrade(&room.inner), pending));
        if !room.caught_up_to(last, Duration::from_secs(60)).await {
            return Err(QueueError("replaying the queue timed out".into()));
        }
        Ok(room)
    }

    /// Waits until the replica has applied `seq` (or `timeout` passes; `false` then).
    pub async fn caught_up_to(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.inner.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The highest stream sequence applied to the replica.
    pub fn applied(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// Reads the event's book under a lock held only for `f`.
    pub fn read<T>(&self, event: EventId, f: impl FnOnce(Option<&Book>) -> T) -> T {
        let books = self.inner.books.read().unwrap_or_else(|e| e.into_inner());
        f(books.get(&event))
    }

    /// Totals of every event with a room.
    pub fn summaries(&self) -> Vec<(EventId, Summary)> {
        let books = self.inner.books.read().unwrap_or_else(|e| e.into_inner());
        books.iter().map(|(e, b)| (*e, b.summary())).collect()
    }

    /// Whether the connection to NATS is up (writes fail fast when it is not).
    pub fn connected(&self) -> bool {
        crate::publish::connected(&self.inner.js)
    }

    async fn publish(
        &self,
        subject: String,
        body: Bytes,
        expected_last: u64,
    ) -> Result<Option<u64>, QueueError> {
        let message = PublishMessage::build()
            .payload(body)
            .expected_last_subject_sequence(expected_last);
        match crate::publish::publish(&self.inner.js, subject, message).await {
            Ok(Published::Stored(seq)) => Ok(Some(seq)),
            Ok(Published::Conflict) => Ok(None),
            Err(e) => Err(QueueError(e.0)),
        }
    }

    /// Joins `buyer` to the event's room, or returns the entry it already has. A buyer whose
    /// admission lapsed (`rejoin_over` is its entry) is placed again at the back. Returns once
    /// the join is stored and the replica has applied it (up to 2 s), so its position can be
    /// answered at once.
    pub async fn join(
        &self,
        event: EventId,
        buyer: BuyerId,
        rejoin_over: Option<EntryRef>,
        now: UnixMillis,
    ) -> Result<Joined, QueueError> {
        if !self.connected() {
            return Err(QueueError("not connected to NATS".into()));
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let record = JoinRecord {
            buyer,
            joined_at: now,
            attempt: rejoin_over.map_or(1, |e| e.attempt + 1),
            supersedes: rejoin_over.map(|e| e.id),
        };
        self.inner
            .joins
            .send(Pending {
                event,
                record,
                reply,
            })
            .await
            .map_err(|_| QueueError("the join batcher stopped".into()))?;
        let id = answer
            .await
            .map_err(|_| QueueError("the join batcher stopped".into()))??;
        if !self
            .caught_up_to(batch_seq(id), Duration::from_secs(2))
            .await
        {
            // Stored, not applied yet: the entry is this one unless a twin got there first.
            return Ok(Joined {
                entry: EntryRef {
                    id,
                    attempt: rejoin_over.map_or(1, |e| e.attempt + 1),
                },
                created: true,
            });
        }
        // The replica decides which of any concurrent twins is the buyer's entry.
        let entry = self
            .read(event, |b| b.and_then(|b| b.entry(buyer)))
            .ok_or_else(|| QueueError("the join was stored but not applied".into()))?;
        Ok(Joined {
            created: entry.id == id,
            entry,
        })
    }

    /// Publishes `control` if the event's last control message is still `expected` (its
    /// sequence; 0 for none). `Ok(None)`: another writer moved first; read and try again.
    pub async fn write_control(
        &self,
        event: EventId,
        expected: u64,
        control: &Control,
    ) -> Result<Option<u64>, QueueError> {
        let body = Bytes::from(serde_json::to_vec(control).unwrap_or_default());
        let seq = self
            .publish(self.inner.ns.queue_control_subject(event), body, expected)
            .await?;
        if let Some(seq) = seq {
            self.caught_up_to(seq, Duration::from_secs(2)).await;
        }
        Ok(seq)
    }

    /// The event's latest control message from the server, with its sequence (0 if none).
    pub async fn latest_control(
        &self,
        event: EventId,
    ) -> Result<(u64, Option<Control>), QueueError> {
        match self
            .inner
            .stream
            .direct_get_last_for_subject(self.inner.ns.queue_control_subject(event))
            .await
        {
            Ok(msg) => Ok((
                msg.sequence,
                Some(
                    serde_json::from_slice(&msg.payload)
                        .map_err(|e| QueueError::new("decoding control", e))?,
                ),
            )),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok((0, None)),
            Err(e) => Err(QueueError::new("reading control", e)),
        }
    }
}

/// What a queue subject is about.
enum Message {
    Joins(EventId, JoinBatch),
    Control(EventId, Control),
}

fn decode(prefix: &str, subject: &str, payload: &[u8]) -> Option<Message> {
    let rest = subject.strip_prefix(prefix)?.strip_prefix(".queue.")?;
    let mut parts = rest.split('.');
    let event: EventId = parts.next()?.parse().ok()?;
    match parts.next()? {
        "joins" => Some(Message::Joins(event, serde_json::from_slice(payload).ok()?)),
        "control" => Some(Message::Control(
            event,
            serde_json::from_slice(payload).ok()?,
        )),
        _ => None,
    }
}

/// Applies every message of the queue stream to the books, in order, until the room is dropped.
async fn follow(
    room: std::sync::Weak<Inner>,
    mut messages: async_nats::jetstream::consumer::push::Ordered,
    mut dropped: tokio::sync::watch::Receiver<()>,
) {
    loop {
        let msg = tokio::select! {
            // Nothing is ever sent: this resolves when the room is dropped.
            _ = dropped.changed() => return,
            msg = messages.next() => match msg {
                Some(msg) => msg,
                None => break,
            },
        };
        let Some(inner) = room.upgrade() else { return };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                // The ordered consumer recreates itself after gaps and reconnects; errors here
                // are reported and the loop goes on.
                tracing::warn!(error = %e, "queue follower");
                continue;
            }
        };
        let Ok(info) = msg.info() else { continue };
        let seq = info.stream_sequence;
        match decode(inner.ns.prefix(), &msg.subject, &msg.payload) {
            Some(Message::Joins(event, batch)) => {
                let mut books = inner.books.write().unwrap_or_else(|e| e.into_inner());
                books.entry(event).or_default().apply_batch(seq, &batch);
            }
            Some(Message::Control(event, control)) => {
                let mut books = inner.books.write().unwrap_or_else(|e| e.into_inner());
                books.entry(event).or_default().apply_control(seq, control);
            }
            None => tracing::warn!(subject = %msg.subject, seq, "unreadable queue message skipped"),
        }
        inner.applied.send_replace(seq);
    }
    tracing::warn!("queue follower ended");
}

/// Gathers joins into batches: whatever arrived while earlier batches were in flight goes out
/// as one message per event, at most [`BATCHES_IN_FLIGHT`] at a time. At low load a batch is
/// one join and nothing waits; under load batches grow until the store keeps up.
async fn batch_joins(
    room: std::sync::Weak<Inner>,
    mut pending: tokio::sync::mpsc::Receiver<Pending>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = pending.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(inner) = room.upgrade() else { return };
        let mut by_event: HashMap<EventId, Vec<Pending>> = HashMap::new();
        by_event.entry(first.event).or_default().push(first);
        let mut taken = 1;
        while taken < MAX_BATCH {
            match pending.try_recv() {
                Ok(p) => {
                    by_event.entry(p.event).or_default().push(p);
                    taken += 1;
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("boxoffice_queue_join_batch_size").record(taken as f64);
        tokio::spawn(async move {
            let _permit = permit;
            for (event, joins) in by_event {
                publish_batch(&inner, event, joins).await;
            }
        });
    }
}

async fn publish_batch(inner: &Inner, event: EventId, joins: Vec<Pending>) {
    let batch = JoinBatch {
        joins: joins.iter().map(|p| p.record.clone()).collect(),
    };
    // A plain struct: serialising cannot fail.
    let body = Bytes::from(serde_json::to_vec(&batch).unwrap_or_default());
    let subject = inner.ns.queue_joins_subject(event);
    let stored =
        crate::publish::publish(&inner.js, subject, PublishMessage::build().payload(body)).await;
    match stored {
        Ok(Published::Stored(seq)) => {
            for (i, p) in joins.into_iter().enumerate() {
                let _ = p.reply.send(Ok(entry_id(seq, i)));
            }
        }
        failed => {
            // A batch sets no expectation, so a conflict would be the server's refusal.
            let why = failed
                .err()
                .map_or("the join batch was refused".into(), |e| e.0);
            for p in joins {
                let _ = p.reply.send(Err(QueueError(why.clone())));
            }
        }
    }
}
