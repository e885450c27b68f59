//! The gateway and worker processes: probes against real dependencies, readiness failing when a
//! dependency is down, and a clean exit on SIGTERM.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_gateway::GatewayConfig;
use boxoffice_nats::Namespace;
use boxoffice_tests::{database_url, free_port, services};
use boxoffice_workers::WorkerConfig;
use clap::Parser;
use serde_json::Value;

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

fn gateway_config(db_url: &str) -> GatewayConfig {
    let s = services();
    GatewayConfig::try_parse_from([
        "boxoffice-gateway",
        "--dev-mode",
        "--nats-url",
        &s.nats_url,
        "--nats-prefix",
        Namespace::for_test().prefix(),
        "--database-url",
        db_url,
    ])
    .expect("gateway config")
}

/// A database URL nothing listens on (port 9 is "discard", closed on loopback).
const DEAD_DB: &str = "postgres://postgres@127.0.0.1:9/nothing";

#[tokio::test]
async fn the_gateway_serves_health_readiness_and_metrics_and_stops_on_request() {
    boxoffice_tests::fresh_database().await;
    let config = gateway_config(&database_url("postgres"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(boxoffice_gateway::run(config, listener, async {
        let _ = stopped.await;
    }));

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ready"
    );
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("boxoffice_") || body.is_empty() || body.contains('#'),
        "{body}"
    );
    let (status, body) = get(&format!("{base}/no-such-route")).await;
    assert_eq!(status, 404, "{body}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops")
        .unwrap()
        .expect("clean exit");
}

#[tokio::test]
async fn readiness_fails_with_a_json_error_naming_the_dependency_that_is_down_by_a_code() {
    let config = gateway_config(DEAD_DB);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(boxoffice_gateway::run(
        config,
        listener,
        std::future::pending(),
    ));
    // Liveness does not depend on PostgreSQL; readiness does.
    let (status, _) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "not_ready");
    let postgres = v["error"]["failing"]["postgres"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["unavailable", "timeout"].contains(&postgres),
        "a code, never the driver's words (hosts, users, databases): {body}"
    );
    for leak in ["127.0.0.1", ":9", "nothing", "connect", "refused", "pool"] {
        assert!(!body.contains(leak), "{leak:?} leaked: {body}");
    }
    assert!(
        v["error"]["failing"].get("nats").is_none(),
        "NATS is up: {body}"
    );
    server.abort();
}

fn worker_config(temporal_url: &str) -> WorkerConfig {
    let s = services();
    WorkerConfig::try_parse_from([
        "boxoffice-worker",
        "--dev-mode",
        "--nats-url",
        &s.nats_url,
        "--nats-prefix",
        Namespace::for_test().prefix(),
        "--database-url",
        &database_url("postgres"),
        "--temporal-url",
        temporal_url,
    ])
    .expect("worker config")
}

#[tokio::test]
async fn the_worker_is_ready_when_nats_postgres_and_temporal_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = run_worker(worker_config(&services().temporal_url), listener, async {
        let _ = stopped.await;
    });
    let mut ready = (0, String::new());
    for _ in 0..50 {
        match reqwest::get(format!("{base}/readyz")).await {
            Ok(r) => {
                ready = (r.status().as_u16(), r.text().await.unwrap());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(ready.0, 200, "{}", ready.1);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("stops")
        .unwrap()
        .expect("clean exit");
}

#[tokio::test]
async fn the_worker_refuses_to_start_without_temporal() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        run_worker(
            worker_config("http://127.0.0.1:9"),
            listener,
            std::future::pending(),
        ),
    )
    .await
    .expect("gives up within 30 s")
    .unwrap();
    assert!(
        matches!(r, Err(boxoffice_workers::WorkerError::Temporal { .. })),
        "{r:?}"
    );
}

/// Runs `boxoffice_workers::run` the way its binary does: on a runtime of its own.
fn run_worker(
    config: WorkerConfig,
    listener: std::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::sync::oneshot::Receiver<Result<(), boxoffice_workers::WorkerError>> {
    boxoffice_tests::on_own_runtime(move || async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        boxoffice_workers::run(config, listener, shutdown).await
    })
}

/// Runs a platform binary as an operator does, waits for its `/healthz` on `port`, sends SIGTERM
/// and asserts it exits 0 within 15 s.
async fn exits_cleanly_on_sigterm(name: &str, port: u16, env: &[(&str, String)]) {
    let bin = boxoffice_tests::bin_dir().join(name);
    assert!(bin.exists(), "{} not built", bin.display());
    let mut child = tokio::process::Command::new(&bin)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BOXOFFICE_DEV_MODE", "1")
        .env("BOXOFFICE_NATS_URL", &services().nats_url)
        .env("BOXOFFICE_NATS_PREFIX", Namespace::for_test().prefix())
        .env("BOXOFFICE_DATABASE_URL", database_url("postgres"))
        .stdout(quiet())
        .stderr(quiet())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut up = false;
    for _ in 0..150 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "{name} did not come up");
    let pid = child.id().expect("pid").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{name} exit status {status:?}");
}

/// The child's logs reach the test output only with `TEST_LOG` set.
fn quiet() -> std::process::Stdio {
    if std::env::var_os("TEST_LOG").is_some() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    }
}

#[tokio::test]
async fn the_gateway_binary_exits_cleanly_on_sigterm() {
    let port = free_port();
    exits_cleanly_on_sigterm(
        "boxoffice-gateway",
        port,
        &[("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{port}"))],
    )
    .await;
}

#[tokio::test]
async fn the_worker_binary_exits_cleanly_on_sigterm() {
    let port = free_port();
    exits_cleanly_on_sigterm(
        "boxoffice-worker",
        port,
        &[
            ("BOXOFFICE_WORKER_ADMIN_ADDR", format!("127.0.0.1:{port}")),
            ("BOXOFFICE_TEMPORAL_URL", services().temporal_url.clone()),
        ],
    )
    .await;
}
