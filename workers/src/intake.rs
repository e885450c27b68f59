//! Intake: where contention is settled.
//!
//! A durable pull consumer on the intents stream hands each admitted intent to a task that
//! settles it ([`settle`]): takes the hold at once by compare-and-swap, tells the buyer (`held`,
//! or `rejected` with the reason) on the status board, and queues the start of the order's
//! workflow with that hold; the message is acknowledged once the start is queued. Holds are
//! settled at the speed of the KV store (thousands per second) while workflow starts run at the
//! speed of Temporal (tens to a hundred per second here), so intake never waits for Temporal:
//! the starters ([`crate::starter`]) take the queue at Temporal's pace, and the workflow
//! renews the hold when it opens the checkout (docs/adr/0021-held-at-seat-store-speed.md).
//!
//! Redelivery is safe, and why is in `boxoffice_workflows::order::intake`, with every rule of
//! settling: this file holds the consumer loop, the concurrency limits, the workflow start and
//! the acknowledgements, and no rule of its own.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use boxoffice_nats::{SeatStore, Topology, seat::UnixMillis};
use boxoffice_workflows::{
    domain::PurchaseIntent,
    order::{
        StartQueue, StatusBoard,
        intake::{self, Stores, settle},
    },
};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::starter::StartPace;
use tokio_util::sync::CancellationToken;

/// Name of the intake's durable consumer.
pub const CONSUMER: &str = boxoffice_nats::topology::INTAKE_CONSUMER;

/// Tuning of the intake.
#[derive(Debug, Clone, clap::Args)]
pub struct IntakeOptions {
    /// Most intents delivered and not yet acknowledged (the back-pressure bound).
    #[arg(
        long = "intake-max-pending",
        env = "BOXOFFICE_INTAKE_MAX_PENDING",
        default_value_t = 8192
    )]
    pub max_pending: usize,
    /// Holds taken concurrently.
    #[arg(
        long = "intake-holds",
        env = "BOXOFFICE_INTAKE_HOLDS",
        default_value_t = 256
    )]
    pub holds: usize,
    /// Workflow starts in flight, per worker. Few is faster: 16 gave the same orders per
    /// second as 64 with half the hold and issue latency, since a flood of starts starves the
    /// server's other work (docs/adr/0009-order-throughput-tuning.md).
    #[arg(
        long = "intake-starts",
        env = "BOXOFFICE_INTAKE_STARTS",
        default_value_t = 16
    )]
    pub starts: usize,
    /// Longest a held order may wait for its workflow to open the checkout, seconds. Intake
    /// holds the seats this much longer than the buyer's hold time; the workflow renews the
    /// hold to the full hold time when the checkout opens, so the buyer's time to pay starts
    /// then, and no hold lapses while its order waits its turn behind Temporal's starts
    /// (docs/adr/0021-held-at-seat-store-speed.md). A start later than this finds its hold
    /// lapsed and the order ends `expired`.
    #[arg(
        long = "intake-open-within-s",
        env = "BOXOFFICE_INTAKE_OPEN_WITHIN_S",
        default_value_t = 1800
    )]
    pub open_within_s: u64,
    /// How long an issued order stays open for an organizer's refund, in seconds.
    #[arg(long = "refund-window-s", env = "BOXOFFICE_REFUND_WINDOW_S", default_value_t = 7 * 24 * 3600)]
    pub refund_window_s: u64,
}

/// The intake stage of a worker.
pub struct Intake {
    /// Streams and bucket.
    pub topology: Topology,
    /// Seat ownership.
    pub seats: SeatStore,
    /// Buyer-visible status.
    pub board: StatusBoard,
    /// Held orders waiting for their workflow.
    pub starts: StartQueue,
    /// The pace of the starts behind intake (for the buyer's estimate).
    pub pace: StartPace,
    /// PostgreSQL (rejected orders are recorded here).
    pub db: sqlx::PgPool,
    /// Tuning.
    pub opts: IntakeOptions,
}

struct Stages {
    intake: Intake,
    holds: Arc<Semaphore>,
    /// Hold latencies (ms) since the last health report.
    window: std::sync::Mutex<Vec<u32>>,
}

