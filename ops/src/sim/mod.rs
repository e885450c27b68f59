//! The on-sale simulator: the busiest minute, end to end, against the real platform.
//!
//! It starts the platform's own processes (payments sandbox with faults, gateways, workers)
//! against NATS, Temporal and PostgreSQL servers it is given, makes an event through the admin
//! API and schedules its sale, and sends a population of buyers at the buyer API the way the
//! StarArena case describes them: a crowd waiting before the opening, a burst at the opening,
//! retries. Fault drills kill and restart processes mid-sale. When every buyer is done and
//! every order has ended, the invariant audit ([`audit`]) checks the seat store, PostgreSQL
//! and the provider's ledger, and the report ([`report`]) is written as JSON, Markdown and
//! SVG charts. See `docs/adr/0014-onsale-simulator.md`.

mod args;
pub mod audit;
pub mod buyer;
mod drills;
pub mod history;
pub mod pace;
pub mod procs;
pub mod report;
pub mod setup;
pub mod tally;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use boxoffice_nats::{EventId, Namespace, SectionCode, Topology};
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

pub use self::args::{Drills, ProviderFaults, SimArgs, Venue};
use self::{
    drills::{reconcile_on_demand, run_drills, watch_claimed_out},
    procs::Procs,
    tally::Tally,
};

/// Outcomes that mean the platform left a buyer without an answer (every other outcome is an
/// answer: bought, declined, rejected with a reason, told sold out or closed, ...).
const UNANSWERED: [&str; 10] = [
    "no_session",
    "join_failed",
    "poll_failed",
    "poll_refused",
    "no_admission_token",
    "order_failed",
    "order_lost",
    "checkout_never_opened",
    "cancel_lost",
    "cancel_unseen",
];

