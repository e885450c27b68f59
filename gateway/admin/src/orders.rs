//! Orders and money on the admin side: search, an order's full story (seats, payments,
//! tickets, transitions, and its workflow's status and history from Temporal), refunds
//! through the order workflow, CSV exports, and the reconciliation reports.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use boxoffice_nats::OrderId;
use boxoffice_workflows::order::{OrderWorkflow, RefundRequest, workflow_id};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowFetchHistoryOptions, WorkflowSignalOptions,
    errors::WorkflowInteractionError,
};
use uuid::Uuid;

use super::{api::visible_event, auth::Admin};
use boxoffice_http::{
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
};

use crate::AdminState;

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/admin/api/v1/orders", get(search))
        .route("/admin/api/v1/orders/{id}", get(show))
        .route("/admin/api/v1/orders/{id}/refund", post(refund))
        .route("/admin/api/v1/events/{id}/orders.csv", get(orders_csv))
        .route(
            "/admin/api/v1/events/{id}/attendees.csv",
            get(attendees_csv),
        )
        .route("/admin/api/v1/reconciliation", get(reports))
}

/// Search filters (all optional).
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

/// An order in a list.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRow {
    /// Id.
    pub order_id: Uuid,
    /// Event.
    pub event_id: Uuid,
    /// Event name.
    pub event_name: String,
    /// Buyer.
    pub buyer_id: Uuid,
    /// State.
    pub state: String,
    /// Why it ended, if it did not sell.
    pub reason: Option<String>,
    /// Total, cents.
    pub amount_cents: i64,
    /// Currency.
    pub currency: String,
    /// Seats, `CODE:LABEL`.
    pub seats: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const STATES: &[&str] = &[
    "requested",
    "held",
    "awaiting_payment",
    "authorized",
    "confirmed",
    "issued",
    "rejected",
    "expired",
    "payment_failed",
    "canceled",
    "refunded",
];

const ORDER_ROW: &str = "select o.order_id, o.event_id, e.name as event_name, o.buyer_id, o.state,
        o.reason, o.amount_cents, o.currency, o.created_at, o.updated_at,
        coalesce((select array_agg(s.code || ':' || os.label order by s.code, os.label)
                  from order_seats os join sections s using (section_id)
                  where os.order_id = o.order_id), '{}') as seats
    from orders o join events e using (event_id)";

fn order_row(r: &sqlx::postgres::PgRow) -> OrderRow {
    OrderRow {
        order_id: r.get("order_id"),
        event_id: r.get("event_id"),
        event_name: r.get("event_name"),
        buyer_id: r.get("buyer_id"),
        state: r.get("state"),
        reason: r.get("reason"),
        amount_cents: r.get("amount_cents"),
        currency: r.get::<String, _>("currency").trim().to_owned(),
        seats: r.get("seats"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// Orders matching `q` that the caller may see, newest first.
pub async fn find_orders(
    state: &AdminState,
    admin: &Admin,
    q: &Search,
) -> Result<Vec<OrderRow>, ApiError> {
    if let Some(s) = &q.state
        && !STATES.contains(&s.as_str())
    {
        return Err(ApiError::unprocessable(
            "invalid_state",
            format!("state is one of {}", STATES.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable(
            "out_of_range",
            "limit must be between 1 and 1000",
        ));
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ORDER_ROW} where ($1::uuid is null or e.organizer_id = $1)
           and ($2::uuid is null or o.event_id = $2)
           and ($3::uuid is null or o.buyer_id = $3)
           and ($4::text is null or o.state = $4)
           and ($5::timestamptz is null or o.created_at >= $5)
           and ($6::timestamptz is null or o.created_at < $6)
         order by o.created_at desc limit $7"
    )))
    .bind(admin.scope())
    .bind(q.event)
    .bind(q.buyer)
    .bind(&q.state)
    .bind(q.from)
    .bind(q.to)
    .bind(limit)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?;
    Ok(rows.iter().map(order_row).collect())
}

async fn search(
    State(state): State<AdminState>,
    admin: Admin,
    ApiQuery(q): ApiQuery<Search>,
) -> Result<Json<Vec<OrderRow>>, ApiError> {
    Ok(Json(find_orders(&state, &admin, &q).await?))
}

/// A payment of an order.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRow {
    /// The provider's id.
    pub provider_intent_id: String,
    /// State.
    pub state: String,
    /// Amounts, cents.
    pub amount_cents: i64,
    /// Captured.
    pub captured_cents: i64,
    /// Refunded.
    pub refunded_cents: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A ticket of an order.
#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    /// `CODE:LABEL`.
    pub seat: String,
    /// The scannable code.
    pub code: String,
    /// `issued` or `void`.
    pub state: String,
    /// Issued.
    pub issued_at: DateTime<Utc>,
}

/// A state change of an order.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionRow {
    /// From.
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// When.
    pub at: DateTime<Utc>,
}

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

