//! The gateway's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_nats::NatsConfig;
use boxoffice_workflows::{service::LogConfig, store::PgConfig};

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
    /// NATS.
    #[command(flatten)]
    pub nats: NatsConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
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
