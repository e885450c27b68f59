//! The pages' markup: a frame (landmarks, the event's logo and footer, the relative base every
//! URL starts from) around each page's skeleton, which the scripts fill from the API. Nothing
//! here is per buyer.

use boxoffice_workflows::store::branding::Branding;
use maud::{DOCTYPE, Markup, html};

use crate::catalog::Event;

/// HTML's content type.
pub(super) const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The pages rendered per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `/events/{id}`: the event, its sections and the way in.
    Event,
    /// `/events/{id}/queue`: the waiting room.
    Queue,
    /// `/events/{id}/pick`: seats or a quantity, once admitted.
    Pick,
    /// `/events/{id}/brand.css`: the event's colours.
    BrandCss,
}

impl Kind {
    /// How many folders below the site's root the page's URL is.
    pub(crate) fn depth(self) -> usize {
        match self {
            Self::Event => 1,
            Self::Queue | Self::Pick | Self::BrandCss => 2,
        }
    }
}

/// The relative way back to the site's root from a page `depth` folders down: every URL a
/// page uses starts from it, so a reverse proxy may serve the pages under any prefix.
fn base(depth: usize) -> String {
    if depth == 0 {
        "./".into()
    } else {
        "../".repeat(depth)
    }
}

/// What the frame shows of an event.
struct Frame<'a> {
    title: &'a str,
    depth: usize,
    page: &'a str,
    event: Option<&'a Event>,
    brand: Option<&'a Branding>,
    order: Option<uuid::Uuid>,
}

fn frame(f: &Frame<'_>, body: Markup) -> String {
    let base = base(f.depth);
    let event_id = f.event.map(|e| e.event_id.to_string());
    let brand = f.brand.cloned().unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (f.title) }
                link rel="stylesheet" href={(base) "assets/buyer.css"};
                @if let Some(id) = &event_id {
                    link rel="stylesheet" href={(base) "events/" (id) "/brand.css"};
                }
                @for script in ["core", "buyer", "order"] {
                    script src={(base) "assets/" (script) ".js"} defer {}
                }
            }
            body data-page=(f.page) data-base=(base) data-event=[event_id.as_deref()]
                data-order=[f.order.map(|o| o.to_string())] {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href={(base) "."} {
                        @if let Some(logo) = &brand.logo_url {
                            img.logo src=(logo) alt={(f.event.map_or("Organizer", |e| e.name.as_str())) " logo"};
                        } @else {
                            span.brand-name { "Boxoffice" }
                        }
                    }
                    @if let Some(e) = f.event {
                        a.event-link href={(base) "events/" (e.event_id)} { (e.name) }
                    } @else {
                        span.event-link #event-link {}
                    }
                }
                main #main tabindex="-1" { (body) }
                footer.site {
                    p #footer-text {
                        (brand.footer.as_deref().unwrap_or("Tickets by Boxoffice"))
                    }
                }
            }
        }
    }
    .into_string()
}

/// When an event starts, in UTC (the script rewrites `time` elements in the buyer's zone).
fn starts(e: &Event) -> Markup {
    html! {
        time datetime=(e.starts_at.to_rfc3339()) {
            (e.starts_at.format("%a %d %b %Y, %H:%M UTC"))
        }
    }
}

fn event_body(e: &Event, brand: Option<&Branding>) -> Markup {
    html! {
        h1 { (e.name) }
        p.meta { (e.venue) " · " (starts(e)) }
        @if let Some(intro) = brand.and_then(|b| b.intro.as_deref()) {
            p.intro { (intro) }
        }
        section.card aria-labelledby="tickets-h" {
            h2 #tickets-h { "Tickets" }
            p #opening aria-live="polite" {}
            ul.sections #sections aria-live="polite" { li { "Loading prices and availability…" } }
            p.limit { "Up to " (e.max_tickets_per_buyer) " tickets per buyer." }
            p { a.button.primary #join href={(e.event_id) "/queue"} { "Join the queue" } }
            p.muted { "The queue keeps your place if you reload or open a second tab." }
        }
        section.card aria-labelledby="presale-h" {
            h2 #presale-h { "Have a presale code?" }
            form #presale-form novalidate {
                label for="presale-code" { "Presale code" }
                div.row {
                    input #presale-code name="code" autocomplete="off" autocapitalize="characters" required maxlength="64";
                    button type="submit" { "Unlock" }
                }
            }
            p #presale-status role="status" aria-live="polite" {}
        }
    }
}

