//! Process plumbing shared by every binary, so each one starts, reports and stops the same way.

mod background;
mod config;
mod probes;
mod secrets;
mod shutdown;
mod startup;
mod telemetry;
mod temporal;
pub mod testing;

pub use background::Background;
pub use config::{ServiceConfig, Settings};
pub use probes::{Check, Probes};
pub use secrets::{DEV_MODE_VAR, DevMode, ExposeSecret, SecretError, SecretSetting, SecretString};
pub use shutdown::signal;
pub use startup::{Foundation, STOP_WITHIN, StartupError};
pub use telemetry::{LogConfig, LogFormat, init as init_telemetry, metrics_handle};
pub use temporal::{TemporalConfig, TemporalError};
