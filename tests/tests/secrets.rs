//! Invariant 8 with the real binaries: outside development mode, the gateway and the worker
//! refuse to start while a secret is unset or a development value, before they listen or
//! connect to anything, with one line naming the setting; with secrets of their own they start.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{process::Stdio, time::Duration};

use boxoffice_gateway::config::DEV_TOKEN_KEY;
use boxoffice_nats::Namespace;
use boxoffice_tests::{bin_dir, database_url, free_port, services};
use boxoffice_workflows::{
    order::{TicketSigner, tickets::DEV_SEED_HEX},
    payments::{DEV_API_KEY, DEV_WEBHOOK_SECRET},
};

const GATEWAY: &str = "boxoffice-gateway";
const WORKER: &str = "boxoffice-worker";

// Secrets of our own, shaped as `openssl rand -hex 32` makes them.
const OWN_TOKEN_KEYS: &str = "k1:6f0c1e9a4b7d2f8e3a5c0b9d1e7f2a4c6b8d0e3f5a7c9b1d3e5f7a9c1b3d5e7f";
const OWN_WEBHOOK_SECRET: &str = "whsec_2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b2d4f6a8c";
const OWN_SEED: &str = "8e1f3a5c7b9d0e2f4a6c8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3b5d7f9e";
const OWN_API_KEY: &str = "sk_own_5c7e9a1b3d5f7a9c0e2b4d6f8a1c3e5b";

/// Addresses nothing listens on: had a binary got past the check, it would hang connecting
/// (NATS retries forever) instead of exiting at once.
const DEAD: [(&str, &str); 5] = [
    ("BOXOFFICE_NATS_URL", "nats://127.0.0.1:9"),
    (
        "BOXOFFICE_DATABASE_URL",
        "postgres://postgres@127.0.0.1:9/nothing",
    ),
    ("BOXOFFICE_TEMPORAL_URL", "http://127.0.0.1:9"),
    ("BOXOFFICE_HTTP_ADDR", "127.0.0.1:0"),
    ("BOXOFFICE_WORKER_ADMIN_ADDR", "127.0.0.1:0"),
];

