//! Run with `cargo run -p boxoffice-workers --bin boxoffice-worker` (configuration: `--help`).

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = boxoffice_workers::WorkerConfig::parse();
    boxoffice_workflows::service::init_telemetry(&config.log);
    let admin = tokio::net::TcpListener::bind(config.admin_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.admin_addr))?;
    boxoffice_workers::run(config, admin, boxoffice_workflows::service::signal())
        .await
        .context("worker failed")?;
    tracing::info!("worker stopped");
    Ok(())
}
