//! The virtual waiting room through the real HTTP API, on real NATS and PostgreSQL: durable,
//! idempotent joins; the pre-opening draw, reproducible from its recorded seed; FIFO after
//! the opening; the pacer's cap, pause and resume; sold out for everyone waiting; two gateways,
//! one order of positions; NATS killed mid-join.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::{collections::HashSet, time::Duration};

use boxoffice_nats::{
    BuyerId, OrderId,
    queue::{Control, Phase, WaitingRoom, drawn_order},
    seat::OrderRef,
};
use boxoffice_tests::{
    PrivateNats,
    buyer::Buyer,
    nats,
    platform::{Platform, PlatformOptions, spawn_gateway, wait_http},
};

async fn replica(p: &Platform) -> WaitingRoom {
    WaitingRoom::start(nats().await, p.topology.ns.clone())
        .await
        .unwrap()
}

async fn control(room: &WaitingRoom, p: &Platform) -> Option<Control> {
    room.latest_control(p.event).await.unwrap().1
}

/// Waits until `f` holds, polling every 100 ms.
async fn until<F: FnMut() -> Fut, Fut: std::future::Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut f: F,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn concurrent_duplicate_joins_give_one_place_and_every_buyer_a_distinct_one() {
    let p = Platform::start(PlatformOptions {
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let tabs = Buyer::new(&p.gateway_url).await;
    let joins = futures::future::join_all((0..20).map(|_| tabs.join(p.event))).await;
    let tickets: HashSet<String> = joins
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 202, "{body}");
            body["queue_ticket"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(tickets.len(), 1, "twenty tabs, one place: {tickets:?}");

    let mut buyers = Vec::new();
    for _ in 0..60 {
        buyers.push(Buyer::new(&p.gateway_url).await);
    }
    let joins = futures::future::join_all(buyers.iter().map(|b| b.join(p.event))).await;
    let mut positions: Vec<u64> = joins
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 202, "{body}");
            body["position"].as_u64().unwrap()
        })
        .collect();
    positions.push(1); // the tabs' buyer, first in line
    positions.sort_unstable();
    let first = tabs.poll(tickets.iter().next().unwrap()).await.1;
    assert_eq!(first["position"], 1, "the first joiner is first: {first}");
    assert_eq!(
        positions,
        (1..=61).collect::<Vec<_>>(),
        "positions are 1..=61 with no gap and no duplicate"
    );
    // Joining again (a refresh) returns the same entry.
    let again = buyers[7].join(p.event).await.1;
    assert_eq!(again["queue_ticket"], joins[7].1["queue_ticket"]);
}

