//! The gateway's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
use boxoffice_workflows::{
    service::{LogConfig, TemporalConfig},
    store::PgConfig,
};

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
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        super::GatewayConfig::command().debug_assert();
    }
}
