//! The admin JSON API for events, inventory and the sale (`/admin/api/v1`).

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get, post},
};
use boxoffice_nats::EventId;
use boxoffice_workflows::onsale::{self, OnSaleError, SaleCommand};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    auth::{self, Admin},
    seatspec,
    store::{self, EventChanges, EventDetail, Layout, Withheld},
};
use boxoffice_http::{
    error::ApiError,
    extract::{ApiJson, ApiPath},
};

use crate::AdminState;

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route(
            "/admin/api/v1/session",
            post(auth::login).delete(auth::logout),
        )
        .route("/admin/api/v1/me", get(auth::me))
        .route("/admin/api/v1/events", get(list).post(create))
        .route("/admin/api/v1/events/{id}", get(show).patch(update))
        .route("/admin/api/v1/events/{id}/sections", post(add_section))
        .route(
            "/admin/api/v1/events/{id}/sections/{code}",
            delete(delete_section),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations",
            post(add_allocation),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations/{aid}",
            delete(delete_allocation),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations/{aid}/release",
            post(release_allocation),
        )
        .route("/admin/api/v1/events/{id}/schedule", post(schedule))
        .route("/admin/api/v1/events/{id}/pause", post(pause))
        .route("/admin/api/v1/events/{id}/resume", post(resume))
        .route("/admin/api/v1/events/{id}/close", post(close))
        .route("/admin/api/v1/events/{id}/audit", get(audit))
}

/// The event if the caller may see it; 404 otherwise (another organizer's event looks exactly
/// like one that does not exist).
pub async fn visible_event(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
) -> Result<EventDetail, ApiError> {
    store::get_event(&state.db, admin.scope(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("event_not_found", "no such event"))
}

async fn list(
    State(state): State<AdminState>,
    admin: Admin,
) -> Result<Json<Vec<store::EventSummary>>, ApiError> {
    Ok(Json(store::list_events(&state.db, admin.scope()).await?))
}

async fn show(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    Ok(Json(visible_event(&state, &admin, id).await?))
}

fn text(field: &'static str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    // PostgreSQL refuses a NUL byte outright; other control characters only garble pages.
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field} must not contain control characters"),
        ));
    }
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn timezone(v: &str) -> Result<String, ApiError> {
    let ok = v == "UTC"
        || (v.contains('/')
            && v.len() <= 64
            && v.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
            }));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::unprocessable(
            "invalid_timezone",
            "give an IANA time zone such as Europe/Berlin",
        ))
    }
}

/// `POST /admin/api/v1/events` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEvent {
    name: String,
    venue: String,
    city: Option<String>,
    timezone: String,
    starts_at: DateTime<Utc>,
}

async fn create(
    State(state): State<AdminState>,
    admin: Admin,
    ApiJson(body): ApiJson<CreateEvent>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    let ev = store::NewEvent {
        name: text("name", &body.name, 200)?,
        venue: text("venue", &body.venue, 200)?,
        city: body
            .city
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| text("city", c, 100))
            .transpose()?,
        timezone: timezone(body.timezone.trim())?,
        starts_at: body.starts_at,
    };
    if ev.starts_at <= Utc::now() {
        return Err(ApiError::unprocessable(
            "starts_in_past",
            "the show must start in the future",
        ));
    }
    let id = store::create_event(&state.db, admin.account.id, &ev).await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

/// `PATCH /admin/api/v1/events/{id}` body: any of these.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateEvent {
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

/// Tells a field set to `null` (clear it) from a field left out (keep it).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

fn in_range(field: &'static str, v: i64, lo: i64, hi: i64) -> Result<i32, ApiError> {
    if (lo..=hi).contains(&v) {
        Ok(v as i32)
    } else {
        Err(ApiError::unprocessable(
            "out_of_range",
            format!("{field} must be between {lo} and {hi}"),
        ))
    }
}

