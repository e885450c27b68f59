//! Intake's rules: how an admitted purchase intent becomes a held order whose workflow runs, or
//! a refused one the buyer reads, exactly once however often JetStream delivers it.
//!
//! The worker calls [`settle`] once per delivered message and answers JetStream from its
//! result: [`Settled`] is acknowledged, a [`SettleError`] is retried later unless it
//! [is poison](SettleError::is_poison). What is not a rule stays with the worker, behind
//! [`Stages`]: how many intents may hold at once, the hold latency it reports, and its
//! estimate of when a checkout opens. Settling never waits for Temporal: a held order's start
//! is queued ([`super::starts`]) and the intent acknowledged, so holds go at the seat store's
//! pace however far workflow starts lag (docs/adr/0021-held-at-seat-store-speed.md).
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
//! - **The start is the order's.** Its request is queued under the order id (a copy within
//!   the stream's window is dropped) and its workflow id is `order-<order id>`, which Temporal
//!   starts once.
//!
//! The rows follow the same keys: an order refused before it opened is recorded keyed by order
//! id and `(buyer, idempotency key)`, and recording it again writes nothing.

use std::{future::Future, time::Duration};

use super::{StartQueue, StartQueueError, StartRequest, StatusBoard, StatusError, workflow_id};
use crate::{
    domain::{OrderState, OrderStatus, PurchaseIntent, SeatRequest},
    store::{self, StoreError},
};
use boxoffice_nats::{
    SeatError, SeatStore,
    seat::{Hold, UnixMillis},
};

/// What settling one delivery came to; the message is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// This delivery held the seats, told the buyer `held`, and queued the workflow's start.
    Held,
    /// Another delivery (earlier, or concurrent) held and told the buyer `held`; this one
    /// queued the workflow's start with that hold (again: a copy is harmless).
    Resumed,
    /// The seat store refused the hold; the buyer reads `rejected` with this reason (a stable
    /// [`SeatError::code`]).
    Rejected(String),
    /// A redelivery of an order already refused with this reason; its row is written.
    AlreadyRejected(String),
    /// The order's workflow already runs: the order's status has moved past `held`.
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
    /// The starts stream did not take the workflow's start. Retry.
    #[error(transparent)]
    Start(#[from] StartQueueError),
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

/// The worker's side of settling: its concurrency limit, its hold-latency report, and its
/// view of the start queue. [`settle`] decides when each is used; the worker decides how.
pub trait Stages: Sync {
    /// A place in one of the worker's stages, given back when dropped.
    type Place<'a>: Send
    where
        Self: 'a;

    /// Waits for a place among the holds in flight (kept until the buyer has been told).
    fn holding(&self) -> impl Future<Output = Self::Place<'_>> + Send;

    /// The intent's hold has been answered, held or refused (the buyer's seat-lock latency).
    fn answered(&self, intent: &PurchaseIntent);

    /// How much longer than the intent's own hold time the seats are held when taken: the
    /// longest the platform may take to open the checkout, after which the workflow renews
    /// the hold to the full hold time from the opening.
    fn open_within(&self) -> Duration;

    /// When the checkout of an order held at `now` is expected to open (Unix ms), from the
    /// starts waiting ahead of it and the pace workflows start; `None` while unknown.
    fn checkout_eta(&self, now: UnixMillis) -> Option<UnixMillis>;
}

/// Where an intent is settled: the seats, the buyer-visible status, the start queue, and the
/// order rows.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    /// Seat ownership.
    pub seats: &'a SeatStore,
    /// The buyer-visible status.
    pub board: &'a StatusBoard,
    /// Held orders waiting for their workflow.
    pub starts: &'a StartQueue,
    /// PostgreSQL (orders refused before they opened).
    pub db: &'a sqlx::PgPool,
}