fn queue_body(e: &Event) -> Markup {
    html! {
        h1 { "Waiting room" }
        p.meta { (e.name) " · " (e.venue) " · " (starts(e)) }
        section.card.room aria-labelledby="room-h" {
            h2 #room-h { "Your place" }
            // Only the headline and the odds are announced: numbers that change at every poll
            // would be read out again and again.
            div #room {
                p.headline #queue-state aria-live="polite" { "Finding your place in line…" }
                dl.stats {
                    div { dt { "Position" } dd #position { "—" } }
                    div { dt { "People ahead of you" } dd #ahead { "—" } }
                    div { dt { "Estimated wait" } dd #wait { "—" } }
                }
                p.odds #odds aria-live="polite" {}
            }
            div.progress aria-hidden="true" { div.bar #bar {} }
            p #queue-help.muted {
                "Keep this page open; it refreshes by itself. Reloading or a second tab keeps your place."
            }
            div #queue-actions {}
        }
    }
}

fn pick_body(e: &Event) -> Markup {
    html! {
        h1 { "Choose your tickets" }
        p.meta { (e.name) " · " (starts(e)) }
        p #admission-timer aria-live="polite" {}
        p #presale-note hidden {}
        fieldset.sections-pick #section-choice {
            legend { "Section" }
            div #section-options {}
        }
        section.card aria-labelledby="picker-h" {
            h2 #picker-h { "Seats" }
            p.limit #limit { "Up to " (e.max_tickets_per_buyer) " tickets per buyer." }
            div #picker {}
        }
        p #pick-status role="status" aria-live="assertive" {}
    }
}

/// The stylesheet of an event's branding: its colours as the custom properties the pages'
/// stylesheet reads (the values were checked as `#rrggbb` when set).
fn brand_css(brand: Option<&Branding>) -> String {
    let mut css = String::from(":root {\n");
    if let Some(b) = brand {
        for (name, value) in [("--brand", &b.primary_color), ("--accent", &b.accent_color)] {
            if let Some(v) = value {
                css.push_str(&format!("  {name}: {v};\n"));
            }
        }
    }
    css.push_str("}\n");
    css
}

/// An event's page of `kind`, and its content type.
pub(super) fn event_page(
    kind: Kind,
    e: &Event,
    brand: Option<&Branding>,
) -> (String, &'static str) {
    let (title, page, body) = match kind {
        Kind::Event => (e.name.clone(), "event", event_body(e, brand)),
        Kind::Queue => (format!("Waiting room · {}", e.name), "queue", queue_body(e)),
        Kind::Pick => (
            format!("Choose your tickets · {}", e.name),
            "pick",
            pick_body(e),
        ),
        Kind::BrandCss => return (brand_css(brand), CSS),
    };
    let frame_of = Frame {
        title: &title,
        depth: kind.depth(),
        page,
        event: Some(e),
        brand,
        order: None,
    };
    (frame(&frame_of, body), HTML)
}

/// The events list.
pub(super) fn home() -> String {
    frame(
        &Frame {
            title: "Tickets",
            depth: 0,
            page: "home",
            event: None,
            brand: None,
            order: None,
        },
        html! {
            h1 { "Events on sale" }
            ul.events #events aria-live="polite" { li { "Loading events…" } }
        },
    )
}

/// The order page, or (`print`) its printable tickets.
pub(super) fn order(id: uuid::Uuid, print: bool) -> axum::response::Html<String> {
    let body = if print {
        html! {
            div.no-print.row {
                h1 { "Your tickets" }
                button #print type="button" { "Print" }
            }
            div #tickets.print-tickets aria-live="polite" { p { "Loading your tickets…" } }
        }
    } else {
        html! {
            h1 #order-title { "Your order" }
            div #order aria-live="polite" { p { "Loading your order…" } }
            div #order-actions {}
            div #tickets {}
        }
    };
    axum::response::Html(frame(
        &Frame {
            title: if print { "Your tickets" } else { "Your order" },
            depth: if print { 2 } else { 1 },
            page: if print { "tickets" } else { "order" },
            event: None,
            brand: None,
            order: Some(id),
        },
        body,
    ))
}

/// A page for an unknown event.
pub(super) fn not_found(depth: usize) -> axum::response::Html<String> {
    axum::response::Html(frame(
        &Frame {
            title: "Not found",
            depth,
            page: "missing",
            event: None,
            brand: None,
            order: None,
        },
        html! {
            h1 { "We cannot find that event" }
            p { "It may not be on sale yet, or it has ended. " a href=(base(depth)) { "See the events on sale" } "." }
        },
    ))
}

#[cfg(test)]
mod tests {
    use boxoffice_workflows::store::branding::Branding;

    #[test]
    fn every_page_finds_the_root_by_a_relative_path() {
        assert_eq!(super::base(0), "./");
        assert_eq!(super::base(2), "../../");
        let html = super::not_found(2).0;
        assert!(html.contains(r#"href="../../assets/buyer.css""#), "{html}");
        assert!(html.contains(r#"src="../../assets/core.js""#), "{html}");
        assert!(!html.contains(r#"="/"#), "no absolute path: {html}");
    }

    #[test]
    fn the_brand_stylesheet_sets_only_the_colours_given() {
        assert_eq!(super::brand_css(None), ":root {\n}\n");
        let b = Branding {
            primary_color: Some("#0b6e4f".into()),
            ..Default::default()
        };
        assert_eq!(
            super::brand_css(Some(&b)),
            ":root {\n  --brand: #0b6e4f;\n}\n"
        );
    }
}
