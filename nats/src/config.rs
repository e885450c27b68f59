//! Connection settings shared by every binary that talks to NATS.

use std::time::Duration;

use crate::namespace::Namespace;

/// How to reach NATS and which JetStream resources to use.
#[derive(clap::Args, Debug, Clone)]
pub struct NatsConfig {
    /// NATS server URL(s), comma-separated.
    #[arg(
        id = "nats_url",
        long = "nats-url",
        env = "BOXOFFICE_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// Prefix of every subject, stream and bucket name, so several deployments (or tests) can
    /// share one NATS server.
    #[arg(
        long = "nats-prefix",
        env = "BOXOFFICE_NATS_PREFIX",
        default_value = "bo"
    )]
    pub prefix: String,
    /// Replicas of every stream and bucket: 1 on a single server, 3 in a cluster.
    #[arg(
        long = "nats-replicas",
        env = "BOXOFFICE_NATS_REPLICAS",
        default_value_t = 1
    )]
    pub replicas: usize,
}

impl NatsConfig {
    /// The namespace the prefix selects.
    pub fn namespace(&self) -> Result<Namespace, crate::IdError> {
        Namespace::new(&self.prefix)
    }

    /// Connects with settings suited to a long-lived service: retry the first connect instead of
    /// failing start-up when NATS comes up a moment later, and reconnect forever.
    pub async fn connect(
        &self,
        name: &str,
    ) -> Result<async_nats::Client, async_nats::ConnectError> {
        async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(self.url.split(',').map(str::trim).collect::<Vec<_>>())
            .await
    }
}
