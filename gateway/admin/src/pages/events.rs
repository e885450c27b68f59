//! The events list, with the form that creates a draft event.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use boxoffice_workflows::store::events;
use maud::html;

use super::{
    PageAdmin,
    layout::{badge, layout, when},
    page_error,
};
use crate::AdminState;

/// `GET /admin/`: the events the account may see.
pub(super) async fn events_page(
    State(state): State<AdminState>,
    PageAdmin(admin): PageAdmin,
) -> Response {
    let events = match events::list_events(&state.db, admin.scope()).await {
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
                                    td { (badge(e.status.as_str())) }
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
