//! The admin UI: server-rendered pages (maud), with one small script (`assets/admin.js`) that
//! sends forms to the admin API as JSON with the CSRF token and keeps the live dashboard
//! current from its server-sent events. One module per page; [`layout`] is the frame.

mod checkin;
mod event;
mod events;
pub mod layout;
mod orders;
mod reports;
mod sign_in;

use std::future::Future;

use axum::{
    Router,
    extract::FromRequestParts,
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use boxoffice_http::error::ApiError;
use maud::html;
use uuid::Uuid;

use crate::{
    AdminState,
    auth::{self, Admin},
};

const CSS: &str = include_str!("../assets/admin.css");
const JS: &str = include_str!("../assets/admin.js");
const CHECKIN_JS: &str = include_str!("../assets/checkin.js");

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(events::events_page))
        .route(
            "/admin/login",
            get(sign_in::login_page).post(sign_in::login_form),
        )
        .route("/admin/logout", post(sign_in::logout_form))
        .route("/admin/events/{id}", get(event::event_page))
        .route("/admin/orders", get(orders::orders_page))
        .route("/admin/orders/{id}", get(orders::order_page))
        .route("/admin/reports", get(reports::reports_page))
        .route("/admin/checkin", get(checkin::scanner_page))
        .route("/admin/assets/admin.css", get(|| asset(CSS, "text/css")))
        .route(
            "/admin/assets/admin.js",
            get(|| asset(JS, "text/javascript")),
        )
        .route(
            "/admin/assets/checkin.js",
            get(|| asset(CHECKIN_JS, "text/javascript")),
        )
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// A page's signed-in organizer or operator, or a redirect to the login page; door staff get
/// a page saying the scanner is theirs (403).
pub struct PageAdmin(pub Admin);

impl FromRequestParts<AdminState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        let PageStaff(admin) = PageStaff::from_request_parts(parts, state).await?;
        if admin.is_door() {
            return Err(door_page(&admin));
        }
        Ok(Self(admin))
    }
}

/// A page's signed-in account, door staff included (the scanner and signing out).
pub struct PageStaff(pub Admin);

impl FromRequestParts<AdminState> for PageStaff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        match auth::current(parts, state).await {
            Ok(Some(a)) => Ok(Self(a)),
            Ok(None) => {
                let next = parts.uri.path_and_query().map_or("/admin/", |p| p.as_str());
                let to = format!("/admin/login?next={}", layout::urlencode(next));
                Err(Redirect::to(&to).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// What door staff see on any page but the scanner (403).
fn door_page(admin: &Admin) -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        layout::layout(
            "Door staff",
            Some(admin),
            html! {
                section.card.narrow {
                    h1 { "This page is not for door staff" }
                    p { "A door staff account checks tickets in at the door and does nothing else." }
                    p { a.button.primary href="/admin/checkin" { "Open the check-in scanner" } }
                }
            },
        ),
    )
        .into_response()
}

/// An error as a page, with the error's status.
fn page_error(e: impl Into<ApiError>, admin: &Admin) -> Response {
    let e = e.into();
    let status = e.status();
    (
        status,
        layout::layout(
            "Not found",
            Some(admin),
            html! { section.card { h1 { "Sorry" } p { (e.to_string()) } p { a href="/admin/" { "Back to events" } } } },
        ),
    )
        .into_response()
}

/// What a page shows, loaded for the id in its path; a malformed id is the page's
/// `not_found`, and any failure is the error page.
async fn load<T, F>(
    admin: &Admin,
    id: &str,
    not_found: fn() -> ApiError,
    fetch: impl FnOnce(Uuid) -> F,
) -> Result<T, Response>
where
    F: Future<Output = Result<T, ApiError>>,
{
    let id = id
        .parse::<Uuid>()
        .map_err(|_| page_error(not_found(), admin))?;
    fetch(id).await.map_err(|e| page_error(e, admin))
}
