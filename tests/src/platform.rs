//! A whole platform for one test: a fresh database and NATS namespace, an event in the
//! catalog loaded into the seat store, the payments sandbox (with the test's faults), the
//! gateway (for webhooks) and any number of workers, all talking to the real servers
//! `ops/test.sh` started. Workers run on runtimes of their own so a test can kill one the hard
//! way (every task dropped mid-flight, no goodbye to Temporal) and start another.

use std::time::Duration;

use boxoffice_nats::{
    BuyerId, EventId, Namespace, OrderId, SeatId, SeatStore, SectionCode, Topology,
    seat::SeatStoreOptions,
};
use boxoffice_workflows::{
    domain::{OrderState, OrderStatus, PurchaseIntent, SeatRequest},
    order::{OrderWorkflow, StatusBoard, workflow_id},
    payments::http::{HttpProvider, ProviderConfig},
    store::{self, NewEvent, NewSection, SectionLayout},
};
use clap::Parser;
use temporalio_client::{Client, WorkflowHandle};

use crate::{fresh_database_with_url, nats, services};

/// The webhook secret shared by the sandbox and the gateway in tests.
pub const WEBHOOK_SECRET: &str = "whsec_platform_test";

/// What to start.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// Extra sandbox flags (faults).
    pub sandbox_args: Vec<String>,
    /// Rows of seated section `A` (labels `A-1`.. are row A; rows are `A`, `B`, ...).
    pub rows: u8,
    /// Seats per row.
    pub seats_per_row: u32,
    /// Per-buyer limit.
    pub max_per_buyer: i32,
    /// Refund window given to each workflow.
    pub refund_window_s: u64,
    /// How long reconciliation leaves orders alone that a workflow may still be finishing.
    pub reconcile_grace_s: u64,
    /// How often the worker's reconciliation schedule runs (0: no schedule). On, as deployed,
    /// in every test but those about a single pass's findings.
    pub reconcile_every_s: u64,
    /// Extra gateway flags.
    pub gateway_args: Vec<String>,
    /// The organizer's admission-rate cap.
    pub admission_rate_per_s: Option<i32>,
    /// The sale opens this long after the event is created (`None`: open now).
    pub opens_in: Option<chrono::Duration>,
    /// Units of general-admission section `FLOOR` (`None`: no such section).
    pub floor_capacity: Option<u32>,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        Self {
            sandbox_args: Vec::new(),
            rows: 2,
            seats_per_row: 10,
            max_per_buyer: 8,
            refund_window_s: 0,
            reconcile_grace_s: 120,
            reconcile_every_s: 5,
            gateway_args: Vec::new(),
            admission_rate_per_s: None,
            opens_in: None,
            floor_capacity: Some(50),
        }
    }
}

/// The running platform of one test.
pub struct Platform {
    /// JetStream resources of this test.
    pub topology: Topology,
    /// PostgreSQL of this test.
    pub db: sqlx::PgPool,
    /// Its URL.
    pub db_url: String,
    /// A seat store of the test's own (a separate connection, as an operator would have).
    pub seats: SeatStore,
    /// Order status as the buyer reads it.
    pub board: StatusBoard,
    /// The sandbox's base URL.
    pub sandbox_url: String,
    /// The gateway's base URL.
    pub gateway_url: String,
    /// A provider client (for reading the sandbox's ledger).
    pub provider: HttpProvider,
    /// Temporal.
    pub client: Client,
    /// This test's task queue.
    pub task_queue: String,
    /// The event on sale.
    pub event: EventId,
    opts: PlatformOptions,
}