impl Stages {
    /// Once a second, tells the waiting room's pacers how the intake is doing (plain NATS:
    /// a lost report only means the next one counts).
    async fn report_health(self: Arc<Self>, stop: CancellationToken) {
        let worker = format!("intake-{}", uuid::Uuid::new_v4().simple());
        let subject = self.intake.topology.ns.intake_health_subject();
        let client = self.intake.topology.js.client();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let mut samples =
                std::mem::take(&mut *self.window.lock().unwrap_or_else(|e| e.into_inner()));
            samples.sort_unstable();
            let pct = |p: f64| -> u32 {
                if samples.is_empty() {
                    0
                } else {
                    samples[((samples.len() - 1) as f64 * p) as usize]
                }
            };
            let report = boxoffice_nats::health::IntakeHealth {
                worker: worker.clone(),
                holds_in_flight: (self.intake.opts.holds - self.holds.available_permits()) as u32,
                starts_in_flight: self.intake.pace.in_flight(),
                holds: samples.len() as u32,
                hold_p50_ms: pct(0.5),
                hold_p99_ms: pct(0.99),
                window_ms: 1_000,
                at: self.intake.seats.now(),
            };
            if let Ok(body) = serde_json::to_vec(&report) {
                let _ = client.publish(subject.clone(), body.into()).await;
            }
        }
    }
}

/// The consumer's configuration: explicit acks, bounded pending, redelivery after a minute
/// without progress.
pub fn consumer_config(max_pending: usize) -> pull::Config {
    crate::consume::durable(
        CONSUMER,
        "order intake: hold, tell the buyer, queue the workflow's start",
        max_pending,
    )
}

impl Intake {
    /// Consumes intents until `stop` is cancelled; in-flight intents finish first. `holds` is
    /// the hold stage's semaphore (`--intake-holds` permits), shared with the starter, which
    /// steps aside while it is full.
    pub async fn run(
        self,
        holds: Arc<Semaphore>,
        stop: CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let consumer = crate::consume::open(
            &self.topology.js,
            &self.topology.ns.intents_stream(),
            consumer_config(self.opts.max_pending),
        )
        .await?;
        let stages = Arc::new(Stages {
            holds,
            window: std::sync::Mutex::new(Vec::new()),
            intake: self,
        });
        tokio::spawn(stages.clone().report_health(stop.clone()));
        tracing::info!(consumer = CONSUMER, "intake consuming purchase intents");
        // The pull batch stays within max_pending, so the server's bound is the only one.
        let batch = stages.intake.opts.max_pending.min(1024);
        crate::consume::each_message(&consumer, batch, CONSUMER, None, stop, move |msg| {
            let stages = stages.clone();
            async move { stages.handle(msg).await }
        })
        .await
    }
}

impl Stages {
    #[tracing::instrument(name = "intake.intent", skip_all, fields(order = tracing::field::Empty, outcome = tracing::field::Empty))]
    async fn handle(&self, msg: jetstream::Message) {
        let redelivered = msg.info().map_or(1, |i| i.delivered) > 1;
        if redelivered {
            metrics::counter!("boxoffice_intake_redeliveries_total").increment(1);
        }
        let i = &self.intake;
        let at = Stores {
            seats: &i.seats,
            board: &i.board,
            starts: &i.starts,
            db: &i.db,
        };
        let result = settle(at, self, &msg.payload, redelivered).await;
        let outcome = match &result {
            Ok(settled) => settled.label(),
            Err(e) => e.label(),
        };
        metrics::counter!("boxoffice_intake_intents_total", "outcome" => outcome).increment(1);
        match result {
            Ok(_) => {
                tracing::Span::current().record("outcome", outcome);
                if let Err(e) = msg.double_ack().await {
                    // Redelivered later, and settled by the redelivery rules then.
                    tracing::warn!(error = %e, "intent ack lost");
                }
            }
            Err(e) if e.is_poison() => {
                // Nothing can ever make it settle: drop it (and say so), never loop on it.
                tracing::error!(error = %e, subject = %msg.subject, "purchase intent dropped");
                let _ = msg.ack_with(AckKind::Term).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "intent will be retried");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                    .await;
            }
        }
    }
}

/// The worker's side of [`settle`]: its hold places, its latency report and its estimate.
impl intake::Stages for Stages {
    /// `None` only if the semaphore were closed, which it never is.
    type Place<'a> = Option<SemaphorePermit<'a>>;

    async fn holding(&self) -> Self::Place<'_> {
        self.holds.acquire().await.ok()
    }

    fn answered(&self, intent: &PurchaseIntent) {
        let ms = (self.intake.seats.now() - intent.submitted_at).max(0);
        metrics::histogram!("boxoffice_intake_hold_seconds").record(ms as f64 / 1000.0);
        self.window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ms.min(u32::MAX as i64) as u32);
    }

    fn open_within(&self) -> Duration {
        Duration::from_secs(self.intake.opts.open_within_s)
    }

    fn checkout_eta(&self, now: UnixMillis) -> Option<UnixMillis> {
        self.intake.pace.eta(now)
    }
}
