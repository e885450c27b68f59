//! The admin UI in a real headless Chromium (WebDriver, through chromedriver): an organizer
//! signs in, builds an event with a seated and a standing section and a kill, schedules its
//! on-sale a few seconds ahead, watches it open, sees a purchase made through the buyer API
//! turn its seat sold on the live map, refunds it and sees the seat come back. Screenshots go
//! to `$BOXOFFICE_TEST_SCREENSHOTS` (default `artifacts/screenshots`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_tests::{
    admin::account,
    browser::{Driver, fill, shot, submit, until},
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::store::accounts::Role;
use fantoccini::{Client, Locator};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

async fn seat_class(c: &Client, seat: &str) -> String {
    c.execute(
        "const el = document.querySelector(`.seat[data-seat=\"${arguments[0]}\"]`); return el ? el.className : 'missing';",
        vec![json!(seat)],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn wait_seat(c: &Client, seat: &str, class: &str, within: Duration) {
    until(
        c,
        &format!("seat {seat} {class}"),
        &format!("const el = document.querySelector('.seat[data-seat=\"{seat}\"]'); return !!el && el.classList.contains('{class}');"),
        within,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_runs_an_on_sale_from_the_admin_ui() {
    let p = Platform::start(PlatformOptions {
        refund_window_s: 600,
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let (email, password) = account(&p.db, Role::Organizer).await;
    let driver = Driver::start().await;
    let c = driver.browser().await;
    let base = &p.gateway_url;

    // Sign in: the events page sends us to the login page and back.
    c.goto(&format!("{base}/admin/")).await.unwrap();
    c.wait()
        .for_element(Locator::Css("#sign-in"))
        .await
        .unwrap();
    fill(&c, "#email", &email).await;
    fill(&c, "#password", &password).await;
    shot(&c, "01-login").await;
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "events page",
        "return document.querySelector('h1')?.textContent === 'Events';",
        MINUTE,
    )
    .await;

    // A new event.
    c.find(Locator::Css("[data-toggle=new-event]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&c, "#new-event [name=name]", "Browser Night").await;
    fill(&c, "#new-event [name=venue]", "Columbiahalle").await;
    fill(&c, "#new-event [name=city]", "Berlin").await;
    c.execute(
        "const d = new Date(Date.now() + 30 * 86400e3); d.setSeconds(0, 0);
         const p = (n) => String(n).padStart(2, '0');
         document.querySelector('#new-event [name=starts_at]').value =
           `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;",
        vec![],
    )
    .await
    .unwrap();
    submit(&c, "#new-event form").await;
    until(
        &c,
        "event page",
        "return !!document.querySelector('#add-section');",
        MINUTE,
    )
    .await;
    let event: String = c
        .execute(
            "return document.getElementById('live').dataset.event;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();

    // A seated section from a description, a standing one, and a kill.
    fill(&c, "#add-section [name=code]", "A").await;
    fill(&c, "#add-section [name=name]", "Stalls").await;
    fill(&c, "#add-section [name=price_cents]", "4500").await;
    fill(&c, "#add-section [name=seats]", "rows A-C, seats 1-8").await;
    submit(&c, "#add-section").await;
    until(
        &c,
        "seated section",
        "return document.querySelectorAll('.seat[data-seat^=\"A:\"]').length === 24;",
        MINUTE,
    )
    .await;
    fill(&c, "#add-section [name=code]", "FLOOR").await;
    fill(&c, "#add-section [name=name]", "Floor").await;
    fill(&c, "#add-section [name=price_cents]", "3000").await;
    fill(&c, "#add-section [name=capacity]", "40").await;
    submit(&c, "#add-section").await;
    until(
        &c,
        "standing section",
        "return !!document.querySelector('[data-ga=FLOOR]');",
        MINUTE,
    )
    .await;
    // Bad input shows its message and changes nothing.
    fill(&c, "#add-section [name=code]", "B").await;
    fill(&c, "#add-section [name=name]", "Circle").await;
    fill(&c, "#add-section [name=price_cents]", "100").await;
    fill(
        &c,
        "#add-section [name=seats]",
        "rows A-B, seats 1-4; rows B, seats 3-6",
    )
    .await;
    submit(&c, "#add-section").await;
    until(
        &c,
        "overlap refused",
        "return document.querySelector('#add-section .form-error').textContent.includes('B-3');",
        MINUTE,
    )
    .await;
    shot(&c, "02-overlap-refused").await;
    c.goto(&format!("{base}/admin/events/{event}"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#add-allocation"))
        .await
        .unwrap();
    c.execute("document.querySelector('#add-allocation [name=kind]').value = 'kill'; document.querySelector('#add-allocation [name=section]').value = 'A';", vec![])
        .await
        .unwrap();
    fill(&c, "#add-allocation [name=seats]", "A-1").await;
    fill(&c, "#add-allocation [name=note]", "camera platform").await;
    submit(&c, "#add-allocation").await;
    until(
        &c,
        "kill listed",
        "return document.body.textContent.includes('camera platform');",
        MINUTE,
    )
    .await;

    // Schedule the on-sale eight seconds ahead.
    c.execute(
        "const d = new Date(Date.now() + 8000);
         const p = (n) => String(n).padStart(2, '0');
         document.querySelector('#schedule [name=opens_at]').value =
           `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;",
        vec![],
    )
    .await
    .unwrap();
    submit(&c, "#schedule").await;
    until(
        &c,
        "scheduled",
        "return document.querySelector('h1 .badge')?.textContent === 'scheduled';",
        MINUTE,
    )
    .await;
    shot(&c, "03-scheduled").await;

    // It opens by itself: the workflow loads the seats (not the kill) and starts the sale.
    until(
        &c,
        "on sale",
        "return document.querySelector('[data-stat=status]').textContent === 'on sale';",
        2 * MINUTE,
    )
    .await;
    wait_seat(&c, "A:A-2", "free", MINUTE).await;
    assert_eq!(
        seat_class(&c, "A:A-1").await,
        "seat off",
        "the kill is not for sale"
    );
    shot(&c, "04-on-sale").await;

    // A buyer takes A-2 through the buyer API; the live map turns it sold.
    let b = Buyer::new(base).await;
    let token = b.admitted(&event, MINUTE).await;
    let (s, placed) = b
        .order(&event, &token, "k1", &json!({ "seats": ["A:A-2"] }))
        .await;
    assert_eq!(s, 202, "{placed}");
    let order = placed["order_id"].as_str().unwrap().to_owned();
    let waiting = b.wait_order(&order, "awaiting_payment", MINUTE).await;
    wait_seat(&c, "A:A-2", "held", MINUTE).await;
    let checkout = waiting["payment"]["checkout_url"].as_str().unwrap();
    assert_eq!(
        p.pay(checkout.rsplit('/').next().unwrap(), "succeed").await,
        200
    );
    b.wait_order(&order, "issued", MINUTE).await;
    wait_seat(&c, "A:A-2", "sold", MINUTE).await;
    until(
        &c,
        "sold counter",
        "return document.querySelector('[data-stat=sold]').textContent === '1';",
        MINUTE,
    )
    .await;
    until(
        &c,
        "revenue",
        "return document.querySelector('[data-stat=revenue]').textContent.startsWith('45');",
        MINUTE,
    )
    .await;
    shot(&c, "05-sold").await;

    // Refund from the order page; the seat comes back on the map.
    c.goto(&format!("{base}/admin/orders/{order}"))
        .await
        .unwrap();
    c.wait().for_element(Locator::Css("#refund")).await.unwrap();
    until(
        &c,
        "workflow history",
        "return document.body.textContent.includes('WORKFLOW_EXECUTION_STARTED');",
        MINUTE,
    )
    .await;
    shot(&c, "06-order").await;
    c.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    fill(&c, "#refund [name=reason]", "show moved").await;
    submit(&c, "#refund").await;
    b.wait_order(&order, "refunded", MINUTE).await;
    c.goto(&format!("{base}/admin/events/{event}"))
        .await
        .unwrap();
    c.wait().for_element(Locator::Css("#live")).await.unwrap();
    wait_seat(&c, "A:A-2", "free", MINUTE).await;
    until(
        &c,
        "orders by state",
        "return document.querySelector('[data-stat=orders]').textContent.includes('refunded');",
        MINUTE,
    )
    .await;
    shot(&c, "07-refunded").await;

    // The exports have the order and no attendee left.
    c.close().await.ok();
    let (s, o) = b.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!((s, o["state"].as_str()), (200, Some("refunded")));
}
