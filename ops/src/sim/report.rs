//! The simulation's report: `report.json` (everything, for tools), `report.md` (for people)
//! and SVG charts drawn with plotters (`charts/*.svg`).

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use plotters::prelude::*;
use serde::Serialize;

use super::{
    SimArgs,
    audit::Audit,
    history::History,
    pace::{Inputs, Pace},
    setup::SimEvent,
    tally::{Series, Tally},
};

/// One stage's latency figures, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Buyers sent.
    pub buyers: u64,
    /// Seats on sale.
    pub seats: u32,
    /// Tickets issued (from the audit, not from what buyers saw).
    pub sold: u64,
    /// Seconds from the opening until buyers had seen every seat issued (`None`: not sold out).
    pub sell_out_s: Option<f64>,
    /// Seconds from the opening until the live counts first showed no seat left to buy (each
    /// one held or sold): the sale's pace without the tail that abandoned checkouts add by
    /// keeping their seats for the hold time.
    pub claimed_out_s: Option<f64>,
    /// How fast seats were held and orders issued, against the bare rate and the ideals.
    pub pace: Pace,
    /// History events and workflow tasks per issued order (a sample, read from Temporal).
    pub workflow_history: Option<History>,
    /// Seconds from the opening to the last ticket a buyer saw issued.
    pub last_ticket_s: f64,
    /// Whether every invariant held.
    pub audit_ok: bool,
    /// The audit.
    pub audit: Audit,
    /// Busiest second at the entrance: requests buyers sent.
    pub entrance_rps_peak: u64,
    /// How buyers' visits ended.
    pub outcomes: BTreeMap<String, u64>,
    /// Errors buyers met, by kind (each 429, 503 or unreachable gateway; all retried).
    pub errors: BTreeMap<String, u64>,
    /// Latency per stage.
    pub latency: BTreeMap<String, Latency>,
    /// Per-second counts, seconds relative to the opening.
    pub series: BTreeMap<String, Vec<(i64, u64)>>,
    /// Drills performed.
    pub drills: Vec<String>,
    /// The event.
    pub event_id: String,
    /// The run's wall time, seconds.
    pub wall_s: f64,
    /// The payment provider the run used.
    pub sandbox_url: String,
    /// CPU seconds per process over the run: the platform's processes since they started,
    /// the simulator and the NATS and Temporal servers (when their pid files were given)
    /// from the run's start; all measured just before the processes are stopped.
    pub cpu_s: BTreeMap<String, f64>,
    /// The simulator's CPU per buyer, ms.
    pub simulator_cpu_ms_per_buyer: Option<f64>,
}

