//! Logs (pretty or JSON) and the Prometheus recorder, set up once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How logs are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Logging settings shared by every binary.
#[derive(clap::Args, Debug, Clone)]
pub struct LogConfig {
    /// Log format.
    #[arg(long = "log-format", env = "BOXOFFICE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub format: LogFormat,
    /// Log filter when RUST_LOG is unset (RUST_LOG wins).
    #[arg(
        long = "log-filter",
        env = "BOXOFFICE_LOG",
        default_value = "info,boxoffice=debug"
    )]
    pub filter: String,
}

/// Installs the global tracing subscriber. Safe to call more than once (later calls are no-ops),
/// which tests that start several services in one process rely on.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use. Every `metrics::` macro in
/// the process reports to it; `/metrics` renders it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5,
                    5.0, 10.0,
                ])
                .expect("static bucket list is non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); ours still renders
            // whatever it records, so failing to install it globally is not fatal.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
