//! The order, end to end on the real servers: intake takes the hold, the workflow runs
//! hold → pay → confirm or release → issue against the payments sandbox, and the gateway turns
//! the sandbox's webhooks into signals. Each test checks seats (NATS KV), orders, payments and
//! tickets (PostgreSQL) and the provider's own ledger, not just the state the buyer reads.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{collections::HashMap, time::Duration};

use boxoffice_nats::{
    BuyerId, OrderId, SeatId,
    seat::{OrderRef, SeatState, SectionInventory, SectionUnits},
};
use boxoffice_tests::platform::{Platform, PlatformOptions};
use boxoffice_workflows::{
    domain::{OrderState, OrderStatus, PurchaseIntent, Quantity, SeatRequest},
    order::{
        OrderInput, OrderWorkflow, RefundRequest, TicketSigner, intake::take_hold, tickets,
        workflow_id,
    },
    payments::{PaymentProvider, PaymentStatus},
    store,
};
use temporalio_client::{WorkflowSignalOptions, WorkflowStartOptions};

const MINUTE: Duration = Duration::from_secs(60);

/// Submits and waits until the order awaits payment; returns its status.
async fn open(p: &Platform, intent: &PurchaseIntent) -> OrderStatus {
    p.submit(intent).await;
    p.wait_state(intent.order_id, OrderState::AwaitingPayment, MINUTE)
        .await
}

fn payment_id(s: &OrderStatus) -> String {
    s.payment.as_ref().expect("payment").id.clone()
}

async fn seat_state(p: &Platform, seat: &SeatId) -> SeatState {
    p.seats.seat(p.event, seat).await.unwrap().unwrap().state
}

async fn assert_free(p: &Platform, seats: &[SeatId]) {
    for s in seats {
        assert_eq!(
            seat_state(p, s).await,
            SeatState::Free,
            "{s} is back in the pool"
        );
    }
}

async fn pg_state(p: &Platform, order: OrderId) -> String {
    sqlx::query_scalar!(
        "select state from orders where order_id = $1",
        order.as_uuid()
    )
    .fetch_one(&p.db)
    .await
    .unwrap()
}

async fn transitions(p: &Platform, order: OrderId) -> Vec<String> {
    sqlx::query_scalar!(
        "select to_state from order_transitions where order_id = $1 order by seq",
        order.as_uuid(),
    )
    .fetch_all(&p.db)
    .await
    .unwrap()
}

