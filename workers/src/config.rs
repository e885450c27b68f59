//! The worker's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
pub use boxoffice_workflows::service::TemporalConfig;
use boxoffice_workflows::{
    order::tickets::DEV_SEED_HEX,
    payments::http::ProviderConfig,
    service::{DevMode, LogConfig, SecretError, SecretSetting, SecretString},
    store::PgConfig,
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
    pub payments: ProviderConfig,
    /// Name the provider's payments are recorded under.
    #[arg(
        long = "payments-provider",
        env = "BOXOFFICE_PAYMENTS_PROVIDER",
        default_value = "sandbox"
    )]
    pub payments_provider: String,
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
    /// Logging.
    #[command(flatten)]
    pub log: LogConfig,
    /// Development mode (development secrets allowed).
    #[command(flatten)]
    pub dev: DevMode,
}

impl WorkerConfig {
    /// The start-up check of invariant 8: outside development mode, the first secret that is
    /// unset, empty or a development value; in development mode, the settings running on
    /// development values (for a warning). Reads nothing but the config.
    pub fn check_secrets(&self) -> Result<Vec<&'static str>, SecretError> {
        self.dev.check(&[
            (
                TICKET_SIGNING_SEED,
                std::slice::from_ref(&self.ticket_signing_seed),
            ),
            (
                ProviderConfig::API_KEY,
                std::slice::from_ref(&self.payments.api_key),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::WorkerConfig;

    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        WorkerConfig::command().debug_assert();
    }

    const OWN_SEED: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const OWN_API_KEY: &str = "sk_live_own-0123456789abcdef";
    const DB_URL: &str = "postgres://boxoffice:db-password-42@127.0.0.1/boxoffice";

    fn parse(extra: &[&str]) -> WorkerConfig {
        let base = ["boxoffice-worker", "--database-url", DB_URL];
        WorkerConfig::try_parse_from(base.iter().chain(extra)).unwrap()
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let config = parse(&[
            "--ticket-signing-seed",
            OWN_SEED,
            "--payments-api-key",
            OWN_API_KEY,
        ]);
        let printed = format!("{config:?}");
        for secret in [OWN_SEED, OWN_API_KEY, "db-password-42"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        let printed = format!("{:?}", parse(&["--dev-mode"]));
        assert!(!printed.contains(super::DEV_SEED_HEX), "{printed}");
        assert!(
            !printed.contains(boxoffice_workflows::payments::DEV_API_KEY),
            "{printed}"
        );
    }

    #[test]
    fn every_secret_must_be_set_outside_development_mode() {
        let own = [
            "--ticket-signing-seed",
            OWN_SEED,
            "--payments-api-key",
            OWN_API_KEY,
        ];
        let check = |args: &[&str]| {
            let mut config = parse(args);
            // Pinned off: ops/test.sh sets BOXOFFICE_DEV_MODE for every test.
            config.dev.enabled = false;
            config.check_secrets().map_err(|e| e.to_string())
        };
        assert_eq!(check(&own), Ok(vec![]));
        let e = check(&own[2..]).unwrap_err();
        assert!(
            e.starts_with("BOXOFFICE_TICKET_SIGNING_SEED is unset or the development seed"),
            "{e}"
        );
        let e = check(&own[..2]).unwrap_err();
        assert!(e.starts_with("BOXOFFICE_PAYMENTS_API_KEY "), "{e}");
        let upper = super::DEV_SEED_HEX.to_uppercase();
        let e = check(&["--ticket-signing-seed", &upper, own[2], own[3]]).unwrap_err();
        assert!(e.starts_with("BOXOFFICE_TICKET_SIGNING_SEED "), "{e}");
        assert_eq!(
            parse(&["--dev-mode"]).check_secrets(),
            Ok(vec![
                "BOXOFFICE_TICKET_SIGNING_SEED",
                "BOXOFFICE_PAYMENTS_API_KEY"
            ])
        );
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
