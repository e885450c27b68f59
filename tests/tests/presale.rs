//! Presale codes end to end on the real platform: a code holder buys from the block and gets
//! the ticket, nobody else can (named, best available, seat map, counts), every code that opens
//! nothing is one answer, attempts are rate limited, a grant is its buyer's and its event's
//! only, a release opens the block to all, and a race for a block of two sells exactly two.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use boxoffice_gateway::tokens::TokenKeys;
use boxoffice_nats::{BlockId, BuyerId, EventId};
use boxoffice_tests::{
    buyer::{Answer, Buyer},
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::store::{
    self,
    accounts::hash_password,
    inventory::{self, AllocationDraft, AllocationKind, Withheld},
};
use serde_json::{Value, json};
use uuid::Uuid;

const CODE: &str = "FRIENDS-2026";

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// A platform whose seated section `A` is one row of four seats, `A-1` and `A-2` a presale
/// block opened by [`CODE`], with a worker.
async fn presale_platform() -> (Platform, Uuid, boxoffice_tests::platform::WorkerHandle) {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 4,
        ..Default::default()
    })
    .await;
    let block = add_block(
        &p,
        "A",
        Withheld::Seats(vec!["A-1".into(), "A-2".into()]),
        CODE,
    )
    .await;
    let worker = p.start_worker();
    (p, block, worker)
}

