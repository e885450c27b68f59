//! The admin API: who may see and change what, and bad input refused with nothing changed.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_tests::{
    admin::{AdminClient, account, owner_of},
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::store::accounts::Role;
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

/// One paid, issued order on the platform's event through the buyer API; returns its id.
async fn issued_order(p: &Platform) -> String {
    let b = Buyer::new(&p.gateway_url).await;
    let token = b.admitted(p.event, Duration::from_secs(20)).await;
    let (s, placed) = b
        .order(p.event, &token, "k1", &json!({ "seats": ["A:A-3"] }))
        .await;
    assert_eq!(s, 202, "{placed}");
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let waiting = b.wait_order(&id, "awaiting_payment", MINUTE).await;
    let checkout = waiting["payment"]["checkout_url"].as_str().unwrap();
    let intent = checkout.rsplit('/').next().unwrap();
    assert_eq!(p.pay(intent, "succeed").await, 200);
    b.wait_order(&id, "issued", MINUTE).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_cannot_read_change_or_export_another_organizers_event_or_orders() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let order = issued_order(&p).await;
    let event = p.event.to_string();

    let (email, pw) = owner_of(&p.db, p.event.as_uuid()).await;
    let owner = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let rival = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (email, pw) = account(&p.db, Role::Operator).await;
    let operator = AdminClient::login(&p.gateway_url, &email, &pw).await;

    // The owner sees its event, its order and the exports.
    assert_eq!(
        owner.get(&format!("/admin/api/v1/events/{event}")).await.0,
        200
    );
    let (s, found) = owner
        .get(&format!("/admin/api/v1/orders?event={event}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (s, csv) = owner
        .text(&format!("/admin/api/v1/events/{event}/attendees.csv"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(csv.lines().count(), 2, "a header and one ticket: {csv}");

    let before = owner.get(&format!("/admin/api/v1/events/{event}")).await.1;
    // Another organizer: the event and order do not exist for it, and nothing it sends lands.
    for path in [
        format!("/admin/api/v1/events/{event}"),
        format!("/admin/api/v1/events/{event}/stats"),
        format!("/admin/api/v1/events/{event}/live"),
        format!("/admin/api/v1/events/{event}/audit"),
        format!("/admin/api/v1/events/{event}/orders.csv"),
        format!("/admin/api/v1/events/{event}/attendees.csv"),
        format!("/admin/api/v1/orders/{order}"),
    ] {
        let (s, body) = rival.get(&path).await;
        assert_eq!(s, 404, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let (s, found) = rival
        .get(&format!("/admin/api/v1/orders?event={event}"))
        .await;
    assert_eq!(
        (s, found),
        (200, json!([])),
        "a search shows none of its orders"
    );
    let (s, list) = rival.get("/admin/api/v1/events").await;
    assert_eq!((s, list), (200, json!([])));
    for (method, path, body) in [
        (
            "PATCH",
            format!("/admin/api/v1/events/{event}"),
            json!({ "name": "Mine now" }),
        ),
        (
            "POST",
            format!("/admin/api/v1/events/{event}/pause"),
            json!({}),
        ),
        (
            "POST",
            format!("/admin/api/v1/events/{event}/close"),
            json!({}),
        ),
        (
            "POST",
            format!("/admin/api/v1/events/{event}/sections"),
            json!({ "code": "Z", "name": "Z", "price_cents": 1, "capacity": 5 }),
        ),
        (
            "POST",
            format!("/admin/api/v1/orders/{order}/refund"),
            json!({ "reason": "mine" }),
        ),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (s, resp) = rival.send(m, &path, Some(&body)).await;
        assert_eq!(s, 404, "{method} {path}: {resp}");
    }
    assert_eq!(
        owner.get(&format!("/admin/api/v1/events/{event}")).await.1,
        before,
        "nothing changed"
    );
    let (s, o) = owner.get(&format!("/admin/api/v1/orders/{order}")).await;
    assert_eq!(
        (s, o["state"].as_str()),
        (200, Some("issued")),
        "not refunded"
    );

    // An operator sees everyone's.
    assert_eq!(
        operator
            .get(&format!("/admin/api/v1/events/{event}"))
            .await
            .0,
        200
    );
    let (s, o) = operator.get(&format!("/admin/api/v1/orders/{order}")).await;
    assert_eq!(s, 200);
    assert_eq!(o["tickets"].as_array().unwrap().len(), 1);
    assert!(
        o["workflow"]["history"].as_array().unwrap().len() > 5,
        "the workflow's history from Temporal: {}",
        o["workflow"]
    );
    assert!(
        o["workflow"]["link"]
            .as_str()
            .unwrap()
            .contains("/workflows/order-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let p = Platform::start(PlatformOptions::default()).await;
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let a = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let id = a.draft_event("Bad Input Night").await;
    let ev = format!("/admin/api/v1/events/{id}");
    let before = a.get(&ev).await.1;
    let in_ = |s: i64| (chrono::Utc::now() + chrono::Duration::seconds(s)).to_rfc3339();

    let cases: Vec<(&str, String, serde_json::Value, u16, &str)> = vec![
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "B", "name": "Circle", "price_cents": 100, "seats": "rows A-C, seats 1-10; rows C-D, seats 5-12" }),
            422,
            "invalid_seats",
        ),
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "F", "name": "Floor", "price_cents": 100, "capacity": -5 }),
            422,
            "out_of_range",
        ),
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "F", "name": "Floor", "price_cents": -1, "capacity": 5 }),
            422,
            "out_of_range",
        ),
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "F", "name": "Floor", "price_cents": 1, "capacity": 5, "seats": "rows A, seats 1" }),
            422,
            "invalid_layout",
        ),
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "A", "name": "Again", "price_cents": 1, "capacity": 5 }),
            409,
            "section_exists",
        ),
        (
            "POST",
            format!("{ev}/sections"),
            json!({ "code": "no spaces", "name": "X", "price_cents": 1, "capacity": 5 }),
            422,
            "invalid_code",
        ),
        (
            "POST",
            format!("{ev}/schedule"),
            json!({ "opens_at": in_(3600), "closes_at": in_(60) }),
            422,
            "invalid_window",
        ),
        (
            "POST",
            format!("{ev}/schedule"),
            json!({ "opens_at": in_(-60) }),
            422,
            "opens_in_past",
        ),
        (
            "POST",
            format!("{ev}/allocations"),
            json!({ "section": "A", "kind": "kill", "seats": ["A-1", "Z-9"] }),
            422,
            "seat_unknown",
        ),
        (
            "POST",
            format!("{ev}/allocations"),
            json!({ "section": "A", "kind": "presale", "seats": ["A-1"] }),
            422,
            "access_code_required",
        ),
        (
            "POST",
            format!("{ev}/allocations"),
            json!({ "section": "A", "kind": "gift", "seats": ["A-1"] }),
            422,
            "invalid_kind",
        ),
        (
            "PATCH",
            ev.clone(),
            json!({ "max_tickets_per_buyer": 0 }),
            422,
            "out_of_range",
        ),
        (
            "PATCH",
            ev.clone(),
            json!({ "hold_seconds": 1000000000000i64 }),
            422,
            "out_of_range",
        ),
        (
            "PATCH",
            ev.clone(),
            json!({ "owner": "me" }),
            422,
            "invalid_body",
        ),
        (
            "POST",
            format!("/admin/api/v1/events/{}/sections", uuid::Uuid::now_v7()),
            json!({ "code": "B", "name": "B", "price_cents": 1, "capacity": 5 }),
            404,
            "event_not_found",
        ),
        (
            "GET",
            "/admin/api/v1/events/not-a-uuid".into(),
            json!(null),
            400,
            "malformed_path",
        ),
        (
            "GET",
            "/admin/api/v1/orders?state=lost".into(),
            json!(null),
            422,
            "invalid_state",
        ),
        (
            "GET",
            "/admin/api/v1/orders?limit=-1".into(),
            json!(null),
            422,
            "out_of_range",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (!body.is_null()).then_some(&body);
        let (s, resp) = a.send(m, &path, body).await;
        assert_eq!(
            (s, resp["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {resp}"
        );
    }
    // Malformed JSON.
    let r = reqwest::Client::new()
        .post(format!("{}{ev}/sections", p.gateway_url))
        .header("cookie", &a.cookie)
        .header("x-csrf-token", &a.csrf)
        .header("content-type", "application/json")
        .body("{\"code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(a.get(&ev).await.1, before, "nothing changed");

    // Editing a section or allocation once the sale has opened: the platform's event is on
    // sale.
    let (email, pw) = owner_of(&p.db, p.event.as_uuid()).await;
    let owner = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let live = format!("/admin/api/v1/events/{}", p.event);
    let before = owner.get(&live).await.1;
    for (method, path, body) in [
        (
            "POST",
            format!("{live}/sections"),
            json!({ "code": "B", "name": "B", "price_cents": 1, "capacity": 5 }),
        ),
        ("DELETE", format!("{live}/sections/A"), json!(null)),
        (
            "POST",
            format!("{live}/allocations"),
            json!({ "section": "A", "kind": "kill", "seats": ["A-1"] }),
        ),
        (
            "POST",
            format!("{live}/schedule"),
            json!({ "opens_at": in_(3600) }),
        ),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (!body.is_null()).then_some(&body);
        let (s, resp) = owner.send(m, &path, body).await;
        assert_eq!(
            (s, resp["error"]["code"].as_str()),
            (409, Some("sale_started")),
            "{method} {path}: {resp}"
        );
    }
    assert_eq!(owner.get(&live).await.1, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_csrf_is_checked_and_sign_out_ends_the_session() {
    let p = Platform::start(PlatformOptions::default()).await;
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let http = reqwest::Client::new();
    let login = |password: &str| {
        http.post(format!("{}/admin/api/v1/session", p.gateway_url))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    // Wrong passwords and an unknown account look alike.
    let unknown = http
        .post(format!("{}/admin/api/v1/session", p.gateway_url))
        .json(&json!({ "email": "nobody@promoter.test", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = login("wrong password!").await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429],
        "five tries a minute"
    );
    assert_eq!(
        login(&pw).await.unwrap().status(),
        429,
        "even the right one waits"
    );

    let (email2, pw2) = account(&p.db, Role::Organizer).await;
    let a = AdminClient::login(&p.gateway_url, &email2, &pw2).await;
    let body = json!({ "name": "X", "venue": "Y", "timezone": "UTC", "starts_at": chrono::Utc::now() + chrono::Duration::days(1) });
    let post = |csrf: Option<&str>, origin: Option<&str>| {
        let mut r = http
            .post(format!("{}/admin/api/v1/events", p.gateway_url))
            .header("cookie", &a.cookie)
            .json(&body);
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(
        post(None, None).await.unwrap().status(),
        403,
        "no CSRF token"
    );
    assert_eq!(
        post(Some("0".repeat(64).as_str()), None)
            .await
            .unwrap()
            .status(),
        403,
        "a wrong one"
    );
    assert_eq!(
        post(Some(&a.csrf), Some("http://evil.test"))
            .await
            .unwrap()
            .status(),
        403,
        "another origin"
    );
    assert_eq!(
        a.get("/admin/api/v1/events").await.1,
        json!([]),
        "none of them created anything"
    );
    assert_eq!(post(Some(&a.csrf), None).await.unwrap().status(), 201);

    // Forged and missing cookies.
    let forged = http
        .get(format!("{}/admin/api/v1/events", p.gateway_url))
        .header("cookie", "bo_admin=".to_owned() + &"ab".repeat(32))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/admin/", p.gateway_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/login")
    );

    assert_eq!(a.delete("/admin/api/v1/session").await.0, 204);
    assert_eq!(
        a.get("/admin/api/v1/events").await.0,
        401,
        "the session is gone server-side"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_sessions_live_dashboard_stream() {
    let p = Platform::start(PlatformOptions {
        gateway_args: vec!["--admin-live-session-check-s".into(), "1".into()],
        ..Default::default()
    })
    .await;
    let (email, pw) = owner_of(&p.db, p.event.as_uuid()).await;
    let owner = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let live = reqwest::Client::new()
        .get(format!(
            "{}/admin/api/v1/events/{}/live",
            p.gateway_url, p.event
        ))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    // Still streaming a while later (stats every second).
    let mut body = live.bytes_stream();
    for _ in 0..3 {
        let chunk =
            tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut body))
                .await
                .expect("frames keep coming");
        assert!(chunk.is_some_and(|c| c.is_ok()));
    }

    assert_eq!(owner.delete("/admin/api/v1/session").await.0, 204);
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = futures::StreamExt::next(&mut body).await {}
    })
    .await
    .expect("the live stream ends soon after sign-out");
}
