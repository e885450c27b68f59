//! The door scanner in a real headless Chromium: an organizer adds a door staff account, who
//! signs in on a phone and on a desktop; both type the same ticket's scan text; the first is admitted, the second told the
//! ticket was already used, when and at which gate; the organizer's event page then counts one
//! checked in. Screenshots `checkin-phone-*.png` and `checkin-desktop-*.png` go to
//! `$BOXOFFICE_TEST_SCREENSHOTS` (default `artifacts/screenshots`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_tests::{
    admin::owner_of,
    browser::{DESKTOP, Driver, PHONE, checked_shot, fill, shot, submit, until},
    door::paid_ticket,
    platform::{Platform, PlatformOptions},
};
use fantoccini::{Client, Locator};

const MINUTE: Duration = Duration::from_secs(60);

/// Signs in at the login page; door staff land on the scanner.
async fn sign_in(c: &Client, base: &str, email: &str, password: &str, next: &str) {
    c.goto(&format!("{base}/admin/login?next={next}"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("#sign-in"))
        .await
        .unwrap();
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Sets the gate and checks `text` in by typing it.
async fn scan(c: &Client, gate: &str, text: &str) {
    fill(c, "#gate", gate).await;
    fill(c, "#scan", text).await;
    submit(c, "#typed").await;
}

async fn result(c: &Client) -> (String, String) {
    let v = c
        .execute(
            "const r = document.getElementById('result'); return [r.dataset.result, r.textContent];",
            vec![],
        )
        .await
        .unwrap();
    (
        v[0].as_str().unwrap_or_default().to_owned(),
        v[1].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gates_scan_one_ticket_and_the_second_is_told_when_and_where_it_was_used() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let base = &p.gateway_url;
    let (owner_email, owner_pw) = owner_of(&p.db, p.event.as_uuid()).await;
    let ticket = paid_ticket(&p, "A:A-6").await;
    let driver = Driver::start().await;

    // The organizer adds a door staff account from the events page.
    let organizer = driver.browser_sized(DESKTOP).await;
    sign_in(&organizer, base, &owner_email, &owner_pw, "/admin/").await;
    until(
        &organizer,
        "the events page",
        "return !!document.getElementById('new-door');",
        MINUTE,
    )
    .await;
    let email = format!("{}@door.test", uuid::Uuid::new_v4().simple());
    let password = "front door password";
    fill(&organizer, "#new-door [name=display_name]", "North door").await;
    fill(&organizer, "#new-door [name=email]", &email).await;
    fill(&organizer, "#new-door [name=password]", password).await;
    submit(&organizer, "#new-door").await;
    until(
        &organizer,
        "the door account listed",
        &format!("return document.getElementById('door-staff').textContent.includes('{email}');"),
        MINUTE,
    )
    .await;
    shot(&organizer, "checkin-desktop-00-door-staff").await;

    let phone = driver.browser_sized(PHONE).await;
    let desktop = driver.browser_sized(DESKTOP).await;
    // Door staff land on the scanner whatever page they asked for.
    for c in [&phone, &desktop] {
        sign_in(c, base, &email, password, "/admin/").await;
        until(
            c,
            "the scanner",
            "return location.pathname === '/admin/checkin' && document.querySelector('h1')?.textContent === 'Check-in';",
            MINUTE,
        )
        .await;
    }
    // Headless Chromium has no camera: the page says so and the typed code is there.
    until(
        &phone,
        "the camera note",
        "return document.getElementById('camera-note').textContent.length > 0;",
        MINUTE,
    )
    .await;
    checked_shot(&phone, "checkin-phone-01-ready").await;
    checked_shot(&desktop, "checkin-desktop-01-ready").await;

    scan(&phone, "North 1", &ticket.scan).await;
    until(
        &phone,
        "admitted",
        "return document.getElementById('result').dataset.result === 'admitted';",
        MINUTE,
    )
    .await;
    let (_, text) = result(&phone).await;
    assert!(text.contains("ADMITTED") && text.contains("A-6"), "{text}");
    checked_shot(&phone, "checkin-phone-02-admitted").await;
    // Ready for the next ticket at once: the field is empty and focused.
    let ready = phone
        .execute(
            "const s = document.getElementById('scan'); return s.value === '' && document.activeElement === s;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ready, serde_json::json!(true));

    scan(&desktop, "South 2", &ticket.scan).await;
    until(
        &desktop,
        "refused",
        "return document.getElementById('result').dataset.result === 'refused';",
        MINUTE,
    )
    .await;
    let (_, text) = result(&desktop).await;
    assert!(
        text.contains("REFUSED") && text.contains("Already used") && text.contains("gate North 1"),
        "{text}"
    );
    checked_shot(&desktop, "checkin-desktop-02-already-used").await;
    // The gate is remembered on the device.
    desktop.refresh().await.unwrap();
    until(
        &desktop,
        "the gate remembered",
        "return document.getElementById('gate').value === 'South 2';",
        MINUTE,
    )
    .await;

    // The organizer's event page counts one checked in, live.
    organizer
        .goto(&format!("{base}/admin/events/{}", p.event))
        .await
        .unwrap();
    until(
        &organizer,
        "one checked in",
        "return document.getElementById('checked-in')?.textContent === '1';",
        MINUTE,
    )
    .await;
    shot(&organizer, "checkin-desktop-03-event-page").await;
    for c in [phone, desktop, organizer] {
        c.close().await.ok();
    }
}
