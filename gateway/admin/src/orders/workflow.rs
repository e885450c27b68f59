//! An order's workflow as the admin side uses it: its status and history for the order page
//! (a Temporal outage degrades the page, never fails it), and the refund signal.

use std::time::Duration;

use boxoffice_http::error::ApiError;
use boxoffice_nats::OrderId;
use boxoffice_workflows::order::{OrderWorkflow, RefundRequest, workflow_id};
use chrono::{DateTime, Utc};
use serde::Serialize;
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowFetchHistoryOptions, WorkflowSignalOptions,
    errors::WorkflowInteractionError,
};
use uuid::Uuid;

use crate::AdminState;

/// How long the order page waits for Temporal before showing the workflow as unavailable.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// One event of the workflow's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    /// Its number.
    pub id: i64,
    /// Its type, e.g. `WorkflowExecutionSignaled`.
    pub kind: String,
    /// When.
    pub at: Option<DateTime<Utc>>,
}

/// The workflow as Temporal has it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowView {
    /// Workflow id.
    pub id: String,
    /// `Running`, `Completed`, ... (`unavailable` when Temporal could not be asked).
    pub status: String,
    /// History events.
    pub history: Vec<HistoryRow>,
    /// The Temporal Web UI page.
    pub link: String,
}

/// The order's workflow status and history.
pub async fn view(state: &AdminState, order: Uuid) -> WorkflowView {
    let id = workflow_id(OrderId::from_uuid(order));
    let mut view = WorkflowView {
        link: state.own.temporal_link(&id),
        id: id.clone(),
        status: "unavailable".into(),
        history: Vec::new(),
    };
    let Some(client) = state.temporal.get() else {
        return view;
    };
    let handle = client.get_workflow_handle::<OrderWorkflow>(id);
    let ask = async {
        let d = handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((format!("{:?}", d.status()), events))
    };
    match tokio::time::timeout(ASK_TIMEOUT, ask).await {
        Ok(Ok((status, events))) => {
            view.status = status;
            view.history = events
                .iter()
                .map(|e| HistoryRow {
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
        }
        Ok(Err(e)) if e.contains("not found") || e.contains("NotFound") => {
            view.status = "not found".into();
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the order's workflow"),
        Err(_) => tracing::warn!("Temporal did not answer within 3 s"),
    }
    view
}

/// Asks the order's workflow to refund it.
pub async fn refund(state: &AdminState, order: Uuid, reason: &str) -> Result<(), ApiError> {
    let client = state
        .temporal
        .get()
        .ok_or_else(|| ApiError::unavailable("Temporal is not connected yet"))?;
    let handle =
        client.get_workflow_handle::<OrderWorkflow>(workflow_id(OrderId::from_uuid(order)));
    let request = RefundRequest {
        reason: reason.to_owned(),
    };
    match handle
        .signal(
            OrderWorkflow::refund,
            request,
            WorkflowSignalOptions::default(),
        )
        .await
    {
        Ok(()) => Ok(()),
        // The workflow ended with its refund window: the money is no longer ours to return
        // through it.
        Err(WorkflowInteractionError::NotFound(_)) => Err(ApiError::conflict(
            "refund_window_closed",
            "the order's refund window has closed",
        )),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}
