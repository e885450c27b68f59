//! A buyer driving the real HTTP API: a session, the waiting room, orders.

use std::time::Duration;

use serde_json::Value;

/// One buyer with a session on one gateway.
#[derive(Clone)]
pub struct Buyer {
    /// The gateway's base URL.
    pub base: String,
    /// The session token.
    pub token: String,
    /// The buyer id.
    pub id: String,
    /// HTTP client.
    pub http: reqwest::Client,
}

/// A response's status and JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, Value);

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

impl Buyer {
    /// Starts a session.
    pub async fn new(base: &str) -> Self {
        let http = reqwest::Client::new();
        let (status, body) = answer(
            http.post(format!("{base}/api/v1/sessions"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "session: {body}");
        Self {
            base: base.to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            id: body["buyer_id"].as_str().unwrap().to_owned(),
            http,
        }
    }

    /// The same buyer (same session) talking to another gateway.
    pub fn on(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    /// GET with the session.
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POST with the session and no body.
    pub async fn post(&self, path: &str) -> Answer {
        answer(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Joins the event's waiting room.
    pub async fn join(&self, event: impl std::fmt::Display) -> Answer {
        self.post(&format!("/api/v1/events/{event}/queue")).await
    }

    /// Polls a queue ticket.
    pub async fn poll(&self, ticket: &str) -> Answer {
        self.get(&format!("/api/v1/queue/{ticket}")).await
    }

    /// Joins and polls (quickly, whatever `poll_after_ms` says) until admitted; returns the
    /// admission token.
    pub async fn admitted(&self, event: impl std::fmt::Display, within: Duration) -> String {
        let (status, joined) = self.join(event).await;
        assert_eq!(status, 202, "join: {joined}");
        let ticket = joined["queue_ticket"].as_str().unwrap().to_owned();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, body) = self.poll(&ticket).await;
            assert_eq!(status, 200, "poll: {body}");
            if body["state"] == "admitted" {
                return body["admission_token"].as_str().unwrap().to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not admitted within {within:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Places an order.
    pub async fn order(
        &self,
        event: impl std::fmt::Display,
        admission: &str,
        key: &str,
        body: &Value,
    ) -> Answer {
        answer(
            self.http
                .post(format!("{}/api/v1/events/{event}/orders", self.base))
                .bearer_auth(&self.token)
                .header("Admission-Token", admission)
                .header("Idempotency-Key", key)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Polls `GET /orders/{id}` until its state is `state`.
    pub async fn wait_order(&self, order: &str, state: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (status, body) = self.get(&format!("/api/v1/orders/{order}")).await;
            assert_eq!(status, 200, "order: {body}");
            if body["state"] == state {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order not {state} within {within:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
