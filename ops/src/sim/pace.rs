//! The sale's pace: how fast seats were held and orders issued, the busiest five minutes
//! against the bare workflow rate measured on the same server in the same run, and the two
//! ideals a sell-out time is judged against. Each figure comes with the sentence that says
//! what it measures ([`Pace::markdown`]).

use serde::Serialize;

/// The window of "the busiest five minutes", seconds.
pub const BUSIEST_WINDOW_S: usize = 300;

/// What the pace is computed from (all of it measured in the run).
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    /// Orders seen issued per second, seconds after the opening.
    pub issued: &'a [(i64, u64)],
    /// Orders seen issued.
    pub issued_orders: u64,
    /// Seats in orders seen held (first seen `held` or later).
    pub held_units: u64,
    /// The latest first sight of a hold, ms after the opening (0: none).
    pub last_held_ms: u64,
    /// The latest issue seen, ms after the opening (0: none).
    pub last_issue_ms: u64,
    /// Seats on sale.
    pub seats: u32,
    /// Tickets issued (the audit's count).
    pub sold: u64,
    /// Visits that ended with a purchase.
    pub bought: u64,
    /// Checkouts seen open (each one an order workflow that opened a payment).
    pub checkouts: u64,
    /// Checkouts whose hold lapsed with the seats in it (abandoned, paid too late, a cancel
    /// overtaken by the lapse).
    pub lapsed: u64,
    /// The event's hold time, seconds.
    pub hold_s: u32,
    /// Bare workflows per second on the same server in the same run, if measured.
    pub bare_per_s: Option<f64>,
}

/// The pace figures (see [`Pace::markdown`] for what each one measures).
#[derive(Debug, Clone, Serialize)]
pub struct Pace {
    /// Seats in orders seen held.
    pub held_units: u64,
    /// Seconds from the opening to the last first sight of a hold.
    pub last_held_s: Option<f64>,
    /// `held_units / last_held_s`.
    pub held_per_s: Option<f64>,
    /// Orders seen issued.
    pub issued_orders: u64,
    /// `issued_orders` / seconds from the opening to the last issue.
    pub issued_per_s: Option<f64>,
    /// The busiest window's length, seconds: five minutes, or the whole sale from the opening
    /// to the last issue when it was shorter.
    pub busiest_window_s: u64,
    /// Where the busiest window starts, seconds after the opening.
    pub busiest_from_s: i64,
    /// Orders issued per second in the busiest window.
    pub busiest_5min_issued_per_s: Option<f64>,
    /// Bare workflows per second measured on the same server in the same run.
    pub bare_workflows_per_s: Option<f64>,
    /// `busiest_5min_issued_per_s / bare_workflows_per_s`.
    pub busiest_5min_ratio: Option<f64>,
    /// Orders needed to sell every seat: seats / seats per bought order.
    pub orders_needed: f64,
    /// `orders_needed / bare_workflows_per_s`.
    pub ideal_sell_out_s: Option<f64>,
    /// Share of opened checkouts whose hold lapsed.
    pub lapsed_share: f64,
    /// Rounds of lapsed checkouts in a chain (see [`rounds`]).
    pub abandon_rounds: u32,
    /// Workflows the sale needed: every checkout it opened, at least `orders_needed`.
    pub workflows_needed: f64,
    /// `workflows_needed / bare_workflows_per_s + abandon_rounds × hold_s`.
    pub ideal_with_abandon_s: Option<f64>,
    /// The hold time used, seconds.
    pub hold_s: u32,
}

/// The busiest window of `issued` (per-second counts, seconds after the opening): its length
/// (`window` seconds, or every second from the opening to the last issue when that is fewer),
/// its first second, and the orders per second in it. `None` when nothing was issued.
pub fn busiest(issued: &[(i64, u64)], window: usize) -> Option<(usize, i64, f64)> {
    let last = issued.iter().rev().find(|(_, n)| *n > 0)?.0;
    let mut counts = vec![0u64; last.max(0) as usize + 1];
    for (t, n) in issued {
        if (0..=last).contains(t) {
            counts[*t as usize] += n;
        }
    }
    let len = window.min(counts.len()).max(1);
    let mut sum: u64 = counts[..len].iter().sum();
    let (mut best, mut from) = (sum, 0usize);
    for start in 1..=counts.len() - len {
        sum = sum + counts[start + len - 1] - counts[start - 1];
        if sum > best {
            (best, from) = (sum, start);
        }
    }
    Some((len, from as i64, best as f64 / len as f64))
}

