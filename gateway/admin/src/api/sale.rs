//! The sale: scheduling it, and pausing, resuming or closing it through its on-sale workflow.
//! Every change to a running sale goes through the workflow, which moves the event's status.

use axum::{
    Json,
    extract::State,
    routing::{MethodRouter, post},
};
use boxoffice_http::{
    error::{ApiError, ErrorCode},
    extract::{ApiJson, ApiPath},
};
use boxoffice_nats::EventId;
use boxoffice_workflows::{
    domain::{SaleCommand, SaleStatus},
    onsale::{self, OnSaleError},
    store::{
        audit,
        events::{self as store, EventChanges, EventDetail},
    },
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::visible_event;
use crate::{AdminState, auth::Admin};

/// `POST /admin/api/v1/events/{id}/{pause,resume,close}`: one handler, given its command.
pub(crate) fn route(cmd: SaleCommand) -> MethodRouter<AdminState> {
    post(
        move |State(state): State<AdminState>, admin: Admin, ApiPath(id): ApiPath<Uuid>| async move {
            act(&state, &admin, id, cmd).await
        },
    )
}

/// The audit line of an organizer's command.
fn audit_action(cmd: SaleCommand) -> &'static str {
    match cmd {
        SaleCommand::Pause => "sale.pause",
        SaleCommand::Resume => "sale.resume",
        SaleCommand::Close => "sale.close",
        SaleCommand::Reschedule => "sale.reschedule",
        SaleCommand::Reload => "sale.reload",
        SaleCommand::Settings => "sale.settings",
    }
}

/// Sends the organizer's `cmd` if the sale's status allows it ([`SaleCommand::allowed_in`]),
/// and records it.
async fn act(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
    cmd: SaleCommand,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(state, admin, id).await?;
    if !cmd.allowed_in(ev.summary.status) {
        return Err(ApiError::conflict(
            ErrorCode::SaleState,
            format!("the sale is {}", ev.summary.status),
        ));
    }
    command(state, &ev, cmd).await?;
    let detail = serde_json::json!({});
    audit::record(
        &state.db,
        admin.account.id,
        Some(id),
        audit_action(cmd),
        detail,
    )
    .await?;
    // The workflow applies it in a moment; the caller sees the event as it is now.
    Ok(Json(visible_event(state, admin, id).await?))
}

/// Sends `cmd` to the event's sale, starting its workflow first if none runs (an event put on
/// sale before it had one, e.g. the demo's): every change to a sale goes through it.
pub(crate) async fn command(
    state: &AdminState,
    ev: &EventDetail,
    cmd: SaleCommand,
) -> Result<(), ApiError> {
    let client = state.temporal_client()?;
    let event = EventId::from_uuid(ev.summary.id);
    match onsale::command(client, event, cmd).await {
        Ok(()) => Ok(()),
        Err(OnSaleError::NotRunning) => {
            onsale::start(client, &state.own.task_queue, event)
                .await
                .map_err(ApiError::unavailable)?;
            onsale::command(client, event, cmd)
                .await
                .map_err(ApiError::unavailable)
        }
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Sends `cmd` to the event's sale if one runs (a draft has none to tell).
pub(crate) async fn tell_if_running(
    state: &AdminState,
    id: Uuid,
    cmd: SaleCommand,
) -> Result<(), ApiError> {
    match onsale::command(state.temporal_client()?, EventId::from_uuid(id), cmd).await {
        Ok(()) | Err(OnSaleError::NotRunning) => Ok(()),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// `POST /admin/api/v1/events/{id}/schedule` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Schedule {
    opens_at: DateTime<Utc>,
    closes_at: Option<DateTime<Utc>>,
}

/// A schedule the event can take now.
fn check_schedule(ev: &EventDetail, body: &Schedule, now: DateTime<Utc>) -> Result<(), ApiError> {
    if !ev.summary.status.can_schedule() || ev.sale_started(now) {
        return Err(ApiError::conflict(
            ErrorCode::SaleStarted,
            "the sale has already opened; pause, resume or close it instead",
        ));
    }
    if body.opens_at <= now {
        return Err(ApiError::unprocessable(
            ErrorCode::OpensInPast,
            "the sale must open in the future",
        ));
    }
    if body.closes_at.is_some_and(|c| c <= body.opens_at) {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidWindow,
            "the sale must close after it opens",
        ));
    }
    if ev.sections.is_empty() {
        return Err(ApiError::unprocessable(
            ErrorCode::NoSections,
            "add at least one section before scheduling the sale",
        ));
    }
    Ok(())
}

/// `POST /admin/api/v1/events/{id}/schedule`: sets the window and starts (or reschedules) the
/// event's on-sale workflow; if the workflow cannot be started, the event is put back.
pub(crate) async fn schedule(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Schedule>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    check_schedule(&ev, &body, Utc::now())?;
    // Checked before anything is written: a sale is scheduled only if its workflow starts.
    let client = state.temporal_client()?;
    let changes = EventChanges {
        opens_at: Some(body.opens_at),
        closes_at: Some(body.closes_at),
        status: Some(SaleStatus::Scheduled),
        ..Default::default()
    };
    store::update_event(&state.db, admin.account.id, id, &changes, "sale.schedule").await?;
    let event = EventId::from_uuid(id);
    let started = match onsale::start(client, &state.own.task_queue, event).await {
        Ok(()) if ev.summary.status == SaleStatus::Scheduled => {
            onsale::command(client, event, SaleCommand::Reschedule).await
        }
        other => other,
    };
    if let Err(e) = started {
        // Put the event back as it was (a draft, or scheduled as before), so a failed
        // schedule leaves nothing half-done.
        let back = EventChanges {
            opens_at: ev.summary.opens_at,
            closes_at: Some(ev.summary.closes_at),
            status: Some(ev.summary.status),
            ..Default::default()
        };
        let _ =
            store::update_event(&state.db, admin.account.id, id, &back, "sale.schedule_undo").await;
        return Err(ApiError::unavailable(e));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}
