//! `boxoffice-gateway`: the HTTP service, buyer-facing first.
//!
//! [`run`] serves the router on a listener it is given until the shutdown future resolves;
//! `main.rs` is a thin shell around it, and the tests call it with port 0. It serves the buyer
//! API and its OpenAPI document ([`api`]), the virtual waiting room's pacer ([`pacer`]), the
//! payment provider's callbacks ([`webhooks`]) and the probes (`/healthz`, `/readyz`,
//! `/metrics`). Every dependency the buyer API reads per request is in memory or one JetStream
//! round trip away; PostgreSQL is read in the background (the catalog) and by the webhooks. It
//! also mounts the organizer side ([`admin`], the `boxoffice-admin` crate) under `/admin`,
//! which reads PostgreSQL per request; what both sides share is `boxoffice-http`. The buyer's
//! pages ([`pages`]) are shells served from memory that use the buyer API like any client.

pub mod api;
pub mod catalog;
pub mod config;
pub mod health;
pub mod limits;
pub mod pacer;
pub mod pages;
pub mod protect;
pub mod records;
pub mod tokens;
pub mod webhooks;

pub use boxoffice_admin as admin;
pub use boxoffice_http::{availability, error};

use std::{future::Future, sync::Arc, time::Duration};

use axum::Router;
use boxoffice_nats::{SeatStore, Topology, queue::WaitingRoom, seat::SeatStoreOptions};
use boxoffice_workflows::{
    order::StatusBoard,
    service::{ExposeSecret, Foundation, Probes, SecretString, StartupError},
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
    pub temporal: Arc<tokio::sync::OnceCell<temporalio_client::Client>>,
    /// The buyer API's shared parts.
    pub buyer: Arc<api::BuyerState>,
    /// The organizer side's state (its router is mounted with it).
    pub admin: admin::AdminState,
    /// Per-client limits and the client's address.
    pub clients: Arc<limits::Clients>,
    /// The buyer pages' rendered shells.
    pub pages: Arc<pages::Shells>,
}

/// How provider callbacks are checked and recorded.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Provider name recorded in the inbox.
    pub provider: String,
    /// The shared signing secret (`Debug` prints it redacted).
    pub secret: SecretString,
    /// Largest accepted age (either way) of a signature timestamp, in seconds.
    pub tolerance_s: i64,
}

