//! The pass: candidates from the snapshots, then one rule per kind of drift, each deciding on
//! fresh facts and repairing by a conditional write (the table in `docs/ARCHITECTURE.md`).

use std::collections::{HashMap, HashSet};

use boxoffice_nats::{
    BuyerId, EventId, OrderId, SeatError, SeatId,
    seat::{AllowanceCheck, Freed, OrderRef, SeatState, SeatView, UnixMillis},
};

use super::{
    Checkpoint, Finding, FindingKind, ReconcileError, Reconciler,
    facts::{OrderFacts, Snapshot, net},
    fail,
};
use crate::{
    domain::OrderState,
    payments::PaymentStatus,
    store::{self, Repaired},
};

/// Orders that ended this recently have their buyer's allowance checked.
const ALLOWANCE_WINDOW_MS: i64 = 10 * 60 * 1000;
/// At most this many allowances are checked in one pass.
const ALLOWANCE_CHECKS: usize = 200;

/// One thing the snapshots and the seat walk picked out for a fresh look.
#[derive(Debug, Clone)]
enum Candidate {
    Lapsed(EventId, SeatId),
    /// Held, not lapsed, by an order that has ended.
    EndedHold(EventId, SeatId),
    Sold(EventId, SeatId),
    Unissued(OrderId),
    TicketedUnpaid(OrderId),
    IssuedUnsold(OrderId),
    Stalled(OrderId),
    /// An intent with money kept, and the order it names (if it parses).
    Captured(String, Option<OrderId>),
    /// An authorised intent, and the order it names.
    Authorized(String, Option<OrderId>),
    /// A buyer with an order that ended lately: their allowance is checked against the seats.
    Allowance(EventId, BuyerId),
}

impl Candidate {
    /// The finding it becomes when it cannot be settled (its kind, and what it is about).
    fn unsettled(&self) -> Finding {
        use Candidate::*;
        use FindingKind as K;
        let blank = |kind| finding(kind, false, "");
        match self {
            Lapsed(_, seat) => blank(K::LapsedHold).seat(seat),
            EndedHold(_, seat) => blank(K::EndedOrderHold).seat(seat),
            Sold(_, seat) => blank(K::SoldWithoutPayment).seat(seat),
            Unissued(o) => blank(K::CapturedWithoutTicket).order(*o),
            TicketedUnpaid(o) => blank(K::TicketWithoutCapture).order(*o),
            IssuedUnsold(o) => blank(K::IssuedWithoutSeat).order(*o),
            Stalled(o) => blank(K::StalledOrder).order(*o),
            Captured(id, order) => Finding {
                order: *order,
                ..blank(K::CapturedWithoutSeat).payment(id)
            },
            Authorized(id, order) => Finding {
                order: *order,
                ..blank(K::AuthorizedWithoutOrder).payment(id)
            },
            Allowance(_, buyer) => finding(K::AllowanceDrift, false, format!("buyer {buyer}: ")),
        }
    }
}

/// A rule's verdict on one candidate: nothing to do (the facts moved on, or are fine), or a
/// finding (repaired or reported).
pub(super) type Verdict = Result<Option<Finding>, ReconcileError>;

pub(super) fn finding(kind: FindingKind, repaired: bool, detail: impl Into<String>) -> Finding {
    Finding {
        kind,
        order: None,
        seat: None,
        payment: None,
        repaired,
        detail: detail.into(),
    }
}

impl Finding {
    pub(super) fn order(mut self, o: OrderId) -> Self {
        self.order = Some(o);
        self
    }
    pub(super) fn seat(mut self, s: &SeatId) -> Self {
        self.seat = Some(s.clone());
        self
    }
    pub(super) fn payment(mut self, p: &str) -> Self {
        self.payment = Some(p.to_owned());
        self
    }
}

