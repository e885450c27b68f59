//! Run with `cargo run -p boxoffice-gateway` (configuration: `--help`).

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = boxoffice_gateway::GatewayConfig::parse();
    boxoffice_workflows::service::init_telemetry(&config.log);
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    boxoffice_gateway::run(config, listener, boxoffice_workflows::service::signal())
        .await
        .context("gateway failed")?;
    tracing::info!("gateway stopped");
    Ok(())
}
