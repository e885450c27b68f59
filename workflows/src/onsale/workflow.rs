//! The on-sale workflow: deterministic, touching only `ctx` and the activities.
//!
//! ```text
//! plan ─ draft/canceled/closed/missing → end
//!      ─ scheduled → timer to opens_at | command → at opens_at: load seats, status on_sale
//!      ─ on_sale/paused → timer to min(closes_at, next sell-out check) | command
//!          pause/resume → status; reload → load seats; settings → write the per-buyer
//!          limit to the seat store; close or closes_at → closed, end;
//!          sold out → closed, end
//! ```

use std::{collections::VecDeque, time::Duration};

use boxoffice_nats::EventId;
use serde::{Deserialize, Serialize};
use temporalio_common::{ActivityDefinition, RetryPolicy, data_converters::TemporalDeserializable};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult,
};

use crate::{domain::SaleStatus, order::workflow::now_ms};

use super::{
    OnSaleActivities, SaleCommand,
    activities::{Plan, StatusMove},
};

/// How often a running sale checks for sell-out.
const SOLD_OUT_CHECK: Duration = Duration::from_secs(5);
/// Passes through the loop before the history is rolled over (continue-as-new).
const MAX_PASSES: u32 = 300;

/// The workflow's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnSaleInput {
    /// The event.
    pub event: EventId,
}

/// How the sale ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEnd {
    /// The event's status at the end.
    pub status: String,
    /// Why: `closed_by_organizer`, `closes_at`, `sold_out`, or the status found.
    pub reason: String,
}

/// One event's on-sale.
#[workflow]
#[derive(Default)]
pub struct OnSaleWorkflow {
    commands: VecDeque<SaleCommand>,
}

async fn act<AD>(
    ctx: &WorkflowContext<OnSaleWorkflow>,
    activity: AD,
    input: impl Into<AD::Input>,
) -> WorkflowResult<AD::Output>
where
    AD: ActivityDefinition,
    AD::Output: TemporalDeserializable,
{
    let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(60));
    options.retry_policy = Some(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(500))
            .backoff_coefficient(2.0)
            .maximum_interval(Duration::from_secs(10))
            .build(),
    );
    Ok(ctx.execute_activity(activity, input, options).await?)
}

async fn move_status(
    ctx: &WorkflowContext<OnSaleWorkflow>,
    event: EventId,
    from: &[SaleStatus],
    to: SaleStatus,
) -> WorkflowResult<bool> {
    debug_assert!(from.iter().all(|s| s.can_become(to)), "{from:?} -> {to}");
    act(
        ctx,
        OnSaleActivities::set_status,
        StatusMove {
            event,
            from: from.to_vec(),
            to,
        },
    )
    .await
}

/// Waits `ms` or until a command arrives; returns the commands that arrived.
async fn wait(ctx: &mut WorkflowContext<OnSaleWorkflow>, ms: i64) -> Vec<SaleCommand> {
    let pending = |s: &OnSaleWorkflow| !s.commands.is_empty();
    if ms > 0 && !ctx.state(pending) {
        temporalio_sdk::workflows::select! {
            _ = ctx.wait_condition(pending) => {},
            _ = ctx.timer(Duration::from_millis(ms as u64)) => {},
        };
    }
    ctx.state_mut(|s| s.commands.drain(..).collect())
}

async fn close(
    ctx: &WorkflowContext<OnSaleWorkflow>,
    event: EventId,
    reason: &str,
) -> WorkflowResult<SaleEnd> {
    let to = SaleStatus::Closed;
    move_status(ctx, event, &SaleStatus::sources(to), to).await?;
    Ok(SaleEnd {
        status: to.as_str().into(),
        reason: reason.into(),
    })
}

#[workflow_methods]
impl OnSaleWorkflow {
    /// Runs the event's sale from its schedule to its close.
    #[run(name = "OnSale")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: OnSaleInput,
    ) -> WorkflowResult<SaleEnd> {
        let event = input.event;
        for _ in 0..MAX_PASSES {
            let plan: Plan = act(ctx, OnSaleActivities::plan, event).await?;
            let now = now_ms(ctx);
            match plan.status {
                Some(SaleStatus::Scheduled) => {
                    let Some(opens) = plan.opens_at else {
                        // Scheduled without a time: wait for the organizer to set one.
                        let cmds = wait(ctx, 3_600_000).await;
                        if cmds.contains(&SaleCommand::Close) {
                            return close(ctx, event, "closed_by_organizer").await;
                        }
                        continue;
                    };
                    if opens <= now {
                        act(ctx, OnSaleActivities::load, event).await?;
                        move_status(ctx, event, &[SaleStatus::Scheduled], SaleStatus::OnSale)
                            .await?;
                        continue;
                    }
                    let cmds = wait(ctx, opens - now).await;
                    if cmds.contains(&SaleCommand::Close) {
                        return close(ctx, event, "closed_by_organizer").await;
                    }
                }
                Some(live @ (SaleStatus::OnSale | SaleStatus::Paused)) => {
                    if plan.closes_at.is_some_and(|c| c <= now) {
                        return close(ctx, event, "closes_at").await;
                    }
                    let until_close = plan.closes_at.map_or(i64::MAX, |c| c - now);
                    let check = SOLD_OUT_CHECK.as_millis() as i64;
                    let cmds = wait(ctx, until_close.min(check)).await;
                    for cmd in &cmds {
                        match cmd {
                            SaleCommand::Close => {
                                return close(ctx, event, "closed_by_organizer").await;
                            }
                            SaleCommand::Pause => {
                                let to = SaleStatus::Paused;
                                move_status(ctx, event, &[SaleStatus::OnSale], to).await?;
                            }
                            SaleCommand::Resume => {
                                let to = SaleStatus::OnSale;
                                move_status(ctx, event, &[SaleStatus::Paused], to).await?;
                            }
                            SaleCommand::Reload => {
                                act(ctx, OnSaleActivities::load, event).await?;
                            }
                            SaleCommand::Settings => {
                                act(ctx, OnSaleActivities::apply_settings, event).await?;
                            }
                            SaleCommand::Reschedule => {}
                        }
                    }
                    if cmds.is_empty()
                        && live == SaleStatus::OnSale
                        && act(ctx, OnSaleActivities::sold_out, event).await?
                    {
                        return close(ctx, event, "sold_out").await;
                    }
                }
                other => {
                    // A draft, closed or canceled event, or none: nothing to run.
                    let name = other.map_or("missing", SaleStatus::as_str);
                    return Ok(SaleEnd {
                        status: name.into(),
                        reason: name.into(),
                    });
                }
            }
        }
        // Roll the history over; commands not yet read are carried as signals are not, so
        // the loop above drains them before each wait ends.
        match ctx.continue_as_new(input, ContinueAsNewOptions::default()) {
            Ok(never) => match never {},
            Err(e) => Err(e),
        }
    }

    /// An organizer's command.
    #[signal(name = "command")]
    pub fn command(&mut self, _ctx: &mut SyncWorkflowContext<Self>, cmd: SaleCommand) {
        self.commands.push_back(cmd);
    }
}
