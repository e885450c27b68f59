//! The queue between a held order and its workflow's start.
//!
//! Intake holds at the seat store's pace (thousands a second) and Temporal starts workflows at
//! its own (tens a second here), so intake never starts a workflow itself: once the buyer has
//! been told `held`, it puts a [`StartRequest`] on the starts stream and acknowledges the
//! intent, and the workers' starters take requests off it as fast as Temporal starts them
//! (docs/adr/0021-held-at-seat-store-speed.md). The buyer's time to pay is counted from the
//! checkout's opening, so the queue costs the buyer waiting, never the seats.
//!
//! Exactly once still rests on the order's keys: a request is published under `Nats-Msg-Id`
//! = the order id (a second copy within the stream's window is dropped), and the workflow id
//! is the order's (a later copy is refused by Temporal and acknowledged).

use async_nats::jetstream::message::PublishMessage;
use boxoffice_nats::{Namespace, publish, seat::Hold};
use serde::{Deserialize, Serialize};

use crate::domain::PurchaseIntent;

/// A held order waiting for its workflow: what the workflow is started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRequest {
    /// What the buyer asked for.
    pub intent: PurchaseIntent,
    /// The hold intake took, which the workflow renews when it opens the checkout.
    pub hold: Hold,
}

/// The starts stream could not take the request; retry (nothing was stored, or a copy was).
#[derive(Debug, Clone, thiserror::Error)]
#[error("queueing the workflow start: {0}")]
pub struct StartQueueError(String);

/// Where held orders wait for their workflow.
#[derive(Clone)]
pub struct StartQueue {
    js: async_nats::jetstream::Context,
    ns: Namespace,
}

impl StartQueue {
    /// A queue on the namespace's starts stream (provisioned by the topology).
    pub fn new(js: async_nats::jetstream::Context, ns: Namespace) -> Self {
        Self { js, ns }
    }

    /// Puts `request` on the queue and waits until it is stored. Idempotent: a copy for the
    /// same order within the stream's duplicate window is acknowledged and dropped.
    pub async fn enqueue(&self, request: &StartRequest) -> Result<(), StartQueueError> {
        let body = serde_json::to_vec(request).map_err(|e| StartQueueError(e.to_string()))?;
        let message = PublishMessage::build()
            .payload(body.into())
            .message_id(format!("start:{}", request.intent.order_id));
        let subject = self.ns.start_subject(request.intent.event_id);
        publish::publish(&self.js, subject, message)
            .await
            .map(|_| ())
            .map_err(|e| StartQueueError(e.to_string()))
    }
}
