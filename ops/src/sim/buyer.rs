//! One simulated buyer, behaving like a person at an on-sale: takes a session, joins the
//! waiting room (sometimes from two tabs), polls only as often as `poll_after_ms` says, picks
//! 1 to 4 seats with most demand on the best sections, sometimes double-clicks or resubmits the
//! order, then pays, is declined, abandons or cancels. Every request that is shed (429) or
//! finds a dependency down (503) is retried after `Retry-After`, as a browser would; a gateway
//! that does not answer is swapped for another, as a load balancer would.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

mod checkout;
mod purchase;
mod watch;

use super::{
    setup::SimEvent,
    tally::{Series, Stage, Tally},
};

/// How buyers behave (shares are of the buyers who reach the payment page).
#[derive(Debug, Clone, clap::Args)]
pub struct Behaviour {
    /// Share of buyers declined at the checkout.
    #[arg(long, default_value_t = 0.10)]
    pub decline_share: f64,
    /// Share who leave without paying (their hold lapses).
    #[arg(long, default_value_t = 0.10)]
    pub abandon_share: f64,
    /// Share who cancel their order before paying.
    #[arg(long, default_value_t = 0.03)]
    pub cancel_share: f64,
    /// Share who double-click "buy" (two submissions at once, one Idempotency-Key).
    #[arg(long, default_value_t = 0.05)]
    pub double_click_share: f64,
    /// Share who resubmit the same order a moment later (a retry after a slow answer).
    #[arg(long, default_value_t = 0.03)]
    pub resubmit_share: f64,
    /// Share who join from a second tab at the same time.
    #[arg(long, default_value_t = 0.03)]
    pub second_tab_share: f64,
    /// Share who ask for the best available seats of a seated section instead of choosing
    /// from the map (the rest choose seats on the live map).
    #[arg(long, default_value_t = 0.6)]
    pub best_available_share: f64,
    /// Longest think time before paying, ms (uniform from a tenth of it).
    #[arg(long, default_value_t = 3_000)]
    pub think_ms: u64,
    /// How long a buyer waits in the queue before giving up, seconds.
    #[arg(long, default_value_t = 1_800)]
    pub patience_s: u64,
}

/// What every buyer shares.
pub struct World {
    /// One connection pool for every buyer.
    pub http: reqwest::Client,
    /// Gateways (a buyer starts on one and moves on when it does not answer).
    pub gateways: Vec<String>,
    /// The event.
    pub event: SimEvent,
    /// Where everything is recorded.
    pub tally: Arc<Tally>,
    /// How buyers behave.
    pub behaviour: Behaviour,
    /// Requests in flight from this process, at most. A real crowd brings its own sockets;
    /// one process simulating it has a file-descriptor limit, and past it every connect fails
    /// at once (the 200,000-buyer run counted 81,000 `session_unreachable` in its opening
    /// burst). Buyers beyond the bound wait their turn here, which the report's entrance
    /// figures include. Order event streams are not counted: they are few and long.
    pub requests: tokio::sync::Semaphore,
}

/// Why an order was not placed.
enum Refusal {
    /// Seats the gateway saw taken: choose again, the admission is kept.
    Taken,
    /// The admission lapsed: back to the queue.
    Lapsed,
    /// Any other refusal: the visit ends.
    Other,
    /// No answer at all.
    NoAnswer,
}

/// An answer: status and JSON body (`Null` when not JSON).
type Answer = (u16, Value);

struct Visit {
    world: Arc<World>,
    rng: StdRng,
    gateway: usize,
    token: String,
}

/// Runs one buyer's visit to its end; returns how it ended.
pub async fn visit(world: Arc<World>, n: u64, seed: u64) -> &'static str {
    let tally = world.tally.clone();
    tally.count(Series::Arrivals, 1);
    let mut v = Visit {
        gateway: n as usize % world.gateways.len(),
        rng: StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        token: String::new(),
        world,
    };
    let outcome = v.run().await;
    tally.outcome(outcome);
    outcome
}

/// How long the answer asks the client to wait before retrying (1 s when it does not say;
/// at most a minute, so a wrong header cannot stall a buyer for good). Buyers wait at least
/// this long: a crowd that retries sooner than asked is what shedding protects against.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let s = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(s.clamp(1, 60))
}

impl Visit {
    fn base(&self) -> &str {
        &self.world.gateways[self.gateway]
    }

