//! The pacer: moves each event's admission frontier at the rate the core can serve.
//!
//! Every gateway runs one; each tick it computes the next control message from the latest one
//! and publishes it by compare-and-swap, so however many run, each change builds on the last
//! and the rate is that of one pacer (admissions are `rate × time since the last control`,
//! whoever writes it). The rate follows an additive-increase, multiplicative-decrease rule on
//! the core's measured health, never above the organizer's cap; the phase follows the catalog
//! (open, paused, closed) and the inventory (sold out, and back when seats return).

use std::time::Duration;

use boxoffice_nats::{
    EventId,
    queue::{Control, Draw, Phase, WaitingRoom},
    seat::UnixMillis,
};

use crate::{availability::Availability, catalog::Catalog, health::CoreHealth};

/// The pacer's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PacerConfig {
    /// How often each gateway's pacer ticks, ms.
    #[arg(
        long = "pacer-tick-ms",
        env = "BOXOFFICE_PACER_TICK_MS",
        default_value_t = 250
    )]
    pub tick_ms: u64,
    /// Admission rate cap when the organizer set none, buyers per second.
    #[arg(
        long = "admission-max-rate",
        env = "BOXOFFICE_ADMISSION_MAX_RATE",
        default_value_t = 500.0
    )]
    pub max_rate: f64,
    /// The rate never drops below this while open (so a stuck health signal cannot stop a
    /// sale), buyers per second.
    #[arg(
        long = "admission-min-rate",
        env = "BOXOFFICE_ADMISSION_MIN_RATE",
        default_value_t = 1.0
    )]
    pub min_rate: f64,
    /// Intents waiting for the intake above which admission slows.
    #[arg(
        long = "pacer-backlog-high",
        env = "BOXOFFICE_PACER_BACKLOG_HIGH",
        default_value_t = 500
    )]
    pub backlog_high: u64,
    /// Intents in the intake's hands above which admission slows. Intake holds each at the
    /// seat store's pace and hands its workflow start to the starts queue
    /// (docs/adr/0021-held-at-seat-store-speed.md), so hundreds in hand means the seat store
    /// itself is behind, and buyers would wait longer for their hold.
    #[arg(
        long = "pacer-in-flight-high",
        env = "BOXOFFICE_PACER_IN_FLIGHT_HIGH",
        default_value_t = 300
    )]
    pub in_flight_high: u64,
    /// Admissions per second allowed before the core has shown its pace, and the least the
    /// pace ceiling allows. Past it, the rate may reach [`PACE_HEADROOM`] times the pace at
    /// which the intake settles intents, never more (until nobody reports: then only the cap
    /// and the overload signals apply, so a lost health signal cannot stop a sale). Intake
    /// settles at the seat store's pace (about 2,500 single-seat holds a second on one node
    /// here), no longer at Temporal's, so the opening may admit this many at once.
    #[arg(
        long = "pacer-probe-rate",
        env = "BOXOFFICE_PACER_PROBE_RATE",
        default_value_t = 500.0
    )]
    pub probe_rate: f64,
    /// Hold p99 above which admission slows, ms (the buyer-facing budget is 800).
    #[arg(
        long = "pacer-hold-p99-ms",
        env = "BOXOFFICE_PACER_HOLD_P99_MS",
        default_value_t = 500
    )]
    pub hold_p99_budget_ms: u32,
    /// How long an admission may be used, seconds.
    #[arg(
        long = "admission-ttl-s",
        env = "BOXOFFICE_ADMISSION_TTL_S",
        default_value_t = 300
    )]
    pub admission_ttl_s: u32,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            tick_ms: 250,
            max_rate: 500.0,
            min_rate: 1.0,
            backlog_high: 500,
            in_flight_high: 300,
            probe_rate: 500.0,
            hold_p99_budget_ms: 500,
            admission_ttl_s: 300,
        }
    }
}

