//! The status board: every order state change published on NATS, one subject per order, so the
//! gateway answers `GET /orders/{id}` (and streams its changes) from JetStream alone.
//!
//! Intake claims an order's subject with its first message (`held` or `rejected`), published
//! only if the subject is still empty: a redelivered intent finds the claim and does not act
//! twice. Later snapshots carry an increasing `version`, and each is deduplicated by
//! `Nats-Msg-Id` so a retried activity publishes it once.

use async_nats::jetstream::{self, message::PublishMessage, stream};
use boxoffice_nats::{EventId, Namespace, OrderId};
use bytes::Bytes;

use crate::domain::OrderStatus;

/// Publishing or reading a status failed (NATS unreachable or the stream missing). Retryable.
#[derive(Debug, thiserror::Error)]
#[error("order status board: {0}")]
pub struct StatusError(String);

/// Publishes and reads order status snapshots.
#[derive(Clone)]
pub struct StatusBoard {
    js: jetstream::Context,
    ns: Namespace,
    stream: stream::Stream,
}

impl StatusBoard {
    /// The board over the namespace's order-events stream.
    pub async fn new(js: jetstream::Context, ns: Namespace) -> Result<Self, StatusError> {
        let stream = js
            .get_stream(ns.order_events_stream())
            .await
            .map_err(|e| StatusError(format!("opening stream: {e}")))?;
        Ok(Self { js, ns, stream })
    }

    fn message(status: &OrderStatus) -> PublishMessage {
        // A plain struct of strings and numbers: serialising cannot fail.
        let body = serde_json::to_vec(status).unwrap_or_default();
        PublishMessage::build()
            .payload(Bytes::from(body))
            .message_id(format!("{}:{}", status.order_id, status.version))
    }

    /// Publishes a snapshot (idempotent per order and version).
    pub async fn publish(&self, status: &OrderStatus) -> Result<(), StatusError> {
        let subject = self
            .ns
            .order_event_subject(status.event_id, status.order_id);
        self.js
            .send_publish(subject, Self::message(status))
            .await
            .map_err(|e| StatusError(e.to_string()))?
            .await
            .map_err(|e| StatusError(e.to_string()))?;
        Ok(())
    }

    /// Publishes the first snapshot of an order, only if it has none yet. `Ok(false)`: the
    /// order already has a status (an earlier delivery of its intent got there first).
    pub async fn publish_first(&self, status: &OrderStatus) -> Result<bool, StatusError> {
        let subject = self
            .ns
            .order_event_subject(status.event_id, status.order_id);
        let ack = self
            .js
            .send_publish(
                subject,
                Self::message(status).expected_last_subject_sequence(0),
            )
            .await
            .map_err(|e| StatusError(e.to_string()))?
            .await;
        match ack {
            Ok(_) => Ok(true),
            Err(e) if boxoffice_nats::conflict::is_wrong_last_sequence(&e) => Ok(false),
            Err(e) => Err(StatusError(e.to_string())),
        }
    }

    /// The latest snapshot of an order, if it has one.
    pub async fn latest(
        &self,
        event: EventId,
        order: OrderId,
    ) -> Result<Option<OrderStatus>, StatusError> {
        use async_nats::jetstream::stream::DirectGetErrorKind;
        match self
            .stream
            .direct_get_last_for_subject(self.ns.order_event_subject(event, order))
            .await
        {
            Ok(msg) => serde_json::from_slice(&msg.payload)
                .map(Some)
                .map_err(|e| StatusError(format!("unreadable status: {e}"))),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => Err(StatusError(e.to_string())),
        }
    }
}
