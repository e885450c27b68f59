//! The order's activities: thin, idempotent steps over the seat store, PostgreSQL, the payment
//! provider and the status board. Business outcomes come back as values; only "a dependency is
//! unavailable" is an error, which Temporal retries with backoff until it is back.

use std::{sync::Arc, time::Duration};

use boxoffice_nats::{SeatError, SeatStore};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{ConfirmOutcome, SeatsRequest, StatusBoard, TicketSigner, workflow_id};
use crate::{
    domain::{OrderState, OrderStatus, PaymentView, PurchaseIntent, TicketView},
    payments::{NewPayment, PaymentError, PaymentProvider, PaymentStatus, http::HttpProvider},
    store::{self, NewOrder, StoreError, Transitioned},
};
use boxoffice_nats::seat::{Hold, UnixMillis};

/// Everything the activities reach, shared by every order a worker runs.
pub struct OrderActivities {
    /// Seat ownership.
    pub seats: SeatStore,
    /// Orders, payments, tickets.
    pub db: PgPool,
    /// The payment provider.
    pub payments: HttpProvider,
    /// Its name in `payments.provider`.
    pub provider_name: String,
    /// Order status for buyers.
    pub board: StatusBoard,
    /// Ticket signing.
    pub tickets: TicketSigner,
}

/// Runs an activity body and records its latency and outcome
/// (`boxoffice_activity_seconds{activity, outcome}`).
async fn timed<T>(
    activity: &'static str,
    body: impl std::future::Future<Output = Result<T, ActivityError>>,
) -> Result<T, ActivityError> {
    let started = std::time::Instant::now();
    let result = body.await;
    let outcome = if result.is_ok() { "ok" } else { "retry" };
    metrics::histogram!("boxoffice_activity_seconds", "activity" => activity, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

fn retry(e: impl std::fmt::Display) -> ActivityError {
    anyhow::anyhow!(e.to_string()).into()
}

fn store_retry(e: StoreError) -> ActivityError {
    retry(e)
}

/// A hold, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldOutcome {
    /// Held.
    Held(Hold),
    /// Refused, with the reason the buyer reads.
    Rejected(String),
}

/// Opening an order: record it, priced, and create its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrder {
    /// What was asked.
    pub intent: PurchaseIntent,
    /// What is held.
    pub hold: Hold,
    /// When the checkout must close (before the hold lapses).
    pub payment_expires_at: UnixMillis,
}

/// What opening came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opened {
    /// Recorded and waiting for the buyer to pay.
    Priced {
        /// Total.
        amount_cents: i64,
        /// Currency.
        currency: String,
        /// The payment.
        payment: PaymentView,
    },
    /// The catalog or the provider refused it.
    Refused(String),
    /// Too little of the hold is left to give the buyer a checkout.
    Lapsed,
}

/// The shortest checkout worth opening.
const MIN_CHECKOUT_MS: i64 = 2_000;

impl OrderActivities {
    /// Records an order that ends before it is opened, so PostgreSQL knows it.
    async fn close_unopened(
        &self,
        intent: &PurchaseIntent,
        state: OrderState,
        reason: &str,
    ) -> Result<(), ActivityError> {
        super::intake::record_unopened(&self.db, intent, state, reason)
            .await
            .map_err(store_retry)
    }
}

/// Input of [`OrderActivities::renew_hold`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewHold {
    /// What the buyer asked for (the order, and its row if it cannot open).
    pub intent: PurchaseIntent,
    /// Its seats.
    pub seats: Vec<boxoffice_nats::SeatId>,
    /// The expiry intake held them until (a seat with another one was renewed already).
    pub taken_until: UnixMillis,
    /// The buyer's hold time, seconds, from the checkout's opening.
    pub hold_seconds: u32,
}

/// A status change to write to PostgreSQL and publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The state left.
    pub from: OrderState,
    /// The new snapshot (its `state` is the target).
    pub status: OrderStatus,
    /// When `from` was entered (for time-in-state).
    pub from_at: UnixMillis,
}

/// What capturing came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureOutcome {
    /// The money is taken.
    Captured(i64),
    /// The provider refused (the authorisation is gone).
    Refused(String),
}

/// A seat-store error as a value: a refusal the workflow branches on, or a retry.
fn rejection(e: SeatError) -> Result<String, ActivityError> {
    match e {
        SeatError::Unavailable(_) => Err(retry(e)),
        other => Ok(other.code().to_owned()),
    }
}