async fn update(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateEvent>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    if matches!(ev.summary.status.as_str(), "closed" | "canceled") {
        return Err(ApiError::conflict("sale_over", "this sale is over"));
    }
    let now = Utc::now();
    let changes = EventChanges {
        name: body
            .name
            .as_deref()
            .map(|n| text("name", n, 200))
            .transpose()?,
        starts_at: body.starts_at,
        timezone: body.timezone.as_deref().map(timezone).transpose()?,
        closes_at: body.closes_at,
        max_tickets_per_buyer: body
            .max_tickets_per_buyer
            .map(|v| in_range("max_tickets_per_buyer", v, 1, 50))
            .transpose()?,
        hold_seconds: body
            .hold_seconds
            .map(|v| in_range("hold_seconds", v, 30, 3600))
            .transpose()?,
        admission_rate_per_s: body
            .admission_rate_per_s
            .map(|o| {
                o.map(|v| in_range("admission_rate_per_s", v, 1, 100_000))
                    .transpose()
            })
            .transpose()?,
        ..Default::default()
    };
    if changes.starts_at.is_some_and(|t| t <= now) {
        return Err(ApiError::unprocessable(
            "starts_in_past",
            "the show must start in the future",
        ));
    }
    if let Some(Some(c)) = changes.closes_at {
        if c <= now {
            return Err(ApiError::unprocessable(
                "closes_in_past",
                "the sale cannot close in the past",
            ));
        }
        if ev.summary.opens_at.is_some_and(|o| c <= o) {
            return Err(ApiError::unprocessable(
                "invalid_window",
                "the sale must close after it opens",
            ));
        }
    }
    store::update_event(&state.db, admin.account.id, id, &changes, "event.update").await?;
    if changes.max_tickets_per_buyer.is_some() && ev.sale_started(now) {
        // The seat store's ledger enforces the limit too: the sale writes it there.
        command(&state, &ev, SaleCommand::Settings).await?;
    }
    if changes.closes_at.is_some() {
        // A running sale re-reads its window; a draft has no sale to tell.
        match send(&state, id, SaleCommand::Reschedule).await {
            Ok(()) | Err(OnSaleError::NotRunning) => {}
            Err(e) => return Err(ApiError::unavailable(e)),
        }
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

fn refuse_after_opening(ev: &EventDetail) -> Result<(), ApiError> {
    if ev.sale_started(Utc::now()) {
        return Err(ApiError::conflict(
            "sale_started",
            "the sale has opened: sections and allocations can no longer change",
        ));
    }
    Ok(())
}

/// `POST /admin/api/v1/events/{id}/sections` body: `seats` (a description) or `capacity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddSection {
    code: String,
    name: String,
    price_cents: i64,
    currency: Option<String>,
    /// Seated: e.g. `rows A-J, seats 1-20`.
    seats: Option<String>,
    /// General admission: units.
    capacity: Option<i64>,
}

async fn add_section(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddSection>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    refuse_after_opening(&ev)?;
    let code = body.code.trim().to_owned();
    if boxoffice_nats::SectionCode::parse(code.as_str()).is_err() {
        return Err(ApiError::unprocessable(
            "invalid_code",
            "a section code is 1 to 32 letters, digits, - or _",
        ));
    }
    let name = text("name", &body.name, 100)?;
    if !(0..=100_000_000).contains(&body.price_cents) {
        return Err(ApiError::unprocessable(
            "out_of_range",
            "price_cents must be between 0 and 100000000",
        ));
    }
    let currency = body
        .currency
        .as_deref()
        .map(str::trim)
        .map(str::to_ascii_uppercase)
        .or_else(|| ev.sections.first().map(|s| s.currency.clone()))
        .unwrap_or_else(|| "EUR".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::unprocessable(
            "invalid_currency",
            "an ISO 4217 code such as EUR",
        ));
    }
    if ev.sections.iter().any(|s| s.currency != currency) {
        return Err(ApiError::unprocessable(
            "invalid_currency",
            "every section of an event is priced in one currency",
        ));
    }
    let layout = match (&body.seats, body.capacity) {
        (Some(desc), None) => Layout::Seated(
            seatspec::parse(desc)
                .map_err(|e| ApiError::unprocessable("invalid_seats", e.to_string()))?,
        ),
        (None, Some(n)) => Layout::GeneralAdmission(in_range("capacity", n, 1, 100_000)? as u32),
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_layout",
                "give either seats (a description such as \"rows A-J, seats 1-20\") or capacity",
            ));
        }
    };
    store::add_section(
        &state.db,
        admin.account.id,
        id,
        &code,
        &name,
        body.price_cents,
        &currency,
        &layout,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

async fn delete_section(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, code)): ApiPath<(Uuid, String)>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    refuse_after_opening(&ev)?;
    if !store::delete_section(&state.db, admin.account.id, id, &code).await? {
        return Err(ApiError::not_found("section_not_found", "no such section"));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

/// `POST /admin/api/v1/events/{id}/allocations` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddAllocation {
    section: String,
    /// `kill`, `reserved` or `presale`.
    kind: String,
    /// Seated: labels, as a list or one comma-separated string (`B-1, B-2`).
    seats: Option<serde_json::Value>,
    /// General admission: units.
    quantity: Option<i64>,
    /// Presale: the code buyers unlock it with.
    access_code: Option<String>,
    note: Option<String>,
}

