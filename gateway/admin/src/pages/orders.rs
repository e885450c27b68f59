//! The orders search and one order's page.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use boxoffice_http::{error::ApiError, extract::ApiQuery};
use boxoffice_workflows::{
    domain::OrderState,
    store::{admin_orders, events},
};
use maud::{Markup, html};

use super::{
    PageAdmin,
    layout::{badge, layout, money, when},
    load, page_error,
};
use crate::{
    AdminState,
    orders::{OrderDetail, Search, order_detail, order_not_found},
};

/// The states the search offers, most asked for first.
const FILTER_STATES: [OrderState; 9] = [
    OrderState::AwaitingPayment,
    OrderState::Issued,
    OrderState::Refunded,
    OrderState::Expired,
    OrderState::PaymentFailed,
    OrderState::Canceled,
    OrderState::Rejected,
    OrderState::Confirmed,
    OrderState::Held,
];

/// `GET /admin/orders`: the orders search.
pub(super) async fn orders_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    q: Result<ApiQuery<Search>, ApiError>,
) -> Response {
    let q = match q {
        Ok(ApiQuery(q)) => q,
        Err(e) => return page_error(e, &admin),
    };
    let query = match q.query(&admin) {
        Ok(query) => query,
        Err(e) => return page_error(e, &admin),
    };
    let rows = match admin_orders::find_orders(&state.db, &query).await {
        Ok(r) => r,
        Err(e) => return page_error(e, &admin),
    };
    let events = events::list_events(&state.db, admin.scope())
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
                        @for s in FILTER_STATES {
                            option value=(s.as_str()) selected[query.state == Some(s)] { (s.as_str().replace('_', " ")) }
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
                                    td { (badge(o.state.as_str())) }
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

/// `GET /admin/orders/{id}`: one order's story, with the refund form while it can be refunded.
pub(super) async fn order_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
    Path(id): Path<String>,
) -> Response {
    let d = match load(&admin, &id, order_not_found, |id| {
        order_detail(&state, &admin, id)
    })
    .await
    {
        Ok(d) => d,
        Err(page) => return page,
    };
    let o = &d.order;
    layout(
        "Order",
        Some(&admin),
        html! {
            div.page-head {
                div {
                    h1 { "Order " code { (o.order_id) } " " span #order-state { (badge(o.state.as_str())) } }
                    p.muted { a href={"/admin/events/" (o.event_id)} { (o.event_name) } " · buyer " code { (o.buyer_id) } " · " (money(o.amount_cents, &o.currency)) }
                    @if let Some(r) = &o.reason { p { "Reason: " (r) } }
                }
                div.actions { a.button href=(d.workflow.link) target="_blank" rel="noopener" { "Open in Temporal" } }
            }
            p.form-error.page-error role="alert" {}
            div.two {
                (tickets_and_payments(&d))
                section.card {
                    h2 { "State changes" }
                    table.compact { tbody { @for t in &d.transitions { tr { td.muted { (when(Some(t.at))) } td { (t.from.map_or("—", OrderState::as_str)) " → " b { (t.to.as_str()) } } } } } }
                    h2 { "Workflow " span.muted { (d.workflow.status) } }
                    p { code { (d.workflow.id) } }
                    table.compact { tbody { @for h in &d.workflow.history { tr { td.num.muted { (h.id) } td { (h.kind) } td.muted { (when(h.at)) } } } } }
                }
            }
        },
    )
    .into_response()
}

/// The order's seats with their tickets, its payments, and the refund form while it is issued.
fn tickets_and_payments(d: &OrderDetail) -> Markup {
    let o = &d.order;
    html! {
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
            @if o.state == OrderState::Issued {
                h2 { "Refund" }
                form.grid #refund data-api={"/admin/api/v1/orders/" (o.order_id) "/refund"} data-method="POST" data-confirm="Refund this order and void its tickets?" {
                    label.wide { "Reason" input name="reason" required maxlength="500" placeholder="Customer request"; }
                    div.actions { button.danger type="submit" { "Refund order" } }
                    p.form-error role="alert" {}
                }
            }
        }
    }
}