/// How many times lapsed checkouts send seats back to sale in a chain, when a share
/// `lapsed_share` of checkouts lapses: of `orders` checkouts, `orders × share` come back one
/// hold time later, `orders × share²` of those again a hold time after that, and so on while
/// at least one does. The largest `k` with `orders × share^k ≥ 1` (0 without lapses).
pub fn rounds(orders: f64, lapsed_share: f64) -> u32 {
    if !(lapsed_share > 0.0 && orders >= 1.0) {
        return 0;
    }
    if lapsed_share >= 1.0 {
        return 1;
    }
    // A hair under the exact ratio, so 100 checkouts at 10% make 2 rounds, not 1.99.
    ((orders.ln() / (1.0 / lapsed_share).ln()) + 1e-9).floor() as u32
}

fn per_s(n: u64, ms: u64) -> Option<f64> {
    (ms > 0 && n > 0).then(|| n as f64 / (ms as f64 / 1000.0))
}

impl Pace {
    /// Computes the figures.
    pub fn new(i: &Inputs<'_>) -> Self {
        let window = busiest(i.issued, BUSIEST_WINDOW_S);
        let busiest_rate = window.map(|w| w.2);
        let seats_per_order = if i.bought > 0 {
            (i.sold as f64 / i.bought as f64).max(1.0)
        } else {
            1.0
        };
        let orders_needed = f64::from(i.seats) / seats_per_order;
        let lapsed_share = if i.checkouts > 0 {
            i.lapsed as f64 / i.checkouts as f64
        } else {
            0.0
        };
        let abandon_rounds = rounds(orders_needed, lapsed_share);
        let workflows_needed = orders_needed.max(i.checkouts as f64);
        let bare = i.bare_per_s.filter(|b| *b > 0.0);
        Self {
            held_units: i.held_units,
            last_held_s: (i.last_held_ms > 0).then(|| i.last_held_ms as f64 / 1000.0),
            held_per_s: per_s(i.held_units, i.last_held_ms),
            issued_orders: i.issued_orders,
            issued_per_s: per_s(i.issued_orders, i.last_issue_ms),
            busiest_window_s: window.map_or(0, |w| w.0 as u64),
            busiest_from_s: window.map_or(0, |w| w.1),
            busiest_5min_issued_per_s: busiest_rate,
            bare_workflows_per_s: bare,
            busiest_5min_ratio: bare.zip(busiest_rate).map(|(b, r)| r / b),
            orders_needed,
            ideal_sell_out_s: bare.map(|b| orders_needed / b),
            lapsed_share,
            abandon_rounds,
            workflows_needed,
            ideal_with_abandon_s: bare
                .map(|b| workflows_needed / b + f64::from(abandon_rounds) * f64::from(i.hold_s)),
            hold_s: i.hold_s,
        }
    }

    /// The figures as Markdown, one sentence each saying what it measures, then issued per
    /// second over time beside the bare rate.
    pub fn markdown(&self, issued: &[(i64, u64)]) -> Vec<String> {
        let f = |x: Option<f64>, unit: &str| x.map_or("n/a".into(), |v| format!("{v:.1}{unit}"));
        let r = |x: Option<f64>| x.map_or("n/a".into(), |v| format!("{v:.2}"));
        let mut md = vec![
            "## Pace".into(),
            String::new(),
            "| figure | value | what it measures |".into(),
            "| --- | ---: | --- |".into(),
        ];
        let mut row = |name: &str, value: String, what: String| {
            md.push(format!("| `{name}` | {value} | {what} |"));
        };
        row(
            "held_per_s",
            f(self.held_per_s, "/s"),
            format!(
                "Seats held per second: the {} seats in orders their buyers saw held (`held` or later) over the {} from the opening to the last hold seen.",
                self.held_units,
                f(self.last_held_s, " s")
            ),
        );
        row(
            "issued_per_s",
            f(self.issued_per_s, "/s"),
            format!(
                "Orders issued per second over the whole sale: the {} orders buyers saw issued over the seconds from the opening to the last one.",
                self.issued_orders
            ),
        );
        let window = if self.busiest_window_s as usize >= BUSIEST_WINDOW_S {
            format!(
                "the most orders issued in any five minutes (from {} s to {} s after the opening), per second",
                self.busiest_from_s,
                self.busiest_from_s + self.busiest_window_s as i64
            )
        } else {
            format!(
                "the sale issued for less than five minutes, so this is its whole length ({} s from the opening to the last issue), per second",
                self.busiest_window_s
            )
        };
        row(
            "busiest_5min_issued_per_s",
            f(self.busiest_5min_issued_per_s, "/s"),
            format!("Orders issued per second at the sale's busiest: {window}."),
        );
        row(
            "bare_workflows_per_s",
            f(self.bare_workflows_per_s, "/s"),
            "The core's pace alone: workflows of the order's shape with nothing inside, completed per second on the same Temporal server in the same run, before the sale.".into(),
        );
        row(
            "busiest_5min_ratio",
            r(self.busiest_5min_ratio),
            "`busiest_5min_issued_per_s / bare_workflows_per_s`: the share of the core's pace the sale reached at its busiest.".into(),
        );
        row(
            "ideal_sell_out_s",
            f(self.ideal_sell_out_s, " s"),
            format!(
                "The sell-out at the core's pace if nobody abandoned: the {:.0} orders needed to sell every seat (seats / seats per bought order) at the bare rate.",
                self.orders_needed
            ),
        );
        row(
            "ideal_with_abandon_s",
            f(self.ideal_with_abandon_s, " s"),
            format!(
                "The sell-out at the core's pace with this run's abandons: `workflows_needed / bare_workflows_per_s + abandon_rounds × hold_s` = {:.0} / bare + {} × {} s. `workflows_needed` is every checkout the sale opened (each a workflow: bought, declined, abandoned, canceled), at least the orders needed. A seat whose checkout lapses comes back only when its hold ends; {:.1}% of checkouts lapsed, so the last seats come back in a chain of {} rounds (the largest k with orders needed × share^k ≥ 1), each one hold time.",
                self.workflows_needed,
                self.abandon_rounds,
                self.hold_s,
                self.lapsed_share * 100.0,
                self.abandon_rounds
            ),
        );
        md.push(String::new());
        md.push(format!(
            "### Issued per second over time (bare rate {} in the same run)",
            f(self.bare_workflows_per_s, "/s")
        ));
        md.push(String::new());
        md.push("![issued](charts/issued.svg)".into());
        md.push(String::new());
        md.extend(over_time(issued, self.bare_workflows_per_s));
        md
    }
}

