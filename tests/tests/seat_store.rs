//! The seat store against a real NATS server: contention, all-or-nothing, lapse, limits, input.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{collections::HashMap, sync::Arc, time::Duration};

use boxoffice_nats::{
    BlockId, BuyerId, EventId, OrderId, SeatError, SeatId, SeatStore,
    seat::{
        Access, AllowanceCheck, Availability, BlockMeta, BlockUnits, Clock, EventInventory,
        InvalidRequest, OrderRef, SeatState, SeatStoreOptions, SectionInventory, SectionUnits,
        block_unit_label,
    },
};
use boxoffice_tests::{label, seat, seated_inventory, section, store_on, topology};
use futures::StreamExt;

fn order_for(event: EventId, buyer: BuyerId) -> OrderRef {
    OrderRef {
        event,
        order: OrderId::new(),
        buyer,
    }
}

const HOLD: Duration = Duration::from_secs(60);

/// One store on a manual clock (holds lapse when the test says), with a seated event of
/// `seats` seats and a per-buyer limit of `max_per_buyer` loaded.
async fn manual_store(seats: u32, max_per_buyer: u32) -> (SeatStore, Clock, EventId) {
    let topo = topology().await;
    let clock = Clock::manual();
    let store = store_on(
        &topo,
        SeatStoreOptions {
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, seats, max_per_buyer))
        .await
        .unwrap();
    (store, clock, event)
}

