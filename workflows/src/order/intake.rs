//! Intake's rules: how an admitted purchase intent becomes a held order whose workflow runs, or
//! a refused one the buyer reads, exactly once however often JetStream delivers it.
//!
//! The worker calls [`settle`] once per delivered message and answers JetStream from its
//! result: [`Settled`] is acknowledged, a [`SettleError`] is retried later unless it
//! [is poison](SettleError::is_poison). What is not a rule stays with the worker, behind
//! [`Stages`]: how many intents may hold or start at once, the hold latency it reports, and the
//! Temporal start itself.
//!
//! Nothing here takes a lock. "Exactly once" rests on three keys, all derived from the order id
//! (which the gateway derives from the buyer's idempotency key, so every copy of an intent, a
//! retried POST's included, names the same order):
//!
//! - **The hold is the order's.** Holding again for an order that holds already returns the
//!   hold taken before, picked seats included ([`take_hold`]): a delivery that died after its
//!   hold cannot make the next one take other seats or count the buyer twice.
//! - **The first status is a claim.** An order's first status (`held` or `rejected`) is
//!   published only onto its empty status subject, so of two deliveries exactly one tells the
//!   buyer, and the other finds that answer and follows it.
//! - **The workflow id is the order's.** `order-<order id>`, which Temporal starts once.
//!
//! The rows follow the same keys: an order refused before it opened is recorded keyed by order
//! id and `(buyer, idempotency key)`, and recording it again writes nothing.

use std::future::Future;

use boxoffice_nats::{
    SeatError, SeatStore,
    seat::{Hold, UnixMillis},
};
use temporalio_client::errors::WorkflowStartError;

use super::{StatusBoard, StatusError, workflow_id};
use crate::{
    domain::{OrderState, OrderStatus, PurchaseIntent, SeatRequest},
    store::{self, StoreError},
};

/// What settling one delivery came to; the message is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// This delivery held the seats, told the buyer `held`, and started the order's workflow.
    Held,
    /// Another delivery (earlier, or concurrent) held and told the buyer `held`; this one
    /// started the workflow with that hold, or found it started.
    Resumed,
    /// The seat store refused the hold; the buyer reads `rejected` with this reason (a stable
    /// [`SeatError::code`]).
    Rejected(String),
    /// A redelivery of an order already refused with this reason; its row is written.
    AlreadyRejected(String),
    /// The order's workflow already runs: Temporal refused the start, or the order's status
    /// has moved past `held`.
    AlreadyStarted,
    /// This delivery lost the claim to one whose order was refused or has ended since; the
    /// hold it had just taken is given back.
    AlreadyFinished,
}

impl Settled {
    /// The outcome's metric and span label (`boxoffice_intake_intents_total{outcome}`): a
    /// started order counts `held` whichever delivery started it.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Held | Self::Resumed => "held",
            Self::Rejected(_) | Self::AlreadyRejected(_) => "rejected",
            Self::AlreadyStarted => "already_started",
            Self::AlreadyFinished => "already_finished",
        }
    }
}

/// Why a delivery was not settled.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The message is not a purchase intent. Poison: nothing can ever make it readable.
    #[error("unreadable purchase intent: {0}")]
    Unreadable(serde_json::Error),
    /// The seat store did not answer. Retry.
    #[error(transparent)]
    Seats(#[from] SeatError),
    /// The status board did not answer. Retry.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// PostgreSQL did not answer. Retry.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Telling the buyer `rejected` failed. Retry.
    #[error(transparent)]
    Reject(#[from] RejectError),
    /// Temporal did not start the workflow (for another reason than "already started"). Retry.
    #[error("starting the workflow: {0}")]
    Start(WorkflowStartError),
}

impl SettleError {
    /// Whether no later delivery can settle the message either: it is dropped (terminated)
    /// instead of retried. Every other error is an outage, and a redelivery settles the intent
    /// by the rules of [`settle`].
    pub fn is_poison(&self) -> bool {
        match self {
            Self::Unreadable(_) => true,
            Self::Seats(_)
            | Self::Status(_)
            | Self::Store(_)
            | Self::Reject(_)
            | Self::Start(_) => false,
        }
    }

    /// The metric label (`boxoffice_intake_intents_total{outcome}`).
    pub fn label(&self) -> &'static str {
        if self.is_poison() {
            "unreadable"
        } else {
            "retry"
        }
    }
}

