//! Reconciliation: seat ownership in NATS KV, orders and tickets in PostgreSQL, and the payment
//! provider's own ledger, compared; what can be repaired safely is repaired, the rest reported.
//!
//! Each repair is the same idempotent call the order workflow makes (a release or refund by
//! revision, a ticket insert on its natural key, a provider call with a fixed idempotency key),
//! so a second run finds nothing left to repair, and a repair can never race a live order into
//! a wrong state: orders a workflow is still driving (`held`, `awaiting_payment`, `authorized`,
//! and `confirmed` younger than the grace period) are left alone.

pub mod workflow;

use std::collections::{HashMap, HashSet};

use boxoffice_nats::{
    EventId, OrderId, SeatError, SeatId, SeatStore, SectionCode, UnitLabel,
    seat::{OrderRef, SeatState},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::{
    domain::OrderState,
    order::TicketSigner,
    payments::{PaymentIntent, PaymentProvider, PaymentStatus, http::HttpProvider},
    store::{self, StoreError},
};

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A lapsed hold whose order is not live: released.
    LapsedHold,
    /// A seat sold to an order that is closed and paid nothing: freed.
    SoldWithoutPayment,
    /// A seat sold to a closed order that did pay: reported.
    SoldToClosedOrder,
    /// A confirmed, captured order without tickets past the grace period: tickets issued.
    CapturedWithoutTicket,
    /// Money captured for an order that owns no sold seat: refunded.
    CapturedWithoutSeat,
    /// An authorisation for an order that is closed or unknown: voided.
    AuthorizedWithoutOrder,
    /// Issued tickets without a captured payment: reported.
    TicketWithoutCapture,
    /// An issued order whose seats are not all sold to it in the seat store: reported.
    IssuedWithoutSeat,
}

/// One discrepancy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What.
    pub kind: FindingKind,
    /// The order, if one is involved.
    pub order: Option<OrderId>,
    /// The seat, if one is involved.
    pub seat: Option<SeatId>,
    /// The provider's payment id, if one is involved.
    pub payment: Option<String>,
    /// Whether this run repaired it.
    pub repaired: bool,
    /// For humans.
    pub detail: String,
}

/// One run's result, as stored in `reconciliation_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The run.
    pub run_id: Uuid,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// Seats compared.
    pub checked_seats: u64,
    /// Findings repaired by this run.
    pub repaired: u32,
    /// Findings left for a human.
    pub unresolved: u32,
    /// Every finding.
    pub findings: Vec<Finding>,
}

/// A reconciliation failed to complete (a dependency was unavailable); retry it.
#[derive(Debug, thiserror::Error)]
#[error("reconciliation could not complete: {0}")]
pub struct ReconcileError(String);

fn fail(e: impl std::fmt::Display) -> ReconcileError {
    ReconcileError(e.to_string())
}

/// What the reconciler reaches.
pub struct Reconciler {
    /// Seat ownership.
    pub seats: SeatStore,
    /// Orders, payments, tickets.
    pub db: PgPool,
    /// The provider.
    pub payments: HttpProvider,
    /// Its name in `payments.provider`.
    pub provider_name: String,
    /// For tickets it issues.
    pub tickets: TicketSigner,
    /// Orders a workflow may still be finishing are left alone for this long (ms).
    pub grace_ms: i64,
}

struct OrderRow {
    event: EventId,
    buyer: boxoffice_nats::BuyerId,
    state: OrderState,
    age_ms: i64,
    seats: Vec<SeatId>,
}

