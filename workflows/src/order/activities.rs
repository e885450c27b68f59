//! Thin activities over the seat store: translate, call, classify. Business outcomes are
//! values; only "NATS is unavailable" is an error, which Temporal retries.

use std::sync::Arc;

use boxoffice_nats::{SeatError, SeatStore};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{ConfirmOutcome, SeatsRequest};

/// The seat activities, sharing one seat store (one NATS connection) per worker.
pub struct SeatActivities {
    /// The store.
    pub seats: SeatStore,
}

#[activities]
impl SeatActivities {
    /// Sells the order's held seats, or reports the hold lapsed.
    #[activity]
    pub async fn confirm_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<ConfirmOutcome, ActivityError> {
        match self.seats.confirm(&req.order, &req.seats).await {
            Ok(_) => Ok(ConfirmOutcome::Confirmed),
            Err(SeatError::Lapsed { .. } | SeatError::NotOwner { .. }) => {
                Ok(ConfirmOutcome::Lapsed)
            }
            Err(e) => Err(anyhow::anyhow!(e).into()),
        }
    }

    /// Gives the order's held seats back (a no-op for seats no longer its own).
    #[activity]
    pub async fn release_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: SeatsRequest,
    ) -> Result<u32, ActivityError> {
        match self.seats.release(&req.order, &req.seats).await {
            Ok(n) => Ok(n as u32),
            // Lost to a lapse and a new owner: nothing of ours left to release.
            Err(SeatError::NotOwner { .. }) => Ok(0),
            Err(e) => Err(anyhow::anyhow!(e).into()),
        }
    }
}