/// The worker's side of settling: its concurrency limits, its hold-latency report, and the
/// workflow start. [`settle`] decides when each is used; the worker decides how.
pub trait Stages: Sync {
    /// A place in one of the worker's stages, given back when dropped.
    type Place<'a>: Send
    where
        Self: 'a;

    /// Waits for a place between "held" and "payment open", taken before any seat is, so the
    /// intake never holds more orders than the workflows open payments for promptly.
    fn staged(&self) -> impl Future<Output = Self::Place<'_>> + Send;

    /// Waits for a place among the holds in flight (kept until the buyer has been told).
    fn holding(&self) -> impl Future<Output = Self::Place<'_>> + Send;

    /// The intent's hold has been answered, held or refused (the buyer's seat-lock latency).
    fn answered(&self, intent: &PurchaseIntent);

    /// Starts the order's workflow with `hold`, under the id [`workflow_id`] with no reuse, so a
    /// second start fails with [`WorkflowStartError::AlreadyStarted`].
    fn start(
        &self,
        intent: &PurchaseIntent,
        hold: Hold,
    ) -> impl Future<Output = Result<(), WorkflowStartError>> + Send;

    /// Returns once the order this delivery started has left `held` (its payment is open) or a
    /// bound has passed; the caller's staged place is kept meanwhile. Pacing only.
    fn until_payment_opens(&self, intent: &PurchaseIntent) -> impl Future<Output = ()> + Send;
}

/// Where an intent is settled: the seats, the buyer-visible status, and the order rows.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    /// Seat ownership.
    pub seats: &'a SeatStore,
    /// The buyer-visible status.
    pub board: &'a StatusBoard,
    /// PostgreSQL (orders refused before they opened).
    pub db: &'a sqlx::PgPool,
}

/// Settles one delivery of a purchase intent: holds its seats, tells the buyer, and starts its
/// workflow, or finishes what an earlier delivery of it started. Records the order on the
/// current span's `order` field.
///
/// - A redelivery reads the order's status first: an order that has one is never held again
///   (`after_redelivery` below). A first delivery skips that read, since its order is almost
///   always new; if it is not, the claim below says so.
/// - The staged place is taken before any seat is, and kept until the payment opens, so held
///   orders never pile up ahead of the workflows that open their payments.
/// - A refusal is an answer, not an error: the buyer reads `rejected` with the reason. An
///   unreachable seat store is an error, retried.
/// - The hold's place is given back once the buyer has been told, before the start, so a hold
///   never waits behind a workflow start.
/// - A delivery whose claim fails follows the claim's owner (`after_lost_claim` below).
pub async fn settle<S: Stages>(
    at: Stores<'_>,
    stages: &S,
    payload: &[u8],
    redelivered: bool,
) -> Result<Settled, SettleError> {
    let intent: PurchaseIntent =
        serde_json::from_slice(payload).map_err(SettleError::Unreadable)?;
    tracing::Span::current().record("order", tracing::field::display(intent.order_id));
    if redelivered && let Some(status) = at.board.latest(intent.event_id, intent.order_id).await? {
        return follow(at, stages, &intent, after_redelivery(&status)).await;
    }
    let _staged = stages.staged().await;
    let holding = stages.holding().await;
    let hold = match take_hold(at.seats, &intent).await {
        Ok(hold) => hold,
        Err(e @ SeatError::Unavailable(_)) => return Err(e.into()),
        Err(refusal) => {
            drop(holding);
            let reason = refusal.code();
            reject(at.db, at.board, &intent, reason, at.seats.now()).await?;
            stages.answered(&intent);
            return Ok(Settled::Rejected(reason.to_owned()));
        }
    };
    let claimed = at
        .board
        .publish_first(&held_status(&intent, &hold, at.seats.now()))
        .await?;
    drop(holding);
    stages.answered(&intent);
    if !claimed {
        let latest = at.board.latest(intent.event_id, intent.order_id).await?;
        return follow(at, stages, &intent, after_lost_claim(latest.as_ref(), hold)).await;
    }
    if !start(stages, &intent, hold).await? {
        return Ok(Settled::AlreadyStarted);
    }
    stages.until_payment_opens(&intent).await;
    Ok(Settled::Held)
}