/// Four stores on four connections, like four intake processes.
async fn four_stores() -> (boxoffice_nats::Topology, Vec<SeatStore>) {
    let topo = topology().await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(store_on(&topo, SeatStoreOptions::default()).await);
    }
    (topo, stores)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_contenders_over_four_connections_leave_every_seat_with_exactly_one_owner() {
    let (_topo, stores) = four_stores().await;
    for round in 0..5 {
        let event = EventId::new();
        stores[0]
            .load_event(&seated_inventory(event, 100, 50))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..64u32 {
            let store = stores[t as usize % 4].clone();
            tasks.push(tokio::spawn(async move {
                let buyer = BuyerId::new();
                // Every contender tries every seat, each in its own order of attack.
                let mut seats: Vec<u32> = (1..=100).collect();
                seats.rotate_left(((t * 37 + round * 11) % 100) as usize);
                let (mut won, mut taken) = (Vec::new(), 0u32);
                for n in seats {
                    let order = order_for(event, buyer);
                    match store.hold(&order, &[seat(n)], HOLD).await {
                        Ok(hold) => won.push((n, hold.order.order)),
                        Err(SeatError::Taken { .. }) => taken += 1,
                        // Each contender is its own buyer with a limit of 50; reaching it is fine.
                        Err(SeatError::LimitReached { .. }) => {}
                        Err(e) => panic!("unexpected error {e:?}"),
                    }
                }
                (won, taken)
            }));
        }
        let mut owner_of: HashMap<u32, OrderId> = HashMap::new();
        let mut taken_total = 0;
        for t in tasks {
            let (won, taken) = t.await.unwrap();
            taken_total += taken;
            for (n, order) in won {
                assert!(
                    owner_of.insert(n, order).is_none(),
                    "round {round}: seat {n} won twice"
                );
            }
        }
        assert_eq!(
            owner_of.len(),
            100,
            "round {round}: every seat has a winner"
        );
        assert!(
            taken_total >= 63 * 100 - 64 * 50,
            "losers were told `taken`"
        );
        // What the store holds agrees with who was told they won.
        let listed = stores[3].list_section(event, &section("A")).await.unwrap();
        assert_eq!(listed.len(), 100);
        for view in listed {
            let n: u32 = view.seat.label.as_str().parse().unwrap();
            match view.state {
                SeatState::Held { order, .. } => assert_eq!(order, owner_of[&n], "seat {n}"),
                other => panic!("seat {n} is {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_multi_seat_holds_never_leave_a_partial_hold() {
    let (_topo, stores) = four_stores().await;
    for round in 0..4u32 {
        let event = EventId::new();
        stores[0]
            .load_event(&seated_inventory(event, 40, 50))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..48u32 {
            let store = stores[t as usize % 4].clone();
            tasks.push(tokio::spawn(async move {
                let order = order_for(event, BuyerId::new());
                // Windows of 4 consecutive seats, overlapping their neighbours.
                let start = (t * 7 + round * 3) % 37 + 1;
                let wanted: Vec<SeatId> = (start..start + 4).rev().map(seat).collect();
                match store.hold(&order, &wanted, HOLD).await {
                    Ok(hold) => Some((order.order, hold.seat_ids())),
                    Err(SeatError::Taken { .. }) => None,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }));
        }
        let mut expected: HashMap<SeatId, OrderId> = HashMap::new();
        for t in tasks {
            if let Some((order, seats)) = t.await.unwrap() {
                assert_eq!(seats.len(), 4);
                for s in seats {
                    assert!(
                        expected.insert(s.clone(), order).is_none(),
                        "{s} in two holds"
                    );
                }
            }
        }
        assert!(!expected.is_empty());
        for view in stores[1].list_section(event, &section("A")).await.unwrap() {
            match (&view.state, expected.get(&view.seat)) {
                (SeatState::Free, None) => {}
                (SeatState::Held { order, .. }, Some(winner)) => assert_eq!(order, winner),
                (state, winner) => panic!("{}: store has {state:?}, winners {winner:?}", view.seat),
            }
        }
    }
}

#[tokio::test]
async fn a_hold_lapses_with_no_process_alive_and_the_seat_can_be_claimed_again() {
    let topo = topology().await;
    let event = EventId::new();
    let first = store_on(&topo, SeatStoreOptions::default()).await;
    first
        .load_event(&seated_inventory(event, 3, 8))
        .await
        .unwrap();
    let a = order_for(event, BuyerId::new());
    let hold = first
        .hold(&a, &[seat(1)], Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(hold.seats.len(), 1);
    // The process that held it goes away: nobody is left to release the seat.
    drop(first);

    let other = store_on(&topo, SeatStoreOptions::default()).await;
    let b = order_for(event, BuyerId::new());
    assert!(matches!(
        other.hold(&b, &[seat(1)], HOLD).await,
        Err(SeatError::Taken { .. })
    ));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let seat_view = other.seat(event, &seat(1)).await.unwrap().unwrap();
    assert_eq!(
        seat_view.state.availability(other.now()),
        Availability::Free,
        "a lapsed hold counts as free"
    );
    other
        .hold(&b, &[seat(1)], HOLD)
        .await
        .expect("the lapsed seat can be claimed again");

    // The first order's confirm after its lapse fails and changes nothing.
    assert!(matches!(
        other.confirm(&a, &[seat(1)]).await,
        Err(SeatError::NotOwner { .. })
    ));
    let c = order_for(event, BuyerId::new());
    // A release by another order fails and changes nothing.
    assert!(matches!(
        other.release(&c, &[seat(1)]).await,
        Err(SeatError::NotOwner { .. })
    ));
    match other.seat(event, &seat(1)).await.unwrap().unwrap().state {
        SeatState::Held { order, .. } => assert_eq!(order, b.order),
        s => panic!("seat is {s:?}"),
    }
    // The rightful owner confirms.
    other.confirm(&b, &[seat(1)]).await.expect("owner confirms");
    assert!(matches!(
        other.seat(event, &seat(1)).await.unwrap().unwrap().state,
        SeatState::Sold { order, .. } if order == b.order
    ));
}

#[tokio::test]
async fn a_confirm_after_the_hold_lapsed_fails_even_when_nobody_took_the_seat() {
    let (store, clock, event) = manual_store(2, 8).await;
    let a = order_for(event, BuyerId::new());
    store
        .hold(&a, &[seat(1), seat(2)], Duration::from_secs(30))
        .await
        .unwrap();
    // Within the confirm margin of the expiry already counts as too late.
    clock.advance(Duration::from_millis(28_500));
    assert!(matches!(
        store.confirm(&a, &[seat(1), seat(2)]).await,
        Err(SeatError::Lapsed { .. })
    ));
    clock.advance(Duration::from_secs(5));
    assert!(matches!(
        store.confirm(&a, &[seat(1), seat(2)]).await,
        Err(SeatError::Lapsed { .. })
    ));
    for n in [1, 2] {
        assert!(matches!(
            store.seat(event, &seat(n)).await.unwrap().unwrap().state,
            SeatState::Held { .. }
        ));
    }
    // Releasing it anyway is allowed (the workflow's timer does exactly this).
    assert_eq!(store.release(&a, &[seat(1), seat(2)]).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_attempts_by_one_buyer_never_exceed_the_limit() {
    let (_topo, stores) = four_stores().await;
    for (limit, per_order) in [(4u32, 1u32), (4, 2), (5, 3), (1, 1)] {
        let event = EventId::new();
        stores[0]
            .load_event(&seated_inventory(event, 40, limit))
            .await
            .unwrap();
        let buyer = BuyerId::new();
        let mut tabs = Vec::new();
        for tab in 0..10u32 {
            let store = stores[tab as usize % 4].clone();
            tabs.push(tokio::spawn(async move {
                let order = order_for(event, buyer);
                let seats: Vec<SeatId> = (0..per_order).map(|i| seat(tab * 4 + i + 1)).collect();
                store.hold(&order, &seats, HOLD).await
            }));
        }
        let mut held = 0;
        for t in tabs {
            match t.await.unwrap() {
                Ok(h) => held += h.seats.len() as u32,
                Err(SeatError::LimitReached { limit: l, .. }) => assert_eq!(l, limit),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!(held <= limit, "buyer holds {held} > limit {limit}");
        assert_eq!(
            held,
            (limit / per_order) * per_order,
            "as many as fit were granted"
        );
        // No seat is held beyond what was granted (refused tabs compensated their claims).
        let in_store = stores[2]
            .list_section(event, &section("A"))
            .await
            .unwrap()
            .into_iter()
            .filter(|v| matches!(v.state, SeatState::Held { .. }))
            .count() as u32;
        assert_eq!(in_store, held);
        let ledger = stores[3]
            .buyer_ledger(&order_for(event, buyer))
            .await
            .unwrap();
        assert_eq!(ledger.active(stores[3].now()), held);
    }
}

#[tokio::test]
async fn a_confirmed_seat_counts_against_the_limit_and_a_released_one_does_not() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 2))
        .await
        .unwrap();
    let buyer = BuyerId::new();
    let a = order_for(event, buyer);
    store.hold(&a, &[seat(1)], HOLD).await.unwrap();
    store.confirm(&a, &[seat(1)]).await.unwrap();
    let b = order_for(event, buyer);
    store.hold(&b, &[seat(2)], HOLD).await.unwrap();
    let c = order_for(event, buyer);
    assert!(matches!(
        store.hold(&c, &[seat(3)], HOLD).await,
        Err(SeatError::LimitReached { active: 2, .. })
    ));
    store.release(&b, &[seat(2)]).await.unwrap();
    store
        .hold(&c, &[seat(3)], HOLD)
        .await
        .expect("the released ticket no longer counts");
    // A refund returns a sold seat to the pool and frees the buyer's allowance.
    assert_eq!(store.refund(&a, &[seat(1)]).await.unwrap(), 1);
    assert_eq!(
        store.seat(event, &seat(1)).await.unwrap().unwrap().state,
        SeatState::Free
    );
    store
        .hold(&order_for(event, buyer), &[seat(4)], HOLD)
        .await
        .expect("refund freed the allowance");
}

#[tokio::test]
async fn a_retried_hold_is_idempotent_and_an_order_cannot_grow_its_hold() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 8))
        .await
        .unwrap();
    let a = order_for(event, BuyerId::new());
    let first = store.hold(&a, &[seat(1), seat(2)], HOLD).await.unwrap();
    // Another process retries the same hold (a redelivered intent).
    let other = store_on(&topo, SeatStoreOptions::default()).await;
    let again = other.hold(&a, &[seat(2), seat(1)], HOLD).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(other.buyer_ledger(&a).await.unwrap().active(other.now()), 2);
    // The same order asking for more seats is refused and the extra seat stays free.
    let grow = other.hold(&a, &[seat(1), seat(2), seat(3)], HOLD).await;
    assert!(
        matches!(
            grow,
            Err(SeatError::Invalid(InvalidRequest::OrderAlreadyHolds(_)))
        ),
        "{grow:?}"
    );
    assert_eq!(
        other.seat(event, &seat(3)).await.unwrap().unwrap().state,
        SeatState::Free
    );
    assert!(matches!(
        other.seat(event, &seat(1)).await.unwrap().unwrap().state,
        SeatState::Held { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_one_hold_end_as_one_hold_with_every_seat() {
    // Two deliveries of the same intent race: each may claim some of the seats while the other
    // finds the rest already held by the same order. Neither may undo what the other counts on.
    let topo = topology().await;
    let event = EventId::new();
    store_on(&topo, SeatStoreOptions::default())
        .await
        .load_event(&seated_inventory(event, 40, 8))
        .await
        .unwrap();
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(store_on(&topo, SeatStoreOptions::default()).await);
    }
    for round in 0..10u32 {
        let a = order_for(event, BuyerId::new());
        let seats: Vec<_> = (1..=4).map(|i| seat(round * 4 + i)).collect();
        let results =
            futures::future::join_all(stores.iter().map(|st| st.hold(&a, &seats, HOLD))).await;
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        for s in &seats {
            let state = stores[0].seat(event, s).await.unwrap().unwrap().state;
            assert!(
                matches!(state, SeatState::Held { order, .. } if order == a.order),
                "round {round}: {s} is {state:?}"
            );
        }
        assert_eq!(
            stores[0]
                .buyer_ledger(&a)
                .await
                .unwrap()
                .active(stores[0].now()),
            4
        );
    }
}

#[tokio::test]
async fn bad_input_is_a_typed_error_and_changes_nothing() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    let mut inv = seated_inventory(event, 5, 4);
    inv.sections.push(SectionInventory {
        code: section("GA"),
        units: SectionUnits::GeneralAdmission(10),
    });
    store.load_event(&inv).await.unwrap();
    let a = order_for(event, BuyerId::new());

    let unknown = order_for(EventId::new(), BuyerId::new());
    assert!(matches!(
        store.hold(&unknown, &[seat(1)], HOLD).await,
        Err(SeatError::UnknownEvent(_))
    ));
    assert!(matches!(
        store.hold(&a, &[], HOLD).await,
        Err(SeatError::Invalid(InvalidRequest::EmptySeatList))
    ));
    assert!(matches!(
        store.hold(&a, &[seat(1), seat(2), seat(1)], HOLD).await,
        Err(SeatError::Invalid(InvalidRequest::DuplicateSeat(_)))
    ));
    assert!(matches!(
        store.hold(&a, &[seat(1)], Duration::ZERO).await,
        Err(SeatError::Invalid(InvalidRequest::HoldTime { .. }))
    ));
    assert!(matches!(
        store
            .hold(&a, &[seat(1)], Duration::from_secs(86_400))
            .await,
        Err(SeatError::Invalid(InvalidRequest::HoldTime { .. }))
    ));
    assert!(matches!(
        store.hold(&a, &[seat(1), seat(99)], HOLD).await,
        Err(SeatError::UnknownSeat { .. })
    ));
    let other_section = SeatId::new(section("NOPE"), label("1"));
    assert!(matches!(
        store.hold(&a, &[other_section], HOLD).await,
        Err(SeatError::UnknownSeat { .. })
    ));
    let huge: Vec<SeatId> = (1..=51).map(seat).collect();
    assert!(matches!(
        store.hold(&a, &huge, HOLD).await,
        Err(SeatError::Invalid(InvalidRequest::Quantity { .. }))
    ));
    for q in [0, 51, u32::MAX] {
        assert!(
            matches!(
                store
                    .pick_general_admission(&a, &section("GA"), q, HOLD)
                    .await,
                Err(SeatError::Invalid(InvalidRequest::Quantity { .. }))
            ),
            "quantity {q}"
        );
    }
    assert!(matches!(
        store
            .pick_general_admission(&a, &section("A"), 1, HOLD)
            .await,
        Err(SeatError::Invalid(InvalidRequest::NotGeneralAdmission(_)))
    ));
    assert!(matches!(
        store
            .pick_general_admission(&a, &section("B"), 1, HOLD)
            .await,
        Err(SeatError::UnknownSection { .. })
    ));
    assert!(matches!(
        store.confirm(&a, &[seat(1)]).await,
        Err(SeatError::Lapsed { .. })
    ));
    let bad_inventory = EventInventory {
        event: EventId::new(),
        max_per_buyer: 0,
        blocks: Default::default(),
        sections: vec![],
    };
    assert!(matches!(
        store.load_event(&bad_inventory).await,
        Err(SeatError::Invalid(_))
    ));

    // Nothing changed: every seat free, the buyer's ledger empty, the bad event unknown.
    for section_code in ["A", "GA"] {
        for v in store
            .list_section(event, &section(section_code))
            .await
            .unwrap()
        {
            assert_eq!(v.state, SeatState::Free, "{}", v.seat);
        }
    }
    assert!(store.buyer_ledger(&a).await.unwrap().orders.is_empty());
    assert!(matches!(
        store.event_meta(bad_inventory.event).await,
        Err(SeatError::UnknownEvent(_))
    ));
}

#[tokio::test]
async fn loading_again_never_frees_a_held_seat() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    let inv = seated_inventory(event, 5, 4);
    assert_eq!(store.load_event(&inv).await.unwrap().created, 5);
    let a = order_for(event, BuyerId::new());
    store.hold(&a, &[seat(3)], HOLD).await.unwrap();
    let again = store.load_event(&inv).await.unwrap();
    assert_eq!((again.created, again.existing), (0, 5));
    assert!(matches!(
        store.seat(event, &seat(3)).await.unwrap().unwrap().state,
        SeatState::Held { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn general_admission_picks_spread_over_units_and_never_oversell() {
    let (_topo, stores) = four_stores().await;
    let event = EventId::new();
    let inv = EventInventory {
        event,
        max_per_buyer: 8,
        blocks: Default::default(),
        sections: vec![SectionInventory {
            code: section("FLOOR"),
            units: SectionUnits::GeneralAdmission(30),
        }],
    };
    stores[0].load_event(&inv).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..16usize {
        let store = stores[t % 4].clone();
        tasks.push(tokio::spawn(async move {
            let order = order_for(event, BuyerId::new());
            store
                .pick_general_admission(&order, &section("FLOOR"), 3, HOLD)
                .await
                .map(|h| (order.order, h))
        }));
    }
    let (mut won, mut sold_out) = (HashMap::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok((order, hold)) => {
                assert_eq!(hold.seats.len(), 3);
                for s in hold.seat_ids() {
                    assert!(won.insert(s.clone(), order).is_none(), "{s} picked twice");
                }
            }
            Err(SeatError::SoldOut { requested: 3, .. }) => sold_out += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        won.len() >= 24 && won.len() <= 30,
        "{} units picked",
        won.len()
    );
    assert!(sold_out >= 6, "{sold_out} picks came up short");
    // Whatever the race left over is still sellable, one unit at a time, until truly gone.
    loop {
        let order = order_for(event, BuyerId::new());
        match stores[0]
            .pick_general_admission(&order, &section("FLOOR"), 1, HOLD)
            .await
        {
            Ok(hold) => {
                let s = hold.seat_ids().remove(0);
                assert!(
                    won.insert(s.clone(), order.order).is_none(),
                    "{s} picked twice"
                );
            }
            Err(SeatError::SoldOut { available: 0, .. }) => break,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won.len(), 30, "every unit sold exactly once");
    for v in stores[1]
        .list_section(event, &section("FLOOR"))
        .await
        .unwrap()
    {
        match v.state {
            SeatState::Held { order, .. } => assert_eq!(Some(&order), won.get(&v.seat)),
            s => panic!("{} is {s:?}", v.seat),
        }
    }
}

#[tokio::test]
async fn the_watch_delivers_the_current_map_then_every_change() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 3, 4))
        .await
        .unwrap();
    let watcher = Arc::new(store_on(&topo, SeatStoreOptions::default()).await);
    let mut changes = Box::pin(watcher.watch_event(event).await.unwrap());
    for _ in 0..3 {
        let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(change.state, SeatState::Free);
    }
    let a = order_for(event, BuyerId::new());
    store.hold(&a, &[seat(2)], HOLD).await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(change.seat, seat(2));
    assert!(matches!(change.state, SeatState::Held { order, .. } if order == a.order));
    store.confirm(&a, &[seat(2)]).await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(change.state, SeatState::Sold { .. }));
}

#[tokio::test]
async fn releasing_part_of_an_order_keeps_the_rest_counted_and_a_retry_changes_nothing() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 3))
        .await
        .unwrap();
    let buyer = BuyerId::new();
    let a = order_for(event, buyer);
    store
        .hold(&a, &[seat(1), seat(2), seat(3)], HOLD)
        .await
        .unwrap();
    assert_eq!(store.release(&a, &[seat(3), seat(9)]).await.unwrap(), 1);
    // A second process retries the same release: nothing more is freed or uncounted.
    let other = store_on(&topo, SeatStoreOptions::default()).await;
    assert_eq!(other.release(&a, &[seat(3), seat(9)]).await.unwrap(), 0);
    assert_eq!(other.buyer_ledger(&a).await.unwrap().active(other.now()), 2);
    let b = order_for(event, buyer);
    assert!(matches!(
        other.hold(&b, &[seat(4), seat(5)], HOLD).await,
        Err(SeatError::LimitReached { active: 2, .. })
    ));
    other
        .hold(&b, &[seat(4)], HOLD)
        .await
        .expect("one more fits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn best_available_picks_sit_parties_together_from_the_front_and_never_oversell() {
    let (_topo, stores) = four_stores().await;
    let event = EventId::new();
    // Rows A to E of 8 seats: 40 seats.
    let labels = ["A", "B", "C", "D", "E"]
        .iter()
        .flat_map(|r| (1..=8).map(move |n| label(&format!("{r}-{n}"))))
        .collect();
    let inv = EventInventory {
        event,
        max_per_buyer: 8,
        blocks: Default::default(),
        sections: vec![SectionInventory {
            code: section("A"),
            units: SectionUnits::Seated(labels),
        }],
    };
    stores[0].load_event(&inv).await.unwrap();
    // 24 parties of 2 over four connections at once: 20 fit.
    let mut tasks = Vec::new();
    for t in 0..24usize {
        let store = stores[t % 4].clone();
        tasks.push(tokio::spawn(async move {
            let order = order_for(event, BuyerId::new());
            store
                .pick_best(&order, &section("A"), 2, HOLD)
                .await
                .map(|h| (order.order, h))
        }));
    }
    let (mut won, mut refused) = (HashMap::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok((order, hold)) => {
                let ids = hold.seat_ids();
                assert_eq!(ids.len(), 2);
                for s in &ids {
                    assert!(won.insert(s.clone(), order).is_none(), "{s} picked twice");
                }
            }
            Err(SeatError::SoldOut { .. } | SeatError::Taken { .. }) => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        won.len() <= 40 && refused >= 4,
        "{} seats, {refused} refused",
        won.len()
    );
    // Whatever the race left is sold one seat at a time until truly gone, front rows first.
    loop {
        let order = order_for(event, BuyerId::new());
        match stores[1].pick_best(&order, &section("A"), 1, HOLD).await {
            Ok(hold) => {
                let s = hold.seat_ids().remove(0);
                assert!(
                    won.insert(s.clone(), order.order).is_none(),
                    "{s} picked twice"
                );
            }
            Err(SeatError::SoldOut { available: 0, .. }) => break,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won.len(), 40, "every seat sold exactly once");
    for v in stores[2].list_section(event, &section("A")).await.unwrap() {
        match v.state {
            SeatState::Held { order, .. } => assert_eq!(Some(&order), won.get(&v.seat)),
            s => panic!("{} is {s:?}", v.seat),
        }
    }

    // On a fresh event, parties of four one after another: each side by side in one row, the
    // first in the front row's middle, and no row used before the rows in front of it have
    // no four together left.
    let event = EventId::new();
    let mut inv = inv.clone();
    inv.event = event;
    stores[0].load_event(&inv).await.unwrap();
    let mut rows_used = Vec::new();
    for party in 0..5 {
        let hold = stores[3]
            .pick_best(&order_for(event, BuyerId::new()), &section("A"), 4, HOLD)
            .await
            .unwrap();
        let places: Vec<(String, u32)> = hold
            .seat_ids()
            .iter()
            .map(|s| boxoffice_tests::row_and_number(s.label.as_str()))
            .collect();
        assert!(
            places.iter().all(|p| p.0 == places[0].0),
            "one row: {places:?}"
        );
        let mut numbers: Vec<u32> = places.iter().map(|p| p.1).collect();
        numbers.sort_unstable();
        assert_eq!(numbers[3] - numbers[0], 3, "side by side: {places:?}");
        if party == 0 {
            assert_eq!(places[0].0, "A", "front row first");
            // 1-4, 3-6 or 5-8; never 2-5 or 4-7, which would strand a seat alone.
            assert!(
                [1, 3, 5].contains(&numbers[0]),
                "strands no seat: {numbers:?}"
            );
        }
        rows_used.push(places[0].0.clone());
    }
    let mut sorted = rows_used.clone();
    sorted.sort();
    assert_eq!(rows_used, sorted, "front rows fill first");
}

#[tokio::test]
async fn a_repeated_pick_returns_the_first_hold_and_counts_it_once() {
    // A redelivered best-available or general-admission request whose first delivery took the
    // hold (and died before telling anyone) must find that hold, not pick other seats and be
    // refused while the first hold blocks the seats and the buyer's allowance.
    let topo = topology().await;
    let first = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    let rows = ["A", "B"]
        .iter()
        .flat_map(|r| (1..=4).map(move |n| label(&format!("{r}-{n}"))))
        .collect();
    let inv = EventInventory {
        event,
        max_per_buyer: 8,
        blocks: Default::default(),
        sections: vec![
            SectionInventory {
                code: section("A"),
                units: SectionUnits::Seated(rows),
            },
            SectionInventory {
                code: section("PIT"),
                units: SectionUnits::GeneralAdmission(20),
            },
            // The first hold takes the whole box: the repeat finds the section sold out.
            SectionInventory {
                code: section("BOX"),
                units: SectionUnits::GeneralAdmission(2),
            },
        ],
    };
    first.load_event(&inv).await.unwrap();
    // The redelivery runs in another process, which has never seen the buyer or the order.
    let again = store_on(&topo, SeatStoreOptions::default()).await;
    let buyer = BuyerId::new();
    let mut counted = 0;
    for (code, quantity) in [("A", 2), ("PIT", 3), ("BOX", 2)] {
        let order = order_for(event, buyer);
        let hold = first
            .pick_best(&order, &section(code), quantity, HOLD)
            .await
            .unwrap();
        let repeats = [
            again
                .pick_best(&order, &section(code), quantity, HOLD)
                .await,
            first
                .pick_best(&order, &section(code), quantity, HOLD)
                .await,
        ];
        for repeat in repeats {
            assert_eq!(repeat.as_ref().ok(), Some(&hold), "{code}: {repeat:?}");
        }
        if code != "A" {
            let repeat = again
                .pick_general_admission(&order, &section(code), quantity, HOLD)
                .await;
            assert_eq!(repeat.as_ref().ok(), Some(&hold), "{code}: {repeat:?}");
        }
        // A different request for the same order is still refused.
        let other = again
            .pick_best(&order, &section(code), quantity - 1, HOLD)
            .await;
        assert!(
            matches!(
                other,
                Err(SeatError::Invalid(InvalidRequest::OrderAlreadyHolds(_))
                    | SeatError::SoldOut { .. })
            ),
            "{code}: {other:?}"
        );
        counted += quantity;
        assert_eq!(
            again
                .buyer_ledger(&order)
                .await
                .unwrap()
                .active(again.now()),
            counted,
            "{code}: the allowance counts the hold once"
        );
        // The repeats gave back every seat they tried: only the first hold's seats are held.
        let held: Vec<SeatId> = again
            .list_section(event, &section(code))
            .await
            .unwrap()
            .into_iter()
            .filter(|v| matches!(v.state, SeatState::Held { .. }))
            .map(|v| v.seat)
            .collect();
        assert_eq!(held, hold.seat_ids(), "{code}");
    }
}

#[tokio::test]
async fn a_changed_per_buyer_limit_reaches_every_process_within_the_meta_ttl() {
    let topo = topology().await;
    let clock = Clock::manual();
    let opts = SeatStoreOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let ttl = opts.event_meta_ttl;
    // The process that writes the settings (the on-sale worker), and one that sells.
    let organizer = store_on(&topo, opts.clone()).await;
    let seller = store_on(&topo, opts).await;
    let event = EventId::new();
    organizer
        .load_event(&seated_inventory(event, 10, 4))
        .await
        .unwrap();
    let buyer = BuyerId::new();
    seller
        .hold(&order_for(event, buyer), &[seat(1), seat(2)], HOLD)
        .await
        .unwrap();

    // A reload with a lower limit: within the bound the seller enforces it.
    organizer
        .load_event(&seated_inventory(event, 10, 2))
        .await
        .unwrap();
    clock.advance(ttl);
    let over = seller
        .hold(&order_for(event, buyer), &[seat(3)], HOLD)
        .await;
    assert!(
        matches!(
            over,
            Err(SeatError::LimitReached {
                limit: 2,
                active: 2,
                ..
            })
        ),
        "{over:?}"
    );

    // The organizer raises it to 3 during the sale: one more fits, and no further.
    assert!(organizer.set_max_per_buyer(event, 3).await.unwrap());
    assert!(
        !organizer.set_max_per_buyer(event, 3).await.unwrap(),
        "setting it again changes nothing"
    );
    clock.advance(ttl);
    seller
        .hold(&order_for(event, buyer), &[seat(3)], HOLD)
        .await
        .expect("the raised limit");
    let over = seller
        .hold(&order_for(event, buyer), &[seat(4)], HOLD)
        .await;
    assert!(
        matches!(over, Err(SeatError::LimitReached { limit: 3, .. })),
        "{over:?}"
    );
    assert_eq!(seller.event_meta(event).await.unwrap().max_per_buyer, 3);

    assert!(matches!(
        organizer.set_max_per_buyer(event, 0).await,
        Err(SeatError::Invalid(_))
    ));
    assert!(matches!(
        organizer.set_max_per_buyer(EventId::new(), 3).await,
        Err(SeatError::UnknownEvent(_))
    ));
    // The sections are as loaded: setting the limit changed nothing else.
    assert_eq!(
        seller.event_meta(event).await.unwrap().sections.len(),
        1,
        "one section"
    );
}

/// Leaves the buyer's ledger as a confirm of `order` that died after its ledger step (the
/// order's entry marked sold) and before swapping any seat leaves it.
async fn crash_after_the_ledger_step_of_a_confirm(
    topo: &boxoffice_nats::Topology,
    store: &SeatStore,
    order: &OrderRef,
) {
    let mut ledger = store.buyer_ledger(order).await.unwrap();
    ledger.orders.get_mut(&order.order).unwrap().expires_at = None;
    // The buyer's ledger key, `b.<event>.<buyer>` (nats/src/namespace.rs).
    let key = format!("b.{}.{}", order.event, order.buyer);
    topo.seats
        .put(key, serde_json::to_vec(&ledger).unwrap().into())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_release_after_a_crash_mid_confirm_gives_the_buyer_allowance_back() {
    let topo = topology().await;
    let clock = Clock::manual();
    let store = store_on(
        &topo,
        SeatStoreOptions {
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 2))
        .await
        .unwrap();
    let buyer = BuyerId::new();
    let a = order_for(event, buyer);
    store
        .hold(&a, &[seat(1), seat(2)], Duration::from_secs(30))
        .await
        .unwrap();
    crash_after_the_ledger_step_of_a_confirm(&topo, &store, &a).await;
    // The holds lapse, and another buyer takes one of the seats.
    clock.advance(Duration::from_secs(40));
    store
        .hold(&order_for(event, BuyerId::new()), &[seat(1)], HOLD)
        .await
        .unwrap();
    // The order's workflow gives its seats back: one is another order's now.
    assert!(matches!(
        store.release(&a, &[seat(1), seat(2)]).await,
        Err(SeatError::NotOwner { .. })
    ));
    let ledger = store.buyer_ledger(&a).await.unwrap();
    assert_eq!(ledger.active(store.now()), 0, "{ledger:?}");
    store
        .hold(&order_for(event, buyer), &[seat(3), seat(4)], HOLD)
        .await
        .expect("the buyer's whole allowance is back");
}

#[tokio::test]
async fn the_allowance_check_repairs_a_ledger_the_seats_disagree_with_unless_it_moved() {
    let topo = topology().await;
    let clock = Clock::manual();
    let opts = SeatStoreOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let store = store_on(&topo, opts.clone()).await;
    // The reconciler runs in a process of its own.
    let checker = store_on(&topo, opts).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 6))
        .await
        .unwrap();
    let buyer = BuyerId::new();
    let sold = order_for(event, buyer);
    store.hold(&sold, &[seat(1), seat(2)], HOLD).await.unwrap();
    store.confirm(&sold, &[seat(1), seat(2)]).await.unwrap();
    let held = order_for(event, buyer);
    store.hold(&held, &[seat(3)], HOLD).await.unwrap();
    match checker.check_allowance(event, buyer).await.unwrap() {
        AllowanceCheck::Agrees(f) => assert_eq!((f.counted, f.owned), (3, 3)),
        other => panic!("{other:?}"),
    }

    // A confirm died after its ledger step; its holds lapsed and one went to another buyer.
    let crashed = order_for(event, buyer);
    store
        .hold(&crashed, &[seat(4), seat(5)], Duration::from_secs(10))
        .await
        .unwrap();
    crash_after_the_ledger_step_of_a_confirm(&topo, &store, &crashed).await;
    clock.advance(Duration::from_secs(20));
    store
        .hold(&order_for(event, BuyerId::new()), &[seat(4)], HOLD)
        .await
        .unwrap();
    match checker.check_allowance(event, buyer).await.unwrap() {
        AllowanceCheck::Repaired(f) => {
            assert_eq!((f.counted, f.owned), (5, 3));
            assert_eq!(f.orders, vec![crashed.order]);
        }
        other => panic!("{other:?}"),
    }
    let ledger = store.buyer_ledger(&sold).await.unwrap();
    assert_eq!(ledger.active(store.now()), 3);
    assert!(!ledger.orders.contains_key(&crashed.order));
    assert!(matches!(
        checker.check_allowance(event, buyer).await.unwrap(),
        AllowanceCheck::Agrees(_)
    ));

    // The same disagreement again, but the ledger moves between the check's read and its
    // write (the buyer takes another hold): the repair writes nothing.
    let crashed = order_for(event, buyer);
    store
        .hold(&crashed, &[seat(6)], Duration::from_secs(10))
        .await
        .unwrap();
    crash_after_the_ledger_step_of_a_confirm(&topo, &store, &crashed).await;
    clock.advance(Duration::from_secs(20));
    let finding = checker.inspect_allowance(event, buyer).await.unwrap();
    assert_eq!(finding.orders, vec![crashed.order]);
    let meanwhile = order_for(event, buyer);
    store.hold(&meanwhile, &[seat(7)], HOLD).await.unwrap();
    let before = store.buyer_ledger(&sold).await.unwrap();
    assert!(matches!(
        checker.repair_allowance(finding).await.unwrap(),
        AllowanceCheck::Moved(_)
    ));
    assert_eq!(store.buyer_ledger(&sold).await.unwrap(), before);
    // Checked again on fresh facts, it is repaired, the new hold kept.
    assert!(matches!(
        checker.check_allowance(event, buyer).await.unwrap(),
        AllowanceCheck::Repaired(_)
    ));
    let ledger = store.buyer_ledger(&sold).await.unwrap();
    assert!(!ledger.orders.contains_key(&crashed.order));
    assert!(ledger.orders.contains_key(&meanwhile.order));
}

/// ADR 0021: the hold intake takes is renewed once, as the checkout opens, to the full hold time
/// from then; a retry of the renewal (its first result never recorded) returns the first
/// renewal's expiry, ledger included; nobody else can renew it, and a lapsed one cannot be.
#[tokio::test]
async fn a_hold_is_renewed_once_from_the_checkout_opening_and_never_past_a_lapse() {
    let (store, clock, event) = manual_store(2, 8).await;
    let a = order_for(event, BuyerId::new());
    let seats = [seat(1), seat(2)];
    // Intake's hold: the hold time plus its allowance for the start.
    let taken = store
        .hold(&a, &seats, Duration::from_secs(1_860))
        .await
        .unwrap();
    // The checkout opens ten minutes later.
    clock.advance(Duration::from_secs(600));
    let opened_at = store.now();
    let renewed = store
        .renew(&a, &seats, taken.expires_at, HOLD)
        .await
        .unwrap();
    assert_eq!(renewed.expires_at, opened_at + 60_000);
    for s in &seats {
        assert!(matches!(
            store.seat(event, s).await.unwrap().unwrap().state,
            SeatState::Held { expires_at, order, .. } if expires_at == renewed.expires_at && order == a.order
        ));
    }
    let ledger = store.buyer_ledger(&a).await.unwrap();
    assert_eq!(ledger.orders[&a.order].expires_at, Some(renewed.expires_at));
    // A retry later returns the same expiry (the checkout it opens must be the same one).
    clock.advance(Duration::from_secs(5));
    let again = store
        .renew(&a, &seats, taken.expires_at, HOLD)
        .await
        .unwrap();
    assert_eq!(again.expires_at, renewed.expires_at);
    // Another order cannot renew it.
    let b = order_for(event, BuyerId::new());
    assert!(matches!(
        store.renew(&b, &seats, taken.expires_at, HOLD).await,
        Err(SeatError::NotOwner { .. })
    ));
    // Past the lapse (within the confirm margin already), nothing renews it.
    clock.advance(Duration::from_secs(54));
    assert!(matches!(
        store.renew(&a, &seats, taken.expires_at, HOLD).await,
        Err(SeatError::Lapsed { .. })
    ));
}

/// An event with a seated section `A` (seats 1..=12, seats 1..=4 a presale block) and a
/// standing section `FLOOR` (6 general units and a block of 4), the blocks open or gated.
fn presale_inventory(event: EventId, block: BlockId, open: bool) -> EventInventory {
    let mut blocks = std::collections::BTreeMap::new();
    blocks.insert(
        section("A"),
        vec![BlockMeta {
            id: block,
            units: BlockUnits::Seats((1..=4).map(|i| label(&i.to_string())).collect()),
            open,
        }],
    );
    blocks.insert(
        section("FLOOR"),
        vec![BlockMeta {
            id: block,
            units: BlockUnits::Quantity(4),
            open,
        }],
    );
    // A released seated block is not listed: its seats are plain seats of the section.
    if open {
        blocks.remove(&section("A"));
    }
    EventInventory {
        event,
        max_per_buyer: 8,
        blocks,
        sections: vec![
            SectionInventory {
                code: section("A"),
                units: SectionUnits::Seated((1..=12).map(|i| label(&i.to_string())).collect()),
            },
            SectionInventory {
                code: section("FLOOR"),
                units: SectionUnits::GeneralAdmission(6),
            },
        ],
    }
}

fn gated(block: BlockId) -> Vec<SeatId> {
    (1..=4)
        .map(seat)
        .chain((1..=4).map(|n| SeatId::new(section("FLOOR"), block_unit_label(block, n))))
        .collect()
}

/// Picks one unit at a time with `access` from both sections of [`presale_inventory`], each for
/// a new buyer, until both answer sold out; returns what it bought.
async fn sweep(store: &SeatStore, event: EventId, access: Access) -> Vec<SeatId> {
    let mut bought = Vec::new();
    for code in ["A", "FLOOR"] {
        for _ in 0..20 {
            let order = order_for(event, BuyerId::new());
            match store
                .pick_best_with(&order, &section(code), 1, HOLD, access)
                .await
            {
                Ok(hold) => bought.extend(hold.seat_ids()),
                Err(SeatError::SoldOut { .. }) => break,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }
    bought
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_general_claims_never_take_a_gated_unit() {
    let (_topo, stores) = four_stores().await;
    let (event, block) = (EventId::new(), BlockId::new());
    stores[0]
        .load_event(&presale_inventory(event, block, false))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..24usize {
        let store = stores[t % 4].clone();
        tasks.push(tokio::spawn(async move {
            let order = order_for(event, BuyerId::new());
            match t % 3 {
                0 => store.pick_best(&order, &section("A"), 2, HOLD).await,
                1 => {
                    store
                        .pick_general_admission(&order, &section("FLOOR"), 2, HOLD)
                        .await
                }
                // Naming a gated seat is refused as a taken seat is.
                _ => match store.hold(&order, &[seat(1 + (t as u32 % 4))], HOLD).await {
                    Err(SeatError::Taken { .. }) => Err(SeatError::Taken { seats: vec![] }),
                    other => panic!("a general hold of a gated seat: {other:?}"),
                },
            }
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(hold) => won.extend(hold.seat_ids()),
            Err(SeatError::SoldOut { .. } | SeatError::Taken { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    // Two-unit picks that collide undo their half-holds, so a loser may be told "sold out"
    // while the pair it raced for is being given back; buy whatever the race left, one at a
    // time, so the general sale is truly sold out before the gated units are looked at.
    won.extend(sweep(&stores[3], event, Access::General).await);
    assert_eq!(
        won.len(),
        8 + 6,
        "every general seat and unit sold, none twice: {won:?}"
    );
    won.sort();
    won.dedup();
    assert_eq!(won.len(), 8 + 6, "no general seat or unit sold twice");
    for s in gated(block) {
        assert!(!won.contains(&s), "{s} went to the general sale");
        let v = stores[1].seat(event, &s).await.unwrap().unwrap();
        assert_eq!(v.state, SeatState::Free, "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_block_claims_never_oversell_the_block_nor_leave_it() {
    let (_topo, stores) = four_stores().await;
    let (event, block) = (EventId::new(), BlockId::new());
    stores[0]
        .load_event(&presale_inventory(event, block, false))
        .await
        .unwrap();
    let access = Access::Block(block);
    let mut tasks = Vec::new();
    for t in 0..24usize {
        let store = stores[t % 4].clone();
        tasks.push(tokio::spawn(async move {
            let order = order_for(event, BuyerId::new());
            let code = section(if t % 2 == 0 { "A" } else { "FLOOR" });
            store.pick_best_with(&order, &code, 1, HOLD, access).await
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(hold) => won.extend(hold.seat_ids()),
            Err(SeatError::SoldOut { .. } | SeatError::Taken { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    won.extend(sweep(&stores[3], event, access).await);
    won.sort();
    let mut block_units = gated(block);
    block_units.sort();
    assert_eq!(won, block_units, "exactly the block, each unit once");
    // A block's buyer cannot name a general seat either.
    let order = order_for(event, BuyerId::new());
    assert!(matches!(
        stores[2].hold_with(&order, &[seat(9)], HOLD, access).await,
        Err(SeatError::Taken { .. })
    ));
}

#[tokio::test]
async fn releasing_a_block_opens_its_units_to_the_general_sale() {
    let (_topo, stores) = four_stores().await;
    let (event, block) = (EventId::new(), BlockId::new());
    let store = &stores[0];
    store
        .load_event(&presale_inventory(event, block, false))
        .await
        .unwrap();
    let early = order_for(event, BuyerId::new());
    let sold_in_presale = store
        .pick_best_with(&early, &section("FLOOR"), 1, HOLD, Access::Block(block))
        .await
        .unwrap();
    assert!(matches!(
        store
            .hold(&order_for(event, BuyerId::new()), &[seat(2)], HOLD)
            .await,
        Err(SeatError::Taken { .. })
    ));
    // The release reloads the event with the block open.
    let report = store
        .load_event(&presale_inventory(event, block, true))
        .await
        .unwrap();
    assert_eq!(report.created, 0, "no unit is created twice");
    store
        .hold(&order_for(event, BuyerId::new()), &[seat(2)], HOLD)
        .await
        .unwrap();
    // The block's standing units join the general pool; the one sold in presale stays sold.
    let mut picked = Vec::new();
    loop {
        match store
            .pick_general_admission(
                &order_for(event, BuyerId::new()),
                &section("FLOOR"),
                1,
                HOLD,
            )
            .await
        {
            Ok(h) => picked.extend(h.seat_ids()),
            Err(SeatError::SoldOut { available: 0, .. }) => break,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(picked.len(), 6 + 3, "{picked:?}");
    assert!(!picked.contains(&sold_in_presale.seat_ids()[0]));
    // And the block's own claims end with it.
    assert!(matches!(
        store
            .hold_with(
                &order_for(event, BuyerId::new()),
                &[seat(3)],
                HOLD,
                Access::Block(block)
            )
            .await,
        Err(SeatError::Taken { .. })
    ));
}
