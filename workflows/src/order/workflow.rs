//! The workflow code: deterministic, touching only `ctx`, the domain and the activities.
//!
//! ```text
//! hold (intake, or here) → open: renew the hold + record + payment intent → wait: payment
//!   signal | cancel |
//!   active query half-way | final query when the checkout closes
//!   authorized → confirm seats ─ lapsed → void payment, release → expired
//!                             └ sold → capture ─ refused → seats back → payment_failed
//!                                             └ captured → confirmed → tickets → issued
//!                                                → (refund signal within the window) → refunded
//!   declined → release → payment_failed;  canceled → void, release → canceled;
//!   no payment by the checkout's close → void, release → expired
//! ```

use std::time::{Duration, UNIX_EPOCH};

use boxoffice_nats::seat::{Hold, UnixMillis};
use temporalio_common::{ActivityDefinition, RetryPolicy, data_converters::TemporalDeserializable};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    LocalActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use super::{
    ConfirmOutcome, OrderActivities, OrderInput, PaymentOutcome, PaymentSignal, RefundRequest,
    SeatsRequest,
    activities::{
        CaptureOutcome, HoldOutcome, OpenOrder, Opened, PaymentRef, RenewHold, StateChange,
    },
};
use crate::{
    domain::{OrderState, OrderStatus},
    payments::PaymentStatus,
};

/// Leave at least this much of the hold after the checkout closes, so a payment authorised at
/// the last second still finds its seats (the seat store refuses a confirm within 2 s of the
/// lapse; the rest covers the final query and the confirm itself).
const MIN_PAYMENT_LEAD: Duration = Duration::from_secs(5);
/// At most this much: a long hold gives the buyer most of it to pay.
const MAX_PAYMENT_LEAD: Duration = Duration::from_secs(120);
/// After the checkout closes, wait this long for the provider's own expiry before the final
/// query, so its answer is definitive.
const SETTLE_GRACE: Duration = Duration::from_millis(1500);
/// Marks histories whose workflow renews intake's hold as the checkout opens
/// (docs/adr/0021-held-at-seat-store-speed.md); histories from before it replay without.
const RENEW_AT_OPEN: &str = "renew-hold-at-checkout-open";
/// Marks histories whose workflow cancels the payment wait's timer once a verdict is in.
const CANCEL_UNUSED_TIMERS: &str = "cancel-unused-payment-timers";

/// One order, from its hold to tickets, or to its seats given back.
#[workflow]
#[derive(Default)]
pub struct OrderWorkflow {
    payment_id: Option<String>,
    verdict: Option<PaymentOutcome>,
    canceled: bool,
    refund: Option<RefundRequest>,
    status: Option<OrderStatus>,
}

/// How the wait for payment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Authorized,
    Declined,
    Canceled,
    Lapsed,
}

/// The options of every local activity of the order (the benchmark's bare workflow uses them
/// too, so both sides of its ratio retry and time out alike).
pub fn local_activity_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(15))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(5))
                .build(),
        )
        .build()
}

