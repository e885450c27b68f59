//! Run with `cargo run -p boxoffice-payments-sandbox -- --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = boxoffice_payments_sandbox::SandboxConfig::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    };
    boxoffice_payments_sandbox::run(config, listener, shutdown).await
}
