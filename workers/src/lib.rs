//! `boxoffice-workers`: the worker process.
//!
//! It connects to NATS (provisioning the JetStream topology), PostgreSQL and Temporal, runs a
//! Temporal worker for the order workflow (`boxoffice_workflows::order`) on its task queue, and
//! serves `/healthz`, `/readyz` and `/metrics` on its admin address until SIGTERM, which stops
//! them all. Beside it runs the [`intake`] consumer, which takes holds and starts workflows.

pub mod config;
pub mod intake;

use std::future::Future;

use axum::Router;
use boxoffice_nats::Topology;
use boxoffice_workflows::service::{Check, ExposeSecret, Probes, SecretError};
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

pub use config::{TemporalConfig, WorkerConfig, WorkerTuning};

/// Errors that stop the worker from starting or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A secret is unset or a development value outside development mode.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// A configuration value is unusable.
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

/// Checks the secrets ([`WorkerConfig::check_secrets`]), then runs the worker's connections
/// and admin endpoints until `shutdown` resolves.
pub async fn run(
    config: WorkerConfig,
    admin: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let development = config.check_secrets()?;
    if !development.is_empty() {
        tracing::warn!(
            settings = ?development,
            "development mode: running on development secrets; never deploy like this"
        );
    }
    let ns = config
        .nats
        .namespace()
        .map_err(|e| WorkerError::Config(e.to_string()))?;
    let nats = config
        .nats
        .connect("boxoffice-worker")
        .await
        .map_err(WorkerError::Nats)?;
    let topology = Topology::provision(
        async_nats::jetstream::new(nats.clone()),
        ns,
        config.nats.replicas,
    )
    .await?;
    let db = boxoffice_workflows::store::connect(&config.pg)?;
    let (temporal, client) = config
        .temporal
        .connect("boxoffice-worker")
        .await
        .map_err(|e| WorkerError::Temporal {
            url: config.temporal.url.clone(),
            source: e.into(),
        })?;
    let namespace = config.temporal.namespace.clone();
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default()).map_err(|e| {
        WorkerError::Temporal {
            url: config.temporal.url.clone(),
            source: e.into(),
        }
    })?;
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
    let reconciler = boxoffice_workflows::reconcile::Reconciler {
        seats: seats.clone(),
        db: db.clone(),
        payments: payments.clone(),
        provider_name: config.payments_provider.clone(),
        tickets: tickets.clone(),
        temporal: client.clone(),
        grace_ms: config.reconcile_grace_s as i64 * 1000,
        hook: None,
    };
    let activities = boxoffice_workflows::order::OrderActivities {
        seats: seats.clone(),
        db: db.clone(),
        payments,
        provider_name: config.payments_provider.clone(),
        board: board.clone(),
        tickets,
    };
    let options = worker_options(
        config.temporal.task_queue.clone(),
        &config.tuning,
        activities,
        reconciler,
    )?;
    if config.reconcile_every_s > 0 {
        boxoffice_workflows::reconcile::workflow::ensure_schedule(
            &client,
            &config.temporal.task_queue,
            std::time::Duration::from_secs(config.reconcile_every_s),
        )
        .await
        .map_err(|e| WorkerError::Temporal {
            url: config.temporal.url.clone(),
            source: e.into(),
        })?;
    }
    let mut worker =
        temporalio_sdk::Worker::new(&runtime, client.clone(), options).map_err(|e| {
            WorkerError::Temporal {
                url: config.temporal.url.clone(),
                source: e.into(),
            }
        })?;
    let intake = intake::Intake {
        topology: topology.clone(),
        seats,
        board,
        client,
        task_queue: config.temporal.task_queue.clone(),
        db: db.clone(),
        opts: config.intake.clone(),
    };
    let probes = Probes::new(
        "worker",
        vec![
            Check::nats(nats),
            Check::postgres(db),
            Check::new("temporal", move || {
                let mut svc = temporal.workflow_service();
                async move {
                    svc.get_system_info(tonic_request(GetSystemInfoRequest::default()))
                        .await
                        .map(|_| ())
                        .map_err(|s| s.message().to_owned())
                }
            }),
        ],
    );
    tracing::info!(
        admin = ?admin.local_addr().ok(),
        temporal_namespace = %namespace,
        task_queue = %config.temporal.task_queue,
        "worker running the order workflow"
    );
    // One shutdown signal stops both: the admin server drains, and the Temporal worker stops
    // polling and finishes the tasks in hand.
    let stop = tokio_util::sync::CancellationToken::new();
    let stop_worker = worker.shutdown_handle();
    let notifier = stop.clone();
    let admin_stopped = stop.clone();
    let app: Router = probes.router();
    let serve = async move {
        axum::serve(admin, app)
            .with_graceful_shutdown(async move { admin_stopped.cancelled().await })
            .await
            .map_err(WorkerError::Serve)
    };
    let intake_stop = stop.clone();
    let consume = async move {
        intake
            .run(intake_stop)
            .await
            .map_err(|e| WorkerError::Config(format!("intake: {e}")))
    };
    let signal = async move {
        shutdown.await;
        notifier.cancel();
        stop_worker();
    };
    let work = async {
        worker.run().await.map_err(|e| WorkerError::Temporal {
            url: config.temporal.url.clone(),
            source: e.into(),
        })
    };
    let ((), served, worked, consumed) = tokio::join!(signal, serve, work, consume);
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
