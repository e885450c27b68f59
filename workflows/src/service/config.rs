//! The settings both services read, as one group their configurations flatten, and what a
//! service's configuration tells the shared start-up ([`Settings`]).

use boxoffice_nats::NatsConfig;

use super::{DevMode, LogConfig, SecretError, SecretSetting, SecretString, TemporalConfig};
use crate::store::PgConfig;

/// Where NATS, PostgreSQL and Temporal are, how to log, development mode, and the payment
/// provider's name: every setting the gateway and the worker both read (each flag and
/// variable is declared once, here or in the group it flattens).
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceConfig {
    /// NATS.
    #[command(flatten)]
    pub nats: NatsConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// Temporal.
    #[command(flatten)]
    pub temporal: TemporalConfig,
    /// Name of the payment provider: the worker records payments under it and the gateway
    /// records each callback with it, so both must read the same value.
    #[arg(
        long = "payments-provider",
        env = "BOXOFFICE_PAYMENTS_PROVIDER",
        default_value = "sandbox"
    )]
    pub payments_provider: String,
    /// Logging.
    #[command(flatten)]
    pub log: LogConfig,
    /// Development mode (development secrets allowed).
    #[command(flatten)]
    pub dev: DevMode,
}

/// A service's whole configuration, as the shared start-up and tests read it.
pub trait Settings: clap::Parser + std::fmt::Debug {
    /// The settings every service shares.
    fn service(&self) -> &ServiceConfig;

    /// The service's secret settings with the values it was given, in the order they are
    /// checked (a list setting such as token keys gives all its entries).
    fn secrets(&self) -> Vec<(SecretSetting, &[SecretString])>;

    /// The start-up check of invariant 8: outside development mode, the first secret that is
    /// unset, empty or a development value; in development mode, the settings running on
    /// development values (for a warning). Reads nothing but the config.
    fn check_secrets(&self) -> Result<Vec<&'static str>, SecretError> {
        self.service().dev.check(&self.secrets())
    }
}
