//! Orders and money on the admin side: search, an order's full story (seats, payments,
//! tickets, transitions, and its workflow's status and history from Temporal), refunds
//! through the order workflow, CSV exports, and the reconciliation reports.

pub mod export;
pub mod workflow;

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use boxoffice_http::{
    error::{ApiError, ErrorCode},
    extract::{ApiJson, ApiPath, ApiQuery},
};
use boxoffice_workflows::{
    domain::OrderState,
    store::{
        admin_orders::{self as store, OrderQuery, OrderRow, PaymentRow, TicketRow, TransitionRow},
        runs::{self, RunRow},
    },
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AdminState, auth::Admin};
use workflow::WorkflowView;

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/admin/api/v1/orders", get(search))
        .route("/admin/api/v1/orders/{id}", get(show))
        .route("/admin/api/v1/orders/{id}/refund", post(refund))
        .route(
            "/admin/api/v1/events/{id}/orders.csv",
            get(export::orders_csv),
        )
        .route(
            "/admin/api/v1/events/{id}/attendees.csv",
            get(export::attendees_csv),
        )
        .route("/admin/api/v1/reconciliation", get(reports))
}

/// Search filters (all optional), as the query string has them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// One event.
    pub event: Option<Uuid>,
    /// One buyer.
    pub buyer: Option<Uuid>,
    /// One state (`issued`, `expired`, ...).
    pub state: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

impl Search {
    /// The query for the caller, each filter checked.
    pub fn query(&self, admin: &Admin) -> Result<OrderQuery, ApiError> {
        let state = match &self.state {
            None => None,
            Some(s) => Some(OrderState::parse(s).ok_or_else(|| {
                let names: Vec<&str> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::unprocessable(
                    ErrorCode::InvalidState,
                    format!("state is one of {}", names.join(", ")),
                )
            })?),
        };
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::unprocessable(
                ErrorCode::OutOfRange,
                "limit must be between 1 and 1000",
            ));
        }
        Ok(OrderQuery {
            scope: admin.scope(),
            event: self.event,
            buyer: self.buyer,
            state,
            from: self.from,
            to: self.to,
            limit: Some(limit),
            ..OrderQuery::default()
        })
    }
}

async fn search(
    State(state): State<AdminState>,
    admin: Admin,
    ApiQuery(q): ApiQuery<Search>,
) -> Result<Json<Vec<OrderRow>>, ApiError> {
    Ok(Json(
        store::find_orders(&state.db, &q.query(&admin)?).await?,
    ))
}

/// Everything about one order.
#[derive(Debug, Clone, Serialize)]
pub struct OrderDetail {
    /// The list fields.
    #[serde(flatten)]
    pub order: OrderRow,
    /// Payments.
    pub payments: Vec<PaymentRow>,
    /// Tickets.
    pub tickets: Vec<TicketRow>,
    /// State changes.
    pub transitions: Vec<TransitionRow>,
    /// The workflow.
    pub workflow: WorkflowView,
}

/// The answer for an order the caller may not see or that does not exist.
pub fn order_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::OrderNotFound, "no such order")
}

/// The order if the caller may see it, with its workflow as Temporal has it.
pub async fn order_detail(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
) -> Result<OrderDetail, ApiError> {
    let record = store::order_record(&state.db, admin.scope(), id)
        .await?
        .ok_or_else(order_not_found)?;
    Ok(OrderDetail {
        order: record.order,
        payments: record.payments,
        tickets: record.tickets,
        transitions: record.transitions,
        workflow: workflow::view(state, id).await,
    })
}

async fn show(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<OrderDetail>, ApiError> {
    Ok(Json(order_detail(&state, &admin, id).await?))
}

/// `POST /admin/api/v1/orders/{id}/refund` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    /// Why (kept in the order's history).
    pub reason: String,
}

async fn refund(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Refund>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reason = body.reason.trim();
    // A NUL would reach PostgreSQL only inside the workflow, which would retry it forever.
    if reason.is_empty() || reason.chars().count() > 500 || crate::api::input::has_control(reason) {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidReason,
            "give a reason of 1 to 500 characters, without control characters",
        ));
    }
    let detail = order_detail(&state, &admin, id).await?;
    if detail.order.state != OrderState::Issued {
        return Err(ApiError::conflict(
            ErrorCode::NotRefundable,
            format!(
                "only an issued order can be refunded; this one is {}",
                detail.order.state
            ),
        ));
    }
    workflow::refund(&state, id, reason).await?;
    boxoffice_workflows::store::audit::record(
        &state.db,
        admin.account.id,
        Some(detail.order.event_id),
        "order.refund",
        serde_json::json!({ "order": id, "reason": reason }),
    )
    .await?;
    Ok(Json(
        serde_json::json!({ "order_id": id, "refund": "requested" }),
    ))
}

async fn reports(
    State(state): State<AdminState>,
    admin: Admin,
) -> Result<Json<Vec<RunRow>>, ApiError> {
    Ok(Json(runs::recent_runs(&state.db, admin.scope()).await?))
}