/// What a delivery does for an order that already has a status.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// The order is `held` and may have no workflow yet: start it with this hold.
    Start(Hold),
    /// The order was refused: make sure its row is written.
    Record(String),
    /// The order owns no seats (refused, or ended): give back the hold this delivery took.
    GiveBack(Hold),
    /// The workflow has the order: nothing left to do.
    Nothing,
}

/// A redelivered intent whose order has a status finishes what the earlier delivery started
/// and never holds again. `held` with its hold: the earlier delivery may have died before the
/// start, so start with that very hold (the seats the buyer was told). `rejected`: it may have
/// died between telling the buyer and writing the row, so write the row. Anything else (or a
/// `held` without the hold, which only the workflow publishes): the workflow runs.
fn after_redelivery(status: &OrderStatus) -> Next {
    match (status.state, &status.hold) {
        (OrderState::Held, Some(hold)) => Next::Start(hold.clone()),
        (OrderState::Rejected, _) => {
            Next::Record(status.reason.clone().unwrap_or_else(|| "rejected".into()))
        }
        _ => Next::Nothing,
    }
}

/// A delivery that held but lost the claim to another delivery's first status (`ours` is the
/// hold it just took). `held`: start with the claim's hold (the seat store handed both the same
/// one), which may not be started yet. An order that owns no seats (refused, or ended and its
/// seats given back): the hold just taken is this delivery's alone, so give it back. An order
/// that owns seats past `held`: the store handed this delivery the order's existing hold, which
/// the workflow owns.
fn after_lost_claim(latest: Option<&OrderStatus>, ours: Hold) -> Next {
    match latest {
        Some(s) if s.state == OrderState::Held => Next::Start(s.hold.clone().unwrap_or(ours)),
        Some(s) if !s.state.owns_seats() => Next::GiveBack(ours),
        _ => Next::Nothing,
    }
}

async fn follow<S: Stages>(
    at: Stores<'_>,
    stages: &S,
    intent: &PurchaseIntent,
    next: Next,
) -> Result<Settled, SettleError> {
    match next {
        Next::Start(hold) => Ok(if start(stages, intent, hold).await? {
            Settled::Resumed
        } else {
            Settled::AlreadyStarted
        }),
        Next::Record(reason) => {
            record_unopened(at.db, intent, OrderState::Rejected, &reason).await?;
            Ok(Settled::AlreadyRejected(reason))
        }
        Next::GiveBack(hold) => {
            at.seats
                .release(&intent.order_ref(), &hold.seat_ids())
                .await?;
            Ok(Settled::AlreadyFinished)
        }
        Next::Nothing => Ok(Settled::AlreadyStarted),
    }
}

/// Starts the order's workflow with `hold`: `true` if this call started it, `false` if Temporal
/// already has it (another delivery started it: the id is the order's, so that is no error).
async fn start<S: Stages>(
    stages: &S,
    intent: &PurchaseIntent,
    hold: Hold,
) -> Result<bool, SettleError> {
    match stages.start(intent, hold).await {
        Ok(()) => Ok(true),
        Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(false),
        Err(e) => Err(SettleError::Start(e)),
    }
}