impl Reconciler {
    /// One pass: every candidate looked at, each repaired or reported on its own.
    pub(super) async fn pass(&self) -> Result<(u64, Vec<Finding>), ReconcileError> {
        let snap = self.snapshot().await?;
        self.at(Checkpoint::Listed).await;
        let (checked, cands) = self.candidates(&snap).await?;
        self.at(Checkpoint::Walked).await;

        let mut findings = Vec::new();
        for c in &cands {
            match self.settle(c, &snap).await {
                Ok(Some(f)) => findings.push(f),
                Ok(None) => {}
                Err(e) => {
                    let unsettled = c.unsettled();
                    tracing::warn!(kind = unsettled.kind.as_str(), error = %e,
                        "reconciliation could not settle a candidate");
                    findings.push(Finding {
                        detail: format!(
                            "{}could not be checked or repaired: {e}",
                            unsettled.detail
                        ),
                        ..unsettled
                    });
                }
            }
        }
        Ok((checked, findings))
    }

    /// Looks at one candidate afresh and repairs or reports it.
    async fn settle(&self, c: &Candidate, snap: &Snapshot) -> Verdict {
        match c {
            Candidate::Lapsed(event, seat) => self.lapsed_hold(*event, seat).await,
            Candidate::EndedHold(event, seat) => self.ended_order_hold(*event, seat).await,
            Candidate::Sold(event, seat) => self.sold_seat(*event, seat, snap).await,
            Candidate::Unissued(o) => self.unissued(*o, &snap.named(*o)).await,
            Candidate::TicketedUnpaid(o) => self.ticketed_unpaid(*o, &snap.named(*o)).await,
            Candidate::IssuedUnsold(o) => self.issued_unsold(*o).await,
            Candidate::Stalled(o) => self.stalled(*o).await,
            Candidate::Captured(id, o) => self.stray_capture(id, *o).await,
            Candidate::Authorized(id, o) => self.stray_authorization(id, *o).await,
            Candidate::Allowance(event, buyer) => self.allowance(*event, *buyer).await,
        }
    }

