//! The gateway's configuration: flags or `BOXOFFICE_*` environment variables (`--help`).

use boxoffice_workflows::{
    payments::DEV_WEBHOOK_SECRET,
    service::{SecretSetting, SecretString, ServiceConfig, Settings},
};

/// The development signing key: the default, accepted only in development mode.
pub const DEV_TOKEN_KEY: &str = "dev:boxoffice-development-signing-key-not-for-production";

/// The token signing keys, as a secret setting.
pub const TOKEN_KEYS: SecretSetting = SecretSetting {
    var: "BOXOFFICE_TOKEN_KEYS",
    what: "key",
    dev_value: DEV_TOKEN_KEY,
};

/// The payment provider's webhook signing secret, as a secret setting.
pub const WEBHOOK_SECRET: SecretSetting = SecretSetting {
    var: "BOXOFFICE_PAYMENTS_WEBHOOK_SECRET",
    what: "secret",
    dev_value: DEV_WEBHOOK_SECRET,
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
    /// Secret the provider signs its callbacks with. Its default, the sandbox's secret, is
    /// accepted only in development mode.
    #[arg(
        long = "payments-webhook-secret",
        env = "BOXOFFICE_PAYMENTS_WEBHOOK_SECRET",
        default_value = DEV_WEBHOOK_SECRET,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub payments_webhook_secret: SecretString,
    /// Largest accepted age of a callback's signature timestamp, in seconds (replay window).
    #[arg(
        long = "payments-webhook-tolerance-s",
        env = "BOXOFFICE_PAYMENTS_WEBHOOK_TOLERANCE_S",
        default_value_t = 300
    )]
    pub payments_webhook_tolerance_s: i64,
    /// Token signing keys, `kid:secret` (secrets of 32+ bytes), comma-separated. The first
    /// signs; all verify. Rotate by putting a new key first, then dropping the old one once the
    /// longest-lived token signed with it has expired. Generate a secret with
    /// `openssl rand -hex 32`; the default key is accepted only in development mode.
    #[arg(
        long = "token-keys",
        env = "BOXOFFICE_TOKEN_KEYS",
        value_delimiter = ',',
        default_value = DEV_TOKEN_KEY,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub token_keys: Vec<SecretString>,
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
    /// NATS, PostgreSQL, Temporal (signals to order workflows: payment callbacks, cancels),
    /// the payment provider's name, logging and development mode.
    #[command(flatten)]
    pub service: ServiceConfig,
    /// The organizer side.
    #[command(flatten)]
    pub admin: crate::admin::AdminConfig,
    /// Per-client limits (sessions per address, order streams, trusted proxies).
    #[command(flatten)]
    pub clients: crate::limits::ClientLimitsConfig,
}

impl Settings for GatewayConfig {
    fn service(&self) -> &ServiceConfig {
        &self.service
    }

    fn secrets(&self) -> Vec<(SecretSetting, &[SecretString])> {
        vec![
            (TOKEN_KEYS, &self.token_keys),
            (
                WEBHOOK_SECRET,
                std::slice::from_ref(&self.payments_webhook_secret),
            ),
            (
                crate::admin::TICKET_PUBLIC_KEY,
                std::slice::from_ref(&self.admin.ticket_public_key),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_workflows::service::{Settings, testing::secrets_are_guarded};
    use clap::Parser;

    use super::GatewayConfig;

    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        GatewayConfig::command().debug_assert();
    }

    const OWN_KEY: &str = "k1:own-signing-secret-0123456789abcdef0123";
    const OWN_WEBHOOK_SECRET: &str = "whsec_own-0123456789abcdef";
    const OWN_TICKET_KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

    #[test]
    fn every_secret_is_guarded() {
        assert_eq!(
            secrets_are_guarded::<GatewayConfig>(&[
                ("--token-keys", OWN_KEY),
                ("--payments-webhook-secret", OWN_WEBHOOK_SECRET),
                ("--ticket-public-key", OWN_TICKET_KEY),
            ]),
            Ok(())
        );
    }

    fn parse(extra: &[&str]) -> GatewayConfig {
        let base = ["boxoffice-gateway", "--database-url", "postgres://db"];
        GatewayConfig::try_parse_from(base.iter().chain(extra)).unwrap()
    }

    #[test]
    fn a_key_is_hidden_whole_and_a_rotation_through_the_development_key_is_refused() {
        let printed = format!("{:?}", parse(&["--token-keys", OWN_KEY]));
        assert!(!printed.contains("own-signing-secret"), "{printed}");
        let rotating = format!("{OWN_KEY},{}", super::DEV_TOKEN_KEY);
        let mut config = parse(&[
            "--token-keys",
            &rotating,
            "--payments-webhook-secret",
            OWN_WEBHOOK_SECRET,
        ]);
        // Pinned off: ops/test.sh sets BOXOFFICE_DEV_MODE for every test.
        config.service.dev.enabled = false;
        let e = config.check_secrets().unwrap_err().to_string();
        assert!(e.starts_with("BOXOFFICE_TOKEN_KEYS "), "{e}");
    }
}
