//! One way to write to JetStream from a request path: fail fast when the connection is down,
//! wait for the acknowledgement at most [`ACK_TIMEOUT`], and report a failed expectation
//! (`Nats-Expected-Last-Subject-Sequence`) as a conflict rather than an error, so callers can
//! tell "someone wrote first" from "NATS is unavailable".

use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};

/// How long a write may wait for its acknowledgement before NATS counts as unavailable.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// What happened to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored at this stream sequence.
    Stored(u64),
    /// Not stored: the subject's last sequence was not the one expected.
    Conflict,
}

/// NATS is down, slow or refused the write; nothing can be assumed stored (a retry finds out).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Whether the client's connection is up.
pub fn connected(js: &jetstream::Context) -> bool {
    js.client().connection_state() == async_nats::connection::State::Connected
}

/// Publishes `message` on `subject` and waits for its acknowledgement.
pub async fn publish(
    js: &jetstream::Context,
    subject: String,
    message: PublishMessage,
) -> Result<Published, Unavailable> {
    if !connected(js) {
        return Err(Unavailable("not connected to NATS".into()));
    }
    let ack = async {
        js.send_publish(subject, message)
            .await
            .map_err(|e| Unavailable(format!("publishing: {e}")))?
            .await
            .map(|a| Published::Stored(a.sequence))
            .or_else(|e| {
                if e.kind() == PublishErrorKind::WrongLastSequence
                    || crate::conflict::is_wrong_last_sequence(&e)
                {
                    Ok(Published::Conflict)
                } else {
                    Err(Unavailable(format!("publishing: {e}")))
                }
            })
    };
    tokio::time::timeout(ACK_TIMEOUT, ack)
        .await
        .map_err(|_| Unavailable("no acknowledgement from NATS".into()))?
}
