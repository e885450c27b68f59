//! The events list, with the form that creates a draft event.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use boxoffice_workflows::store::{accounts, events};
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
    let door = accounts::door_accounts(&state.db, admin.account.id)
        .await
        .unwrap_or_default();
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
            section.card #door-staff {
                h2 { "Door staff" }
                p.muted { "Door staff accounts sign in to the check-in scanner (" a href="/admin/checkin" { "/admin/checkin" } ") and can do nothing else; they check in tickets of your events only." }
                @if !door.is_empty() {
                    table.compact { tbody { @for d in &door { tr { td { (d.display_name) } td { (d.email) } } } } }
                }
                form.grid #new-door data-api="/admin/api/v1/door-accounts" data-method="POST" {
                    label { "Name" input name="display_name" required maxlength="100" placeholder="North door"; }
                    label { "Email" input name="email" type="email" required maxlength="320"; }
                    label { "Password (10+ characters)" input name="password" type="password" required minlength="10" autocomplete="new-password"; }
                    div.actions { button.primary type="submit" { "Add door staff" } }
                    p.form-error role="alert" {}
                }
            }
        },
    )
    .into_response()
}
