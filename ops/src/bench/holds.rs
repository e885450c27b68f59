//! `boxoffice-bench holds`: the seat store's hold path against a bare KV compare-and-swap.
//!
//! Workload (the issue's): `seats` seats, `contenders` claimers per seat, `in_flight` requests
//! outstanding, every attempt in a random order. The raw ceiling is async-nats
//! `kv.update(key, value, revision)` with the revision read at load time: one round trip, no
//! checks. The store's path is `SeatStore::hold` with everything production does (event
//! metadata, per-buyer limit pre-check and ledger, seat read on a cache miss, typed errors).
//! Both verify exactly one winner per seat. Optionally the same workload against PostgreSQL
//! (`UPDATE ... WHERE holder IS NULL`, 64 connections, synchronous commit) for comparison.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use async_nats::jetstream::{self, kv};
use boxoffice_nats::{
    BuyerId, EventId, Namespace, OrderId, SeatError, SeatId, SectionCode, Topology, UnitLabel,
    seat::{EventInventory, OrderRef, SeatStore, SeatStoreOptions, SectionInventory, SectionUnits},
};
use futures::{StreamExt, stream};
use rand::seq::SliceRandom;

/// Parameters of one run.
#[derive(Debug, Clone, clap::Args)]
pub struct HoldsArgs {
    /// NATS URL (a server started by `ops/bench`).
    #[arg(long, env = "BOXOFFICE_NATS_URL")]
    pub nats_url: String,
    /// PostgreSQL URL for the comparison run (skipped when absent).
    #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seats in the workload.
    #[arg(long, default_value_t = 20_000)]
    pub seats: u32,
    /// Claimers per seat.
    #[arg(long, default_value_t = 8)]
    pub contenders: u32,
    /// Requests outstanding at once.
    #[arg(long, default_value_t = 256)]
    pub in_flight: usize,
    /// Repetitions; the report gives medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// One measured pass.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    /// Winning claims (or holds) per second.
    pub wins_per_s: f64,
    /// Attempts per second.
    pub attempts_per_s: f64,
    /// 99th percentile latency of an attempt, ms.
    pub p99_ms: f64,
}

fn attempts(seats: u32, contenders: u32) -> Vec<u32> {
    let mut v: Vec<u32> = (0..seats)
        .flat_map(|s| std::iter::repeat_n(s, contenders as usize))
        .collect();
    v.shuffle(&mut rand::rng());
    v
}

fn summarise(started: Instant, wins: usize, latencies: Vec<f64>) -> Pass {
    let secs = started.elapsed().as_secs_f64();
    Pass {
        wins_per_s: wins as f64 / secs,
        attempts_per_s: latencies.len() as f64 / secs,
        p99_ms: crate::quantile_ms(latencies, 0.99),
    }
}

/// Runs every attempt (`contenders` per target, shuffled) with `in_flight` outstanding; each
/// attempt reports whether it won. Checks exactly one winner per target and returns the pass.
async fn contend<F, Fut>(
    targets: u32,
    args: &HoldsArgs,
    in_flight: usize,
    attempt: F,
) -> anyhow::Result<Pass>
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    let results: Vec<(u32, bool, f64)> = stream::iter(attempts(targets, args.contenders))
        .map(|target| {
            let run = attempt(target);
            async move {
                let t = Instant::now();
                let won = run.await?;
                Ok::<_, anyhow::Error>((target, won, t.elapsed().as_secs_f64() * 1e3))
            }
        })
        .buffer_unordered(in_flight)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let pass = summarise(
        started,
        results.iter().filter(|r| r.1).count(),
        results.iter().map(|r| r.2).collect(),
    );
    verify_one_winner(targets, results.iter().filter(|r| r.1).map(|r| r.0))?;
    Ok(pass)
}

