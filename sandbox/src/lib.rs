//! `boxoffice-payments-sandbox`: a payment provider stand-in that behaves like a third party.
//!
//! It speaks a Stripe-like API (payment intents with manual capture, refunds, idempotency keys,
//! signed webhooks) over HTTP, keeps its ledger on disk so it survives its own restart, and fails
//! on purpose when told to: latency, errors (before or after doing the work), declines, and lost,
//! duplicated, delayed or reordered webhooks. The platform talks to it only through its
//! `PaymentProvider` trait, exactly as it would to a real provider; nothing in the platform
//! depends on this crate.
//!
//! Start at [`run`]; the API is in [`api`], the money rules in [`ledger`].

pub mod api;
pub mod config;
pub mod faults;
pub mod ledger;
pub mod webhooks;

use std::{future::Future, sync::Arc};

pub use config::SandboxConfig;

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn run(
    config: SandboxConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ledger = ledger::Ledger::open(&config.data_dir)?;
    let public_url = match &config.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let outbox = webhooks::Outbox::start(config.webhook.clone(), config.faults.clone());
    let state = api::State {
        ledger: Arc::new(tokio::sync::Mutex::new(ledger)),
        outbox,
        faults: config.faults.clone(),
        api_key: config.api_key.clone(),
        public_url,
    };
    tracing::info!(addr = ?listener.local_addr().ok(), "payments sandbox listening");
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
