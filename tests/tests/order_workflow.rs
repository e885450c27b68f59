//! The order workflow's seat half on the real Temporal dev server, with a worker in this
//! process: authorised → seats sold; declined → released; canceled → released; no payment →
//! released at the hold's deadline; a second, contrary verdict changes nothing.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_nats::{
    BuyerId, EventId, OrderId,
    seat::{OrderRef, SeatState, SeatStore, SeatStoreOptions},
};
use boxoffice_tests::{seat, seated_inventory, services, store_on, topology};
use boxoffice_workflows::{
    domain::OrderState,
    order::{OrderInput, OrderWorkflow, PaymentOutcome, SeatActivities, workflow_id},
};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// A signal a test sends.
enum Verdict {
    Pay(PaymentOutcome),
    Cancel,
}
use Verdict::{Cancel, Pay};

async fn client() -> Client {
    let url: url::Url = services().temporal_url.parse().unwrap();
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .unwrap();
    Client::new(connection, ClientOptions::new("default").build()).unwrap()
}

/// Runs a worker for `task_queue` on a thread of its own until the test process ends.
fn spawn_worker(task_queue: String, seats: SeatStore) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
            let options = WorkerOptions::new(task_queue)
                .register_workflow::<OrderWorkflow>()
                .unwrap()
                .register_activities(SeatActivities { seats })
                .build();
            let mut worker = Worker::new(&runtime, client().await, options).unwrap();
            worker.run().await.unwrap();
        });
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_outcomes_and_the_hold_deadline_end_the_order_with_the_right_seats() {
    let topo = topology().await;
    let store = store_on(&topo, SeatStoreOptions::default()).await;
    let event = EventId::new();
    store
        .load_event(&seated_inventory(event, 10, 8))
        .await
        .unwrap();
    let task_queue = format!("orders-{}", topo.ns.prefix());
    spawn_worker(
        task_queue.clone(),
        store_on(&topo, SeatStoreOptions::default()).await,
    );
    let client = client().await;

    // (seats, hold, verdicts sent, expected end, expected seat state)
    let cases = [
        (
            vec![seat(1), seat(2)],
            60,
            vec![
                Pay(PaymentOutcome::Authorized),
                Pay(PaymentOutcome::Declined),
            ],
            OrderState::Confirmed,
        ),
        (
            vec![seat(3)],
            60,
            vec![
                Pay(PaymentOutcome::Declined),
                Pay(PaymentOutcome::Authorized),
            ],
            OrderState::PaymentFailed,
        ),
        (
            vec![seat(5), seat(6)],
            60,
            vec![Cancel],
            OrderState::Canceled,
        ),
        (vec![seat(4)], 5, vec![], OrderState::Expired),
    ];
    let mut runs = Vec::new();
    for (seats, hold_s, verdicts, want) in cases {
        let order = OrderRef {
            event,
            order: OrderId::new(),
            buyer: BuyerId::new(),
        };
        let hold = store
            .hold(&order, &seats, Duration::from_secs(hold_s))
            .await
            .unwrap();
        let handle = client
            .start_workflow(
                OrderWorkflow::run,
                OrderInput { hold },
                WorkflowStartOptions::new(task_queue.clone(), workflow_id(order.order)).build(),
            )
            .await
            .unwrap();
        for v in verdicts {
            let sent = match v {
                Pay(outcome) => {
                    handle
                        .signal(
                            OrderWorkflow::payment,
                            outcome,
                            WorkflowSignalOptions::default(),
                        )
                        .await
                }
                Cancel => {
                    handle
                        .signal(OrderWorkflow::cancel, (), WorkflowSignalOptions::default())
                        .await
                }
            };
            sent.unwrap();
        }
        runs.push((order, seats, handle, want));
    }
    for (order, seats, handle, want) in runs {
        let got = tokio::time::timeout(
            Duration::from_secs(60),
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("workflow ends")
        .unwrap();
        assert_eq!(got, want);
        // `BOXOFFICE_RECORD_HISTORIES=1 ./ops/test.sh -p boxoffice-tests --test order_workflow`
        // refreshes the fixtures the replay test (workflows/tests/replay.rs) runs every time.
        if std::env::var_os("BOXOFFICE_RECORD_HISTORIES").is_some() {
            let json = handle
                .fetch_history(Default::default())
                .to_json()
                .await
                .unwrap();
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../workflows/tests/histories");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("order-{want}.json")), json).unwrap();
        }
        for s in seats {
            let state = store.seat(event, &s).await.unwrap().unwrap().state;
            match want {
                OrderState::Confirmed => assert!(
                    matches!(state, SeatState::Sold { order: o, .. } if o == order.order),
                    "{s}: {state:?}"
                ),
                _ => assert_eq!(state, SeatState::Free, "{s} released"),
            }
        }
    }
}
