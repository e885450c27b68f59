//! The buyer's pages in a real headless Chromium (WebDriver, through chromedriver), on the
//! real platform with a worker: the whole journey at phone and at desktop width (event page,
//! waiting room, seat map, hold, the sandbox's hosted checkout, tickets with QR codes, the
//! printable page), a buyer told "sold out" while queued, a waiting room that keeps its place
//! through a reload and a second tab, a standing buyer whose payment is declined, and a
//! presale code that unlocks its block for a buyer who still goes through the waiting room.
//! Every page of ours shown passes [`audit`](boxoffice_tests::browser::audit) (names for
//! every control, text for every image, one heading, nothing wider than the phone).
//! Screenshots go to `$BOXOFFICE_TEST_SCREENSHOTS` (default `artifacts/screenshots`), named
//! `buyer-phone-*` and `buyer-desktop-*`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_tests::{
    admin::{AdminClient, owner_of},
    browser::{DESKTOP, Driver, PHONE, audit_problems, checked_shot, fill, shot, submit, until},
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::store::{
    self,
    accounts::hash_password,
    inventory::{self, AllocationDraft, AllocationKind, Withheld},
};
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};

const MINUTE: Duration = Duration::from_secs(60);

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn text(c: &Client, css: &str) -> String {
    c.execute(
        "const el = document.querySelector(arguments[0]); return el ? el.textContent : '';",
        vec![json!(css)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Waits until the page's path ends with `suffix`.
async fn at(c: &Client, what: &str, suffix: &str) {
    until(
        c,
        what,
        &format!(
            "return location.pathname.endsWith('{suffix}') && document.readyState === 'complete';"
        ),
        MINUTE,
    )
    .await;
}

/// One buyer's whole journey in `c`, choosing `seats` on the map; screenshots named
/// `buyer-<size>-NN-*`.
async fn journey(c: &Client, p: &Platform, size: &str, seats: [&str; 2]) {
    let base = &p.gateway_url;
    let event = p.event;
    let name = |n: &str| format!("buyer-{size}-{n}");

    // The event page: prices, live availability, the event's branding.
    c.goto(&format!("{base}/events/{event}")).await.unwrap();
    until(
        c,
        "sections with availability",
        "return [...document.querySelectorAll('#sections li')].some((li) => /left/.test(li.textContent));",
        MINUTE,
    )
    .await;
    assert!(text(c, "#sections").await.contains("Stalls"));
    assert_eq!(
        js(
            c,
            "return getComputedStyle(document.querySelector('header.site')).backgroundColor;"
        )
        .await,
        json!("rgb(122, 31, 92)"),
        "the event's primary colour"
    );
    assert!(text(c, ".intro").await.contains("Doors at seven"));
    assert!(text(c, "#footer-text").await.contains("Test Promotions"));
    checked_shot(c, &name("01-event")).await;

    // The waiting room admits at once (no one ahead); the picker follows.
    click(c, "#join").await;
    at(c, "picker", "/pick").await;
    for seat in seats {
        until(
            c,
            &format!("seat {seat} free"),
            &format!("const b = document.querySelector('.seat[data-seat=\"{seat}\"]'); return !!b && !b.disabled;"),
            MINUTE,
        )
        .await;
    }
    let label = js(
        c,
        &format!(
            "return document.querySelector('.seat[data-seat=\"{}\"]').getAttribute('aria-label');",
            seats[0]
        ),
    )
    .await;
    assert!(
        label.as_str().unwrap().ends_with(", available")
            && label.as_str().unwrap().starts_with("Row "),
        "{label}"
    );
    for seat in seats {
        click(c, &format!(".seat[data-seat=\"{seat}\"]")).await;
    }
    until(
        c,
        "two chosen",
        "return document.querySelector('#buy-seats').textContent === 'Buy 2 seats';",
        MINUTE,
    )
    .await;
    checked_shot(c, &name("02-pick")).await;
    click(c, "#buy-seats").await;

    // The hold, with its countdown and the way to pay.
    until(
        c,
        "hold with pay button",
        "return location.pathname.includes('/orders/') && !!document.querySelector('#pay') && /Pay within/.test(document.querySelector('.timer')?.textContent || '');",
        2 * MINUTE,
    )
    .await;
    let order_text = text(c, "#order").await;
    assert!(order_text.contains("Seats"), "{order_text}");
    checked_shot(c, &name("03-hold")).await;

    // The sandbox's hosted checkout, and back to the order page.
    click(c, "#pay").await;
    until(
        c,
        "sandbox checkout",
        "return !!document.querySelector('button[value=succeed]');",
        MINUTE,
    )
    .await;
    shot(c, &name("04-checkout")).await;
    click(c, "button[value=succeed]").await;
    until(
        c,
        "tickets with QR codes",
        "const imgs = [...document.querySelectorAll('.ticket img')]; return location.pathname.includes('/orders/') && imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);",
        2 * MINUTE,
    )
    .await;
    assert!(text(c, "#order").await.contains("Your tickets are ready"));
    assert!(
        text(c, "#footer-text").await.contains("Test Promotions"),
        "the order page learns the event's footer from the API"
    );
    checked_shot(c, &name("05-tickets")).await;

    // The printable page.
    click(c, "#order-actions a").await;
    until(
        c,
        "printable tickets",
        "const imgs = [...document.querySelectorAll('.ticket img')]; return location.pathname.endsWith('/tickets') && imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);",
        MINUTE,
    )
    .await;
    checked_shot(c, &name("06-printable")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_seats_through_the_pages_at_phone_and_desktop_width() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let (email, password) = owner_of(&p.db, p.event.as_uuid()).await;
    let admin = AdminClient::login(&p.gateway_url, &email, &password).await;
    let (s, b) = admin
        .send(
            Method::PUT,
            &format!("/admin/api/v1/events/{}/branding", p.event),
            Some(&json!({
                "primary_color": "#7A1F5C", "accent_color": "#F2A900",
                "intro": "Doors at seven. Support act at eight.",
                "footer": "Test Promotions · Help: help@test.example",
            })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The catalog picks it up within its refresh.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let driver = Driver::start().await;
    let phone = driver.browser_sized(PHONE).await;
    journey(&phone, &p, "phone", ["A:A-3", "A:A-4"]).await;
    phone.close().await.ok();
    let desktop = driver.browser_sized(DESKTOP).await;
    journey(&desktop, &p, "desktop", ["A:B-5", "A:B-6"]).await;
    desktop.close().await.ok();
}

/// Buyers through the API, each joined before the browser's buyer.
async fn line_ahead(p: &Platform, n: usize) -> Vec<Buyer> {
    let mut ahead = Vec::new();
    for _ in 0..n {
        let b = Buyer::new(&p.gateway_url).await;
        let (s, body) = b.join(p.event).await;
        assert_eq!(s, 202, "{body}");
        ahead.push(b);
    }
    ahead
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_buyer_is_told_when_the_event_sells_out_ahead_of_them() {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 4,
        floor_capacity: None,
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let ahead = line_ahead(&p, 12).await;
    let driver = Driver::start().await;
    let c = driver.browser_sized(PHONE).await;
    c.goto(&format!("{}/events/{}/queue", p.gateway_url, p.event))
        .await
        .unwrap();
    until(
        &c,
        "a place in line",
        "return /^\\d+$/.test(document.querySelector('#position').textContent) && document.querySelector('#odds').textContent !== '';",
        MINUTE,
    )
    .await;
    let position: u64 = text(&c, "#position").await.parse().unwrap();
    assert!(position > 12, "behind the twelve: {position}");
    assert!(
        text(&c, "#odds").await.contains("may sell out"),
        "four seats, twelve ahead with up to eight each: {}",
        text(&c, "#odds").await
    );
    checked_shot(&c, "buyer-phone-10-waiting-room").await;

    // The first buyer in line buys every seat through the API.
    let first = &ahead[0];
    let token = first.admitted(p.event, MINUTE).await;
    let (s, placed) = first
        .order(
            p.event,
            &token,
            "all",
            &json!({ "seats": ["A:A-1", "A:A-2", "A:A-3", "A:A-4"] }),
        )
        .await;
    assert_eq!(s, 202, "{placed}");
    let order = placed["order_id"].as_str().unwrap();
    let waiting = first.wait_order(order, "awaiting_payment", MINUTE).await;
    let intent = waiting["payment"]["checkout_url"].as_str().unwrap();
    assert_eq!(
        p.pay(intent.rsplit('/').next().unwrap(), "succeed").await,
        200
    );
    first.wait_order(order, "issued", MINUTE).await;

    until(
        &c,
        "told sold out",
        "return /Sold out/.test(document.querySelector('#queue-state').textContent);",
        MINUTE,
    )
    .await;
    assert!(
        text(&c, "#queue-actions")
            .await
            .contains("Back to the event")
    );
    checked_shot(&c, "buyer-phone-11-sold-out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_room_keeps_its_place_through_a_reload_and_a_second_tab() {
    let p = Platform::start(PlatformOptions {
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    line_ahead(&p, 90).await;
    let driver = Driver::start().await;
    let c = driver.browser_sized(DESKTOP).await;
    let url = format!("{}/events/{}/queue", p.gateway_url, p.event);
    let placed = "return /^\\d+$/.test(document.querySelector('#position').textContent);";
    let ticket = "return JSON.parse(localStorage.getItem('boxoffice.queue.' + document.body.dataset.event)).queue_ticket;";
    c.goto(&url).await.unwrap();
    until(&c, "a place in line", placed, MINUTE).await;
    let position = text(&c, "#position").await;
    let first_ticket = js(&c, ticket).await;
    checked_shot(&c, "buyer-desktop-20-waiting-room").await;

    c.refresh().await.unwrap();
    until(&c, "a place after the reload", placed, MINUTE).await;
    assert_eq!(text(&c, "#position").await, position, "the same place");
    assert_eq!(js(&c, ticket).await, first_ticket, "the same entry");

    let first_tab = c.window().await.unwrap();
    let second = c.new_window(true).await.unwrap();
    c.switch_to_window(second.handle).await.unwrap();
    c.goto(&url).await.unwrap();
    until(&c, "a place in the second tab", placed, MINUTE).await;
    assert_eq!(text(&c, "#position").await, position, "the same place");
    assert_eq!(js(&c, ticket).await, first_ticket, "the same entry");
    checked_shot(&c, "buyer-desktop-21-second-tab").await;
    c.switch_to_window(first_tab).await.unwrap();
    assert_eq!(text(&c, "#position").await, position);

    // The audit every page passes can fail: a nameless button, an image without a text
    // alternative and a block wider than the screen are each reported.
    js(
        &c,
        "const junk = document.createElement('div'); junk.id = 'junk'; junk.style.width = '5000px'; \
         junk.innerHTML = '<button></button><img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\">'; \
         document.querySelector('main').append(junk); return true;",
    )
    .await;
    let problems = audit_problems(&c).await;
    for expected in [
        "no accessible name",
        "image without a text alternative",
        "wider than the screen",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected} not reported: {problems:?}"
        );
    }
    js(&c, "document.getElementById('junk').remove(); return true;").await;
    assert_eq!(audit_problems(&c).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_buyer_whose_payment_is_declined_is_told_what_to_do_next() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let driver = Driver::start().await;
    let c = driver.browser_sized(PHONE).await;
    c.goto(&format!("{}/events/{}/queue", p.gateway_url, p.event))
        .await
        .unwrap();
    at(&c, "picker", "/pick").await;

    // The standing floor: a quantity, within the per-buyer limit.
    until(
        &c,
        "section choice",
        "return !!document.querySelector('#section-options input[value=FLOOR]');",
        MINUTE,
    )
    .await;
    click(&c, "#section-options input[value=FLOOR]").await;
    until(
        &c,
        "quantity picker",
        "return document.querySelectorAll('#quantity option').length === 8;",
        MINUTE,
    )
    .await;
    c.execute("document.querySelector('#quantity').value = '2';", vec![])
        .await
        .unwrap();
    checked_shot(&c, "buyer-phone-07-standing").await;
    click(&c, "#quantity-form [type=submit]").await;
    until(
        &c,
        "hold",
        "return !!document.querySelector('#pay');",
        2 * MINUTE,
    )
    .await;
    assert!(text(&c, "#order").await.contains("FLOOR"));

    // Declined at the provider: back on the order page, said in words, with the way back in.
    click(&c, "#pay").await;
    until(
        &c,
        "sandbox checkout",
        "return !!document.querySelector('button[value=decline]');",
        MINUTE,
    )
    .await;
    click(&c, "button[value=decline]").await;
    until(
        &c,
        "payment failed explained",
        "return location.pathname.includes('/orders/') && /payment did not go through/.test(document.querySelector('#order').textContent);",
        2 * MINUTE,
    )
    .await;
    assert!(
        text(&c, "#order-actions")
            .await
            .contains("Join the queue again")
    );
    checked_shot(&c, "buyer-phone-08-payment-failed").await;
}

const PRESALE_CODE: &str = "FRIENDS-2026";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presale_code_unlocks_its_block_and_the_buyer_buys_from_it_in_the_browser() {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 6,
        floor_capacity: None,
        ..Default::default()
    })
    .await;
    let organizer = sqlx::query_scalar!(
        "select organizer_id from events where event_id = $1",
        p.event.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap();
    let draft = AllocationDraft {
        section: "A".into(),
        kind: AllocationKind::Presale,
        withheld: Withheld::Seats(vec!["A-1".into(), "A-2".into()]),
        access_code_hash: Some(hash_password(PRESALE_CODE).unwrap()),
        note: None,
    };
    inventory::add_allocation(&p.db, organizer, p.event.as_uuid(), &draft)
        .await
        .unwrap();
    // What the on-sale workflow does on a change of allocations: load the inventory again.
    let inv = store::sellable_inventory(&p.db, p.event).await.unwrap();
    p.seats.load_event(&inv).await.unwrap();
    let _w = p.start_worker();

    let driver = Driver::start().await;
    let c = driver.browser_sized(PHONE).await;
    c.goto(&format!("{}/events/{}", p.gateway_url, p.event))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#presale-form"))
        .await
        .unwrap();
    fill(&c, "#presale-code", "NOT-A-CODE").await;
    submit(&c, "#presale-form").await;
    until(
        &c,
        "a wrong code refused",
        "return /does not unlock anything/.test(document.querySelector('#presale-status').textContent);",
        MINUTE,
    )
    .await;
    fill(&c, "#presale-code", PRESALE_CODE).await;
    submit(&c, "#presale-form").await;
    until(
        &c,
        "the block unlocked",
        "return /Presale unlocked: section A, 2 seats/.test(document.querySelector('#presale-status').textContent);",
        MINUTE,
    )
    .await;
    checked_shot(&c, "buyer-phone-30-presale-unlocked").await;

    // Through the waiting room to a picker that offers the block only.
    click(&c, "#join").await;
    until(
        &c,
        "the block's seats",
        "const s = [...document.querySelectorAll('.seat')]; return location.pathname.endsWith('/pick') && s.length === 2 && s.every((b) => !b.disabled);",
        MINUTE,
    )
    .await;
    click(&c, ".seat[data-seat=\"A:A-1\"]").await;
    click(&c, ".seat[data-seat=\"A:A-2\"]").await;
    checked_shot(&c, "buyer-phone-31-presale-pick").await;
    click(&c, "#buy-seats").await;
    until(
        &c,
        "hold",
        "return !!document.querySelector('#pay');",
        2 * MINUTE,
    )
    .await;
    click(&c, "#pay").await;
    until(
        &c,
        "sandbox checkout",
        "return !!document.querySelector('button[value=succeed]');",
        MINUTE,
    )
    .await;
    click(&c, "button[value=succeed]").await;
    until(
        &c,
        "tickets",
        "const imgs = [...document.querySelectorAll('.ticket img')]; return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);",
        2 * MINUTE,
    )
    .await;
    checked_shot(&c, "buyer-phone-32-presale-tickets").await;
}