/// Bare KV compare-and-swap on a fresh bucket configured like the seat bucket.
pub async fn raw_pass(js: &jetstream::Context, args: &HoldsArgs) -> anyhow::Result<Pass> {
    let ns = Namespace::for_test();
    let kv = js
        .create_or_update_key_value(boxoffice_nats::topology::seat_bucket_config(&ns, 1))
        .await
        .context("creating raw bucket")?;
    let free = bytes_of(r#"{"st":"free"}"#);
    let revs: Vec<u64> = stream::iter(0..args.seats)
        .map(|s| {
            let kv = kv.clone();
            let free = free.clone();
            async move { kv.create(format!("s.{s}"), free).await }
        })
        .buffered(args.in_flight)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .context("loading raw seats")?;
    let revs = Arc::new(revs);
    let pass = contend(args.seats, args, args.in_flight, |s| {
        let kv = kv.clone();
        let revs = revs.clone();
        async move {
            let value = bytes_of(&format!(r#"{{"st":"held","o":"{}"}}"#, OrderId::new()));
            match kv.update(format!("s.{s}"), value, revs[s as usize]).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
                Err(e) => Err(anyhow::anyhow!("raw update failed: {e}")),
            }
        }
    })
    .await?;
    js.delete_key_value(ns.seat_bucket()).await.ok();
    Ok(pass)
}

fn bytes_of(s: &str) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(s.as_bytes())
}

fn verify_one_winner(seats: u32, winners: impl Iterator<Item = u32>) -> anyhow::Result<()> {
    let mut count: HashMap<u32, u32> = HashMap::new();
    for s in winners {
        *count.entry(s).or_default() += 1;
    }
    ensure!(
        count.len() == seats as usize,
        "{} of {seats} seats have a winner",
        count.len()
    );
    ensure!(count.values().all(|c| *c == 1), "a seat has two winners");
    Ok(())
}

/// The store's hold path: `group` seats per hold (1 or 4), `contenders` holds per group.
pub async fn store_pass(
    js: &jetstream::Context,
    args: &HoldsArgs,
    group: u32,
) -> anyhow::Result<Pass> {
    let topology = Topology::provision(js.clone(), Namespace::for_test(), 1).await?;
    let store = SeatStore::new(topology.seats.clone(), SeatStoreOptions::default());
    let event = EventId::new();
    // Sections of 1,000 seats, like a real map.
    let per_section = 1_000u32;
    let sections: Vec<SectionInventory> = (0..args.seats.div_ceil(per_section))
        .map(|i| SectionInventory {
            code: SectionCode::parse(format!("S{i}")).expect("section code"),
            units: SectionUnits::Seated(
                (0..per_section.min(args.seats - i * per_section))
                    .map(|n| UnitLabel::parse(n.to_string()).expect("label"))
                    .collect(),
            ),
        })
        .collect();
    SeatStore::new(topology.seats.clone(), SeatStoreOptions::default())
        .load_event(&EventInventory {
            event,
            max_per_buyer: 8,
            sections,
            blocks: Default::default(),
        })
        .await?;
    // The holding process is not the loader: like an intake worker, it follows the event's
    // seats with a KV watch (set-up, not timed, as the raw pass's load is not timed).
    store.track_event(event).await?;
    let seat_of = |n: u32| {
        SeatId::new(
            SectionCode::parse(format!("S{}", n / per_section)).expect("code"),
            UnitLabel::parse((n % per_section).to_string()).expect("label"),
        )
    };
    let groups = args.seats / group;
    let pass = contend(groups, args, args.in_flight, |g| {
        let store = store.clone();
        let seats: Vec<SeatId> = (g * group..(g + 1) * group).map(seat_of).collect();
        async move {
            let order = OrderRef {
                event,
                order: OrderId::new(),
                buyer: BuyerId::new(),
            };
            match store.hold(&order, &seats, Duration::from_secs(600)).await {
                Ok(_) => Ok(true),
                Err(SeatError::Taken { .. }) => Ok(false),
                Err(e) => Err(anyhow::anyhow!("hold failed: {e}")),
            }
        }
    })
    .await?;
    // And the store agrees: every seat held, by exactly the orders that were told they won.
    let mut held = 0;
    for i in 0..args.seats.div_ceil(per_section) {
        let code = SectionCode::parse(format!("S{i}")).expect("code");
        held += store
            .list_section(event, &code)
            .await?
            .iter()
            .filter(|v| matches!(v.state, boxoffice_nats::seat::SeatState::Held { .. }))
            .count() as u32;
    }
    ensure!(
        held == groups * group,
        "store holds {held} seats, expected {}",
        groups * group
    );
    js.delete_key_value(topology.ns.seat_bucket()).await.ok();
    Ok(pass)
}

/// The same workload on PostgreSQL: `update ... where holder is null`, 64 connections.
pub async fn pg_pass(url: &str, args: &HoldsArgs) -> anyhow::Result<Pass> {
    use sqlx::postgres::PgPoolOptions;
    let pool = PgPoolOptions::new()
        .max_connections(64)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    // Runtime-checked queries: `bench_seats` is a scratch table this pass creates and drops,
    // outside the schema the query macros check against.
    sqlx::query("drop table if exists bench_seats")
        .execute(&pool)
        .await?;
    sqlx::query("create table bench_seats (id int primary key, holder uuid)")
        .execute(&pool)
        .await?;
    sqlx::query("insert into bench_seats select g, null from generate_series(0, $1 - 1) g")
        .bind(args.seats as i32)
        .execute(&pool)
        .await?;
    let pass = contend(args.seats, args, args.in_flight.min(64), |s| {
        let pool = pool.clone();
        async move {
            let r =
                sqlx::query("update bench_seats set holder = $1 where id = $2 and holder is null")
                    .bind(uuid::Uuid::new_v4())
                    .bind(s as i32)
                    .execute(&pool)
                    .await?;
            Ok(r.rows_affected() == 1)
        }
    })
    .await?;
    sqlx::query("drop table bench_seats").execute(&pool).await?;
    Ok(pass)
}

/// Runs every pass `runs` times, interleaved so drift on a shared machine hits all alike, and
/// returns the JSON report (medians).
pub async fn run(args: &HoldsArgs) -> anyhow::Result<serde_json::Value> {
    let client = async_nats::connect(&args.nats_url)
        .await
        .context("connecting to NATS")?;
    let js = jetstream::new(client);
    let (mut raw, mut one, mut four, mut pg) = (vec![], vec![], vec![], vec![]);
    let progress = indicatif::ProgressBar::new(
        (args.runs * if args.database_url.is_some() { 4 } else { 3 }) as u64,
    )
    .with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("template"),
    );
    for run in 0..args.runs {
        progress.set_message(format!("run {} raw", run + 1));
        raw.push(raw_pass(&js, args).await?);
        progress.inc(1);
        progress.set_message(format!("run {} hold", run + 1));
        one.push(store_pass(&js, args, 1).await?);
        progress.inc(1);
        progress.set_message(format!("run {} hold4", run + 1));
        four.push(store_pass(&js, args, 4).await?);
        progress.inc(1);
        if let Some(url) = &args.database_url {
            progress.set_message(format!("run {} postgres", run + 1));
            pg.push(pg_pass(url, args).await?);
            progress.inc(1);
        }
        eprintln!(
            "run {}: raw {:.0} claims/s ({:.0} attempts/s, p99 {:.1} ms) | hold {:.0}/s (p99 {:.1} ms) | hold4 {:.0}/s (p99 {:.1} ms){}",
            run + 1,
            raw[run].wins_per_s,
            raw[run].attempts_per_s,
            raw[run].p99_ms,
            one[run].wins_per_s,
            one[run].p99_ms,
            four[run].wins_per_s,
            four[run].p99_ms,
            pg.get(run)
                .map(|p| format!(
                    " | postgres {:.0} claims/s (p99 {:.1} ms)",
                    p.wins_per_s, p.p99_ms
                ))
                .unwrap_or_default(),
        );
    }
    progress.finish_and_clear();
    let med = |v: &[Pass], f: fn(&Pass) -> f64| crate::median(v.iter().map(f).collect());
    let raw_claims = med(&raw, |p| p.wins_per_s);
    let holds = med(&one, |p| p.wins_per_s);
    let mut report = serde_json::json!({
        "raw_claims_per_s": raw_claims.round(),
        "holds_per_s": holds.round(),
        "ratio": (holds / raw_claims * 100.0).round() / 100.0,
        "hold4_per_s": med(&four, |p| p.wins_per_s).round(),
        "p99_ms": (med(&one, |p| p.p99_ms) * 10.0).round() / 10.0,
        "raw_p99_ms": (med(&raw, |p| p.p99_ms) * 10.0).round() / 10.0,
        "hold4_p99_ms": (med(&four, |p| p.p99_ms) * 10.0).round() / 10.0,
        "raw_attempts_per_s": med(&raw, |p| p.attempts_per_s).round(),
        "seats": args.seats, "contenders": args.contenders, "in_flight": args.in_flight, "runs": args.runs,
    });
    if !pg.is_empty() {
        let pg_claims = med(&pg, |p| p.wins_per_s);
        report["pg_claims_per_s"] = pg_claims.round().into();
        report["holds_vs_pg"] = ((holds / pg_claims * 100.0).round() / 100.0).into();
    }
    Ok(report)
}
