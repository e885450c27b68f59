//! The payments sandbox through the platform's own provider client: idempotency, the payment
//! lifecycle, signed webhooks, session expiry, a restart, and injected faults.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{sync::Arc, time::Duration};

use axum::{body::Bytes, http::HeaderMap, routing::post};
use boxoffice_payments_sandbox::SandboxConfig;
use boxoffice_workflows::payments::{
    NewPayment, PaymentError, PaymentProvider, PaymentStatus,
    http::{HttpProvider, ProviderConfig},
    webhook,
};
use clap::Parser;
use serde_json::Value;
use tokio::sync::Mutex;

const SECRET: &str = "whsec_test";

/// Webhooks received, each checked against the signature on arrival.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<Value>>>);

impl Inbox {
    async fn start(&self) -> String {
        let inbox = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let inbox = inbox.clone();
                async move {
                    let sig = headers
                        .get(webhook::SIGNATURE_HEADER)
                        .unwrap()
                        .to_str()
                        .unwrap();
                    webhook::verify(SECRET, sig, &body, chrono::Utc::now().timestamp(), 300)
                        .expect("valid signature");
                    inbox
                        .0
                        .lock()
                        .await
                        .push(serde_json::from_slice(&body).unwrap());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// Waits until `n` events have arrived (or 10 s), and returns them.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            if self.0.lock().await.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.0.lock().await.clone()
    }
}

struct Sandbox {
    provider: HttpProvider,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Sandbox {
    async fn start(dir: &std::path::Path, webhook_url: Option<&str>, faults: &[&str]) -> Self {
        let mut args = vec![
            "sandbox".to_owned(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--webhook-secret".into(),
            SECRET.into(),
        ];
        if let Some(url) = webhook_url {
            args.extend(["--webhook-url".into(), url.to_owned()]);
        }
        args.extend(faults.iter().map(|s| s.to_string()));
        let config = SandboxConfig::try_parse_from(args).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(boxoffice_payments_sandbox::run(config, listener, async {
            let _ = stopped.await;
        }));
        let provider = HttpProvider::new(&ProviderConfig {
            url: base.clone(),
            api_key: "sk_sandbox".into(),
        })
        .unwrap();
        Self {
            provider,
            base,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.task.await;
    }
}

fn payment(order: &str, expires_in: Duration) -> NewPayment {
    NewPayment {
        amount: 12_345,
        currency: "EUR".into(),
        order_id: order.into(),
        expires_at: chrono::Utc::now() + chrono::Duration::from_std(expires_in).unwrap(),
    }
}

fn tmp() -> std::path::PathBuf {
    let base = std::env::var("BOXOFFICE_TEST_TMP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    base.join(format!("sandbox-{}", uuid::Uuid::new_v4().simple()))
}

/// What the buyer does at the hosted checkout.
async fn buyer_pays(base: &str, id: &str, outcome: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/checkout/{id}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("outcome={outcome}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_payment_goes_through_authorise_capture_refund_with_signed_webhooks() {
    let inbox = Inbox::default();
    let hook = inbox.start().await;
    let sandbox = Sandbox::start(&tmp(), Some(&hook), &[]).await;
    let p = &sandbox.provider;
    let intent = p
        .create("create-1", &payment("order-1", Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!(intent.status, PaymentStatus::RequiresConfirmation);
    assert!(
        intent
            .checkout_url
            .ends_with(&format!("/checkout/{}", intent.id))
    );
    assert!(
        matches!(
            p.capture("cap-0", &intent.id).await,
            Err(PaymentError::Refused { status: 409, .. })
        ),
        "no capture before authorisation"
    );
    assert_eq!(buyer_pays(&sandbox.base, &intent.id, "succeed").await, 200);
    assert_eq!(
        p.retrieve(&intent.id).await.unwrap().status,
        PaymentStatus::Authorized
    );
    let captured = p.capture("cap-1", &intent.id).await.unwrap();
    assert_eq!(
        (captured.status, captured.amount_captured),
        (PaymentStatus::Captured, 12_345)
    );
    // A retried capture with the same key repeats the answer; it does not fail or capture twice.
    assert_eq!(p.capture("cap-1", &intent.id).await.unwrap(), captured);
    assert_eq!(p.refund("ref-1", &intent.id).await.unwrap(), 12_345);
    assert_eq!(
        p.refund("ref-1", &intent.id).await.unwrap(),
        12_345,
        "idempotent refund"
    );
    assert!(
        matches!(
            p.refund("ref-2", &intent.id).await,
            Err(PaymentError::Refused { status: 409, .. })
        ),
        "nothing left"
    );
    let after = p.retrieve(&intent.id).await.unwrap();
    assert_eq!(
        (after.status, after.amount_refunded),
        (PaymentStatus::Refunded, 12_345)
    );

    let events = inbox.wait_for(3).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "payment_intent.authorized",
            "payment_intent.captured",
            "charge.refunded"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e["data"]["object"]["id"] == intent.id.as_str())
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_and_declines_and_voids_are_final() {
    let sandbox = Sandbox::start(&tmp(), None, &[]).await;
    let p = &sandbox.provider;
    let body = payment("order-a", Duration::from_secs(300));
    let first = p.create("k", &body).await.unwrap();
    assert_eq!(
        p.create("k", &body).await.unwrap(),
        first,
        "same key, same body: the first answer"
    );
    let reused = p
        .create("k", &payment("order-b", Duration::from_secs(300)))
        .await;
    assert!(
        matches!(reused, Err(PaymentError::Refused { status: 422, ref code, .. }) if code == "idempotency_key_in_use"),
        "{reused:?}"
    );
    assert_eq!(buyer_pays(&sandbox.base, &first.id, "decline").await, 200);
    assert_eq!(
        p.retrieve(&first.id).await.unwrap().status,
        PaymentStatus::Failed
    );
    assert!(matches!(
        p.capture("c", &first.id).await,
        Err(PaymentError::Refused { status: 409, .. })
    ));
    let second = p
        .create("k2", &payment("order-c", Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!(buyer_pays(&sandbox.base, &second.id, "succeed").await, 200);
    assert_eq!(
        p.cancel("void", &second.id).await.unwrap().status,
        PaymentStatus::Canceled
    );
    assert!(
        matches!(
            p.capture("c2", &second.id).await,
            Err(PaymentError::Refused { status: 409, .. })
        ),
        "a void is final"
    );
    assert!(matches!(
        p.retrieve("pi_nope").await,
        Err(PaymentError::Refused { status: 404, .. })
    ));
    // Bad input is a 4xx, never a 500.
    let bad = reqwest::Client::new()
        .post(format!("{}/v1/payment_intents", sandbox.base))
        .bearer_auth("sk_sandbox")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let anon = reqwest::Client::new()
        .get(format!("{}/v1/payment_intents", sandbox.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let bad_amount = NewPayment {
        amount: -5,
        ..payment("order-d", Duration::from_secs(60))
    };
    assert!(matches!(
        p.create("k3", &bad_amount).await,
        Err(PaymentError::Refused { status: 422, .. })
    ));
    sandbox.stop().await;
}

#[tokio::test]
async fn an_unpaid_session_expires_by_itself_and_says_so() {
    let inbox = Inbox::default();
    let hook = inbox.start().await;
    let sandbox = Sandbox::start(&tmp(), Some(&hook), &[]).await;
    let intent = sandbox
        .provider
        .create("e", &payment("order-e", Duration::from_millis(1200)))
        .await
        .unwrap();
    let events = inbox.wait_for(1).await;
    assert_eq!(events.len(), 1, "the expiry is announced");
    assert_eq!(events[0]["type"], "payment_intent.canceled");
    assert_eq!(events[0]["data"]["object"]["reason"], "expired");
    assert_eq!(
        sandbox.provider.retrieve(&intent.id).await.unwrap().status,
        PaymentStatus::Canceled
    );
    assert_eq!(
        buyer_pays(&sandbox.base, &intent.id, "succeed").await,
        409,
        "too late to pay"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_ledger_and_idempotency_keys_survive_a_restart() {
    let dir = tmp();
    let sandbox = Sandbox::start(&dir, None, &[]).await;
    let body = payment("order-r", Duration::from_secs(300));
    let intent = sandbox.provider.create("r", &body).await.unwrap();
    assert_eq!(buyer_pays(&sandbox.base, &intent.id, "succeed").await, 200);
    sandbox.stop().await;

    let again = Sandbox::start(&dir, None, &[]).await;
    assert_eq!(
        again.provider.retrieve(&intent.id).await.unwrap().status,
        PaymentStatus::Authorized
    );
    assert_eq!(
        again.provider.create("r", &body).await.unwrap().id,
        intent.id,
        "the key outlived the restart"
    );
    let other = again
        .provider
        .create("r", &payment("order-r2", Duration::from_secs(300)))
        .await;
    assert!(
        matches!(other, Err(PaymentError::Refused { status: 422, .. })),
        "{other:?}"
    );
    let (page, more) = again.provider.list(None, 10).await.unwrap();
    assert_eq!((page.len(), more), (1, false));
    again.stop().await;
}

#[tokio::test]
async fn a_lost_reply_is_recovered_by_retrying_with_the_same_key() {
    let sandbox = Sandbox::start(&tmp(), None, &["--lost-reply-rate", "1"]).await;
    let p = &sandbox.provider;
    let body = payment("order-l", Duration::from_secs(300));
    let lost = p.create("lost", &body).await;
    assert!(matches!(lost, Err(ref e) if e.is_retryable()), "{lost:?}");
    // The work happened: the retry replays it (the replay is not subject to the fault).
    let retried = p.create("lost", &body).await.unwrap();
    let (page, _) = p.list(None, 10).await.unwrap();
    assert_eq!(page.len(), 1, "created once");
    assert_eq!(page[0].id, retried.id);
    sandbox.stop().await;
}

#[tokio::test]
async fn webhook_faults_drop_or_duplicate_events() {
    let inbox = Inbox::default();
    let hook = inbox.start().await;
    let dropping = Sandbox::start(&tmp(), Some(&hook), &["--webhook-drop-rate", "1"]).await;
    let i = dropping
        .provider
        .create("d", &payment("order-d", Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!(buyer_pays(&dropping.base, &i.id, "succeed").await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbox.0.lock().await.is_empty(), "dropped");
    // The platform's answer to a lost callback: ask.
    assert_eq!(
        dropping.provider.retrieve(&i.id).await.unwrap().status,
        PaymentStatus::Authorized
    );
    dropping.stop().await;

    let doubling = Sandbox::start(&tmp(), Some(&hook), &["--webhook-duplicate-rate", "1"]).await;
    let i = doubling
        .provider
        .create("u", &payment("order-u", Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!(buyer_pays(&doubling.base, &i.id, "succeed").await, 200);
    let events = inbox.wait_for(2).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["id"], events[1]["id"],
        "a duplicate carries the same event id"
    );
    doubling.stop().await;
}
