//! The event page: the sale's controls, the live dashboard (the seat map and tiles its script
//! keeps current), the on-sale settings, the sections, the allocations and the latest audit
//! lines.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use boxoffice_workflows::{
    domain::{SaleCommand, SaleStatus},
    store::{
        audit::{self, AuditLine},
        events::EventDetail,
        inventory::{self, SeatRow, SectionKind, SectionRow},
    },
};
use chrono::Utc;
use maud::{Markup, html};
use uuid::Uuid;

use super::{
    PageAdmin,
    layout::{badge, layout, money, when},
    load,
};
use crate::{
    AdminState,
    api::{event_not_found, visible_event},
};

/// What every part of the page reads. The sale's controls show where its status allows the
/// command (`SaleCommand::allowed_in`), exactly as the API checks it.
struct EventView<'a> {
    ev: &'a EventDetail,
    id: Uuid,
    /// The event's admin API path.
    api: String,
    status: SaleStatus,
    /// Whether the sale has opened (the layout and allocations are then fixed).
    started: bool,
    /// The event's currency (its first section's; EUR before it has one).
    currency: String,
}

/// `GET /admin/events/{id}`.
pub(super) async fn event_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<String>,
) -> Response {
    let ev = match load(&admin, &id, event_not_found, |id| {
        visible_event(&state, &admin, id)
    })
    .await
    {
        Ok(ev) => ev,
        Err(page) => return page,
    };
    let id = ev.summary.id;
    let seats = inventory::seats(&state.db, id).await.unwrap_or_default();
    let trail = audit::trail(&state.db, id, 20).await.unwrap_or_default();
    let v = EventView {
        ev: &ev,
        id,
        api: format!("/admin/api/v1/events/{id}"),
        status: ev.summary.status,
        started: ev.sale_started(Utc::now()),
        currency: ev
            .sections
            .first()
            .map_or("EUR".to_owned(), |s| s.currency.clone()),
    };
    layout(
        &ev.summary.name,
        Some(&admin),
        html! {
            (head(&v))
            (live(&v, &seats))
            div.two {
                (on_sale(&v))
                (sections(&v))
            }
            (allocations(&v))
            (activity(&trail))
        },
    )
    .into_response()
}

