//! `boxoffice-bench orders`: the real order workflow on a contended inventory against a bare
//! workflow of the same shape, on the same Temporal server, in the same run.
//!
//! Each run: (1) `bare` BareOrder workflows started, signalled and completed, as fast as the
//! server and worker allow; (2) a burst of `intents` purchase intents for `seats` seats (one
//! seat each, chosen at random, so most lose) published onto the intents stream, with every
//! buyer who gets a hold paying at the sandbox's checkout as soon as the status says so. The
//! platform runs in this process: the worker (intake + Temporal worker) on a runtime of its own,
//! the gateway (webhooks) and the payments sandbox on this one. Status changes are observed
//! on the order-events subjects as they are published, so latencies are what a buyer would see.
//!
//! `p99_hold_ms`: intent accepted → `held` (or `rejected`) visible. `p99_issue_ms`: buyer paid →
//! `issued` visible. `orders_per_s`: issued orders / (first intent → last issue).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use boxoffice_nats::{BuyerId, Namespace, OrderId, SeatId, SectionCode, Topology};
use boxoffice_workflows::{
    domain::{OrderState, OrderStatus, PurchaseIntent, SeatRequest},
    service::TemporalConfig,
    store::{self, NewEvent, NewSection, SectionLayout},
};
use clap::Parser;
use futures::StreamExt;
use rand::Rng;
use temporalio_client::{WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions};

use super::bare::{BareOrder, Noop};

/// Parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct OrdersArgs {
    /// NATS URL.
    #[arg(long, env = "BOXOFFICE_NATS_URL")]
    pub nats_url: String,
    /// PostgreSQL maintenance database URL (a fresh database is created).
    #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
    pub database_url: String,
    /// Temporal frontend.
    #[arg(long, env = "BOXOFFICE_TEMPORAL_URL")]
    pub temporal_url: String,
    /// Purchase intents in the burst.
    #[arg(long, default_value_t = 5_000)]
    pub intents: u32,
    /// Seats on sale.
    #[arg(long, default_value_t = 2_000)]
    pub seats: u32,
    /// Bare workflows (default: as many as seats, i.e. as many workflows as the real pass runs).
    #[arg(long)]
    pub bare: Option<u32>,
    /// Repetitions; the report gives medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Workflow starts and signals in flight from the bare driver (the intake's default).
    #[arg(long, default_value_t = 16)]
    pub in_flight: usize,
    /// Worker tuning (the same for both passes).
    #[command(flatten)]
    pub tuning: boxoffice_workers::WorkerTuning,
    /// Intake tuning.
    #[command(flatten)]
    pub intake: boxoffice_workers::intake::IntakeOptions,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct RunFigures {
    bare_per_s: f64,
    orders_per_s: f64,
    p99_hold_ms: f64,
    p99_issue_ms: f64,
    sold: u32,
    rejected: u32,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a Temporal worker future (not `Send`) on a thread of its own; `make` gets the stop
/// signal and shuts its worker down gracefully when it fires.
fn on_thread<F, Fut>(
    make: F,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
)
where
    F: FnOnce(tokio::sync::oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(make(rx));
    });
    (tx, handle)
}

async fn bare_pass(args: &OrdersArgs, run: usize, n: u32) -> anyhow::Result<f64> {
    bare_throughput(&args.temporal_url, &args.tuning, args.in_flight, run, n).await
}

