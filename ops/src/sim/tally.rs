//! What the simulated buyers saw: counts per second (for the charts), latencies per stage,
//! errors by kind and how each buyer's visit ended. Shared by every buyer task; each record is
//! a short lock or an atomic add, never I/O.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use serde::Serialize;

/// A per-second counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// A buyer arrived (its first request).
    Arrivals,
    /// A join was acknowledged (202).
    Joins,
    /// A buyer was admitted (first poll that said so).
    Admissions,
    /// An order was accepted (202).
    Orders,
    /// An order was first seen holding its seats (`held` or later).
    Held,
    /// An order's checkout was seen open (`awaiting_payment`: the buyer may pay).
    Checkouts,
    /// Orders seen `issued`.
    Issued,
    /// Seats in orders seen `issued`.
    Tickets,
    /// Requests answered 429 or 503, or not answered.
    Errors,
    /// Every request a buyer sent (the entrance's load).
    Requests,
}

impl Series {
    /// Every series, in chart order.
    pub const ALL: [Series; 10] = [
        Series::Arrivals,
        Series::Joins,
        Series::Admissions,
        Series::Orders,
        Series::Held,
        Series::Checkouts,
        Series::Issued,
        Series::Tickets,
        Series::Errors,
        Series::Requests,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Seconds before the opening the series reach back.
const BEFORE_S: i64 = 600;
/// Seconds the series cover in all; later counts go into the last second.
const SPAN_S: usize = 6 * 3600;

/// A latency, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `POST .../queue` round trip.
    Join,
    /// `GET /queue/{ticket}` round trip.
    Poll,
    /// Joined → admitted.
    QueueWait,
    /// `POST .../orders` round trip.
    Order,
    /// `POST .../orders` sent → the order first seen `held` or later (the intake's
    /// compare-and-swap is done and the buyer is told so).
    Held,
    /// `POST .../orders` sent → the order first seen decided: held (or later) or refused.
    Decided,
    /// Seen `held` → seen `awaiting_payment`: how long the buyer waited for the checkout to
    /// open behind the platform's own backlog (0 when the first state seen was already
    /// `awaiting_payment`).
    CheckoutWait,
    /// `POST .../orders` sent → payment open (`awaiting_payment`: the workflow has started,
    /// recorded the order and opened the payment).
    PaymentOpen,
    /// The sale's opening → the order first seen `held` or later (a buyer's whole wait,
    /// line included).
    OpeningToHeld,
    /// How much later the checkout opened than the `checkout_opens_at` estimate the `held`
    /// view gave, when the platform gave one (negative: earlier than estimated).
    CheckoutLateBy,
    /// Paid at the checkout → `issued` seen.
    Issue,
}

/// Everything recorded.
pub struct Tally {
    /// When the sale opened (second 0 of the series).
    pub opened: Instant,
    /// One row of counters per second, one counter per series: a record is an atomic add.
    series: Vec<[AtomicU64; Series::ALL.len()]>,
    latencies: Mutex<BTreeMap<Stage, Vec<f32>>>,
    errors: Mutex<BTreeMap<String, u64>>,
    outcomes: Mutex<BTreeMap<String, u64>>,
    /// Repeated requests that had two effects: one Idempotency-Key answered with two
    /// different orders, or two tabs joining at once given two different places.
    pub mismatches: AtomicU64,
    /// Seats seen issued so far, and when the count last grew (ms after the opening).
    pub tickets: AtomicU64,
    /// Time of the latest issue seen, ms after the opening.
    pub last_issue_ms: AtomicU64,
    /// Time the seats seen issued first covered `target` (ms after the opening), if it did.
    pub sold_out_ms: AtomicU64,
    /// Orders seen issued so far.
    pub issued_orders: AtomicU64,
    /// Seats in orders seen held (first seen `held` or later), so far.
    pub held_units: AtomicU64,
    /// Time of the latest first sight of a hold, ms after the opening.
    pub last_held_ms: AtomicU64,
    /// Every order seen issued, in the order seen (a sample of them is looked up in
    /// Temporal after the run).
    issued_ids: Mutex<Vec<String>>,
    /// First time the live counts showed no seat left to buy, every one sold or in a
    /// checkout (ms after the opening), if they did: the platform's throughput, without the
    /// time abandoned checkouts keep their seats.
    pub claimed_out_ms: AtomicU64,
    /// The number of seats that makes a sell-out.
    pub target: u64,
}

impl Tally {
    /// A new tally for a sale of `target` seats opening at `opened`.
    pub fn new(opened: Instant, target: u64) -> Self {
        Self {
            opened,
            series: (0..SPAN_S)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
            latencies: Mutex::default(),
            errors: Mutex::default(),
            outcomes: Mutex::default(),
            mismatches: AtomicU64::new(0),
            tickets: AtomicU64::new(0),
            last_issue_ms: AtomicU64::new(0),
            sold_out_ms: AtomicU64::new(u64::MAX),
            issued_orders: AtomicU64::new(0),
            held_units: AtomicU64::new(0),
            last_held_ms: AtomicU64::new(0),
            issued_ids: Mutex::default(),
            claimed_out_ms: AtomicU64::new(u64::MAX),
            target,
        }
    }

