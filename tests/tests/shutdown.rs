//! Shutdown leaves nothing running: once `boxoffice_gateway::run` or `boxoffice_workers::run`
//! returns, every task it started has ended (its background loops, and the followers and
//! connections they kept alive). Each service runs on a runtime of its own, as in its binary,
//! so the runtime's count of alive tasks is the service's alone: a loop that missed the stop
//! signal keeps itself, and the NATS connection it holds, in that count.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{future::Future, time::Duration};

use boxoffice_tests::{
    buyer::Buyer,
    on_own_runtime,
    platform::{Platform, PlatformOptions, gateway_config, wait_http},
    services,
};
use boxoffice_workflows::domain::OrderState;

/// How long tasks woken by the drop of what they followed (a room's follower, a connection's
/// driver) get to notice it after `run` returned.
const SETTLE: Duration = Duration::from_secs(2);

/// Runs the future `service` makes on a runtime of its own, to its end. Answers with what it
/// returned and how many tasks were still alive on that runtime after it had, allowing
/// [`SETTLE`].
fn counting_tasks<F, T>(
    service: impl FnOnce() -> F + Send + 'static,
) -> tokio::sync::oneshot::Receiver<(T, usize)>
where
    F: Future<Output = T>,
    T: Send + 'static,
{
    on_own_runtime(move || async move {
        let returned = service().await;
        let metrics = tokio::runtime::Handle::current().metrics();
        let deadline = tokio::time::Instant::now() + SETTLE;
        while metrics.num_alive_tasks() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (returned, metrics.num_alive_tasks())
    })
}

fn listener() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn the_gateway_leaves_no_task_running_once_it_returns() {
    // An event on sale: the catalog, the pacer, the waiting room and availability have work.
    let p = Platform::start(PlatformOptions::default()).await;
    let config = gateway_config(&services().nats_url, p.topology.ns.prefix(), &p.db_url, &[]);
    let (listener, base) = listener();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = counting_tasks(move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        boxoffice_gateway::run(config, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    wait_http(&base).await;

    // Every loop at work: a join batched and followed, the pacer admitting on availability
    // and the core's health, the catalog and seats read.
    let buyer = Buyer::new(&base).await;
    buyer.admitted(p.event, Duration::from_secs(30)).await;
    let (status, body) = buyer.get(&format!("/api/v1/events/{}", p.event)).await;
    assert_eq!(status, 200, "{body}");

    stop.send(()).unwrap();
    let (returned, alive) = tokio::time::timeout(Duration::from_secs(30), gateway)
        .await
        .expect("the gateway returns")
        .unwrap();
    returned.expect("clean exit");
    assert_eq!(alive, 0, "tasks still running after the gateway returned");
}

#[tokio::test]
async fn the_worker_leaves_no_task_running_once_it_returns() {
    let p = Platform::start(PlatformOptions::default()).await;
    let config = p.worker_config();
    let (listener, admin) = listener();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = counting_tasks(move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        boxoffice_workers::run(config, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    wait_http(&admin).await;

    // The intake holds, the order workflow runs: an order waiting for its payment.
    let intent = p.intent(vec![p.seat(1)], 60);
    p.submit(&intent).await;
    p.wait_state(
        intent.order_id,
        OrderState::AwaitingPayment,
        Duration::from_secs(60),
    )
    .await;

    stop.send(()).unwrap();
    let (returned, alive) = tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("the worker returns")
        .unwrap();
    returned.expect("clean exit");
    assert_eq!(alive, 0, "tasks still running after the worker returned");
}
