//! Intake: where contention is settled.
//!
//! A durable pull consumer on the intents stream hands each admitted intent to a task that
//! takes the hold at once by compare-and-swap, tells the buyer (`held`, or `rejected` with the
//! reason) on the status board, and starts the order's workflow with that hold; the message is
//! acknowledged only once the start is durable. Holds are settled at the speed of the KV store
//! (thousands per second) while workflow starts run at the speed of Temporal (tens to a
//! hundred per second here), so the two stages have separate concurrency limits and the hold
//! never waits behind a start. Bounded ack-pending is the back-pressure: when starts lag, the
//! server stops delivering.
//!
//! Redelivery is safe. The workflow id is derived from the order id, so Temporal refuses a
//! second start; the first status of an order is published only onto an empty subject, so a
//! second delivery finds the first one's answer, and a redelivered intent whose order already
//! has a status neither holds again nor republishes. One whose order has no status yet (the
//! earlier delivery held and died before telling the buyer) holds again, and the seat store
//! hands it the earlier delivery's hold, picked seats included. A hold whose workflow never
//! starts lapses by itself.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use boxoffice_nats::{SeatError, SeatStore, Topology, seat::Hold};
use boxoffice_workflows::{
    domain::{OrderState, PurchaseIntent},
    order::{
        OrderInput, OrderWorkflow, StatusBoard, held_status, record_unopened, reject, take_hold,
        workflow_id,
    },
    store,
};
use futures::StreamExt;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
    errors::WorkflowStartError,
};
use tokio::sync::Semaphore;
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
    /// Workflow starts in flight. Few is faster: 16 gave the same orders per second as 64 with
    /// half the hold and issue latency, since a flood of starts starves the server's other
    /// work (docs/adr/0009-order-throughput-tuning.md).
    #[arg(
        long = "intake-starts",
        env = "BOXOFFICE_INTAKE_STARTS",
        default_value_t = 16
    )]
    pub starts: usize,
    /// Orders held whose payment is not open yet, at most. A hold is taken only when one of
    /// these places is free, and the place is given back when the workflow has opened the
    /// payment (or after `--intake-staged-wait-s`), so the intake never holds more seats than
    /// the workflows open payments for in a few seconds: past that, held orders wait until
    /// their hold lapses before the buyer can pay (the 200,000-buyer simulation ended 6,106
    /// orders `expired` for 185 issued with the stage unbounded). Intents beyond it wait in
    /// the stream, unheld, their seats still free, and the waiting room's pacer sees the
    /// intake's hands full and slows.
    #[arg(
        long = "intake-staged",
        env = "BOXOFFICE_INTAKE_STAGED",
        default_value_t = 128
    )]
    pub staged: usize,
    /// Longest wait for a started order's payment to open before its staged place is given
    /// back anyway, seconds (a workflow that stalls must not shrink the stage for good).
    #[arg(
        long = "intake-staged-wait-s",
        env = "BOXOFFICE_INTAKE_STAGED_WAIT_S",
        default_value_t = 15
    )]
    pub staged_wait_s: u64,
    /// How long an issued order stays open for an organizer's refund, in seconds.
    #[arg(long = "refund-window-s", env = "BOXOFFICE_REFUND_WINDOW_S", default_value_t = 7 * 24 * 3600)]
    pub refund_window_s: u64,
}

