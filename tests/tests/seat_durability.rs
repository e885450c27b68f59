//! The seat store across a NATS server killed with SIGKILL mid-sale and restarted: every
//! acknowledged hold and sale is still there, and the same store instance carries on once its
//! connection is back. (A killed process keeps what reached the page cache; surviving power loss
//! is what `sync_interval: always` adds, which a test on one machine cannot show.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::{Duration, Instant};

use boxoffice_nats::{
    BuyerId, EventId, Namespace, OrderId, SeatError, Topology,
    seat::{OrderRef, SeatState, SeatStore, SeatStoreOptions},
};
use boxoffice_tests::{PrivateNats, seat, seated_inventory};

/// Retries `f` while NATS is coming back (`Unavailable`), up to 30 s.
async fn until_available<T, F, Fut>(mut f: F) -> Result<T, SeatError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SeatError>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match f().await {
            Err(SeatError::Unavailable(e)) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "waiting for NATS");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

#[tokio::test]
async fn acknowledged_holds_and_sales_survive_a_killed_server() {
    boxoffice_tests::init_tracing();
    let mut server = PrivateNats::start();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(server.url())
        .await
        .unwrap();
    let topology =
        Topology::provision(async_nats::jetstream::new(client), Namespace::for_test(), 1)
            .await
            .unwrap();
    let store = SeatStore::new(topology.seats.clone(), SeatStoreOptions::default());
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 20, 8))
        .await
        .unwrap();
    let a = OrderRef {
        event,
        order: OrderId::new(),
        buyer: BuyerId::new(),
    };
    store
        .hold(&a, &[seat(1), seat(2), seat(3)], Duration::from_secs(600))
        .await
        .unwrap();
    store
        .confirm(&a, &[seat(1), seat(2), seat(3)])
        .await
        .unwrap();
    let b = OrderRef {
        event,
        order: OrderId::new(),
        buyer: BuyerId::new(),
    };
    store
        .hold(&b, &[seat(4), seat(5)], Duration::from_secs(600))
        .await
        .unwrap();

    // Power cut: no graceful shutdown, nothing flushed on the way out.
    server.kill();
    server.restart();

    // A fresh process sees exactly what was acknowledged.
    let fresh_client = async_nats::connect(server.url()).await.unwrap();
    let kv = async_nats::jetstream::new(fresh_client)
        .get_key_value(topology.ns.seat_bucket())
        .await
        .unwrap();
    let fresh = SeatStore::new(kv, SeatStoreOptions::default());
    for (n, want) in [(1, a.order), (2, a.order), (3, a.order)] {
        let id = seat(n);
        let got = until_available(|| fresh.seat(event, &id))
            .await
            .unwrap()
            .unwrap()
            .state;
        assert!(
            matches!(got, SeatState::Sold { order, .. } if order == want),
            "seat {n}: {got:?}"
        );
    }
    for n in [4, 5] {
        let got = fresh.seat(event, &seat(n)).await.unwrap().unwrap().state;
        assert!(
            matches!(got, SeatState::Held { order, .. } if order == b.order),
            "seat {n}: {got:?}"
        );
    }
    assert_eq!(fresh.buyer_ledger(&a).await.unwrap().active(fresh.now()), 3);

    // The original store instance reconnects and carries on: contention still resolves by CAS.
    let c = OrderRef {
        event,
        order: OrderId::new(),
        buyer: BuyerId::new(),
    };
    let (s4, s5, s6) = ([seat(4)], [seat(4), seat(5)], [seat(6)]);
    let taken = until_available(|| store.hold(&c, &s4, Duration::from_secs(60))).await;
    assert!(matches!(taken, Err(SeatError::Taken { .. })), "{taken:?}");
    until_available(|| store.hold(&c, &s6, Duration::from_secs(60)))
        .await
        .unwrap();
    until_available(|| store.confirm(&b, &s5)).await.unwrap();
}