/// Takes the hold an intent asks for: its named seats, or the best available seats of a
/// section (side by side where they can be; any units of a general-admission section), for
/// the intent's hold time. Intake and the workflow (when started without a hold) both hold
/// through here. Taking the hold again for the same intent (a redelivery, a retried activity)
/// returns the hold already taken, picked seats included.
pub async fn take_hold(seats: &SeatStore, intent: &PurchaseIntent) -> Result<Hold, SeatError> {
    let order = intent.order_ref();
    let hold_for = std::time::Duration::from_secs(intent.hold_seconds.into());
    match &intent.request {
        SeatRequest::Seats(list) => seats.hold(&order, list, hold_for).await,
        SeatRequest::BestAvailable { section, quantity } => {
            seats
                .pick_best(&order, section, quantity.get(), hold_for)
                .await
        }
    }
}

/// The first status of an order intake held. It carries the hold, revisions included, so a
/// delivery that finds it starts the workflow with the very seats the buyer was told.
pub fn held_status(intent: &PurchaseIntent, hold: &Hold, at: UnixMillis) -> OrderStatus {
    OrderStatus {
        order_id: intent.order_id,
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        state: OrderState::Held,
        version: 1,
        seats: hold.seat_ids(),
        hold_expires_at: Some(hold.expires_at),
        amount_cents: None,
        currency: None,
        payment: None,
        tickets: Vec::new(),
        reason: None,
        hold: Some(hold.clone()),
        at,
    }
}

/// The first status of an order intake refused.
fn rejected_status(intent: &PurchaseIntent, reason: &str, at: UnixMillis) -> OrderStatus {
    OrderStatus {
        order_id: intent.order_id,
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        state: OrderState::Rejected,
        version: 1,
        seats: Vec::new(),
        hold_expires_at: None,
        amount_cents: None,
        currency: None,
        payment: None,
        tickets: Vec::new(),
        reason: Some(reason.to_owned()),
        hold: None,
        at,
    }
}

/// Records an order that ends before it is opened (no seats, no money) in PostgreSQL.
/// Idempotent.
pub async fn record_unopened(
    db: &sqlx::PgPool,
    intent: &PurchaseIntent,
    state: OrderState,
    reason: &str,
) -> Result<(), StoreError> {
    store::record_closed(
        db,
        &intent.order_ref(),
        &intent.idempotency_key,
        &intent.request_hash,
        &workflow_id(intent.order_id),
        state,
        reason,
    )
    .await
}

