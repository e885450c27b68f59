//! What every page shares: the frame and the small formatting helpers.

use axum::response::Html;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::auth::Admin;

/// Percent-encodes everything but unreserved characters and `/` (a path for `?next=`).
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A time as the pages show it (`—` for none).
pub(crate) fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or("—".into(), |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// An amount in minor units, with its currency.
pub(crate) fn money(cents: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", cents / 100, (cents % 100).abs())
}

/// A state as a coloured label (`badge-<state>` in the stylesheet).
pub(crate) fn badge(status: &str) -> Markup {
    html! { span class={"badge badge-" (status)} { (status.replace('_', " ")) } }
}

/// The page frame: head, the top bar (with the account and sign-out when signed in), `body`.
pub(crate) fn layout(title: &str, admin: Option<&Admin>, body: Markup) -> Html<String> {
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
                                @if a.is_door() {
                                    a href="/admin/checkin" { "Check-in" }
                                } @else {
                                    a href="/admin/" { "Events" }
                                    a href="/admin/orders" { "Orders" }
                                    a href="/admin/reports" { "Reconciliation" }
                                    a href="/admin/checkin" { "Check-in" }
                                }
                            }
                            div.who {
                                span { (a.account.display_name) }
                                @if a.is_operator() { span.badge.badge-operator { "operator" } }
                                @if a.is_door() { span.badge.badge-operator { "door staff" } }
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
