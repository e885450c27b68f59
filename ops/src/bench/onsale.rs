//! `boxoffice-bench onsale`: the busiest minute against its yardstick. In one run, measures
//! bare workflows of the order's shape per second on the same Temporal server (the raw
//! building block that paces money and tickets), then runs the on-sale simulator
//! ([`crate::sim`]) and compares: `ideal_sell_out_s` = orders needed to sell every seat /
//! bare workflows per second, `ratio` = ideal / actual sell-out time.

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

/// Runs the benchmark; returns the JSON report line.
pub async fn run(args: &OnsaleArgs) -> anyhow::Result<serde_json::Value> {
    let mut bare = Vec::new();
    for run in 0..args.bare_runs.max(1) {
        let per_s = super::orders::bare_throughput(
            &args.sim.temporal_url,
            &args.tuning,
            16,
            run,
            args.bare,
        )
        .await?;
        eprintln!("[bench] bare pass {}: {per_s:.1} workflows/s", run + 1);
        bare.push(per_s);
    }
    let bare_per_s = crate::median(bare);
    let report = crate::sim::run(&args.sim).await?;
    let bought = report.outcomes.get("bought").copied().unwrap_or(0).max(1);
    let seats_per_order = report.sold as f64 / bought as f64;
    let orders_needed = f64::from(report.seats) / seats_per_order.max(1.0);
    let ideal = orders_needed / bare_per_s;
    let actual = report.sell_out_s;
    Ok(json!({
        "buyers": report.buyers,
        "seats": report.seats,
        "sold": report.sold,
        "sell_out_s": actual,
        "ideal_sell_out_s": ideal,
        "ratio": actual.map(|a| ideal / a),
        "audit_ok": report.audit_ok,
        "entrance_rps_peak": report.entrance_rps_peak,
        "bare_workflows_per_s": bare_per_s,
        "seats_per_order": seats_per_order,
        "last_ticket_s": report.last_ticket_s,
        "claimed_out_s": report.claimed_out_s,
        "claimed_out_ratio": report.claimed_out_s.map(|c| ideal / c),
        "report": args.sim.out.join("report.md"),
    }))
}
