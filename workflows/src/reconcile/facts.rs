//! What the reconciler reads: the pass's snapshots (to choose candidates) and the fresh facts
//! of one order (to decide on one).

use std::{collections::HashMap, time::Duration};

use boxoffice_nats::{
    BuyerId, EventId, OrderId, SeatId, SectionCode, UnitLabel,
    seat::{OrderRef, SeatState, UnixMillis},
};

use super::{ReconcileError, Reconciler, fail};
use crate::{
    domain::OrderState,
    order::OrderClient,
    payments::{PaymentIntent, PaymentProvider},
};

/// How long asking Temporal about one workflow may take before the candidate is reported as
/// unchecked.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// An order as PostgreSQL has it.
#[derive(Debug, Clone)]
pub(super) struct OrderFacts {
    pub who: OrderRef,
    pub state: OrderState,
    /// Bumped on every state change; a repair is conditional on it.
    pub version: i64,
    /// Milliseconds since it last changed.
    pub age_ms: i64,
    /// When its hold lapses (on-hold states only).
    pub hold_expires_at: Option<UnixMillis>,
    pub seats: Vec<SeatId>,
}

/// The pass's snapshots.
pub(super) struct Snapshot {
    pub orders: HashMap<OrderId, OrderFacts>,
    pub tickets: HashMap<OrderId, i64>,
    pub intents: Vec<PaymentIntent>,
    /// `intents` by the order they name (its text as the provider has it): indexes.
    by_order: HashMap<String, Vec<usize>>,
}

impl Snapshot {
    fn new(
        orders: HashMap<OrderId, OrderFacts>,
        tickets: HashMap<OrderId, i64>,
        intents: Vec<PaymentIntent>,
    ) -> Self {
        let mut by_order: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, intent) in intents.iter().enumerate() {
            by_order.entry(intent.order_id.clone()).or_default().push(i);
        }
        Self {
            orders,
            tickets,
            intents,
            by_order,
        }
    }

    /// The provider's intents that name `order`.
    fn of(&self, order: OrderId) -> impl Iterator<Item = &PaymentIntent> {
        self.by_order
            .get(&order.to_string())
            .into_iter()
            .flatten()
            .map(|i| &self.intents[*i])
    }

    /// The ids of the provider's intents that name `order`.
    pub(super) fn named(&self, order: OrderId) -> Vec<String> {
        self.of(order).map(|i| i.id.clone()).collect()
    }

    /// Net money captured for `order` according to this snapshot.
    pub(super) fn captured(&self, order: OrderId) -> i64 {
        self.of(order)
            .map(|i| i.amount_captured - i.amount_refunded)
            .sum()
    }
}

impl Reconciler {
    /// Every order (`only`: that one), as PostgreSQL has it now.
    async fn orders(&self, only: Option<OrderId>) -> Result<Vec<OrderFacts>, ReconcileError> {
        let rows = sqlx::query!(
            r#"select o.order_id, o.event_id, o.buyer_id, o.state, o.version,
                (extract(epoch from now() - o.updated_at) * 1000)::bigint as "age_ms!",
                (extract(epoch from o.hold_expires_at) * 1000)::bigint as hold_ms,
                coalesce(array_agg(s.code order by s.code, os.label) filter (where os.label is not null), '{}') as "codes!",
                coalesce(array_agg(os.label order by s.code, os.label) filter (where os.label is not null), '{}') as "labels!"
             from orders o
             left join order_seats os on os.order_id = o.order_id
             left join sections s on s.section_id = os.section_id
             where $1::uuid is null or o.order_id = $1
             group by o.order_id"#,
            only.map(|o| o.as_uuid()),
        )
        .fetch_all(&self.db)
        .await
        .map_err(fail)?;
        rows.into_iter()
            .map(|r| {
                let seats = r
                    .codes
                    .into_iter()
                    .zip(r.labels)
                    .map(|(c, l)| Ok(SeatId::new(SectionCode::parse(c)?, UnitLabel::parse(l)?)))
                    .collect::<Result<Vec<_>, boxoffice_nats::IdError>>()
                    .map_err(fail)?;
                Ok(OrderFacts {
                    who: OrderRef {
                        event: EventId::from(r.event_id),
                        order: OrderId::from(r.order_id),
                        buyer: BuyerId::from(r.buyer_id),
                    },
                    state: OrderState::parse(&r.state)
                        .ok_or_else(|| fail(format!("stored state {}", r.state)))?,
                    version: r.version,
                    age_ms: r.age_ms,
                    hold_expires_at: r.hold_ms,
                    seats,
                })
            })
            .collect()
    }

    /// Every order, ticket count and provider payment, read once at the start of a pass.
    pub(super) async fn snapshot(&self) -> Result<Snapshot, ReconcileError> {
        let orders = self
            .orders(None)
            .await?
            .into_iter()
            .map(|o| (o.who.order, o))
            .collect();
        let tickets = sqlx::query!(
            r#"select order_id, count(*) as "issued!" from tickets
               where state = 'issued' group by order_id"#
        )
        .fetch_all(&self.db)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|r| (OrderId::from(r.order_id), r.issued))
        .collect();
        let intents = self.intents().await?;
        Ok(Snapshot::new(orders, tickets, intents))
    }

    /// The order as PostgreSQL has it now. `None`: never recorded.
    pub(super) async fn order_now(
        &self,
        order: OrderId,
    ) -> Result<Option<OrderFacts>, ReconcileError> {
        Ok(self.orders(Some(order)).await?.into_iter().next())
    }

    /// Issued tickets of the order now.
    pub(super) async fn tickets_now(&self, order: OrderId) -> Result<i64, ReconcileError> {
        sqlx::query_scalar!(
            r#"select count(*) as "issued!" from tickets where order_id = $1 and state = 'issued'"#,
            order.as_uuid(),
        )
        .fetch_one(&self.db)
        .await
        .map_err(fail)
    }

    /// The order's payments as the provider reports them now: every intent PostgreSQL
    /// recorded for it, plus `also` (intents the provider listed for it).
    pub(super) async fn payments_now(
        &self,
        order: OrderId,
        also: &[String],
    ) -> Result<Vec<PaymentIntent>, ReconcileError> {
        let mut ids = sqlx::query_scalar!(
            "select provider_intent_id from payments where order_id = $1 and provider = $2",
            order.as_uuid(),
            self.provider_name,
        )
        .fetch_all(&self.db)
        .await
        .map_err(fail)?;
        ids.extend(also.iter().cloned());
        ids.sort();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.payments.retrieve(&id).await.map_err(fail)?);
        }
        Ok(out)
    }

    /// Whether a workflow is running for the order now (a running workflow owns the order).
    pub(super) async fn driven(&self, order: OrderId) -> Result<bool, ReconcileError> {
        OrderClient::new(self.temporal.clone())
            .is_running(order, DESCRIBE_TIMEOUT)
            .await
            .map_err(fail)
    }

    /// How many of `o`'s seats are sold to it in the seat store now.
    pub(super) async fn sold_to(&self, o: &OrderFacts) -> Result<usize, ReconcileError> {
        let mut n = 0;
        for seat in &o.seats {
            let view = self.seats.seat(o.who.event, seat).await.map_err(fail)?;
            if matches!(view.map(|v| v.state), Some(SeatState::Sold { order, .. }) if order == o.who.order)
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every payment intent at the provider, page by page.
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

/// Net captured money over `intents`.
pub(super) fn net(intents: &[PaymentIntent]) -> i64 {
    intents
        .iter()
        .map(|i| i.amount_captured - i.amount_refunded)
        .sum()
}