/// Telling a buyer "rejected" failed; retry.
#[derive(Debug, thiserror::Error)]
pub enum RejectError {
    /// The status board.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// PostgreSQL.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tells the buyer the order is refused, then records it. The buyer hears first; the row
/// follows. A refusal that lost the race to another delivery's answer (a `held`, say) records
/// nothing, and a retry after the publish still writes the row.
pub async fn reject(
    db: &sqlx::PgPool,
    board: &StatusBoard,
    intent: &PurchaseIntent,
    reason: &str,
    now: UnixMillis,
) -> Result<(), RejectError> {
    let first = board
        .publish_first(&rejected_status(intent, reason, now))
        .await?;
    let ours = first
        || board
            .latest(intent.event_id, intent.order_id)
            .await?
            .is_some_and(|s| s.state == OrderState::Rejected);
    if ours {
        record_unopened(db, intent, OrderState::Rejected, reason).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use boxoffice_nats::{BuyerId, EventId, OrderId};

    use super::*;

    fn intent() -> PurchaseIntent {
        PurchaseIntent {
            order_id: OrderId::new(),
            event_id: EventId::new(),
            buyer_id: BuyerId::new(),
            idempotency_key: "k".into(),
            request_hash: "h".into(),
            request: SeatRequest::Seats(Vec::new()),
            hold_seconds: 60,
            submitted_at: 0,
        }
    }

    fn hold(intent: &PurchaseIntent, expires_at: UnixMillis) -> Hold {
        Hold {
            order: intent.order_ref(),
            seats: Vec::new(),
            expires_at,
        }
    }

    fn status(intent: &PurchaseIntent, state: OrderState) -> OrderStatus {
        OrderStatus {
            state,
            version: 2,
            hold: None,
            ..held_status(intent, &hold(intent, 1), 0)
        }
    }

    #[test]
    fn a_redelivery_of_a_held_order_starts_it_with_the_hold_the_buyer_was_told() {
        let i = intent();
        let told = hold(&i, 7);
        let held = held_status(&i, &told, 0);
        assert_eq!(after_redelivery(&held), Next::Start(told));
    }

    #[test]
    fn a_redelivery_of_a_refused_order_writes_its_row_with_the_reason_told() {
        let i = intent();
        let refused = rejected_status(&i, "taken", 0);
        assert_eq!(after_redelivery(&refused), Next::Record("taken".into()));
        let without_reason = OrderStatus {
            reason: None,
            ..refused
        };
        assert_eq!(
            after_redelivery(&without_reason),
            Next::Record("rejected".into())
        );
    }

    #[test]
    fn a_redelivery_of_an_order_the_workflow_has_does_nothing() {
        let i = intent();
        for state in [
            OrderState::Held, // published by the workflow: no hold in it
            OrderState::AwaitingPayment,
            OrderState::Issued,
            OrderState::Expired,
            OrderState::Canceled,
        ] {
            assert_eq!(
                after_redelivery(&status(&i, state)),
                Next::Nothing,
                "{state}"
            );
        }
    }

    #[test]
    fn a_lost_claim_on_a_held_order_starts_it_with_the_claims_hold_or_its_own() {
        let i = intent();
        let theirs = hold(&i, 7);
        let ours = hold(&i, 9);
        let held = held_status(&i, &theirs, 0);
        assert_eq!(
            after_lost_claim(Some(&held), ours.clone()),
            Next::Start(theirs)
        );
        let bare = status(&i, OrderState::Held);
        assert_eq!(
            after_lost_claim(Some(&bare), ours.clone()),
            Next::Start(ours)
        );
    }

    #[test]
    fn a_lost_claim_on_an_order_that_owns_no_seats_gives_the_new_hold_back() {
        let i = intent();
        let ours = hold(&i, 9);
        for state in [
            OrderState::Rejected,
            OrderState::Expired,
            OrderState::Canceled,
            OrderState::Refunded,
        ] {
            assert_eq!(
                after_lost_claim(Some(&status(&i, state)), ours.clone()),
                Next::GiveBack(ours.clone()),
                "{state}"
            );
        }
    }

    #[test]
    fn a_lost_claim_on_an_order_that_owns_seats_past_held_does_nothing() {
        let i = intent();
        let ours = hold(&i, 9);
        for state in [
            OrderState::AwaitingPayment,
            OrderState::Confirmed,
            OrderState::Issued,
        ] {
            assert_eq!(
                after_lost_claim(Some(&status(&i, state)), ours.clone()),
                Next::Nothing,
                "{state}"
            );
        }
        assert_eq!(after_lost_claim(None, ours), Next::Nothing);
    }

    #[test]
    fn only_an_unreadable_message_is_poison() {
        let unreadable =
            SettleError::Unreadable(serde_json::from_slice::<PurchaseIntent>(b"{").unwrap_err());
        assert!(unreadable.is_poison());
        assert_eq!(unreadable.label(), "unreadable");
        let outage = SettleError::Seats(SeatError::Unavailable("down".into()));
        assert!(!outage.is_poison());
        assert_eq!(outage.label(), "retry");
    }

    #[test]
    fn a_started_order_counts_held_whichever_delivery_started_it() {
        assert_eq!(Settled::Held.label(), "held");
        assert_eq!(Settled::Resumed.label(), "held");
        assert_eq!(Settled::Rejected("taken".into()).label(), "rejected");
        assert_eq!(Settled::AlreadyRejected("taken".into()).label(), "rejected");
        assert_eq!(Settled::AlreadyStarted.label(), "already_started");
        assert_eq!(Settled::AlreadyFinished.label(), "already_finished");
    }
}