    /// Picks candidates: the snapshots say where the seat store, the orders and the ledger
    /// may disagree. Nothing is decided here.
    async fn candidates(&self, snap: &Snapshot) -> Result<(u64, Vec<Candidate>), ReconcileError> {
        let now = self.seats.now();
        // Seats first, then orders, then the provider's ledger, then allowances.
        let (mut seats, mut orders, mut money) = (Vec::new(), Vec::new(), Vec::new());
        let mut checked = 0u64;
        // Seats the walk found sold to each paid order (each seat is seen once).
        let mut sold_to: HashMap<OrderId, usize> = HashMap::new();
        let paid_states = |o: &OrderId| {
            snap.orders.get(o).is_some_and(|f| {
                matches!(
                    f.state,
                    OrderState::Authorized | OrderState::Confirmed | OrderState::Issued
                )
            })
        };
        let events = sqlx::query_scalar!("select event_id from events")
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
                        SeatState::Held { expires_at, .. } if expires_at + self.grace_ms <= now => {
                            seats.push(Candidate::Lapsed(event, view.seat));
                        }
                        SeatState::Held { order, .. }
                            if snap.orders.get(&order).is_some_and(|o| {
                                o.state.is_terminal() && o.age_ms > self.grace_ms
                            }) =>
                        {
                            seats.push(Candidate::EndedHold(event, view.seat));
                        }
                        SeatState::Sold { order, .. } if paid_states(&order) => {
                            *sold_to.entry(order).or_default() += 1;
                        }
                        SeatState::Sold { .. } => seats.push(Candidate::Sold(event, view.seat)),
                        _ => {}
                    }
                }
            }
        }
        for (id, o) in &snap.orders {
            let tickets = snap.tickets.get(id).copied().unwrap_or(0);
            if o.state == OrderState::Confirmed && o.age_ms > self.grace_ms && tickets == 0 {
                orders.push(Candidate::Unissued(*id));
            }
            if tickets > 0 && snap.captured(*id) <= 0 {
                orders.push(Candidate::TicketedUnpaid(*id));
            }
            if o.state == OrderState::Issued
                && sold_to.get(id).copied().unwrap_or(0) != o.seats.len()
            {
                orders.push(Candidate::IssuedUnsold(*id));
            }
            if o.state.is_on_hold() && o.hold_expires_at.is_some_and(|at| at + self.grace_ms < now)
            {
                orders.push(Candidate::Stalled(*id));
            }
        }
        // Allowances: the buyers of orders that ended lately (where a give-back may have been
        // cut short), the most recent first, at most ALLOWANCE_CHECKS a pass.
        let mut ended: Vec<(i64, EventId, BuyerId)> = snap
            .orders
            .values()
            .filter(|o| o.state.is_terminal() && o.age_ms < ALLOWANCE_WINDOW_MS)
            .map(|o| (o.age_ms, o.who.event, o.who.buyer))
            .collect();
        ended.sort();
        let mut seen = HashSet::new();
        let allowances: Vec<Candidate> = ended
            .into_iter()
            .filter(|(_, e, b)| seen.insert((*e, *b)))
            .take(ALLOWANCE_CHECKS)
            .map(|(_, e, b)| Candidate::Allowance(e, b))
            .collect();
        for i in &snap.intents {
            let order = i.order_id.parse::<OrderId>().ok();
            let state = order.and_then(|o| snap.orders.get(&o)).map(|f| f.state);
            if i.amount_captured - i.amount_refunded > 0 && !order.is_some_and(|o| paid_states(&o))
            {
                money.push(Candidate::Captured(i.id.clone(), order));
            }
            if i.status == PaymentStatus::Authorized && !state.is_some_and(OrderState::is_on_hold) {
                money.push(Candidate::Authorized(i.id.clone(), order));
            }
        }
        seats.extend(orders);
        seats.extend(money);
        seats.extend(allowances);
        Ok((checked, seats))
    }

    /// A hold that lapsed more than the grace period ago: freed at the revision read, unless a
    /// running workflow still has the order on hold (its own timer releases it).
    async fn lapsed_hold(&self, event: EventId, seat: &SeatId) -> Verdict {
        let kind = FindingKind::LapsedHold;
        self.at(Checkpoint::Candidate(kind)).await;
        let Some((view, who, expires_at)) = self.held_now(event, seat).await? else {
            return Ok(None);
        };
        if expires_at + self.grace_ms > self.seats.now() {
            return Ok(None);
        }
        let on_hold = self
            .order_now(who.order)
            .await?
            .is_some_and(|o| o.state.is_on_hold());
        if on_hold && self.driven(who.order).await? {
            return Ok(None);
        }
        self.release_held(kind, &who, &view, "lapsed hold with no live order released")
            .await
    }

    /// A live hold of an order that has ended: freed at the revision read, once fresh facts
    /// say the order is terminal (terminal states are final, so no workflow will ever sell or
    /// release this seat for it).
    async fn ended_order_hold(&self, event: EventId, seat: &SeatId) -> Verdict {
        let kind = FindingKind::EndedOrderHold;
        self.at(Checkpoint::Candidate(kind)).await;
        let Some((view, who, _)) = self.held_now(event, seat).await? else {
            return Ok(None);
        };
        let ended = self
            .order_now(who.order)
            .await?
            .is_some_and(|o| o.state.is_terminal());
        if !ended {
            return Ok(None);
        }
        self.release_held(kind, &who, &view, "hold of an ended order released")
            .await
    }

    /// The seat as it is now, if it is held: its view, the holding order, and the hold's end.
    async fn held_now(
        &self,
        event: EventId,
        seat: &SeatId,
    ) -> Result<Option<(SeatView, OrderRef, UnixMillis)>, ReconcileError> {
        let Some(view) = self.seats.seat(event, seat).await.map_err(fail)? else {
            return Ok(None);
        };
        let SeatState::Held {
            order,
            buyer,
            expires_at,
        } = view.state.clone()
        else {
            return Ok(None);
        };
        let who = OrderRef {
            event,
            order,
            buyer,
        };
        Ok(Some((view, who, expires_at)))
    }

    /// Frees a held seat at the revision it was read (`view`), found as `kind`.
    async fn release_held(
        &self,
        kind: FindingKind,
        who: &OrderRef,
        view: &SeatView,
        what: &str,
    ) -> Verdict {
        self.at(Checkpoint::Decided(kind)).await;
        Ok(self
            .free(who, view)
            .await?
            .then(|| finding(kind, true, what).order(who.order).seat(&view.seat)))
    }

    /// A seat sold to an order that is not (or no longer) in a paid state. Freed only when the
    /// order has ended (terminal states are final), no workflow runs for it, and the provider
    /// shows no money kept for it; reported when money is kept.
    async fn sold_seat(&self, event: EventId, seat: &SeatId, snap: &Snapshot) -> Verdict {
        let kind = FindingKind::SoldWithoutPayment;
        self.at(Checkpoint::Candidate(kind)).await;
        let Some(view) = self.seats.seat(event, seat).await.map_err(fail)? else {
            return Ok(None);
        };
        let SeatState::Sold { order, buyer } = view.state.clone() else {
            return Ok(None);
        };
        let Some(facts) = self.order_now(order).await? else {
            return Ok(Some(
                finding(
                    FindingKind::SoldToClosedOrder,
                    false,
                    "sold to an order PostgreSQL does not know",
                )
                .order(order)
                .seat(seat),
            ));
        };
        if !facts.state.is_terminal() || self.driven(order).await? {
            return Ok(None);
        }
        let kept = net(&self.payments_now(order, &snap.named(order)).await?);
        if kept > 0 {
            return Ok(Some(
                finding(
                    FindingKind::SoldToClosedOrder,
                    false,
                    format!(
                        "sold to an order in {} that keeps {kept} captured",
                        facts.state
                    ),
                )
                .order(order)
                .seat(seat),
            ));
        }
        self.at(Checkpoint::Decided(kind)).await;
        let who = OrderRef {
            event,
            order,
            buyer,
        };
        Ok(self.free(&who, &view).await?.then(|| {
            finding(
                kind,
                true,
                format!(
                    "sold to an order in {} that paid nothing: freed",
                    facts.state
                ),
            )
            .order(order)
            .seat(seat)
        }))
    }

    /// A confirmed order without tickets, long after it moved, that no workflow drives: its
    /// tickets are issued if it still is `confirmed` at the version read, has its money and
    /// owns every seat.
    async fn unissued(&self, order: OrderId, listed: &[String]) -> Verdict {
        let kind = FindingKind::CapturedWithoutTicket;
        let Some(facts) = self.look(kind, order).await? else {
            return Ok(None);
        };
        if facts.state != OrderState::Confirmed
            || facts.age_ms <= self.grace_ms
            || self.tickets_now(order).await? > 0
            || self.driven(order).await?
        {
            return Ok(None);
        }
        let kept = net(&self.payments_now(order, listed).await?);
        if kept <= 0 {
            return Ok(Some(
                finding(
                    kind,
                    false,
                    "confirmed, but the provider shows nothing captured",
                )
                .order(order),
            ));
        }
        let sold = self.sold_to(&facts).await?;
        if sold != facts.seats.len() {
            return Ok(Some(
                finding(
                    kind,
                    false,
                    format!(
                        "paid, but {sold} of {} seats are sold to it: no tickets issued",
                        facts.seats.len()
                    ),
                )
                .order(order),
            ));
        }
        self.at(Checkpoint::Decided(kind)).await;
        let signer = self.tickets.clone();
        let event = facts.who.event;
        let issued = store::issue_confirmed(
            &self.db,
            &facts.who,
            facts.version,
            &facts.seats,
            |s| signer.issue(event, s),
            serde_json::json!({"by": "reconciler"}),
        )
        .await
        .map_err(fail)?;
        Ok(match issued {
            Repaired::Applied(t) => {
                Some(finding(kind, true, format!("{} ticket(s) issued", t.len())).order(order))
            }
            Repaired::Moved => None,
        })
    }

    /// Issued tickets and no money kept: reported (never repaired by guessing).
    async fn ticketed_unpaid(&self, order: OrderId, listed: &[String]) -> Verdict {
        let kind = FindingKind::TicketWithoutCapture;
        let Some(facts) = self.look(kind, order).await? else {
            return Ok(None);
        };
        if self.tickets_now(order).await? == 0 || net(&self.payments_now(order, listed).await?) > 0
        {
            return Ok(None);
        }
        Ok(Some(
            finding(
                kind,
                false,
                format!(
                    "order in {} has issued tickets but no captured payment",
                    facts.state
                ),
            )
            .order(order),
        ))
    }

    /// An issued order whose seats are not all sold to it: reported.
    async fn issued_unsold(&self, order: OrderId) -> Verdict {
        let kind = FindingKind::IssuedWithoutSeat;
        let Some(facts) = self.look(kind, order).await? else {
            return Ok(None);
        };
        if facts.state != OrderState::Issued {
            return Ok(None);
        }
        let sold = self.sold_to(&facts).await?;
        if sold == facts.seats.len() {
            return Ok(None);
        }
        Ok(Some(
            finding(
                kind,
                false,
                format!(
                    "{sold} of {} seats sold to it in the seat store",
                    facts.seats.len()
                ),
            )
            .order(order),
        ))
    }

    /// An order on hold long after its hold lapsed that no workflow drives: reported (its
    /// hold frees itself; its money, if any, is found by the payment rules once it ends).
    async fn stalled(&self, order: OrderId) -> Verdict {
        let kind = FindingKind::StalledOrder;
        let Some(facts) = self.look(kind, order).await? else {
            return Ok(None);
        };
        let lapsed = facts
            .hold_expires_at
            .is_some_and(|at| at + self.grace_ms < self.seats.now());
        if !facts.state.is_on_hold() || !lapsed || self.driven(order).await? {
            return Ok(None);
        }
        Ok(Some(
            finding(
                kind,
                false,
                format!(
                    "{} with its hold lapsed and no workflow driving it",
                    facts.state
                ),
            )
            .order(order),
        ))
    }

    /// A buyer's allowance against the seats: read fresh, and corrected only if the ledger is
    /// still at the revision read (the seat store's check).
    async fn allowance(&self, event: EventId, buyer: BuyerId) -> Verdict {
        let kind = FindingKind::AllowanceDrift;
        self.at(Checkpoint::Candidate(kind)).await;
        let found = self
            .seats
            .inspect_allowance(event, buyer)
            .await
            .map_err(fail)?;
        if found.agrees() {
            return Ok(None);
        }
        self.at(Checkpoint::Decided(kind)).await;
        Ok(
            match self.seats.repair_allowance(found).await.map_err(fail)? {
                AllowanceCheck::Repaired(f) => Some(finding(
                    kind,
                    true,
                    format!(
                        "buyer {buyer}: the ledger counted {} ticket(s), the seats show {}: corrected",
                        f.counted, f.owned
                    ),
                )),
                AllowanceCheck::Agrees(_) | AllowanceCheck::Moved(_) => None,
            },
        )
    }

    /// Steps in at the candidate's checkpoint, then reads its order fresh.
    async fn look(
        &self,
        kind: FindingKind,
        order: OrderId,
    ) -> Result<Option<OrderFacts>, ReconcileError> {
        self.at(Checkpoint::Candidate(kind)).await;
        self.order_now(order).await
    }

    /// Frees a seat at the revision it was read at. `false`: it moved, nothing was written.
    async fn free(&self, who: &OrderRef, view: &SeatView) -> Result<bool, ReconcileError> {
        Ok(self
            .seats
            .free_if_unchanged(who, view)
            .await
            .map_err(fail)?
            == Freed::Freed)
    }
}