/// Runs the simulation; returns the report (its `audit_ok` says whether every invariant held).
pub async fn run(args: &SimArgs) -> anyhow::Result<report::Report> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let logs = args.out.join("logs");
    std::fs::create_dir_all(&logs)?;
    let db_url = crate::fresh_database(&args.database_url).await?;
    let db = sqlx::PgPool::connect(&db_url).await?;
    let prefix = format!("sim{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let ns = Namespace::new(&prefix).context("namespace")?;
    // One URL, or a cluster's comma-separated list.
    let nats = async_nats::connect(args.nats_url.split(',').map(str::trim).collect::<Vec<_>>())
        .await
        .context("connecting to NATS")?;
    let topology = Topology::provision(
        async_nats::jetstream::new(nats.clone()),
        ns.clone(),
        args.nats_replicas,
    )
    .await?;
    let seats = boxoffice_nats::SeatStore::new(topology.seats.clone(), Default::default());
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no folder")?
            .to_path_buf(),
    };
    let wiring = procs::Wiring {
        nats_url: args.nats_url.clone(),
        prefix: prefix.clone(),
        database_url: db_url.clone(),
        temporal_url: args.temporal_url.clone(),
        task_queue: format!("orders-{prefix}"),
        bin_dir,
        dir: logs.clone(),
    };
    let f = &args.faults;
    let sandbox_env = [
        ("SANDBOX_LATENCY_MIN_MS", f.latency_min_ms.to_string()),
        ("SANDBOX_LATENCY_MAX_MS", f.latency_max_ms.to_string()),
        ("SANDBOX_WEBHOOK_DROP_RATE", f.webhook_drop_rate.to_string()),
        (
            "SANDBOX_WEBHOOK_DUPLICATE_RATE",
            f.webhook_duplicate_rate.to_string(),
        ),
        (
            "SANDBOX_WEBHOOK_REORDER_RATE",
            f.webhook_reorder_rate.to_string(),
        ),
        (
            "SANDBOX_WEBHOOK_DELAY_MAX_MS",
            f.webhook_delay_max_ms.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let replicas = vec![(
        "BOXOFFICE_NATS_REPLICAS".to_owned(),
        args.nats_replicas.to_string(),
    )];
    let mut procs = Procs::new(wiring, args.gateways, sandbox_env, replicas);
    procs.worker_env = vec![
        (
            "BOXOFFICE_RECONCILE_EVERY_S".to_owned(),
            args.reconcile_every_s.to_string(),
        ),
        (
            "BOXOFFICE_RECONCILE_GRACE_S".to_owned(),
            args.reconcile_grace_s.to_string(),
        ),
    ];
    eprintln!(
        "[sim] starting the sandbox, {} gateway(s), {} worker(s)",
        args.gateways, args.workers
    );
    procs.start_sandbox().await?;
    for i in 0..args.gateways.max(1) {
        procs.start_gateway(i).await?;
    }
    for i in 1..=args.workers.max(1) {
        procs.start_worker(i).await?;
    }
    let gateways = procs.gateways.clone();
    let sandbox_url = procs.sandbox_url.clone();
    let procs = Arc::new(Mutex::new(procs));

    // CPU of the shared servers and of this process over the run, to set beside the
    // platform's own processes' (see `cpu_by_process`).
    let cpu_before = shared_cpu(args);
    let driven = drive(args, &db, &seats, &nats, &ns, &gateways, procs.clone());
    let result = match args.deadline_s {
        // Dropping the drive aborts every task it started (see `Aborting`).
        Some(s) => tokio::time::timeout(Duration::from_secs(s), driven)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the run did not finish within {s} s"))),
        None => driven.await,
    };
    let mut p = procs.lock().await;
    let mut cpu = p.cpu_seconds();
    for (name, now) in shared_cpu(args) {
        cpu.insert(
            name.clone(),
            now - cpu_before.get(&name).copied().unwrap_or(0.0),
        );
    }
    p.stop_all().await;
    let (mut report, event) = result?;
    report.wall_s = started.elapsed().as_secs_f64();
    report.set_cpu(cpu);
    report.sandbox_url = sandbox_url;
    report::write(&args.out, &report)?;
    eprintln!(
        "[sim] event {event}: report in {}, logs in {}",
        args.out.display(),
        p.dir().display()
    );
    Ok(report)
}

async fn drive(
    args: &SimArgs,
    db: &sqlx::PgPool,
    seats: &boxoffice_nats::SeatStore,
    nats: &async_nats::Client,
    ns: &Namespace,
    gateways: &[String],
    procs: Arc<Mutex<Procs>>,
) -> anyhow::Result<(report::Report, String)> {
    let org = setup::Organizer::sign_up(db, &gateways[0]).await?;
    let event = setup::create_event(
        &org,
        setup::sections(args.venue, args.seats),
        args.max_per_buyer,
        args.hold_s.max(30),
        args.admission_rate,
        Duration::from_secs(args.opens_in_s),
    )
    .await?;
    // Buyers come once the event is published: wait until the gateways' catalog shows it
    // (it refreshes every 2 s), or the early crowd would be told it does not exist.
    let probe = reqwest::Client::new();
    for _ in 0..100 {
        let mut visible = true;
        for g in gateways {
            let r = probe
                .get(format!("{g}/api/v1/events/{}", event.id))
                .send()
                .await;
            visible &= r.is_ok_and(|r| r.status().is_success());
        }
        if visible {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let until_open = (event.opens_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let opened = Instant::now() + until_open;
    let tally = Arc::new(Tally::new(opened, u64::from(args.seats)));
    eprintln!(
        "[sim] event {} ({} seats) opens in {:.1} s; {} buyers",
        event.id,
        args.seats,
        until_open.as_secs_f64(),
        args.buyers
    );

    let http = reqwest::Client::builder()
        // Keep every connection a burst opened: closing the surplus after each request made
        // a new connection per poll at 200,000 buyers, and the churn (accept queue, ports in
        // TIME_WAIT) showed up as 1.75 million `poll_unreachable`.
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let world = Arc::new(buyer::World {
        http,
        gateways: gateways.to_vec(),
        event: event.clone(),
        tally: tally.clone(),
        behaviour: args.behaviour.clone(),
        requests: tokio::sync::Semaphore::new(args.max_requests),
    });

    // Arrival times, relative to the opening: the early crowd spread over the seconds before
    // it, the rest an exponential burst after it (mean a third of the burst window).
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let early_window = until_open.as_secs_f64().max(1.0) - 0.5;
    let mut arrivals: Vec<f64> = (0..args.buyers)
        .map(|_| {
            if rng.random_bool(args.early_share.clamp(0.0, 1.0)) {
                -rng.random_range(0.0..early_window)
            } else {
                let mean = args.burst_s as f64 / 3.0;
                (-mean * (1.0 - rng.random::<f64>()).ln()).min(args.burst_s as f64)
            }
        })
        .collect();
    arrivals.sort_by(f64::total_cmp);

    let drills = Aborting(tokio::spawn(run_drills(
        args.drills.clone(),
        args.workers,
        opened,
        procs.clone(),
    )));
    let bar = indicatif::ProgressBar::new(args.buyers);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "[sim] {elapsed_precise} {bar:30} {pos}/{len} buyers done {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let seed = args.seed;
    let spawner = {
        let world = world.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            for (n, at) in arrivals.into_iter().enumerate() {
                let when = if at >= 0.0 {
                    opened + Duration::from_secs_f64(at)
                } else {
                    opened
                        .checked_sub(Duration::from_secs_f64(-at))
                        .unwrap_or(opened)
                };
                tokio::time::sleep_until(when.into()).await;
                set.spawn(buyer::visit(world.clone(), n as u64, seed));
            }
            set
        }
    };
    // When the live counts first show nothing left to buy.
    let watcher = Aborting(tokio::spawn(watch_claimed_out(world.clone(), opened)));
    let on_demand = Aborting(tokio::spawn(reconcile_on_demand(
        args.temporal_url.clone(),
        format!("orders-{}", ns.prefix()),
        opened,
        Duration::from_secs(args.reconcile_on_demand_s.max(1)),
    )));
    // Spawn everyone (the spawner sleeps between arrivals), then wait for every visit.
    let mut spawning = Aborting(tokio::spawn(spawner));
    let mut visits = (&mut spawning.0).await?;
    let mut done = 0u64;
    while let Some(r) = visits.join_next().await {
        if r.is_err() {
            tally.outcome("panicked");
        }
        done += 1;
        bar.set_position(done);
        if done.is_multiple_of(1_000) {
            procs.lock().await.check()?;
            bar.set_message(format!(
                "{} tickets",
                tally.tickets.load(std::sync::atomic::Ordering::Relaxed)
            ));
        }
    }
    bar.finish();
    drop(watcher);
    let mut drills = drills;
    let drills_done = (&mut drills.0).await??;
    procs.lock().await.check()?;

    // Every order ends: abandoned holds lapse, late webhooks arrive (each workflow ends its own
    // order; the reconciliation passes keep running meanwhile, and must change none of that).
    let settle = Duration::from_secs(
        args.settle_s
            .unwrap_or(2 * u64::from(args.hold_s.max(30)) + 120),
    );
    let settle_start = Instant::now();
    let event_id: uuid::Uuid = event.id.parse().context("the event's id")?;
    let open_orders = loop {
        let by_state = sqlx::query!(
            r#"select state, count(*) as "orders!" from orders where event_id = $1 group by state"#,
            event_id,
        )
        .fetch_all(db)
        .await?;
        let open: i64 = by_state
            .iter()
            .filter(|r| !audit::is_done(&r.state))
            .map(|r| r.orders)
            .sum();
        if open == 0 || settle_start.elapsed() > settle {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    drop(on_demand);
    eprintln!(
        "[sim] settled in {:.1} s ({open_orders} orders still open)",
        settle_start.elapsed().as_secs_f64()
    );
    // Close the sale if it has not closed itself (sold out): every entry still waiting is
    // then told so.
    if org.status(&event.id).await? != "closed" {
        org.call(
            reqwest::Method::POST,
            &format!("/admin/api/v1/events/{}/close", event.id),
            Some(&serde_json::json!({})),
        )
        .await
        .ok();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut status = String::new();
    while Instant::now() < deadline {
        status = org.status(&event.id).await?;
        if status == "closed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The pacer follows the status within a tick or two.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let event_id: EventId = event.id.parse().context("event id")?;
    let room = boxoffice_nats::queue::WaitingRoom::start(nats.clone(), ns.clone()).await?;
    let (phase, waiting) = room
        .read(event_id, |b| {
            b.map(|b| {
                let s = b.summary();
                let phase = s.control.as_ref().map_or("none".to_owned(), |(_, c)| {
                    format!("{:?}", c.phase).to_lowercase()
                });
                (phase, s.waiting)
            })
        })
        .unwrap_or(("none".into(), 0));
    let answered_by_phase = phase == "closed" || phase == "soldout";
    let outcomes = tally.outcomes();
    let unanswered: u64 = UNANSWERED
        .iter()
        .map(|k| outcomes.get(*k).copied().unwrap_or(0))
        .sum();
    let provider = boxoffice_workflows::payments::http::HttpProvider::new(
        &boxoffice_workflows::payments::http::ProviderConfig {
            url: procs.lock().await.sandbox_url.clone(),
            api_key: "sk_sandbox".into(),
        },
    )?;
    let audit = audit::run(&audit::Sources {
        db,
        seats,
        provider: &provider,
        event: event_id,
        sections: event
            .sections
            .iter()
            .map(|s| SectionCode::parse(&s.code))
            .collect::<Result<_, _>>()?,
        max_per_buyer: args.max_per_buyer,
        queue_waiting: if answered_by_phase { 0 } else { waiting },
        queue_phase: format!(
            "{phase} (status {status}, {waiting} entries never reached the front)"
        ),
        unanswered_visits: unanswered,
        twin_mismatches: tally.mismatches.load(std::sync::atomic::Ordering::Relaxed),
    })
    .await?;
    for c in &audit.checks {
        eprintln!(
            "[audit] {} {:<58} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let sample = tally.issued_sample(args.history_sample);
    let history = if sample.is_empty() {
        None
    } else {
        history::sample(&args.temporal_url, &sample).await
    };
    if let Some(h) = &history {
        eprintln!(
            "[sim] Temporal's work per issued order ({} sampled, medians): {} history events, {} workflow tasks",
            h.sampled, h.events, h.workflow_tasks
        );
    }
    let report = report::Report::new(args, &event, &tally, audit, drills_done, history);
    Ok((report, event.id))
}

/// CPU seconds used so far by this simulator and by the NATS and Temporal servers whose pid
/// files it was given.
fn shared_cpu(args: &SimArgs) -> std::collections::BTreeMap<String, f64> {
    let mut cpu = std::collections::BTreeMap::new();
    if let Some(s) = procs::cpu_seconds(std::process::id()) {
        cpu.insert("simulator".to_owned(), s);
    }
    for (name, file) in [
        ("nats", &args.drills.nats_pid_file),
        ("temporal", &args.drills.temporal_pid_file),
    ] {
        if let Some(s) = file
            .as_deref()
            .and_then(procs::pid_in)
            .and_then(procs::cpu_seconds)
        {
            cpu.insert(name.to_owned(), s);
        }
    }
    cpu
}

/// A task that is aborted when its handle is dropped: a run that fails or passes its
/// deadline leaves nothing of itself running (the benchmark runs several in one process).
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
