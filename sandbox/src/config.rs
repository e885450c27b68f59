//! The sandbox's configuration: flags or `SANDBOX_*` environment variables (`--help`).

use std::path::PathBuf;

use crate::faults::Faults;

/// Where webhooks go and how they are signed.
#[derive(clap::Args, Debug, Clone)]
pub struct WebhookConfig {
    /// URL that receives webhooks (none: webhooks are not sent).
    #[arg(long = "webhook-url", env = "SANDBOX_WEBHOOK_URL")]
    pub url: Option<String>,
    /// Shared secret for the `Boxoffice-Signature` HMAC.
    #[arg(
        long = "webhook-secret",
        env = "SANDBOX_WEBHOOK_SECRET",
        default_value = "whsec_sandbox",
        hide_env_values = true
    )]
    pub secret: String,
    /// Delivery attempts per event before giving up (backoff doubles from 250 ms).
    #[arg(
        long = "webhook-attempts",
        env = "SANDBOX_WEBHOOK_ATTEMPTS",
        default_value_t = 8
    )]
    pub attempts: u32,
}

/// Everything the sandbox reads at start-up.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "boxoffice-payments-sandbox",
    about = "Stripe-like payment provider sandbox with fault injection"
)]
pub struct SandboxConfig {
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:8090")]
    pub addr: std::net::SocketAddr,
    /// Base URL buyers reach the hosted checkout at (default: the listen address).
    #[arg(long = "public-url", env = "SANDBOX_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Secret API key clients send as `Authorization: Bearer <key>`.
    #[arg(
        long = "api-key",
        env = "SANDBOX_API_KEY",
        default_value = "sk_sandbox",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Folder of the ledger file (kept across restarts).
    #[arg(
        long = "data-dir",
        env = "SANDBOX_DATA_DIR",
        default_value = ".data/payments-sandbox"
    )]
    pub data_dir: PathBuf,
    /// Webhooks.
    #[command(flatten)]
    pub webhook: WebhookConfig,
    /// Fault injection.
    #[command(flatten)]
    pub faults: Faults,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_flags_and_variables_are_consistent() {
        use clap::CommandFactory;
        super::SandboxConfig::command().debug_assert();
    }
}