fn name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Report {
    /// Gathers the figures.
    pub fn new(
        args: &SimArgs,
        event: &SimEvent,
        tally: &Tally,
        audit: Audit,
        drills: Vec<String>,
        workflow_history: Option<History>,
    ) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let series: BTreeMap<String, Vec<(i64, u64)>> = tally
            .series()
            .into_iter()
            .map(|(s, v)| (name(&s), v))
            .collect();
        let entrance_rps_peak = series
            .get(&name(&Series::Requests))
            .and_then(|v| v.iter().map(|(_, n)| *n).max())
            .unwrap_or(0);
        let latency = tally
            .percentiles()
            .into_iter()
            .map(|(stage, [count, p50, p90, p99, max])| {
                (
                    name(&stage),
                    Latency {
                        count: count as u64,
                        p50_ms: p50,
                        p90_ms: p90,
                        p99_ms: p99,
                        max_ms: max,
                    },
                )
            })
            .collect();
        let sold_out = tally.sold_out_ms.load(Relaxed);
        let claimed_out = tally.claimed_out_ms.load(Relaxed);
        let outcomes = tally.outcomes();
        let outcome = |k: &str| outcomes.get(k).copied().unwrap_or(0);
        let total = |s: Series| {
            series
                .get(&name(&s))
                .map_or(0, |v| v.iter().map(|(_, n)| n).sum::<u64>())
        };
        let issued = series
            .get(&name(&Series::Issued))
            .cloned()
            .unwrap_or_default();
        let pace = Pace::new(&Inputs {
            issued: &issued,
            issued_orders: tally.issued_orders.load(Relaxed),
            held_units: tally.held_units.load(Relaxed),
            last_held_ms: tally.last_held_ms.load(Relaxed),
            last_issue_ms: tally.last_issue_ms.load(Relaxed),
            seats: args.seats,
            sold: audit.tickets,
            bought: outcome("bought"),
            checkouts: total(Series::Checkouts),
            lapsed: outcome("abandoned") + outcome("paid_too_late") + outcome("cancel_overtaken"),
            hold_s: args.hold_s.max(30),
            bare_per_s: args.bare_workflows_per_s,
        });
        Self {
            buyers: args.buyers,
            seats: args.seats,
            sold: audit.tickets,
            sell_out_s: (sold_out != u64::MAX).then(|| sold_out as f64 / 1000.0),
            claimed_out_s: (claimed_out != u64::MAX).then(|| claimed_out as f64 / 1000.0),
            pace,
            workflow_history,
            last_ticket_s: tally.last_issue_ms.load(Relaxed) as f64 / 1000.0,
            audit_ok: audit.ok(),
            audit,
            entrance_rps_peak,
            outcomes,
            errors: tally.errors(),
            latency,
            series,
            drills,
            event_id: event.id.clone(),
            wall_s: 0.0,
            sandbox_url: String::new(),
            cpu_s: BTreeMap::new(),
            simulator_cpu_ms_per_buyer: None,
        }
    }

    /// Records the CPU each process used over the run.
    pub fn set_cpu(&mut self, cpu: BTreeMap<String, f64>) {
        self.simulator_cpu_ms_per_buyer = cpu
            .get("simulator")
            .filter(|_| self.buyers > 0)
            .map(|s| s * 1000.0 / self.buyers as f64);
        self.cpu_s = cpu;
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let p = |md: &mut String, s: String| {
            md.push_str(&s);
            md.push('\n');
        };
        p(&mut md, "# On-sale simulation".into());
        p(&mut md, String::new());
        p(
            &mut md,
            format!(
                "{} buyers for {} seats (event `{}`); {} tickets sold; {}; {}; last ticket at {:.1} s; audit **{}**.",
                self.buyers,
                self.seats,
                self.event_id,
                self.sold,
                self.claimed_out_s
                    .map_or("never every seat taken at once".into(), |s| {
                        format!("every seat sold or in a checkout at {s:.1} s")
                    }),
                self.sell_out_s
                    .map_or("not sold out".into(), |s| format!("sold out in {s:.1} s")),
                self.last_ticket_s,
                if self.audit_ok { "passed" } else { "FAILED" }
            ),
        );
        p(
            &mut md,
            format!(
                "Busiest second at the entrance: {} requests. Wall time {:.0} s.",
                self.entrance_rps_peak, self.wall_s
            ),
        );
        p(&mut md, String::new());
        p(
            &mut md,
            format!(
                "`sell_out_s` {}: seconds from the opening until buyers had seen every seat issued. `claimed_out_s` {}: seconds from the opening until the live counts first showed no seat left to buy, each one held or sold (sampled every 250 ms); the gap between the two is the tail that checkouts still open, paying or abandoned, add.",
                self.sell_out_s.map_or("n/a".into(), |s| format!("{s:.1}")),
                self.claimed_out_s
                    .map_or("n/a".into(), |s| format!("{s:.1}")),
            ),
        );
        p(&mut md, String::new());
        for line in self.pace.markdown(
            &self
                .series
                .get(&name(&Series::Issued))
                .cloned()
                .unwrap_or_default(),
        ) {
            p(&mut md, line);
        }
        p(&mut md, String::new());
        p(&mut md, "## CPU per process".into());
        p(&mut md, String::new());
        p(
            &mut md,
            format!(
                "CPU seconds each process used over the run's {:.0} s (the platform's processes since they started, the simulator and the shared servers from the run's start, all read just before the processes stop; a process a drill killed is not counted). The simulator used {} ms per buyer.",
                self.wall_s,
                self.simulator_cpu_ms_per_buyer
                    .map_or("n/a".into(), |v| format!("{v:.2}"))
            ),
        );
        p(&mut md, String::new());
        p(
            &mut md,
            "| process | CPU s | share of the run's wall time |".into(),
        );
        p(&mut md, "| --- | ---: | ---: |".into());
        for (name, s) in &self.cpu_s {
            p(
                &mut md,
                format!(
                    "| {name} | {s:.1} | {:.0}% |",
                    100.0 * s / self.wall_s.max(1.0)
                ),
            );
        }
        p(&mut md, String::new());
        p(&mut md, "## Temporal's work per issued order".into());
        p(&mut md, String::new());
        match &self.workflow_history {
            Some(h) => {
                p(
                    &mut md,
                    format!(
                        "Read from the server after the sale, for {} issued orders spread over the sale (medians): **{} history events** and **{} workflow tasks** (`WORKFLOW_TASK_COMPLETED`: each one a round trip of the worker to the server) per issued order. By kind:",
                        h.sampled, h.events, h.workflow_tasks
                    ),
                );
                p(&mut md, String::new());
                p(&mut md, "| event | per issued order (median) |".into());
                p(&mut md, "| --- | ---: |".into());
                for (k, n) in &h.by_kind {
                    p(&mut md, format!("| {k} | {n} |"));
                }
            }
            None => p(
                &mut md,
                "Not read (no issued order, or Temporal did not answer).".into(),
            ),
        }
        if !self.drills.is_empty() {
            p(&mut md, String::new());
            p(&mut md, "## Fault drills".into());
            for d in &self.drills {
                p(&mut md, format!("- {d}"));
            }
        }
        p(&mut md, String::new());
        p(&mut md, "## Audit".into());
        p(&mut md, String::new());
        p(&mut md, "| check | result | counts |".into());
        p(&mut md, "| --- | --- | --- |".into());
        for c in &self.audit.checks {
            p(
                &mut md,
                format!(
                    "| {} | {} | {} |",
                    c.name,
                    if c.ok { "ok" } else { "**FAIL**" },
                    c.detail
                ),
            );
        }
        p(&mut md, String::new());
        p(&mut md, "## Reconciliation passes".into());
        p(&mut md, String::new());
        p(
            &mut md,
            "| at (s) | trigger | status | seats | repaired | reported | wrong repairs |".into(),
        );
        p(
            &mut md,
            "| ---: | --- | --- | ---: | --- | --- | --- |".into(),
        );
        for r in &self.audit.passes {
            let or_none = |v: &[String]| {
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join(", ")
                }
            };
            p(
                &mut md,
                format!(
                    "| {:.1} | {} | {} | {} | {} | {} | {} |",
                    r.at_s,
                    r.trigger,
                    r.status,
                    r.checked_seats,
                    or_none(&r.repaired),
                    or_none(&r.reported),
                    or_none(&r.wrong)
                ),
            );
        }
        p(&mut md, String::new());
        p(&mut md, "## Latency per stage (ms)".into());
        p(&mut md, String::new());
        p(&mut md, "| stage | count | p50 | p90 | p99 | max |".into());
        p(&mut md, "| --- | ---: | ---: | ---: | ---: | ---: |".into());
        for (stage, l) in &self.latency {
            p(
                &mut md,
                format!(
                    "| {stage} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                    l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
                ),
            );
        }
        for (title, map) in [
            ("How visits ended", &self.outcomes),
            ("Errors by kind (all retried)", &self.errors),
        ] {
            p(&mut md, String::new());
            p(&mut md, format!("## {title}"));
            p(&mut md, String::new());
            p(&mut md, "| kind | count |".into());
            p(&mut md, "| --- | ---: |".into());
            for (k, n) in map {
                p(&mut md, format!("| {k} | {n} |"));
            }
        }
        p(&mut md, String::new());
        p(&mut md, "## Charts".into());
        p(&mut md, String::new());
        for c in ["flow", "issued", "queue", "errors", "latency"] {
            p(&mut md, format!("![{c}](charts/{c}.svg)"));
        }
        md
    }
}

