//! Reconciliation: seat ownership in NATS KV, orders and tickets in PostgreSQL, and the payment
//! provider's own ledger, compared; what can be repaired safely is repaired, the rest reported.
//!
//! A pass runs while the sale is live, so it is built never to act on a stale picture (ADR
//! 0017, and the rule table in `docs/ARCHITECTURE.md`):
//!
//! 1. **Candidates from snapshots.** The pass reads every order, ticket count and provider
//!    payment once, then walks the seat store. These snapshots only *select* what to look at:
//!    they are already old when the walk reads a seat.
//! 2. **Decisions on fresh facts.** For each candidate it reads that one seat, that one order
//!    (state and version), that order's payments at the provider, and whether a workflow still
//!    drives the order, all after deciding to look.
//! 3. **Conditional repairs.** A seat is freed only at the revision just read; tickets are
//!    issued only while the order is still `confirmed` at the version just read; money is
//!    refunded or voided only for an order that has ended (terminal states are final) or that
//!    PostgreSQL never knew, with a fixed idempotency key. Anything that moved makes the
//!    repair do nothing.
//! 4. **Live orders are the workflow's.** An order whose workflow is running is never touched
//!    here; the workflow is the one place that moves it.
//!
//! A candidate whose check or repair fails is reported and the pass carries on.

mod facts;
mod money;
mod rules;
pub mod workflow;

use std::sync::Arc;

use boxoffice_nats::{OrderId, SeatId, SeatStore};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use temporalio_client::Client;
use uuid::Uuid;

use crate::{order::TicketSigner, payments::http::HttpProvider};

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A lapsed hold whose order no workflow is driving on hold: released.
    LapsedHold,
    /// A hold not yet lapsed whose order has ended (a delivery that died between claiming a
    /// seat and recording it, whose redelivery took others; intake's holds run for the
    /// checkout allowance, so these would stay for half an hour): released.
    EndedOrderHold,
    /// A seat sold to an order that has ended and paid nothing: freed.
    SoldWithoutPayment,
    /// A seat sold to an ended (or unknown) order that holds captured money: reported.
    SoldToClosedOrder,
    /// A confirmed, captured order without tickets and without a running workflow: tickets
    /// issued.
    CapturedWithoutTicket,
    /// Money captured for an order that has ended without a seat, or that we never knew:
    /// refunded.
    CapturedWithoutSeat,
    /// An authorisation for an order that has ended or that we never knew: voided.
    AuthorizedWithoutOrder,
    /// Issued tickets without a captured payment: reported.
    TicketWithoutCapture,
    /// An issued order whose seats are not all sold to it in the seat store: reported.
    IssuedWithoutSeat,
    /// An order still on hold long after its hold lapsed, with no workflow driving it:
    /// reported.
    StalledOrder,
    /// A buyer's allowance counts tickets the seats say the buyer neither holds nor bought:
    /// the ledger is corrected at the revision read.
    AllowanceDrift,
}

impl FindingKind {
    /// The snake-case name (reports, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LapsedHold => "lapsed_hold",
            Self::EndedOrderHold => "ended_order_hold",
            Self::SoldWithoutPayment => "sold_without_payment",
            Self::SoldToClosedOrder => "sold_to_closed_order",
            Self::CapturedWithoutTicket => "captured_without_ticket",
            Self::CapturedWithoutSeat => "captured_without_seat",
            Self::AuthorizedWithoutOrder => "authorized_without_order",
            Self::TicketWithoutCapture => "ticket_without_capture",
            Self::IssuedWithoutSeat => "issued_without_seat",
            Self::StalledOrder => "stalled_order",
            Self::AllowanceDrift => "allowance_drift",
        }
    }
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

/// A point in a pass where a test may step in (production passes set no hook). Tests use it
/// to move an order between the pass's reads and its writes, deterministically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// The order, ticket and payment snapshots are read; the seat walk has not begun.
    Listed,
    /// The seat walk is done; no candidate has been looked at yet.
    Walked,
    /// About to read the fresh facts of one candidate.
    Candidate(FindingKind),
    /// Fresh facts read and a repair decided; the conditional write comes next.
    Decided(FindingKind),
}

/// Called at every [`Checkpoint`] of a pass; the pass waits for the returned future.
pub type Hook = Arc<dyn Fn(Checkpoint) -> BoxFuture<'static, ()> + Send + Sync>;

/// What the reconciler reaches.
#[derive(Clone)]
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
    /// Temporal, to tell whether an order's workflow still drives it.
    pub temporal: Client,
    /// Nothing is repaired about an order or hold until this long (ms) after it last moved or
    /// lapsed: a margin for workflows that are about to act, never the safety itself (the
    /// fresh reads and conditional writes are).
    pub grace_ms: i64,
    /// A test's hook at each checkpoint (`None` in production).
    pub hook: Option<Hook>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("provider_name", &self.provider_name)
            .field("grace_ms", &self.grace_ms)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// One full pass, recorded in `reconciliation_runs`.
    pub async fn run(&self, trigger: &str) -> Result<Report, ReconcileError> {
        let run_id = Uuid::now_v7();
        sqlx::query!(
            "insert into reconciliation_runs (run_id, trigger, status) values ($1, $2, 'running')",
            run_id,
            trigger,
        )
        .execute(&self.db)
        .await
        .map_err(fail)?;
        let outcome = self.pass().await;
        let report = outcome.as_ref().ok().map(|(checked, findings)| {
            let repaired = findings.iter().filter(|f| f.repaired).count() as u32;
            Report {
                run_id,
                trigger: trigger.to_owned(),
                checked_seats: *checked,
                repaired,
                unresolved: findings.len() as u32 - repaired,
                findings: findings.clone(),
            }
        });
        let (status, error) = match &outcome {
            Ok(_) => ("succeeded", None),
            Err(e) => ("failed", Some(e.to_string())),
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
        sqlx::query!(
            "update reconciliation_runs set status = $2, finished_at = now(), checked_seats = $3,
                    repaired = $4, unresolved = $5, findings = $6, error = $7
             where run_id = $1",
            run_id,
            status,
            checked,
            repaired,
            unresolved,
            findings,
            error,
        )
        .execute(&self.db)
        .await
        .map_err(fail)?;
        if let Some(r) = &report {
            for f in &r.findings {
                metrics::counter!("boxoffice_reconcile_findings_total",
                    "kind" => f.kind.as_str(), "repaired" => f.repaired.to_string())
                .increment(1);
            }
        }
        metrics::counter!("boxoffice_reconcile_runs_total", "status" => status).increment(1);
        outcome?;
        report.ok_or_else(|| ReconcileError("no report".into()))
    }

    /// Runs the test hook at `at`, if there is one.
    async fn at(&self, at: Checkpoint) {
        if let Some(hook) = &self.hook {
            hook(at).await;
        }
    }
}
