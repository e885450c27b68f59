//! The workflow code: deterministic, touching only `ctx` and the domain.

use std::time::{Duration, UNIX_EPOCH};

use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use super::{ConfirmOutcome, OrderInput, PaymentOutcome, SeatActivities, SeatsRequest};
use crate::domain::OrderState;

/// Stop waiting this long before the hold lapses, so a late authorisation still finds its seats
/// (the seat store's confirm margin is 2 s; this leaves room for the activity itself).
const CONFIRM_LEAD: Duration = Duration::from_secs(3);

/// One order, from its hold to confirmed seats or released ones.
#[workflow]
#[derive(Default)]
pub struct OrderWorkflow {
    payment: Option<PaymentOutcome>,
    canceled: bool,
    state: Option<OrderState>,
}

fn activity_options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(Duration::from_secs(10))
}

#[workflow_methods]
impl OrderWorkflow {
    /// Runs the order to `confirmed`, `payment_failed`, `canceled` or `expired`.
    #[run(name = "Order")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: OrderInput,
    ) -> WorkflowResult<OrderState> {
        ctx.state_mut(|s| s.state = Some(OrderState::AwaitingPayment));
        let now_ms = ctx
            .workflow_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let left = Duration::from_millis((input.hold.expires_at - now_ms).max(0) as u64);
        let wait = left.saturating_sub(CONFIRM_LEAD);
        let decided = temporalio_sdk::workflows::select! {
            _ = ctx.wait_condition(|s| s.payment.is_some() || s.canceled) => true,
            _ = ctx.timer(wait) => false,
        };
        let req = SeatsRequest {
            order: input.hold.order,
            seats: input.hold.seat_ids(),
        };
        let (payment, canceled) = ctx.state(|s| (s.payment, s.canceled));
        let end = match (decided, payment, canceled) {
            (true, _, true) => OrderState::Canceled,
            (true, Some(PaymentOutcome::Authorized), _) => {
                match ctx
                    .execute_activity(
                        SeatActivities::confirm_seats,
                        req.clone(),
                        activity_options(),
                    )
                    .await?
                {
                    ConfirmOutcome::Confirmed => OrderState::Confirmed,
                    ConfirmOutcome::Lapsed => OrderState::Expired,
                }
            }
            (true, _, _) => OrderState::PaymentFailed,
            (false, _, _) => OrderState::Expired,
        };
        if end != OrderState::Confirmed {
            ctx.execute_activity(SeatActivities::release_seats, req, activity_options())
                .await?;
        }
        ctx.state_mut(|s| s.state = Some(end));
        Ok(end)
    }

    /// The provider's verdict. Only the first one counts: a duplicate or late callback changes
    /// nothing.
    #[signal(name = "payment")]
    pub fn payment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, outcome: PaymentOutcome) {
        if self.payment.is_none() {
            self.payment = Some(outcome);
        }
    }

    /// The buyer gives up before paying.
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        if self.payment.is_none() {
            self.canceled = true;
        }
    }

    /// Where the order is.
    #[query(name = "state")]
    pub fn state(&self, _ctx: &WorkflowContextView) -> Option<OrderState> {
        self.state
    }
}
