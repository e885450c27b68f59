//! Run with `cargo run -p boxoffice-gateway` (configuration: `--help`).

use anyhow::Context;
use boxoffice_workflows::service::Settings;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = boxoffice_gateway::GatewayConfig::parse();
    // Before logging, listening or connecting: a refusal is one line and exit code 2 (as for a
    // bad flag). `run` checks again, for callers that skip this `main`.
    if let Err(e) = config.check_secrets() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    boxoffice_workflows::service::init_telemetry(&config.service.log);
    let listener = listen(config.http_addr, LISTEN_BACKLOG)
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    boxoffice_gateway::run(config, listener, boxoffice_workflows::service::signal())
        .await
        .context("gateway failed")?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Connections the kernel may queue before the gateway accepts them. An opening burst connects
/// tens of thousands of browsers within seconds; a short queue turns a moment's delay in
/// accepting into dropped connections the buyers see as a dead site (the kernel caps it at
/// `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4_096;

fn listen(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}