impl Reconciler {
    /// One full pass, recorded in `reconciliation_runs`.
    pub async fn run(&self, trigger: &str) -> Result<Report, ReconcileError> {
        let run_id = Uuid::now_v7();
        sqlx::query(
            "insert into reconciliation_runs (run_id, trigger, status) values ($1, $2, 'running')",
        )
        .bind(run_id)
        .bind(trigger)
        .execute(&self.db)
        .await
        .map_err(fail)?;
        let outcome = self.pass().await;
        let (status, report, error) = match &outcome {
            Ok((checked, findings)) => {
                let repaired = findings.iter().filter(|f| f.repaired).count() as u32;
                let report = Report {
                    run_id,
                    trigger: trigger.to_owned(),
                    checked_seats: *checked,
                    repaired,
                    unresolved: findings.len() as u32 - repaired,
                    findings: findings.clone(),
                };
                ("succeeded", Some(report), None)
            }
            Err(e) => ("failed", None, Some(e.to_string())),
        };
        let (checked, repaired, unresolved, findings) =
            report
                .as_ref()
                .map_or((0, 0, 0, serde_json::json!([])), |r| {
                    (
                        r.checked_seats as i32,
                        r.repaired as i32,
                        r.unresolved as i32,
                        serde_json::to_value(&r.findings).unwrap_or_default(),
                    )
                });
        sqlx::query(
            "update reconciliation_runs set status = $2, finished_at = now(), checked_seats = $3,
                    repaired = $4, unresolved = $5, findings = $6, error = $7
             where run_id = $1",
        )
        .bind(run_id)
        .bind(status)
        .bind(checked)
        .bind(repaired)
        .bind(unresolved)
        .bind(findings)
        .bind(error)
        .execute(&self.db)
        .await
        .map_err(fail)?;
        if let Some(r) = &report {
            for f in &r.findings {
                let kind = serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                metrics::counter!("boxoffice_reconcile_findings_total", "kind" => kind, "repaired" => f.repaired.to_string())
                    .increment(1);
            }
            metrics::counter!("boxoffice_reconcile_runs_total", "status" => "succeeded")
                .increment(1);
        } else {
            metrics::counter!("boxoffice_reconcile_runs_total", "status" => "failed").increment(1);
        }
        outcome?;
        report.ok_or_else(|| ReconcileError("no report".into()))
    }

