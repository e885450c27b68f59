//! `boxoffice-bench contended`: one general-admission section of 2,000 units and 3,000
//! single-ticket buyers, every one of them already in the waiting room at the opening, going
//! through the buyer API (waiting room, admission, order, held, the sandbox's hosted
//! checkout) with the platform's release binaries. Every buyer who gets a hold pays at once:
//! no abandon, decline or cancel, no double clicks, no webhook faults, so the figures are the
//! platform's pace, not the crowd's. The workload anyone can rerun beside another ticketing
//! system on the same machine.
//!
//! It is the on-sale simulator ([`crate::sim`]) with a preset. Each run measures bare
//! workflows of the order's shape per second on the same Temporal server first (the core's
//! pace alone), then runs the sale, bounded by `--deadline-s`.
//!
//! Figures (medians over `--runs`):
//! - `held_per_s`: units in orders their buyers saw held / seconds from the opening to the
//!   last hold seen;
//! - `order_to_held_p50_ms` / `p99_ms`: `POST .../orders` sent → the order first seen `held`
//!   or later, as the buyer follows it;
//! - `opening_to_held_p50_s` / `p99_s`: the opening → that first sight of the hold (the line
//!   included);
//! - `checkout_wait_p50_ms` / `p99_ms`: held seen → checkout open (`awaiting_payment`) seen;
//! - `issued_per_s`: orders seen issued / seconds from the opening to the last issue;
//! - `bare_workflows_per_s` and `issued_ratio` = `issued_per_s / bare_workflows_per_s`;
//! - `claimed_out_s`: the opening → the live counts first showing every unit held or sold;
//! - `sell_out_s`: the opening → buyers had seen every unit issued;
//! - `history_events_per_order`, `workflow_tasks_per_order`: Temporal's work per issued
//!   order (a sample of 20 per run, read from the server);
//! - `cpu_s`, `simulator_cpu_ms_per_buyer`: CPU seconds per process over a run (gateway,
//!   worker, sandbox, the simulator itself, NATS and Temporal), and the simulator's per buyer;
//! - `audit_ok` and `audit`: the simulator's invariant audit, per run.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use crate::sim::{SimArgs, Venue, report::Report};

/// Parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct ContendedArgs {
    /// NATS URL.
    #[arg(long, env = "BOXOFFICE_NATS_URL")]
    pub nats_url: String,
    /// PostgreSQL maintenance database URL (each run creates a fresh database beside it).
    #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
    pub database_url: String,
    /// Temporal frontend.
    #[arg(long, env = "BOXOFFICE_TEMPORAL_URL")]
    pub temporal_url: String,
    /// Units in the general-admission section.
    #[arg(long, default_value_t = 2_000)]
    pub units: u32,
    /// Buyers, one ticket each, all waiting at the opening.
    #[arg(long, default_value_t = 3_000)]
    pub buyers: u64,
    /// Repetitions; the report gives medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// A run that has not finished this many seconds after it started is stopped and counted
    /// as failed.
    #[arg(long, default_value_t = 600)]
    pub deadline_s: u64,
    /// Hold time, seconds (every buyer pays at once, so it only bounds a lost buyer).
    #[arg(long, default_value_t = 60)]
    pub hold_s: u32,
    /// Bare workflows measured before each run.
    #[arg(long, default_value_t = 2_000)]
    pub bare: u32,
    /// Folder for the runs' reports (`run-1`, `run-2`, ...).
    #[arg(long, default_value = "bench-results/contended")]
    pub out: PathBuf,
    /// Pid file of the NATS server (its CPU over each run is reported).
    #[arg(long)]
    pub nats_pid_file: Option<PathBuf>,
    /// Pid file of the Temporal dev server (its CPU over each run is reported).
    #[arg(long)]
    pub temporal_pid_file: Option<PathBuf>,
    /// Worker tuning of the bare pass (the platform's workers use their defaults).
    #[command(flatten)]
    pub tuning: boxoffice_workers::WorkerTuning,
}

/// The simulator's settings with their defaults, to start the preset from.
#[derive(Parser)]
struct SimDefaults {
    #[command(flatten)]
    sim: SimArgs,
}

/// The simulator's settings for run `run` (from 1).
fn preset(args: &ContendedArgs, run: usize, bare_per_s: f64) -> anyhow::Result<SimArgs> {
    let mut sim = SimDefaults::try_parse_from([
        "contended",
        "--nats-url",
        &args.nats_url,
        "--database-url",
        &args.database_url,
        "--temporal-url",
        &args.temporal_url,
    ])
    .context("the simulator's defaults")?
    .sim;
    sim.venue = Venue::GeneralAdmission;
    sim.seats = args.units;
    sim.buyers = args.buyers;
    sim.max_per_buyer = 1;
    sim.hold_s = args.hold_s;
    // Everyone in line before the opening: the whole crowd contends from second 0.
    sim.early_share = 1.0;
    sim.out = args.out.join(format!("run-{run}"));
    sim.deadline_s = Some(args.deadline_s);
    sim.bare_workflows_per_s = Some(bare_per_s);
    sim.seed = sim.seed.wrapping_add(run as u64);
    sim.drills.nats_pid_file = args.nats_pid_file.clone();
    sim.drills.temporal_pid_file = args.temporal_pid_file.clone();
    let b = &mut sim.behaviour;
    (b.decline_share, b.abandon_share, b.cancel_share) = (0.0, 0.0, 0.0);
    (b.double_click_share, b.resubmit_share, b.second_tab_share) = (0.0, 0.0, 0.0);
    b.think_ms = 0;
    let f = &mut sim.faults;
    (
        f.webhook_drop_rate,
        f.webhook_duplicate_rate,
        f.webhook_reorder_rate,
    ) = (0.0, 0.0, 0.0);
    Ok(sim)
}

