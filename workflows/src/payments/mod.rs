//! Payments as the platform sees them: a provider trait, its HTTP client, and webhook checks.
//!
//! The platform never knows which provider it talks to: the order workflow's activities call
//! [`PaymentProvider`]; [`http::HttpProvider`] speaks the Stripe-like API that the payments
//! sandbox (and, with an adapter, a real provider) serves.

pub mod http;
pub mod webhook;

/// The development API key (the payments sandbox's default): accepted only in development mode.
pub const DEV_API_KEY: &str = "sk_sandbox";

/// The development webhook signing secret (the payments sandbox's default): accepted only in
/// development mode.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_sandbox";

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a payment is at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Waiting for the buyer at the hosted checkout.
    RequiresConfirmation,
    /// Authorised, not captured.
    Authorized,
    /// Captured.
    Captured,
    /// Voided, or the checkout session expired.
    Canceled,
    /// Declined.
    Failed,
    /// Refunded in full.
    Refunded,
    /// Refunded in part.
    PartiallyRefunded,
}

/// A payment intent as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// The provider's id.
    pub id: String,
    /// Amount in minor units.
    pub amount: i64,
    /// ISO currency.
    pub currency: String,
    /// Our order reference.
    pub order_id: String,
    /// Status.
    pub status: PaymentStatus,
    /// When the checkout session closes.
    pub expires_at: DateTime<Utc>,
    /// Captured so far.
    pub amount_captured: i64,
    /// Refunded so far.
    pub amount_refunded: i64,
    /// Where the buyer pays.
    pub checkout_url: String,
}

/// What to charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPayment {
    /// Amount in minor units.
    pub amount: i64,
    /// ISO currency.
    pub currency: String,
    /// Our order reference.
    pub order_id: String,
    /// The checkout session must close before the seat hold does.
    pub expires_at: DateTime<Utc>,
}

/// Errors from a provider call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// The provider refused the call for what it is (unknown id, wrong state, bad value). Not
    /// worth retrying.
    #[error("provider refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The provider's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The provider is unreachable, slow, or failing. Retry with the same idempotency key.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

impl PaymentError {
    /// Whether a retry (with the same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A payment provider with manual capture. Every mutating call takes an idempotency key: the
/// same key repeats the first call's effect and answer, so callers retry freely.
pub trait PaymentProvider: Send + Sync {
    /// Creates a payment intent awaiting the buyer.
    fn create(
        &self,
        key: &str,
        payment: &NewPayment,
    ) -> impl Future<Output = Result<PaymentIntent, PaymentError>> + Send;
    /// Reads an intent (the active status query when a callback is late).
    fn retrieve(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<PaymentIntent, PaymentError>> + Send;
    /// Captures an authorised intent in full.
    fn capture(
        &self,
        key: &str,
        id: &str,
    ) -> impl Future<Output = Result<PaymentIntent, PaymentError>> + Send;
    /// Voids an intent that was not captured.
    fn cancel(
        &self,
        key: &str,
        id: &str,
    ) -> impl Future<Output = Result<PaymentIntent, PaymentError>> + Send;
    /// Refunds what is left of a captured intent; returns the refunded amount.
    fn refund(&self, key: &str, id: &str)
    -> impl Future<Output = Result<i64, PaymentError>> + Send;
    /// One page of intents in creation order, after `starting_after` (for reconciliation).
    fn list(
        &self,
        starting_after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<PaymentIntent>, bool), PaymentError>> + Send;
}
