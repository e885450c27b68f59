//! Reaching Temporal: one typed config and one way to connect, shared by every binary.

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

/// How to reach Temporal.
#[derive(clap::Args, Debug, Clone)]
pub struct TemporalConfig {
    /// Temporal frontend URL (gRPC).
    #[arg(
        id = "temporal_url",
        long = "temporal-url",
        env = "BOXOFFICE_TEMPORAL_URL",
        default_value = "http://127.0.0.1:7233"
    )]
    pub url: String,
    /// Temporal namespace.
    #[arg(
        long = "temporal-namespace",
        env = "BOXOFFICE_TEMPORAL_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// Task queue the order workflows run on.
    #[arg(
        long = "task-queue",
        env = "BOXOFFICE_TASK_QUEUE",
        default_value = "boxoffice-orders"
    )]
    pub task_queue: String,
}

/// Connecting to Temporal failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Temporal at {url}: {message}")]
pub struct TemporalError {
    /// The configured URL.
    pub url: String,
    /// What the client said.
    pub message: String,
}

impl TemporalConfig {
    /// Connects to the frontend (gRPC) and checks it answers.
    pub async fn connect(&self, identity: &str) -> Result<(Connection, Client), TemporalError> {
        let err = |m: String| TemporalError {
            url: self.url.clone(),
            message: m,
        };
        let url: url::Url = self
            .url
            .parse()
            .map_err(|e: url::ParseError| err(e.to_string()))?;
        let options = ConnectionOptions::new(url)
            .identity(format!("{identity}@{}", std::process::id()))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build();
        let connection = Connection::connect(options)
            .await
            .map_err(|e| err(e.to_string()))?;
        let client = Client::new(
            connection.clone(),
            ClientOptions::new(self.namespace.clone()).build(),
        )
        .map_err(|e| err(e.to_string()))?;
        Ok((connection, client))
    }
}
