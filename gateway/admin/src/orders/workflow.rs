//! An order's workflow as the admin side uses it, through `OrderClient`: its status and
//! history for the order page (a Temporal outage degrades the page, never fails it), and the
//! refund signal.

use std::time::Duration;

use boxoffice_http::error::{ApiError, ErrorCode};
use boxoffice_nats::OrderId;
use boxoffice_workflows::order::{OrderClient, OrderClientError, RefundRequest, workflow_id};
use chrono::{DateTime, Utc};
use serde::Serialize;
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
        id,
        status: "unavailable".into(),
        history: Vec::new(),
    };
    let Some(client) = state.temporal.get() else {
        return view;
    };
    match OrderClient::new(client.clone())
        .run(OrderId::from_uuid(order), ASK_TIMEOUT)
        .await
    {
        Ok(run) => {
            view.status = format!("{:?}", run.status);
            view.history = run
                .history
                .into_iter()
                .map(|e| HistoryRow {
                    id: e.id,
                    kind: e.kind,
                    at: e.at,
                })
                .collect();
        }
        Err(OrderClientError::NotRunning) => view.status = "not found".into(),
        Err(e) => tracing::warn!(error = %e, "cannot read the order's workflow"),
    }
    view
}

/// Asks the order's workflow to refund it.
pub async fn refund(state: &AdminState, order: Uuid, reason: &str) -> Result<(), ApiError> {
    let request = RefundRequest {
        reason: reason.to_owned(),
    };
    match OrderClient::new(state.temporal_client()?.clone())
        .refund(OrderId::from_uuid(order), request)
        .await
    {
        Ok(()) => Ok(()),
        // The workflow ended with its refund window: the money is no longer ours to return
        // through it.
        Err(OrderClientError::NotRunning) => Err(ApiError::conflict(
            ErrorCode::RefundWindowClosed,
            "the order's refund window has closed",
        )),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}
