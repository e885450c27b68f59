//! Events: list, read, create a draft, change, and the audit trail.

use axum::{Json, extract::State, http::StatusCode};
use boxoffice_http::{
    error::{ApiError, ErrorCode},
    extract::{ApiJson, ApiPath},
};
use boxoffice_workflows::{
    domain::SaleCommand,
    store::{
        audit::{self, AuditLine},
        branding::{self, Branding},
        events::{self as store, DraftEvent, EventChanges, EventDetail, EventSummary},
    },
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    input::{double_option, in_range, optional_text, text, timezone},
    sale, visible_event,
};
use crate::{AdminState, auth::Admin};

/// `GET /admin/api/v1/events`.
pub(crate) async fn list(
    State(state): State<AdminState>,
    admin: Admin,
) -> Result<Json<Vec<EventSummary>>, ApiError> {
    Ok(Json(store::list_events(&state.db, admin.scope()).await?))
}

/// `GET /admin/api/v1/events/{id}`.
pub(crate) async fn show(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    Ok(Json(visible_event(&state, &admin, id).await?))
}

/// `POST /admin/api/v1/events` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEvent {
    name: String,
    venue: String,
    city: Option<String>,
    timezone: String,
    starts_at: DateTime<Utc>,
}

fn refuse_past_start(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if starts_at <= now {
        return Err(ApiError::unprocessable(
            ErrorCode::StartsInPast,
            "the show must start in the future",
        ));
    }
    Ok(())
}

/// `POST /admin/api/v1/events`: a draft event.
pub(crate) async fn create(
    State(state): State<AdminState>,
    admin: Admin,
    ApiJson(body): ApiJson<CreateEvent>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    let ev = DraftEvent {
        name: text("name", &body.name, 200)?,
        venue: text("venue", &body.venue, 200)?,
        city: optional_text("city", body.city.as_deref(), 100)?,
        timezone: timezone(body.timezone.trim())?,
        starts_at: body.starts_at,
    };
    refuse_past_start(ev.starts_at, Utc::now())?;
    let id = store::create_draft(&state.db, admin.account.id, &ev).await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

/// `PATCH /admin/api/v1/events/{id}` body: any of these.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEvent {
    name: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    timezone: Option<String>,
    #[serde(default, with = "double_option")]
    closes_at: Option<Option<DateTime<Utc>>>,
    max_tickets_per_buyer: Option<i64>,
    hold_seconds: Option<i64>,
    #[serde(default, with = "double_option")]
    admission_rate_per_s: Option<Option<i64>>,
}

impl UpdateEvent {
    /// The changes, each field checked.
    fn changes(&self) -> Result<EventChanges, ApiError> {
        Ok(EventChanges {
            name: self
                .name
                .as_deref()
                .map(|n| text("name", n, 200))
                .transpose()?,
            starts_at: self.starts_at,
            timezone: self.timezone.as_deref().map(timezone).transpose()?,
            closes_at: self.closes_at,
            max_tickets_per_buyer: self
                .max_tickets_per_buyer
                .map(|v| in_range("max_tickets_per_buyer", v, 1, 50))
                .transpose()?,
            hold_seconds: self
                .hold_seconds
                .map(|v| in_range("hold_seconds", v, 30, 3600))
                .transpose()?,
            admission_rate_per_s: self
                .admission_rate_per_s
                .map(|o| {
                    o.map(|v| in_range("admission_rate_per_s", v, 1, 100_000))
                        .transpose()
                })
                .transpose()?,
            ..Default::default()
        })
    }
}

/// The show and the sale's close must lie ahead, and the close after the opening.
fn check_times(
    ev: &EventDetail,
    changes: &EventChanges,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(t) = changes.starts_at {
        refuse_past_start(t, now)?;
    }
    if let Some(Some(c)) = changes.closes_at {
        if c <= now {
            return Err(ApiError::unprocessable(
                ErrorCode::ClosesInPast,
                "the sale cannot close in the past",
            ));
        }
        if ev.summary.opens_at.is_some_and(|o| c <= o) {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidWindow,
                "the sale must close after it opens",
            ));
        }
    }
    Ok(())
}

/// `PATCH /admin/api/v1/events/{id}`: changes the event; a running sale is told of a new
/// per-buyer limit or a new close.
pub(crate) async fn update(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateEvent>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    if ev.summary.status.is_over() {
        return Err(ApiError::conflict(
            ErrorCode::SaleClosed,
            "this sale is over",
        ));
    }
    let now = Utc::now();
    let changes = body.changes()?;
    check_times(&ev, &changes, now)?;
    store::update_event(&state.db, admin.account.id, id, &changes, "event.update").await?;
    if changes.max_tickets_per_buyer.is_some() && ev.sale_started(now) {
        // The seat store's ledger enforces the limit too: the sale writes it there.
        sale::command(&state, &ev, SaleCommand::Settings).await?;
    }
    if changes.closes_at.is_some() {
        // A running sale re-reads its window; a draft has no sale to tell.
        sale::tell_if_running(&state, id, SaleCommand::Reschedule).await?;
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

/// `GET /admin/api/v1/events/{id}/audit`: the latest 200 audit lines.
pub(crate) async fn audit(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<AuditLine>>, ApiError> {
    visible_event(&state, &admin, id).await?;
    Ok(Json(audit::trail(&state.db, id, 200).await?))
}

/// `GET /admin/api/v1/events/{id}/branding`: how the event's buyer pages look.
pub(crate) async fn branding(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Branding>, ApiError> {
    visible_event(&state, &admin, id).await?;
    Ok(Json(branding::get(&state.db, id).await?))
}

/// `PUT /admin/api/v1/events/{id}/branding`: replaces the event's branding (a logo URL,
/// `primary_color` and `accent_color`, `intro` and `footer` texts; blank or absent parts fall
/// back to the pages' defaults). The buyer pages show it within the catalog's refresh (a few
/// seconds).
pub(crate) async fn set_branding(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Branding>,
) -> Result<Json<Branding>, ApiError> {
    visible_event(&state, &admin, id).await?;
    let checked = body
        .checked()
        .map_err(|e| ApiError::unprocessable(ErrorCode::InvalidField, e.to_string()))?;
    branding::set(&state.db, admin.account.id, id, &checked).await?;
    Ok(Json(checked))
}
