//! The admin JSON API for events, inventory and the sale (`/admin/api/v1`). The handlers
//! check what an organizer sends ([`input`]), ask `boxoffice_workflows::store` and the on-sale
//! workflow, and translate; every store error becomes an answer through the one conversion in
//! `boxoffice_http::error`.

pub mod door;
pub mod events;
pub mod input;
pub mod inventory;
pub mod sale;

use axum::{
    Router,
    routing::{delete, get, post},
};
use boxoffice_http::error::{ApiError, ErrorCode};
use boxoffice_workflows::{
    domain::SaleCommand,
    store::events::{self as store, EventDetail},
};
use uuid::Uuid;

use crate::{
    AdminState,
    auth::{self, Admin},
};

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route(
            "/admin/api/v1/session",
            post(auth::login).delete(auth::logout),
        )
        .route("/admin/api/v1/me", get(auth::me))
        .route("/admin/api/v1/door-accounts", post(door::create))
        .route(
            "/admin/api/v1/events",
            get(events::list).post(events::create),
        )
        .route(
            "/admin/api/v1/events/{id}",
            get(events::show).patch(events::update),
        )
        .route(
            "/admin/api/v1/events/{id}/sections",
            post(inventory::add_section),
        )
        .route(
            "/admin/api/v1/events/{id}/sections/{code}",
            delete(inventory::delete_section),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations",
            post(inventory::add_allocation),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations/{aid}",
            delete(inventory::delete_allocation),
        )
        .route(
            "/admin/api/v1/events/{id}/allocations/{aid}/release",
            post(inventory::release_allocation),
        )
        .route("/admin/api/v1/events/{id}/schedule", post(sale::schedule))
        .route(
            "/admin/api/v1/events/{id}/pause",
            sale::route(SaleCommand::Pause),
        )
        .route(
            "/admin/api/v1/events/{id}/resume",
            sale::route(SaleCommand::Resume),
        )
        .route(
            "/admin/api/v1/events/{id}/close",
            sale::route(SaleCommand::Close),
        )
        .route("/admin/api/v1/events/{id}/audit", get(events::audit))
        .route(
            "/admin/api/v1/events/{id}/branding",
            get(events::branding).put(events::set_branding),
        )
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
        .ok_or_else(event_not_found)
}

/// The answer for an event the caller may not see or that does not exist.
pub fn event_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::EventNotFound, "no such event")
}
