//! Reconciliation on Temporal: a workflow of one activity, started every few minutes by a
//! schedule and on demand by `boxofficectl reconcile`. Temporal gives it what a cron job lacks:
//! one run at a time (overlap policy), retries, and a history an operator can read.

use std::{sync::Arc, time::Duration};

use temporalio_client::{
    Client,
    schedules::{
        CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy, ScheduleSpec,
    },
};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

use super::{Reconciler, Report};

/// Id of the schedule the worker creates for `task_queue` (one per deployment).
pub fn schedule_id(task_queue: &str) -> String {
    format!("boxoffice-reconcile-{task_queue}")
}

/// The reconciliation activity.
pub struct ReconcileActivities {
    /// The reconciler.
    pub reconciler: Reconciler,
}

#[activities]
impl ReconcileActivities {
    /// One full pass.
    #[activity]
    pub async fn reconcile(
        self: Arc<Self>,
        _ctx: ActivityContext,
        trigger: String,
    ) -> Result<Report, ActivityError> {
        self.reconciler
            .run(&trigger)
            .await
            .map_err(|e| anyhow::anyhow!(e.to_string()).into())
    }
}

/// One reconciliation run.
#[workflow]
#[derive(Default)]
pub struct ReconcileWorkflow;

#[workflow_methods]
impl ReconcileWorkflow {
    /// Runs the pass and returns its report.
    #[run(name = "Reconcile")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, trigger: String) -> WorkflowResult<Report> {
        let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(600));
        options.retry_policy = Some(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(5)
                .build(),
        );
        Ok(ctx
            .execute_activity(ReconcileActivities::reconcile, trigger, options)
            .await?)
    }
}

/// Creates the schedule (every `every`, one run at a time) unless it exists.
pub async fn ensure_schedule(
    client: &Client,
    task_queue: &str,
    every: Duration,
) -> Result<(), ScheduleError> {
    let options = CreateScheduleOptions::builder()
        .action(ScheduleAction::start_workflow(
            ReconcileWorkflow::run,
            "schedule".to_owned(),
            task_queue,
            format!("{}-run", schedule_id(task_queue)),
        ))
        .spec(ScheduleSpec::from_interval(every))
        .overlap_policy(ScheduleOverlapPolicy::Skip)
        .note("compares seats, orders, tickets and the provider's ledger; repairs what is safe")
        .build();
    match client
        .create_schedule(schedule_id(task_queue), options)
        .await
    {
        Ok(_) => Ok(()),
        Err(ScheduleError::Rpc(s)) if s.code() == temporalio_client::tonic::Code::AlreadyExists => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Runs one pass now on `task_queue`'s workers and waits for its report (`trigger` is recorded
/// with the run: `manual` for on-demand passes, as `reconciliation_runs` allows).
pub async fn run_now(
    client: &Client,
    task_queue: &str,
    trigger: &str,
) -> Result<Report, super::ReconcileError> {
    let id = format!("reconcile-{trigger}-{}", uuid::Uuid::now_v7());
    let handle = client
        .start_workflow(
            ReconcileWorkflow::run,
            trigger.to_owned(),
            temporalio_client::WorkflowStartOptions::new(task_queue.to_owned(), id).build(),
        )
        .await
        .map_err(super::fail)?;
    handle
        .get_result(Default::default())
        .await
        .map_err(super::fail)
}