/// The reason a buyer and an organizer read for an order the store refused: a stable code.
/// Never a constraint name or the store's own words; those go to the log.
fn refusal(e: &StoreError) -> &'static str {
    match e {
        StoreError::Constraint(c) if c == "orders_buyer_idempotency_key_unique" => {
            "idempotency_key_reused"
        }
        _ => "invalid_order",
    }
}

fn payment_retry(e: PaymentError) -> Result<String, ActivityError> {
    match e {
        PaymentError::Refused { code, .. } => Ok(code),
        other => Err(retry(other)),
    }
}

#[activities]
impl OrderActivities {
    /// Holds the intent's seats (for an order started without intake's hold), and records a
    /// refusal where the buyer reads it.
    #[activity]
    pub async fn hold_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        intent: PurchaseIntent,
    ) -> Result<HoldOutcome, ActivityError> {
        timed("hold_seats", async move {
            match super::intake::take_hold(&self.seats, &intent, Duration::ZERO).await {
                Ok(hold) => Ok(HoldOutcome::Held(hold)),
                Err(e) => {
                    let reason = rejection(e)?;
                    super::intake::reject(
                        &self.db,
                        &self.board,
                        &intent,
                        &reason,
                        self.seats.now(),
                    )
                    .await
                    .map_err(retry)?;
                    Ok(HoldOutcome::Rejected(reason))
                }
            }
        })
        .await
    }

    /// Renews the hold intake took to the full hold time from now, as the checkout opens: the
    /// buyer's time to pay starts here, however long the order waited for its workflow.
    /// `None`: the hold lapsed first (the wait outlasted intake's allowance) and the order
    /// cannot open.
    #[activity]
    pub async fn renew_hold(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: RenewHold,
    ) -> Result<Option<Hold>, ActivityError> {
        timed("renew_hold", async move {
            let hold_for = Duration::from_secs(req.hold_seconds.into());
            let order = req.intent.order_ref();
            match self
                .seats
                .renew(&order, &req.seats, req.taken_until, hold_for)
                .await
            {
                Ok(hold) => Ok(Some(hold)),
                Err(e @ SeatError::Unavailable(_)) => Err(retry(e)),
                Err(e) => {
                    tracing::warn!(order = %order.order, error = %e, "hold lapsed before its checkout opened");
                    self.close_unopened(&req.intent, OrderState::Expired, "hold_lapsed")
                        .await?;
                    Ok(None)
                }
            }
        })
        .await
    }

    /// Records the order, priced from the catalog, and creates its payment intent (expiring
    /// before the hold). Repeats return the same order and the same intent (idempotency key).
    #[activity]
    pub async fn open_order(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: OpenOrder,
    ) -> Result<Opened, ActivityError> {
        timed("open_order", async move {
            let order = req.intent.order_ref();
            if req.payment_expires_at - self.seats.now() < MIN_CHECKOUT_MS {
                // Started too late (intake's start was delayed past the hold): no time to pay.
                self.close_unopened(&req.intent, OrderState::Expired, "hold_lapsed")
                    .await?;
                return Ok(Opened::Lapsed);
            }
            let recorded = match store::record_order(
                &self.db,
                &NewOrder {
                    order,
                    idempotency_key: req.intent.idempotency_key.clone(),
                    request_hash: req.intent.request_hash.clone(),
                    seats: req.hold.seat_ids(),
                    hold_expires_at: req.hold.expires_at,
                    workflow_id: workflow_id(order.order),
                },
            )
            .await
            {
                Ok(r) => r,
                Err(e @ (StoreError::Invalid(_) | StoreError::Constraint(_))) => {
                    let reason = refusal(&e);
                    tracing::warn!(order = %order.order, error = %e, reason, "the store refused an order");
                    self.close_unopened(&req.intent, OrderState::Rejected, reason)
                        .await?;
                    return Ok(Opened::Refused(reason.to_owned()));
                }
                Err(e) => return Err(store_retry(e)),
            };
            let created = self
                .payments
                .create(
                    &format!("{}:create", order.order),
                    &NewPayment {
                        amount: recorded.amount_cents,
                        currency: recorded.currency.clone(),
                        order_id: order.order.to_string(),
                        expires_at: store::ts(req.payment_expires_at),
                    },
                )
                .await;
            let intent = match created {
                Ok(i) => i,
                Err(e) => {
                    return Ok(Opened::Refused(format!(
                        "payment_refused: {}",
                        payment_retry(e)?
                    )));
                }
            };
            store::record_payment(
                &self.db,
                &self.provider_name,
                order.order.as_uuid(),
                &intent,
            )
            .await
            .map_err(store_retry)?;
            Ok(Opened::Priced {
                amount_cents: recorded.amount_cents,
                currency: recorded.currency,
                payment: PaymentView {
                    id: intent.id,
                    state: intent.status,
                    checkout_url: intent.checkout_url,
                    expires_at: intent.expires_at.timestamp_millis(),
                },
            })
        })
        .await
    }

    /// Writes a state change to PostgreSQL (conditional on the state left) and publishes the
    /// snapshot. A retry finds the state already there and publishes the same snapshot again
    /// (deduplicated by NATS).
    #[activity]
    pub async fn record_state(
        self: Arc<Self>,
        _ctx: ActivityContext,
        change: StateChange,
    ) -> Result<(), ActivityError> {
        timed("record_state", async move {
            let st = &change.status;
            let detail = serde_json::json!({
                "reason": st.reason,
                "payment": st.payment.as_ref().map(|p| &p.id),
                "tickets": st.tickets.len(),
            });
            let outcome = store::transition(
                &self.db,
                st.order_id.as_uuid(),
                change.from,
                st.state,
                st.reason.as_deref(),
                detail,
            )
            .await
            .map_err(store_retry)?;
            match outcome {
                // Only the workflow moves an order after intake, so these are a bug or an
                // operator's hand: say so loudly, and still publish what the workflow knows
                // (retrying could never succeed, and would leave the buyer without an answer).
                Transitioned::Conflict(now) => {
                    tracing::error!(order = %st.order_id, from = %change.from, to = %st.state, stored = %now,
                        "order state in PostgreSQL disagrees with its workflow");
                }
                Transitioned::Missing => {
                    tracing::error!(order = %st.order_id, from = %change.from, to = %st.state,
                        "order is not in PostgreSQL");
                }
                Transitioned::Applied | Transitioned::AlreadyThere => {}
            }
            self.board.publish(st).await.map_err(retry)?;
            if outcome == Transitioned::Applied {
                metrics::counter!("boxoffice_orders_total", "state" => st.state.as_str()).increment(1);
                metrics::histogram!("boxoffice_order_state_seconds", "state" => change.from.as_str())
                    .record((st.at - change.from_at).max(0) as f64 / 1000.0);
            }
            Ok(())
        })
        .await
    }

    /// Asks the provider where a payment is (the active query when a callback is late).
    #[activity]
    pub async fn payment_status(
        self: Arc<Self>,
        _ctx: ActivityContext,
        id: String,
    ) -> Result<PaymentStatus, ActivityError> {
        timed("payment_status", async move {
            let started = std::time::Instant::now();
            let intent = self.payments.retrieve(&id).await.map_err(retry)?;
            metrics::histogram!("boxoffice_payment_call_seconds", "call" => "retrieve")
                .record(started.elapsed().as_secs_f64());
            Ok(intent.status)
        })
        .await
    }

    /// Voids a payment that must not be taken. Returns where it ended up (a payment that was
    /// already closed stays as it is).
    #[activity]
    pub async fn void_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: PaymentRef,
    ) -> Result<PaymentStatus, ActivityError> {
        timed("void_payment", async move {
            let started = std::time::Instant::now();
            let intent = match self
                .payments
                .cancel(&format!("{}:void", req.id), &req.id)
                .await
            {
                Ok(i) => i,
                Err(PaymentError::Refused { .. }) => {
                    self.payments.retrieve(&req.id).await.map_err(retry)?
                }
                Err(e) => return Err(retry(e)),
            };
            metrics::histogram!("boxoffice_payment_call_seconds", "call" => "cancel")
                .record(started.elapsed().as_secs_f64());
            store::record_payment(&self.db, &self.provider_name, req.order, &intent)
                .await
                .map_err(store_retry)?;
            Ok(intent.status)
        })
        .await
    }

    /// Captures an authorised payment in full, once (idempotency key).
    #[activity]
    pub async fn capture(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: PaymentRef,
    ) -> Result<CaptureOutcome, ActivityError> {
        timed("capture", async move {
            let started = std::time::Instant::now();
            let intent = match self
                .payments
                .capture(&format!("{}:capture", req.id), &req.id)
                .await
            {
                Ok(i) => i,
                Err(e) => return Ok(CaptureOutcome::Refused(payment_retry(e)?)),
            };
            metrics::histogram!("boxoffice_payment_call_seconds", "call" => "capture")
                .record(started.elapsed().as_secs_f64());
            store::record_payment(&self.db, &self.provider_name, req.order, &intent)
                .await
                .map_err(store_retry)?;
            Ok(CaptureOutcome::Captured(intent.amount_captured))
        })
        .await
    }

    /// Refunds a captured payment in full, once (idempotency key). Returns the amount.
    #[activity]
    pub async fn refund_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: PaymentRef,
    ) -> Result<i64, ActivityError> {
        timed("refund_payment", async move {
            let refunded = match self
                .payments
                .refund(&format!("{}:refund", req.id), &req.id)
                .await
            {
                Ok(n) => n,
                // Already refunded in full by an earlier attempt with another key (reconciler).
                Err(PaymentError::Refused { .. }) => 0,
                Err(e) => return Err(retry(e)),
            };
            let intent = self.payments.retrieve(&req.id).await.map_err(retry)?;
            store::record_payment(&self.db, &self.provider_name, req.order, &intent)
                .await
                .map_err(store_retry)?;
            Ok(refunded.max(intent.amount_refunded))
        })
        .await
    }

    /// Sells the order's held seats, or reports the hold lapsed.
    #[activity]
    pub async fn confirm_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<ConfirmOutcome, ActivityError> {
        timed("confirm_seats", async move {
            match self.seats.confirm(&req.order, &req.seats).await {
                Ok(_) => Ok(ConfirmOutcome::Confirmed),
                Err(SeatError::Lapsed { .. } | SeatError::NotOwner { .. }) => {
                    Ok(ConfirmOutcome::Lapsed)
                }
                Err(e) => Err(retry(e)),
            }
        })
        .await
    }

    /// Gives the order's held seats back (a no-op for seats no longer its own).
    #[activity]
    pub async fn release_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<u32, ActivityError> {
        timed("release_seats", async move {
            match self.seats.release(&req.order, &req.seats).await {
                Ok(n) => Ok(n as u32),
                // Lost to a lapse and a new owner: nothing of ours left to release.
                Err(SeatError::NotOwner { .. }) => Ok(0),
                Err(e) => Err(retry(e)),
            }
        })
        .await
    }

    /// Returns a refunded (or uncapturable) order's sold seats to the pool.
    #[activity]
    pub async fn refund_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<u32, ActivityError> {
        timed("refund_seats", async move {
            match self.seats.refund(&req.order, &req.seats).await {
                Ok(n) => Ok(n as u32),
                Err(SeatError::NotOwner { .. }) => Ok(0),
                Err(e) => Err(retry(e)),
            }
        })
        .await
    }

    /// Issues one signed ticket per seat (reusing any an earlier attempt issued).
    #[activity]
    pub async fn issue_tickets(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<Vec<TicketView>, ActivityError> {
        timed("issue_tickets", async move {
            let event = req.order.event;
            let signer = self.tickets.clone();
            store::issue_tickets(&self.db, &req.order, &req.seats, |seat| {
                signer.issue(event, seat)
            })
            .await
            .map_err(store_retry)
        })
        .await
    }

    /// Voids the order's tickets (refund).
    #[activity]
    pub async fn void_tickets(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<u64, ActivityError> {
        timed("void_tickets", async move {
            store::void_tickets(&self.db, req.order.order.as_uuid())
                .await
                .map_err(store_retry)
        })
        .await
    }
}

/// A payment, and the order it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRef {
    /// The provider's id.
    pub id: String,
    /// Our order.
    pub order: uuid::Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_order_reads_a_code_never_a_constraint_name_or_the_stores_words() {
        let reused = StoreError::Constraint("orders_buyer_idempotency_key_unique".into());
        assert_eq!(refusal(&reused), "idempotency_key_reused");
        for other in [
            StoreError::Constraint("orders_amount_cents_check".into()),
            StoreError::Invalid("section X is not in the catalog of event Y".into()),
        ] {
            assert_eq!(refusal(&other), "invalid_order");
        }
    }
}
