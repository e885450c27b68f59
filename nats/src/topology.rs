//! The JetStream resources, declared as code and provisioned idempotently.
//!
//! Running [`Topology::provision`] again, from any process, converges on the same configuration;
//! it never deletes data. Durability of what a write acknowledgement means is a server setting
//! (`jetstream { sync_interval: always }`, see `docs/adr/0003-seat-store-sync-policy.md`); the
//! replica count is per resource and set here.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};

use crate::namespace::Namespace;

/// Provisioning failed: NATS is unreachable, JetStream is off, or an existing resource has a
/// configuration that cannot be updated in place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// The seat bucket could not be created or updated.
    #[error("could not provision KV bucket {bucket}")]
    Bucket {
        /// Bucket name.
        bucket: String,
        /// What NATS said.
        #[source]
        source: async_nats::jetstream::context::CreateKeyValueError,
    },
    /// A stream could not be created or updated.
    #[error("could not provision stream {stream}")]
    Stream {
        /// Stream name.
        stream: String,
        /// What NATS said.
        #[source]
        source: async_nats::jetstream::context::CreateStreamError,
    },
}

/// Handles to every provisioned resource.
#[derive(Clone)]
pub struct Topology {
    /// The JetStream context the resources live in.
    pub js: jetstream::Context,
    /// The namespace they were named from.
    pub ns: Namespace,
    /// The seat bucket.
    pub seats: kv::Store,
}

impl Topology {
    /// Creates or updates every stream and bucket of the namespace.
    pub async fn provision(
        js: jetstream::Context,
        ns: Namespace,
        replicas: usize,
    ) -> Result<Self, TopologyError> {
        let bucket = ns.seat_bucket();
        let seats = js
            .create_or_update_key_value(seat_bucket_config(&ns, replicas))
            .await
            .map_err(|source| TopologyError::Bucket { bucket, source })?;
        for config in [
            intents_stream_config(&ns, replicas),
            starts_stream_config(&ns, replicas),
            order_events_stream_config(&ns, replicas),
            queue_stream_config(&ns, replicas),
            order_keys_stream_config(&ns, replicas),
        ] {
            let name = config.name.clone();
            js.create_or_update_stream(config)
                .await
                .map_err(|source| TopologyError::Stream {
                    stream: name,
                    source,
                })?;
        }
        Ok(Self { js, ns, seats })
    }
}

/// The durable consumer through which the order intake reads the intents stream (the pacer
/// reads its backlog from the same name).
pub const INTAKE_CONSUMER: &str = "intake";

/// The seat bucket: one permanent key per seat, only the latest value kept (the history of a
/// seat is the order log in PostgreSQL), file storage, no TTLs: a lapsed hold is a value whose
/// `expires_at` has passed, never a vanished key (KV `create` over deletes has had races:
/// nats-server issue 5162).
pub fn seat_bucket_config(ns: &Namespace, replicas: usize) -> kv::Config {
    kv::Config {
        bucket: ns.seat_bucket(),
        description: "seat ownership, event metadata and per-buyer ledgers".into(),
        history: 1,
        max_value_size: 16 * 1024,
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Admitted purchase intents. Retained until the intake consumer acknowledges them
/// (work queue), deduplicated by `Nats-Msg-Id` (the buyer's idempotency key) for 10 minutes.
pub fn intents_stream_config(ns: &Namespace, replicas: usize) -> stream::Config {
    stream::Config {
        name: ns.intents_stream(),
        description: Some("admitted purchase intents, consumed by the order intake".into()),
        subjects: vec![format!("{}.intent.>", ns.prefix())],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(600),
        max_age: Duration::from_secs(24 * 3600),
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// The durable consumer through which workers start the workflows of held orders.
pub const STARTER_CONSUMER: &str = "starter";

/// Held orders waiting for their workflow to start: the intake hands each one over here once
/// its buyer has been told `held`, and the starters take them at the pace Temporal starts
/// workflows (docs/adr/0021-held-at-seat-store-speed.md). Retained until a starter
/// acknowledges (work queue); deduplicated by `Nats-Msg-Id` (the order id) for 10 minutes,
/// and a start is refused by Temporal for an order whose workflow exists anyway.
pub fn starts_stream_config(ns: &Namespace, replicas: usize) -> stream::Config {
    stream::Config {
        name: ns.starts_stream(),
        description: Some("held orders whose workflow is yet to start".into()),
        subjects: vec![format!("{}.start.>", ns.prefix())],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(600),
        max_age: Duration::from_secs(24 * 3600),
        ..Default::default()
    }
}

/// Every order state change, one subject per order; the gateway's status reads and
/// server-sent events follow it. The last 16 messages per order are kept for a week.
pub fn order_events_stream_config(ns: &Namespace, replicas: usize) -> stream::Config {
    stream::Config {
        name: ns.order_events_stream(),
        description: Some("order state changes, published by the order workflow".into()),
        subjects: vec![format!("{}.order.>", ns.prefix())],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        max_messages_per_subject: 16,
        max_age: Duration::from_secs(7 * 24 * 3600),
        allow_direct: true,
        ..Default::default()
    }
}

/// Every event's waiting room: one subject per buyer and event (its join; a rejoin adds a
/// message), and one control subject per event whose history records when each position was
/// admitted. Kept for 30 days, after which an audit has had its chance.
pub fn queue_stream_config(ns: &Namespace, replicas: usize) -> stream::Config {
    stream::Config {
        name: ns.queue_stream(),
        description: Some("waiting rooms: joins and admission control".into()),
        subjects: vec![format!("{}.queue.>", ns.prefix())],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        max_age: Duration::from_secs(30 * 24 * 3600),
        allow_direct: true,
        ..Default::default()
    }
}

/// The gateway's order records: the order each idempotency key made, the one order each
/// admission was used for, and which event each order belongs to. Written only with an
/// expected last subject sequence of 0, so the first writer wins and retries read its record.
pub fn order_keys_stream_config(ns: &Namespace, replicas: usize) -> stream::Config {
    stream::Config {
        name: ns.order_keys_stream(),
        description: Some("idempotency keys, used admissions and the order index".into()),
        subjects: vec![format!("{}.okeys.>", ns.prefix())],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        max_age: Duration::from_secs(30 * 24 * 3600),
        allow_direct: true,
        ..Default::default()
    }
}
