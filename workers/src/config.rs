//! The worker's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
pub use boxoffice_workflows::service::TemporalConfig;
use boxoffice_workflows::{service::LogConfig, store::PgConfig};

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
    /// The payment provider.
    #[command(flatten)]
    pub payments: boxoffice_workflows::payments::http::ProviderConfig,
    /// Name the provider's payments are recorded under.
    #[arg(
        long = "payments-provider",
        env = "BOXOFFICE_PAYMENTS_PROVIDER",
        default_value = "sandbox"
    )]
    pub payments_provider: String,
    /// Ed25519 seed (64 hex digits) tickets are signed with; scanners verify with its public key.
    #[arg(
        long = "ticket-signing-seed",
        env = "BOXOFFICE_TICKET_SIGNING_SEED",
        default_value = boxoffice_workflows::order::tickets::DEV_SEED_HEX,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub ticket_signing_seed: String,
    /// How often the reconciliation schedule runs, in seconds (0: do not create the schedule).
    #[arg(
        long = "reconcile-every-s",
        env = "BOXOFFICE_RECONCILE_EVERY_S",
        default_value_t = 300
    )]
    pub reconcile_every_s: u64,
    /// Orders a workflow may still be finishing are left alone by reconciliation this long.
    #[arg(
        long = "reconcile-grace-s",
        env = "BOXOFFICE_RECONCILE_GRACE_S",
        default_value_t = 120
    )]
    pub reconcile_grace_s: u64,
    /// Temporal worker tuning.
    #[command(flatten)]
    pub tuning: WorkerTuning,
    /// Intake tuning.
    #[command(flatten)]
    pub intake: crate::intake::IntakeOptions,
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

/// Tuning of the Temporal worker (see `docs/adr/0008-order-throughput-tuning.md`).
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerTuning {
    /// Most concurrent workflow-task polls (SDK default when unset).
    #[arg(long = "workflow-pollers", env = "BOXOFFICE_WORKFLOW_POLLERS")]
    pub workflow_pollers: Option<usize>,
    /// Workflows kept in the sticky cache (replays are avoided for these).
    #[arg(
        long = "max-cached-workflows",
        env = "BOXOFFICE_MAX_CACHED_WORKFLOWS",
        default_value_t = 1000
    )]
    pub max_cached_workflows: usize,
    /// Workflow-task slots (concurrent workflow tasks); SDK default when unset.
    #[arg(long = "workflow-slots", env = "BOXOFFICE_WORKFLOW_SLOTS")]
    pub workflow_slots: Option<usize>,
    /// Local-activity slots; SDK default when unset.
    #[arg(long = "local-activity-slots", env = "BOXOFFICE_LOCAL_ACTIVITY_SLOTS")]
    pub local_activity_slots: Option<usize>,
    /// How long a workflow task waits on a worker's sticky queue before any worker may take
    /// it, milliseconds. After a worker dies, its workflows' next steps (a sale's opening
    /// timer, an order's payment) wait this long: the SDK's 10 s is too long for an on-sale.
    #[arg(
        long = "sticky-timeout-ms",
        env = "BOXOFFICE_STICKY_TIMEOUT_MS",
        default_value_t = 2_000
    )]
    pub sticky_timeout_ms: u64,
}