/// The organizer who owns the platform's event.
async fn organizer_of(p: &Platform) -> Uuid {
    sqlx::query_scalar!(
        "select organizer_id from events where event_id = $1",
        p.event.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap()
}

/// Adds a presale allocation opened by `code` and reloads the event; returns its id. (The
/// platform loaded the event already: a standing block added now leaves the general units
/// beyond the new count in the store, never picked since the metadata bounds the picks; the
/// admin API takes allocations only before the opening, so a real sale never has them.)
async fn add_block(p: &Platform, section: &str, withheld: Withheld, code: &str) -> Uuid {
    let organizer = organizer_of(p).await;
    let draft = AllocationDraft {
        section: section.into(),
        kind: AllocationKind::Presale,
        withheld,
        access_code_hash: Some(hash_password(code).unwrap()),
        note: None,
    };
    let block = inventory::add_allocation(&p.db, organizer, p.event.as_uuid(), &draft)
        .await
        .unwrap();
    reload(p).await;
    block
}

/// What the on-sale workflow does on a release: loads the sellable inventory again.
async fn reload(p: &Platform) {
    let inv = store::sellable_inventory(&p.db, p.event).await.unwrap();
    p.seats.load_event(&inv).await.unwrap();
}

async fn redeem(b: &Buyer, event: impl std::fmt::Display, code: &str) -> (u16, String) {
    let r = b
        .http
        .post(format!("{}/api/v1/events/{event}/presale", b.base))
        .bearer_auth(&b.token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn grant(b: &Buyer, event: EventId) -> (String, Value) {
    let (status, body) = redeem(b, event, CODE).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    (body["presale_token"].as_str().unwrap().to_owned(), body)
}

async fn order(
    b: &Buyer,
    event: EventId,
    admission: &str,
    key: &str,
    body: &Value,
    presale: Option<&str>,
) -> Answer {
    let mut req = b
        .http
        .post(format!("{}/api/v1/events/{event}/orders", b.base))
        .bearer_auth(&b.token)
        .header("Admission-Token", admission)
        .header("Idempotency-Key", key)
        .json(body);
    if let Some(t) = presale {
        req = req.header("Presale-Token", t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The seat map of `section`, as the public or a grant's holder sees it.
async fn map(b: &Buyer, event: EventId, section: &str, presale: Option<&str>) -> Value {
    let mut req = b.http.get(format!(
        "{}/api/v1/events/{event}/seats?section={section}",
        b.base
    ));
    if let Some(t) = presale {
        req = req.header("Presale-Token", t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn state_of<'a>(map: &'a Value, seat: &str) -> &'a str {
    map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["seat"] == seat)
        .and_then(|s| s["state"].as_str())
        .unwrap_or("<absent>")
}

/// Waits until the map (as `presale` sees it) shows `seat` as `want` (the gateway re-reads the
/// gates within the seat store's meta TTL).
async fn map_shows(b: &Buyer, event: EventId, presale: Option<&str>, seat: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let section = seat.split(':').next().unwrap();
        let m = map(b, event, section, presale).await;
        if state_of(&m, seat) == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seat} never {want}: {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The order's state once the intake has answered (`awaiting_payment` or `rejected`).
async fn settled(b: &Buyer, order: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = b.get(&format!("/api/v1/orders/{order}")).await;
        if body["state"] == "awaiting_payment" || body["state"] == "rejected" {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn checkout(waiting: &Value) -> String {
    waiting["payment"]["checkout_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_holder_buys_from_the_block_and_nobody_else_can() {
    let (p, _block, _worker) = presale_platform().await;
    let ev = p.event;
    let public = Buyer::new(&p.gateway_url).await;
    map_shows(&public, ev, None, "A:A-1", "unavailable").await;
    assert_eq!(
        state_of(&map(&public, ev, "A", None).await, "A:A-3"),
        "free"
    );
    let (_, event) = public.get(&format!("/api/v1/events/{ev}")).await;
    let a = event["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "A")
        .unwrap();
    assert_eq!(a["availability"]["available"], 2, "{a}");

    // With the code: the block, as the grant describes it, live on the grant's map.
    let b = Buyer::new(&p.gateway_url).await;
    let (token, granted) = grant(&b, ev).await;
    assert_eq!(
        granted["block"],
        json!({ "section": "A", "kind": "seated", "seats": ["A-1", "A-2"], "max_per_buyer": 8 }),
        "{granted}"
    );
    assert!(granted["expires_at"].is_string());
    map_shows(&b, ev, Some(&token), "A:A-1", "free").await;
    assert_eq!(
        state_of(&map(&b, ev, "A", Some(&token)).await, "A:A-3"),
        "unavailable"
    );

    // The grant does not reach outside its block: a general seat is a taken seat to it
    // (refused at once, the admission kept).
    let admission = b.admitted(ev, Duration::from_secs(10)).await;
    let (status, body) = order(
        &b,
        ev,
        &admission,
        "b-0",
        &json!({ "seats": ["A:A-3"] }),
        Some(&token),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "seats_taken"), "{body}");

    // It buys a block seat, pays at the sandbox, and gets the ticket.
    let (status, body) = order(
        &b,
        ev,
        &admission,
        "b-1",
        &json!({ "seats": ["A:A-1"] }),
        Some(&token),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["order_id"].as_str().unwrap().to_owned();
    let waiting = settled(&b, &id).await;
    assert_eq!(waiting["state"], "awaiting_payment", "{waiting}");
    assert_eq!(p.pay(&checkout(&waiting), "succeed").await, 200);
    let issued = b.wait_order(&id, "issued", Duration::from_secs(30)).await;
    assert_eq!(issued["tickets"][0]["seat"], "A:A-1", "{issued}");
    map_shows(&b, ev, Some(&token), "A:A-1", "sold").await;
    assert_eq!(
        state_of(&map(&public, ev, "A", None).await, "A:A-1"),
        "unavailable"
    );

    // Without the code: a named block seat (A-2 is still free) is a taken seat, and best
    // available never picks one.
    let g = Buyer::new(&p.gateway_url).await;
    let admission = g.admitted(ev, Duration::from_secs(10)).await;
    let (status, body) = order(
        &g,
        ev,
        &admission,
        "g-1",
        &json!({ "seats": ["A:A-2"] }),
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (409, "seats_taken"), "{body}");
    let (status, body) = order(
        &g,
        ev,
        &admission,
        "g-2",
        &json!({ "section": "A", "quantity": 2 }),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let held = settled(&g, body["order_id"].as_str().unwrap()).await;
    assert_eq!(held["seats"], json!(["A:A-3", "A:A-4"]), "{held}");
    let g2 = Buyer::new(&p.gateway_url).await;
    let admission = g2.admitted(ev, Duration::from_secs(10)).await;
    let (status, body) = order(
        &g2,
        ev,
        &admission,
        "g2-1",
        &json!({ "section": "A", "quantity": 1 }),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let refused = settled(&g2, body["order_id"].as_str().unwrap()).await;
    assert_eq!(refused["state"], "rejected", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_that_open_nothing_are_one_answer_grants_are_bound_and_attempts_limited() {
    let (p, block, _worker) = presale_platform().await;
    let ev = p.event;
    let a = Buyer::new(&p.gateway_url).await;
    let (s1, wrong) = redeem(&a, ev, "NOT-THE-CODE").await;
    let (s2, no_event) = redeem(&a, Uuid::now_v7(), CODE).await;
    assert_eq!((s1, s2), (422, 422), "{wrong} {no_event}");
    assert_eq!(wrong, no_event, "byte-identical");
    assert_eq!(
        code(&serde_json::from_str(&wrong).unwrap()),
        "access_code_invalid"
    );

    // A grant is its buyer's and its event's, and only while valid.
    let holder = Buyer::new(&p.gateway_url).await;
    let (token, _) = grant(&holder, ev).await;
    let other = Buyer::new(&p.gateway_url).await;
    let admission = other.admitted(ev, Duration::from_secs(10)).await;
    let keys =
        TokenKeys::new(&[boxoffice_gateway::config::DEV_TOKEN_KEY.to_owned()], 3600).unwrap();
    let me: BuyerId = other.id.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    let blk = BlockId::from_uuid(block);
    for (t, want) in [
        (token.clone(), (403, "presale_token_not_yours")),
        (
            keys.presale(me, EventId::new(), blk, now + 60),
            (403, "presale_token_not_yours"),
        ),
        (
            keys.presale(me, ev, blk, now - 1),
            (401, "presale_token_invalid"),
        ),
        (format!("{token}x"), (401, "presale_token_invalid")),
        (admission.clone(), (401, "presale_token_invalid")),
    ] {
        let (status, body) = order(
            &other,
            ev,
            &admission,
            "o-1",
            &json!({ "seats": ["A:A-1"] }),
            Some(&t),
        )
        .await;
        assert_eq!((status, code(&body)), want, "{body}");
    }

    // Released: the block's seats are anyone's, and its code opens nothing, in the same words.
    let organizer = organizer_of(&p).await;
    assert!(
        inventory::release_allocation(&p.db, organizer, ev.as_uuid(), block)
            .await
            .unwrap()
    );
    reload(&p).await;
    let (s3, released) = redeem(&a, ev, CODE).await;
    assert_eq!((s3, &released), (422, &wrong));
    map_shows(&a, ev, None, "A:A-1", "free").await;
    // The seat store's processes see the release within their meta TTL.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, body) = order(
        &other,
        ev,
        &admission,
        "o-2",
        &json!({ "seats": ["A:A-1"] }),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let held = settled(&other, body["order_id"].as_str().unwrap()).await;
    assert_eq!(held["state"], "awaiting_payment", "{held}");

    // Five attempts a minute per buyer: `a` has made three.
    for _ in 0..2 {
        assert_eq!(redeem(&a, ev, "GUESS-000").await.0, 422);
    }
    let r = a
        .http
        .post(format!("{}/api/v1/events/{ev}/presale", a.base))
        .bearer_auth(&a.token)
        .json(&json!({ "code": "GUESS-001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u32 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "presale_rate_limited", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyers_racing_for_a_block_of_two_buy_exactly_two() {
    let (p, _block, _worker) = presale_platform().await;
    let ev = p.event;
    let mut racers = Vec::new();
    for _ in 0..8 {
        let b = Buyer::new(&p.gateway_url).await;
        let (token, _) = grant(&b, ev).await;
        let admission = b.admitted(ev, Duration::from_secs(10)).await;
        racers.push((b, token, admission));
    }
    let placed = futures::future::join_all(racers.iter().map(|(b, token, admission)| async move {
        let (status, body) = order(
            b,
            ev,
            admission,
            "race",
            &json!({ "section": "A", "quantity": 1 }),
            Some(token),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        settled(b, body["order_id"].as_str().unwrap()).await
    }))
    .await;
    let won: Vec<&Value> = placed
        .iter()
        .filter(|o| o["state"] == "awaiting_payment")
        .collect();
    assert_eq!(won.len(), 2, "{placed:?}");
    let mut seats: Vec<&str> = won
        .iter()
        .map(|o| o["seats"][0].as_str().unwrap())
        .collect();
    seats.sort();
    assert_eq!(seats, ["A:A-1", "A:A-2"]);
    for ((b, _, _), o) in racers.iter().zip(&placed) {
        if o["state"] == "awaiting_payment" {
            assert_eq!(p.pay(&checkout(o), "succeed").await, 200);
            let id = o["order_id"].as_str().unwrap();
            b.wait_order(id, "issued", Duration::from_secs(30)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_block_sells_its_own_units_with_tickets() {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 4,
        floor_capacity: Some(5),
        ..Default::default()
    })
    .await;
    add_block(&p, "FLOOR", Withheld::Units(2), "STANDING-2026").await;
    let _worker = p.start_worker();
    let ev = p.event;
    let b = Buyer::new(&p.gateway_url).await;
    let (status, body) = redeem(&b, ev, "STANDING-2026").await;
    assert_eq!(status, 200, "{body}");
    let granted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        granted["block"],
        json!({ "section": "FLOOR", "kind": "general_admission", "quantity": 2, "max_per_buyer": 8 })
    );
    let token = granted["presale_token"].as_str().unwrap();
    let admission = b.admitted(ev, Duration::from_secs(10)).await;
    let (status, body) = order(
        &b,
        ev,
        &admission,
        "floor-1",
        &json!({ "section": "FLOOR", "quantity": 2 }),
        Some(token),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["order_id"].as_str().unwrap().to_owned();
    let waiting = settled(&b, &id).await;
    assert_eq!(waiting["state"], "awaiting_payment", "{waiting}");
    let seats: Vec<&str> = waiting["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        seats
            .iter()
            .all(|s| s.starts_with("FLOOR:p") && !s.contains(":u")),
        "{seats:?}"
    );
    assert_eq!(p.pay(&checkout(&waiting), "succeed").await, 200);
    let issued = b.wait_order(&id, "issued", Duration::from_secs(30)).await;
    assert_eq!(issued["tickets"].as_array().unwrap().len(), 2, "{issued}");
    // To the public, the block's units are neither for sale nor counted (once the gateway
    // has read the gate).
    let unit = seats[0].to_owned();
    map_shows(&b, ev, None, &unit, "unavailable").await;
    let (_, event) = b.get(&format!("/api/v1/events/{ev}")).await;
    let floor = event["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "FLOOR")
        .unwrap();
    assert_eq!(floor["availability"]["sold"], 0, "{floor}");
}
