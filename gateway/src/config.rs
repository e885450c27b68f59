//! The gateway's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
use boxoffice_workflows::{
    service::{LogConfig, TemporalConfig},
    store::PgConfig,
};

/// The development signing key: fine on a laptop, refused nowhere, logged loudly at start-up.
pub const DEV_TOKEN_KEY: &str = "dev:boxoffice-development-signing-key-not-for-production";

/// Everything the gateway reads at start-up.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "boxoffice-gateway",
    about = "Boxoffice buyer-facing HTTP gateway"
)]
pub struct GatewayConfig {
    /// Address the HTTP API (and its probes) listens on.
    #[arg(
        long = "http-addr",
        env = "BOXOFFICE_HTTP_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub http_addr: std::net::SocketAddr,
    /// Name of the payment provider, recorded with each callback.
    #[arg(
        long = "payments-provider",
        env = "BOXOFFICE_PAYMENTS_PROVIDER",
        default_value = "sandbox"
    )]
    pub payments_provider: String,
    /// Secret the provider signs its callbacks with.
    #[arg(
        long = "payments-webhook-secret",
        env = "BOXOFFICE_PAYMENTS_WEBHOOK_SECRET",
        default_value = "whsec_sandbox",
        hide_env_values = true
    )]
    pub payments_webhook_secret: String,
    /// Largest accepted age of a callback's signature timestamp, in seconds (replay window).
    #[arg(
        long = "payments-webhook-tolerance-s",
        env = "BOXOFFICE_PAYMENTS_WEBHOOK_TOLERANCE_S",
        default_value_t = 300
    )]
    pub payments_webhook_tolerance_s: i64,
    /// Token signing keys, `kid:secret` (secrets of 32+ bytes), comma-separated. The first
    /// signs; all verify. Rotate by putting a new key first, then dropping the old one once the
    /// longest-lived token signed with it has expired.
    #[arg(
        long = "token-keys",
        env = "BOXOFFICE_TOKEN_KEYS",
        value_delimiter = ',',
        default_value = DEV_TOKEN_KEY,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub token_keys: Vec<String>,
    /// How long a buyer session lasts, seconds.
    #[arg(
        long = "session-ttl-s",
        env = "BOXOFFICE_SESSION_TTL_S",
        default_value_t = 6 * 3600
    )]
    pub session_ttl_s: i64,
    /// Shortest poll interval told to waiting-room entries, ms.
    #[arg(
        long = "queue-poll-min-ms",
        env = "BOXOFFICE_QUEUE_POLL_MIN_MS",
        default_value_t = 1_000
    )]
    pub poll_min_ms: u64,
    /// Longest poll interval told to waiting-room entries, ms.
    #[arg(
        long = "queue-poll-max-ms",
        env = "BOXOFFICE_QUEUE_POLL_MAX_MS",
        default_value_t = 60_000
    )]
    pub poll_max_ms: u64,
    /// Polls per second the whole waiting line may send, over every gateway: past
    /// `budget × --queue-poll-max-ms / 1000` entries, the far end is told to poll less often.
    #[arg(
        long = "queue-poll-budget",
        env = "BOXOFFICE_QUEUE_POLL_BUDGET",
        default_value_t = 2_000
    )]
    pub poll_budget_per_s: u64,
    /// Requests in flight on the buyer API above which new ones are shed with 429.
    #[arg(
        long = "max-in-flight",
        env = "BOXOFFICE_MAX_IN_FLIGHT",
        default_value_t = 4_096
    )]
    pub max_in_flight: usize,
    /// Largest request body accepted, bytes.
    #[arg(
        long = "max-body-bytes",
        env = "BOXOFFICE_MAX_BODY_BYTES",
        default_value_t = 16 * 1024
    )]
    pub max_body_bytes: usize,
    /// Largest total size of request headers accepted, bytes.
    #[arg(
        long = "max-header-bytes",
        env = "BOXOFFICE_MAX_HEADER_BYTES",
        default_value_t = 16 * 1024
    )]
    pub max_header_bytes: usize,
    /// The waiting room's pacer.
    #[command(flatten)]
    pub pacer: crate::pacer::PacerConfig,
    /// NATS.
    #[command(flatten)]
    pub nats: NatsConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// Temporal (signals to order workflows: payment callbacks, cancels).
    #[command(flatten)]
    pub temporal: TemporalConfig,
    /// Logging.
    #[command(flatten)]
    pub log: LogConfig,
    /// The organizer side.
    #[command(flatten)]
    pub admin: crate::admin::AdminConfig,
    /// Per-client limits (sessions per address, order streams, trusted proxies).
    #[command(flatten)]
    pub clients: crate::limits::ClientLimitsConfig,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        super::GatewayConfig::command().debug_assert();
    }
}
