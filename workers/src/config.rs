//! The worker's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

pub use boxoffice_workflows::service::TemporalConfig;
use boxoffice_workflows::{
    order::tickets::DEV_SEED_HEX,
    payments::http::ProviderConfig,
    service::{SecretSetting, SecretString, ServiceConfig, Settings},
};

/// The ticket signing seed, as a secret setting.
pub const TICKET_SIGNING_SEED: SecretSetting = SecretSetting {
    var: "BOXOFFICE_TICKET_SIGNING_SEED",
    what: "seed",
    dev_value: DEV_SEED_HEX,
};

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
    /// NATS, PostgreSQL, Temporal, the payment provider's name, logging and development mode.
    #[command(flatten)]
    pub service: ServiceConfig,
    /// The payment provider.
    #[command(flatten)]
    pub payments: ProviderConfig,
    /// Ed25519 seed (64 hex digits) tickets are signed with; scanners verify with its public key.
    /// Generate one with `openssl rand -hex 32`; the default seed is accepted only in
    /// development mode.
    #[arg(
        long = "ticket-signing-seed",
        env = "BOXOFFICE_TICKET_SIGNING_SEED",
        default_value = DEV_SEED_HEX,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub ticket_signing_seed: SecretString,
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
}

impl Settings for WorkerConfig {
    fn service(&self) -> &ServiceConfig {
        &self.service
    }

    fn secrets(&self) -> Vec<(SecretSetting, &[SecretString])> {
        vec![
            (
                TICKET_SIGNING_SEED,
                std::slice::from_ref(&self.ticket_signing_seed),
            ),
            (
                ProviderConfig::API_KEY,
                std::slice::from_ref(&self.payments.api_key),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_workflows::service::{Settings, testing::secrets_are_guarded};
    use clap::Parser;

    use super::WorkerConfig;

    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        WorkerConfig::command().debug_assert();
    }

    const OWN_SEED: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const OWN_API_KEY: &str = "sk_live_own-0123456789abcdef";

    #[test]
    fn every_secret_is_guarded() {
        assert_eq!(
            secrets_are_guarded::<WorkerConfig>(&[
                ("--ticket-signing-seed", OWN_SEED),
                ("--payments-api-key", OWN_API_KEY),
            ]),
            Ok(())
        );
    }

    #[test]
    fn the_development_seed_in_capitals_is_still_the_development_seed() {
        let upper = super::DEV_SEED_HEX.to_uppercase();
        let args = [
            "boxoffice-worker",
            "--database-url",
            "postgres://db",
            "--ticket-signing-seed",
            &upper,
            "--payments-api-key",
            OWN_API_KEY,
        ];
        let mut config = WorkerConfig::try_parse_from(args).unwrap();
        // Pinned off: ops/test.sh sets BOXOFFICE_DEV_MODE for every test.
        config.service.dev.enabled = false;
        let e = config.check_secrets().unwrap_err().to_string();
        assert!(e.starts_with("BOXOFFICE_TICKET_SIGNING_SEED "), "{e}");
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
