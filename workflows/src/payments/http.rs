//! [`PaymentProvider`] over the Stripe-like HTTP API.

use std::time::Duration;

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::json;

use super::{NewPayment, PaymentError, PaymentIntent, PaymentProvider};
use crate::service::{ExposeSecret, SecretSetting, SecretString};

/// How to reach the provider.
#[derive(clap::Args, Debug, Clone)]
pub struct ProviderConfig {
    /// Base URL of the payment provider's API.
    #[arg(
        id = "payments_url",
        long = "payments-url",
        env = "BOXOFFICE_PAYMENTS_URL",
        default_value = "http://127.0.0.1:8090"
    )]
    pub url: String,
    /// Secret API key (`Debug` prints it redacted). Its default, the sandbox's key, is
    /// accepted only in development mode.
    #[arg(
        long = "payments-api-key",
        env = "BOXOFFICE_PAYMENTS_API_KEY",
        default_value = super::DEV_API_KEY,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub api_key: SecretString,
}

impl ProviderConfig {
    /// The API key as a secret setting, for the start-up check.
    pub const API_KEY: SecretSetting = SecretSetting {
        var: "BOXOFFICE_PAYMENTS_API_KEY",
        what: "API key",
        dev_value: super::DEV_API_KEY,
    };
}

/// The HTTP client.
#[derive(Clone)]
pub struct HttpProvider {
    http: reqwest::Client,
    base: String,
    api_key: SecretString,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl HttpProvider {
    /// A client for `config`, with a 10 s timeout per call.
    pub fn new(config: &ProviderConfig) -> Result<Self, PaymentError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        Ok(Self {
            http,
            base: config.url.trim_end_matches('/').to_owned(),
            api_key: config.api_key.clone(),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, PaymentError> {
        let resp = req
            .bearer_auth(self.api_key.expose_secret())
            .send()
            .await
            .map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| PaymentError::Unavailable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| PaymentError::Unavailable(format!("unreadable reply: {e}")));
        }
        // 5xx and 429 are the provider's trouble, not ours: retry. Other 4xx are final.
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(PaymentError::Unavailable(format!("HTTP {status}")));
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or(ErrorDetail {
                code: "unknown".into(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
        Err(PaymentError::Refused {
            status: status.as_u16(),
            code: detail.code,
            message: detail.message,
        })
    }

    fn post(&self, path: &str, key: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("Idempotency-Key", key)
            .json(&body)
    }
}

impl PaymentProvider for HttpProvider {
    async fn create(&self, key: &str, p: &NewPayment) -> Result<PaymentIntent, PaymentError> {
        self.call(self.post("/v1/payment_intents", key, json!(p)))
            .await
    }

    async fn retrieve(&self, id: &str) -> Result<PaymentIntent, PaymentError> {
        self.call(
            self.http
                .get(format!("{}/v1/payment_intents/{id}", self.base)),
        )
        .await
    }

    async fn capture(&self, key: &str, id: &str) -> Result<PaymentIntent, PaymentError> {
        self.call(self.post(&format!("/v1/payment_intents/{id}/capture"), key, json!({})))
            .await
    }

    async fn cancel(&self, key: &str, id: &str) -> Result<PaymentIntent, PaymentError> {
        self.call(self.post(&format!("/v1/payment_intents/{id}/cancel"), key, json!({})))
            .await
    }

    async fn refund(&self, key: &str, id: &str) -> Result<i64, PaymentError> {
        #[derive(Deserialize)]
        struct Refund {
            amount: i64,
        }
        let r: Refund = self
            .call(self.post("/v1/refunds", key, json!({ "payment_intent": id })))
            .await?;
        Ok(r.amount)
    }

    async fn list(
        &self,
        starting_after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<PaymentIntent>, bool), PaymentError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<PaymentIntent>,
            has_more: bool,
        }
        let mut req = self
            .http
            .get(format!("{}/v1/payment_intents", self.base))
            .query(&[("limit", limit.to_string())]);
        if let Some(after) = starting_after {
            req = req.query(&[("starting_after", after)]);
        }
        let page: Page = self.call(req).await?;
        Ok((page.data, page.has_more))
    }
}