    async fn pass(&self) -> Result<(u64, Vec<Finding>), ReconcileError> {
        let now = self.seats.now();
        let orders = self.orders().await?;
        let tickets = self.ticket_counts().await?;
        let intents = self.intents().await?;
        let mut by_order: HashMap<String, Vec<&PaymentIntent>> = HashMap::new();
        for i in &intents {
            by_order.entry(i.order_id.clone()).or_default().push(i);
        }
        let captured = |o: &OrderId| {
            by_order
                .get(&o.to_string())
                .is_some_and(|v| v.iter().any(|i| i.amount_captured - i.amount_refunded > 0))
        };
        let mut findings = Vec::new();
        let mut checked = 0u64;
        let mut sold_to: HashMap<OrderId, HashSet<SeatId>> = HashMap::new();

        // 1. The seat store, event by event.
        let events: Vec<Uuid> = sqlx::query_scalar("select event_id from events")
            .fetch_all(&self.db)
            .await
            .map_err(fail)?;
        for event in events.into_iter().map(EventId::from) {
            let meta = match self.seats.event_meta(event).await {
                Ok(m) => m,
                Err(SeatError::UnknownEvent(_)) => continue,
                Err(e) => return Err(fail(e)),
            };
            for section in meta.sections.keys() {
                for view in self
                    .seats
                    .list_section(event, section)
                    .await
                    .map_err(fail)?
                {
                    checked += 1;
                    match view.state {
                        SeatState::Held {
                            order,
                            buyer,
                            expires_at,
                        } if expires_at + self.grace_ms <= now => {
                            let live = orders.get(&order).is_some_and(|o| o.state.is_on_hold());
                            if !live {
                                let who = OrderRef {
                                    event,
                                    order,
                                    buyer,
                                };
                                self.seats
                                    .release(&who, std::slice::from_ref(&view.seat))
                                    .await
                                    .map_err(fail)?;
                                findings.push(Finding {
                                    kind: FindingKind::LapsedHold,
                                    order: Some(order),
                                    seat: Some(view.seat.clone()),
                                    payment: None,
                                    repaired: true,
                                    detail: "lapsed hold with no live order released".into(),
                                });
                            }
                        }
                        SeatState::Sold { order, buyer } => {
                            let state = orders.get(&order).map(|o| o.state);
                            match state {
                                Some(
                                    OrderState::Confirmed
                                    | OrderState::Issued
                                    | OrderState::Authorized,
                                ) => {
                                    sold_to.entry(order).or_default().insert(view.seat.clone());
                                }
                                _ if !captured(&order) => {
                                    let who = OrderRef {
                                        event,
                                        order,
                                        buyer,
                                    };
                                    self.seats
                                        .refund(&who, std::slice::from_ref(&view.seat))
                                        .await
                                        .map_err(fail)?;
                                    findings.push(Finding {
                                        kind: FindingKind::SoldWithoutPayment,
                                        order: Some(order),
                                        seat: Some(view.seat.clone()),
                                        payment: None,
                                        repaired: true,
                                        detail: format!(
                                            "sold to an order in {state:?} that paid nothing: freed"
                                        ),
                                    });
                                }
                                _ => {
                                    sold_to.entry(order).or_default().insert(view.seat.clone());
                                    findings.push(Finding {
                                        kind: FindingKind::SoldToClosedOrder,
                                        order: Some(order),
                                        seat: Some(view.seat.clone()),
                                        payment: None,
                                        repaired: false,
                                        detail: format!("sold to an order in {state:?} that holds captured money"),
                                    });
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }

        // 2. Orders and tickets against seats and money.
        for (id, o) in &orders {
            let has_tickets = tickets.get(id).copied().unwrap_or(0) > 0;
            if o.state == OrderState::Confirmed
                && o.age_ms > self.grace_ms
                && !has_tickets
                && captured(id)
            {
                let who = OrderRef {
                    event: o.event,
                    order: *id,
                    buyer: o.buyer,
                };
                let signer = self.tickets.clone();
                let event = o.event;
                store::issue_tickets(&self.db, &who, &o.seats, |s| signer.issue(event, s))
                    .await
                    .map_err(fail)?;
                store::transition(
                    &self.db,
                    id.as_uuid(),
                    OrderState::Confirmed,
                    OrderState::Issued,
                    None,
                    serde_json::json!({"by": "reconciler"}),
                )
                .await
                .map_err(fail)?;
                findings.push(Finding {
                    kind: FindingKind::CapturedWithoutTicket,
                    order: Some(*id),
                    seat: None,
                    payment: None,
                    repaired: true,
                    detail: format!("{} ticket(s) issued", o.seats.len()),
                });
            }
            if has_tickets && !captured(id) {
                findings.push(Finding {
                    kind: FindingKind::TicketWithoutCapture,
                    order: Some(*id),
                    seat: None,
                    payment: None,
                    repaired: false,
                    detail: format!(
                        "order in {} has issued tickets but no captured payment",
                        o.state
                    ),
                });
            }
            if o.state == OrderState::Issued {
                let sold = sold_to.get(id).map_or(0, |s| s.len());
                if sold != o.seats.len() {
                    findings.push(Finding {
                        kind: FindingKind::IssuedWithoutSeat,
                        order: Some(*id),
                        seat: None,
                        payment: None,
                        repaired: false,
                        detail: format!(
                            "{} of {} seats sold to it in the seat store",
                            sold,
                            o.seats.len()
                        ),
                    });
                }
            }
        }

        // 3. The provider's ledger against orders and seats.
        for intent in &intents {
            let order = intent.order_id.parse::<OrderId>().ok();
            let row = order.and_then(|o| orders.get(&o));
            let open = row.is_some_and(|r| {
                r.state.is_on_hold()
                    || r.state == OrderState::Confirmed && r.age_ms <= self.grace_ms
            });
            let owns_seats = order.is_some_and(|o| sold_to.contains_key(&o));
            let net = intent.amount_captured - intent.amount_refunded;
            if net > 0 && !owns_seats && !open {
                let refunded = self
                    .payments
                    .refund(&format!("reconcile:{}:refund", intent.id), &intent.id)
                    .await
                    .map_err(fail)?;
                self.record(order, &intent.id).await?;
                findings.push(Finding {
                    kind: FindingKind::CapturedWithoutSeat,
                    order,
                    seat: None,
                    payment: Some(intent.id.clone()),
                    repaired: true,
                    detail: format!("{refunded} refunded: captured money with no seat"),
                });
            }
            if intent.status == PaymentStatus::Authorized && !open {
                self.payments
                    .cancel(&format!("reconcile:{}:void", intent.id), &intent.id)
                    .await
                    .map_err(fail)?;
                self.record(order, &intent.id).await?;
                findings.push(Finding {
                    kind: FindingKind::AuthorizedWithoutOrder,
                    order,
                    seat: None,
                    payment: Some(intent.id.clone()),
                    repaired: true,
                    detail: "authorisation for a closed or unknown order voided".into(),
                });
            }
        }
        Ok((checked, findings))
    }

    /// Keeps the payments table in step with a repair (when the order is ours).
    async fn record(&self, order: Option<OrderId>, intent: &str) -> Result<(), ReconcileError> {
        let Some(order) = order else { return Ok(()) };
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from orders where order_id = $1)")
                .bind(order.as_uuid())
                .fetch_one(&self.db)
                .await
                .map_err(fail)?;
        if exists {
            let now = self.payments.retrieve(intent).await.map_err(fail)?;
            store::record_payment(&self.db, &self.provider_name, order.as_uuid(), &now)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    async fn orders(&self) -> Result<HashMap<OrderId, OrderRow>, ReconcileError> {
        let rows = sqlx::query(
            "select o.order_id, o.event_id, o.buyer_id, o.state,
                    (extract(epoch from now() - o.updated_at) * 1000)::bigint as age_ms,
                    coalesce(array_agg(s.code) filter (where os.label is not null), '{}') as codes,
                    coalesce(array_agg(os.label) filter (where os.label is not null), '{}') as labels
             from orders o
             left join order_seats os on os.order_id = o.order_id
             left join sections s on s.section_id = os.section_id
             group by o.order_id",
        )
        .fetch_all(&self.db)
        .await
        .map_err(fail)?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let state: String = r.get("state");
            let codes: Vec<String> = r.get("codes");
            let labels: Vec<String> = r.get("labels");
            let seats = codes
                .into_iter()
                .zip(labels)
                .map(|(c, l)| Ok(SeatId::new(SectionCode::parse(c)?, UnitLabel::parse(l)?)))
                .collect::<Result<Vec<_>, boxoffice_nats::IdError>>()
                .map_err(fail)?;
            out.insert(
                OrderId::from(r.get::<Uuid, _>("order_id")),
                OrderRow {
                    event: EventId::from(r.get::<Uuid, _>("event_id")),
                    buyer: boxoffice_nats::BuyerId::from(r.get::<Uuid, _>("buyer_id")),
                    state: OrderState::parse(&state)
                        .ok_or_else(|| fail(format!("state {state}")))?,
                    age_ms: r.get("age_ms"),
                    seats,
                },
            );
        }
        Ok(out)
    }

    async fn ticket_counts(&self) -> Result<HashMap<OrderId, i64>, ReconcileError> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "select order_id, count(*) from tickets where state = 'issued' group by order_id",
        )
        .fetch_all(&self.db)
        .await
        .map_err(|e| fail(StoreError::Unavailable(e)))?;
        Ok(rows
            .into_iter()
            .map(|(o, n)| (OrderId::from(o), n))
            .collect())
    }

    async fn intents(&self) -> Result<Vec<PaymentIntent>, ReconcileError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, more) = self
                .payments
                .list(after.as_deref(), 100)
                .await
                .map_err(fail)?;
            after = page.last().map(|i| i.id.clone());
            all.extend(page);
            if !more || after.is_none() {
                return Ok(all);
            }
        }
    }
}