fn labels(v: &serde_json::Value) -> Result<Vec<String>, ApiError> {
    let raw: Vec<String> = match v {
        serde_json::Value::String(s) => s.split(',').map(|l| l.trim().to_owned()).collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(|s| s.trim().to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ApiError::unprocessable("invalid_seats", "seats is a list of seat labels")
            })?,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_seats",
                "seats is a list of seat labels",
            ));
        }
    };
    let mut out: Vec<String> = raw.into_iter().filter(|l| !l.is_empty()).collect();
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > 10_000 {
        return Err(ApiError::unprocessable(
            "invalid_seats",
            "name 1 to 10000 seats",
        ));
    }
    Ok(out)
}

async fn add_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddAllocation>,
) -> Result<(StatusCode, Json<EventDetail>), ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    refuse_after_opening(&ev)?;
    let kind = match body.kind.as_str() {
        k @ ("kill" | "reserved" | "presale") => k,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_kind",
                "kind is kill, reserved or presale",
            ));
        }
    };
    let access_code_hash = match (kind, body.access_code.as_deref().map(str::trim)) {
        ("presale", Some(code)) if (6..=64).contains(&code.len()) => Some(
            boxoffice_workflows::store::accounts::hash_password(code)
                .map_err(ApiError::unavailable)?,
        ),
        ("presale", _) => {
            return Err(ApiError::unprocessable(
                "access_code_required",
                "a presale needs an access code of 6 to 64 characters",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::unprocessable(
                "access_code_unexpected",
                "only a presale has an access code",
            ));
        }
        _ => None,
    };
    let withheld = match (&body.seats, body.quantity) {
        (Some(s), None) => Withheld::Seats(labels(s)?),
        (None, Some(q)) => Withheld::Units(in_range("quantity", q, 1, 100_000)?),
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_allocation",
                "give either seats (seated sections) or quantity (general admission)",
            ));
        }
    };
    let note = body
        .note
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(|n| text("note", n, 500))
        .transpose()?;
    store::add_allocation(
        &state.db,
        admin.account.id,
        id,
        body.section.trim(),
        kind,
        &withheld,
        access_code_hash,
        note,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(visible_event(&state, &admin, id).await?),
    ))
}

