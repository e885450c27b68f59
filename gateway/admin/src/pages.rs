//! The admin UI: server-rendered pages (maud), with one small script (`assets/admin.js`) that
//! sends forms to the admin API as JSON with the CSRF token and keeps the live dashboard
//! current from its server-sent events.

use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    auth::{self, Admin},
    orders::{self, Search},
    store,
};
use boxoffice_http::{client::ClientIp, error::ApiError, extract::ApiQuery};

use crate::AdminState;

const CSS: &str = include_str!("assets/admin.css");
const JS: &str = include_str!("assets/admin.js");

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(events_page))
        .route("/admin/login", get(login_page).post(login_form))
        .route("/admin/logout", axum::routing::post(logout_form))
        .route("/admin/events/{id}", get(event_page))
        .route("/admin/orders", get(orders_page))
        .route("/admin/orders/{id}", get(order_page))
        .route("/admin/reports", get(reports_page))
        .route("/admin/assets/admin.css", get(|| asset(CSS, "text/css")))
        .route(
            "/admin/assets/admin.js",
            get(|| asset(JS, "text/javascript")),
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

/// A page's signed-in account, or a redirect to the login page.
pub struct PageAdmin(pub Admin);

impl axum::extract::FromRequestParts<AdminState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Self, Response> {
        match auth::current(parts, state).await {
            Ok(Some(a)) => Ok(Self(a)),
            Ok(None) => {
                let next = parts.uri.path_and_query().map_or("/admin/", |p| p.as_str());
                let to = format!("/admin/login?next={}", urlencode(next));
                Err(Redirect::to(&to).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or("—".into(), |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

fn money(cents: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", cents / 100, (cents % 100).abs())
}

fn badge(status: &str) -> Markup {
    html! { span class={"badge badge-" (status)} { (status.replace('_', " ")) } }
}

fn layout(title: &str, admin: Option<&Admin>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(a) = admin { meta name="csrf-token" content=(a.csrf); }
                    title { (title) " · Boxoffice" }
                    link rel="stylesheet" href="/admin/assets/admin.css";
                    script src="/admin/assets/admin.js" defer {}
                }
                body {
                    header.top {
                        a.brand href="/admin/" { "Boxoffice" span.brand-sub { "organizer" } }
                        @if let Some(a) = admin {
                            nav {
                                a href="/admin/" { "Events" }
                                a href="/admin/orders" { "Orders" }
                                a href="/admin/reports" { "Reconciliation" }
                            }
                            div.who {
                                span { (a.account.display_name) }
                                @if a.is_operator() { span.badge.badge-operator { "operator" } }
                                form method="post" action="/admin/logout" {
                                    input type="hidden" name="csrf" value=(a.csrf);
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    // Only a path of ours: never an open redirect to another site.
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") => n.to_owned(),
        _ => "/admin/".into(),
    }
}

fn login_markup(next: &str, error: Option<&str>) -> Html<String> {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p.muted { "Organizer and operator accounts." }
                @if let Some(e) = error { p.form-error.shown role="alert" { (e) } }
                form method="post" action="/admin/login" {
                    input type="hidden" name="next" value=(next);
                    label { "Email" input #email type="email" name="email" required autocomplete="username"; }
                    label { "Password" input #password type="password" name="password" required autocomplete="current-password"; }
                    button.primary #sign-in type="submit" { "Sign in" }
                }
            }
        },
    )
}

async fn login_page(ApiQuery(q): ApiQuery<Next>) -> Html<String> {
    login_markup(&safe_next(q.next.as_deref()), None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn login_form(
    State(state): State<AdminState>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            login_markup("/admin/", Some("Fill in both fields.")),
        )
            .into_response();
    };
    let next = safe_next(form.next.as_deref());
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_none_or(|o| {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            o.split_once("://").is_some_and(|(_, rest)| rest == host)
        });
    if !origin_ok {
        return (
            StatusCode::FORBIDDEN,
            login_markup(&next, Some("Sign in from this site.")),
        )
            .into_response();
    }
    let login = auth::Login {
        email: form.email,
        password: form.password,
    };
    match auth::check_login(&state, &login, from).await {
        Ok(account) => {
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            match auth::open_session(&state, &account, ua).await {
                Ok((cookie, _)) => {
                    let mut r = Redirect::to(&next).into_response();
                    r.headers_mut().insert(header::SET_COOKIE, cookie);
                    r
                }
                Err(e) => e.into_response(),
            }
        }
        Err(e) => {
            let status = e.status();
            (status, login_markup(&next, Some(&e.to_string()))).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout_form(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if form.csrf != admin.csrf {
        return ApiError::forbidden("csrf_invalid", "stale form; reload the page").into_response();
    }
    if let Err(e) = auth::end_session(&state, &headers).await {
        return e.into_response();
    }
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth::cleared_cookie(&state));
    r
}

fn page_error(e: ApiError, admin: &Admin) -> Response {
    let status = e.status();
    (
        status,
        layout(
            "Not found",
            Some(admin),
            html! { section.card { h1 { "Sorry" } p { (e.to_string()) } p { a href="/admin/" { "Back to events" } } } },
        ),
    )
        .into_response()
}

async fn events_page(State(state): State<AdminState>, PageAdmin(admin): PageAdmin) -> Response {
    let events = match store::list_events(&state.db, admin.scope()).await {
        Ok(e) => e,
        Err(e) => return page_error(e, &admin),
    };
    layout(
        "Events",
        Some(&admin),
        html! {
            div.page-head {
                h1 { "Events" }
                button.primary data-toggle="new-event" { "New event" }
            }
            section.card #new-event hidden {
                h2 { "New event" }
                form.grid data-api="/admin/api/v1/events" data-method="POST" data-next="/admin/events/{id}" {
                    label { "Name" input name="name" required maxlength="200" placeholder="Summer Tour — Berlin"; }
                    label { "Venue" input name="venue" required maxlength="200" placeholder="Waldbühne"; }
                    label { "City" input name="city" maxlength="100"; }
                    label { "Time zone" input name="timezone" required value="Europe/Berlin"; }
                    label { "Show starts" input name="starts_at" type="datetime-local" data-type="datetime" required; }
                    div.actions { button.primary type="submit" { "Create draft" } }
                    p.form-error role="alert" {}
                }
            }
            section.card {
                @if events.is_empty() {
                    p.muted { "No events yet. Create one to set up its sections and on-sale." }
                } @else {
                    table {
                        thead { tr { th { "Event" } th { "Venue" } th { "Show" } th { "Sale opens" } th { "Status" } th.num { "Sold" } @if admin.is_operator() { th { "Organizer" } } } }
                        tbody {
                            @for e in &events {
                                tr {
                                    td { a href={"/admin/events/" (e.id)} { (e.name) } }
                                    td { (e.venue) }
                                    td { (when(Some(e.starts_at))) }
                                    td { (when(e.opens_at)) }
                                    td { (badge(&e.status)) }
                                    td.num { (e.sold) " / " (e.capacity) }
                                    @if admin.is_operator() { td { (e.organizer) } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

async fn event_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return page_error(
            ApiError::not_found("event_not_found", "no such event"),
            &admin,
        );
    };
    let ev = match super::api::visible_event(&state, &admin, id).await {
        Ok(e) => e,
        Err(e) => return page_error(e, &admin),
    };
    let seats = store::section_seats(&state.db, id)
        .await
        .unwrap_or_default();
    let audit = store::audit_trail(&state.db, id, 20)
        .await
        .unwrap_or_default();
    let started = ev.sale_started(Utc::now());
    let status = ev.summary.status.as_str();
    let currency = ev
        .sections
        .first()
        .map_or("EUR".to_owned(), |s| s.currency.clone());
    let api = format!("/admin/api/v1/events/{id}");
    layout(
        &ev.summary.name,
        Some(&admin),
        html! {
            div.page-head {
                div {
                    h1 { (ev.summary.name) " " (badge(status)) }
                    p.muted { (ev.summary.venue) @if let Some(c) = &ev.city { ", " (c) } " · show " (when(Some(ev.summary.starts_at))) " (" (ev.timezone) ")" }
                }
                div.actions {
                    @if status == "on_sale" { button #pause data-api={(api) "/pause"} data-method="POST" { "Pause sale" } }
                    @if status == "paused" { button.primary #resume data-api={(api) "/resume"} data-method="POST" { "Resume sale" } }
                    @if matches!(status, "scheduled" | "on_sale" | "paused") {
                        button.danger #close data-api={(api) "/close"} data-method="POST" data-confirm="Close the sale for good?" { "Close sale" }
                    }
                    a.button href={"/admin/orders?event=" (id)} { "Orders" }
                    a.button href={(api) "/orders.csv"} { "Orders CSV" }
                    a.button href={(api) "/attendees.csv"} { "Attendees CSV" }
                }
            }
            p.form-error.page-error role="alert" {}

            section.card #live data-event=(id) data-currency=(currency) {
                div.live-head {
                    h2 { "Live" }
                    span.muted { "status " b data-stat="status" { (status) } " · queue " b data-stat="phase" { "—" } " · updated " span data-stat="at" { "—" } }
                }
                div.tiles {
                    div.tile { span.label { "Available" } span.value data-stat="available" { "—" } }
                    div.tile { span.label { "Held" } span.value data-stat="held" { "—" } }
                    div.tile { span.label { "Sold" } span.value data-stat="sold" { "—" } }
                    div.tile { span.label { "Revenue" } span.value data-stat="revenue" { "—" } }
                    div.tile { span.label { "In queue" } span.value data-stat="queue" { "—" } }
                    div.tile { span.label { "Admitting /s" } span.value data-stat="rate" { "—" } span.sub data-stat="reason" {} }
                }
                div.live-grid {
                    div.map {
                        @for s in &ev.sections {
                            div.section-map data-section=(s.code) {
                                h3 { (s.name) " " span.muted { (s.code) " · " (money(s.price_cents, &s.currency)) } }
                                @if s.kind == "seated" {
                                    @let rows = rows_of(&seats, &s.code);
                                    div.rows {
                                        @for (row, labels) in &rows {
                                            div.row {
                                                span.rl { (row) }
                                                @for l in labels {
                                                    span.seat.off data-seat={(s.code) ":" (l)} title={(s.code) ":" (l)} {}
                                                }
                                            }
                                        }
                                    }
                                } @else {
                                    div.ga data-ga=(s.code) {
                                        div.bar { span.sold {} span.held {} }
                                        span.muted data-ga-text=(s.code) { (s.capacity) " standing" }
                                    }
                                }
                            }
                        }
                        @if ev.sections.is_empty() { p.muted { "Add a section to see its seat map." } }
                        div.legend { span.seat.free {} "available" span.seat.held {} "held" span.seat.sold {} "sold" span.seat.off {} "not for sale" }
                    }
                    div.side {
                        h3 { "By section" }
                        table.compact { thead { tr { th { "Section" } th.num { "Avail." } th.num { "Held" } th.num { "Sold" } } } tbody data-stat="sections" {} }
                        h3 { "Orders by state" }
                        table.compact { tbody data-stat="orders" {} }
                        h3 { "Tickets sold, last 30 min" }
                        svg.chart data-stat="chart" viewBox="0 0 300 100" preserveAspectRatio="none" {}
                    }
                }
            }

            div.two {
                section.card {
                    h2 { "On-sale" }
                    dl.settings {
                        dt { "Opens" } dd #opens-at { (when(ev.summary.opens_at)) }
                        dt { "Closes" } dd { (when(ev.summary.closes_at)) }
                        dt { "Max tickets per buyer" } dd { (ev.max_tickets_per_buyer) }
                        dt { "Hold time" } dd { (ev.hold_seconds) " s" }
                        dt { "Admission cap" } dd { @if let Some(r) = ev.admission_rate_per_s { (r) " / s" } @else { "platform default" } }
                    }
                    @if !started && matches!(status, "draft" | "scheduled") {
                        h3 { "Schedule the sale" }
                        form.grid #schedule data-api={(api) "/schedule"} data-method="POST" {
                            label { "Opens" input name="opens_at" type="datetime-local" step="1" data-type="datetime" required; }
                            label { "Closes (optional)" input name="closes_at" type="datetime-local" step="1" data-type="datetime"; }
                            div.actions { button.primary type="submit" { @if status == "draft" { "Schedule on-sale" } @else { "Reschedule" } } }
                            p.form-error role="alert" {}
                        }
                    }
                    @if !matches!(status, "closed" | "canceled") {
                        h3 { "Settings" }
                        form.grid data-api=(api) data-method="PATCH" {
                            label { "Max tickets per buyer" input name="max_tickets_per_buyer" type="number" min="1" max="50" data-type="number" value=(ev.max_tickets_per_buyer); }
                            label { "Hold time (s)" input name="hold_seconds" type="number" min="30" max="3600" data-type="number" value=(ev.hold_seconds); }
                            label { "Admission cap (/s)" input name="admission_rate_per_s" type="number" min="1" data-type="number" data-null="1" value=[ev.admission_rate_per_s]; }
                            div.actions { button type="submit" { "Save settings" } }
                            p.form-error role="alert" {}
                        }
                    }
                }
                section.card {
                    h2 { "Sections" }
                    table.compact {
                        thead { tr { th { "Code" } th { "Name" } th { "Kind" } th.num { "Capacity" } th.num { "Price" } @if !started { th {} } } }
                        tbody {
                            @for s in &ev.sections {
                                tr {
                                    td { (s.code) } td { (s.name) } td { (s.kind.replace('_', " ")) } td.num { (s.capacity) } td.num { (money(s.price_cents, &s.currency)) }
                                    @if !started { td { button.link.danger data-api={(api) "/sections/" (s.code)} data-method="DELETE" data-confirm="Delete this section and its seats?" { "Delete" } } }
                                }
                            }
                        }
                    }
                    @if !started {
                        h3 { "Add a section" }
                        form.grid #add-section data-api={(api) "/sections"} data-method="POST" {
                            label { "Code" input name="code" required maxlength="32" placeholder="A"; }
                            label { "Name" input name="name" required maxlength="100" placeholder="Stalls"; }
                            label { "Price (cents)" input name="price_cents" type="number" min="0" data-type="number" required placeholder="4500"; }
                            label { "Currency" input name="currency" maxlength="3" value=(currency); }
                            label.wide { "Seats (seated)" input name="seats" placeholder="rows A-J, seats 1-20; rows K-L, seats 1-24"; }
                            label { "Capacity (standing)" input name="capacity" type="number" min="1" data-type="number" placeholder="500"; }
                            div.actions { button.primary type="submit" { "Add section" } }
                            p.form-error role="alert" {}
                        }
                    }
                }
            }

            section.card {
                h2 { "Allocations" }
                p.muted { "Kills are never sold. Reserved and presale blocks stay out of the public sale until released." }
                table.compact {
                    thead { tr { th { "Kind" } th { "Section" } th { "Seats / units" } th { "Note" } th { "Released" } th {} } }
                    tbody {
                        @for a in &ev.allocations {
                            tr {
                                td { (badge(&a.kind)) } td { (a.section) }
                                td { @if let Some(q) = a.quantity { (q) " units" } @else { (a.labels.join(", ")) } }
                                td { (a.note.clone().unwrap_or_default()) }
                                td { (when(a.released_at)) }
                                td {
                                    @if a.released_at.is_none() && a.kind != "kill" {
                                        button.link data-api={(api) "/allocations/" (a.id) "/release"} data-method="POST" { "Release to sale" }
                                    }
                                    @if !started {
                                        button.link.danger data-api={(api) "/allocations/" (a.id)} data-method="DELETE" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !started && !ev.sections.is_empty() {
                    form.grid #add-allocation data-api={(api) "/allocations"} data-method="POST" {
                        label { "Kind" select name="kind" { option value="kill" { "Kill" } option value="reserved" { "Reserved" } option value="presale" { "Presale" } } }
                        label { "Section" select name="section" { @for s in &ev.sections { option value=(s.code) { (s.code) " — " (s.name) } } } }
                        label.wide { "Seats (seated)" input name="seats" placeholder="A-1, A-2"; }
                        label { "Units (standing)" input name="quantity" type="number" min="1" data-type="number"; }
                        label { "Access code (presale)" input name="access_code"; }
                        label { "Note" input name="note" maxlength="500"; }
                        div.actions { button.primary type="submit" { "Add allocation" } }
                        p.form-error role="alert" {}
                    }
                }
            }

            section.card {
                h2 { "Activity" }
                table.compact {
                    tbody {
                        @for a in &audit { tr { td.muted { (when(Some(a.at))) } td { (a.who) } td { code { (a.action) } } } }
                    }
                }
            }
        },
    )
    .into_response()
}

fn rows_of(seats: &[(String, String, String, i32)], code: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (c, label, row, _) in seats.iter().filter(|s| s.0 == code) {
        let _ = c;
        match out.last_mut() {
            Some((r, labels)) if r == row => labels.push(label.clone()),
            _ => out.push((row.clone(), vec![label.clone()])),
        }
    }
    out
}

async fn orders_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    q: Result<ApiQuery<Search>, ApiError>,
) -> Response {
    let q = match q {
        Ok(ApiQuery(q)) => q,
        Err(e) => return page_error(e, &admin),
    };
    let rows = match orders::find_orders(&state, &admin, &q).await {
        Ok(r) => r,
        Err(e) => return page_error(e, &admin),
    };
    let events = store::list_events(&state.db, admin.scope())
        .await
        .unwrap_or_default();
    layout(
        "Orders",
        Some(&admin),
        html! {
            div.page-head { h1 { "Orders" } }
            section.card {
                form.filters method="get" action="/admin/orders" {
                    label { "Event" select name="event" {
                        option value="" { "All events" }
                        @for e in &events { option value=(e.id) selected[q.event == Some(e.id)] { (e.name) } }
                    } }
                    label { "State" select name="state" {
                        option value="" { "Any" }
                        @for s in ["awaiting_payment", "issued", "refunded", "expired", "payment_failed", "canceled", "rejected", "confirmed", "held"] {
                            option value=(s) selected[q.state.as_deref() == Some(s)] { (s.replace('_', " ")) }
                        }
                    } }
                    label { "Buyer" input name="buyer" placeholder="buyer id" value=[q.buyer]; }
                    button type="submit" { "Search" }
                }
                @if rows.is_empty() { p.muted { "No orders match." } } @else {
                    table {
                        thead { tr { th { "Order" } th { "Event" } th { "Buyer" } th { "Seats" } th { "State" } th.num { "Amount" } th { "Created" } } }
                        tbody {
                            @for o in &rows {
                                tr {
                                    td { a href={"/admin/orders/" (o.order_id)} { code { (o.order_id.to_string()[..8]) "…" } } }
                                    td { (o.event_name) }
                                    td { code { (o.buyer_id.to_string()[..8]) "…" } }
                                    td { (o.seats.join(", ")) }
                                    td { (badge(&o.state)) }
                                    td.num { (money(o.amount_cents, &o.currency)) }
                                    td.muted { (when(Some(o.created_at))) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

async fn order_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return page_error(
            ApiError::not_found("order_not_found", "no such order"),
            &admin,
        );
    };
    let d = match orders::order_detail(&state, &admin, id).await {
        Ok(d) => d,
        Err(e) => return page_error(e, &admin),
    };
    let o = &d.order;
    layout(
        "Order",
        Some(&admin),
        html! {
            div.page-head {
                div {
                    h1 { "Order " code { (o.order_id) } " " span #order-state { (badge(&o.state)) } }
                    p.muted { a href={"/admin/events/" (o.event_id)} { (o.event_name) } " · buyer " code { (o.buyer_id) } " · " (money(o.amount_cents, &o.currency)) }
                    @if let Some(r) = &o.reason { p { "Reason: " (r) } }
                }
                div.actions { a.button href=(d.workflow.link) target="_blank" rel="noopener" { "Open in Temporal" } }
            }
            p.form-error.page-error role="alert" {}
            div.two {
                section.card {
                    h2 { "Seats and tickets" }
                    table.compact {
                        thead { tr { th { "Seat" } th { "Ticket" } th { "State" } th { "Issued" } } }
                        tbody {
                            @for s in &o.seats {
                                @let t = d.tickets.iter().find(|t| &t.seat == s);
                                tr { td { (s) } td { code { (t.map_or("—", |t| t.code.as_str())) } } td { @if let Some(t) = t { (badge(&t.state)) } } td.muted { (when(t.map(|t| t.issued_at))) } }
                            }
                        }
                    }
                    h2 { "Payments" }
                    table.compact {
                        thead { tr { th { "Provider id" } th { "State" } th.num { "Amount" } th.num { "Captured" } th.num { "Refunded" } } }
                        tbody {
                            @for p in &d.payments {
                                tr { td { code { (p.provider_intent_id) } } td { (badge(&p.state)) } td.num { (money(p.amount_cents, &o.currency)) } td.num { (money(p.captured_cents, &o.currency)) } td.num { (money(p.refunded_cents, &o.currency)) } }
                            }
                        }
                    }
                    @if o.state == "issued" {
                        h2 { "Refund" }
                        form.grid #refund data-api={"/admin/api/v1/orders/" (o.order_id) "/refund"} data-method="POST" data-confirm="Refund this order and void its tickets?" {
                            label.wide { "Reason" input name="reason" required maxlength="500" placeholder="Customer request"; }
                            div.actions { button.danger type="submit" { "Refund order" } }
                            p.form-error role="alert" {}
                        }
                    }
                }
                section.card {
                    h2 { "State changes" }
                    table.compact { tbody { @for t in &d.transitions { tr { td.muted { (when(Some(t.at))) } td { (t.from.clone().unwrap_or_else(|| "—".into())) " → " b { (t.to) } } } } } }
                    h2 { "Workflow " span.muted { (d.workflow.status) } }
                    p { code { (d.workflow.id) } }
                    table.compact { tbody { @for h in &d.workflow.history { tr { td.num.muted { (h.id) } td { (h.kind) } td.muted { (when(h.at)) } } } } }
                }
            }
        },
    )
    .into_response()
}

async fn reports_page(State(state): State<AdminState>, PageAdmin(admin): PageAdmin) -> Response {
    let runs = match orders::recent_runs(&state, &admin).await {
        Ok(r) => r,
        Err(e) => return page_error(e, &admin),
    };
    layout(
        "Reconciliation",
        Some(&admin),
        html! {
            div.page-head { h1 { "Reconciliation" } }
            section.card {
                p.muted { "Each run compares the seat store, orders, tickets and the payment provider's ledger, repairs what is safe and reports the rest." }
                @if runs.is_empty() { p.muted { "No runs yet." } }
                @for r in &runs {
                    details.run open[r.unresolved > 0] {
                        summary {
                            (badge(&r.status)) " " (when(Some(r.started_at))) " · " (r.trigger) " · "
                            (r.checked_seats) " seats checked · " (r.repaired) " repaired · "
                            span class=(if r.unresolved > 0 { "warn" } else { "" }) { (r.unresolved) " unresolved" }
                        }
                        @if r.findings.is_empty() { p.muted { "No findings." } } @else {
                            table.compact {
                                thead { tr { th { "Kind" } th { "Order" } th { "Seat" } th { "Repaired" } th { "Detail" } } }
                                tbody {
                                    @for f in &r.findings {
                                        tr {
                                            td { code { (f["kind"].as_str().unwrap_or("")) } }
                                            td { @if let Some(o) = f["order"].as_str() { a href={"/admin/orders/" (o)} { code { (&o[..8.min(o.len())]) "…" } } } }
                                            td { (f["seat"].as_str().unwrap_or("")) }
                                            td { (if f["repaired"].as_bool() == Some(true) { "yes" } else { "no" }) }
                                            td { (f["detail"].as_str().unwrap_or("")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (PreEscaped(""))
        },
    )
    .into_response()
}
