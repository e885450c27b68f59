//! One way to write to JetStream from a request path: fail fast when the connection is down,
//! wait for the acknowledgement at most [`ACK_TIMEOUT`], and report a failed expectation
//! (`Nats-Expected-Last-Subject-Sequence`) as a conflict rather than an error, so callers can
//! tell "someone wrote first" from "NATS is unavailable". A write no server answered ("no
//! responders", which async-nats calls "no stream found") is sent again after a moment within
//! the same bound, as the Go client does: on a cluster it is what a stream between leaders or
//! a server still rejoining its routes looks like (the clustered on-sale drill answered 1,333
//! buyers 503 with it after one node was killed).

use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};

/// How long a write may wait for its acknowledgement before NATS counts as unavailable.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// Wait before sending again a write no server answered (the Go client's default for the
/// same case).
const NO_RESPONDERS_BACKOFF: Duration = Duration::from_millis(250);

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
        loop {
            let sent = js
                .send_publish(subject.clone(), message.clone())
                .await
                .map_err(|e| Unavailable(format!("publishing: {e}")))?
                .await;
            match sent {
                Ok(a) => return Ok(Published::Stored(a.sequence)),
                Err(e) if crate::conflict::is_wrong_last_sequence(&e) => {
                    return Ok(Published::Conflict);
                }
                // No server took it: on a cluster, the stream is between leaders, or this
                // client's server has not rejoined its routes yet after a restart. Nothing was
                // stored, so sending again is safe; the ack timeout bounds the whole.
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                    metrics::counter!("boxoffice_publish_no_responders_total").increment(1);
                    tokio::time::sleep(NO_RESPONDERS_BACKOFF).await;
                }
                Err(e) => return Err(Unavailable(format!("publishing: {e}"))),
            }
        }
    };
    tokio::time::timeout(ACK_TIMEOUT, ack)
        .await
        .map_err(|_| Unavailable("no acknowledgement from NATS".into()))?
}