    /// Sends a request built by `make` until it is answered with something other than 429 or
    /// 503, at most `tries` times. `None` when it never was.
    async fn send(
        &mut self,
        kind: &str,
        tries: u32,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Option<Answer> {
        for _ in 0..tries {
            self.world.tally.count(Series::Requests, 1);
            let req = make(&self.world.http, self.base());
            let req = if self.token.is_empty() {
                req
            } else {
                req.bearer_auth(&self.token)
            };
            let permit = self.world.requests.acquire().await;
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if status == 429 || status == 503 {
                        drop(permit);
                        self.world.tally.error(format!("{kind}_{status}"));
                        let wait = retry_after(r.headers());
                        let jitter = self.rng.random_range(0..500);
                        tokio::time::sleep(wait + Duration::from_millis(jitter)).await;
                        continue;
                    }
                    let body = r.json::<Value>().await.unwrap_or(Value::Null);
                    return Some((status, body));
                }
                Err(_) => {
                    drop(permit);
                    self.world.tally.error(format!("{kind}_unreachable"));
                    self.gateway = (self.gateway + 1) % self.world.gateways.len();
                    let jitter = self.rng.random_range(200..1_000);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
            }
        }
        None
    }

    async fn run(&mut self) -> &'static str {
        // A session.
        let Some((201, s)) = self
            .send("session", 30, |h, b| h.post(format!("{b}/api/v1/sessions")))
            .await
        else {
            return "no_session";
        };
        self.token = s["token"].as_str().unwrap_or_default().to_owned();
        let patience = Instant::now() + Duration::from_secs(self.world.behaviour.patience_s);
        for _round in 0..3 {
            let admission = match self.queue(patience, false).await {
                Ok(a) => a,
                Err(end) => return end,
            };
            // Boxed: a buyer spends most of its visit waiting in line, and a million waiting
            // buyers should each hold only the small queue-phase state, not the checkout's.
            match Box::pin(self.buy(&admission)).await {
                Ok(end) => return end,
                // Seats taken between the map and the order, or the admission lapsed: back in line.
                Err(()) => continue,
            }
        }
        "rejected"
    }

    async fn join(&mut self) -> Option<Answer> {
        let event = self.world.event.id.clone();
        let started = Instant::now();
        let second_tab = self.rng.random_bool(self.world.behaviour.second_tab_share);
        let path = format!("/api/v1/events/{event}/queue");
        let first = if second_tab {
            // Two tabs at once, through the same gateway or the other one: one place.
            let other = self.world.gateways[(self.gateway + 1) % self.world.gateways.len()].clone();
            let twin = self
                .world
                .http
                .post(format!("{other}{path}"))
                .bearer_auth(&self.token)
                .send();
            let p = path.clone();
            let (mine, theirs) = tokio::join!(
                self.send("join", 60, move |h, b| h.post(format!("{b}{p}"))),
                twin
            );
            if let (Some((202, a)), Ok(t)) = (&mine, theirs)
                && t.status().as_u16() == 202
                && let Ok(b) = t.json::<Value>().await
                && a["queue_ticket"] != b["queue_ticket"]
            {
                self.world.tally.mismatch();
            }
            mine
        } else {
            self.send("join", 60, move |h, b| h.post(format!("{b}{path}")))
                .await
        };
        if matches!(first, Some((202, _))) {
            self.world.tally.latency(Stage::Join, started);
            self.world.tally.count(Series::Joins, 1);
        }
        first
    }

    /// Joins and waits to be admitted; `Ok(admission token)` or `Err(how the visit ends)`.
    async fn queue(&mut self, patience: Instant, rejoined: bool) -> Result<String, &'static str> {
        let joined_at = Instant::now();
        let joined = match self.join().await {
            Some((202, joined)) => joined,
            // Refused with a reason (sold out, closed, ...): an answer, and the visit ends.
            Some((status, body)) => {
                let code = body["error"]["code"].as_str().unwrap_or("unknown");
                self.world.tally.error(format!("join_{status}_{code}"));
                return Err("join_refused");
            }
            None => return Err("join_failed"),
        };
        let ticket = joined["queue_ticket"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut wait = joined["poll_after_ms"].as_u64().unwrap_or(1_000);
        loop {
            if Instant::now() > patience {
                return Err("gave_up");
            }
            let jitter = self.rng.random_range(0..=wait / 10 + 1);
            tokio::time::sleep(Duration::from_millis(wait + jitter)).await;
            let started = Instant::now();
            let path = format!("/api/v1/queue/{ticket}");
            let Some((status, body)) = self
                .send("poll", 60, move |h, b| h.get(format!("{b}{path}")))
                .await
            else {
                return Err("poll_failed");
            };
            self.world.tally.latency(Stage::Poll, started);
            if status != 200 {
                self.world.tally.error(format!("poll_{status}"));
                return Err("poll_refused");
            }
            wait = body["poll_after_ms"].as_u64().unwrap_or(1_000);
            match body["state"].as_str().unwrap_or_default() {
                "admitted" => {
                    self.world.tally.count(Series::Admissions, 1);
                    self.world.tally.latency(Stage::QueueWait, joined_at);
                    return body["admission_token"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or("no_admission_token");
                }
                "closed" => return Err("closed"),
                // The admission lapsed before this buyer saw it: join again, once.
                "expired" if !rejoined => return Box::pin(self.queue(patience, true)).await,
                "expired" => return Err("admission_expired"),
                // waiting, sold_out (seats may come back): keep polling as told.
                _ => {}
            }
        }
    }
}
