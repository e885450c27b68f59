//! The invariant audit: after a simulated on-sale has settled, reads the three sources of
//! truth independently (seat ownership in the JetStream KV bucket, orders, tickets and
//! payments in PostgreSQL, and the payment provider's own ledger through its API) and checks
//! every invariant of the brief's section 2 against them. Each check prints its counts; any
//! failure makes the run fail.

use std::collections::{BTreeMap, HashMap};

use boxoffice_nats::{EventId, SectionCode, seat::SeatState};
use boxoffice_workflows::{
    domain::OrderState,
    payments::{PaymentProvider, PaymentStatus},
};
use serde::Serialize;

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub name: &'static str,
    /// Whether it held.
    pub ok: bool,
    /// The counts behind it, in words.
    pub detail: String,
}

/// The audit's results.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Seats sold in the seat store.
    pub sold_seats: u64,
    /// Tickets issued and not voided.
    pub tickets: u64,
    /// Captured less refunded at the provider, cents.
    pub net_captured_cents: i64,
    /// Every reconciliation pass of the run, in order.
    pub passes: Vec<Pass>,
}

/// One reconciliation pass, as `reconciliation_runs` recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    /// Seconds after the run's first pass started.
    pub at_s: f64,
    /// `schedule`, or `manual` (on demand).
    pub trigger: String,
    /// `succeeded`, `failed` or `running`.
    pub status: String,
    /// Seats it compared.
    pub checked_seats: i32,
    /// How many findings it repaired.
    pub repairs: i32,
    /// What it repaired, by kind (`kind xN`).
    pub repaired: Vec<String>,
    /// What it reported, by kind.
    pub reported: Vec<String>,
    /// Repairs that touched an order which ended issued (each one a broken promise).
    pub wrong: Vec<String>,
}

impl Audit {
    /// Whether every check held.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// One line: `13/13 checks passed`, or which failed.
    pub fn summary(&self) -> String {
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        let passed = self.checks.len() - failed.len();
        let mut line = format!("{passed}/{} checks passed", self.checks.len());
        if !failed.is_empty() {
            line.push_str(&format!("; failed: {}", failed.join(", ")));
        }
        line
    }
}

/// What the audit reads.
pub struct Sources<'a> {
    /// The run's database.
    pub db: &'a sqlx::PgPool,
    /// The seat store.
    pub seats: &'a boxoffice_nats::SeatStore,
    /// The payment provider's API.
    pub provider: &'a boxoffice_workflows::payments::http::HttpProvider,
    /// The event.
    pub event: EventId,
    /// Its sections.
    pub sections: Vec<SectionCode>,
    /// The per-buyer limit.
    pub max_per_buyer: u32,
    /// Waiting-room entries still waiting, as the queue's replica has them, and the room's
    /// phase.
    pub queue_waiting: u64,
    /// The room's phase (`closed`, `sold_out`, ...).
    pub queue_phase: String,
    /// Buyer visits that ended without an answer from the platform (never admitted, never
    /// told sold out or closed, order never seen ending).
    pub unanswered_visits: u64,
    /// Twin submissions or tabs that were given two different orders or places.
    pub twin_mismatches: u64,
}

fn check(checks: &mut Vec<Check>, name: &'static str, ok: bool, detail: String) {
    checks.push(Check { name, ok, detail });
}

/// Whether an order in `state` (as stored) is done for its buyer: terminal, or issued (a
/// refund may still follow). The order state machine's own rule, not a copy of its list.
pub fn is_done(state: &str) -> bool {
    OrderState::parse(state).is_some_and(|s| s.is_terminal() || s == OrderState::Issued)
}

