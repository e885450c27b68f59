//! The bare workflow the orders benchmark measures against: the same shape as an order's happy
//! path (two local activities, a wait for one signal raced against a timer, six more local
//! activities), with bodies that do nothing. The signal is sent when the second activity has
//! run, as a buyer pays only once the order's status says it awaits payment. What it reaches per second is what the Temporal
//! server and worker alone allow on this machine; the order workflow's ratio to it is what our
//! activities (KV, PostgreSQL, the provider, NATS) cost on top.

use std::{sync::Arc, time::Duration};

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    LocalActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

/// Activities that do nothing, except that `open` tells the driver "awaiting payment", as the
/// real order's second activity publishes the status the buyer pays on.
pub struct Noop {
    /// Where "this workflow now awaits its signal" goes (the workflow's number).
    pub opened: tokio::sync::mpsc::UnboundedSender<u32>,
}

#[activities]
impl Noop {
    /// Returns at once.
    #[activity]
    pub async fn noop(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: u32,
    ) -> Result<u32, ActivityError> {
        Ok(n)
    }

    /// Returns at once, after telling the driver the workflow is ready for its signal.
    #[activity]
    pub async fn open(
        self: Arc<Self>,
        _ctx: ActivityContext,
        n: u32,
    ) -> Result<u32, ActivityError> {
        let _ = self.opened.send(n);
        Ok(n)
    }
}

fn la() -> LocalActivityOptions {
    boxoffice_workflows::order::workflow::local_activity_options()
}

/// An order's shape with nothing inside.
#[workflow]
#[derive(Default)]
pub struct BareOrder {
    paid: bool,
}

#[workflow_methods]
impl BareOrder {
    /// Two no-ops, wait for `payment` (or 10 minutes), six no-ops.
    #[run(name = "BareOrder")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u32) -> WorkflowResult<u32> {
        ctx.execute_local_activity(Noop::noop, n, la()).await?;
        ctx.execute_local_activity(Noop::open, n, la()).await?;
        temporalio_sdk::workflows::select! {
            _ = ctx.wait_condition(|s| s.paid) => {},
            _ = ctx.timer(Duration::from_secs(600)) => {},
        };
        for i in 0..6 {
            ctx.execute_local_activity(Noop::noop, n + i, la()).await?;
        }
        Ok(n)
    }

    /// The buyer paid.
    #[signal(name = "payment")]
    pub fn payment(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.paid = true;
    }
}