async fn issued_tickets(p: &Platform, order: OrderId) -> i64 {
    sqlx::query_scalar!(
        r#"select count(*) as "issued!" from tickets where order_id = $1 and state = 'issued'"#,
        order.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap()
}

/// `BOXOFFICE_RECORD_HISTORIES=1 ./ops/test.sh -p boxoffice-tests --test orders` refreshes the
/// fixtures the replay test (workflows/tests/replay.rs) runs every time.
async fn record_history(p: &Platform, order: OrderId, name: &str) {
    if std::env::var_os("BOXOFFICE_RECORD_HISTORIES").is_none() {
        return;
    }
    let json = p
        .workflow(order)
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows/tests/histories");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("order-{name}.json")), json).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_is_confirmed_captured_and_issued_with_tickets_a_scanner_can_verify() {
    let p = Platform::start(PlatformOptions::default()).await;
    let w = p.start_worker();
    let seats = vec![p.seat(1), p.seat(2)];
    let intent = p.intent(seats.clone(), 60);
    let open = open(&p, &intent).await;
    assert_eq!(open.amount_cents, Some(9_000));
    assert!(open.hold_expires_at.is_some());
    assert!(
        open.payment.as_ref().unwrap().expires_at < open.hold_expires_at.unwrap(),
        "the checkout closes before the hold lapses"
    );

    assert_eq!(p.pay(&payment_id(&open), "succeed").await, 200);
    let done = p
        .wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;

    // Tickets: one per seat, each verifiable offline with the issuer's public key only.
    let pk = TicketSigner::from_seed_hex(tickets::DEV_SEED_HEX)
        .unwrap()
        .public_key_hex();
    assert_eq!(done.tickets.len(), 2);
    for t in &done.tickets {
        assert!(tickets::verify(
            &pk,
            p.event,
            &t.seat,
            &t.code,
            &t.signature
        ));
    }
    assert_eq!(issued_tickets(&p, intent.order_id).await, 2);
    // Two workflow tasks (the start, the payment): the payment wait's timer was cancelled
    // when the verdict came, so it does not fire later into the open workflow.
    let run = boxoffice_workflows::order::OrderClient::new(p.client.clone())
        .run(intent.order_id, MINUTE)
        .await
        .unwrap();
    let kinds: Vec<&str> = run.history.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"TIMER_CANCELED"), "{kinds:?}");
    assert!(!kinds.contains(&"TIMER_FIRED"), "{kinds:?}");
    for s in &seats {
        assert!(
            matches!(seat_state(&p, s).await, SeatState::Sold { order, .. } if order == intent.order_id)
        );
    }
    // The money: captured in full at the provider, and recorded so.
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.status, PaymentStatus::Captured);
    assert_eq!(at_provider.amount_captured, 9_000);
    let payment = sqlx::query!(
        "select state, captured_cents from payments where provider_intent_id = $1",
        payment_id(&open),
    )
    .fetch_one(&p.db)
    .await
    .unwrap();
    assert_eq!(
        (payment.state.as_str(), payment.captured_cents),
        ("captured", 9_000)
    );
    assert_eq!(
        transitions(&p, intent.order_id).await,
        [
            "held",
            "awaiting_payment",
            "authorized",
            "confirmed",
            "issued"
        ]
    );
    // The worker's metrics saw it: orders by state, time in state, activity and payment latency.
    let metrics = reqwest::get(format!("{}/metrics", w.admin_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"boxoffice_orders_total{state="issued"}"#,
        r#"boxoffice_order_state_seconds_count{state="awaiting_payment"}"#,
        r#"boxoffice_activity_seconds_count{activity="issue_tickets",outcome="ok"}"#,
        r#"boxoffice_payment_call_seconds_count{call="capture"}"#,
        r#"boxoffice_intake_hold_seconds_count"#,
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
    record_history(&p, intent.order_id, "issued").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_fails_the_order_and_releases_its_seats() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seats = vec![p.seat(3)];
    let intent = p.intent(seats.clone(), 60);
    let open = open(&p, &intent).await;
    assert_eq!(p.pay(&payment_id(&open), "decline").await, 200);
    let done = p
        .wait_state(intent.order_id, OrderState::PaymentFailed, MINUTE)
        .await;
    assert_eq!(done.reason.as_deref(), Some("declined"));
    assert_free(&p, &seats).await;
    assert_eq!(pg_state(&p, intent.order_id).await, "payment_failed");
    assert_eq!(issued_tickets(&p, intent.order_id).await, 0);
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.amount_captured, 0);
    record_history(&p, intent.order_id, "payment_failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_order_expires_when_its_checkout_closes_and_gives_its_seats_back() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seats = vec![p.seat(4), p.seat(5)];
    let intent = p.intent(seats.clone(), 20);
    let open = open(&p, &intent).await;
    let done = p
        .wait_state(intent.order_id, OrderState::Expired, MINUTE)
        .await;
    assert_eq!(done.reason.as_deref(), Some("payment_timeout"));
    assert!(
        chrono::Utc::now().timestamp_millis() < open.hold_expires_at.unwrap(),
        "released by the workflow before the hold would have lapsed by itself"
    );
    assert_free(&p, &seats).await;
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.status, PaymentStatus::Canceled);
    let late = p.pay(&payment_id(&open), "succeed").await;
    assert!(late == 409 || late == 410, "the checkout is closed: {late}");
    record_history(&p, intent.order_id, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_cancel_voids_the_payment_and_releases_the_seats() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seats = vec![p.seat(6)];
    let intent = p.intent(seats.clone(), 60);
    let open = open(&p, &intent).await;
    p.workflow(intent.order_id)
        .signal(OrderWorkflow::cancel, (), WorkflowSignalOptions::default())
        .await
        .unwrap();
    p.wait_state(intent.order_id, OrderState::Canceled, MINUTE)
        .await;
    assert_free(&p, &seats).await;
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.status, PaymentStatus::Canceled);
    assert_eq!(
        p.pay(&payment_id(&open), "succeed").await,
        409,
        "a voided payment cannot be paid"
    );
    record_history(&p, intent.order_id, "canceled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_callback_is_recovered_by_the_active_query() {
    let p = Platform::start(PlatformOptions {
        sandbox_args: vec!["--webhook-drop-rate".into(), "1".into()],
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let intent = p.intent(vec![p.seat(7)], 30);
    let open = open(&p, &intent).await;
    assert_eq!(p.pay(&payment_id(&open), "succeed").await, 200);
    let done = p
        .wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;
    assert_eq!(done.tickets.len(), 1);
    let callbacks = sqlx::query_scalar!(r#"select count(*) as "callbacks!" from webhook_inbox"#)
        .fetch_one(&p.db)
        .await
        .unwrap();
    assert_eq!(
        callbacks, 0,
        "no callback ever arrived: the workflow asked the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_callbacks_move_the_order_once_and_capture_once() {
    let p = Platform::start(PlatformOptions {
        sandbox_args: vec!["--webhook-duplicate-rate".into(), "1".into()],
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let intent = p.intent(vec![p.seat(8), p.seat(9)], 60);
    let open = open(&p, &intent).await;
    assert_eq!(p.pay(&payment_id(&open), "succeed").await, 200);
    p.wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;
    // Let the duplicates of the later events (captured) land too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        transitions(&p, intent.order_id).await,
        [
            "held",
            "awaiting_payment",
            "authorized",
            "confirmed",
            "issued"
        ]
    );
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.amount_captured, 9_000, "captured once, in full");
    assert_eq!(issued_tickets(&p, intent.order_id).await, 2);
    let inbox = sqlx::query!(
        r#"select count(*) as "rows!", count(distinct provider_event_id) as "distinct!"
           from webhook_inbox where order_id = $1"#,
        intent.order_id.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap();
    let (rows, distinct) = (inbox.rows, inbox.distinct);
    assert!(rows >= 1);
    assert_eq!(rows, distinct, "each provider event recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_refund_returns_the_money_voids_the_tickets_and_frees_the_seats() {
    let p = Platform::start(PlatformOptions {
        refund_window_s: 600,
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let seats = vec![p.seat(10)];
    let intent = p.intent(seats.clone(), 60);
    let open = open(&p, &intent).await;
    p.pay(&payment_id(&open), "succeed").await;
    p.wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;
    p.workflow(intent.order_id)
        .signal(
            OrderWorkflow::refund,
            RefundRequest {
                reason: "show moved".into(),
            },
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    let done = p
        .wait_state(intent.order_id, OrderState::Refunded, MINUTE)
        .await;
    assert!(done.tickets.is_empty());
    assert_eq!(issued_tickets(&p, intent.order_id).await, 0);
    assert_free(&p, &seats).await;
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(at_provider.status, PaymentStatus::Refunded);
    assert_eq!(at_provider.amount_refunded, 4_500);
    record_history(&p, intent.order_id, "refunded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_order_is_replaced_and_the_order_completes() {
    let p = Platform::start(PlatformOptions::default()).await;
    let w1 = p.start_worker();
    let intent = p.intent(vec![p.seat(11)], 90);
    let open = open(&p, &intent).await;
    w1.kill();
    // Paid while no worker runs: the callback still reaches the workflow (as a signal in its
    // history), and the next worker carries on from there.
    assert_eq!(p.pay(&payment_id(&open), "succeed").await, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _w2 = p.start_worker();
    let done = p
        .wait_state(intent.order_id, OrderState::Issued, 2 * MINUTE)
        .await;
    assert_eq!(done.tickets.len(), 1);
    assert_eq!(issued_tickets(&p, intent.order_id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorisation_that_arrives_after_the_hold_lapsed_is_voided_and_sells_nothing() {
    let p = Platform::start(PlatformOptions::default()).await;
    let w1 = p.start_worker();
    let seat = p.seat(12);
    let intent = p.intent(vec![seat.clone()], 20);
    let open = open(&p, &intent).await;
    w1.kill();
    assert_eq!(p.pay(&payment_id(&open), "succeed").await, 200);
    // Every worker is down when the hold lapses; the seat frees itself and another buyer
    // takes it.
    let lapse = open.hold_expires_at.unwrap();
    let wait = (lapse - chrono::Utc::now().timestamp_millis()).max(0) as u64 + 500;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let rival = OrderRef {
        event: p.event,
        order: OrderId::new(),
        buyer: boxoffice_nats::BuyerId::new(),
    };
    p.seats
        .hold(
            &rival,
            std::slice::from_ref(&seat),
            Duration::from_secs(300),
        )
        .await
        .expect("a lapsed hold is free for the next buyer");

    let _w2 = p.start_worker();
    let done = p
        .wait_state(intent.order_id, OrderState::Expired, 2 * MINUTE)
        .await;
    assert_eq!(done.reason.as_deref(), Some("hold_lapsed"));
    let at_provider = p.provider.retrieve(&payment_id(&open)).await.unwrap();
    assert_eq!(
        at_provider.status,
        PaymentStatus::Canceled,
        "the authorisation is voided"
    );
    assert_eq!(at_provider.amount_captured, 0, "no money taken");
    assert!(
        matches!(seat_state(&p, &seat).await, SeatState::Held { order, .. } if order == rival.order),
        "the rival still holds the seat"
    );
    assert_eq!(issued_tickets(&p, intent.order_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_ticket_issuer_down_a_paid_order_stays_confirmed_until_it_is_back() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let intent = p.intent(vec![p.seat(13), p.seat(14)], 60);
    let open = open(&p, &intent).await;
    // The issuer's store goes away: every insert into tickets fails. (Runtime-checked: DDL
    // that breaks the schema on purpose, which the query macros cannot describe.)
    sqlx::query("alter table tickets rename to tickets_offline")
        .execute(&p.db)
        .await
        .unwrap();
    p.pay(&payment_id(&open), "succeed").await;
    p.wait_state(intent.order_id, OrderState::Confirmed, MINUTE)
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let still = p.status(intent.order_id).await.unwrap();
    assert_eq!(
        still.state,
        OrderState::Confirmed,
        "never reported issued early"
    );
    assert_eq!(pg_state(&p, intent.order_id).await, "confirmed");
    sqlx::query("alter table tickets_offline rename to tickets")
        .execute(&p.db)
        .await
        .unwrap();
    let done = p
        .wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;
    assert_eq!(done.tickets.len(), 2);
    assert_eq!(issued_tickets(&p, intent.order_id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republished_intent_neither_holds_twice_nor_starts_a_second_workflow() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seats = vec![p.seat(15), p.seat(16)];
    let intent = p.intent(seats.clone(), 60);
    // The same intent three times, under different message ids (outside the dedup window).
    p.submit(&intent).await;
    p.submit_with_id(&intent, "again-1").await;
    p.submit_with_id(&intent, "again-2").await;
    let open = p
        .wait_state(intent.order_id, OrderState::AwaitingPayment, MINUTE)
        .await;
    p.pay(&payment_id(&open), "succeed").await;
    p.wait_state(intent.order_id, OrderState::Issued, MINUTE)
        .await;
    // And once more after it finished: nothing is held for it again.
    p.submit_with_id(&intent, "again-3").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        transitions(&p, intent.order_id).await,
        [
            "held",
            "awaiting_payment",
            "authorized",
            "confirmed",
            "issued"
        ]
    );
    let ledger = p.seats.buyer_ledger(&intent.order_ref()).await.unwrap();
    assert_eq!(
        ledger.active(p.seats.now()),
        2,
        "the buyer owns two tickets, not four"
    );
    for n in (1..=20).filter(|n| ![15, 16].contains(n)) {
        assert_eq!(seat_state(&p, &p.seat(n)).await, SeatState::Free);
    }
    let payments = sqlx::query_scalar!(
        r#"select count(*) as "payments!" from payments where order_id = $1"#,
        intent.order_id.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap();
    assert_eq!(payments, 1, "one payment intent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intent_republished_after_its_order_ended_takes_nothing() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seats = vec![p.seat(17), p.seat(18)];
    let intent = p.intent(seats.clone(), 60);
    open(&p, &intent).await;
    p.workflow(intent.order_id)
        .signal(OrderWorkflow::cancel, (), WorkflowSignalOptions::default())
        .await
        .unwrap();
    p.wait_state(intent.order_id, OrderState::Canceled, MINUTE)
        .await;
    // The seats are free again, and the same order arrives once more (outside the dedup
    // window): intake may take them for a moment, finds the order ended, and gives them back.
    p.submit_with_id(&intent, "late-copy").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let free = futures::future::join_all(seats.iter().map(|s| seat_state(&p, s))).await;
        let ledger = p.seats.buyer_ledger(&intent.order_ref()).await.unwrap();
        if free.iter().all(|s| *s == SeatState::Free) && ledger.active(p.seats.now()) == 0 {
            // And it stays so: nothing was restarted for the order.
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_free(&p, &seats).await;
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "seats {free:?}, ledger {ledger:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        p.status(intent.order_id).await.unwrap().state,
        OrderState::Canceled
    );
    assert_eq!(
        transitions(&p, intent.order_id).await,
        ["held", "awaiting_payment", "canceled"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_catalog_refuses_after_intake_held_it_is_rejected_and_gives_its_seat_back() {
    let p = Platform::start(PlatformOptions::default()).await;
    // A section on sale in the seat store that the catalog does not know (an operator's
    // mistake, or a section withdrawn after loading).
    let mut inventory = store::sellable_inventory(&p.db, p.event).await.unwrap();
    inventory.sections.push(SectionInventory {
        code: "GHOST".parse().unwrap(),
        units: SectionUnits::Seated(vec!["1".parse().unwrap()]),
    });
    p.seats.load_event(&inventory).await.unwrap();
    let _w = p.start_worker();
    let ghost: SeatId = "GHOST:1".parse().unwrap();
    let intent = p.intent(vec![ghost.clone()], 60);
    p.submit(&intent).await;
    let done = p
        .wait_state(intent.order_id, OrderState::Rejected, MINUTE)
        .await;
    assert!(
        done.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("invalid_order")),
        "{done:#?}"
    );
    assert_free(&p, &[ghost]).await;
    assert_eq!(pg_state(&p, intent.order_id).await, "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_reusing_its_buyers_idempotency_key_is_rejected_with_a_code_and_gives_its_seat_back()
 {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let first = p.intent(vec![p.seat(1)], 600);
    open(&p, &first).await;
    // The same buyer and key for another order, straight to the intake (the gateway refuses
    // this itself; a direct publisher such as `boxofficectl intent` does not go through it).
    let mut second = p.intent_for(first.buyer_id, SeatRequest::Seats(vec![p.seat(2)]), 600);
    second.idempotency_key = first.idempotency_key.clone();
    p.submit_with_id(&second, &second.order_id.to_string())
        .await;
    let done = p
        .wait_state(second.order_id, OrderState::Rejected, MINUTE)
        .await;
    assert_eq!(
        done.reason.as_deref(),
        Some("idempotency_key_reused"),
        "a code, never a constraint name: {done:#?}"
    );
    assert_free(&p, &[p.seat(2)]).await;
    assert_eq!(
        p.status(first.order_id).await.unwrap().state,
        OrderState::AwaitingPayment,
        "the first order is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_started_too_late_for_its_hold_expires_and_gives_the_seat_back() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let seat = p.seat(19);
    let intent = p.intent(vec![seat.clone()], 60);
    // Intake's hold (its allowance for the start included) ran out before the workflow
    // started: the workflow cannot renew it, so the checkout never opens.
    let hold = p
        .seats
        .hold(
            &intent.order_ref(),
            std::slice::from_ref(&seat),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    p.client
        .start_workflow(
            OrderWorkflow::run,
            OrderInput {
                intent: intent.clone(),
                hold: Some(hold),
                refund_window_s: 0,
            },
            WorkflowStartOptions::new(p.task_queue.clone(), workflow_id(intent.order_id)).build(),
        )
        .await
        .unwrap();
    let done = p
        .wait_state(intent.order_id, OrderState::Expired, MINUTE)
        .await;
    assert_eq!(done.reason.as_deref(), Some("hold_lapsed"));
    assert!(done.payment.is_none(), "no payment was opened");
    assert_free(&p, &[seat]).await;
    assert_eq!(pg_state(&p, intent.order_id).await, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_best_available_intent_keeps_the_hold_its_first_delivery_took() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let intent = p.intent_for(
        BuyerId::new(),
        SeatRequest::BestAvailable {
            section: "A".parse().unwrap(),
            quantity: Quantity::parse(2).unwrap(),
        },
        60,
    );
    // The first delivery took the hold and died before telling the buyer or starting the
    // workflow; the intent comes round again.
    let first = take_hold(&p.seats, &intent, Duration::ZERO).await.unwrap();
    p.submit(&intent).await;
    let open = p
        .wait_state(intent.order_id, OrderState::AwaitingPayment, MINUTE)
        .await;
    assert_eq!(
        open.seats,
        first.seat_ids(),
        "the order goes on with that hold"
    );
    let ledger = p.seats.buyer_ledger(&intent.order_ref()).await.unwrap();
    assert_eq!(ledger.active(p.seats.now()), 2, "counted once");
    for s in p.all_seats() {
        if !first.seat_ids().contains(&s) {
            assert_eq!(seat_state(&p, &s).await, SeatState::Free, "{s}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_started_without_a_hold_takes_it_itself_or_tells_the_buyer_why_not() {
    let p = Platform::start(PlatformOptions::default()).await;
    let _w = p.start_worker();
    let start = |intent: PurchaseIntent| {
        let p = &p;
        async move {
            p.client
                .start_workflow(
                    OrderWorkflow::run,
                    OrderInput {
                        intent: intent.clone(),
                        hold: None,
                        refund_window_s: 0,
                    },
                    WorkflowStartOptions::new(p.task_queue.clone(), workflow_id(intent.order_id))
                        .build(),
                )
                .await
                .unwrap();
        }
    };
    let seat = p.seat(20);
    let first = p.intent(vec![seat.clone()], 60);
    start(first.clone()).await;
    let open = p
        .wait_state(first.order_id, OrderState::AwaitingPayment, MINUTE)
        .await;
    assert_eq!(open.seats, std::slice::from_ref(&seat));
    assert!(
        matches!(seat_state(&p, &seat).await, SeatState::Held { order, .. } if order == first.order_id)
    );
    // A second order for the same seat is refused, and the buyer reads why.
    let second = p.intent(vec![seat.clone()], 60);
    start(second.clone()).await;
    let refused = p
        .wait_state(second.order_id, OrderState::Rejected, MINUTE)
        .await;
    assert_eq!(refused.reason.as_deref(), Some("taken"));
    assert_eq!(pg_state(&p, second.order_id).await, "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_orders_for_a_hundred_seats_sell_exactly_what_was_captured() {
    let p = Platform::start(PlatformOptions {
        rows: 10,
        seats_per_row: 10,
        sandbox_args: vec![
            "--webhook-drop-rate".into(),
            "0.05".into(),
            "--latency-max-ms".into(),
            "20".into(),
        ],
        ..Default::default()
    })
    .await;
    let _w = p.start_worker();
    let all = p.all_seats();
    let intents: Vec<PurchaseIntent> = (0..500u32)
        .map(|i| {
            // Most want one seat, some two adjacent ones: real overlap, real contention.
            let a = (i.wrapping_mul(7919) % 100) as usize;
            let seats = if i % 5 == 0 && a % 10 != 9 {
                vec![all[a].clone(), all[a + 1].clone()]
            } else {
                vec![all[a].clone()]
            };
            p.intent(seats, 90)
        })
        .collect();
    futures::future::join_all(intents.iter().map(|i| p.submit(i))).await;

    // Every buyer hears back: held (then pays, or is declined one time in ten) or rejected.
    let mut declined = 0;
    let mut outcome: HashMap<OrderId, OrderState> = HashMap::new();
    for (n, intent) in intents.iter().enumerate() {
        let s = p
            .wait_for(intent.order_id, 2 * MINUTE, |s| {
                matches!(s.state, OrderState::AwaitingPayment | OrderState::Rejected)
            })
            .await;
        if s.state == OrderState::AwaitingPayment {
            let verdict = if n % 10 == 3 {
                declined += 1;
                "decline"
            } else {
                "succeed"
            };
            assert_eq!(p.pay(&payment_id(&s), verdict).await, 200);
        }
        outcome.insert(intent.order_id, s.state);
    }
    let mut sold_orders = Vec::new();
    for intent in &intents {
        if outcome[&intent.order_id] == OrderState::Rejected {
            continue;
        }
        let s = p
            .wait_for(intent.order_id, 3 * MINUTE, |s| {
                s.state.is_terminal() || s.state == OrderState::Issued
            })
            .await;
        assert!(
            matches!(s.state, OrderState::Issued | OrderState::PaymentFailed),
            "{s:#?}"
        );
        if s.state == OrderState::Issued {
            sold_orders.push((intent.order_id, s.seats.clone()));
        }
    }
    assert!(declined > 0 && !sold_orders.is_empty());

    // The audit: seats sold in KV = seats of issued orders = tickets = captured payments.
    let now = p.seats.now();
    let mut sold_in_kv = 0;
    for view in p
        .seats
        .list_section(p.event, &"A".parse().unwrap())
        .await
        .unwrap()
    {
        match view.state {
            SeatState::Sold { order, .. } => {
                sold_in_kv += 1;
                assert!(
                    sold_orders
                        .iter()
                        .any(|(o, seats)| *o == order && seats.contains(&view.seat))
                );
            }
            SeatState::Held { expires_at, .. } => {
                assert!(expires_at <= now, "{} is still held", view.seat);
            }
            SeatState::Free => {}
        }
    }
    let sold_seats: usize = sold_orders.iter().map(|(_, s)| s.len()).sum();
    assert_eq!(sold_in_kv, sold_seats);
    let tickets =
        sqlx::query_scalar!(r#"select count(*) as "issued!" from tickets where state = 'issued'"#)
            .fetch_one(&p.db)
            .await
            .unwrap();
    assert_eq!(tickets as usize, sold_seats, "one ticket per sold seat");
    let mut captured = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, more) = p.provider.list(after.as_deref(), 100).await.unwrap();
        after = page.last().map(|i| i.id.clone());
        captured.extend(page.into_iter().filter(|i| i.amount_captured > 0));
        if !more {
            break;
        }
    }
    assert_eq!(
        captured.len(),
        sold_orders.len(),
        "one capture per sold order, none without"
    );
    for c in &captured {
        let order: OrderId = c.order_id.parse().unwrap();
        let seats = &sold_orders
            .iter()
            .find(|(o, _)| *o == order)
            .expect("captured order was sold")
            .1;
        assert_eq!(c.amount_captured, 4_500 * seats.len() as i64);
    }
}

/// ADR 0021: intake holds at the seat store's pace and never waits for Temporal. With no
/// workflow starting at all for longer than the buyers' hold time (the slowest starts can be),
/// every order is still held at once and told so with an estimate; when the starts come, each
/// checkout opens with the buyer's full hold time counted from its opening, and no hold has
/// lapsed meanwhile (ADR 0016's guarantee, kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_held_while_workflow_starts_lag_keep_their_seats_and_get_their_full_time_to_pay() {
    use boxoffice_workers::{
        intake::{Intake, IntakeOptions},
        starter::StartPace,
    };
    use clap::Parser;

    #[derive(Parser)]
    struct Opts {
        #[command(flatten)]
        intake: IntakeOptions,
    }
    let p = Platform::start(PlatformOptions::default()).await;
    // Intake alone: no starter and no workflow worker yet.
    let stop = tokio_util::sync::CancellationToken::new();
    let intake = Intake {
        topology: p.topology.clone(),
        seats: p.seats.clone(),
        board: p.board.clone(),
        starts: boxoffice_workflows::order::StartQueue::new(
            p.topology.js.clone(),
            p.topology.ns.clone(),
        ),
        pace: StartPace::default(),
        db: p.db.clone(),
        opts: Opts::parse_from(["intake"]).intake,
    };
    let holds = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
    let intake_done = tokio::spawn(intake.run(holds, stop.clone()));

    // The checkout closes 5 s before the hold lapses (the least lead): 8 s leaves 3 to pay.
    const HOLD_S: u32 = 8;
    let seats: Vec<SeatId> = (11..=20).map(|n| p.seat(n)).collect();
    let intents: Vec<_> = seats
        .iter()
        .map(|s| p.intent(vec![s.clone()], HOLD_S))
        .collect();
    for i in &intents {
        p.submit(i).await;
    }
    for i in &intents {
        let held = p.wait_state(i.order_id, OrderState::Held, MINUTE).await;
        assert!(
            held.hold_expires_at.is_none(),
            "the buyer's clock has not started"
        );
        let eta = held.checkout_opens_at.expect("an estimate of the opening");
        assert!(eta >= held.at, "{eta} before {}", held.at);
    }
    // Longer than the hold time, with no workflow started: still held, none lapsed.
    tokio::time::sleep(Duration::from_secs(u64::from(HOLD_S) + 2)).await;
    let now = p.seats.now();
    for (i, seat) in intents.iter().zip(&seats) {
        assert_eq!(p.status(i.order_id).await.unwrap().state, OrderState::Held);
        match seat_state(&p, seat).await {
            SeatState::Held {
                order, expires_at, ..
            } => {
                assert_eq!(order, i.order_id);
                assert!(
                    expires_at > now + 60_000,
                    "held for the start allowance too"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    stop.cancel();
    intake_done.await.unwrap().unwrap();

    // The starts come: every checkout opens with the whole hold time ahead of it.
    let _w = p.start_worker();
    for i in &intents {
        let open = p
            .wait_state(i.order_id, OrderState::AwaitingPayment, MINUTE)
            .await;
        let left = open.hold_expires_at.unwrap() - open.at;
        assert!(
            left > i64::from(HOLD_S) * 1000 - 2_000,
            "the time to pay counts from the opening: {left} ms left"
        );
        assert!(open.checkout_opens_at.is_none());
    }
    let first = p.status(intents[0].order_id).await.unwrap();
    assert_eq!(p.pay(&payment_id(&first), "succeed").await, 200);
    p.wait_state(intents[0].order_id, OrderState::Issued, MINUTE)
        .await;
}