/// One run's figures.
#[derive(Debug, Clone)]
struct Figures {
    bare: f64,
    report: Report,
}

impl Figures {
    fn latency(&self, stage: &str, q: fn(&crate::sim::report::Latency) -> f64) -> Option<f64> {
        self.report.latency.get(stage).map(q)
    }

    fn issued_ratio(&self) -> Option<f64> {
        self.report.pace.issued_per_s.map(|i| i / self.bare)
    }
}

fn median_of(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().collect();
    (!v.is_empty()).then(|| round(crate::median(v)))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn show(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{v:.1}"))
}

/// Runs the benchmark and returns the JSON report (medians over the runs that finished).
pub async fn run(args: &ContendedArgs) -> anyhow::Result<serde_json::Value> {
    let mut runs: Vec<Figures> = Vec::new();
    let mut failed = Vec::new();
    for run in 1..=args.runs.max(1) {
        let bare = super::onsale::bare_rate(&args.temporal_url, &args.tuning, 1, args.bare).await?;
        let sim = preset(args, run, bare)?;
        let report = match crate::sim::run(&sim).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("[bench] run {run} failed: {e:#}");
                failed.push(format!("run {run}: {e}"));
                continue;
            }
        };
        let f = Figures { bare, report };
        let p = &f.report.pace;
        eprintln!(
            "[bench] run {run}: held {}/s (last hold at {} s), order→held p50 {} ms p99 {} ms, opening→held p50 {} ms p99 {} ms, checkout wait p99 {} ms, issued {}/s vs bare {bare:.1}/s (ratio {}), claimed out {} s, sold out {} s, {} sold, audit {}",
            show(p.held_per_s),
            show(p.last_held_s),
            show(f.latency("held", |l| l.p50_ms)),
            show(f.latency("held", |l| l.p99_ms)),
            show(f.latency("opening_to_held", |l| l.p50_ms)),
            show(f.latency("opening_to_held", |l| l.p99_ms)),
            show(f.latency("checkout_wait", |l| l.p99_ms)),
            show(p.issued_per_s),
            f.issued_ratio().map_or("n/a".into(), |r| format!("{r:.2}")),
            show(f.report.claimed_out_s),
            show(f.report.sell_out_s),
            f.report.sold,
            f.report.audit.summary(),
        );
        runs.push(f);
    }
    anyhow::ensure!(!runs.is_empty(), "every run failed: {}", failed.join("; "));
    let med = |g: &dyn Fn(&Figures) -> Option<f64>| median_of(runs.iter().map(g));
    let seconds = |ms: Option<f64>| ms.map(|v| v / 1000.0);
    // CPU seconds per process over a run (median per process).
    let names: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|f| f.report.cpu_s.keys()).collect();
    let cpu: std::collections::BTreeMap<&String, Option<f64>> = names
        .into_iter()
        .map(|n| (n, med(&|f| f.report.cpu_s.get(n).copied())))
        .collect();
    let audits: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, f)| format!("run {}: {}", i + 1, f.report.audit.summary()))
        .chain(failed.iter().cloned())
        .collect();
    Ok(json!({
        "units": args.units,
        "buyers": args.buyers,
        "runs": args.runs,
        "failed_runs": failed.len(),
        "held_per_s": med(&|f| f.report.pace.held_per_s),
        "last_held_s": med(&|f| f.report.pace.last_held_s),
        "order_to_held_p50_ms": med(&|f| f.latency("held", |l| l.p50_ms)),
        "order_to_held_p99_ms": med(&|f| f.latency("held", |l| l.p99_ms)),
        "order_to_decided_p99_ms": med(&|f| f.latency("decided", |l| l.p99_ms)),
        "opening_to_held_p50_s": med(&|f| seconds(f.latency("opening_to_held", |l| l.p50_ms))),
        "opening_to_held_p99_s": med(&|f| seconds(f.latency("opening_to_held", |l| l.p99_ms))),
        "checkout_wait_p50_ms": med(&|f| f.latency("checkout_wait", |l| l.p50_ms)),
        "checkout_wait_p99_ms": med(&|f| f.latency("checkout_wait", |l| l.p99_ms)),
        "issued_per_s": med(&|f| f.report.pace.issued_per_s),
        "bare_workflows_per_s": med(&|f| Some(f.bare)),
        "issued_ratio": med(&|f| f.issued_ratio()),
        "claimed_out_s": med(&|f| f.report.claimed_out_s),
        "sell_out_s": med(&|f| f.report.sell_out_s),
        "sold": med(&|f| Some(f.report.sold as f64)),
        "history_events_per_order": med(&|f| f.report.workflow_history.as_ref().map(|h| h.events)),
        "workflow_tasks_per_order": med(&|f| f.report.workflow_history.as_ref().map(|h| h.workflow_tasks)),
        "simulator_cpu_ms_per_buyer": med(&|f| f.report.simulator_cpu_ms_per_buyer),
        "cpu_s": cpu,
        "audit_ok": failed.is_empty() && runs.iter().all(|f| f.report.audit_ok),
        "audit": audits.join("; "),
        "report": args.out,
    }))
}