/// Bare workflows of the order's shape completed per second on the server at `temporal_url`:
/// `n` started (`in_flight` at a time), signalled as "paid" once they ask, and awaited. The
/// on-sale benchmark uses it as its yardstick too.
pub async fn bare_throughput(
    temporal_url: &str,
    tuning: &boxoffice_workers::WorkerTuning,
    in_flight: usize,
    run: usize,
    n: u32,
) -> anyhow::Result<f64> {
    let temporal = TemporalConfig {
        url: temporal_url.to_owned(),
        namespace: "default".into(),
        task_queue: format!("bench-bare-{}", uuid::Uuid::new_v4().simple()),
    };
    let (_, client) = temporal.connect("boxoffice-bench").await?;
    let tq = temporal.task_queue.clone();
    let tuning = tuning.clone();
    let worker_temporal = temporal.clone();
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let (stop, thread) = on_thread(move |stop| async move {
        let Ok((_, client)) = worker_temporal.connect("bench-bare-worker").await else {
            return;
        };
        let Ok(runtime) = temporalio_sdk::Runtime::from_current_tokio(Default::default()) else {
            return;
        };
        let Ok(options) = temporalio_sdk::WorkerOptions::new(tq)
            .register_workflow::<BareOrder>()
            .map(|b| b.register_activities(Noop { opened: opened_tx }).build())
        else {
            return;
        };
        let options = boxoffice_workers::tune(options, &tuning);
        if let Ok(mut worker) = temporalio_sdk::Worker::new(&runtime, client, options) {
            let shutdown = worker.shutdown_handle();
            tokio::spawn(async move {
                let _ = stop.await;
                shutdown();
            });
            let _ = worker.run().await;
        }
    });
    let started = Instant::now();
    let ids: Vec<String> = (0..n)
        .map(|i| format!("bare-{run}-{i}-{}", uuid::Uuid::new_v4().simple()))
        .collect();
    // The "buyers": signal each workflow once it says it awaits payment.
    let signaller = {
        let client = client.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut sent = 0u32;
            let mut tasks = tokio::task::JoinSet::new();
            while sent < n {
                let Some(i) = opened_rx.recv().await else {
                    break;
                };
                sent += 1;
                let handle = client.get_workflow_handle::<BareOrder>(ids[i as usize].clone());
                tasks.spawn(async move {
                    handle
                        .signal(BareOrder::payment, (), WorkflowSignalOptions::default())
                        .await
                });
            }
            while let Some(r) = tasks.join_next().await {
                r??;
            }
            anyhow::Ok(())
        })
    };
    let client = &client;
    let tq = &temporal.task_queue;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| async move {
            client
                .start_workflow(
                    BareOrder::run,
                    i as u32,
                    WorkflowStartOptions::new(tq.clone(), id.clone()).build(),
                )
                .await?;
            Ok(())
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let done: Vec<anyhow::Result<u32>> = futures::stream::iter(ids.iter())
        .map(|id| async move {
            Ok(client
                .get_workflow_handle::<BareOrder>(id.clone())
                .get_result(WorkflowGetResultOptions::default())
                .await?)
        })
        .buffer_unordered(256)
        .collect()
        .await;
    for r in done {
        r?;
    }
    signaller.await??;
    let per_s = n as f64 / started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = thread.join();
    Ok(per_s)
}

#[derive(Default)]
struct Observed {
    submitted: HashMap<OrderId, i64>,
    hold_ms: Vec<f64>,
    paid_at: HashMap<OrderId, i64>,
    issue_ms: Vec<f64>,
    seen_first: std::collections::HashSet<OrderId>,
    issued: u32,
    rejected: u32,
    failed: u32,
    last_issue: i64,
}

async fn create_event(db: &sqlx::PgPool, seats: u32) -> anyhow::Result<boxoffice_nats::EventId> {
    let organizer = sqlx::query_scalar!(
        "insert into organizers (organizer_id, email, display_name, password_hash, role)
         values ($1, $2, 'Bench Promotions', 'x', 'organizer') returning organizer_id",
        uuid::Uuid::now_v7(),
        format!("{}@bench.local", uuid::Uuid::new_v4().simple()),
    )
    .fetch_one(db)
    .await?;
    let per_row = 100u32;
    let rows = seats.div_ceil(per_row);
    ensure!(rows <= 26 * 26, "too many seats for the bench's row labels");
    let labels: Vec<String> = (0..rows)
        .map(|i| {
            let (a, b) = (i / 26, i % 26);
            if a == 0 {
                char::from(b'A' + b as u8).to_string()
            } else {
                format!(
                    "{}{}",
                    char::from(b'A' + a as u8 - 1),
                    char::from(b'A' + b as u8)
                )
            }
        })
        .collect();
    Ok(store::create_event(
        db,
        &NewEvent {
            organizer_id: organizer,
            venue_name: "Bench Arena".into(),
            name: "Bench Night".into(),
            timezone: "UTC".into(),
            starts_at: chrono::Utc::now() + chrono::Duration::days(7),
            currency: "EUR".into(),
            max_tickets_per_buyer: 8,
            hold_seconds: 600,
            sections: vec![NewSection {
                code: SectionCode::parse("MAIN")?,
                name: "Main".into(),
                layout: SectionLayout::Seated {
                    rows: labels,
                    seats_per_row: per_row,
                },
                price_cents: 5_000,
            }],
        },
    )
    .await?)
}