/// Runs every check.
pub async fn run(src: &Sources<'_>) -> anyhow::Result<Audit> {
    let mut checks = Vec::new();
    let now = src.seats.now();

    // 1. The seat store: who owns what, right now.
    let mut kv_sold: HashMap<String, String> = HashMap::new();
    let (mut live_holds, mut units) = (0u64, 0u64);
    let mut held_by: Vec<String> = Vec::new();
    for section in &src.sections {
        for v in src.seats.list_section(src.event, section).await? {
            units += 1;
            match v.state {
                SeatState::Sold { order, .. } => {
                    kv_sold.insert(v.seat.to_string(), order.to_string());
                }
                SeatState::Held {
                    order, expires_at, ..
                } => {
                    if expires_at > now {
                        live_holds += 1;
                    }
                    held_by.push(order.to_string());
                }
                SeatState::Free => {}
            }
        }
    }

    // 2. PostgreSQL: orders and their tickets.
    let orders = sqlx::query!(
        r#"select order_id::text as "id!", buyer_id::text as "buyer!", state, amount_cents
         from orders where event_id = $1"#,
        src.event.as_uuid(),
    )
    .fetch_all(src.db)
    .await?;
    let mut order_state: HashMap<String, String> = HashMap::new();
    let mut order_buyer: HashMap<String, String> = HashMap::new();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    let mut issued_amount: HashMap<String, i64> = HashMap::new();
    for r in &orders {
        *by_state.entry(r.state.clone()).or_default() += 1;
        if r.state == "issued" {
            issued_amount.insert(r.id.clone(), r.amount_cents);
        }
        order_buyer.insert(r.id.clone(), r.buyer.clone());
        order_state.insert(r.id.clone(), r.state.clone());
    }
    let tickets = sqlx::query!(
        r#"select s.code || ':' || t.label as "seat!", t.order_id::text as "order_id!"
         from tickets t join sections s on s.section_id = t.section_id
         where t.event_id = $1 and t.state = 'issued'"#,
        src.event.as_uuid(),
    )
    .fetch_all(src.db)
    .await?;
    let mut ticket_seats: HashMap<String, Vec<String>> = HashMap::new();
    let mut tickets_per_order: HashMap<String, u64> = HashMap::new();
    for t in &tickets {
        ticket_seats
            .entry(t.seat.clone())
            .or_default()
            .push(t.order_id.clone());
        *tickets_per_order.entry(t.order_id.clone()).or_default() += 1;
    }

    // Invariant 1: a seat sold at most once, and to the order the seat store says.
    let twice: Vec<&String> = ticket_seats
        .iter()
        .filter(|(_, o)| o.len() > 1)
        .map(|(s, _)| s)
        .collect();
    let disagree: Vec<&String> = ticket_seats
        .iter()
        .filter(|(seat, o)| kv_sold.get(*seat) != o.first())
        .map(|(s, _)| s)
        .collect();
    check(
        &mut checks,
        "no seat sold twice",
        twice.is_empty() && disagree.is_empty(),
        format!(
            "{} tickets over {} seats; {} seats with two tickets, {} tickets whose seat the store does not show sold to that order",
            tickets.len(),
            ticket_seats.len(),
            twice.len(),
            disagree.len()
        ),
    );

    // Sold seats = issued tickets.
    let unticketed: Vec<&String> = kv_sold
        .keys()
        .filter(|s| !ticket_seats.contains_key(*s))
        .collect();
    check(
        &mut checks,
        "sold seats = issued tickets",
        kv_sold.len() == tickets.len() && unticketed.is_empty(),
        format!(
            "{} seats sold in the seat store, {} tickets issued, {} sold seats without a ticket",
            kv_sold.len(),
            tickets.len(),
            unticketed.len()
        ),
    );

    // 3. The provider's ledger.
    let mut intents = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, more) = src.provider.list(after.as_deref(), 100).await?;
        after = page.last().map(|p| p.id.clone());
        intents.extend(page);
        if !more || after.is_none() {
            break;
        }
    }
    let ours: Vec<_> = intents
        .iter()
        .filter(|p| order_state.contains_key(&p.order_id))
        .collect();
    let mut net_by_order: HashMap<String, i64> = HashMap::new();
    for p in &ours {
        *net_by_order.entry(p.order_id.clone()).or_default() +=
            p.amount_captured - p.amount_refunded;
    }
    let net: i64 = net_by_order.values().sum();
    let expected: i64 = issued_amount.values().sum();
    // Invariant 2: money only with tickets, tickets only with money.
    let money_no_ticket: Vec<&String> = net_by_order
        .iter()
        .filter(|(o, n)| **n > 0 && tickets_per_order.get(*o).copied().unwrap_or(0) == 0)
        .map(|(o, _)| o)
        .collect();
    let ticket_no_money: Vec<&String> = tickets_per_order
        .keys()
        .filter(|o| net_by_order.get(*o).copied().unwrap_or(0) <= 0)
        .collect();
    check(
        &mut checks,
        "captured payments less refunds = issued orders' amounts",
        net == expected,
        format!(
            "{} provider intents for this event; net captured {net} cents, issued orders total {expected} cents",
            ours.len()
        ),
    );
    check(
        &mut checks,
        "no capture without a ticket",
        money_no_ticket.is_empty(),
        format!(
            "{} orders hold money without a ticket",
            money_no_ticket.len()
        ),
    );
    check(
        &mut checks,
        "no ticket without a capture",
        ticket_no_money.is_empty(),
        format!("{} orders have tickets but no money", ticket_no_money.len()),
    );
    let open_auth = ours
        .iter()
        .filter(|p| p.status == PaymentStatus::Authorized)
        .count();
    check(
        &mut checks,
        "no authorisation left open",
        open_auth == 0,
        format!("{open_auth} intents still authorised and neither captured nor voided"),
    );

    // Invariant 3: every hold ended: no hold is still running, and a lapsed one left in the
    // store (it counts as free) belongs to an order that ended without those seats.
    let held_by_live_order = held_by
        .iter()
        .filter(|o| {
            order_state
                .get(*o)
                .is_none_or(|s| s == "issued" || !is_done(s))
        })
        .count();
    check(
        &mut checks,
        "no seat left held",
        live_holds == 0 && held_by_live_order == 0,
        format!(
            "{units} units in the store; {live_holds} unexpired holds, {held_by_live_order} lapsed holds of an order that has not ended or was issued"
        ),
    );

    // Invariant 4: every order and every queue entry ended with an answer.
    let open_orders: u64 = by_state
        .iter()
        .filter(|(s, _)| !is_done(s))
        .map(|(_, n)| *n)
        .sum();
    check(
        &mut checks,
        "every order in a terminal state",
        open_orders == 0,
        format!(
            "{} orders: {}",
            orders.len(),
            by_state
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    check(
        &mut checks,
        "every queue entry answered",
        src.queue_waiting == 0 && src.unanswered_visits == 0,
        format!(
            "room {}; {} entries still waiting; {} buyer visits ended without an answer",
            src.queue_phase, src.queue_waiting, src.unanswered_visits
        ),
    );

    // Invariant 5: repeated requests had their effect once.
    check(
        &mut checks,
        "repeated requests have one effect",
        src.twin_mismatches == 0,
        format!(
            "{} double-clicks, resubmissions or twin tabs got two different orders or places",
            src.twin_mismatches
        ),
    );

    // Invariant 6: per-buyer limits.
    let mut per_buyer: HashMap<&String, u64> = HashMap::new();
    for (order, n) in &tickets_per_order {
        if let Some(b) = order_buyer.get(order) {
            *per_buyer.entry(b).or_default() += n;
        }
    }
    let over = per_buyer
        .values()
        .filter(|n| **n > u64::from(src.max_per_buyer))
        .count();
    let most = per_buyer.values().copied().max().unwrap_or(0);
    check(
        &mut checks,
        "per-buyer limit held",
        over == 0,
        format!(
            "{} buyers with tickets, the most any holds is {most} (limit {}); {over} over the limit",
            per_buyer.len(),
            src.max_per_buyer
        ),
    );

    // Invariant 2, once more from the order's side: an order is refunded or issued, never both.
    let refunded_and_issued: Vec<&String> = order_state
        .iter()
        .filter(|(o, state)| match state.as_str() {
            "refunded" => {
                tickets_per_order.get(*o).copied().unwrap_or(0) > 0
                    || net_by_order.get(*o).copied().unwrap_or(0) > 0
            }
            "issued" => ours
                .iter()
                .any(|p| &p.order_id == *o && p.amount_refunded > 0),
            _ => false,
        })
        .map(|(o, _)| o)
        .collect();
    check(
        &mut checks,
        "no order both refunded and issued",
        refunded_and_issued.is_empty(),
        format!(
            "{} refunded orders, {} issued; {} with tickets or money of the other",
            by_state.get("refunded").copied().unwrap_or(0),
            by_state.get("issued").copied().unwrap_or(0),
            refunded_and_issued.len()
        ),
    );

    // Invariant 7: the background jobs ran through the sale and repaired nothing live.
    let passes = passes(src.db, &order_state).await?;
    let wrong: usize = passes.iter().map(|p| p.wrong.len()).sum();
    let failed = passes.iter().filter(|p| p.status == "failed").count();
    let by_trigger = |t: &str| passes.iter().filter(|p| p.trigger == t).count();
    let repairs: i64 = passes.iter().map(|p| i64::from(p.repairs)).sum();
    check(
        &mut checks,
        "reconciliation ran and undid no sale",
        !passes.is_empty() && wrong == 0,
        format!(
            "{} passes ({} scheduled, {} on demand, {failed} failed: a dependency was down); {repairs} repairs; {wrong} repairs touched an order that ended issued",
            passes.len(),
            by_trigger("schedule"),
            by_trigger("manual"),
        ),
    );

    Ok(Audit {
        checks,
        passes,
        sold_seats: kv_sold.len() as u64,
        tickets: tickets.len() as u64,
        net_captured_cents: net,
    })
}

/// Kinds of repair that take a seat or money from an order: wrong on an order that ended
/// issued. (`captured_without_ticket` gives an order its tickets, the opposite.)
const TAKING: [&str; 4] = [
    "lapsed_hold",
    "sold_without_payment",
    "captured_without_seat",
    "authorized_without_order",
];

/// Every pass recorded in the run's database, with its repairs judged against the orders'
/// final states.
async fn passes(
    db: &sqlx::PgPool,
    order_state: &HashMap<String, String>,
) -> anyhow::Result<Vec<Pass>> {
    let rows = sqlx::query!(
        r#"select trigger, status, checked_seats, repaired, findings,
                extract(epoch from started_at - min(started_at) over ())::float8 as "at_s!"
         from reconciliation_runs order by started_at"#,
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (mut repaired, mut reported) = (BTreeMap::new(), BTreeMap::new());
        let mut wrong = Vec::new();
        for f in r.findings.as_array().into_iter().flatten() {
            let kind = f["kind"].as_str().unwrap_or("unknown").to_owned();
            if f["repaired"].as_bool() == Some(true) {
                *repaired.entry(kind.clone()).or_insert(0u32) += 1;
                let order = f["order"].as_str().unwrap_or_default();
                if TAKING.contains(&kind.as_str())
                    && order_state.get(order).is_some_and(|s| s == "issued")
                {
                    wrong.push(format!("{kind} on issued order {order}: {}", f["detail"]));
                }
            } else {
                *reported.entry(kind).or_insert(0u32) += 1;
            }
        }
        let list =
            |m: BTreeMap<String, u32>| m.into_iter().map(|(k, n)| format!("{k} x{n}")).collect();
        out.push(Pass {
            at_s: r.at_s,
            trigger: r.trigger,
            status: r.status,
            checked_seats: r.checked_seats,
            repairs: r.repaired,
            repaired: list(repaired),
            reported: list(reported),
            wrong,
        });
    }
    Ok(out)
}