/// A worker process-alike on a thread and runtime of its own.
pub struct WorkerHandle {
    /// Its admin endpoints (`/healthz`, `/readyz`, `/metrics`).
    pub admin_url: String,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    stop: tokio_util::sync::CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WorkerHandle {
    /// Kills it: the worker's future and every task it spawned are dropped where they stand,
    /// connections cut, nothing said to Temporal.
    pub fn kill(mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops it as SIGTERM would (in-flight work finishes).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }
}

fn row_labels(n: u8) -> Vec<String> {
    (0..n).map(|i| char::from(b'A' + i).to_string()).collect()
}

/// Seat `n` (1-based, row-major) of section `A` in a platform with `per_row` seats per row.
pub fn seat_at(n: u32, per_row: u32) -> SeatId {
    let row = char::from(b'A' + ((n - 1) / per_row) as u8);
    format!("A:{row}-{}", (n - 1) % per_row + 1)
        .parse()
        .expect("valid seat")
}

impl Platform {
    /// Starts everything for one test.
    pub async fn start(opts: PlatformOptions) -> Self {
        let ns = Namespace::for_test();
        let topology = Topology::provision(async_nats::jetstream::new(nats().await), ns.clone(), 1)
            .await
            .expect("provision");
        let (db, db_url) = fresh_database_with_url().await;
        let seats = crate::store_on(&topology, SeatStoreOptions::default()).await;
        let board = StatusBoard::new(topology.js.clone(), ns.clone())
            .await
            .expect("status board");

        let event = create_event(&db, &opts).await;
        let inventory = store::sellable_inventory(&db, event)
            .await
            .expect("inventory");
        seats.load_event(&inventory).await.expect("load");

        // Bind both listeners first: each needs the other's address.
        let gw_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("http://{}", gw_listener.local_addr().unwrap());
        let sb_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox_url = format!("http://{}", sb_listener.local_addr().unwrap());

        let dir = std::env::temp_dir().join(format!("sandbox-{}", uuid::Uuid::new_v4().simple()));
        let mut args: Vec<String> = [
            "sandbox",
            "--data-dir",
            dir.to_str().unwrap(),
            "--webhook-url",
            &format!("{gateway_url}/webhooks/payments"),
            "--webhook-secret",
            WEBHOOK_SECRET,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(opts.sandbox_args.iter().cloned());
        let sandbox = boxoffice_payments_sandbox::SandboxConfig::try_parse_from(args).unwrap();
        tokio::spawn(boxoffice_payments_sandbox::run(
            sandbox,
            sb_listener,
            std::future::pending(),
        ));

        spawn_gateway(
            gw_listener,
            &services().nats_url,
            ns.prefix(),
            &db_url,
            &opts.gateway_args,
            std::future::pending(),
        );
        wait_http(&gateway_url).await;

        let provider = HttpProvider::new(&ProviderConfig {
            url: sandbox_url.clone(),
            api_key: "sk_sandbox".into(),
        })
        .unwrap();
        let client = boxoffice_workflows::service::TemporalConfig {
            url: services().temporal_url.clone(),
            namespace: "default".into(),
            task_queue: String::new(),
        }
        .connect("boxoffice-tests")
        .await
        .expect("temporal")
        .1;
        Self {
            task_queue: format!("orders-{}", ns.prefix()),
            topology,
            db,
            db_url,
            seats,
            board,
            sandbox_url,
            gateway_url,
            provider,
            client,
            event,
            opts,
        }
    }

    /// Starts another gateway on the same NATS namespace and database (as a second process
    /// behind a load balancer would be); it stops when `stop` is cancelled. Returns its URL.
    pub async fn start_gateway(
        &self,
        extra: &[String],
        stop: tokio_util::sync::CancellationToken,
    ) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut args = self.opts.gateway_args.clone();
        args.extend(extra.iter().cloned());
        spawn_gateway(
            listener,
            &services().nats_url,
            self.topology.ns.prefix(),
            &self.db_url,
            &args,
            async move { stop.cancelled().await },
        );
        wait_http(&url).await;
        url
    }

    /// A worker's configuration on this platform (its namespace, database, task queue and
    /// sandbox).
    pub fn worker_config(&self) -> boxoffice_workers::WorkerConfig {
        boxoffice_workers::WorkerConfig::try_parse_from([
            "boxoffice-worker",
            "--dev-mode",
            "--nats-url",
            &services().nats_url,
            "--nats-prefix",
            self.topology.ns.prefix(),
            "--database-url",
            &self.db_url,
            "--temporal-url",
            &services().temporal_url,
            "--task-queue",
            &self.task_queue,
            "--payments-url",
            &self.sandbox_url,
            "--refund-window-s",
            &self.opts.refund_window_s.to_string(),
            "--reconcile-every-s",
            &self.opts.reconcile_every_s.to_string(),
            "--reconcile-grace-s",
            &self.opts.reconcile_grace_s.to_string(),
        ])
        .unwrap()
    }