/// Why an intent could not be processed now (it is redelivered later).
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Seats(#[from] SeatError),
    #[error(transparent)]
    Status(#[from] boxoffice_workflows::order::StatusError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Reject(#[from] boxoffice_workflows::order::RejectError),
    #[error("starting the workflow: {0}")]
    Start(WorkflowStartError),
}

/// The intake stage of a worker.
pub struct Intake {
    /// Streams and bucket.
    pub topology: Topology,
    /// Seat ownership.
    pub seats: SeatStore,
    /// Buyer-visible status.
    pub board: StatusBoard,
    /// Temporal.
    pub client: Client,
    /// Task queue of the order workflows.
    pub task_queue: String,
    /// PostgreSQL (rejected orders are recorded here).
    pub db: sqlx::PgPool,
    /// Tuning.
    pub opts: IntakeOptions,
}

struct Stages {
    intake: Intake,
    holds: Semaphore,
    starts: Semaphore,
    /// Places between "held" and "workflow started" ([`IntakeOptions::staged`]).
    staged: Semaphore,
    /// Hold latencies (ms) since the last health report.
    window: std::sync::Mutex<Vec<u32>>,
}

impl Stages {
    fn record_hold(&self, intent: &PurchaseIntent) {
        let ms = (self.intake.seats.now() - intent.submitted_at).max(0);
        metrics::histogram!("boxoffice_intake_hold_seconds").record(ms as f64 / 1000.0);
        self.window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ms.min(u32::MAX as i64) as u32);
    }

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
                starts_in_flight: (self.intake.opts.starts - self.starts.available_permits())
                    as u32,
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
/// without progress (a task waiting on a slow start reports progress meanwhile).
pub fn consumer_config(max_pending: usize) -> pull::Config {
    pull::Config {
        durable_name: Some(CONSUMER.into()),
        description: Some("order intake: hold, tell the buyer, start the workflow".into()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(60),
        max_ack_pending: max_pending as i64,
        max_deliver: -1,
        ..Default::default()
    }
}

impl Intake {
    /// Consumes intents until `stop` is cancelled; in-flight intents finish first.
    pub async fn run(self, stop: CancellationToken) -> Result<(), async_nats::Error> {
        let stream = self
            .topology
            .js
            .get_stream(self.topology.ns.intents_stream())
            .await?;
        let consumer = stream
            .get_or_create_consumer(CONSUMER, consumer_config(self.opts.max_pending))
            .await?;
        let stages = Arc::new(Stages {
            holds: Semaphore::new(self.opts.holds),
            starts: Semaphore::new(self.opts.starts),
            staged: Semaphore::new(self.opts.staged.max(1)),
            window: std::sync::Mutex::new(Vec::new()),
            intake: self,
        });
        tokio::spawn(stages.clone().report_health(stop.clone()));
        let mut tasks = tokio::task::JoinSet::new();
        // The pull batch stays within max_pending, so the server's bound is the only one.
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(stages.intake.opts.max_pending.min(1024))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await?;
        tracing::info!(consumer = CONSUMER, "intake consuming purchase intents");
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => break,
                m = messages.next() => m,
            };
            match next {
                Some(Ok(msg)) => {
                    let stages = stages.clone();
                    tasks.spawn(async move { stages.handle(msg).await });
                }
                Some(Err(e)) => {
                    // Heartbeat missed or the server restarting: the stream reconnects itself.
                    tracing::warn!(error = %e, "intake consumer");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => break,
            }
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

impl Stages {
    #[tracing::instrument(name = "intake.intent", skip_all, fields(order = tracing::field::Empty, outcome = tracing::field::Empty))]
    async fn handle(&self, msg: jetstream::Message) {
        let intent: PurchaseIntent = match serde_json::from_slice(&msg.payload) {
            Ok(i) => i,
            Err(e) => {
                // Nothing can ever make it readable: drop it (and say so), never loop on it.
                tracing::error!(error = %e, subject = %msg.subject, "unreadable purchase intent dropped");
                metrics::counter!("boxoffice_intake_intents_total", "outcome" => "unreadable")
                    .increment(1);
                let _ = msg.ack_with(AckKind::Term).await;
                return;
            }
        };
        tracing::Span::current().record("order", tracing::field::display(intent.order_id));
        let delivered = msg.info().map_or(1, |i| i.delivered);
        let work = self.process(&intent, delivered);
        tokio::pin!(work);
        // A start can wait behind many others: keep the message ours while it does.
        let mut progress = tokio::time::interval(Duration::from_secs(20));
        progress.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                _ = progress.tick() => { let _ = msg.ack_with(AckKind::Progress).await; }
            }
        };
        match result {
            Ok(outcome) => {
                tracing::Span::current().record("outcome", outcome);
                metrics::counter!("boxoffice_intake_intents_total", "outcome" => outcome)
                    .increment(1);
                if let Err(e) = msg.double_ack().await {
                    // Redelivered later, and handled idempotently then.
                    tracing::warn!(error = %e, "intent ack lost");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "intent will be retried");
                metrics::counter!("boxoffice_intake_intents_total", "outcome" => "retry")
                    .increment(1);
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                    .await;
            }
        }
    }

    async fn process(
        &self,
        intent: &PurchaseIntent,
        delivered: i64,
    ) -> Result<&'static str, Retry> {
        let i = &self.intake;
        // A redelivery: finish what the earlier delivery started, never hold twice. (A first
        // delivery skips this read; if its order turns out to be known after all, the
        // conditional first publish below says so and the branch there tidies up.)
        if delivered > 1 {
            metrics::counter!("boxoffice_intake_redeliveries_total").increment(1);
            if let Some(status) = i.board.latest(intent.event_id, intent.order_id).await? {
                return match (status.state, status.hold) {
                    (OrderState::Held, Some(hold)) => self.start(intent, hold).await,
                    (OrderState::Rejected, _) => {
                        // The earlier delivery may have told the buyer and died before the row.
                        let reason = status.reason.as_deref().unwrap_or("rejected");
                        record_unopened(&i.db, intent, OrderState::Rejected, reason).await?;
                        Ok("rejected")
                    }
                    _ => Ok("already_started"),
                };
            }
        }
        // A place to wait in until the payment opens, before any seat is taken.
        let _staged = self.staged.acquire().await;
        let permit = self.holds.acquire().await;
        let order = intent.order_ref();
        let held = take_hold(&i.seats, intent).await;
        match held {
            Ok(hold) => {
                let first = i
                    .board
                    .publish_first(&held_status(intent, &hold, i.seats.now()))
                    .await?;
                drop(permit);
                self.record_hold(intent);
                if !first {
                    // A concurrent delivery of the same intent answered first.
                    return match i.board.latest(intent.event_id, intent.order_id).await? {
                        Some(s) if s.state == OrderState::Held => {
                            self.start(intent, s.hold.unwrap_or(hold)).await
                        }
                        Some(s) if !s.state.owns_seats() => {
                            // The order was refused or has ended: it owns nothing, so the hold
                            // this delivery just took is ours alone to give back.
                            i.seats.release(&order, &hold.seat_ids()).await?;
                            Ok("already_finished")
                        }
                        // It owns seats: the store handed this call the order's existing hold.
                        _ => Ok("already_started"),
                    };
                }
                let started = self.start(intent, hold).await?;
                if started == "held" {
                    self.until_payment_opens(intent).await;
                }
                Ok(started)
            }
            Err(e @ SeatError::Unavailable(_)) => Err(e.into()),
            Err(refusal) => {
                drop(permit);
                reject(&i.db, &i.board, intent, refusal.code(), i.seats.now()).await?;
                self.record_hold(intent);
                Ok("rejected")
            }
        }
    }

    /// Keeps the caller's staged place until the new order has left `held` (its payment is
    /// open, or it ended), bounded by `--intake-staged-wait-s`. Only pacing depends on this:
    /// a failed wait just gives the place back early.
    async fn until_payment_opens(&self, intent: &PurchaseIntent) {
        let i = &self.intake;
        let within = Duration::from_secs(i.opts.staged_wait_s);
        let outcome = match i
            .board
            .wait_past(intent.event_id, intent.order_id, OrderState::Held, within)
            .await
        {
            Ok(Some(_)) => "moved",
            Ok(None) => "timed_out",
            Err(e) => {
                tracing::debug!(error = %e, "waiting for the payment to open");
                "unobserved"
            }
        };
        metrics::counter!("boxoffice_intake_staged_waits_total", "outcome" => outcome).increment(1);
    }

    async fn start(&self, intent: &PurchaseIntent, hold: Hold) -> Result<&'static str, Retry> {
        // Holds first: while the hold stage is saturated (a burst), starts step aside for up to
        // a second, so the Temporal server's CPU does not delay the seat-lock answers. A
        // steady, paced stream never saturates it and never waits here.
        for _ in 0..50 {
            if self.holds.available_permits() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _permit = self.starts.acquire().await;
        let i = &self.intake;
        let options = WorkflowStartOptions::new(i.task_queue.clone(), workflow_id(intent.order_id))
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .build();
        let input = OrderInput {
            intent: intent.clone(),
            hold: Some(hold),
            refund_window_s: i.opts.refund_window_s,
        };
        match i
            .client
            .start_workflow(OrderWorkflow::run, input, options)
            .await
        {
            Ok(_) => Ok("held"),
            Err(WorkflowStartError::AlreadyStarted { .. }) => Ok("already_started"),
            Err(e) => Err(Retry::Start(e)),
        }
    }
}
