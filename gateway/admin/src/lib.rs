//! `boxoffice-admin`: the organizer side of the gateway: the admin UI (server-rendered pages
//! under `/admin`) and the admin JSON API beside it (`/admin/api/v1`), brief section 6.
//!
//! Both sit behind one server-side session (an `HttpOnly`, `SameSite=Strict` cookie whose
//! secret is stored only as a SHA-256 in PostgreSQL, so logout ends it at once) and one CSRF
//! token per session that every state-changing request echoes. An organizer sees and changes
//! only its own events and their orders; an operator sees every organizer's. A request for
//! someone else's event answers 404, exactly as for an event that does not exist.
//!
//! The admin side reads PostgreSQL per request (its traffic is a handful of people, not the
//! on-sale crowd); the live dashboard is the exception, fed from the gateway's in-memory seat
//! view and one shared stats task per watched event, never a query per viewer ([`live`]).
//!
//! The gateway mounts [`router`] with an [`AdminState`] it builds from its own connections
//! and views; this crate opens none. Its SQL lives in `boxoffice_workflows::store` (events,
//! inventory, audit, admin orders, sessions, runs, event stats, check-in), which answers in
//! `StoreError` and domain types (`OrderState`, `SaleStatus`); the one conversion to the JSON
//! error is `boxoffice_http::error`, and the order workflow is reached through `OrderClient`.
//! Start at [`api`] for the JSON API and [`pages`] for the UI; [`checkin`] is the door
//! scanner's API, the one route (with the scanner page and signing out) door staff accounts
//! may use.

pub mod api;
pub mod auth;
pub mod checkin;
pub mod live;
pub mod orders;
pub mod pages;
pub mod seatspec;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use boxoffice_http::{availability::Availability, client::TrustedProxies, error::ApiError};
use boxoffice_nats::queue::WaitingRoom;
use boxoffice_workflows::{
    order::tickets::{DEV_PUBLIC_KEY_HEX, is_public_key},
    service::{ExposeSecret, SecretSetting, SecretString},
};

/// The tickets' public key, as a guarded setting (its development value refused outside
/// development mode).
pub const TICKET_PUBLIC_KEY: SecretSetting = SecretSetting {
    var: "BOXOFFICE_TICKET_PUBLIC_KEY",
    what: "key",
    dev_value: DEV_PUBLIC_KEY_HEX,
};

/// Admin settings.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminConfig {
    /// How long an admin session lasts, seconds.
    #[arg(
        id = "admin_session_ttl_s",
        long = "admin-session-ttl-s",
        env = "BOXOFFICE_ADMIN_SESSION_TTL_S",
        default_value_t = 12 * 3600
    )]
    pub session_ttl_s: i64,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Turn off only for plain-HTTP
    /// development on loopback.
    #[arg(
        long = "admin-cookie-secure",
        env = "BOXOFFICE_ADMIN_COOKIE_SECURE",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub cookie_secure: bool,
    /// Sign-in attempts (failed or not) allowed per account and client address per minute,
    /// and six times that per client address. Never per account alone: nobody can lock an
    /// operator out from another address.
    #[arg(
        long = "admin-login-per-minute",
        env = "BOXOFFICE_ADMIN_LOGIN_PER_MINUTE",
        default_value_t = 5
    )]
    pub login_per_minute: u32,
    /// How often a live dashboard stream checks that its session still exists, seconds: it
    /// ends this long at most after sign-out, expiry or an account update.
    #[arg(
        long = "admin-live-session-check-s",
        env = "BOXOFFICE_ADMIN_LIVE_SESSION_CHECK_S",
        default_value_t = 5
    )]
    pub live_session_check_s: u64,
    /// The public key (64 hex digits) of the Ed25519 seed the worker signs tickets with
    /// (`BOXOFFICE_TICKET_SIGNING_SEED`): the check-in API verifies scans with it, and
    /// `GET /api/v1/tickets/public-key` gives it to gates that check offline. Not a secret,
    /// but guarded as one: its default, the development seed's key, is accepted only in
    /// development mode, so a deployment cannot verify its tickets with the wrong key.
    #[arg(
        long = "ticket-public-key",
        env = "BOXOFFICE_TICKET_PUBLIC_KEY",
        default_value = DEV_PUBLIC_KEY_HEX,
        hide_default_value = true
    )]
    pub ticket_public_key: SecretString,
    /// The Temporal Web UI, for links from order and sale pages.
    #[arg(
        long = "temporal-ui-url",
        env = "BOXOFFICE_TEMPORAL_UI_URL",
        default_value = "http://127.0.0.1:8233"
    )]
    pub temporal_ui_url: String,
}

