//! `POST /webhooks/payments`: signed callbacks from the real payments sandbox are recorded once
//! each, duplicates answered 200; forged, stale, unsigned and malformed ones are 400 and write
//! nothing.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::time::Duration;

use boxoffice_gateway::GatewayConfig;
use boxoffice_nats::Namespace;
use boxoffice_payments_sandbox::{SandboxConfig, webhooks::sign};
use boxoffice_tests::{fresh_database_with_url, services};
use boxoffice_workflows::payments::{
    NewPayment, PaymentProvider,
    http::{HttpProvider, ProviderConfig},
};
use clap::Parser;
use serde_json::Value;

const SECRET: &str = "whsec_webhook_test";

async fn gateway(db_url: &str) -> String {
    let config = GatewayConfig::try_parse_from([
        "boxoffice-gateway",
        "--dev-mode",
        "--nats-url",
        &services().nats_url,
        "--nats-prefix",
        Namespace::for_test().prefix(),
        "--database-url",
        db_url,
        "--payments-webhook-secret",
        SECRET,
        "--temporal-url",
        &services().temporal_url,
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(boxoffice_gateway::run(
        config,
        listener,
        std::future::pending(),
    ));
    base
}

async fn inbox(db: &sqlx::PgPool) -> Vec<(String, String)> {
    sqlx::query!("select provider_event_id, event_type from webhook_inbox order by received_at")
        .fetch_all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.provider_event_id, r.event_type))
        .collect()
}

#[tokio::test]
async fn duplicated_callbacks_from_the_sandbox_are_recorded_once_each() {
    let (db, db_url) = fresh_database_with_url().await;
    let base = gateway(&db_url).await;
    let dir = std::env::temp_dir().join(format!("sandbox-{}", uuid::Uuid::new_v4().simple()));
    let config = SandboxConfig::try_parse_from([
        "sandbox",
        "--data-dir",
        dir.to_str().unwrap(),
        "--webhook-url",
        &format!("{base}/webhooks/payments"),
        "--webhook-secret",
        SECRET,
        "--webhook-duplicate-rate",
        "1",
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(boxoffice_payments_sandbox::run(
        config,
        listener,
        std::future::pending(),
    ));
    let provider = HttpProvider::new(&ProviderConfig {
        url: sandbox.clone(),
        api_key: "sk_sandbox".into(),
    })
    .unwrap();

    let order = uuid::Uuid::now_v7();
    let intent = provider
        .create(
            "k1",
            &NewPayment {
                amount: 5_000,
                currency: "EUR".into(),
                order_id: order.to_string(),
                expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
            },
        )
        .await
        .unwrap();
    let paid = reqwest::Client::new()
        .post(format!("{sandbox}/checkout/{}", intent.id))
        .body("outcome=succeed")
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    provider.capture("k2", &intent.id).await.unwrap();

    for _ in 0..100 {
        if inbox(&db).await.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the duplicates land too, then check they changed nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = inbox(&db).await;
    let kinds: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(kinds.len(), 2, "{rows:?}");
    assert!(
        kinds.contains(&"payment_intent.authorized") && kinds.contains(&"payment_intent.captured"),
        "{rows:?}"
    );
    let attached = sqlx::query_scalar!(
        r#"select count(*) as "attached!" from webhook_inbox where order_id = $1"#,
        order,
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(attached, 2);
}

async fn post(base: &str, signature: Option<String>, body: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhooks/payments"))
        .body(body.to_owned());
    if let Some(s) = signature {
        req = req.header("Boxoffice-Signature", s);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn forged_stale_unsigned_or_malformed_callbacks_are_400_and_write_nothing() {
    let (db, db_url) = fresh_database_with_url().await;
    let base = gateway(&db_url).await;
    let body = r#"{"id":"evt_1","type":"payment_intent.authorized","created":1,"data":{"object":{"id":"pi_1","order_id":"nope"}}}"#;
    let now = chrono::Utc::now().timestamp();

    for (what, sig, payload) in [
        (
            "forged",
            Some(sign("wrong-secret", now, body.as_bytes())),
            body,
        ),
        (
            "stale",
            Some(sign(SECRET, now - 3_600, body.as_bytes())),
            body,
        ),
        ("unsigned", None, body),
        (
            "tampered",
            Some(sign(SECRET, now, body.as_bytes())),
            &body.replace("pi_1", "pi_2"),
        ),
        ("not json", Some(sign(SECRET, now, b"{oops")), "{oops"),
    ] {
        let (status, reply) = post(&base, sig, payload).await;
        assert_eq!(status, 400, "{what}: {reply}");
        assert!(reply["error"]["code"].is_string(), "{what}: {reply}");
    }
    assert!(inbox(&db).await.is_empty(), "nothing written");

    let good = sign(SECRET, now, body.as_bytes());
    let (status, reply) = post(&base, Some(good.clone()), body).await;
    assert_eq!((status, reply["duplicate"].as_bool()), (200, Some(false)));
    let (status, reply) = post(&base, Some(good), body).await;
    assert_eq!(
        (status, reply["duplicate"].as_bool()),
        (200, Some(true)),
        "a duplicate is acknowledged"
    );
    assert_eq!(inbox(&db).await.len(), 1);
}
