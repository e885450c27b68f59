//! `boxoffice-gateway`: the buyer-facing HTTP service.
//!
//! [`run`] serves the router on a listener it is given until the shutdown future resolves;
//! `main.rs` is a thin shell around it, and the tests call it with port 0. Today it serves the
//! probes (`/healthz`, `/readyz`, `/metrics`); the buyer API and waiting room mount here.

pub mod config;
pub mod error;
pub mod webhooks;

use std::{future::Future, time::Duration};

use axum::Router;
use boxoffice_nats::Topology;
use boxoffice_workflows::service::{Check, Probes};
use tower_http::{
    ServiceBuilderExt, limit::RequestBodyLimitLayer, request_id::MakeRequestUuid,
    timeout::TimeoutLayer, trace::TraceLayer,
};

pub use config::GatewayConfig;

/// Dependencies the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// NATS JetStream resources.
    pub topology: Topology,
    /// PostgreSQL.
    pub db: sqlx::PgPool,
    /// How provider callbacks are checked.
    pub webhooks: WebhookSettings,
    /// Temporal, once connected (the gateway serves before it is; signals answer 503 until then).
    pub temporal: std::sync::Arc<tokio::sync::OnceCell<temporalio_client::Client>>,
}

/// How provider callbacks are checked and recorded.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Provider name recorded in the inbox.
    pub provider: String,
    /// The shared signing secret.
    pub secret: String,
    /// Largest accepted age (either way) of a signature timestamp, in seconds.
    pub tolerance_s: i64,
}

/// Builds the router with the layer stack every request goes through.
pub fn router(state: AppState, probes: Probes) -> Router {
    let layers = tower::ServiceBuilder::new()
        .set_x_request_id(MakeRequestUuid)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // Route template, never the raw URI: low cardinality.
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str())
                    .to_owned();
                tracing::info_span!("http.request", method = %req.method(), route)
            }),
        )
        .propagate_x_request_id()
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10),
        ));
    Router::new()
        .merge(webhooks::router())
        .merge(probes.router())
        .with_state(state)
        .layer(layers)
        .route_layer(axum::middleware::from_fn(record_request))
}

/// Counts and times every request by route template and status (low cardinality).
async fn record_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("boxoffice_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status).increment(1);
    metrics::histogram!("boxoffice_http_request_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Errors that stop the gateway from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The NATS prefix is not a valid token.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// NATS could not be reached at start-up.
    #[error("cannot connect to NATS")]
    Nats(#[source] async_nats::ConnectError),
    /// JetStream resources could not be provisioned.
    #[error(transparent)]
    Topology(#[from] boxoffice_nats::TopologyError),
    /// PostgreSQL settings are unusable.
    #[error(transparent)]
    Store(#[from] boxoffice_workflows::store::StoreError),
    /// Serving failed.
    #[error("http server failed")]
    Serve(#[source] std::io::Error),
}

/// Connects to NATS and PostgreSQL, provisions the JetStream topology, and serves until
/// `shutdown` resolves; in-flight requests then get up to 10 s to finish.
pub async fn run(
    config: GatewayConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let ns = config
        .nats
        .namespace()
        .map_err(|e| GatewayError::Config(e.to_string()))?;
    let nats = config
        .nats
        .connect("boxoffice-gateway")
        .await
        .map_err(GatewayError::Nats)?;
    let topology = Topology::provision(
        async_nats::jetstream::new(nats.clone()),
        ns,
        config.nats.replicas,
    )
    .await?;
    let db = boxoffice_workflows::store::connect(&config.pg)?;
    let probes = Probes::new(
        "gateway",
        vec![Check::nats(nats), Check::postgres(db.clone())],
    );
    let webhooks = WebhookSettings {
        provider: config.payments_provider.clone(),
        secret: config.payments_webhook_secret.clone(),
        tolerance_s: config.payments_webhook_tolerance_s,
    };
    let temporal = std::sync::Arc::new(tokio::sync::OnceCell::new());
    tokio::spawn(connect_temporal(config.temporal.clone(), temporal.clone()));
    let app = router(
        AppState {
            topology,
            db,
            webhooks,
            temporal,
        },
        probes,
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "gateway listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(GatewayError::Serve)
}

/// Connects to Temporal in the background, retrying, so the gateway never waits for it.
async fn connect_temporal(
    config: boxoffice_workflows::service::TemporalConfig,
    cell: std::sync::Arc<tokio::sync::OnceCell<temporalio_client::Client>>,
) {
    let mut delay = Duration::from_millis(200);
    loop {
        match config.connect("boxoffice-gateway").await {
            Ok((_, client)) => {
                let _ = cell.set(client);
                tracing::info!("gateway connected to Temporal");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Temporal not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
