//! The worker's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
use boxoffice_workflows::{service::LogConfig, store::PgConfig};

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

/// Everything the worker reads at start-up.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "boxoffice-worker",
    about = "Boxoffice worker: order workflows and intake"
)]
pub struct WorkerConfig {
    /// Address of the admin endpoints (/healthz, /readyz, /metrics).
    #[arg(
        long = "admin-addr",
        env = "BOXOFFICE_WORKER_ADMIN_ADDR",
        default_value = "127.0.0.1:9090"
    )]
    pub admin_addr: std::net::SocketAddr,
    /// NATS.
    #[command(flatten)]
    pub nats: NatsConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// Temporal.
    #[command(flatten)]
    pub temporal: TemporalConfig,
    /// Logging.
    #[command(flatten)]
    pub log: LogConfig,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        super::WorkerConfig::command().debug_assert();
    }
}