    fn second(&self) -> i64 {
        let now = Instant::now();
        if now >= self.opened {
            (now - self.opened).as_secs() as i64
        } else {
            -((self.opened - now).as_secs() as i64) - 1
        }
    }

    /// Counts `n` in this second of `series`.
    pub fn count(&self, series: Series, n: u64) {
        let row = (self.second() + BEFORE_S).clamp(0, SPAN_S as i64 - 1) as usize;
        self.series[row][series.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Records a latency: `since` until now.
    pub fn latency(&self, stage: Stage, since: Instant) {
        self.latency_ms(stage, since.elapsed().as_secs_f64() * 1000.0);
    }

    /// Records a latency given in milliseconds.
    pub fn latency_ms(&self, stage: Stage, ms: f64) {
        lock(&self.latencies)
            .entry(stage)
            .or_default()
            .push(ms as f32);
    }

    /// Counts an error of `kind` (e.g. `join_503`).
    pub fn error(&self, kind: impl Into<String>) {
        self.count(Series::Errors, 1);
        *lock(&self.errors).entry(kind.into()).or_default() += 1;
    }

    /// A repeated request had a second effect.
    pub fn mismatch(&self) {
        self.mismatches.fetch_add(1, Ordering::Relaxed);
    }

    /// How a buyer's visit ended.
    pub fn outcome(&self, what: &str) {
        *lock(&self.outcomes).entry(what.to_owned()).or_default() += 1;
    }

    /// An order of `seats` seats was first seen held (or later) now.
    pub fn held(&self, seats: u64) {
        self.count(Series::Held, 1);
        self.latency(Stage::OpeningToHeld, self.opened);
        self.held_units.fetch_add(seats, Ordering::Relaxed);
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_held_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// `order`, of `seats` seats, was seen issued now.
    pub fn issued(&self, order: &str, seats: u64) {
        self.count(Series::Issued, 1);
        self.issued_orders.fetch_add(1, Ordering::Relaxed);
        lock(&self.issued_ids).push(order.to_owned());
        self.count(Series::Tickets, seats);
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_issue_ms.fetch_max(ms, Ordering::Relaxed);
        let total = self.tickets.fetch_add(seats, Ordering::Relaxed) + seats;
        if total >= self.target {
            self.sold_out_ms.fetch_min(ms, Ordering::Relaxed);
        }
    }

    /// The per-second series, each from the first second anything happened to the last
    /// (seconds relative to the opening; every second in between, zeros included).
    pub fn series(&self) -> BTreeMap<Series, Vec<(i64, u64)>> {
        let busy: Vec<usize> = (0..SPAN_S)
            .filter(|r| {
                self.series[*r]
                    .iter()
                    .any(|c| c.load(Ordering::Relaxed) > 0)
            })
            .collect();
        let (Some(first), Some(last)) = (busy.first(), busy.last()) else {
            return BTreeMap::new();
        };
        Series::ALL
            .iter()
            .map(|s| {
                let points = (*first..=*last)
                    .map(|r| {
                        (
                            r as i64 - BEFORE_S,
                            self.series[r][s.index()].load(Ordering::Relaxed),
                        )
                    })
                    .collect();
                (*s, points)
            })
            .collect()
    }

    /// Latency percentiles per stage: (count, p50, p90, p99, max).
    pub fn percentiles(&self) -> BTreeMap<Stage, [f64; 5]> {
        lock(&self.latencies)
            .iter()
            .map(|(stage, xs)| {
                let mut v: Vec<f64> = xs.iter().map(|x| f64::from(*x)).collect();
                v.sort_by(f64::total_cmp);
                let q = |q: f64| {
                    if v.is_empty() {
                        0.0
                    } else {
                        v[(((v.len() - 1) as f64) * q).round() as usize]
                    }
                };
                (*stage, [v.len() as f64, q(0.5), q(0.9), q(0.99), q(1.0)])
            })
            .collect()
    }

    /// Errors by kind.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        lock(&self.errors).clone()
    }

    /// Outcomes by kind.
    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        lock(&self.outcomes).clone()
    }

    /// At most `n` of the orders seen issued, spread evenly from the first to the last (the
    /// early, busy and late parts of the sale each have their share).
    pub fn issued_sample(&self, n: usize) -> Vec<String> {
        let ids = lock(&self.issued_ids);
        if ids.len() <= n {
            return ids.clone();
        }
        (0..n).map(|i| ids[i * ids.len() / n].clone()).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