/// The order if the caller may see it.
pub async fn order_detail(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
) -> Result<OrderDetail, ApiError> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ORDER_ROW} where o.order_id = $2 and ($1::uuid is null or e.organizer_id = $1)"
    )))
    .bind(admin.scope())
    .bind(id)
    .fetch_optional(&state.db)
    .await
    .map_err(ApiError::unavailable)?
    .ok_or_else(|| ApiError::not_found("order_not_found", "no such order"))?;
    let order = order_row(&r);
    let payments = sqlx::query(
        "select provider_intent_id, state, amount_cents, captured_cents, refunded_cents, updated_at
         from payments where order_id = $1 order by created_at",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?
    .iter()
    .map(|p| PaymentRow {
        provider_intent_id: p.get("provider_intent_id"),
        state: p.get("state"),
        amount_cents: p.get("amount_cents"),
        captured_cents: p.get("captured_cents"),
        refunded_cents: p.get("refunded_cents"),
        updated_at: p.get("updated_at"),
    })
    .collect();
    let tickets = sqlx::query(
        "select s.code || ':' || t.label as seat, t.code, t.state, t.issued_at
         from tickets t join sections s using (section_id) where t.order_id = $1 order by seat",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?
    .iter()
    .map(|t| TicketRow {
        seat: t.get("seat"),
        code: t.get("code"),
        state: t.get("state"),
        issued_at: t.get("issued_at"),
    })
    .collect();
    let transitions = sqlx::query(
        "select from_state, to_state, at from order_transitions where order_id = $1 order by seq",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?
    .iter()
    .map(|t| TransitionRow {
        from: t.get("from_state"),
        to: t.get("to_state"),
        at: t.get("at"),
    })
    .collect();
    let workflow = workflow_view(state, OrderId::from_uuid(id)).await;
    Ok(OrderDetail {
        order,
        payments,
        tickets,
        transitions,
        workflow,
    })
}

/// The workflow's status and history; a Temporal outage degrades the page, never fails it.
async fn workflow_view(state: &AdminState, order: OrderId) -> WorkflowView {
    let id = workflow_id(order);
    let link = state.own.temporal_link(&id);
    let mut view = WorkflowView {
        id: id.clone(),
        status: "unavailable".into(),
        history: Vec::new(),
        link,
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
    match tokio::time::timeout(std::time::Duration::from_secs(3), ask).await {
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
    let control = reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if reason.is_empty() || reason.chars().count() > 500 || control {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "give a reason of 1 to 500 characters, without control characters",
        ));
    }
    let detail = order_detail(&state, &admin, id).await?;
    if detail.order.state != "issued" {
        return Err(ApiError::conflict(
            "not_refundable",
            format!(
                "only an issued order can be refunded; this one is {}",
                detail.order.state
            ),
        ));
    }
    let client = state
        .temporal
        .get()
        .ok_or_else(|| ApiError::unavailable("Temporal is not connected yet"))?;
    let handle = client.get_workflow_handle::<OrderWorkflow>(workflow_id(OrderId::from_uuid(id)));
    match handle
        .signal(
            OrderWorkflow::refund,
            RefundRequest {
                reason: reason.to_owned(),
            },
            WorkflowSignalOptions::default(),
        )
        .await
    {
        Ok(()) => {}
        // The workflow ended with its refund window: the money is no longer ours to return
        // through it.
        Err(WorkflowInteractionError::NotFound(_)) => {
            return Err(ApiError::conflict(
                "refund_window_closed",
                "the order's refund window has closed",
            ));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    let mut tx = state.db.begin().await.map_err(ApiError::unavailable)?;
    super::store::audit(
        &mut tx,
        admin.account.id,
        Some(detail.order.event_id),
        "order.refund",
        serde_json::json!({ "order": id, "reason": reason }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::unavailable)?;
    Ok(Json(
        serde_json::json!({ "order_id": id, "refund": "requested" }),
    ))
}

fn csv_response(name: &str, body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn orders_csv(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    visible_event(&state, &admin, id).await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ORDER_ROW} where o.event_id = $1 order by o.created_at"
    )))
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::unavailable(e);
    w.write_record([
        "order_id",
        "buyer_id",
        "state",
        "reason",
        "amount_cents",
        "currency",
        "seats",
        "created_at",
        "updated_at",
    ])
    .map_err(fail)?;
    for r in rows.iter().map(order_row) {
        w.write_record([
            r.order_id.to_string(),
            r.buyer_id.to_string(),
            r.state,
            r.reason.unwrap_or_default(),
            r.amount_cents.to_string(),
            r.currency,
            r.seats.join(" "),
            r.created_at.to_rfc3339(),
            r.updated_at.to_rfc3339(),
        ])
        .map_err(fail)?;
    }
    let body = w.into_inner().map_err(ApiError::unavailable)?;
    Ok(csv_response(&format!("orders-{id}.csv"), body))
}

async fn attendees_csv(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    visible_event(&state, &admin, id).await?;
    let rows = sqlx::query(
        "select t.ticket_id, s.code, s.name, t.label, st.row_label, st.seat_number, t.code as ticket_code,
                t.order_id, o.buyer_id, t.issued_at
         from tickets t join sections s using (section_id) join orders o using (order_id)
         left join seats st on st.section_id = t.section_id and st.label = t.label
         where t.event_id = $1 and t.state = 'issued' order by s.sort_order, s.code, t.label",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::unavailable(e);
    w.write_record([
        "ticket_id",
        "section",
        "section_name",
        "seat",
        "row",
        "number",
        "ticket_code",
        "order_id",
        "buyer_id",
        "issued_at",
    ])
    .map_err(fail)?;
    for r in &rows {
        w.write_record([
            r.get::<Uuid, _>("ticket_id").to_string(),
            r.get("code"),
            r.get("name"),
            r.get("label"),
            r.get::<Option<String>, _>("row_label").unwrap_or_default(),
            r.get::<Option<i32>, _>("seat_number")
                .map(|n| n.to_string())
                .unwrap_or_default(),
            r.get("ticket_code"),
            r.get::<Uuid, _>("order_id").to_string(),
            r.get::<Uuid, _>("buyer_id").to_string(),
            r.get::<DateTime<Utc>, _>("issued_at").to_rfc3339(),
        ])
        .map_err(fail)?;
    }
    let body = w.into_inner().map_err(ApiError::unavailable)?;
    Ok(csv_response(&format!("attendees-{id}.csv"), body))
}

/// A reconciliation run with the findings the caller may see.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Id.
    pub run_id: Uuid,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// `running`, `succeeded`, `failed`.
    pub status: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Seats compared.
    pub checked_seats: i32,
    /// Repaired.
    pub repaired: i32,
    /// Left for a human.
    pub unresolved: i32,
    /// Findings (an organizer sees those about its own orders).
    pub findings: Vec<serde_json::Value>,
}

/// The latest runs.
pub async fn recent_runs(state: &AdminState, admin: &Admin) -> Result<Vec<RunRow>, ApiError> {
    let rows = sqlx::query(
        "select run_id, trigger, status, started_at, finished_at, checked_seats, repaired,
                unresolved, findings from reconciliation_runs order by started_at desc limit 50",
    )
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::unavailable)?;
    let mine: Option<std::collections::HashSet<String>> = match admin.scope() {
        None => None,
        Some(org) => Some(
            sqlx::query_scalar::<_, Uuid>(
                "select o.order_id from orders o join events e using (event_id) where e.organizer_id = $1",
            )
            .bind(org)
            .fetch_all(&state.db)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter()
            .map(|u| u.to_string())
            .collect(),
        ),
    };
    Ok(rows
        .iter()
        .map(|r| {
            let findings: serde_json::Value = r.get("findings");
            let findings = findings
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| {
                    mine.as_ref().is_none_or(|m| {
                        f.get("order")
                            .and_then(|o| o.as_str())
                            .is_some_and(|o| m.contains(o))
                    })
                })
                .collect();
            RunRow {
                run_id: r.get("run_id"),
                trigger: r.get("trigger"),
                status: r.get("status"),
                started_at: r.get("started_at"),
                finished_at: r.get("finished_at"),
                checked_seats: r.get("checked_seats"),
                repaired: r.get("repaired"),
                unresolved: r.get("unresolved"),
                findings,
            }
        })
        .collect())
}

async fn reports(
    State(state): State<AdminState>,
    admin: Admin,
) -> Result<Json<Vec<RunRow>>, ApiError> {
    Ok(Json(recent_runs(&state, &admin).await?))
}
