//! The money rules: a capture or an authorisation the provider kept for an order that has
//! ended (or that PostgreSQL never recorded) is refunded or voided, with a fixed idempotency
//! key, and the payments table follows.

use boxoffice_nats::OrderId;

use super::{
    Checkpoint, Finding, FindingKind, ReconcileError, Reconciler,
    facts::OrderFacts,
    fail,
    rules::{Verdict, finding},
};
use crate::{
    payments::{PaymentError, PaymentProvider, PaymentStatus},
    store,
};

/// An order whose money a repair may touch (see [`Reconciler::ended`]).
pub(super) enum Ended {
    /// PostgreSQL has it, in a terminal state.
    Recorded(OrderFacts),
    /// PostgreSQL never recorded it (or the payment names no order of ours).
    Unrecorded,
}

impl Reconciler {
    /// Whether money kept for `order` may be given back or voided: the order has ended
    /// (terminal states are final) or PostgreSQL never recorded it (a workflow records its
    /// order before it creates the payment, so an unrecorded order's payment is not one of
    /// ours in flight), and no workflow runs for it. `None`: leave it.
    pub(super) async fn ended(
        &self,
        order: Option<OrderId>,
    ) -> Result<Option<Ended>, ReconcileError> {
        let Some(order) = order else {
            return Ok(Some(Ended::Unrecorded));
        };
        let facts = self.order_now(order).await?;
        if facts.as_ref().is_some_and(|f| !f.state.is_terminal()) || self.driven(order).await? {
            return Ok(None);
        }
        Ok(Some(facts.map_or(Ended::Unrecorded, Ended::Recorded)))
    }

    /// Money captured and not refunded for an order that has ended without a seat, or that we
    /// never knew: refunded once (fixed idempotency key). An issued or live order's money is
    /// never touched.
    pub(super) async fn stray_capture(&self, id: &str, order: Option<OrderId>) -> Verdict {
        let kind = FindingKind::CapturedWithoutSeat;
        self.at(Checkpoint::Candidate(kind)).await;
        let intent = self.payments.retrieve(id).await.map_err(fail)?;
        if intent.amount_captured - intent.amount_refunded <= 0 {
            return Ok(None);
        }
        let Some(ended) = self.ended(order).await? else {
            return Ok(None);
        };
        if let Ended::Recorded(f) = &ended {
            let sold = self.sold_to(f).await?;
            if sold > 0 {
                return Ok(Some(
                    finding(
                        FindingKind::SoldToClosedOrder,
                        false,
                        format!(
                            "order in {} keeps {sold} sold seat(s) and its money",
                            f.state
                        ),
                    )
                    .order(f.who.order)
                    .payment(id),
                ));
            }
        }
        self.at(Checkpoint::Decided(kind)).await;
        let refunded = match self
            .payments
            .refund(&format!("reconcile:{id}:refund"), id)
            .await
        {
            Ok(n) => n,
            // Refunded meanwhile by someone else: nothing left to give back.
            Err(PaymentError::Refused { .. }) => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        self.record(&ended, id).await?;
        Ok(Some(Finding {
            order,
            ..finding(
                kind,
                true,
                format!("{refunded} refunded: captured money with no seat"),
            )
            .payment(id)
        }))
    }

    /// An authorisation for an order that has ended, or that we never knew: voided. The
    /// provider refuses to void a captured payment, so a capture in between wins.
    pub(super) async fn stray_authorization(&self, id: &str, order: Option<OrderId>) -> Verdict {
        let kind = FindingKind::AuthorizedWithoutOrder;
        self.at(Checkpoint::Candidate(kind)).await;
        let intent = self.payments.retrieve(id).await.map_err(fail)?;
        if intent.status != PaymentStatus::Authorized {
            return Ok(None);
        }
        let Some(ended) = self.ended(order).await? else {
            return Ok(None);
        };
        self.at(Checkpoint::Decided(kind)).await;
        match self
            .payments
            .cancel(&format!("reconcile:{id}:void"), id)
            .await
        {
            Ok(_) => {}
            Err(PaymentError::Refused { .. }) => return Ok(None),
            Err(e) => return Err(fail(e)),
        }
        self.record(&ended, id).await?;
        Ok(Some(Finding {
            order,
            ..finding(
                kind,
                true,
                "authorisation for an ended or unknown order voided",
            )
            .payment(id)
        }))
    }

    /// Keeps the payments table in step with a repair (when PostgreSQL has the order).
    pub(super) async fn record(&self, ended: &Ended, intent: &str) -> Result<(), ReconcileError> {
        let Ended::Recorded(f) = ended else {
            return Ok(());
        };
        let now = self.payments.retrieve(intent).await.map_err(fail)?;
        store::record_payment(&self.db, &self.provider_name, f.who.order.as_uuid(), &now)
            .await
            .map_err(fail)
    }
}