/// The workflow's own clock (deterministic on replay), in Unix milliseconds. The on-sale
/// workflow reads its clock through this too.
pub(crate) fn now_ms<W>(ctx: &WorkflowContext<W>) -> UnixMillis {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

/// How long before the hold lapses the checkout closes: a quarter of the hold, within bounds.
pub fn payment_lead(hold_left_ms: i64) -> Duration {
    Duration::from_millis((hold_left_ms / 4).max(0) as u64)
        .clamp(MIN_PAYMENT_LEAD, MAX_PAYMENT_LEAD)
}

/// Runs one of the order's local activities with the order's options.
async fn step<AD>(
    ctx: &WorkflowContext<OrderWorkflow>,
    activity: AD,
    input: impl Into<AD::Input>,
) -> WorkflowResult<AD::Output>
where
    AD: ActivityDefinition,
    AD::Output: TemporalDeserializable,
{
    Ok(ctx
        .execute_local_activity(activity, input, local_activity_options())
        .await?)
}

/// Moves the order to `to`: PostgreSQL, the status board, and the workflow's own view.
async fn enter(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    st: &mut OrderStatus,
    to: OrderState,
    reason: Option<&str>,
) -> WorkflowResult<()> {
    let from = st.state;
    let from_at = st.at;
    st.state = to;
    st.version += 1;
    st.at = now_ms(ctx);
    if let Some(r) = reason {
        st.reason = Some(r.to_owned());
    }
    if !to.is_on_hold() {
        st.hold_expires_at = None;
    }
    step(
        ctx,
        OrderActivities::record_state,
        StateChange {
            from,
            status: st.clone(),
            from_at,
        },
    )
    .await?;
    let snapshot = st.clone();
    ctx.state_mut(|s| s.status = Some(snapshot));
    Ok(())
}

/// Waits for a verdict or a cancel until `until` (Unix ms). `true`: one arrived.
///
/// A verdict that comes first cancels the timer. A timer merely dropped stays on the server
/// and fires later into the open workflow (it waits out the refund window), costing a whole
/// workflow task for nothing: a third of an issued order's tasks in `ops/bench contended`.
async fn wait_until(ctx: &mut WorkflowContext<OrderWorkflow>, until: UnixMillis) -> bool {
    use temporalio_sdk::CancellableFuture;
    let decided = |s: &OrderWorkflow| s.verdict.is_some() || s.canceled;
    let left = until - now_ms(ctx);
    if left <= 0 {
        return ctx.state(decided);
    }
    let timer = ctx.timer(Duration::from_millis(left as u64));
    let mut timer = std::pin::pin!(timer);
    let arrived = temporalio_sdk::workflows::select! {
        _ = ctx.wait_condition(decided) => true,
        _ = timer.as_mut() => false,
    };
    if !arrived {
        return ctx.state(decided);
    }
    // Histories recorded before the cancel replay without it.
    if ctx.patched(CANCEL_UNUSED_TIMERS) {
        timer.cancel();
    }
    true
}

fn from_provider(status: PaymentStatus) -> Option<Decision> {
    match status {
        PaymentStatus::RequiresConfirmation => None,
        // Captured can only be our own earlier capture: carry on, capture is idempotent.
        PaymentStatus::Authorized | PaymentStatus::Captured => Some(Decision::Authorized),
        PaymentStatus::Failed => Some(Decision::Declined),
        PaymentStatus::Canceled | PaymentStatus::Refunded | PaymentStatus::PartiallyRefunded => {
            Some(Decision::Lapsed)
        }
    }
}

fn from_signals(s: &OrderWorkflow) -> Option<Decision> {
    if s.canceled {
        return Some(Decision::Canceled);
    }
    s.verdict.map(|v| match v {
        PaymentOutcome::Authorized => Decision::Authorized,
        PaymentOutcome::Declined => Decision::Declined,
    })
}

/// The paid half: confirm the seats by revision, capture, issue, and honour a refund.
async fn sell(
    ctx: &mut WorkflowContext<OrderWorkflow>,
    mut st: OrderStatus,
    seats: SeatsRequest,
    pay: PaymentRef,
    refund_window_s: u64,
) -> WorkflowResult<OrderState> {
    if let Some(p) = st.payment.as_mut() {
        p.state = PaymentStatus::Authorized;
    }
    enter(ctx, &mut st, OrderState::Authorized, None).await?;
    let confirmed = step(ctx, OrderActivities::confirm_seats, seats.clone()).await?;
    if confirmed == ConfirmOutcome::Lapsed {
        // Too late: the seats may be someone else's now. Take no money.
        let voided = step(ctx, OrderActivities::void_payment, pay.clone()).await?;
        if let Some(p) = st.payment.as_mut() {
            p.state = voided;
        }
        step(ctx, OrderActivities::release_seats, seats).await?;
        enter(ctx, &mut st, OrderState::Expired, Some("hold_lapsed")).await?;
        return Ok(OrderState::Expired);
    }
    match step(ctx, OrderActivities::capture, pay.clone()).await? {
        CaptureOutcome::Captured(_) => {
            if let Some(p) = st.payment.as_mut() {
                p.state = PaymentStatus::Captured;
            }
        }
        CaptureOutcome::Refused(code) => {
            // The authorisation is gone (expired or voided at the provider): the seats we
            // just sold go back, nothing was taken.
            step(ctx, OrderActivities::refund_seats, seats).await?;
            enter(
                ctx,
                &mut st,
                OrderState::PaymentFailed,
                Some(&format!("capture_refused: {code}")),
            )
            .await?;
            return Ok(OrderState::PaymentFailed);
        }
    }
    enter(ctx, &mut st, OrderState::Confirmed, None).await?;
    // Retried until the issuer is back; the order stays `confirmed` meanwhile.
    let tickets = step(ctx, OrderActivities::issue_tickets, seats.clone()).await?;
    st.tickets = tickets;
    enter(ctx, &mut st, OrderState::Issued, None).await?;

    if refund_window_s > 0 {
        temporalio_sdk::workflows::select! {
            _ = ctx.wait_condition(|s| s.refund.is_some()) => {},
            _ = ctx.timer(Duration::from_secs(refund_window_s)) => {},
        };
    }
    let Some(refund) = ctx.state(|s| s.refund.clone()) else {
        return Ok(OrderState::Issued);
    };
    step(ctx, OrderActivities::refund_payment, pay).await?;
    step(ctx, OrderActivities::void_tickets, seats.clone()).await?;
    step(ctx, OrderActivities::refund_seats, seats).await?;
    if let Some(p) = st.payment.as_mut() {
        p.state = PaymentStatus::Refunded;
    }
    st.tickets.clear();
    enter(ctx, &mut st, OrderState::Refunded, Some(&refund.reason)).await?;
    Ok(OrderState::Refunded)
}

#[workflow_methods]
impl OrderWorkflow {
    /// Runs the order to `issued` (then `refunded` if asked within the window), or to
    /// `rejected`, `payment_failed`, `canceled` or `expired` with its seats given back.
    #[run(name = "Order")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: OrderInput,
    ) -> WorkflowResult<OrderState> {
        let intent = input.intent;
        let (hold, renew): (Hold, bool) = match input.hold {
            Some(h) => (h, true),
            None => match step(ctx, OrderActivities::hold_seats, intent.clone()).await? {
                HoldOutcome::Held(h) => (h, false),
                HoldOutcome::Rejected(_) => return Ok(OrderState::Rejected),
            },
        };
        let started = now_ms(ctx);
        let mut st = super::intake::held_status(&intent, &hold, started);
        st.hold = None;
        ctx.state_mut(|s| s.status = Some(st.clone()));
        let seats = SeatsRequest {
            order: hold.order,
            seats: hold.seat_ids(),
        };
        // Intake held for the hold time plus its allowance for this start; the buyer's time
        // to pay starts now, as the checkout opens. The renewed expiry is the step's recorded
        // result, so a retried open below sends the provider the same body.
        let hold = if renew && ctx.patched(RENEW_AT_OPEN) {
            let renewal = RenewHold {
                intent: intent.clone(),
                seats: seats.seats.clone(),
                taken_until: hold.expires_at,
                hold_seconds: intent.hold_seconds,
            };
            match step(ctx, OrderActivities::renew_hold, renewal).await? {
                Some(renewed) => renewed,
                None => {
                    step(ctx, OrderActivities::release_seats, seats).await?;
                    enter(ctx, &mut st, OrderState::Expired, Some("hold_lapsed")).await?;
                    return Ok(OrderState::Expired);
                }
            }
        } else {
            hold
        };
        st.hold_expires_at = Some(hold.expires_at);

        // From the order's own facts only, never from the workflow's clock: if the worker dies
        // while the payment is being opened, the task runs again at a later workflow time, and
        // the retried create must send the provider the very same body under its idempotency
        // key (another body is refused as `idempotency_key_in_use`, which the simulator's
        // worker-kill drill caught rejecting a held order).
        let lead = payment_lead(i64::from(intent.hold_seconds) * 1000).as_millis() as i64;
        let checkout_closes = hold.expires_at - lead;
        let opened = step(
            ctx,
            OrderActivities::open_order,
            OpenOrder {
                intent: intent.clone(),
                hold: hold.clone(),
                payment_expires_at: checkout_closes,
            },
        )
        .await?;
        let payment = match opened {
            Opened::Lapsed => {
                step(ctx, OrderActivities::release_seats, seats).await?;
                enter(ctx, &mut st, OrderState::Expired, Some("hold_lapsed")).await?;
                return Ok(OrderState::Expired);
            }
            Opened::Refused(reason) => {
                step(ctx, OrderActivities::release_seats, seats).await?;
                enter(ctx, &mut st, OrderState::Rejected, Some(&reason)).await?;
                return Ok(OrderState::Rejected);
            }
            Opened::Priced {
                amount_cents,
                currency,
                payment,
            } => {
                st.amount_cents = Some(amount_cents);
                st.currency = Some(currency);
                st.payment = Some(payment.clone());
                payment
            }
        };
        let pay = PaymentRef {
            id: payment.id.clone(),
            order: intent.order_id.as_uuid(),
        };
        let pay_id = payment.id.clone();
        ctx.state_mut(|s| s.payment_id = Some(pay_id));
        enter(ctx, &mut st, OrderState::AwaitingPayment, None).await?;

        // Wait for the verdict; ask the provider half-way if no callback came, and once more
        // (definitively) after the checkout closed.
        let probe_at = started + (checkout_closes - started) / 2;
        let mut decision = None;
        for (until, last) in [
            (probe_at, false),
            (checkout_closes + SETTLE_GRACE.as_millis() as i64, true),
        ] {
            if wait_until(ctx, until).await {
                decision = ctx.state(from_signals);
                break;
            }
            let at_provider = step(ctx, OrderActivities::payment_status, pay.id.clone()).await?;
            // A signal may have arrived while the query ran: it is as good.
            decision = ctx.state(from_signals).or(from_provider(at_provider));
            if decision.is_some() {
                break;
            }
            if last {
                // Still unpaid after the checkout closed: close it ourselves. If the buyer paid
                // in that instant the void takes the authorisation back: no money is kept.
                let voided = step(ctx, OrderActivities::void_payment, pay.clone()).await?;
                decision = Some(match voided {
                    PaymentStatus::Failed => Decision::Declined,
                    _ => Decision::Lapsed,
                });
            }
        }
        // The loop always decides (its last pass sets a decision); Lapsed is the safe default.
        let decision = decision.unwrap_or(Decision::Lapsed);

        let end = match decision {
            Decision::Authorized => {
                return sell(ctx, st, seats, pay, input.refund_window_s).await;
            }
            Decision::Declined => (OrderState::PaymentFailed, "declined"),
            Decision::Canceled => {
                step(ctx, OrderActivities::void_payment, pay.clone()).await?;
                (OrderState::Canceled, "canceled_by_buyer")
            }
            Decision::Lapsed => (OrderState::Expired, "payment_timeout"),
        };
        step(ctx, OrderActivities::release_seats, seats).await?;
        enter(ctx, &mut st, end.0, Some(end.1)).await?;
        Ok(end.0)
    }

    /// The provider's verdict. Only the first one counts, and only for this order's payment:
    /// a duplicate, late or foreign callback changes nothing.
    #[signal(name = "payment")]
    pub fn payment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, signal: PaymentSignal) {
        let ours = self
            .payment_id
            .as_ref()
            .is_none_or(|id| *id == signal.intent_id);
        if ours && self.verdict.is_none() && !self.canceled {
            self.verdict = Some(signal.outcome);
        }
    }

    /// The buyer gives up before paying (ignored once a verdict is in).
    #[signal(name = "cancel")]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        if self.verdict.is_none() {
            self.canceled = true;
        }
    }

    /// The organizer refunds the order (acted on once it is issued, within the window).
    #[signal(name = "refund")]
    pub fn refund(&mut self, _ctx: &mut SyncWorkflowContext<Self>, req: RefundRequest) {
        self.refund.get_or_insert(req);
    }

    /// Where the order is, as the workflow sees it.
    #[query(name = "status")]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Option<OrderStatus> {
        self.status.clone()
    }
}