    /// Starts a worker (intake + Temporal worker) on a runtime of its own.
    pub fn start_worker(&self) -> WorkerHandle {
        let config = self.worker_config();
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let admin_url = format!("http://{}", admin.local_addr().unwrap());
        admin.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let admin = tokio::net::TcpListener::from_std(admin).unwrap();
                let run =
                    boxoffice_workers::run(config, admin, async move { stopped.cancelled().await });
                tokio::select! {
                    r = run => if let Err(e) = r { tracing::error!(error = %e, "test worker failed") },
                    _ = killed => {}
                }
            });
            runtime.shutdown_background();
        });
        WorkerHandle {
            admin_url,
            kill: Some(kill),
            stop,
            thread: Some(thread),
        }
    }

    /// Seat `n` of section `A`.
    pub fn seat(&self, n: u32) -> SeatId {
        seat_at(n, self.opts.seats_per_row)
    }

    /// Every seat of section `A`.
    pub fn all_seats(&self) -> Vec<SeatId> {
        (1..=self.opts.rows as u32 * self.opts.seats_per_row)
            .map(|n| self.seat(n))
            .collect()
    }

    /// An intent for `seats` by a new buyer, with a hold of `hold_s`.
    pub fn intent(&self, seats: Vec<SeatId>, hold_s: u32) -> PurchaseIntent {
        self.intent_for(BuyerId::new(), SeatRequest::Seats(seats), hold_s)
    }

    /// An intent of `buyer`.
    pub fn intent_for(&self, buyer: BuyerId, request: SeatRequest, hold_s: u32) -> PurchaseIntent {
        let key = uuid::Uuid::new_v4().to_string();
        PurchaseIntent {
            order_id: OrderId::new(),
            event_id: self.event,
            buyer_id: buyer,
            request_hash: format!("h-{key}"),
            idempotency_key: key,
            request,
            hold_seconds: hold_s,
            submitted_at: chrono::Utc::now().timestamp_millis(),
            presale: None,
        }
    }

    /// Publishes an intent as the gateway does (message id = idempotency key).
    pub async fn submit(&self, intent: &PurchaseIntent) {
        self.submit_with_id(intent, &intent.idempotency_key).await;
    }

    /// Publishes an intent with a chosen message id (to bypass deduplication on purpose).
    pub async fn submit_with_id(&self, intent: &PurchaseIntent, msg_id: &str) {
        use async_nats::jetstream::message::PublishMessage;
        self.topology
            .js
            .send_publish(
                self.topology.ns.intent_subject(intent.event_id),
                PublishMessage::build()
                    .payload(serde_json::to_vec(intent).unwrap().into())
                    .message_id(msg_id),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// The order's latest status, if any.
    pub async fn status(&self, order: OrderId) -> Option<OrderStatus> {
        self.board.latest(self.event, order).await.unwrap()
    }

    /// Waits until the order's status satisfies `ok`, and returns it.
    pub async fn wait_for(
        &self,
        order: OrderId,
        within: Duration,
        ok: impl Fn(&OrderStatus) -> bool,
    ) -> OrderStatus {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = None;
        loop {
            if let Some(s) = self.status(order).await {
                if ok(&s) {
                    return s;
                }
                last = Some(s);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order} did not get there within {within:?}; last status: {last:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the order is in `state`.
    pub async fn wait_state(
        &self,
        order: OrderId,
        state: OrderState,
        within: Duration,
    ) -> OrderStatus {
        self.wait_for(order, within, |s| s.state == state).await
    }

    /// The buyer pays (`succeed`) or is declined (`decline`) at the hosted checkout.
    pub async fn pay(&self, intent_id: &str, outcome: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/checkout/{intent_id}", self.sandbox_url))
            .body(format!("outcome={outcome}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A reconciler as the worker builds it (its own seat-store connection), leaving orders
    /// alone for `grace_ms`, with a test's `hook` at its checkpoints.
    pub async fn reconciler(
        &self,
        grace_ms: i64,
        hook: Option<boxoffice_workflows::reconcile::Hook>,
    ) -> boxoffice_workflows::reconcile::Reconciler {
        boxoffice_workflows::reconcile::Reconciler {
            seats: crate::store_on(&self.topology, SeatStoreOptions::default()).await,
            db: self.db.clone(),
            payments: self.provider.clone(),
            provider_name: "sandbox".into(),
            tickets: boxoffice_workflows::order::TicketSigner::from_seed_hex(
                boxoffice_workflows::order::tickets::DEV_SEED_HEX,
            )
            .expect("dev seed"),
            temporal: self.client.clone(),
            grace_ms,
            hook,
        }
    }

    /// A handle on the order's workflow.
    pub fn workflow(&self, order: OrderId) -> WorkflowHandle<Client, OrderWorkflow> {
        self.client
            .get_workflow_handle::<OrderWorkflow>(workflow_id(order))
    }
}

/// Starts a gateway on `listener` with the test's settings plus `extra` flags.
pub fn spawn_gateway(
    listener: tokio::net::TcpListener,
    nats_url: &str,
    prefix: &str,
    db_url: &str,
    extra: &[String],
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let gateway = gateway_config(nats_url, prefix, db_url, extra);
    tokio::spawn(async move {
        if let Err(e) = boxoffice_gateway::run(gateway, listener, stop).await {
            tracing::error!(error = %e, "test gateway failed");
        }
    });
}

/// A gateway's configuration with the test's settings plus `extra` flags.
pub fn gateway_config(
    nats_url: &str,
    prefix: &str,
    db_url: &str,
    extra: &[String],
) -> boxoffice_gateway::GatewayConfig {
    let mut args: Vec<String> = [
        "boxoffice-gateway",
        "--dev-mode",
        "--nats-url",
        nats_url,
        "--nats-prefix",
        prefix,
        "--database-url",
        db_url,
        "--payments-webhook-secret",
        WEBHOOK_SECRET,
        "--temporal-url",
        &services().temporal_url,
        "--pacer-tick-ms",
        "100",
        // The platform's workers serve this task queue (on-sale workflows start on it).
        "--task-queue",
        &format!("orders-{prefix}"),
        // Plain HTTP on loopback: the admin cookie cannot be Secure-only here.
        "--admin-cookie-secure",
        "false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().cloned());
    boxoffice_gateway::GatewayConfig::try_parse_from(args).unwrap()
}

/// Waits until a gateway answers its liveness probe.
pub async fn wait_http(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway at {base} never became live");
}

/// Creates the test's event (an organizer, a venue, seated section `A` and, optionally,
/// general-admission `FLOOR`), on sale.
pub async fn create_event(db: &sqlx::PgPool, opts: &PlatformOptions) -> EventId {
    let organizer = sqlx::query_scalar!(
        "insert into organizers (organizer_id, email, display_name, password_hash, role)
         values ($1, $2, 'Test Promotions', 'x', 'organizer') returning organizer_id",
        uuid::Uuid::now_v7(),
        format!("{}@test.local", uuid::Uuid::new_v4().simple()),
    )
    .fetch_one(db)
    .await
    .unwrap();
    let event = store::create_event(
        db,
        &NewEvent {
            organizer_id: organizer,
            venue_name: "Test Hall".into(),
            name: "Test Night".into(),
            timezone: "Europe/Berlin".into(),
            starts_at: chrono::Utc::now() + chrono::Duration::days(7),
            currency: "EUR".into(),
            max_tickets_per_buyer: opts.max_per_buyer,
            hold_seconds: 600,
            sections: vec![NewSection {
                code: SectionCode::parse("A").unwrap(),
                name: "Stalls".into(),
                layout: SectionLayout::Seated {
                    rows: row_labels(opts.rows),
                    seats_per_row: opts.seats_per_row,
                },
                price_cents: 4_500,
            }]
            .into_iter()
            .chain(opts.floor_capacity.map(|capacity| NewSection {
                code: SectionCode::parse("FLOOR").unwrap(),
                name: "Floor".into(),
                layout: SectionLayout::GeneralAdmission { capacity },
                price_cents: 3_000,
            }))
            .collect(),
        },
    )
    .await
    .unwrap();
    sqlx::query!(
        "update events set admission_rate_per_s = $2, opens_at = $3 where event_id = $1",
        event.as_uuid(),
        opts.admission_rate_per_s,
        opts.opens_in.map(|d| chrono::Utc::now() + d),
    )
    .execute(db)
    .await
    .unwrap();
    event
}