async fn release_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, aid)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    if !store::release_allocation(&state.db, admin.account.id, id, aid).await? {
        return Err(ApiError::not_found(
            "allocation_not_found",
            "no unreleased reserved or presale allocation with that id",
        ));
    }
    if ev.sale_started(Utc::now()) {
        // The released seats join a sale in progress: the on-sale workflow loads them.
        command(&state, &ev, SaleCommand::Reload).await?;
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

async fn delete_allocation(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath((id, aid)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    refuse_after_opening(&ev)?;
    if !store::delete_allocation(&state.db, admin.account.id, id, aid).await? {
        return Err(ApiError::not_found(
            "allocation_not_found",
            "no such allocation",
        ));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

fn temporal(state: &AdminState) -> Result<&temporalio_client::Client, ApiError> {
    state
        .temporal
        .get()
        .ok_or_else(|| ApiError::unavailable("Temporal is not connected yet"))
}

async fn send(state: &AdminState, id: Uuid, cmd: SaleCommand) -> Result<(), OnSaleError> {
    let client = state
        .temporal
        .get()
        .ok_or_else(|| OnSaleError::Temporal("not connected".into()))?;
    onsale::command(client, EventId::from_uuid(id), cmd).await
}

/// Sends `cmd` to the event's sale, starting its workflow first if none runs (an event put on
/// sale before it had one, e.g. the demo's): every change to a sale goes through it.
async fn command(state: &AdminState, ev: &EventDetail, cmd: SaleCommand) -> Result<(), ApiError> {
    let client = temporal(state)?;
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

/// `POST /admin/api/v1/events/{id}/schedule` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Schedule {
    opens_at: DateTime<Utc>,
    closes_at: Option<DateTime<Utc>>,
}

async fn schedule(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Schedule>,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(&state, &admin, id).await?;
    let now = Utc::now();
    if !matches!(ev.summary.status.as_str(), "draft" | "scheduled") || ev.sale_started(now) {
        return Err(ApiError::conflict(
            "sale_started",
            "the sale has already opened; pause, resume or close it instead",
        ));
    }
    if body.opens_at <= now {
        return Err(ApiError::unprocessable(
            "opens_in_past",
            "the sale must open in the future",
        ));
    }
    if body.closes_at.is_some_and(|c| c <= body.opens_at) {
        return Err(ApiError::unprocessable(
            "invalid_window",
            "the sale must close after it opens",
        ));
    }
    if ev.sections.is_empty() {
        return Err(ApiError::unprocessable(
            "no_sections",
            "add at least one section before scheduling the sale",
        ));
    }
    // Checked before anything is written: a sale is scheduled only if its workflow starts.
    let client = temporal(&state)?;
    let changes = EventChanges {
        opens_at: Some(body.opens_at),
        closes_at: Some(body.closes_at),
        status: Some("scheduled"),
        ..Default::default()
    };
    store::update_event(&state.db, admin.account.id, id, &changes, "sale.schedule").await?;
    let event = EventId::from_uuid(id);
    let started = match onsale::start(client, &state.own.task_queue, event).await {
        Ok(()) if ev.summary.status == "scheduled" => {
            onsale::command(client, event, SaleCommand::Reschedule).await
        }
        other => other,
    };
    if let Err(e) = started {
        // Put the event back as it was, so a failed schedule leaves nothing half-done.
        let back = EventChanges {
            opens_at: ev.summary.opens_at,
            closes_at: Some(ev.summary.closes_at),
            status: Some(if ev.summary.status == "draft" {
                "draft"
            } else {
                "scheduled"
            }),
            ..Default::default()
        };
        let _ =
            store::update_event(&state.db, admin.account.id, id, &back, "sale.schedule_undo").await;
        return Err(ApiError::unavailable(e));
    }
    Ok(Json(visible_event(&state, &admin, id).await?))
}

async fn sale_command(
    state: &AdminState,
    admin: &Admin,
    id: Uuid,
    cmd: SaleCommand,
    allowed: &[&str],
    action: &str,
) -> Result<Json<EventDetail>, ApiError> {
    let ev = visible_event(state, admin, id).await?;
    if !allowed.contains(&ev.summary.status.as_str()) {
        return Err(ApiError::conflict(
            "sale_state",
            format!("the sale is {}", ev.summary.status),
        ));
    }
    command(state, &ev, cmd).await?;
    let mut tx = state.db.begin().await.map_err(ApiError::unavailable)?;
    store::audit(
        &mut tx,
        admin.account.id,
        Some(id),
        action,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await.map_err(ApiError::unavailable)?;
    // The workflow applies it in a moment; the caller sees the event as it is now.
    Ok(Json(visible_event(state, admin, id).await?))
}

async fn pause(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    sale_command(
        &state,
        &admin,
        id,
        SaleCommand::Pause,
        &["on_sale"],
        "sale.pause",
    )
    .await
}

async fn resume(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    sale_command(
        &state,
        &admin,
        id,
        SaleCommand::Resume,
        &["paused"],
        "sale.resume",
    )
    .await
}

async fn close(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    sale_command(
        &state,
        &admin,
        id,
        SaleCommand::Close,
        &["scheduled", "on_sale", "paused"],
        "sale.close",
    )
    .await
}

async fn audit(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<store::AuditRow>>, ApiError> {
    visible_event(&state, &admin, id).await?;
    Ok(Json(store::audit_trail(&state.db, id, 200).await?))
}
