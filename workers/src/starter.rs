//! The starter: opens held orders' workflows at the pace Temporal starts them.
//!
//! Intake queues one [`StartRequest`] per held order on the starts stream; a durable pull
//! consumer shared by every worker hands each to a task that starts the order's workflow with
//! the hold intake took (at most `--intake-starts` at once per worker: ADR 0009 says why so
//! few) and acknowledges it once Temporal has it. A start Temporal refuses as already started
//! is a copy and is acknowledged too: the workflow id is the order's.
//!
//! The starter also measures the queue (waiting and in flight, and how many starts the
//! workers complete per second, all workers together), from which intake tells each buyer
//! when their checkout should open (docs/adr/0021-held-at-seat-store-speed.md).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use boxoffice_nats::{Topology, seat::UnixMillis};
use boxoffice_workflows::order::{OrderInput, OrderWorkflow, StartRequest, workflow_id};
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
    errors::WorkflowStartError,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Name of the starters' durable consumer.
pub const CONSUMER: &str = boxoffice_nats::topology::STARTER_CONSUMER;

/// Starts per second assumed before any has been measured (the dev server here starts 40 to
/// 120 workflows a second: ENGINES.md).
const PRIOR_STARTS_PER_S: f64 = 50.0;
/// Weight of the newest second in the measured pace.
const SMOOTHING: f64 = 0.3;

#[derive(Default)]
struct Measured {
    /// Requests waiting or in flight, all workers.
    backlog: u64,
    /// Starts completed per second, all workers, smoothed; `None` before any.
    per_s: Option<f64>,
}

/// The pace of the starts queue, shared by the starter that measures it and the intake that
/// quotes it to buyers. Cheap to clone.
#[derive(Clone, Default)]
pub struct StartPace {
    measured: Arc<Mutex<Measured>>,
    in_flight: Arc<AtomicU32>,
}

impl StartPace {
    /// When the checkout of an order queued at `now` should open: after the requests ahead of
    /// it, at the measured pace (a prior before any start was measured).
    pub fn eta(&self, now: UnixMillis) -> Option<UnixMillis> {
        let m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
        let per_s = m.per_s.filter(|p| *p >= 1.0).unwrap_or(PRIOR_STARTS_PER_S);
        let wait_ms = (m.backlog + 1) as f64 / per_s * 1000.0;
        Some(now + wait_ms.min(24.0 * 3600.0 * 1000.0) as i64)
    }

    /// Starts this worker has in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn record(&self, backlog: u64, completed_per_s: Option<f64>) {
        let mut m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
        m.backlog = backlog;
        if let Some(now) = completed_per_s {
            // An idle queue says nothing about the pace: keep the last one measured.
            if backlog > 0 || now > 0.0 {
                m.per_s = Some(match m.per_s {
                    Some(p) => p + SMOOTHING * (now - p),
                    None => now,
                });
            }
        }
        metrics::gauge!("boxoffice_starts_backlog").set(backlog as f64);
        if let Some(p) = m.per_s {
            metrics::gauge!("boxoffice_starts_per_second").set(p);
        }
    }
}

/// The starter stage of a worker.
pub struct Starter {
    /// Streams and bucket.
    pub topology: Topology,
    /// Temporal.
    pub client: Client,
    /// Task queue of the order workflows.
    pub task_queue: String,
    /// Starts in flight at most (`--intake-starts`).
    pub starts: usize,
    /// How long an issued order stays open for a refund, seconds.
    pub refund_window_s: u64,
    /// The measured pace, shared with intake.
    pub pace: StartPace,
}

/// The consumer's configuration: explicit acks, a few requests per start slot delivered ahead
/// (the rest wait in the stream, where every worker can take them), redelivery after a minute.
pub fn consumer_config(starts: usize) -> pull::Config {
    crate::consume::durable(
        CONSUMER,
        "order starters: start the workflow of a held order",
        starts.max(1) * 8,
    )
}