async fn orders_pass(args: &OrdersArgs, db_url: &str) -> anyhow::Result<(f64, f64, f64, u32, u32)> {
    let ns = Namespace::new(&format!(
        "b{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    ))?;
    let nats = async_nats::connect(&args.nats_url).await?;
    let topology =
        Topology::provision(async_nats::jetstream::new(nats.clone()), ns.clone(), 1).await?;
    let db = sqlx::PgPool::connect(db_url).await?;
    let event = create_event(&db, args.seats).await?;
    let seats_store = boxoffice_nats::SeatStore::new(topology.seats.clone(), Default::default());
    let inventory = store::sellable_inventory(&db, event).await?;
    seats_store.load_event(&inventory).await?;
    let all: Vec<SeatId> = match &inventory.sections[0].units {
        boxoffice_nats::seat::SectionUnits::Seated(l) => l
            .iter()
            .take(args.seats as usize)
            .map(|l| SeatId::new(inventory.sections[0].code.clone(), l.clone()))
            .collect(),
        boxoffice_nats::seat::SectionUnits::GeneralAdmission(_) => unreachable!("seated"),
    };

    // The platform: sandbox and gateway here, the worker on its own runtime.
    let gw = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_url = format!("http://{}", gw.local_addr()?);
    let sb = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sb.local_addr()?);
    let dir = std::env::temp_dir().join(format!("bench-sandbox-{}", uuid::Uuid::new_v4().simple()));
    let sandbox = boxoffice_payments_sandbox::SandboxConfig::try_parse_from([
        "sandbox",
        "--data-dir",
        dir.to_str().context("temp dir")?,
        "--webhook-url",
        &format!("{gateway_url}/webhooks/payments"),
    ])?;
    tokio::spawn(boxoffice_payments_sandbox::run(
        sandbox,
        sb,
        std::future::pending(),
    ));
    let gateway = boxoffice_gateway::GatewayConfig::try_parse_from([
        "boxoffice-gateway",
        "--dev-mode",
        "--nats-url",
        &args.nats_url,
        "--nats-prefix",
        ns.prefix(),
        "--database-url",
        db_url,
        "--temporal-url",
        &args.temporal_url,
    ])?;
    tokio::spawn(boxoffice_gateway::run(gateway, gw, std::future::pending()));
    let mut worker_args: Vec<String> = [
        "boxoffice-worker",
        "--dev-mode",
        "--nats-url",
        &args.nats_url,
        "--nats-prefix",
        ns.prefix(),
        "--database-url",
        db_url,
        "--database-max-connections",
        "32",
        "--temporal-url",
        &args.temporal_url,
        "--task-queue",
        &format!("bench-orders-{}", ns.prefix()),
        "--payments-url",
        &sandbox_url,
        "--refund-window-s",
        "0",
        // As deployed, with the schedule racing the orders harder than its 300 s default: the
        // figure is the platform's with every background job on (ADR 0017).
        "--reconcile-every-s",
        "5",
        "--intake-max-pending",
        &args.intake.max_pending.to_string(),
        "--intake-holds",
        &args.intake.holds.to_string(),
        "--intake-starts",
        &args.intake.starts.to_string(),
        "--max-cached-workflows",
        &args.tuning.max_cached_workflows.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (flag, v) in [
        ("--workflow-pollers", args.tuning.workflow_pollers),
        ("--workflow-slots", args.tuning.workflow_slots),
        ("--local-activity-slots", args.tuning.local_activity_slots),
    ] {
        if let Some(v) = v {
            worker_args.push(flag.into());
            worker_args.push(v.to_string());
        }
    }
    let worker_config = boxoffice_workers::WorkerConfig::try_parse_from(worker_args)?;
    let (stop_worker, worker_thread) = on_thread(move |stop| async move {
        let Ok(admin) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            return;
        };
        let stopped = async move {
            let _ = stop.await;
        };
        if let Err(e) = boxoffice_workers::run(worker_config, admin, stopped).await {
            tracing::error!(error = %e, "bench worker failed");
        }
    });
    // Wait for the worker's intake consumer to exist.
    let stream = topology.js.get_stream(ns.intents_stream()).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            boxoffice_workers::intake::CONSUMER,
        )
        .await
        .is_err()
    {
        ensure!(Instant::now() < deadline, "the worker did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Buyers: watch every status change, pay when asked.
    let observed = Arc::new(Mutex::new(Observed::default()));
    let mut sub = nats
        .subscribe(format!("{}.order.{event}.*", ns.prefix()))
        .await?;
    let http = reqwest::Client::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let total = args.intents;
    let watcher = {
        let observed = observed.clone();
        let sandbox_url = sandbox_url.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Ok(status) = serde_json::from_slice::<OrderStatus>(&msg.payload) else {
                    continue;
                };
                let now = now_ms();
                let mut o = observed.lock().unwrap_or_else(|e| e.into_inner());
                if o.seen_first.insert(status.order_id)
                    && let Some(sent) = o.submitted.get(&status.order_id).copied()
                {
                    o.hold_ms.push((now - sent) as f64);
                }
                match status.state {
                    OrderState::Rejected => o.rejected += 1,
                    OrderState::PaymentFailed | OrderState::Expired | OrderState::Canceled => {
                        o.failed += 1
                    }
                    OrderState::AwaitingPayment => {
                        if let Some(p) = status.payment.clone() {
                            o.paid_at.insert(status.order_id, now);
                            let http = http.clone();
                            let url = format!("{sandbox_url}/checkout/{}", p.id);
                            tokio::spawn(async move {
                                let _ = http.post(url).body("outcome=succeed").send().await;
                            });
                        }
                    }
                    OrderState::Issued => {
                        o.issued += 1;
                        o.last_issue = now;
                        if let Some(paid) = o.paid_at.get(&status.order_id).copied() {
                            o.issue_ms.push((now - paid) as f64);
                        }
                    }
                    _ => {}
                }
                if o.issued + o.rejected + o.failed >= total {
                    let _ = done_tx.try_send(());
                }
            }
        })
    };

    // The burst.
    let mut rng = rand::rng();
    let intents: Vec<PurchaseIntent> = (0..args.intents)
        .map(|_| {
            let key = uuid::Uuid::new_v4().to_string();
            PurchaseIntent {
                order_id: OrderId::new(),
                event_id: event,
                buyer_id: BuyerId::new(),
                request_hash: format!("h{key}"),
                idempotency_key: key,
                request: SeatRequest::Seats(vec![all[rng.random_range(0..all.len())].clone()]),
                hold_seconds: 600,
                submitted_at: 0,
                presale: None,
            }
        })
        .collect();
    let first = now_ms();
    let js = topology.js.clone();
    let subject = ns.intent_subject(event);
    let published: Vec<anyhow::Result<()>> = futures::stream::iter(intents)
        .map(|mut intent| {
            let js = js.clone();
            let subject = subject.clone();
            let observed = observed.clone();
            async move {
                intent.submitted_at = now_ms();
                observed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .submitted
                    .insert(intent.order_id, intent.submitted_at);
                js.send_publish(
                    subject,
                    async_nats::jetstream::message::PublishMessage::build()
                        .payload(serde_json::to_vec(&intent)?.into())
                        .message_id(&intent.idempotency_key),
                )
                .await?
                .await?;
                Ok(())
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    for p in published {
        p?;
    }
    let finished = tokio::time::timeout(Duration::from_secs(900), done_rx.recv()).await;
    watcher.abort();
    let _ = stop_worker.send(());
    let _ = worker_thread.join();
    ensure!(
        finished.is_ok(),
        "the burst did not finish within 15 minutes"
    );
    let o = observed.lock().unwrap_or_else(|e| e.into_inner());
    ensure!(
        o.failed == 0,
        "{} orders failed without a fault injected",
        o.failed
    );
    let secs = (o.last_issue - first) as f64 / 1000.0;
    Ok((
        o.issued as f64 / secs,
        crate::quantile_ms(o.hold_ms.clone(), 0.99),
        crate::quantile_ms(o.issue_ms.clone(), 0.99),
        o.issued,
        o.rejected,
    ))
}

/// Runs the benchmark and returns the JSON report (medians over runs).
pub async fn run(args: &OrdersArgs) -> anyhow::Result<serde_json::Value> {
    // One database for all runs; every run gets its own event and NATS namespace.
    let db_url = crate::fresh_database(&args.database_url).await?;

    let bare_n = args.bare.unwrap_or(args.seats);
    let mut figures = Vec::new();
    for run in 0..args.runs {
        let bare_per_s = bare_pass(args, run, bare_n).await?;
        let (orders_per_s, p99_hold_ms, p99_issue_ms, sold, rejected) =
            orders_pass(args, &db_url).await?;
        let f = RunFigures {
            bare_per_s,
            orders_per_s,
            p99_hold_ms,
            p99_issue_ms,
            sold,
            rejected,
        };
        eprintln!(
            "run {}: bare {:.1}/s, orders {:.1}/s (ratio {:.2}), p99 hold {:.0} ms, p99 issue {:.0} ms, sold {}, rejected {}",
            run + 1,
            f.bare_per_s,
            f.orders_per_s,
            f.orders_per_s / f.bare_per_s,
            f.p99_hold_ms,
            f.p99_issue_ms,
            f.sold,
            f.rejected
        );
        figures.push(f);
    }
    let med = |g: fn(&RunFigures) -> f64| crate::median(figures.iter().map(g).collect());
    let bare = med(|f| f.bare_per_s);
    let orders = med(|f| f.orders_per_s);
    Ok(serde_json::json!({
        "bare_workflows_per_s": round(bare),
        "orders_per_s": round(orders),
        "ratio": (med(|f| f.orders_per_s / f.bare_per_s) * 100.0).round() / 100.0,
        "p99_hold_ms": round(med(|f| f.p99_hold_ms)),
        "p99_issue_ms": round(med(|f| f.p99_issue_ms)),
        "intents": args.intents,
        "seats": args.seats,
        "bare_workflows": bare_n,
        "sold": med(|f| f.sold as f64),
        "rejected": med(|f| f.rejected as f64),
        "runs": args.runs,
    }))
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