/// Issued orders per second in buckets (10 s, longer for long sales, at most about 40 rows),
/// with the bare rate beside each.
fn over_time(issued: &[(i64, u64)], bare: Option<f64>) -> Vec<String> {
    let Some(last) = issued.iter().rev().find(|(_, n)| *n > 0).map(|p| p.0) else {
        return vec!["Nothing was issued.".into()];
    };
    let span = (last + 1).max(1) as u64;
    let bucket = (span.div_ceil(40)).max(10).div_ceil(10) * 10;
    let mut md = vec![
        format!(
            "| seconds after the opening | issued orders/s ({bucket} s average) | bare workflows/s |"
        ),
        "| --- | ---: | ---: |".into(),
    ];
    let mut from = 0u64;
    while from <= last as u64 {
        let n: u64 = issued
            .iter()
            .filter(|(s, _)| *s >= from as i64 && *s < (from + bucket) as i64)
            .map(|(_, n)| n)
            .sum();
        md.push(format!(
            "| {from}-{} | {:.1} | {} |",
            from + bucket,
            n as f64 / bucket as f64,
            bare.map_or("n/a".into(), |b| format!("{b:.1}"))
        ));
        from += bucket;
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_is_the_densest_five_minutes() {
        // 10/s for 100 s, then 20/s for 400 s, then 1/s.
        let mut s: Vec<(i64, u64)> = (0..100).map(|t| (t, 10)).collect();
        s.extend((100..500).map(|t| (t, 20)));
        s.extend((500..600).map(|t| (t, 1)));
        let (len, from, rate) = busiest(&s, 300).unwrap();
        assert_eq!(len, 300);
        assert!((100..=200).contains(&from), "{from}");
        assert!((rate - 20.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_sale_uses_its_whole_length() {
        let s: Vec<(i64, u64)> = vec![(-3, 0), (0, 0), (1, 30), (2, 30), (3, 0), (4, 0)];
        let (len, from, rate) = busiest(&s, 300).unwrap();
        assert_eq!((len, from), (3, 0));
        assert!((rate - 20.0).abs() < 1e-9);
        assert!(busiest(&[(0, 0)], 300).is_none());
    }

    #[test]
    fn rounds_follow_the_chain_of_lapsed_checkouts() {
        assert_eq!(rounds(20_000.0, 0.1), 4); // 2,000, 200, 20, 2 come back
        assert_eq!(rounds(100.0, 0.1), 2);
        assert_eq!(rounds(2_000.0, 0.0), 0);
        assert_eq!(rounds(5.0, 0.1), 0);
    }

    #[test]
    fn the_ideal_with_abandons_adds_one_hold_per_round() {
        let issued = [(0, 10), (1, 10)];
        let p = Pace::new(&Inputs {
            issued: &issued,
            seats: 1_000,
            sold: 1_000,
            bought: 500,
            checkouts: 625,
            lapsed: 63,
            hold_s: 60,
            bare_per_s: Some(50.0),
            ..Default::default()
        });
        assert!((p.orders_needed - 500.0).abs() < 1e-9);
        assert_eq!(p.abandon_rounds, 2);
        assert!((p.ideal_sell_out_s.unwrap() - 10.0).abs() < 1e-9);
        assert!((p.ideal_with_abandon_s.unwrap() - (625.0 / 50.0 + 120.0)).abs() < 1e-9);
    }
}