impl Starter {
    /// Starts workflows until `stop` is cancelled; starts in flight finish first. While the
    /// intake's hold stage (`holds`) is full, a start steps aside for up to a second, so the
    /// Temporal server's CPU does not delay the seat-lock answers.
    pub async fn run(
        self,
        holds: Arc<Semaphore>,
        stop: CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let consumer = crate::consume::open(
            &self.topology.js,
            &self.topology.ns.starts_stream(),
            consumer_config(self.starts),
        )
        .await?;
        let this = Arc::new(self);
        tokio::spawn(this.clone().measure(consumer.clone(), stop.clone()));
        let slots = Arc::new(Semaphore::new(this.starts.max(1)));
        let batch = this.starts.max(1) * 4;
        tracing::info!(
            consumer = CONSUMER,
            "starter starting held orders' workflows"
        );
        crate::consume::each_message(&consumer, batch, CONSUMER, Some(slots), stop, move |msg| {
            let (this, holds) = (this.clone(), holds.clone());
            async move { this.handle(msg, &holds).await }
        })
        .await
    }

    #[tracing::instrument(name = "starter.start", skip_all, fields(order = tracing::field::Empty, outcome = tracing::field::Empty))]
    async fn handle(&self, msg: jetstream::Message, holds: &Semaphore) {
        let request: StartRequest = match serde_json::from_slice(&msg.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, subject = %msg.subject, "start request dropped");
                metrics::counter!("boxoffice_starts_total", "outcome" => "unreadable").increment(1);
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        tracing::Span::current().record("order", tracing::field::display(request.intent.order_id));
        // Holds first: while the hold stage is saturated (a burst), starts step aside.
        for _ in 0..50 {
            if holds.available_permits() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.pace.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = self.start(request).await;
        self.pace.in_flight.fetch_sub(1, Ordering::Relaxed);
        let outcome = match started {
            Ok(()) => "started",
            Err(WorkflowStartError::AlreadyStarted { .. }) => "already_started",
            Err(e) => {
                tracing::warn!(error = %e, "workflow start will be retried");
                metrics::counter!("boxoffice_starts_total", "outcome" => "retry").increment(1);
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                    .await;
                return;
            }
        };
        tracing::Span::current().record("outcome", outcome);
        metrics::counter!("boxoffice_starts_total", "outcome" => outcome).increment(1);
        if let Err(e) = msg.double_ack().await {
            // Redelivered later, and refused by Temporal as already started then.
            tracing::warn!(error = %e, "start request ack lost");
        }
    }

    async fn start(&self, request: StartRequest) -> Result<(), WorkflowStartError> {
        let options = WorkflowStartOptions::new(
            self.task_queue.clone(),
            workflow_id(request.intent.order_id),
        )
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .build();
        let input = OrderInput {
            intent: request.intent,
            hold: Some(request.hold),
            refund_window_s: self.refund_window_s,
        };
        self.client
            .start_workflow(OrderWorkflow::run, input, options)
            .await
            .map(|_| ())
    }

    /// Once a second, reads the consumer's state: requests waiting or in flight, and how many
    /// were completed since the last reading (all workers), for [`StartPace`].
    async fn measure(
        self: Arc<Self>,
        mut consumer: jetstream::consumer::Consumer<pull::Config>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last: Option<(u64, u64, tokio::time::Instant)> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(info) = consumer.info().await else {
                continue;
            };
            let backlog = info.num_pending + info.num_ack_pending as u64;
            let delivered = info.delivered.consumer_sequence;
            let pending = info.num_ack_pending as u64;
            let now = tokio::time::Instant::now();
            let per_s = last.map(|(d, p, at)| {
                // Completed = delivered since, less the growth of what is still in flight.
                let done = (delivered.saturating_sub(d) as f64) - (pending as f64 - p as f64);
                done.max(0.0) / now.duration_since(at).as_secs_f64().max(0.001)
            });
            last = Some((delivered, pending, now));
            self.pace.record(backlog, per_s);
        }
    }
}
