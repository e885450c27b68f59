//! Following one order as its checkout page does: one server-sent event stream, opened once
//! when the order is placed and read until the order ends, with a `GET` of the order when the
//! stream cannot be had. The pace is the platform's: a stream refused with `429` or `503` is
//! asked for again only after its `Retry-After`, a broken one after a growing pause, and
//! meanwhile the order is read at most once per attempt.

use std::{
    pin::Pin,
    time::{Duration, Instant},
};

use futures::{Stream, StreamExt};
use rand::Rng;
use serde_json::Value;

use super::{super::audit, Series, Visit, retry_after};

/// The order's byte stream.
type Body = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The longest pause between two attempts at a broken stream.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The shortest pause, and the first after a break.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// How long one stream may stay open on our side (the gateway closes it at 30 minutes).
const STREAM_FOR: Duration = Duration::from_secs(30 * 60);

/// One order's stream and what has been read of it.
pub(super) struct OrderWatch {
    order: String,
    body: Option<Body>,
    buf: String,
    /// Not before this is the stream asked for again.
    reopen_at: Instant,
    /// The pause after the next break.
    backoff: Duration,
}

impl OrderWatch {
    /// Nothing opened yet.
    pub(super) fn new(order: &str) -> Self {
        Self {
            order: order.to_owned(),
            body: None,
            buf: String::new(),
            reopen_at: Instant::now(),
            backoff: MIN_BACKOFF,
        }
    }

    /// The next whole frame's view, if the buffer holds one.
    fn next_view(&mut self) -> Option<Value> {
        while let Some(end) = self.buf.find("\n\n") {
            let frame: String = self.buf.drain(..end + 2).collect();
            // A frame without data is a keep-alive comment.
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                && let Ok(view) = serde_json::from_str::<Value>(data)
            {
                return Some(view);
            }
        }
        None
    }

    /// The stream broke or ended: try again after a pause that grows with each break.
    fn broke(&mut self) {
        self.body = None;
        self.buf.clear();
        self.reopen_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

fn wanted(view: &Value, until: &[&str]) -> bool {
    let state = view["state"].as_str().unwrap_or_default();
    until.contains(&state) || audit::is_done(state)
}

impl Visit {
    /// Follows the order until its state is one of `until` or a final one; `None` if it never
    /// gets there before `deadline`.
    pub(super) async fn follow(
        &mut self,
        watch: &mut OrderWatch,
        until: &[&str],
        deadline: Instant,
    ) -> Option<Value> {
        while Instant::now() < deadline {
            if watch.body.is_none() && Instant::now() >= watch.reopen_at {
                self.open(watch).await;
            }
            if watch.body.is_some() {
                match self.read(watch, until, deadline).await {
                    Some(view) => return Some(view),
                    None if Instant::now() >= deadline => return None,
                    None => {}
                }
            }
            // No stream now: one read tells where the order is, then wait for the next try.
            let path = format!("/api/v1/orders/{}", watch.order);
            if let Some((200, view)) = self
                .send("order_status", 20, move |h, b| h.get(format!("{b}{path}")))
                .await
                && wanted(&view, until)
            {
                return Some(view);
            }
            let jitter = Duration::from_millis(self.rng.random_range(0..250));
            let next = watch.reopen_at.max(Instant::now() + MIN_BACKOFF) + jitter;
            tokio::time::sleep_until(next.min(deadline).into()).await;
        }
        None
    }

    /// Opens the order's event stream; on a refusal, says when to ask again.
    async fn open(&mut self, watch: &mut OrderWatch) {
        self.world.tally.count(Series::Requests, 1);
        let opened = self
            .world
            .http
            .get(format!(
                "{}/api/v1/orders/{}/events",
                self.base(),
                watch.order
            ))
            .bearer_auth(&self.token)
            // The client's 30 s bound is for answers; a stream is read for as long as the
            // order takes, each read bounded by the caller's deadline.
            .timeout(STREAM_FOR)
            .send()
            .await;
        match opened {
            Ok(r) if r.status().is_success() => {
                watch.body = Some(Box::pin(r.bytes_stream()));
                watch.backoff = MIN_BACKOFF;
            }
            Ok(r) => {
                let status = r.status().as_u16();
                self.world.tally.error(format!("order_stream_{status}"));
                if status == 429 || status == 503 {
                    watch.reopen_at = Instant::now() + retry_after(r.headers());
                } else {
                    watch.broke();
                }
            }
            Err(_) => {
                self.world.tally.error("order_stream_unreachable");
                self.gateway = (self.gateway + 1) % self.world.gateways.len();
                watch.broke();
            }
        }
    }

    /// Reads the open stream until a state of interest (`Some`), a break or the deadline
    /// (`None`; the stream stays open only at the deadline).
    async fn read(
        &mut self,
        watch: &mut OrderWatch,
        until: &[&str],
        deadline: Instant,
    ) -> Option<Value> {
        loop {
            while let Some(view) = watch.next_view() {
                if wanted(&view, until) {
                    return Some(view);
                }
            }
            let body = watch.body.as_mut()?;
            match tokio::time::timeout_at(deadline.into(), body.next()).await {
                Ok(Some(Ok(chunk))) => watch.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => {
                    watch.broke();
                    return None;
                }
                Err(_) => return None,
            }
        }
    }
}