/// Settles one delivery of a purchase intent: holds its seats, tells the buyer, and queues its
/// workflow's start, or finishes what an earlier delivery of it started. Records the order on
/// the current span's `order` field.
///
/// - A redelivery reads the order's status first: an order that has one is never held again
///   (`after_redelivery` below). A first delivery skips that read, since its order is almost
///   always new; if it is not, the claim below says so.
/// - The seats are held for the intent's hold time plus [`Stages::open_within`]: the buyer's
///   clock starts when the checkout opens, which the workflow marks by renewing the hold.
/// - A refusal is an answer, not an error: the buyer reads `rejected` with the reason. An
///   unreachable seat store is an error, retried.
/// - The hold's place is given back once the buyer has been told, and nothing here waits for
///   Temporal: the start is queued.
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
        return follow(at, &intent, after_redelivery(&status)).await;
    }
    let holding = stages.holding().await;
    let hold = match take_hold(at.seats, &intent, stages.open_within()).await {
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
    let now = at.seats.now();
    let mut told = held_status(&intent, &hold, now);
    told.checkout_opens_at = stages.checkout_eta(now);
    let claimed = at.board.publish_first(&told).await?;
    drop(holding);
    stages.answered(&intent);
    if !claimed {
        let latest = at.board.latest(intent.event_id, intent.order_id).await?;
        return follow(at, &intent, after_lost_claim(latest.as_ref(), hold)).await;
    }
    queue_start(at, &intent, hold).await?;
    Ok(Settled::Held)
}

/// What a delivery does for an order that already has a status.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Next {
    /// The order is `held` and may have no workflow yet: queue its start with this hold.
    Start(Hold),
    /// The order was refused: make sure its row is written.
    Record(String),
    /// The order owns no seats (refused, or ended): give back the hold this delivery took.
    GiveBack(Hold),
    /// The workflow has the order: nothing left to do.
    Nothing,
}

/// A redelivered intent whose order has a status finishes what the earlier delivery started
/// and never holds again. `held` with its hold: the earlier delivery may have died before
/// queueing the start, so queue it with that very hold (the seats the buyer was told). `rejected`: it may have
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
/// hold it just took). `held`: queue the start with the claim's hold (the seat store handed
/// both the same one), which may not be queued yet. An order that owns no seats (refused, or ended and its
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

async fn follow(
    at: Stores<'_>,
    intent: &PurchaseIntent,
    next: Next,
) -> Result<Settled, SettleError> {
    match next {
        Next::Start(hold) => {
            queue_start(at, intent, hold).await?;
            Ok(Settled::Resumed)
        }
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

/// Queues the start of the order's workflow with `hold` (a copy is dropped by the stream or
/// refused by Temporal: the keys are the order's).
async fn queue_start(
    at: Stores<'_>,
    intent: &PurchaseIntent,
    hold: Hold,
) -> Result<(), SettleError> {
    let request = StartRequest {
        intent: intent.clone(),
        hold,
    };
    at.starts.enqueue(&request).await?;
    Ok(())
}

/// Takes the hold an intent asks for: its named seats, or the best available seats of a
/// section (side by side where they can be; any units of a general-admission section), for
/// the intent's hold time plus `beyond` (intake's allowance for opening the checkout; zero
/// when the workflow holds itself, its checkout opening at once). Intake and the workflow
/// (when started without a hold) both hold through here. Taking the hold again for the same
/// intent (a redelivery, a retried activity) returns the hold already taken, picked seats
/// included.
pub async fn take_hold(
    seats: &SeatStore,
    intent: &PurchaseIntent,
    beyond: Duration,
) -> Result<Hold, SeatError> {
    let order = intent.order_ref();
    let hold_for = Duration::from_secs(intent.hold_seconds.into()) + beyond;
    let access = intent.access();
    match &intent.request {
        SeatRequest::Seats(list) => seats.hold_with(&order, list, hold_for, access).await,
        SeatRequest::BestAvailable { section, quantity } => {
            seats
                .pick_best_with(&order, section, quantity.get(), hold_for, access)
                .await
        }
    }
}

/// The first status of an order intake held. It carries the hold, revisions included, so a
/// delivery that finds it starts the workflow with the very seats the buyer was told. The
/// buyer's clock has not started (`hold_expires_at` is set when the checkout opens).
pub fn held_status(intent: &PurchaseIntent, hold: &Hold, at: UnixMillis) -> OrderStatus {
    OrderStatus {
        order_id: intent.order_id,
        event_id: intent.event_id,
        buyer_id: intent.buyer_id,
        state: OrderState::Held,
        version: 1,
        seats: hold.seat_ids(),
        hold_expires_at: None,
        checkout_opens_at: None,
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
        checkout_opens_at: None,
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
            presale: None,
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
