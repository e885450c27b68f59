//! Check-in at the door against the real platform: a ticket bought and paid through the buyer
//! API is admitted once, even when sixteen gates scan it at the same instant; refunded, forged
//! and unknown tickets are refused with why; door staff reach the scanner and nothing else,
//! and only their organizer's tickets; the event's live stats count who is in.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use boxoffice_tests::{
    admin::{AdminClient, account, owner_of},
    door::{door_account, paid_ticket, scan},
    platform::{Platform, PlatformOptions},
};
use boxoffice_workflows::{
    order::tickets::{DEV_SEED_HEX, ScanCode, TicketSigner},
    store::accounts::Role,
};
use serde_json::json;

/// The event's owner and a door account of its own, both signed in.
async fn owner_and_door(p: &Platform) -> (AdminClient, AdminClient) {
    let (email, pw) = owner_of(&p.db, p.event.as_uuid()).await;
    let owner = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (email, pw) = door_account(&owner).await;
    let door = AdminClient::login(&p.gateway_url, &email, &pw).await;
    (owner, door)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_admitted_once_even_when_sixteen_gates_scan_it_at_once() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let (owner, door) = owner_and_door(&p).await;

    // Admitted, then refused with when and where.
    let first = paid_ticket(&p, "A:A-3").await;
    let (s, body) = scan(&door, &first.scan, "North 1").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"], "admitted");
    assert_eq!(body["ticket"]["event"], p.event.to_string());
    assert_eq!(body["ticket"]["section"], "A");
    assert_eq!(body["ticket"]["label"], "A-3");
    assert_eq!(body["ticket"]["order_id"], first.order_id);
    assert_eq!(body["ticket"]["event_name"], "Test Night");
    let (s, again) = scan(&door, &first.scan, "South 2").await;
    assert_eq!(s, 409, "{again}");
    assert_eq!(again["error"]["code"], "ticket_already_used");
    assert_eq!(
        again["gate"], "North 1",
        "where it was used, not where it is now"
    );
    assert!(again["used_at"].is_string(), "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("North 1")
    );

    // Sixteen gates at once: one admits, fifteen are told the first one's time and gate.
    let second = paid_ticket(&p, "A:A-4").await;
    let scans: Vec<_> = (0..16)
        .map(|i| {
            let (door, text) = (door.clone(), second.scan.clone());
            tokio::spawn(async move {
                let gate = format!("Gate {i}");
                (gate.clone(), scan(&door, &text, &gate).await)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for s in scans {
        answers.push(s.await.unwrap());
    }
    let admitted: Vec<_> = answers.iter().filter(|(_, (s, _))| *s == 200).collect();
    assert_eq!(admitted.len(), 1, "exactly one admits: {answers:?}");
    let winner = &admitted[0].0;
    let refused: Vec<_> = answers.iter().filter(|(_, (s, _))| *s == 409).collect();
    assert_eq!(refused.len(), 15, "{answers:?}");
    let used_at = &refused[0].1.1["used_at"];
    for (_, (_, body)) in &refused {
        assert_eq!(body["error"]["code"], "ticket_already_used", "{body}");
        assert_eq!(&body["gate"], winner, "{body}");
        assert_eq!(&body["used_at"], used_at, "one time for all: {body}");
    }

    // A damaged QR code: the code typed by hand, in lower case with a dash.
    let third = paid_ticket(&p, "A:A-5").await;
    let typed = format!("{}-{}", &third.code[..16].to_lowercase(), &third.code[16..]);
    let (s, body) = scan(&door, &typed, "North 1").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["ticket"]["label"], "A-5");

    // The event's stats count them, per section and in total.
    let (s, stats) = owner
        .get(&format!("/admin/api/v1/events/{}/stats", p.event))
        .await;
    assert_eq!(s, 200, "{stats}");
    assert_eq!(stats["checked_in_total"], 3, "{stats}");
    assert_eq!(stats["checked_in"], json!({ "A": 3 }), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunded_forged_unknown_and_foreign_tickets_are_refused_and_door_staff_reach_nothing_else()
{
    let p = Platform::start(PlatformOptions {
        refund_window_s: 600,
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let (owner, door) = owner_and_door(&p).await;

    // Refunded: void, and said so.
    let refunded = paid_ticket(&p, "A:A-1").await;
    let (s, body) = owner
        .post(
            &format!("/admin/api/v1/orders/{}/refund", refunded.order_id),
            &json!({ "reason": "cannot come" }),
        )
        .await;
    assert!(s == 200 || s == 202, "refund: {s} {body}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, o) = owner
            .get(&format!("/admin/api/v1/orders/{}", refunded.order_id))
            .await;
        if o["state"] == "refunded" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not refunded: {o}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (s, body) = scan(&door, &refunded.scan, "North 1").await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["code"], "ticket_void");
    assert_eq!(body["reason"], "refunded");

    // Forged or altered: 422; junk: 422; a well-formed code nobody has: 404.
    let good = paid_ticket(&p, "A:A-2").await;
    let moved = good.scan.replace("A:A-2", "A:A-9");
    let (s, body) = scan(&door, &moved, "North 1").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("ticket_signature_invalid"))
    );
    let other_issuer = {
        let mut code: ScanCode = good.scan.parse().unwrap();
        let forger = TicketSigner::from_seed_hex(&"42".repeat(32)).unwrap();
        code.signature = forger.issue(p.event, &code.seat).signature;
        code.to_string()
    };
    let (s, body) = scan(&door, &other_issuer, "North 1").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("ticket_signature_invalid"))
    );
    for junk in ["", "hello", "bxt1.not.a.ticket.at-all", &"F".repeat(700)] {
        let (s, body) = scan(&door, junk, "North 1").await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (422, Some("ticket_code_invalid")),
            "{junk:?}: {body}"
        );
    }
    let unknown = {
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        let seat = "A:B-1".parse().unwrap();
        let t = signer.issue(p.event, &seat);
        ScanCode {
            event: p.event,
            seat,
            code: t.code,
            signature: t.signature,
        }
    };
    let (s, body) = scan(&door, &unknown.to_string(), "North 1").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("ticket_not_found"))
    );
    let (s, body) = scan(&door, &unknown.code, "North 1").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("ticket_not_found"))
    );
    // Bad bodies are 4xx, never 500; and nothing was marked.
    for bad in [
        json!({ "scan": good.scan, "gate": "" }),
        json!({ "scan": good.scan }),
        json!({ "scan": 5, "gate": "North 1" }),
        json!({ "scan": good.scan, "gate": "a\u{0}b" }),
        json!({ "scan": good.scan, "gate": "x".repeat(101) }),
    ] {
        let (s, body) = door.post("/admin/api/v1/checkin", &bad).await;
        assert!((400..500).contains(&s), "{bad}: {s} {body}");
        assert!(body["error"]["code"].is_string(), "{bad}: {body}");
    }

    // Door staff: every other admin API is 403, and every other page says so.
    let event = p.event.to_string();
    for path in [
        "/admin/api/v1/events".to_owned(),
        format!("/admin/api/v1/events/{event}"),
        format!("/admin/api/v1/events/{event}/stats"),
        format!("/admin/api/v1/events/{event}/attendees.csv"),
        format!("/admin/api/v1/orders?event={event}"),
        format!("/admin/api/v1/orders/{}", good.order_id),
    ] {
        let (s, body) = door.get(&path).await;
        assert_eq!(s, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "role_forbidden", "{path}: {body}");
    }
    for (path, body) in [
        (
            format!("/admin/api/v1/orders/{}/refund", good.order_id),
            json!({ "reason": "door staff refund" }),
        ),
        (format!("/admin/api/v1/events/{event}/pause"), json!({})),
        (
            "/admin/api/v1/door-accounts".to_owned(),
            json!({ "email": "x@door.test", "display_name": "X", "password": "0123456789ab" }),
        ),
    ] {
        let (s, answer) = door.post(&path, &body).await;
        assert_eq!(s, 403, "{path}: {answer}");
    }
    for page in [
        "/admin/",
        &format!("/admin/events/{event}"),
        "/admin/orders",
    ] {
        let (s, html) = door.text(page).await;
        assert_eq!(s, 403, "{page}");
        assert!(html.contains("/admin/checkin"), "{page}: {html}");
    }
    let (s, html) = door.text("/admin/checkin").await;
    assert_eq!(s, 200);
    assert!(html.contains("aria-live"), "{html}");
    let (s, me) = door.get("/admin/api/v1/me").await;
    assert_eq!((s, me["account"]["role"].as_str()), (200, Some("door")));

    // Another organizer's door staff cannot check this event's tickets in; an operator's can.
    let (email, pw) = account(&p.db, Role::Organizer).await;
    let rival = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (email, pw) = door_account(&rival).await;
    let rival_door = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (s, body) = scan(&rival_door, &good.scan, "Side door").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("ticket_not_yours")),
        "{body}"
    );
    let (s, body) = scan(&rival, &good.scan, "Side door").await;
    assert_eq!(s, 403, "nor the rival organizer itself: {body}");
    let (email, pw) = account(&p.db, Role::Operator).await;
    let operator = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (email, pw) = door_account(&operator).await;
    let operators_door = AdminClient::login(&p.gateway_url, &email, &pw).await;
    let (s, body) = scan(&operators_door, &good.scan, "Main").await;
    assert_eq!(
        s, 200,
        "an operator's door account checks every event in: {body}"
    );

    // The public key gates verify with, offline.
    let key: serde_json::Value =
        reqwest::get(format!("{}/api/v1/tickets/public-key", p.gateway_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(key["algorithm"], "ed25519");
    assert_eq!(key["format"], "bxt1");
    assert!(
        good.scan
            .parse::<ScanCode>()
            .unwrap()
            .verify(key["public_key"].as_str().unwrap())
    );
}
