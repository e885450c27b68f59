//! `boxoffice-workers`: the worker process.
//!
//! It connects to NATS (provisioning the JetStream topology), PostgreSQL and Temporal, runs a
//! Temporal worker for the order workflow (`boxoffice_workflows::order`) on its task queue, and
//! serves `/healthz`, `/readyz` and `/metrics` on its admin address until SIGTERM, which stops
//! them all. Beside it runs the [`intake`] consumer, which takes holds and starts workflows.

pub mod config;
mod consume;
pub mod intake;
pub mod starter;

use std::{future::Future, sync::Arc};

use axum::Router;
use boxoffice_workflows::service::{Check, ExposeSecret, Foundation, StartupError};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

pub use config::{TemporalConfig, WorkerConfig, WorkerTuning};

/// Errors that stop the worker from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The start every service shares failed (secrets, NATS, topology, PostgreSQL).
    #[error(transparent)]
    Start(#[from] StartupError),
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The Temporal frontend could not be reached.
    #[error("cannot connect to Temporal at {url}")]
    Temporal {
        /// The configured URL.
        url: String,
        /// What the client said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Serving the admin endpoints failed.
    #[error("admin http server failed")]
    Serve(#[source] std::io::Error),
}

/// Starts the worker ([`Foundation::start`]: secrets, NATS, topology, PostgreSQL), connects to
/// Temporal, and runs the Temporal worker, the intake and the admin endpoints until `shutdown`
/// resolves; each then finishes the work in hand, and the foundation stops before it returns.
pub async fn run(
    config: WorkerConfig,
    admin: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    Foundation::run("worker", &config, async |foundation| {
        work(&config, foundation, admin, shutdown).await
    })
    .await
}

/// Runs the worker's parts on `foundation` until `shutdown` resolves.
async fn work(
    config: &WorkerConfig,
    foundation: &Foundation,
    admin: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let Foundation { topology, db, .. } = foundation;
    let temporal_config = &config.service.temporal;
    let temporal_error = |e: Box<dyn std::error::Error + Send + Sync>| WorkerError::Temporal {
        url: temporal_config.url.clone(),
        source: e,
    };
    let (temporal, client) = temporal_config
        .connect(&foundation.identity())
        .await
        .map_err(|e| temporal_error(e.into()))?;
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default())
        .map_err(|e| temporal_error(e.into()))?;
    let seats = boxoffice_nats::SeatStore::new(topology.seats.clone(), Default::default());
    let board =
        boxoffice_workflows::order::StatusBoard::new(topology.js.clone(), topology.ns.clone())
            .await
            .map_err(|e| WorkerError::Config(e.to_string()))?;
    let payments = boxoffice_workflows::payments::http::HttpProvider::new(&config.payments)
        .map_err(|e| WorkerError::Config(e.to_string()))?;
    let tickets = boxoffice_workflows::order::TicketSigner::from_seed_hex(
        config.ticket_signing_seed.expose_secret(),
    )
    .map_err(|e| WorkerError::Config(e.to_string()))?;
    let provider_name = &config.service.payments_provider;
    let reconciler = boxoffice_workflows::reconcile::Reconciler {
        seats: seats.clone(),
        db: db.clone(),
        payments: payments.clone(),
        provider_name: provider_name.clone(),
        tickets: tickets.clone(),
        temporal: client.clone(),
        grace_ms: config.reconcile_grace_s as i64 * 1000,
        hook: None,
    };
    let activities = boxoffice_workflows::order::OrderActivities {
        seats: seats.clone(),
        db: db.clone(),
        payments,
        provider_name: provider_name.clone(),
        board: board.clone(),
        tickets,
    };
    let options = worker_options(
        temporal_config.task_queue.clone(),
        &config.tuning,
        activities,
        reconciler,
    )?;
    if config.reconcile_every_s > 0 {
        boxoffice_workflows::reconcile::workflow::ensure_schedule(
            &client,
            &temporal_config.task_queue,
            std::time::Duration::from_secs(config.reconcile_every_s),
        )
        .await
        .map_err(|e| temporal_error(e.into()))?;
    }
    let mut worker = temporalio_sdk::Worker::new(&runtime, client.clone(), options)
        .map_err(|e| temporal_error(e.into()))?;
    let pace = starter::StartPace::default();
    let starter = starter::Starter {
        topology: topology.clone(),
        client,
        task_queue: temporal_config.task_queue.clone(),
        starts: config.intake.starts,
        refund_window_s: config.intake.refund_window_s,
        pace: pace.clone(),
    };
    let intake = intake::Intake {
        topology: topology.clone(),
        seats,
        board,
        starts: boxoffice_workflows::order::StartQueue::new(
            topology.js.clone(),
            topology.ns.clone(),
        ),
        pace,
        db: db.clone(),
        opts: config.intake.clone(),
    };
    let holds = Arc::new(tokio::sync::Semaphore::new(config.intake.holds.max(1)));
    let connection = temporal.clone();
    let probes = foundation.probes([Check::new("temporal", move || {
        let mut svc = temporal.workflow_service();
        async move {
            svc.get_system_info(tonic_request(GetSystemInfoRequest::default()))
                .await
                .map(|_| ())
                .map_err(|s| s.message().to_owned())
        }
    })]);
    tracing::info!(
        admin = ?admin.local_addr().ok(),
        temporal_namespace = %temporal_config.namespace,
        task_queue = %temporal_config.task_queue,
        "worker running the order workflow"
    );
    // One shutdown signal stops them all: the admin server drains, the intake finishes the
    // intents in hand, and the Temporal worker stops polling and finishes the tasks in hand.
    let stop = foundation.background.token();
    let stop_worker = worker.shutdown_handle();
    let worker_key = worker.worker_instance_key();
    let notifier = stop.clone();
    let admin_stopped = stop.clone();
    let app: Router = probes.router();
    let serve = async move {
        axum::serve(admin, app)
            .with_graceful_shutdown(async move { admin_stopped.cancelled().await })
            .await
            .map_err(WorkerError::Serve)
    };
    let stop_starter = stop.clone();
    let starter_holds = holds.clone();
    let consume = async move {
        let (taken, started) = tokio::join!(
            intake.run(holds, stop),
            starter.run(starter_holds, stop_starter)
        );
        taken.map_err(|e| WorkerError::Config(format!("intake: {e}")))?;
        started.map_err(|e| WorkerError::Config(format!("starter: {e}")))
    };
    let signal = async move {
        shutdown.await;
        notifier.cancel();
        stop_worker();
    };
    let work = async { worker.run().await.map_err(|e| temporal_error(e.into())) };
    let ((), served, worked, consumed) = tokio::join!(signal, serve, work, consume);
    // The SDK's `run` shuts the core worker down but leaves it registered with the connection,
    // whose worker-heartbeat loop then keeps running (and the connection open) for as long as
    // the process lives. Unregistering is the last step of the core's own shutdown.
    if let Err(e) = connection.workers().finalize_unregister(worker_key) {
        tracing::debug!(error = %e, "Temporal worker not unregistered");
    }
    served.and(worked).and(consumed)
}

/// The Temporal worker's options: the order workflow and its activities on `task_queue`.
/// Local activities do the short steps, so most of an order completes inside a few workflow
/// tasks; the slot counts keep the worker from taking more than the server can serve.
pub fn worker_options(
    task_queue: String,
    tuning: &WorkerTuning,
    activities: boxoffice_workflows::order::OrderActivities,
    reconciler: boxoffice_workflows::reconcile::Reconciler,
) -> Result<temporalio_sdk::WorkerOptions, WorkerError> {
    use boxoffice_workflows::{
        onsale::{OnSaleActivities, OnSaleWorkflow},
        reconcile::workflow::{ReconcileActivities, ReconcileWorkflow},
    };
    let onsale = OnSaleActivities {
        db: activities.db.clone(),
        seats: activities.seats.clone(),
    };
    let options = temporalio_sdk::WorkerOptions::new(task_queue)
        .register_workflow::<boxoffice_workflows::order::OrderWorkflow>()
        .map_err(|e| WorkerError::Config(e.to_string()))?
        .register_workflow::<ReconcileWorkflow>()
        .map_err(|e| WorkerError::Config(e.to_string()))?
        .register_workflow::<OnSaleWorkflow>()
        .map_err(|e| WorkerError::Config(e.to_string()))?
        .register_activities(activities)
        .register_activities(onsale)
        .register_activities(ReconcileActivities { reconciler })
        .build();
    Ok(tune(options, tuning))
}

/// Applies [`WorkerTuning`] to a worker's options (the benchmark's bare worker uses it too, so
/// both sides of the ratio run with the same settings).
pub fn tune(
    mut options: temporalio_sdk::WorkerOptions,
    tuning: &WorkerTuning,
) -> temporalio_sdk::WorkerOptions {
    use temporalio_sdk::runtime::{
        PollerBehavior,
        worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
    };
    // The SDK's default: 100 slots of each kind.
    const DEFAULT_SLOTS: usize = 100;
    options.max_cached_workflows = tuning.max_cached_workflows;
    options.sticky_queue_schedule_to_start_timeout =
        std::time::Duration::from_millis(tuning.sticky_timeout_ms.max(1_000));
    if let Some(n) = tuning.workflow_pollers {
        options.workflow_task_poller_behavior = Some(PollerBehavior::SimpleMaximum(n.max(2)));
    }
    if tuning.workflow_slots.is_some() || tuning.local_activity_slots.is_some() {
        options.tuner = TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(
                tuning.workflow_slots.unwrap_or(DEFAULT_SLOTS),
            ))
            .activity_task_slot_supplier(FixedSizeSlotSupplier::new(DEFAULT_SLOTS))
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(
                tuning.local_activity_slots.unwrap_or(DEFAULT_SLOTS),
            ))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(DEFAULT_SLOTS))
            .build()
            .into();
    }
    options
}

fn tonic_request<T>(msg: T) -> temporalio_client::tonic::Request<T> {
    temporalio_client::tonic::Request::new(msg)
}