/// Everything one step looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// Now.
    pub now: UnixMillis,
    /// What the catalog wants: `Pending`, `Open`, `Paused` or `Closed`.
    pub wanted: Phase,
    /// The organizer's cap.
    pub cap_per_s: f64,
    /// Sellable units left (`None`: not known yet).
    pub available: Option<u32>,
    /// Positions handed out so far.
    pub positions: u64,
    /// The core's load.
    pub load: crate::health::CoreLoad,
}

/// Growth of the rate per second while healthy, as a share of the cap.
const RAMP_PER_S: f64 = 0.2;
/// Factor the rate is multiplied by per second while the core is overloaded.
const BACKOFF_PER_S: f64 = 0.5;
/// Admissions per second allowed per intent the core settles per second. Above 1 so the
/// rate can find a faster core (the pace follows admissions by a few seconds), low enough
/// that an opening cannot admit many times what the core serves before the overload
/// signals, which lag by the same few seconds, catch up: the 200,000-buyer simulation
/// admitted about 6,000 buyers in its first 20 s at a core pace near 20 per second, and
/// their orders waited minutes for a hold.
pub const PACE_HEADROOM: f64 = 1.5;

/// The most the core's measured pace lets the rate be (`f64::INFINITY`: nothing measured).
fn pace_ceiling(load: &crate::health::CoreLoad, cfg: &PacerConfig) -> f64 {
    load.served_per_s
        .map_or(f64::INFINITY, |s| (s * PACE_HEADROOM).max(cfg.probe_rate))
}

/// The next control after `current`, or `None` if nothing needs writing.
pub fn step(current: &Control, input: &Inputs, cfg: &PacerConfig, seed: &str) -> Option<Control> {
    // At most 2 s of credit: a pacer back from a pause in its own ticks does not burst.
    let dt = ((input.now - current.at).max(0) as f64 / 1000.0).min(2.0);
    let mut next = current.clone();
    next.at = input.now;
    next.cap_per_s = input.cap_per_s;
    next.admission_ttl_s = cfg.admission_ttl_s;
    let phase = match (current.phase, input.wanted) {
        (Phase::Closed, _) | (_, Phase::Closed) => Phase::Closed,
        (_, Phase::Pending) if current.draw.is_none() => Phase::Pending,
        (_, Phase::Paused) => Phase::Paused,
        _ if input.available == Some(0) => Phase::SoldOut,
        _ => Phase::Open,
    };
    next.phase = phase;
    if phase != Phase::Pending && next.draw.is_none() {
        next.draw = Some(Draw {
            seed: seed.to_owned(),
            at: input.now,
        });
        // The opening admits at the cap at once, within what the core has shown it settles:
        // intake answers at the seat store's pace, so the first buyers need not wait for a
        // ramp (docs/adr/0021-held-at-seat-store-speed.md).
        next.rate_per_s = input
            .cap_per_s
            .min(pace_ceiling(&input.load, cfg))
            .max(cfg.min_rate);
    }
    if phase == Phase::Open {
        let load = input.load;
        let (overloaded, why) = if load.backlog > cfg.backlog_high {
            (true, "intake_backlog")
        } else if load.in_flight > cfg.in_flight_high {
            (true, "in_flight")
        } else if load.hold_p99_ms.is_some_and(|p| p > cfg.hold_p99_budget_ms) {
            (true, "hold_latency")
        } else {
            (false, "")
        };
        let cap = input.cap_per_s.max(cfg.min_rate);
        let ceiling = pace_ceiling(&load, cfg);
        // From the current rate, or from the opening's starting rate set just above.
        let base = next.rate_per_s;
        let rate = if overloaded {
            next.reason = why.into();
            base * BACKOFF_PER_S.powf(dt)
        } else {
            (base + cap * RAMP_PER_S * dt).min(ceiling)
        };
        next.rate_per_s = rate.clamp(cfg.min_rate, cap);
        if !overloaded {
            next.reason = if next.rate_per_s >= cap {
                "cap"
            } else if next.rate_per_s >= ceiling {
                "core_pace"
            } else {
                "ramping"
            }
            .into();
        }
        next.credit = current.credit + next.rate_per_s * dt;
        let advance = next.credit.floor() as u64;
        next.admitted_through = (current.admitted_through + advance).min(input.positions);
        next.credit -= (next.admitted_through - current.admitted_through) as f64;
        if next.admitted_through >= input.positions {
            // Nobody waiting: admissions are not banked for a later burst.
            next.credit = 0.0;
            if !overloaded {
                next.reason = "queue_empty".into();
            }
        }
    } else {
        next.credit = 0.0;
        next.reason = match phase {
            Phase::Pending => "not_open",
            Phase::Paused => "paused",
            Phase::SoldOut => "sold_out",
            _ => "closed",
        }
        .into();
    }
    let changed = next.phase != current.phase
        || next.draw != current.draw
        || next.admitted_through != current.admitted_through
        || next.reason != current.reason
        || (next.rate_per_s - current.rate_per_s).abs() > 0.01 * current.rate_per_s.max(1.0)
        || next.cap_per_s != current.cap_per_s
        || next.admission_ttl_s != current.admission_ttl_s;
    // The fractional credit must keep accruing even when no whole admission is due yet, so a
    // slow rate still moves; time is what carries it (dt is measured from `current.at`), so an
    // unchanged control is simply not written and the next tick sees a longer dt.
    changed.then_some(next)
}

