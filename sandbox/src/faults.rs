//! Fault injection: how the sandbox misbehaves, by flags. Every rate is a probability in 0..=1.

use std::time::Duration;

use rand::Rng;

/// The faults to inject.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Faults {
    /// Smallest added latency per API call, in ms.
    #[arg(
        long = "latency-min-ms",
        env = "SANDBOX_LATENCY_MIN_MS",
        default_value_t = 0
    )]
    pub latency_min_ms: u64,
    /// Largest added latency per API call, in ms (uniform between min and max).
    #[arg(
        long = "latency-max-ms",
        env = "SANDBOX_LATENCY_MAX_MS",
        default_value_t = 0
    )]
    pub latency_max_ms: u64,
    /// Share of API calls answered 503 without doing anything.
    #[arg(long = "error-rate", env = "SANDBOX_ERROR_RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of API calls that do their work and then answer 503 anyway (the reply is lost):
    /// only an idempotent retry finds out what happened.
    #[arg(
        long = "lost-reply-rate",
        env = "SANDBOX_LOST_REPLY_RATE",
        default_value_t = 0.0
    )]
    pub lost_reply_rate: f64,
    /// Share of checkouts declined when the buyer's outcome is not given.
    #[arg(
        long = "decline-rate",
        env = "SANDBOX_DECLINE_RATE",
        default_value_t = 0.0
    )]
    pub decline_rate: f64,
    /// Share of webhooks never sent.
    #[arg(
        long = "webhook-drop-rate",
        env = "SANDBOX_WEBHOOK_DROP_RATE",
        default_value_t = 0.0
    )]
    pub webhook_drop_rate: f64,
    /// Share of webhooks sent twice.
    #[arg(
        long = "webhook-duplicate-rate",
        env = "SANDBOX_WEBHOOK_DUPLICATE_RATE",
        default_value_t = 0.0
    )]
    pub webhook_duplicate_rate: f64,
    /// Largest extra delay before a webhook is sent, in ms (uniform from 0).
    #[arg(
        long = "webhook-delay-max-ms",
        env = "SANDBOX_WEBHOOK_DELAY_MAX_MS",
        default_value_t = 0
    )]
    pub webhook_delay_max_ms: u64,
    /// Share of webhooks held back by a further delay, so a later event overtakes them.
    #[arg(
        long = "webhook-reorder-rate",
        env = "SANDBOX_WEBHOOK_REORDER_RATE",
        default_value_t = 0.0
    )]
    pub webhook_reorder_rate: f64,
}

impl Faults {
    /// True with probability `rate`.
    pub fn roll(rate: f64) -> bool {
        rate > 0.0 && rand::rng().random_bool(rate.clamp(0.0, 1.0))
    }

    /// The latency to add to one API call.
    pub fn latency(&self) -> Duration {
        let (lo, hi) = (
            self.latency_min_ms,
            self.latency_max_ms.max(self.latency_min_ms),
        );
        Duration::from_millis(if hi == 0 {
            0
        } else {
            rand::rng().random_range(lo..=hi)
        })
    }

    /// The delay before sending one webhook (delay plus, sometimes, a reordering hold-back).
    pub fn webhook_delay(&self) -> Duration {
        let mut ms = if self.webhook_delay_max_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=self.webhook_delay_max_ms)
        };
        if Self::roll(self.webhook_reorder_rate) {
            ms += 500 + self.webhook_delay_max_ms;
        }
        Duration::from_millis(ms)
    }
}
