//! Bad input and abuse (issue 14): each case answers a 4xx in the error shape, changes
//! nothing, and leaves everyone else served.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_nats::seat::SeatState;
use boxoffice_tests::{
    admin::{AdminClient, account},
    buyer::Buyer,
    platform::{Platform, PlatformOptions, create_event},
};
use boxoffice_workflows::store::{self, accounts::Role};
use serde_json::{Value, json};

/// A platform whose gateway believes `X-Forwarded-For` from loopback, so one test can speak
/// from several client addresses; plus `extra` gateway flags.
async fn platform_with(extra: &[&str]) -> Platform {
    let mut gateway_args: Vec<String> = vec!["--trusted-proxies".into(), "127.0.0.1".into()];
    gateway_args.extend(extra.iter().map(|s| s.to_string()));
    Platform::start(PlatformOptions {
        gateway_args,
        ..Default::default()
    })
    .await
}

/// Status, `Retry-After` and JSON body of a response.
async fn answer(r: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_per_address_bound_get_429_with_retry_after_and_other_addresses_do_not() {
    let p = platform_with(&["--sessions-per-address-per-minute", "5"]).await;
    let http = reqwest::Client::new();
    let session = |from: &'static str| {
        http.post(format!("{}/api/v1/sessions", p.gateway_url))
            .header("x-forwarded-for", from)
            .send()
    };
    for i in 0..5 {
        let (s, _, body) = answer(session("203.0.113.1").await.unwrap()).await;
        assert_eq!(s, 201, "session {i}: {body}");
    }
    let (s, retry, body) = answer(session("203.0.113.1").await.unwrap()).await;
    assert_eq!(s, 429, "{body}");
    assert_eq!(body["error"]["code"], "sessions_rate_limited", "{body}");
    let retry: u32 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(body.get("token").is_none(), "no session was made: {body}");

    // Another address is served.
    let (s, _, body) = answer(session("203.0.113.2").await.unwrap()).await;
    assert_eq!(s, 201, "{body}");
    // A client cannot dodge the bound by writing its own X-Forwarded-For: the gateway reads
    // the nearest hop its trusted proxy (here: loopback) saw.
    let (s, _, body) = answer(session("198.51.100.7, 203.0.113.1").await.unwrap()).await;
    assert_eq!(s, 429, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_address_never_lock_the_operator_out_of_another() {
    let p = platform_with(&[]).await;
    let (operator, password) = account(&p.db, Role::Operator).await;
    let (other, other_password) = account(&p.db, Role::Organizer).await;
    let http = reqwest::Client::new();
    let login = |email: &str, password: &str, from: &str| {
        http.post(format!("{}/admin/api/v1/session", p.gateway_url))
            .header("x-forwarded-for", from)
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let attacker = "203.0.113.66";
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let (s, retry, body) = answer(
            login(&operator, "not the password", attacker)
                .await
                .unwrap(),
        )
        .await;
        if s == 429 {
            assert_eq!(body["error"]["code"], "login_rate_limited", "{body}");
            assert!(retry.is_some(), "429 carries Retry-After");
        }
        statuses.push(s);
    }
    assert_eq!(
        &statuses[..6],
        [401, 401, 401, 401, 401, 429],
        "{statuses:?}"
    );
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The attacker's address is stopped, for this account and (past 30 tries) for any.
    assert_eq!(
        answer(login(&operator, &password, attacker).await.unwrap())
            .await
            .0,
        429
    );
    assert_eq!(
        answer(login(&other, &other_password, attacker).await.unwrap())
            .await
            .0,
        429
    );

    // The operator, from anywhere else, signs in at once.
    let (s, _, body) = answer(login(&operator, &password, "198.51.100.20").await.unwrap()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["account"]["email"], operator.as_str());
    // And without a proxy in between (the connection's own address).
    let (s, _, body) = answer(
        http.post(format!("{}/admin/api/v1/session", p.gateway_url))
            .json(&json!({ "email": other, "password": other_password }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

/// A buyer with one order placed (no worker needed: the stream starts at `requested`).
async fn buyer_with_order(p: &Platform, seat: &str) -> (Buyer, String) {
    let b = Buyer::new(&p.gateway_url).await;
    let admission = b.admitted(p.event, Duration::from_secs(20)).await;
    let (s, placed) = b
        .order(p.event, &admission, "k1", &json!({ "seats": [seat] }))
        .await;
    assert_eq!(s, 202, "{placed}");
    (b, placed["order_id"].as_str().unwrap().to_owned())
}

/// Opens the order's event stream.
async fn open_stream(b: &Buyer, order: &str) -> reqwest::Response {
    b.http
        .get(format!("{}/api/v1/orders/{order}/events", b.base))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_streams_are_bounded_per_buyer_and_in_all_and_a_closed_one_frees_its_place() {
    let p = platform_with(&["--order-streams-per-buyer", "2", "--order-streams-max", "3"]).await;
    let (a, order_a) = buyer_with_order(&p, "A:A-1").await;
    let (b, order_b) = buyer_with_order(&p, "A:A-2").await;

    let mut open = Vec::new();
    for _ in 0..2 {
        let r = open_stream(&a, &order_a).await;
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let (s, retry, body) = answer(open_stream(&a, &order_a).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (429, Some("too_many_streams")),
        "{body}"
    );
    assert!(retry.is_some(), "429 carries Retry-After");

    // Another buyer takes the gateway's last place; then the gateway is full for everyone.
    let b1 = open_stream(&b, &order_b).await;
    assert_eq!(b1.status(), 200);
    let (s, retry, body) = answer(open_stream(&b, &order_b).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (429, Some("streams_at_capacity")),
        "{body}"
    );
    assert!(retry.is_some());

    // The first buyer closes a stream: its place comes back (once the gateway sees the
    // client gone, at the latest on the next keep-alive).
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let reopened = loop {
        let r = open_stream(&a, &order_a).await;
        if r.status() == 200 {
            break r;
        }
        assert_eq!(r.status(), 429);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The stream works: its first event is the order as it stands.
    let mut chunks = reopened.bytes_stream();
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut chunks),
    )
    .await
    .expect("a first event")
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&first);
    assert!(text.contains("event: status"), "{text}");
    drop(b1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_on_another_event_is_refused_with_422_before_anything_is_held() {
    let p = platform_with(&[]).await;
    let _w = p.start_worker();
    let other = create_event(&p.db, &PlatformOptions::default()).await;
    let inventory = store::sellable_inventory(&p.db, other).await.unwrap();
    p.seats.load_event(&inventory).await.unwrap();
    let b = Buyer::new(&p.gateway_url).await;
    let seat = json!({ "seats": ["A:A-1"] });

    let first = b.admitted(p.event, Duration::from_secs(20)).await;
    let (s, placed) = b.order(p.event, &first, "my-key", &seat).await;
    assert_eq!(s, 202, "{placed}");
    let order = placed["order_id"].as_str().unwrap().to_owned();

    // The gateway's catalog picks the second event up within a couple of seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while b.get(&format!("/api/v1/events/{other}")).await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second event never showed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = b.admitted(other, Duration::from_secs(20)).await;
    let (s, body) = b.order(other, &second, "my-key", &seat).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("orders_"),
        "no constraint name: {body}"
    );

    // Nothing was held or used: the seat is free and the admission still buys with a new key.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a1: boxoffice_nats::SeatId = "A:A-1".parse().unwrap();
    let seat_now = p.seats.seat(other, &a1).await.unwrap().unwrap().state;
    assert_eq!(seat_now, SeatState::Free);
    let (s, fresh) = b.order(other, &second, "a-new-key", &seat).await;
    assert_eq!(s, 202, "{fresh}");
    assert_ne!(fresh["order_id"].as_str(), Some(order.as_str()));
    // And the key still answers its own order on its own event.
    let (s, again) = b.order(p.event, &first, "my-key", &seat).await;
    assert_eq!(
        (s, again["order_id"].as_str()),
        (202, Some(order.as_str())),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_input_the_database_cannot_store_is_a_422_never_a_503_and_changes_nothing() {
    let p = platform_with(&[]).await;
    let (email, password) = account(&p.db, Role::Organizer).await;
    let admin = AdminClient::login(&p.gateway_url, &email, &password).await;
    let starts = chrono::Utc::now() + chrono::Duration::days(30);
    let (s, body) = admin
        .post(
            "/admin/api/v1/events",
            &json!({ "name": "Night\u{0}Show", "venue": "Hall", "timezone": "UTC", "starts_at": starts }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("invalid_field")),
        "{body}"
    );
    let event = admin.draft_event("Real").await;
    // A seat description that would take the gateway down: refused at once.
    let (s, body) = admin
        .post(
            &format!("/admin/api/v1/events/{event}/sections"),
            &json!({ "code": "B", "name": "Balcony", "price_cents": 100, "seats": "rows 1-4294967295, seats 1" }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("invalid_seats")),
        "{body}"
    );
    let (s, events) = admin.get("/admin/api/v1/events").await;
    assert_eq!(s, 200);
    assert_eq!(
        events.as_array().unwrap().len(),
        1,
        "only the real one: {events}"
    );
    let (_, detail) = admin.get(&format!("/admin/api/v1/events/{event}")).await;
    assert_eq!(detail["sections"].as_array().unwrap().len(), 1, "{detail}");
}