#[tokio::test]
async fn the_pre_opening_draw_is_reproducible_from_its_seed_and_later_arrivals_queue_in_order() {
    let p = Platform::start(PlatformOptions {
        opens_in: Some(chrono::Duration::seconds(6)),
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let mut early = Vec::new();
    for _ in 0..30 {
        let b = Buyer::new(&p.gateway_url).await;
        let (status, body) = b.join(p.event).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["state"], "waiting");
        assert!(
            body["position"].is_null(),
            "no place before the draw: {body}"
        );
        assert!(body["poll_after_ms"].as_u64().unwrap() >= 1_000);
        early.push((b, body["queue_ticket"].as_str().unwrap().to_owned()));
    }
    let (probe, probe_ticket) = (&early[0].0, early[0].1.clone());
    until("the opening", Duration::from_secs(15), || async {
        !probe.poll(&probe_ticket).await.1["position"].is_null()
    })
    .await;
    let mut late = Vec::new();
    for _ in 0..5 {
        let b = Buyer::new(&p.gateway_url).await;
        let body = b.join(p.event).await.1;
        late.push(body["position"].as_u64().unwrap());
    }
    assert_eq!(
        late,
        vec![31, 32, 33, 34, 35],
        "first come, first served after the opening"
    );

    let room = replica(&p).await;
    let seed = control(&room, &p).await.unwrap().draw.unwrap().seed;
    let joined: Vec<BuyerId> = early.iter().map(|(b, _)| b.id.parse().unwrap()).collect();
    let drawn = drawn_order(&seed, &joined);
    assert_ne!(drawn, joined, "the draw shuffles");
    for (b, ticket) in &early {
        let pos = b.poll(ticket).await.1["position"].as_u64().unwrap();
        let me: BuyerId = b.id.parse().unwrap();
        let expected = drawn.iter().position(|x| *x == me).unwrap() as u64 + 1;
        assert_eq!(pos, expected, "anyone can recompute the draw from the seed");
    }
}

#[tokio::test]
async fn the_pacer_holds_the_cap_pauses_with_the_sale_and_resumes() {
    let p = Platform::start(PlatformOptions {
        admission_rate_per_s: Some(5),
        ..Default::default()
    })
    .await;
    let mut buyers = Vec::new();
    for _ in 0..80 {
        let b = Buyer::new(&p.gateway_url).await;
        assert_eq!(b.join(p.event).await.0, 202);
        buyers.push(b);
    }
    let room = replica(&p).await;
    let through = || async { control(&room, &p).await.map_or(0, |c| c.admitted_through) };
    let a = through().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let b = through().await;
    // 5/s for 4 s, plus at most 2 s of credit carried: never more than 30.
    assert!(b > a, "admission moves");
    assert!(b - a <= 30, "the cap holds: {a} -> {b}");
    let c = control(&room, &p).await.unwrap();
    assert!(c.rate_per_s <= 5.0, "rate {}", c.rate_per_s);

    sqlx::query!(
        "update events set status = 'paused' where event_id = $1",
        p.event.as_uuid(),
    )
    .execute(&p.db)
    .await
    .unwrap();
    until("the pause", Duration::from_secs(10), || async {
        control(&room, &p).await.unwrap().phase == Phase::Paused
    })
    .await;
    let paused_at = through().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(through().await, paused_at, "nothing admitted while paused");
    assert_eq!(control(&room, &p).await.unwrap().reason, "paused");

    sqlx::query!(
        "update events set status = 'on_sale' where event_id = $1",
        p.event.as_uuid(),
    )
    .execute(&p.db)
    .await
    .unwrap();
    until("the resume", Duration::from_secs(10), || async {
        through().await > paused_at
    })
    .await;
}

#[tokio::test]
async fn sold_out_reaches_every_waiting_entry_and_returning_seats_readmit_in_order() {
    let p = Platform::start(PlatformOptions {
        rows: 1,
        seats_per_row: 4,
        floor_capacity: None,
        admission_rate_per_s: Some(2),
        ..Default::default()
    })
    .await;
    let mut line = Vec::new();
    for _ in 0..12 {
        let b = Buyer::new(&p.gateway_url).await;
        let body = b.join(p.event).await.1;
        line.push((b, body["queue_ticket"].as_str().unwrap().to_owned()));
    }
    // Someone holds every seat (as orders through intake would).
    let taker = OrderRef {
        event: p.event,
        order: OrderId::new(),
        buyer: BuyerId::new(),
    };
    p.seats
        .hold(&taker, &p.all_seats(), Duration::from_secs(600))
        .await
        .unwrap();
    until(
        "sold out for everyone waiting",
        Duration::from_secs(10),
        || async {
            let mut all = true;
            for (b, t) in &line {
                let s = b.poll(t).await.1;
                all &= s["state"] == "sold_out" || s["state"] == "admitted";
            }
            all
        },
    )
    .await;
    let room = replica(&p).await;
    let frozen = control(&room, &p).await.unwrap();
    assert_eq!(frozen.phase, Phase::SoldOut);
    let waiting_then = line.len() as u64 - frozen.admitted_through;
    assert!(waiting_then > 0, "someone is still in line");

    p.seats.release(&taker, &p.all_seats()).await.unwrap();
    until("admission resumes", Duration::from_secs(10), || async {
        control(&room, &p).await.unwrap().admitted_through > frozen.admitted_through
    })
    .await;
    // Readmission follows the line: every admitted entry is ahead of every waiting one.
    let mut states = Vec::new();
    for (b, t) in &line {
        let s = b.poll(t).await.1;
        states.push((
            s["position"].as_u64().unwrap(),
            s["state"].as_str().unwrap().to_owned(),
        ));
    }
    states.sort();
    let first_waiting = states
        .iter()
        .position(|(_, s)| s != "admitted")
        .unwrap_or(states.len());
    assert!(
        states[first_waiting..].iter().all(|(_, s)| s == "waiting"),
        "in order: {states:?}"
    );
}

#[tokio::test]
async fn two_gateways_serve_one_queue_with_one_order_of_positions() {
    let p = Platform::start(PlatformOptions {
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let stop = tokio_util::sync::CancellationToken::new();
    let second = p.start_gateway(&[], stop.clone()).await;
    let gateways = [p.gateway_url.clone(), second.clone()];
    let mut buyers = Vec::new();
    for i in 0..60 {
        buyers.push(Buyer::new(&gateways[i % 2]).await);
    }
    let joins = futures::future::join_all(buyers.iter().map(|b| b.join(p.event))).await;
    let mut positions = Vec::new();
    for (i, (b, (status, joined))) in buyers.iter().zip(&joins).enumerate() {
        assert_eq!(*status, 202, "{joined}");
        let ticket = joined["queue_ticket"].as_str().unwrap();
        // Asked through the other gateway, the answer is the same place.
        let other = b.on(&gateways[(i + 1) % 2]).poll(ticket).await.1;
        assert_eq!(other["position"], joined["position"], "{other} vs {joined}");
        // And joining again through the other gateway is the same entry.
        let rejoin = b.on(&gateways[(i + 1) % 2]).join(p.event).await.1;
        assert_eq!(rejoin["queue_ticket"], joined["queue_ticket"]);
        positions.push(joined["position"].as_u64().unwrap());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=60).collect::<Vec<_>>());
    // Twins at the same instant on both gateways (two tabs behind a load balancer): one place.
    for _ in 0..20 {
        let b = Buyer::new(&gateways[0]).await;
        let twin = b.on(&gateways[1]);
        let (x, y) = tokio::join!(b.join(p.event), twin.join(p.event));
        assert_eq!((x.0, y.0), (202, 202));
        assert_eq!(
            x.1["queue_ticket"], y.1["queue_ticket"],
            "{} vs {}",
            x.1, y.1
        );
        assert_eq!(x.1["position"], y.1["position"]);
    }
    stop.cancel();
}

#[tokio::test]
async fn an_admission_that_lapses_is_refused_and_the_buyer_can_rejoin() {
    let p = Platform::start(PlatformOptions {
        gateway_args: vec!["--admission-ttl-s".into(), "2".into()],
        ..Default::default()
    })
    .await;
    let b = Buyer::new(&p.gateway_url).await;
    let token = b.admitted(p.event, Duration::from_secs(10)).await;
    let ticket = b.join(p.event).await.1["queue_ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(b.poll(&ticket).await.1["state"], "expired");
    let (status, body) = b
        .order(
            p.event,
            &token,
            "k1",
            &serde_json::json!({ "seats": ["A:A-1"] }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("admission_expired"))
    );
    let (status, again) = b.join(p.event).await;
    assert_eq!(status, 202);
    assert_ne!(
        again["queue_ticket"].as_str().unwrap(),
        ticket,
        "a new place"
    );
    assert_eq!(b.poll(&ticket).await.0, 410, "the old ticket is superseded");
    b.admitted(p.event, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn nats_killed_mid_join_gives_503s_and_every_acknowledged_join_survives() {
    let mut server = PrivateNats::start();
    let (db, db_url) = boxoffice_tests::fresh_database_with_url().await;
    let opts = PlatformOptions {
        admission_rate_per_s: Some(1),
        ..Default::default()
    };
    let event = boxoffice_tests::platform::create_event(&db, &opts).await;
    let prefix = boxoffice_nats::Namespace::for_test();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    spawn_gateway(
        listener,
        &server.url(),
        prefix.prefix(),
        &db_url,
        // A new buyer every few milliseconds from one address: a load test, not a crowd.
        &["--sessions-per-address-per-minute".into(), "0".into()],
        std::future::pending(),
    );
    wait_http(&base).await;

    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let joiner = {
        let (acknowledged, statuses, stop, base) = (
            acknowledged.clone(),
            statuses.clone(),
            stop.clone(),
            base.clone(),
        );
        tokio::spawn(async move {
            for _ in 0..100_000 {
                if stop.is_cancelled() {
                    break;
                }
                let b = Buyer::new(&base).await;
                let (status, body) = b.join(event).await;
                statuses.lock().unwrap().push(status);
                if status == 202 {
                    let ticket = body["queue_ticket"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push((b, ticket));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let count =
        |v: &std::sync::Arc<std::sync::Mutex<Vec<(Buyer, String)>>>| v.lock().unwrap().len();
    until("joins before the cut", Duration::from_secs(20), || async {
        count(&acknowledged) >= 30
    })
    .await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = count(&acknowledged);
    server.restart();
    until(
        "joins after the restart",
        Duration::from_secs(30),
        || async { count(&acknowledged) >= during + 30 },
    )
    .await;
    stop.cancel();
    joiner.await.unwrap();

    let seen = statuses.lock().unwrap().clone();
    assert!(seen.contains(&503), "NATS down answers 503: {seen:?}");
    assert!(
        seen.iter().all(|s| *s == 202 || *s == 503),
        "only 202 or 503: {seen:?}"
    );
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let mut positions = HashSet::new();
    for (b, ticket) in &acknowledged {
        let (status, body) = b.poll(ticket).await;
        assert_eq!(
            status, 200,
            "every acknowledged join is still there: {body}"
        );
        assert!(
            positions.insert(body["position"].as_u64().unwrap()),
            "one place each"
        );
    }
}

#[tokio::test]
async fn overload_is_shed_with_429_and_retry_after_and_a_shed_join_writes_nothing() {
    let p = Platform::start(PlatformOptions {
        gateway_args: vec!["--max-in-flight".into(), "2".into()],
        admission_rate_per_s: Some(1),
        ..Default::default()
    })
    .await;
    let mut buyers = Vec::new();
    for _ in 0..100 {
        buyers.push(Buyer::new(&p.gateway_url).await);
    }
    let answers = futures::future::join_all(buyers.iter().map(|b| async {
        let r = b
            .http
            .post(format!("{}/api/v1/events/{}/queue", b.base, p.event))
            .bearer_auth(&b.token)
            .send()
            .await
            .unwrap();
        let retry = r.headers().get("retry-after").cloned();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        (status, retry, body)
    }))
    .await;
    let shed: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    let admitted = answers.iter().filter(|(s, _, _)| *s == 202).count();
    assert!(
        !shed.is_empty(),
        "a hundred at once past a limit of two sheds some"
    );
    assert_eq!(
        admitted + shed.len(),
        answers.len(),
        "nothing but 202 or 429"
    );
    for (_, retry, body) in &shed {
        assert!(retry.is_some(), "429 carries Retry-After");
        assert_eq!(body["error"]["code"], "overloaded");
    }
    let room = replica(&p).await;
    let entries = room.read(p.event, |b| b.map_or(0, |b| b.summary().entries));
    assert_eq!(
        entries as usize, admitted,
        "a shed join left no entry behind"
    );
}
