//! Run with `cargo run -p boxoffice-workers --bin boxoffice-worker` (configuration: `--help`).

use anyhow::Context;
use boxoffice_workflows::service::Settings;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = boxoffice_workers::WorkerConfig::parse();
    // Before logging, listening or connecting: a refusal is one line and exit code 2 (as for a
    // bad flag). `run` checks again, for callers that skip this `main`.
    if let Err(e) = config.check_secrets() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    boxoffice_workflows::service::init_telemetry(&config.service.log);
    let admin = tokio::net::TcpListener::bind(config.admin_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.admin_addr))?;
    boxoffice_workers::run(config, admin, boxoffice_workflows::service::signal())
        .await
        .context("worker failed")?;
    tracing::info!("worker stopped");
    Ok(())
}
