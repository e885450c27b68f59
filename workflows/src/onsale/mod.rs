//! The scheduled on-sale: one Temporal workflow per event (`onsale-<event>`).
//!
//! Durable timers open the sale at `opens_at` (load the sellable inventory into the seat
//! store, then `events.status = 'on_sale'`) and close it at `closes_at` or at sell-out; the
//! organizer's pause, resume, close, reschedule, reload and settings changes act through its
//! `command` signal.
//! The waiting room's pacer follows `events.status`, so the workflow drives the whole sale by
//! loading seats and moving that one column, always with a conditional update (a retried
//! activity changes nothing twice). See `docs/adr/0013-on-sale-workflow.md`.

mod activities;
mod workflow;

/// The organizer's commands live with the sale lifecycle in the domain.
pub use crate::domain::SaleCommand;
pub use activities::{OnSaleActivities, Plan};
pub use workflow::{OnSaleInput, OnSaleWorkflow, SaleEnd};

use boxoffice_nats::EventId;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowSignalOptions,
    WorkflowStartOptions,
    errors::{WorkflowInteractionError, WorkflowStartError},
};

/// Workflow id of an event's on-sale.
pub fn workflow_id(event: EventId) -> String {
    format!("onsale-{event}")
}

/// Reaching an event's sale failed.
#[derive(Debug, thiserror::Error)]
pub enum OnSaleError {
    /// No workflow runs for the event.
    #[error("no on-sale is running for this event")]
    NotRunning,
    /// Temporal refused or could not be reached.
    #[error("temporal: {0}")]
    Temporal(String),
}

/// Starts the event's on-sale workflow on `task_queue`; one already running is fine.
pub async fn start(client: &Client, task_queue: &str, event: EventId) -> Result<(), OnSaleError> {
    let options = WorkflowStartOptions::new(task_queue.to_owned(), workflow_id(event))
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
        .build();
    match client
        .start_workflow(OnSaleWorkflow::run, OnSaleInput { event }, options)
        .await
    {
        Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(()),
        Err(e) => Err(OnSaleError::Temporal(e.to_string())),
    }
}

/// Sends `cmd` to the event's running sale.
pub async fn command(client: &Client, event: EventId, cmd: SaleCommand) -> Result<(), OnSaleError> {
    match client
        .get_workflow_handle::<OnSaleWorkflow>(workflow_id(event))
        .signal(
            OnSaleWorkflow::command,
            cmd,
            WorkflowSignalOptions::default(),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(WorkflowInteractionError::NotFound(_)) => Err(OnSaleError::NotRunning),
        Err(e) => Err(OnSaleError::Temporal(e.to_string())),
    }
}