/// The title, the sale's controls and the exports.
fn head(v: &EventView<'_>) -> Markup {
    html! {
        div.page-head {
            div {
                h1 { (v.ev.summary.name) " " (badge(v.status.as_str())) }
                p.muted { (v.ev.summary.venue) @if let Some(c) = &v.ev.city { ", " (c) } " · show " (when(Some(v.ev.summary.starts_at))) " (" (v.ev.timezone) ")" }
            }
            div.actions {
                @if SaleCommand::Pause.allowed_in(v.status) { button #pause data-api={(v.api) "/pause"} data-method="POST" { "Pause sale" } }
                @if SaleCommand::Resume.allowed_in(v.status) { button.primary #resume data-api={(v.api) "/resume"} data-method="POST" { "Resume sale" } }
                @if SaleCommand::Close.allowed_in(v.status) {
                    button.danger #close data-api={(v.api) "/close"} data-method="POST" data-confirm="Close the sale for good?" { "Close sale" }
                }
                a.button href={"/admin/orders?event=" (v.id)} { "Orders" }
                a.button href={(v.api) "/orders.csv"} { "Orders CSV" }
                a.button href={(v.api) "/attendees.csv"} { "Attendees CSV" }
            }
        }
        p.form-error.page-error role="alert" {}
    }
}

/// The live dashboard: tiles, the seat map and the side tables, filled in by the script.
fn live(v: &EventView<'_>, seats: &[SeatRow]) -> Markup {
    html! {
        section.card #live data-event=(v.id) data-currency=(v.currency) {
            div.live-head {
                h2 { "Live" }
                span.muted { "status " b data-stat="status" { (v.status.as_str()) } " · queue " b data-stat="phase" { "—" } " · updated " span data-stat="at" { "—" } }
            }
            div.tiles {
                div.tile { span.label { "Available" } span.value data-stat="available" { "—" } }
                div.tile { span.label { "Held" } span.value data-stat="held" { "—" } }
                div.tile { span.label { "Sold" } span.value data-stat="sold" { "—" } }
                div.tile { span.label { "Revenue" } span.value data-stat="revenue" { "—" } }
                div.tile { span.label { "Checked in" } span.value #checked-in data-stat="checked_in" { "—" } }
                div.tile { span.label { "In queue" } span.value data-stat="queue" { "—" } }
                div.tile { span.label { "Admitting /s" } span.value data-stat="rate" { "—" } span.sub data-stat="reason" {} }
            }
            div.live-grid {
                div.map {
                    @for s in &v.ev.sections {
                        (section_map(s, seats))
                    }
                    @if v.ev.sections.is_empty() { p.muted { "Add a section to see its seat map." } }
                    div.legend { span.seat.free {} "available" span.seat.held {} "held" span.seat.sold {} "sold" span.seat.off {} "not for sale" }
                }
                div.side {
                    h3 { "By section" }
                    table.compact { thead { tr { th { "Section" } th.num { "Avail." } th.num { "Held" } th.num { "Sold" } th.num { "In" } } } tbody data-stat="sections" {} }
                    h3 { "Orders by state" }
                    table.compact { tbody data-stat="orders" {} }
                    h3 { "Tickets sold, last 30 min" }
                    svg.chart data-stat="chart" viewBox="0 0 300 100" preserveAspectRatio="none" {}
                }
            }
        }
    }
}

/// One section of the seat map: its seats row by row, or a bar for standing units.
fn section_map(s: &SectionRow, seats: &[SeatRow]) -> Markup {
    html! {
        div.section-map data-section=(s.code) {
            h3 { (s.name) " " span.muted { (s.code) " · " (money(s.price_cents, &s.currency)) } }
            @if s.kind == SectionKind::Seated {
                @let rows = rows_of(seats, &s.code);
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
}

/// The seats of section `code`, grouped by row in the order given.
fn rows_of(seats: &[SeatRow], code: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for seat in seats.iter().filter(|s| s.section == code) {
        match out.last_mut() {
            Some((r, labels)) if *r == seat.row => labels.push(seat.label.clone()),
            _ => out.push((seat.row.clone(), vec![seat.label.clone()])),
        }
    }
    out
}

/// The sale's window and settings, with the forms that change them.
fn on_sale(v: &EventView<'_>) -> Markup {
    html! {
        section.card {
            h2 { "On-sale" }
            dl.settings {
                dt { "Opens" } dd #opens-at { (when(v.ev.summary.opens_at)) }
                dt { "Closes" } dd { (when(v.ev.summary.closes_at)) }
                dt { "Max tickets per buyer" } dd { (v.ev.max_tickets_per_buyer) }
                dt { "Hold time" } dd { (v.ev.hold_seconds) " s" }
                dt { "Admission cap" } dd { @if let Some(r) = v.ev.admission_rate_per_s { (r) " / s" } @else { "platform default" } }
            }
            @if !v.started && v.status.can_schedule() {
                h3 { "Schedule the sale" }
                form.grid #schedule data-api={(v.api) "/schedule"} data-method="POST" {
                    label { "Opens" input name="opens_at" type="datetime-local" step="1" data-type="datetime" required; }
                    label { "Closes (optional)" input name="closes_at" type="datetime-local" step="1" data-type="datetime"; }
                    div.actions { button.primary type="submit" { @if v.status == SaleStatus::Draft { "Schedule on-sale" } @else { "Reschedule" } } }
                    p.form-error role="alert" {}
                }
            }
            @if !v.status.is_over() {
                h3 { "Settings" }
                form.grid data-api=(v.api) data-method="PATCH" {
                    label { "Max tickets per buyer" input name="max_tickets_per_buyer" type="number" min="1" max="50" data-type="number" value=(v.ev.max_tickets_per_buyer); }
                    label { "Hold time (s)" input name="hold_seconds" type="number" min="30" max="3600" data-type="number" value=(v.ev.hold_seconds); }
                    label { "Admission cap (/s)" input name="admission_rate_per_s" type="number" min="1" data-type="number" data-null="1" value=[v.ev.admission_rate_per_s]; }
                    div.actions { button type="submit" { "Save settings" } }
                    p.form-error role="alert" {}
                }
            }
        }
    }
}

/// The sections, with the form that adds one before the sale opens.
fn sections(v: &EventView<'_>) -> Markup {
    html! {
        section.card {
            h2 { "Sections" }
            table.compact {
                thead { tr { th { "Code" } th { "Name" } th { "Kind" } th.num { "Capacity" } th.num { "Price" } @if !v.started { th {} } } }
                tbody {
                    @for s in &v.ev.sections {
                        tr {
                            td { (s.code) } td { (s.name) } td { (s.kind.as_str().replace('_', " ")) } td.num { (s.capacity) } td.num { (money(s.price_cents, &s.currency)) }
                            @if !v.started { td { button.link.danger data-api={(v.api) "/sections/" (s.code)} data-method="DELETE" data-confirm="Delete this section and its seats?" { "Delete" } } }
                        }
                    }
                }
            }
            @if !v.started {
                h3 { "Add a section" }
                form.grid #add-section data-api={(v.api) "/sections"} data-method="POST" {
                    label { "Code" input name="code" required maxlength="32" placeholder="A"; }
                    label { "Name" input name="name" required maxlength="100" placeholder="Stalls"; }
                    label { "Price (cents)" input name="price_cents" type="number" min="0" data-type="number" required placeholder="4500"; }
                    label { "Currency" input name="currency" maxlength="3" value=(v.currency); }
                    label.wide { "Seats (seated)" input name="seats" placeholder="rows A-J, seats 1-20; rows K-L, seats 1-24"; }
                    label { "Capacity (standing)" input name="capacity" type="number" min="1" data-type="number" placeholder="500"; }
                    div.actions { button.primary type="submit" { "Add section" } }
                    p.form-error role="alert" {}
                }
            }
        }
    }
}

/// The allocations, with their release and delete buttons and the form that adds one.
fn allocations(v: &EventView<'_>) -> Markup {
    html! {
        section.card {
            h2 { "Allocations" }
            p.muted { "Kills are never sold. Reserved and presale blocks stay out of the public sale until released." }
            table.compact {
                thead { tr { th { "Kind" } th { "Section" } th { "Seats / units" } th { "Note" } th { "Released" } th {} } }
                tbody {
                    @for a in &v.ev.allocations {
                        tr {
                            td { (badge(a.kind.as_str())) } td { (a.section) }
                            td { @if let Some(q) = a.quantity { (q) " units" } @else { (a.labels.join(", ")) } }
                            td { (a.note.clone().unwrap_or_default()) }
                            td { (when(a.released_at)) }
                            td {
                                @if a.releasable() {
                                    button.link data-api={(v.api) "/allocations/" (a.id) "/release"} data-method="POST" { "Release to sale" }
                                }
                                @if !v.started {
                                    button.link.danger data-api={(v.api) "/allocations/" (a.id)} data-method="DELETE" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            @if !v.started && !v.ev.sections.is_empty() {
                form.grid #add-allocation data-api={(v.api) "/allocations"} data-method="POST" {
                    label { "Kind" select name="kind" { option value="kill" { "Kill" } option value="reserved" { "Reserved" } option value="presale" { "Presale" } } }
                    label { "Section" select name="section" { @for s in &v.ev.sections { option value=(s.code) { (s.code) " — " (s.name) } } } }
                    label.wide { "Seats (seated)" input name="seats" placeholder="A-1, A-2"; }
                    label { "Units (standing)" input name="quantity" type="number" min="1" data-type="number"; }
                    label { "Access code (presale)" input name="access_code"; }
                    label { "Note" input name="note" maxlength="500"; }
                    div.actions { button.primary type="submit" { "Add allocation" } }
                    p.form-error role="alert" {}
                }
            }
        }
    }
}

/// The latest audit lines.
fn activity(audit: &[AuditLine]) -> Markup {
    html! {
        section.card {
            h2 { "Activity" }
            table.compact {
                tbody {
                    @for a in audit { tr { td.muted { (when(Some(a.at))) } td { (a.who) } td { code { (a.action) } } } }
                }
            }
        }
    }
}