/// Writes `report.json`, `report.md` and the charts into `out`.
pub fn write(out: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(report)?)?;
    std::fs::write(out.join("report.md"), report.markdown())?;
    let charts = out.join("charts");
    std::fs::create_dir_all(&charts)?;
    let get = |s: Series| float(report.series.get(&name(&s)).cloned().unwrap_or_default());
    lines(
        &charts.join("flow.svg"),
        "Per second: arrivals, admissions, orders, held, checkouts open, tickets",
        &[
            ("arrivals", get(Series::Arrivals)),
            ("admissions", get(Series::Admissions)),
            ("orders", get(Series::Orders)),
            ("held", get(Series::Held)),
            ("checkouts open", get(Series::Checkouts)),
            ("tickets", get(Series::Tickets)),
        ],
    )
    .context("drawing flow.svg")?;
    // Issued orders per second (a 10 s moving average: one second is too noisy to read)
    // beside the bare workflow rate of the same run.
    let issued = get(Series::Issued);
    let avg: Vec<(i64, f64)> = issued
        .iter()
        .enumerate()
        .map(|(i, (s, _))| {
            let w = &issued[i.saturating_sub(9)..=i];
            (*s, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)
        })
        .collect();
    let mut with_bare = vec![("issued orders/s (10 s average)", avg)];
    if let Some(b) = report.pace.bare_workflows_per_s {
        with_bare.push((
            "bare workflows/s (same server, same run)",
            issued.iter().map(|(s, _)| (*s, b)).collect(),
        ));
    }
    lines(
        &charts.join("issued.svg"),
        "Issued orders per second against the bare workflow rate",
        &with_bare,
    )
    .context("drawing issued.svg")?;
    // Queue length: joined and not yet admitted, second by second.
    let (joins, admissions) = (get(Series::Joins), get(Series::Admissions));
    let admitted: BTreeMap<i64, f64> = admissions.into_iter().collect();
    let (mut j, mut a) = (0f64, 0f64);
    let queue: Vec<(i64, f64)> = joins
        .iter()
        .map(|(s, n)| {
            j += *n;
            a += admitted.get(s).copied().unwrap_or(0.0);
            (*s, (j - a).max(0.0))
        })
        .collect();
    lines(
        &charts.join("queue.svg"),
        "Waiting room: buyers in line (joined, not yet admitted)",
        &[("in line", queue)],
    )
    .context("drawing queue.svg")?;
    lines(
        &charts.join("errors.svg"),
        "Per second: requests at the entrance and errors (429/503/unreachable, retried)",
        &[
            ("requests", get(Series::Requests)),
            ("errors", get(Series::Errors)),
        ],
    )
    .context("drawing errors.svg")?;
    latency_bars(&charts.join("latency.svg"), &report.latency).context("drawing latency.svg")?;
    Ok(())
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(59, 76, 202),
    RGBColor(214, 158, 46),
    RGBColor(95, 184, 132),
    RGBColor(200, 70, 70),
    RGBColor(120, 80, 160),
    RGBColor(60, 60, 60),
];

