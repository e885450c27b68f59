//! The order workflow as its callers see it: one typed client for its signals and queries.
//!
//! The buyer API (cancel), the payment webhooks (the provider's verdict), the organizer side
//! (refund, the run and its history), reconciliation (is a workflow driving the order?) and
//! the CLI (the live status) all reach an order's workflow through [`OrderClient`], so "no
//! workflow runs for this order" is told apart from "Temporal failed" in one place, and each
//! caller decides what that means for it (a buyer's cancel: not started yet; a late webhook:
//! the order is over; a refund: the window has closed).

use std::time::Duration;

use boxoffice_nats::OrderId;
use chrono::{DateTime, Utc};
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowFetchHistoryOptions,
    WorkflowSignalOptions,
    errors::{WorkflowInteractionError, WorkflowQueryError},
};

use super::{OrderWorkflow, PaymentSignal, RefundRequest, workflow_id};
use crate::domain::OrderStatus;

/// Reaching an order's workflow failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderClientError {
    /// No workflow runs for the order: not started yet, or already ended.
    #[error("no workflow runs for this order")]
    NotRunning,
    /// Temporal refused, failed or did not answer in time; a retry may succeed.
    #[error("temporal: {0}")]
    Temporal(String),
}

impl From<WorkflowInteractionError> for OrderClientError {
    fn from(e: WorkflowInteractionError) -> Self {
        match e {
            WorkflowInteractionError::NotFound(_) => Self::NotRunning,
            other => Self::Temporal(other.to_string()),
        }
    }
}

impl From<WorkflowQueryError> for OrderClientError {
    fn from(e: WorkflowQueryError) -> Self {
        match e {
            WorkflowQueryError::NotFound(_) => Self::NotRunning,
            other => Self::Temporal(other.to_string()),
        }
    }
}

/// One event of a workflow's history, for the organizer's order page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The event's number in the history.
    pub id: i64,
    /// Its type, e.g. `ACTIVITY_TASK_COMPLETED`.
    pub kind: String,
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
}

/// An order's workflow run as Temporal describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    /// The run's status, e.g. `Running`, `Completed`.
    pub status: WorkflowExecutionStatus,
    /// Its history, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Typed access to order workflows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OrderClient {
    temporal: Client,
}

impl OrderClient {
    /// A client over a connected Temporal client.
    pub fn new(temporal: Client) -> Self {
        Self { temporal }
    }

    fn handle(&self, order: OrderId) -> temporalio_client::WorkflowHandle<Client, OrderWorkflow> {
        self.temporal
            .get_workflow_handle::<OrderWorkflow>(workflow_id(order))
    }

    /// The buyer's cancel of an unpaid hold (the workflow ignores it once paid).
    pub async fn cancel(&self, order: OrderId) -> Result<(), OrderClientError> {
        let options = WorkflowSignalOptions::default();
        Ok(self
            .handle(order)
            .signal(OrderWorkflow::cancel, (), options)
            .await?)
    }

    /// The provider's verdict on one of the order's payment intents.
    pub async fn payment(
        &self,
        order: OrderId,
        verdict: PaymentSignal,
    ) -> Result<(), OrderClientError> {
        let options = WorkflowSignalOptions::default();
        Ok(self
            .handle(order)
            .signal(OrderWorkflow::payment, verdict, options)
            .await?)
    }

    /// An organizer's refund of an issued order, within its refund window.
    pub async fn refund(
        &self,
        order: OrderId,
        request: RefundRequest,
    ) -> Result<(), OrderClientError> {
        let options = WorkflowSignalOptions::default();
        Ok(self
            .handle(order)
            .signal(OrderWorkflow::refund, request, options)
            .await?)
    }

    /// The order's status as its workflow holds it now (`None` before it recorded one).
    pub async fn status(&self, order: OrderId) -> Result<Option<OrderStatus>, OrderClientError> {
        Ok(self
            .handle(order)
            .query(OrderWorkflow::status, (), Default::default())
            .await?)
    }

    /// Whether a workflow runs for the order now, asked within `limit` (a running workflow
    /// owns its order: nothing else may change it).
    pub async fn is_running(
        &self,
        order: OrderId,
        limit: Duration,
    ) -> Result<bool, OrderClientError> {
        let asked = tokio::time::timeout(
            limit,
            self.handle(order)
                .describe(WorkflowDescribeOptions::default()),
        )
        .await
        .map_err(|_| OrderClientError::Temporal("no answer to a describe in time".into()))?;
        match asked.map_err(OrderClientError::from) {
            Ok(d) => Ok(d.status() == WorkflowExecutionStatus::Running),
            Err(OrderClientError::NotRunning) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The order's latest run and its history, asked within `limit`.
    pub async fn run(&self, order: OrderId, limit: Duration) -> Result<RunView, OrderClientError> {
        let handle = self.handle(order);
        let ask = async {
            let status = handle
                .describe(WorkflowDescribeOptions::default())
                .await?
                .status();
            let events = handle
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await?;
            let history = events
                .iter()
                .map(|e| HistoryEntry {
                    id: e.event_id,
                    kind: e
                        .event_type()
                        .as_str_name()
                        .trim_start_matches("EVENT_TYPE_")
                        .to_owned(),
                    at: e
                        .event_time
                        .as_ref()
                        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32)),
                })
                .collect();
            Ok::<_, OrderClientError>(RunView { status, history })
        };
        tokio::time::timeout(limit, ask)
            .await
            .map_err(|_| OrderClientError::Temporal("no answer in time".into()))?
    }
}
