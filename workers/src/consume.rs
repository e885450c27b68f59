//! The one way the worker's stages read a JetStream work queue: a durable pull consumer whose
//! messages each go to a task of their own, acknowledged by that task. Intake and the starter
//! differ only in what a task does and how many may run at once.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::jetstream::{
    self,
    consumer::{Consumer, pull},
};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// A durable consumer's configuration: explicit acks, at most `max_ack_pending` delivered and
/// not yet acknowledged, redelivery after a minute without an ack, never given up on.
pub(crate) fn durable(name: &str, description: &str, max_ack_pending: usize) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        description: Some(description.into()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(60),
        max_ack_pending: max_ack_pending as i64,
        max_deliver: -1,
        ..Default::default()
    }
}

/// The durable consumer `config` names on the stream `stream`, created if it does not exist.
pub(crate) async fn open(
    js: &jetstream::Context,
    stream: &str,
    config: pull::Config,
) -> Result<Consumer<pull::Config>, async_nats::Error> {
    let name = config.durable_name.clone().unwrap_or_default();
    Ok(js
        .get_stream(stream)
        .await?
        .get_or_create_consumer(&name, config)
        .await?)
}

/// Hands each message of `consumer` (pulled `batch` at a time) to `handle`, on a task of its
/// own, with at most `slots` tasks at once when given (otherwise the consumer's ack-pending
/// bound is the only one), until `stop` is cancelled; the tasks in hand finish first.
pub(crate) async fn each_message<H, F>(
    consumer: &Consumer<pull::Config>,
    batch: usize,
    name: &'static str,
    slots: Option<Arc<Semaphore>>,
    stop: CancellationToken,
    handle: H,
) -> Result<(), async_nats::Error>
where
    H: Fn(jetstream::Message) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch.max(1))
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await?;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break,
            m = messages.next() => m,
        };
        match next {
            Some(Ok(msg)) => {
                let slot = match &slots {
                    Some(s) => match s.clone().acquire_owned().await {
                        Ok(slot) => Some(slot),
                        Err(_) => break,
                    },
                    None => None,
                };
                let work = handle(msg);
                tasks.spawn(async move {
                    work.await;
                    drop(slot);
                });
            }
            Some(Err(e)) => {
                // Heartbeat missed or the server restarting: the stream reconnects itself.
                tracing::warn!(error = %e, consumer = name, "consumer");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            None => break,
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}