impl AdminConfig {
    /// The tickets' public key in hex, or why it is not one (the gateway refuses to start).
    pub fn ticket_key(&self) -> Result<&str, String> {
        let key = self.ticket_public_key.expose_secret().trim();
        if is_public_key(key) {
            Ok(key)
        } else {
            Err(format!(
                "{} must be an Ed25519 public key of 64 hex digits",
                TICKET_PUBLIC_KEY.var
            ))
        }
    }
}

/// What the admin handlers share: the gateway's connections and views (cheap clones, never
/// opened here) and the admin side's own parts.
#[derive(Clone)]
pub struct AdminState {
    /// PostgreSQL.
    pub db: sqlx::PgPool,
    /// Temporal, once connected (the gateway serves before it is; sale commands, refunds and
    /// the order's workflow view answer 503 or degrade until then).
    pub temporal: Arc<tokio::sync::OnceCell<temporalio_client::Client>>,
    /// The gateway's live seat view (the dashboard's map and counts).
    pub seats: Availability,
    /// The waiting rooms (the dashboard's queue figures).
    pub room: WaitingRoom,
    /// Proxies whose `X-Forwarded-For` is believed (the sign-in limits count by address).
    pub trusted_proxies: TrustedProxies,
    /// Settings, sign-in limits and live feeds.
    pub own: Arc<Own>,
}

/// The admin side's own parts.
pub struct Own {
    /// Settings.
    pub config: AdminConfig,
    /// Sign-in attempts per (account, client address) and per client address.
    pub logins: auth::LoginLimiter,
    /// Live dashboards.
    pub live: live::LiveHub,
    /// Temporal task queue of the on-sale and order workflows.
    pub task_queue: String,
    /// Temporal namespace (for links).
    pub namespace: String,
}

impl Own {
    /// From the settings.
    pub fn new(
        config: AdminConfig,
        temporal: &boxoffice_workflows::service::TemporalConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            logins: auth::LoginLimiter::new(config.login_per_minute),
            live: live::LiveHub::default(),
            task_queue: temporal.task_queue.clone(),
            namespace: temporal.namespace.clone(),
            config,
        })
    }

    /// A link into the Temporal Web UI for a workflow.
    pub fn temporal_link(&self, workflow_id: &str) -> String {
        format!(
            "{}/namespaces/{}/workflows/{workflow_id}",
            self.config.temporal_ui_url.trim_end_matches('/'),
            self.namespace
        )
    }
}

impl AdminState {
    /// Temporal, or a 503 while the gateway is still connecting to it.
    pub fn temporal_client(&self) -> Result<&temporalio_client::Client, ApiError> {
        self.temporal
            .get()
            .ok_or_else(|| ApiError::unavailable("Temporal is not connected yet"))
    }
}

impl FromRef<AdminState> for TrustedProxies {
    fn from_ref(state: &AdminState) -> Self {
        state.trusted_proxies.clone()
    }
}

/// The admin routes (pages, assets and the JSON API) over `state`, ready to merge into the
/// gateway's router (whatever its own state), inside its layers.
pub fn router<S: Clone + Send + Sync + 'static>(state: AdminState) -> Router<S> {
    Router::new()
        .merge(pages::router())
        .merge(api::router())
        .merge(orders::router())
        .merge(live::router())
        .merge(checkin::router())
        .with_state(state)
}
