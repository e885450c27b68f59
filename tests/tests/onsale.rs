//! The on-sale workflow (ADR 0013): a scheduled sale opens at `opens_at` and closes at
//! `closes_at` by durable timers, with the worker that scheduled it gone and another one in
//! its place, and loads exactly the sellable seats (a kill stays out of the seat store); a
//! per-buyer limit changed during the sale reaches the seat store.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_nats::{EventId, SeatId, seat::SeatState};
use boxoffice_tests::{
    admin::{AdminClient, account},
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::store::accounts::Role;
use chrono::{DateTime, Utc};
use serde_json::json;

/// Polls the event's status every 100 ms until it is `want`; returns when it was first seen.
async fn status_reaches(
    a: &AdminClient,
    event: &str,
    want: &str,
    within: Duration,
) -> DateTime<Utc> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (s, ev) = a.get(&format!("/admin/api/v1/events/{event}")).await;
        assert_eq!(s, 200, "{ev}");
        if ev["status"] == want {
            return Utc::now();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status {want} not within {within:?}: {ev}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(a: &AdminClient, event: &str) -> String {
    a.get(&format!("/admin/api/v1/events/{event}")).await.1["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_sale_opens_and_closes_on_time_across_worker_restarts() {
    let p = Platform::start(PlatformOptions::default()).await;
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let a = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let event = a.draft_event("Restart Night").await;
    let (s, body) = a
        .post(
            &format!("/admin/api/v1/events/{event}/allocations"),
            &json!({ "kind": "kill", "section": "A", "seats": ["A-1"], "note": "desk" }),
        )
        .await;
    assert_eq!(s, 201, "{body}");

    // The worker that runs the schedule dies before the opening; another takes its place.
    let w1 = p.start_worker();
    let opens_at = Utc::now() + chrono::Duration::seconds(12);
    let closes_at = opens_at + chrono::Duration::seconds(12);
    let (s, body) = a
        .post(
            &format!("/admin/api/v1/events/{event}/schedule"),
            &json!({ "opens_at": opens_at, "closes_at": closes_at }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(status(&a, &event).await, "scheduled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    w1.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let w2 = p.start_worker();

    // Not a moment early, and on time.
    let opened = status_reaches(&a, &event, "on_sale", Duration::from_secs(60)).await;
    assert!(opened >= opens_at, "opened at {opened}, before {opens_at}");
    let late = (opened - opens_at).num_milliseconds();
    assert!(late < 5_000, "opened {late} ms after opens_at");

    // What opened is the sellable inventory: the kill is not in the seat store, the rest free.
    let ev = EventId::from_uuid(event.parse().unwrap());
    let seat = |s: &str| s.parse::<SeatId>().unwrap();
    assert!(
        p.seats.seat(ev, &seat("A:A-1")).await.unwrap().is_none(),
        "the kill is never loaded"
    );
    for s in ["A:A-2", "A:B-5"] {
        let view = p.seats.seat(ev, &seat(s)).await.unwrap().expect("loaded");
        assert_eq!(view.state, SeatState::Free, "{s}");
    }

    // The worker dies mid-sale; its replacement closes the sale at closes_at.
    w2.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _w3 = p.start_worker();
    let closed = status_reaches(&a, &event, "closed", Duration::from_secs(60)).await;
    assert!(
        closed >= closes_at,
        "closed at {closed}, before {closes_at}"
    );
    // A killed worker's next task waits out its sticky queue (2 s, `--sticky-timeout-ms`)
    // before another worker may take it.
    let late = (closed - closes_at).num_milliseconds();
    assert!(late < 5_000, "closed {late} ms after closes_at");
    assert_eq!(status(&a, &event).await, "closed", "and it stays closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_close_from_the_organizer_act_through_the_workflow() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let a = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let event = a.draft_event("Control Night").await;
    let opens_at = Utc::now() + chrono::Duration::seconds(3);
    let (s, body) = a
        .post(
            &format!("/admin/api/v1/events/{event}/schedule"),
            &json!({ "opens_at": opens_at }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    status_reaches(&a, &event, "on_sale", Duration::from_secs(60)).await;

    // The per-buyer limit changed during the sale reaches the seat store's ledger, which every
    // process re-reads within its `event_meta_ttl`.
    let ev = EventId::from_uuid(event.parse().unwrap());
    let limit = p.seats.event_meta(ev).await.unwrap().max_per_buyer;
    let new_limit = if limit == 3 { 2 } else { 3 };
    let (s, body) = a
        .patch(
            &format!("/admin/api/v1/events/{event}"),
            &json!({ "max_tickets_per_buyer": new_limit }),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while p.seats.event_meta(ev).await.unwrap().max_per_buyer != new_limit {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the seat store still enforces {limit}, not {new_limit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (s, body) = a
        .post(&format!("/admin/api/v1/events/{event}/pause"), &json!({}))
        .await;
    assert!(s < 300, "{s} {body}");
    status_reaches(&a, &event, "paused", Duration::from_secs(30)).await;
    // A paused sale is not re-scheduled.
    let (s, body) = a
        .post(
            &format!("/admin/api/v1/events/{event}/schedule"),
            &json!({ "opens_at": Utc::now() + chrono::Duration::hours(1) }),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("sale_started")),
        "{body}"
    );

    let (s, body) = a
        .post(&format!("/admin/api/v1/events/{event}/resume"), &json!({}))
        .await;
    assert!(s < 300, "{s} {body}");
    status_reaches(&a, &event, "on_sale", Duration::from_secs(30)).await;
    let (s, body) = a
        .post(&format!("/admin/api/v1/events/{event}/close"), &json!({}))
        .await;
    assert!(s < 300, "{s} {body}");
    status_reaches(&a, &event, "closed", Duration::from_secs(30)).await;
    // The workflow ended with the sale: its result says why.
    let desc = p
        .client
        .get_workflow_handle::<boxoffice_workflows::onsale::OnSaleWorkflow>(format!(
            "onsale-{event}"
        ))
        .get_result(Default::default())
        .await
        .expect("the on-sale workflow ended");
    assert_eq!(desc.reason, "closed_by_organizer");
}