/// What the catalog wants of an event's room now.
fn wanted(event: &crate::catalog::Event, now: chrono::DateTime<chrono::Utc>) -> Phase {
    use boxoffice_workflows::domain::SaleStatus;
    if event.closed_at(now) {
        Phase::Closed
    } else if event.selling_at(now) {
        Phase::Open
    } else if event.status == SaleStatus::Paused {
        Phase::Paused
    } else {
        Phase::Pending
    }
}

/// Runs the pacer for every published event until the process ends.
pub async fn run(
    room: WaitingRoom,
    catalog: Catalog,
    availability: Availability,
    health: CoreHealth,
    cfg: PacerConfig,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.tick_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for event in catalog.list() {
            if let Err(e) = pace(&room, &event, &availability, &health, &cfg).await {
                tracing::debug!(event = %event.event_id, error = %e, "pacer tick skipped");
            }
        }
    }
}

async fn pace(
    room: &WaitingRoom,
    event: &crate::catalog::Event,
    availability: &Availability,
    health: &CoreHealth,
    cfg: &PacerConfig,
) -> Result<(), boxoffice_nats::queue::QueueError> {
    let id: EventId = event.event_id;
    let now_dt = chrono::Utc::now();
    let now = now_dt.timestamp_millis();
    let cap = event
        .admission_rate_per_s
        .map_or(cfg.max_rate, f64::from)
        .min(cfg.max_rate);
    let (control, positions) = room.read(id, |b| {
        (
            b.and_then(|b| b.control().cloned()),
            b.map_or(0, |b| b.positions()),
        )
    });
    let wanted = wanted(event, now_dt);
    let (expected, current) = match control {
        Some((seq, c)) => (seq, c),
        // Nothing written yet: only an opening (or a closing) is worth the first message.
        None if wanted == Phase::Pending => return Ok(()),
        None => (0, Control::initial(cap, cfg.admission_ttl_s, now)),
    };
    if current.phase == Phase::Closed {
        return Ok(());
    }
    let available = availability.counts(id).map(|(_, total)| total.available);
    let inputs = Inputs {
        now,
        wanted,
        cap_per_s: cap,
        available,
        positions,
        load: health.load(now),
    };
    let seed = hex::encode(rand::random::<[u8; 32]>());
    let Some(next) = step(&current, &inputs, cfg, &seed) else {
        return Ok(());
    };
    if room.write_control(id, expected, &next).await?.is_some() {
        let admitted = next
            .admitted_through
            .saturating_sub(current.admitted_through);
        let label = id.to_string();
        metrics::counter!("boxoffice_queue_admitted_total", "event" => label.clone())
            .increment(admitted);
        metrics::gauge!("boxoffice_queue_admission_rate", "event" => label.clone())
            .set(next.rate_per_s);
        metrics::counter!("boxoffice_queue_pacer_changes_total", "reason" => next.reason.clone())
            .increment(1);
        if next.phase != current.phase {
            tracing::info!(event = %id, from = ?current.phase, to = ?next.phase, reason = %next.reason, "waiting room phase");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CoreLoad;

    fn inputs(now: UnixMillis, positions: u64) -> Inputs {
        Inputs {
            now,
            wanted: Phase::Open,
            cap_per_s: 100.0,
            available: Some(1_000),
            positions,
            load: CoreLoad::default(),
        }
    }

    fn run(mut c: Control, mut input: Inputs, seconds: u64, cfg: &PacerConfig) -> Control {
        for _ in 0..seconds * 4 {
            input.now += 250;
            if let Some(n) = step(&c, &input, cfg, "ab") {
                c = n;
            }
        }
        c
    }

    #[test]
    fn opening_draws_once_and_the_rate_never_exceeds_the_cap() {
        let cfg = PacerConfig::default();
        let c0 = Control::initial(100.0, 300, 0);
        let opened = step(&c0, &inputs(0, 10_000), &cfg, "seed").unwrap();
        assert_eq!(opened.phase, Phase::Open);
        assert_eq!(opened.draw.as_ref().unwrap().seed, "seed");
        let later = run(opened.clone(), inputs(0, 10_000), 20, &cfg);
        assert_eq!(later.draw, opened.draw, "the draw never changes");
        assert!(later.rate_per_s <= 100.0);
        // Admitted over 20 s at a rate ramping to the cap: no more than cap × time.
        assert!(
            later.admitted_through <= 2_000,
            "{}",
            later.admitted_through
        );
        assert!(
            later.admitted_through >= 1_500,
            "{}",
            later.admitted_through
        );
    }

    #[test]
    fn an_overloaded_core_slows_admission_and_a_healthy_one_recovers() {
        let cfg = PacerConfig::default();
        let mut c = Control::initial(100.0, 300, 0);
        c = step(&c, &inputs(0, 100_000), &cfg, "s").unwrap();
        c = run(c, inputs(0, 100_000), 10, &cfg);
        assert_eq!(c.rate_per_s, 100.0);
        let mut slow = inputs(c.at, 100_000);
        slow.load.hold_p99_ms = Some(2_000);
        let slowed = run(c.clone(), slow, 5, &cfg);
        assert_eq!(slowed.reason, "hold_latency");
        assert!(slowed.rate_per_s < 10.0, "{}", slowed.rate_per_s);
        let mut backlog = inputs(c.at, 100_000);
        backlog.load.backlog = 10_000;
        assert_eq!(run(c.clone(), backlog, 1, &cfg).reason, "intake_backlog");
        let recovered = run(slowed.clone(), inputs(slowed.at, 100_000), 10, &cfg);
        assert_eq!(recovered.rate_per_s, 100.0);
    }

    #[test]
    fn admissions_follow_the_pace_the_core_shows_and_find_a_faster_one() {
        // A low probe rate, to watch the ceiling follow the pace from below.
        let cfg = PacerConfig {
            probe_rate: 20.0,
            ..PacerConfig::default()
        };
        let mut load = inputs(0, 100_000);
        load.cap_per_s = 500.0;
        // The opening, before any intent is settled: the probe rate.
        load.load.served_per_s = Some(0.0);
        let mut c = step(&Control::initial(500.0, 300, 0), &load, &cfg, "s").unwrap();
        assert_eq!(c.rate_per_s, cfg.probe_rate);
        c = run(c, load, 10, &cfg);
        assert_eq!(c.rate_per_s, cfg.probe_rate);
        assert_eq!(c.reason, "core_pace");
        assert!(c.admitted_through <= 21 * 10 + 20, "{}", c.admitted_through);
        // A core settling 40 intents a second: the rate holds at 1.5 times that.
        let mut steady = inputs(c.at, 100_000);
        steady.cap_per_s = 500.0;
        steady.load.served_per_s = Some(40.0);
        c = run(c, steady, 10, &cfg);
        assert_eq!(c.rate_per_s, 40.0 * PACE_HEADROOM);
        // As it shows more, the ceiling rises with it, up to the cap.
        steady.load.served_per_s = Some(1_000.0);
        steady.now = c.at;
        c = run(c, steady, 10, &cfg);
        assert_eq!((c.rate_per_s, c.reason.as_str()), (500.0, "cap"));
        // Nobody reporting: only the cap and the overload signals apply.
        let mut silent = inputs(0, 100_000);
        silent.cap_per_s = 500.0;
        let c = step(&Control::initial(500.0, 300, 0), &silent, &cfg, "s").unwrap();
        assert_eq!(c.rate_per_s, 500.0);
    }

    #[test]
    fn an_opening_admits_at_the_cap_at_once_since_intake_holds_at_the_seat_stores_pace() {
        let cfg = PacerConfig::default();
        let mut load = inputs(0, 100_000);
        load.cap_per_s = 500.0;
        load.load.served_per_s = Some(0.0);
        let c = step(&Control::initial(500.0, 300, 0), &load, &cfg, "s").unwrap();
        assert_eq!((c.rate_per_s, c.reason.as_str()), (500.0, "cap"));
        // One second in, 500 buyers are admitted (not a ramp's 50).
        let c = run(c, load, 1, &cfg);
        assert!(c.admitted_through >= 450, "{}", c.admitted_through);
    }

    #[test]
    fn pause_sold_out_and_close_stop_the_frontier() {
        let cfg = PacerConfig::default();
        let mut c = step(
            &Control::initial(100.0, 300, 0),
            &inputs(0, 1_000),
            &cfg,
            "s",
        )
        .unwrap();
        c = run(c, inputs(0, 1_000), 2, &cfg);
        let mut paused = inputs(c.at, 1_000);
        paused.wanted = Phase::Paused;
        let p = run(c.clone(), paused, 3, &cfg);
        assert_eq!(
            (p.phase, p.admitted_through),
            (Phase::Paused, c.admitted_through)
        );
        let mut gone = inputs(c.at, 1_000);
        gone.available = Some(0);
        let s = run(c.clone(), gone, 3, &cfg);
        assert_eq!(
            (s.phase, s.admitted_through),
            (Phase::SoldOut, c.admitted_through)
        );
        let back = run(s.clone(), inputs(s.at, 1_000), 1, &cfg);
        assert_eq!(back.phase, Phase::Open);
        assert!(back.admitted_through > s.admitted_through);
        let mut closed = inputs(c.at, 1_000);
        closed.wanted = Phase::Closed;
        let x = step(&c, &closed, &cfg, "s").unwrap();
        assert_eq!(x.phase, Phase::Closed);
        assert_eq!(
            step(&x, &inputs(c.at + 1_000, 1_000), &cfg, "s")
                .unwrap_or(x.clone())
                .phase,
            Phase::Closed
        );
    }

    #[test]
    fn the_frontier_never_passes_the_last_position() {
        let cfg = PacerConfig::default();
        let c = step(&Control::initial(100.0, 300, 0), &inputs(0, 5), &cfg, "s").unwrap();
        let c = run(c, inputs(0, 5), 5, &cfg);
        assert_eq!(c.admitted_through, 5);
        assert_eq!(c.credit, 0.0);
        assert_eq!(c.reason, "queue_empty");
    }
}