/// Per-second counts as chart points.
fn float(v: Vec<(i64, u64)>) -> Vec<(i64, f64)> {
    v.into_iter().map(|(s, n)| (s, n as f64)).collect()
}

fn lines(path: &Path, title: &str, series: &[(&str, Vec<(i64, f64)>)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let x0 = series
        .iter()
        .flat_map(|(_, v)| v.first().map(|p| p.0))
        .min()
        .unwrap_or(0);
    let x1 = series
        .iter()
        .flat_map(|(_, v)| v.last().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(x0 + 1);
    let y1 = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0f64..(y1 * 1.1))?;
    chart
        .configure_mesh()
        .x_desc("seconds after the opening")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, (label, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}

fn latency_bars(path: &Path, latency: &BTreeMap<String, Latency>) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let stages: Vec<&String> = latency.keys().collect();
    let top = latency
        .values()
        .map(|l| l.p99_ms)
        .fold(1.0f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Latency per stage: p50 (left) and p99 (right), ms, log scale",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(
            0f64..stages.len().max(1) as f64,
            (0.1f64..10f64.powf(top)).log_scale(),
        )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(stages.len().max(1))
        .x_label_formatter(&|x| {
            stages
                .get(x.floor() as usize)
                .map_or(String::new(), |s| (*s).clone())
        })
        .draw()?;
    for (i, s) in stages.iter().enumerate() {
        let l = &latency[*s];
        let x = i as f64;
        chart.draw_series([
            Rectangle::new(
                [(x + 0.15, 0.1), (x + 0.48, l.p50_ms.max(0.11))],
                COLOURS[0].filled(),
            ),
            Rectangle::new(
                [(x + 0.52, 0.1), (x + 0.85, l.p99_ms.max(0.11))],
                COLOURS[1].filled(),
            ),
        ])?;
    }
    root.present()?;
    Ok(())
}
