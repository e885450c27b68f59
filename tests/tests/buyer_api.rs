//! The buyer API end to end on the real platform: the catalog and seat map, orders placed with
//! an admission (idempotent by key, one order per admission), followed as server-sent events,
//! paid, canceled; every forged, expired, foreign or reused credential refused; bad input a
//! precise 4xx that writes nothing.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use boxoffice_gateway::tokens::TokenKeys;
use boxoffice_nats::{BuyerId, EventId};
use boxoffice_tests::{
    buyer::Buyer,
    platform::{Platform, PlatformOptions},
};
use futures::StreamExt;
use serde_json::{Value, json};

fn dev_keys() -> TokenKeys {
    TokenKeys::new(&[boxoffice_gateway::config::DEV_TOKEN_KEY.to_owned()], 3600).unwrap()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// The intents on the stream (published and not yet consumed; no worker runs in these tests
/// unless started).
async fn intents(p: &Platform) -> u64 {
    let mut s = p
        .topology
        .js
        .get_stream(p.topology.ns.intents_stream())
        .await
        .unwrap();
    s.info().await.unwrap().state.messages
}

#[tokio::test]
async fn the_catalog_and_seat_map_are_served_live_and_unknowns_are_clean_4xx() {
    let p = Platform::start(PlatformOptions::default()).await;
    let b = Buyer::new(&p.gateway_url).await;
    let (status, list) = b.get("/api/v1/events").await;
    assert_eq!(status, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == p.event.to_string())
    );
    let mut event = Value::Null;
    for _ in 0..50 {
        event = b.get(&format!("/api/v1/events/{}", p.event)).await.1;
        if !event["availability"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        event["availability"]["available"], 70,
        "20 seats + 50 floor: {event}"
    );
    assert_eq!(event["sections"][0]["code"], "A");
    assert_eq!(event["sections"][0]["price_cents"], 4500);
    let (status, map) = b
        .get(&format!("/api/v1/events/{}/seats?section=A", p.event))
        .await;
    assert_eq!(status, 200);
    assert_eq!(map["seats"].as_array().unwrap().len(), 20);
    assert!(
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "free")
    );

    for (path, want, want_code) in [
        (
            format!("/api/v1/events/{}", EventId::new()),
            404,
            "event_not_found",
        ),
        ("/api/v1/events/not-a-uuid".into(), 400, "malformed_path"),
        (
            format!("/api/v1/events/{}/seats?section=ZZ", p.event),
            404,
            "section_not_found",
        ),
        (
            format!("/api/v1/events/{}/seats?section=no%20spaces", p.event),
            400,
            "malformed_section",
        ),
        ("/api/v1/nothing-here".into(), 404, "not_found"),
        ("/api/v1/queue/garbage".into(), 400, "malformed_ticket"),
        (
            format!("/api/v1/queue/{}.99999", p.event),
            404,
            "queue_ticket_not_found",
        ),
        (
            format!("/api/v1/orders/{}", uuid::Uuid::now_v7()),
            404,
            "order_not_found",
        ),
    ] {
        let (status, body) = b.get(&path).await;
        assert_eq!((status, code(&body)), (want, want_code), "{path}: {body}");
    }
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/events/{}/queue", p.gateway_url, p.event))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{}/api/v1/events/{}/queue", p.gateway_url, p.event))
        .bearer_auth(format!("{}x", b.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a forged session");
    let (_, expired, _) = dev_keys().new_session(chrono::Utc::now().timestamp() - 10 * 3600);
    let r = http
        .post(format!("{}/api/v1/events/{}/queue", p.gateway_url, p.event))
        .bearer_auth(expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an expired session");
    let r = http
        .delete(format!("{}/api/v1/sessions", p.gateway_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        code(&r.json::<Value>().await.unwrap()),
        "method_not_allowed"
    );
    let (status, spec) = b.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/api/v1/events/{event_id}/orders"]["post"].is_object());
    let docs = http
        .get(format!("{}/api/docs/", p.gateway_url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200, "the browsable page");
}

#[tokio::test]
async fn forged_expired_foreign_wrong_event_and_reused_admissions_are_refused() {
    let p = Platform::start(PlatformOptions::default()).await;
    let a = Buyer::new(&p.gateway_url).await;
    let token = a.admitted(p.event, Duration::from_secs(10)).await;
    let seat = json!({ "seats": ["A:A-1"] });
    let keys = dev_keys();
    let me: BuyerId = a.id.parse().unwrap();
    let soon = chrono::Utc::now().timestamp() + 60;

    let mut forged = token.clone();
    forged.insert(forged.len() - 3, 'x');
    let other_key = TokenKeys::new(&["dev:an-entirely-different-signing-key-000".into()], 60)
        .unwrap()
        .admission(me, p.event, 1, soon);
    let expired = keys.admission(me, p.event, 1, chrono::Utc::now().timestamp() - 5);
    let wrong_event = keys.admission(me, EventId::new(), 1, soon);
    for (bad, want, want_code) in [
        (forged.as_str(), 401, "admission_invalid"),
        (other_key.as_str(), 401, "admission_invalid"),
        ("garbage", 401, "admission_invalid"),
        (expired.as_str(), 410, "admission_expired"),
        (wrong_event.as_str(), 403, "admission_wrong_event"),
        (a.token.as_str(), 401, "admission_invalid"),
    ] {
        let (status, body) = a.order(p.event, bad, "k-bad", &seat).await;
        assert_eq!((status, code(&body)), (want, want_code), "{body}");
    }
    let b = Buyer::new(&p.gateway_url).await;
    let (status, body) = b.order(p.event, &token, "k-b", &seat).await;
    assert_eq!((status, code(&body)), (403, "admission_not_yours"));
    assert_eq!(intents(&p).await, 0, "nothing was published");

    let (status, first) = a.order(p.event, &token, "k1", &seat).await;
    assert_eq!(status, 202, "{first}");
    let order = first["order_id"].as_str().unwrap().to_owned();
    let (status, again) = a.order(p.event, &token, "k1", &seat).await;
    assert_eq!(
        (status, again["order_id"].as_str()),
        (202, Some(order.as_str())),
        "same key, same order"
    );
    let (status, body) = a
        .order(p.event, &token, "k1", &json!({ "seats": ["A:A-2"] }))
        .await;
    assert_eq!((status, code(&body)), (422, "idempotency_key_reused"));
    let (status, body) = a.order(p.event, &token, "k2", &seat).await;
    assert_eq!(
        (status, code(&body)),
        (409, "admission_used"),
        "one order per admission"
    );
    // Ten tabs racing one admission with ten keys: one order at most (it is used already).
    let keys: Vec<String> = (0..10).map(|i| format!("race-{i}")).collect();
    let racers =
        futures::future::join_all(keys.iter().map(|k| a.order(p.event, &token, k, &seat))).await;
    assert!(racers.iter().all(|(s, _)| *s == 409));
    assert_eq!(intents(&p).await, 1, "one intent for one order");
    let (status, view) = a.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("requested")),
        "{view}"
    );
    let (status, body) = b.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!((status, code(&body)), (403, "order_not_yours"));
}

#[tokio::test]
async fn concurrent_twins_of_one_order_request_make_one_order() {
    let p = Platform::start(PlatformOptions::default()).await;
    let a = Buyer::new(&p.gateway_url).await;
    let token = a.admitted(p.event, Duration::from_secs(10)).await;
    let seat = json!({ "seats": ["A:A-3"] });
    let twins =
        futures::future::join_all((0..8).map(|_| a.order(p.event, &token, "double-click", &seat)))
            .await;
    let ids: std::collections::HashSet<_> = twins
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 202, "{b}");
            b["order_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "a double click is one order");
    assert_eq!(intents(&p).await, 1);
}

#[tokio::test]
async fn bad_input_gets_a_precise_4xx_and_writes_nothing() {
    let p = Platform::start(PlatformOptions::default()).await;
    let a = Buyer::new(&p.gateway_url).await;
    let token = a.admitted(p.event, Duration::from_secs(10)).await;
    let url = format!("{}/api/v1/events/{}/orders", p.gateway_url, p.event);
    let send = |body: String, ctype: &'static str, key: Option<&'static str>| {
        let mut r = a
            .http
            .post(&url)
            .bearer_auth(&a.token)
            .header("Admission-Token", &token)
            .header("content-type", ctype)
            .body(body);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        async move {
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let json_t = "application/json";
    let cases: Vec<(String, &str, Option<&str>, u16, &str)> = vec![
        ("{not json".into(), json_t, Some("k"), 400, "malformed_json"),
        (r#"{"seats": ["A:A-1"]}"#.into(), "text/plain", Some("k"), 415, "unsupported_media_type"),
        (format!(r#"{{"seats": ["{}"]}}"#, "A".repeat(40_000)), json_t, Some("k"), 413, "body_too_large"),
        (r#"{"seats": ["A:A-1"], "price": 0}"#.into(), json_t, Some("k"), 422, "invalid_body"),
        (r#"{"section": "FLOOR", "quantity": -1}"#.into(), json_t, Some("k"), 422, "quantity_out_of_range"),
        (r#"{"section": "FLOOR", "quantity": 1000000000}"#.into(), json_t, Some("k"), 422, "quantity_out_of_range"),
        (r#"{"section": "FLOOR", "quantity": 1e400}"#.into(), json_t, Some("k"), 400, "malformed_json"),
        (r#"{"section": "FLOOR", "quantity": 2.5}"#.into(), json_t, Some("k"), 422, "invalid_body"),
        (r#"{"seats": []}"#.into(), json_t, Some("k"), 422, "quantity_out_of_range"),
        (r#"{"seats": ["A:Z-99"]}"#.into(), json_t, Some("k"), 422, "seat_unknown"),
        (r#"{"seats": ["zz"]}"#.into(), json_t, Some("k"), 422, "seat_invalid"),
        (r#"{"seats": ["A:A-1", "A:A-1"]}"#.into(), json_t, Some("k"), 422, "seat_duplicate"),
        (r#"{"seats": ["A:A-1"], "section": "FLOOR", "quantity": 1}"#.into(), json_t, Some("k"), 422, "request_shape"),
        (r#"{"section": "NOPE", "quantity": 2}"#.into(), json_t, Some("k"), 422, "section_unknown"),
        (r#"{"seats": ["A:A-1","A:A-2","A:A-3","A:A-4","A:A-5","A:A-6","A:A-7","A:A-8","A:A-9"]}"#.into(), json_t, Some("k"), 422, "quantity_out_of_range"),
        (r#"{"seats": ["A:A-1"]}"#.into(), json_t, None, 400, "idempotency_key_missing"),
        (r#"{"seats": ["A:A-1"]}"#.into(), json_t, Some("two words"), 400, "idempotency_key_invalid"),
        ("[]".into(), json_t, Some("k"), 422, "invalid_body"),
    ];
    for (body, ctype, key, want, want_code) in cases {
        let (status, answer) = send(body.clone(), ctype, key).await;
        assert_eq!(
            (status, code(&answer)),
            (want, want_code),
            "{}: {answer}",
            &body[..body.len().min(80)]
        );
    }
    assert_eq!(intents(&p).await, 0, "no bad request published anything");
    // And the admission is still unused: the first good request is the order.
    let (status, body) = a
        .order(
            p.event,
            &token,
            "good",
            &json!({ "section": "FLOOR", "quantity": 2 }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(intents(&p).await, 1);
}

#[tokio::test]
async fn an_order_placed_through_the_api_is_followed_paid_issued_and_another_canceled() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _worker = p.start_worker();
    let a = Buyer::new(&p.gateway_url).await;
    let token = a.admitted(p.event, Duration::from_secs(10)).await;
    let (status, accepted) = a
        .order(
            p.event,
            &token,
            "buy-1",
            &json!({ "seats": ["A:A-1", "A:A-2"] }),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let order = accepted["order_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["status_url"], format!("/api/v1/orders/{order}"));

    // Follow it as server-sent events from the start.
    let stream = a
        .http
        .get(format!("{}/api/v1/orders/{order}/events", p.gateway_url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let v: Value = serde_json::from_str(data).unwrap();
                    let _ = tx.send(v["state"].as_str().unwrap().to_owned());
                }
            }
        }
    });

    let waiting = a
        .wait_order(&order, "awaiting_payment", Duration::from_secs(30))
        .await;
    assert_eq!(waiting["amount_cents"], 9000);
    assert!(waiting["hold_expires_at"].is_string());
    let intent_id = waiting["payment"]["checkout_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(p.pay(&intent_id, "succeed").await, 200);
    let issued = a
        .wait_order(&order, "issued", Duration::from_secs(30))
        .await;
    assert_eq!(issued["tickets"].as_array().unwrap().len(), 2);

    let mut seen = Vec::new();
    while !seen.iter().any(|s| s == "issued") {
        let s = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a server-sent event")
            .unwrap();
        seen.push(s);
    }
    let at = |s: &str| seen.iter().position(|x| x == s);
    assert!(at("awaiting_payment") < at("issued"), "in order: {seen:?}");

    // A second buyer holds a seat, then cancels before paying.
    let b = Buyer::new(&p.gateway_url).await;
    let token_b = b.admitted(p.event, Duration::from_secs(10)).await;
    let (status, accepted) = b
        .order(p.event, &token_b, "buy-2", &json!({ "seats": ["A:A-3"] }))
        .await;
    assert_eq!(status, 202);
    let order_b = accepted["order_id"].as_str().unwrap().to_owned();
    b.wait_order(&order_b, "awaiting_payment", Duration::from_secs(30))
        .await;
    let (status, _) = a.post(&format!("/api/v1/orders/{order_b}/cancel")).await;
    assert_eq!(status, 403, "not yours to cancel");
    let (status, body) = b.post(&format!("/api/v1/orders/{order_b}/cancel")).await;
    assert_eq!(status, 202, "{body}");
    b.wait_order(&order_b, "canceled", Duration::from_secs(30))
        .await;
    let (status, body) = b.post(&format!("/api/v1/orders/{order_b}/cancel")).await;
    assert_eq!((status, code(&body)), (409, "order_not_cancelable"));
    let (status, body) = a.post(&format!("/api/v1/orders/{order}/cancel")).await;
    assert_eq!(
        (status, code(&body)),
        (409, "order_not_cancelable"),
        "a paid order"
    );
    let state_of = |map: &Value, seat: &str| {
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["seat"] == seat)
            .unwrap()["state"]
            .clone()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let map = a
            .get(&format!("/api/v1/events/{}/seats?section=A", p.event))
            .await
            .1;
        if state_of(&map, "A:A-3") == "free" {
            assert_eq!(state_of(&map, "A:A-1"), "sold");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the canceled hold is back: {map}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn seats_the_map_shows_taken_are_refused_at_once_and_the_admission_stays_usable() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _worker = p.start_worker();
    let a = Buyer::new(&p.gateway_url).await;
    let token_a = a.admitted(p.event, Duration::from_secs(10)).await;
    let (status, accepted) = a
        .order(p.event, &token_a, "a-1", &json!({ "seats": ["A:A-5"] }))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let order_a = accepted["order_id"].as_str().unwrap().to_owned();
    a.wait_order(&order_a, "awaiting_payment", Duration::from_secs(30))
        .await;
    // The gateway's live view catches up with the hold within moments.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let map = a
            .get(&format!("/api/v1/events/{}/seats?section=A", p.event))
            .await
            .1;
        let held = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["seat"] == "A:A-5" && s["state"] == "held");
        if held {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "hold never shown: {map}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let b = Buyer::new(&p.gateway_url).await;
    let token_b = b.admitted(p.event, Duration::from_secs(10)).await;
    let (status, body) = b
        .order(
            p.event,
            &token_b,
            "b-1",
            &json!({ "seats": ["A:A-4", "A:A-5"] }),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "seats_taken"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("A:A-5") && !message.contains("A:A-4"),
        "{message}"
    );

    // Nothing was claimed for it: the same admission buys other seats (a claimed admission
    // would be refused as admission_used).
    let (status, accepted) = b
        .order(p.event, &token_b, "b-2", &json!({ "seats": ["A:A-4"] }))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let order_b = accepted["order_id"].as_str().unwrap().to_owned();
    b.wait_order(&order_b, "awaiting_payment", Duration::from_secs(30))
        .await;
    // And the holder's own resubmission is still the same order, not a refusal.
    let (status, again) = a
        .order(p.event, &token_a, "a-1", &json!({ "seats": ["A:A-5"] }))
        .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["order_id"].as_str(), Some(order_a.as_str()));

    // Best available on the seated section: the store picks two free seats side by side.
    let c = Buyer::new(&p.gateway_url).await;
    let token_c = c.admitted(p.event, Duration::from_secs(10)).await;
    let (status, accepted) = c
        .order(
            p.event,
            &token_c,
            "c-1",
            &json!({ "section": "A", "quantity": 2 }),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let order_c = accepted["order_id"].as_str().unwrap().to_owned();
    let held = c
        .wait_order(&order_c, "awaiting_payment", Duration::from_secs(30))
        .await;
    let seats: Vec<&str> = held["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(seats.len(), 2, "{held}");
    assert!(
        !seats.contains(&"A:A-4") && !seats.contains(&"A:A-5"),
        "{seats:?}"
    );
    let (x, y) = (
        boxoffice_tests::row_and_number(seats[0]),
        boxoffice_tests::row_and_number(seats[1]),
    );
    assert!(
        x.0 == y.0 && x.1.abs_diff(y.1) == 1,
        "side by side: {seats:?}"
    );
}