/// Builds the router with the layer stack every request goes through.
pub fn router(state: AppState, probes: Probes, limits: &protect::Limits) -> Router {
    let buyer = protect::with_shedding(
        api::router().route("/api/v1/ping", axum::routing::get(protect::ping)),
        limits.max_in_flight,
    );
    let app = Router::new()
        .merge(buyer)
        .merge(api::docs())
        .merge(pages::router())
        .merge(admin::router(state.admin.clone()))
        .merge(webhooks::router())
        .merge(probes.router())
        .fallback(protect::not_found)
        .with_state(state);
    protect::with_layers(app, limits).route_layer(axum::middleware::from_fn(record_request))
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
    /// The start every service shares failed (secrets, NATS, topology, PostgreSQL).
    #[error(transparent)]
    Start(#[from] StartupError),
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A JetStream resource the buyer API needs could not be opened or replayed.
    #[error("cannot start: {0}")]
    Startup(String),
    /// Serving failed.
    #[error("http server failed")]
    Serve(#[source] std::io::Error),
}

/// Starts the gateway ([`Foundation::start`]: secrets, NATS, topology, PostgreSQL) and serves
/// until `shutdown` resolves; in-flight requests then get up to 10 s to finish, and every
/// background loop (catalog refresher, pacer, reporters, followers) is stopped and waited for
/// before it returns.
pub async fn run(
    config: GatewayConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    Foundation::run("gateway", &config, async |foundation| {
        serve(&config, foundation, listener, shutdown).await
    })
    .await
}

/// Builds the gateway's state on `foundation` and serves until `shutdown` resolves. Every loop
/// it starts runs in the foundation's background set.
async fn serve(
    config: &GatewayConfig,
    foundation: &Foundation,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let Foundation {
        nats,
        topology,
        db,
        background,
        ..
    } = foundation;
    let probes = foundation.probes([]);
    let ns = topology.ns.clone();
    let tokens = {
        let keys: Vec<String> = (config.token_keys.iter())
            .map(|k| k.expose_secret().to_owned())
            .collect();
        tokens::TokenKeys::new(&keys, config.session_ttl_s)
    }
    .map_err(|e| GatewayError::Config(e.to_string()))?;
    config.admin.ticket_key().map_err(GatewayError::Config)?;
    let room = WaitingRoom::start(nats.clone(), ns.clone())
        .await
        .map_err(|e| GatewayError::Startup(e.to_string()))?;
    let catalog = catalog::Catalog::default();
    if let Err(e) = catalog.refresh(db).await {
        tracing::warn!(error = %e, "catalog not loaded yet; retrying in the background");
    }
    catalog.spawn_refresher(db.clone(), Duration::from_secs(2), background);
    let availability = availability::Availability::new(
        SeatStore::new(topology.seats.clone(), SeatStoreOptions::default()),
        background.clone(),
    );
    let records = records::Records::open(nats.clone(), ns.clone())
        .await
        .map_err(GatewayError::Startup)?;
    let board = StatusBoard::new(topology.js.clone(), ns.clone())
        .await
        .map_err(|e| GatewayError::Startup(e.to_string()))?;
    let core = health::CoreHealth::start(nats.clone(), ns.clone(), background);
    background.spawn(pacer::run(
        room.clone(),
        catalog.clone(),
        availability.clone(),
        core,
        config.pacer.clone(),
    ));
    background.spawn(protect::report_queues(room.clone(), catalog.clone()));
    let buyer = Arc::new(api::BuyerState {
        tokens,
        room,
        catalog,
        availability,
        records,
        board,
        nats: nats.clone(),
        ns,
        poll: boxoffice_nats::queue::PollPolicy {
            min_ms: config.poll_min_ms,
            max_ms: config.poll_max_ms.max(config.poll_min_ms),
            polls_per_wait: 4,
            budget_per_s: config.poll_budget_per_s.max(1),
        },
        seats_left: api::odds::SeatsLeft::default(),
    });
    let limits = protect::Limits {
        max_in_flight: config.max_in_flight,
        max_body_bytes: config.max_body_bytes,
        max_header_bytes: config.max_header_bytes,
    };
    let webhooks = WebhookSettings {
        provider: config.service.payments_provider.clone(),
        secret: config.payments_webhook_secret.clone(),
        tolerance_s: config.payments_webhook_tolerance_s,
    };
    let temporal = Arc::new(tokio::sync::OnceCell::new());
    background.spawn(connect_temporal(
        config.service.temporal.clone(),
        foundation.identity(),
        temporal.clone(),
    ));
    let clients = limits::Clients::new(&config.clients);
    let admin = admin::AdminState {
        db: db.clone(),
        temporal: temporal.clone(),
        seats: buyer.availability.clone(),
        room: buyer.room.clone(),
        trusted_proxies: clients.trusted_proxies.clone(),
        own: admin::Own::new(config.admin.clone(), &config.service.temporal),
    };
    let app = router(
        AppState {
            topology: topology.clone(),
            db: db.clone(),
            webhooks,
            temporal,
            buyer,
            admin,
            clients,
            pages: Arc::default(),
        },
        probes,
        &limits,
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "gateway listening");
    // The client address is kept for per-address limits (sessions, admin sign-in).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(GatewayError::Serve)
}

/// Connects to Temporal in the background, retrying, so the gateway never waits for it.
async fn connect_temporal(
    config: boxoffice_workflows::service::TemporalConfig,
    identity: String,
    cell: Arc<tokio::sync::OnceCell<temporalio_client::Client>>,
) {
    let mut delay = Duration::from_millis(200);
    loop {
        match config.connect(&identity).await {
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
