//! `boxoffice-bench onsale`: the busiest minute against its yardstick. In one run, measures
//! bare workflows of the order's shape per second on the same Temporal server (the raw
//! building block that paces money and tickets), then runs the on-sale simulator
//! ([`crate::sim`]) with that rate, whose report compares the sale against it: `ideal_sell_out_s`
//! = orders needed to sell every seat / bare workflows per second, `ratio` = ideal / actual
//! sell-out time, the busiest five minutes' issued orders per second against the bare rate,
//! and the ideal that adds one hold time per round of lapsed checkouts
//! ([`crate::sim::pace`] says what each figure measures).

use serde_json::json;

use crate::sim::SimArgs;

/// Parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct OnsaleArgs {
    /// The simulation.
    #[command(flatten)]
    pub sim: SimArgs,
    /// Bare workflows measured (the median of `--bare-runs` passes is used).
    #[arg(long, default_value_t = 2_000)]
    pub bare: u32,
    /// Bare passes.
    #[arg(long, default_value_t = 3)]
    pub bare_runs: usize,
    /// Worker tuning of the bare pass (the platform's workers use their defaults too).
    #[command(flatten)]
    pub tuning: boxoffice_workers::WorkerTuning,
}

/// The median of `runs` bare passes of `n` workflows on the server at `temporal_url`,
/// workflows per second; each pass is said on stderr.
pub async fn bare_rate(
    temporal_url: &str,
    tuning: &boxoffice_workers::WorkerTuning,
    runs: usize,
    n: u32,
) -> anyhow::Result<f64> {
    let mut bare = Vec::new();
    for run in 0..runs.max(1) {
        let per_s = super::orders::bare_throughput(temporal_url, tuning, 16, run, n).await?;
        eprintln!("[bench] bare pass {}: {per_s:.1} workflows/s", run + 1);
        bare.push(per_s);
    }
    Ok(crate::median(bare))
}

/// Runs the benchmark; returns the JSON report line.
pub async fn run(args: &OnsaleArgs) -> anyhow::Result<serde_json::Value> {
    let bare_per_s = bare_rate(
        &args.sim.temporal_url,
        &args.tuning,
        args.bare_runs,
        args.bare,
    )
    .await?;
    let mut sim = args.sim.clone();
    sim.bare_workflows_per_s = Some(bare_per_s);
    let report = crate::sim::run(&sim).await?;
    let pace = &report.pace;
    let bought = report.outcomes.get("bought").copied().unwrap_or(0).max(1);
    let actual = report.sell_out_s;
    let ideal = pace.ideal_sell_out_s;
    let history = report.workflow_history.as_ref();
    Ok(json!({
        "buyers": report.buyers,
        "seats": report.seats,
        "sold": report.sold,
        "sell_out_s": actual,
        "ideal_sell_out_s": ideal,
        "ratio": ideal.zip(actual).map(|(i, a)| i / a),
        "claimed_out_s": report.claimed_out_s,
        "claimed_out_ratio": ideal.zip(report.claimed_out_s).map(|(i, c)| i / c),
        "ideal_with_abandon_s": pace.ideal_with_abandon_s,
        "abandon_rounds": pace.abandon_rounds,
        "lapsed_share": pace.lapsed_share,
        "issued_per_s": pace.issued_per_s,
        "busiest_5min_issued_per_s": pace.busiest_5min_issued_per_s,
        "busiest_window_s": pace.busiest_window_s,
        "busiest_5min_ratio": pace.busiest_5min_ratio,
        "held_per_s": pace.held_per_s,
        "audit_ok": report.audit_ok,
        "audit": report.audit.summary(),
        "entrance_rps_peak": report.entrance_rps_peak,
        "bare_workflows_per_s": bare_per_s,
        "seats_per_order": report.sold as f64 / bought as f64,
        "last_ticket_s": report.last_ticket_s,
        "history_events_per_order": history.map(|h| h.events),
        "workflow_tasks_per_order": history.map(|h| h.workflow_tasks),
        "simulator_cpu_ms_per_buyer": report.simulator_cpu_ms_per_buyer,
        "cpu_s": report.cpu_s,
        "report": args.sim.out.join("report.md"),
    }))
}