/// Runs binary `name` with nothing but the dead addresses and `env` (in particular no
/// `BOXOFFICE_DEV_MODE`, which `ops/test.sh` sets), asserts it exits 2 within 5 s with one
/// line on stderr, and returns that line.
async fn refusal(name: &str, env: &[(&str, &str)]) -> String {
    let bin = bin_dir().join(name);
    assert!(bin.exists(), "{} not built", bin.display());
    let run = tokio::process::Command::new(&bin)
        .env_clear()
        .envs(DEAD)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap_or_else(|_| panic!("{name} {env:?} still running after 5 s: it did not refuse"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{name} {env:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{name} logged before refusing");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{name}: one line expected, got {stderr:?}");
    lines[0].to_owned()
}

fn refused_for(var: &str, what: &str) -> String {
    format!(
        "error: {var} is unset or the development {what}; \
         set your own (or BOXOFFICE_DEV_MODE=1 for local development)"
    )
}

#[tokio::test]
async fn the_gateway_refuses_development_or_missing_secrets_outside_development_mode() {
    let keys = refused_for("BOXOFFICE_TOKEN_KEYS", "key");
    assert_eq!(refusal(GATEWAY, &[]).await, keys);
    assert_eq!(refusal(GATEWAY, &[("BOXOFFICE_DEV_MODE", "0")]).await, keys);
    // Set to the development value on purpose (copied from a laptop), alone or in a rotation.
    let rotation = format!("{OWN_TOKEN_KEYS},{DEV_TOKEN_KEY}");
    for dev in [DEV_TOKEN_KEY, rotation.as_str()] {
        let line = refusal(
            GATEWAY,
            &[
                ("BOXOFFICE_TOKEN_KEYS", dev),
                ("BOXOFFICE_PAYMENTS_WEBHOOK_SECRET", OWN_WEBHOOK_SECRET),
            ],
        )
        .await;
        assert_eq!(line, keys);
    }
    let webhook = refused_for("BOXOFFICE_PAYMENTS_WEBHOOK_SECRET", "secret");
    assert_eq!(
        refusal(GATEWAY, &[("BOXOFFICE_TOKEN_KEYS", OWN_TOKEN_KEYS)]).await,
        webhook
    );
    let line = refusal(
        GATEWAY,
        &[
            ("BOXOFFICE_TOKEN_KEYS", OWN_TOKEN_KEYS),
            ("BOXOFFICE_PAYMENTS_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        ],
    )
    .await;
    assert_eq!(line, webhook);
    // The tickets' public key: not secret, but the development one would verify development
    // tickets at a real door.
    let ticket_key = refused_for("BOXOFFICE_TICKET_PUBLIC_KEY", "key");
    let line = refusal(
        GATEWAY,
        &[
            ("BOXOFFICE_TOKEN_KEYS", OWN_TOKEN_KEYS),
            ("BOXOFFICE_PAYMENTS_WEBHOOK_SECRET", OWN_WEBHOOK_SECRET),
        ],
    )
    .await;
    assert_eq!(line, ticket_key);
    // Given but empty: a flag of its own name.
    let line = refusal(
        GATEWAY,
        &[
            ("BOXOFFICE_TOKEN_KEYS", OWN_TOKEN_KEYS),
            ("BOXOFFICE_PAYMENTS_WEBHOOK_SECRET", " "),
        ],
    )
    .await;
    assert!(
        line.starts_with("error: BOXOFFICE_PAYMENTS_WEBHOOK_SECRET is empty;"),
        "{line}"
    );
}

#[tokio::test]
async fn the_worker_refuses_development_or_missing_secrets_outside_development_mode() {
    let seed = refused_for("BOXOFFICE_TICKET_SIGNING_SEED", "seed");
    assert_eq!(refusal(WORKER, &[]).await, seed);
    let line = refusal(
        WORKER,
        &[
            ("BOXOFFICE_TICKET_SIGNING_SEED", DEV_SEED_HEX),
            ("BOXOFFICE_PAYMENTS_API_KEY", OWN_API_KEY),
        ],
    )
    .await;
    assert_eq!(line, seed);
    let api_key = refused_for("BOXOFFICE_PAYMENTS_API_KEY", "API key");
    assert_eq!(
        refusal(WORKER, &[("BOXOFFICE_TICKET_SIGNING_SEED", OWN_SEED)]).await,
        api_key
    );
    let line = refusal(
        WORKER,
        &[
            ("BOXOFFICE_TICKET_SIGNING_SEED", OWN_SEED),
            ("BOXOFFICE_PAYMENTS_API_KEY", DEV_API_KEY),
        ],
    )
    .await;
    assert_eq!(line, api_key);
}

/// Runs binary `name` without development mode, with `env` and the test services, and asserts
/// its `/healthz` on `port` answers 200 within 15 s (it got past the check and connected).
async fn starts(name: &str, port: u16, env: &[(&str, String)]) {
    let bin = bin_dir().join(name);
    let mut child = tokio::process::Command::new(&bin)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BOXOFFICE_NATS_URL", &services().nats_url)
        .env("BOXOFFICE_NATS_PREFIX", Namespace::for_test().prefix())
        .env("BOXOFFICE_DATABASE_URL", database_url("postgres"))
        .env("BOXOFFICE_TEMPORAL_URL", &services().temporal_url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = e.read_to_string(&mut stderr).await;
            }
            panic!("{name} exited ({status}) with its own secrets: {stderr}");
        }
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} did not come up within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn with_secrets_of_its_own_the_gateway_starts_without_development_mode() {
    let port = free_port();
    starts(
        GATEWAY,
        port,
        &[
            ("BOXOFFICE_HTTP_ADDR", format!("127.0.0.1:{port}")),
            ("BOXOFFICE_TOKEN_KEYS", OWN_TOKEN_KEYS.into()),
            (
                "BOXOFFICE_PAYMENTS_WEBHOOK_SECRET",
                OWN_WEBHOOK_SECRET.into(),
            ),
            (
                "BOXOFFICE_TICKET_PUBLIC_KEY",
                TicketSigner::from_seed_hex(OWN_SEED)
                    .unwrap()
                    .public_key_hex(),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn with_secrets_of_its_own_the_worker_starts_without_development_mode() {
    let port = free_port();
    starts(
        WORKER,
        port,
        &[
            ("BOXOFFICE_WORKER_ADMIN_ADDR", format!("127.0.0.1:{port}")),
            ("BOXOFFICE_TICKET_SIGNING_SEED", OWN_SEED.into()),
            ("BOXOFFICE_PAYMENTS_API_KEY", OWN_API_KEY.into()),
            (
                "BOXOFFICE_TASK_QUEUE",
                format!("secrets-{}", uuid::Uuid::new_v4().simple()),
            ),
        ],
    )
    .await;
}
