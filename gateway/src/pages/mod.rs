//! The buyer's pages: server-rendered shells (maud) with a little script (`assets/core.js`
//! shared, `buyer.js` up to the order, `order.js` the order and tickets) that reads and writes
//! everything through the public buyer API, as any other client would
//! (docs/adr/0024-buyer-pages-on-the-public-api.md).
//!
//! A shell holds no buyer's data, only the event's (name, venue, branding), so each event's
//! shells are rendered once per catalog change and served from memory with an `ETag`
//! ([`shells`]): the waiting-room page costs the entrance about what a static response does.
//! Every URL a page uses is relative, so the pages work under any prefix an organizer's
//! reverse proxy puts them behind. [`views`] holds the markup.

mod shells;
mod views;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use boxoffice_http::extract::ApiPath;
use boxoffice_nats::EventId;

pub use shells::Shells;
use views::Kind;

use crate::AppState;

const CSS: &str = include_str!("assets/buyer.css");
const CORE_JS: &str = include_str!("assets/core.js");
const BUYER_JS: &str = include_str!("assets/buyer.js");
const ORDER_JS: &str = include_str!("assets/order.js");

/// The pages' content security policy: scripts and styles only from this origin (no inline
/// script or style anywhere), images also from `https:` (organizers' logos) and `blob:` (the
/// tickets' QR codes, fetched with the session), requests only to this origin, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The routes (the buyer pages and their assets).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/events/{event_id}", get(event_page))
        .route("/events/{event_id}/queue", get(queue_page))
        .route("/events/{event_id}/pick", get(pick_page))
        .route("/events/{event_id}/brand.css", get(brand_css))
        .route("/orders/{order_id}", get(order_page))
        .route("/orders/{order_id}/tickets", get(tickets_page))
        .route("/assets/buyer.css", get(|| asset(CSS, "text/css")))
        .route("/assets/core.js", get(|| asset(CORE_JS, "text/javascript")))
        .route(
            "/assets/buyer.js",
            get(|| asset(BUYER_JS, "text/javascript")),
        )
        .route(
            "/assets/order.js",
            get(|| asset(ORDER_JS, "text/javascript")),
        )
        .layer(axum::middleware::from_fn(security_headers))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// A cached page, or `304 Not Modified` when the browser has this version.
fn cached(page: &shells::Rendered, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == page.etag.as_bytes());
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        page.body.clone().into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(page.kind));
    // Revalidated on every load: a branding change shows within the catalog's refresh.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0, must-revalidate"),
    );
    h.insert(header::ETAG, page.etag.clone());
    r
}

/// The event's cached page of `kind`, or the not-found page.
fn event_shell(state: &AppState, id: uuid::Uuid, kind: Kind, headers: &HeaderMap) -> Response {
    let catalog = &state.buyer.catalog;
    let id = EventId::from_uuid(id);
    match catalog.get(id) {
        Some(event) => {
            let brand = catalog.branding(id);
            cached(&state.pages.get(kind, &event, brand), headers)
        }
        None => not_found(kind.depth()),
    }
}

fn not_found(depth: usize) -> Response {
    (StatusCode::NOT_FOUND, views::not_found(depth)).into_response()
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cached(&state.pages.home(), &headers)
}

async fn event_page(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
) -> Response {
    event_shell(&state, id, Kind::Event, &headers)
}

/// The waiting room: the entrance's hottest page, served from memory.
async fn queue_page(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
) -> Response {
    event_shell(&state, id, Kind::Queue, &headers)
}

async fn pick_page(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
) -> Response {
    event_shell(&state, id, Kind::Pick, &headers)
}

async fn brand_css(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
) -> Response {
    event_shell(&state, id, Kind::BrandCss, &headers)
}

async fn order_page(ApiPath(id): ApiPath<uuid::Uuid>) -> Response {
    views::order(id, false).into_response()
}

async fn tickets_page(ApiPath(id): ApiPath<uuid::Uuid>) -> Response {
    views::order(id, true).into_response()
}
