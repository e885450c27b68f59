//! Signed webhooks, delivered with retries and, when asked, dropped, duplicated, delayed or
//! reordered.
//!
//! Signature: header `Boxoffice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the MAC
//! is over `"<t>.<raw body>"` with the shared webhook secret, as Stripe does. The receiver checks
//! it on the raw bytes and rejects timestamps outside its tolerance (replays).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::{config::WebhookConfig, faults::Faults, ledger::Change};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Boxoffice-Signature";

/// One event as sent.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// `evt_...`, unique per event (duplicates of one event share it).
    pub id: String,
    /// e.g. `payment_intent.authorized`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// `{ "object": <intent> }`.
    pub data: serde_json::Value,
}

/// The signature header value for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Queues events and delivers them in the background.
#[derive(Clone)]
pub struct Outbox {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl Outbox {
    /// Starts the delivery task (a no-op outbox when no webhook URL is configured).
    pub fn start(config: WebhookConfig, faults: Faults) -> Self {
        let Some(url) = config.url.clone() else {
            return Self { tx: None };
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("http client");
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if Faults::roll(faults.webhook_drop_rate) {
                    tracing::info!(event = %event.id, kind = event.kind, "fault: webhook dropped");
                    continue;
                }
                let copies = if Faults::roll(faults.webhook_duplicate_rate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = faults.webhook_delay();
                    tokio::spawn(deliver(
                        http.clone(),
                        url.clone(),
                        config.clone(),
                        event.clone(),
                        delay,
                    ));
                }
            }
        });
        Self { tx: Some(tx) }
    }

    /// Queues the event for a change.
    pub fn send(&self, change: &Change) {
        let Some(tx) = &self.tx else { return };
        let event = Event {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            kind: change.kind,
            created: chrono::Utc::now().timestamp(),
            data: serde_json::json!({ "object": change.intent }),
        };
        let _ = tx.send(event);
    }
}

async fn deliver(
    http: reqwest::Client,
    url: String,
    config: WebhookConfig,
    event: Event,
    delay: Duration,
) {
    tokio::time::sleep(delay).await;
    let body = match serde_json::to_vec(&event) {
        Ok(b) => b,
        Err(e) => return tracing::error!(error = %e, "cannot encode webhook"),
    };
    let mut backoff = Duration::from_millis(250);
    for attempt in 1..=config.attempts {
        // Signed at send time, so a retry carries a fresh timestamp.
        let signature = sign(&config.secret, chrono::Utc::now().timestamp(), &body);
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(event = %event.id, attempt, status = %r.status(), "webhook refused")
            }
            Err(e) => tracing::warn!(event = %event.id, attempt, error = %e, "webhook failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    tracing::error!(event = %event.id, "webhook given up after {} attempts", config.attempts);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Known answer: HMAC-SHA256("secret", "1700000000.{}").
        let sig = super::sign("secret", 1_700_000_000, b"{}");
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(sig, super::sign("other", 1_700_000_000, b"{}"));
        assert_ne!(sig, super::sign("secret", 1_700_000_001, b"{}"));
    }
}
