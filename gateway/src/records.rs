//! The gateway's order records in JetStream: first-writer-wins records (a publish that expects
//! the subject to be empty) and the intents they lead to.
//!
//! - `key`: the order a buyer's `Idempotency-Key` made, with the request's hash and the whole
//!   intent, so a retry returns the same order and republishes the intent if it never landed;
//! - `admission`: the one order an admission was used for;
//! - `order`: which event and buyer an order belongs to, so `GET /orders/{id}` finds its status
//!   subject without the event in the path.

use async_nats::jetstream::{
    self,
    message::PublishMessage,
    message::StreamMessage,
    stream::{DirectGetError, DirectGetErrorKind, LastRawMessageError, LastRawMessageErrorKind},
};
use boxoffice_nats::{
    BuyerId, EventId, Namespace,
    publish::{self, Published},
};
use boxoffice_workflows::domain::{PurchaseIntent, SeatRequest};
use bytes::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::ApiError;

/// The order an idempotency key made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// SHA-256 of the request (event and canonical seat request).
    pub request_hash: String,
    /// The admission (queue entry) it used.
    pub entry: u64,
    /// The intent, as published.
    pub intent: PurchaseIntent,
}

/// The order an admission was used for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdmissionUse {
    /// The order.
    pub order_id: boxoffice_nats::OrderId,
    /// SHA-256 of the idempotency key that used it.
    pub key_hash: String,
}

/// Which event and buyer an order belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderIndex {
    /// The event.
    pub event_id: EventId,
    /// The buyer.
    pub buyer_id: BuyerId,
    /// What was asked for (shown while the order is still `requested`).
    pub request: SeatRequest,
    /// When the gateway accepted it (Unix ms).
    pub submitted_at: i64,
}

/// The outcome of a first-writer-wins write.
pub enum Written<T> {
    /// This call wrote it.
    Created,
    /// Someone wrote first; their record.
    Exists(T),
}

/// Reads and writes the records. Cheap to clone.
#[derive(Clone)]
pub struct Records {
    js: jetstream::Context,
    stream: jetstream::stream::Stream,
    ns: Namespace,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!("{what}: {e}"))
}

impl Records {
    /// Opens the order-keys stream.
    pub async fn open(client: async_nats::Client, ns: Namespace) -> Result<Self, String> {
        let js = jetstream::new(client);
        let stream = js
            .get_stream(ns.order_keys_stream())
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self { js, stream, ns })
    }

    /// The namespace.
    pub fn ns(&self) -> &Namespace {
        &self.ns
    }

    /// Reads the record on `subject`.
    pub async fn read<T: DeserializeOwned>(&self, subject: String) -> Result<Option<T>, ApiError> {
        if !publish::connected(&self.js) {
            return Err(ApiError::unavailable("not connected to NATS"));
        }
        decoded(
            self.stream.direct_get_last_for_subject(subject),
            |e: &DirectGetError| e.kind() == DirectGetErrorKind::NotFound,
        )
        .await
    }

    /// Reads the record on `subject`, asking the stream's leader before answering "none". A
    /// direct get may be served by any replica, and on a cluster a follower can trail the
    /// write it is asked about by moments (seen as `404 order_not_found` on an order the buyer
    /// had just been given, in the clustered on-sale run). Where the caller has reason to
    /// expect the record, a miss is confirmed with the leader; a hit costs nothing extra.
    pub async fn read_confirmed<T: DeserializeOwned>(
        &self,
        subject: String,
    ) -> Result<Option<T>, ApiError> {
        if let Some(found) = self.read(subject.clone()).await? {
            return Ok(Some(found));
        }
        decoded(
            self.stream.get_last_raw_message_by_subject(&subject),
            |e: &LastRawMessageError| e.kind() == LastRawMessageErrorKind::NoMessageFound,
        )
        .await
    }

    /// Writes `value` on `subject` unless something is there already.
    pub async fn create<T: Serialize + DeserializeOwned>(
        &self,
        subject: String,
        value: &T,
    ) -> Result<Written<T>, ApiError> {
        let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        let message = PublishMessage::build()
            .payload(body)
            .expected_last_subject_sequence(0);
        let created = publish::publish(&self.js, subject.clone(), message)
            .await
            .map_err(|e| unavailable("writing a record", e))?
            != Published::Conflict;
        if created {
            return Ok(Written::Created);
        }
        match self.read_confirmed(subject).await? {
            Some(existing) => Ok(Written::Exists(existing)),
            None => Err(ApiError::unavailable("a record vanished while being read")),
        }
    }

    /// Publishes an intent for the order intake, deduplicated by `msg_id`.
    pub async fn publish_intent(
        &self,
        intent: &PurchaseIntent,
        msg_id: &str,
    ) -> Result<(), ApiError> {
        let started = std::time::Instant::now();
        let body = Bytes::from(serde_json::to_vec(intent).unwrap_or_default());
        let message = PublishMessage::build().payload(body).message_id(msg_id);
        publish::publish(&self.js, self.ns.intent_subject(intent.event_id), message)
            .await
            .map_err(|e| unavailable("publishing the intent", e))?;
        metrics::histogram!("boxoffice_intent_publish_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(())
    }
}

/// One record read, bounded in time: decoded if found, `None` if `missing` says the error is
/// "no such record", unavailable otherwise. `read` and `read_confirmed` differ only in who
/// answers (any replica or the leader) and how each says "not found".
async fn decoded<T: DeserializeOwned, E: std::fmt::Display>(
    get: impl Future<Output = Result<StreamMessage, E>>,
    missing: impl Fn(&E) -> bool,
) -> Result<Option<T>, ApiError> {
    let got = tokio::time::timeout(publish::ACK_TIMEOUT, get)
        .await
        .map_err(|_| ApiError::unavailable("NATS did not answer"))?;
    match got {
        Ok(msg) => serde_json::from_slice(&msg.payload)
            .map(Some)
            .map_err(|e| unavailable("unreadable record", e)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(unavailable("reading a record", e)),
    }
}
