//! `/healthz`, `/readyz` and `/metrics`, the same on every process.
//!
//! `/healthz` is liveness: the process answers. `/readyz` runs every dependency check (NATS,
//! PostgreSQL, Temporal...) with a short timeout and answers 503 naming the failing ones with a
//! code (`unavailable`, `timeout`), so a load balancer stops sending work to a process that
//! cannot do it. The dependency's own error goes to the log, never to the caller: it can name
//! hosts, users and databases, and `/readyz` answers anyone.

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use futures::future::BoxFuture;
use serde_json::json;

/// One readiness check: a name and an async probe that fails with a reason.
#[derive(Clone)]
pub struct Check {
    name: &'static str,
    probe: Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>,
}

impl Check {
    /// A check named `name` running `probe`.
    pub fn new<F, Fut>(name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            probe: Arc::new(move || Box::pin(probe())),
        }
    }

    /// NATS: the connection is up and JetStream answers.
    pub fn nats(client: async_nats::Client) -> Self {
        Self::new("nats", move || {
            let js = async_nats::jetstream::new(client.clone());
            async move {
                js.query_account()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }

    /// PostgreSQL: a trivial query succeeds.
    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self::new("postgres", move || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar!("select 1 as one")
                    .fetch_one(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }
}

/// Why a readiness check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The dependency answered with an error (its words, for the log only).
    Error(String),
    /// No answer within the check's timeout.
    Timeout,
}

impl Failure {
    /// The code `/readyz` shows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Error(_) => "unavailable",
            Self::Timeout => "timeout",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Error(e) => f.write_str(e),
            Self::Timeout => write!(f, "no answer within {CHECK_TIMEOUT:?}"),
        }
    }
}

/// The probe endpoints of one process.
#[derive(Clone)]
pub struct Probes {
    service: &'static str,
    checks: Arc<Vec<Check>>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Probes {
    /// Probes for `service` running `checks` on `/readyz`.
    pub fn new(service: &'static str, checks: Vec<Check>) -> Self {
        // Install the recorder now, so metrics recorded before the first scrape are kept.
        super::telemetry::metrics_handle();
        Self {
            service,
            checks: Arc::new(checks),
        }
    }

    /// Runs every check concurrently; the failures, by name.
    pub async fn failures(&self) -> Vec<(&'static str, Failure)> {
        let runs = self.checks.iter().map(|c| async move {
            match tokio::time::timeout(CHECK_TIMEOUT, (c.probe)()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((c.name, Failure::Error(e))),
                Err(_) => Some((c.name, Failure::Timeout)),
            }
        });
        futures::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// `/healthz`, `/readyz` and `/metrics` as a router to merge into a service's own.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

async fn healthz(State(p): State<Probes>) -> impl IntoResponse {
    Json(json!({ "status": "ok", "service": p.service }))
}

async fn readyz(State(p): State<Probes>) -> impl IntoResponse {
    let failures = p.failures().await;
    if failures.is_empty() {
        return (
            StatusCode::OK,
            Json(json!({ "status": "ready", "service": p.service })),
        );
    }
    let failing: serde_json::Map<String, serde_json::Value> = failures
        .into_iter()
        .map(|(name, failure)| {
            tracing::warn!(service = p.service, check = name, error = %failure, "not ready");
            (name.to_owned(), failure.code().into())
        })
        .collect();
    metrics::counter!("boxoffice_readiness_failures_total").increment(1);
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(
            json!({ "error": { "code": "not_ready", "message": "a dependency is unavailable", "failing": failing } }),
        ),
    )
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        super::telemetry::metrics_handle().render(),
    )
}
