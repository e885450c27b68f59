//! The buyer's checkout: picking a section and seats, placing the order (with the double
//! clicks and resubmits people make), then paying, declining, abandoning or canceling, and
//! following the order to its end.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::{
    super::{
        audit,
        setup::SimSection,
        tally::{Series, Stage},
    },
    *,
};

impl Visit {
    /// A section by demand among those the live counts still show seats in (all of them
    /// when the counts are not there).
    pub(super) async fn pick_section(&mut self) -> Option<SimSection> {
        let path = format!("/api/v1/events/{}", self.world.event.id);
        let counts = self
            .send("event", 10, move |h, b| h.get(format!("{b}{path}")))
            .await;
        let left: Vec<SimSection> = self
            .world
            .event
            .sections
            .iter()
            .filter(|s| {
                let Some((200, ev)) = &counts else {
                    return true;
                };
                ev["sections"].as_array().is_none_or(|all| {
                    all.iter().any(|x| {
                        x["code"] == s.code.as_str()
                            && x["availability"]["available"]
                                .as_u64()
                                .is_none_or(|n| n > 0)
                    })
                })
            })
            .cloned()
            .collect();
        let total: f64 = left.iter().map(|s| s.demand).sum();
        let mut r = self.rng.random::<f64>() * total;
        for s in &left {
            if r < s.demand {
                return Some(s.clone());
            }
            r -= s.demand;
        }
        left.last().cloned()
    }

    pub(super) fn pick_quantity(&mut self) -> u32 {
        let q = match self.rng.random_range(0..100) {
            0..40 => 1,
            40..75 => 2,
            75..90 => 3,
            _ => 4,
        };
        q.min(self.world.event.max_per_buyer)
    }

    /// The seats to ask for: `{section, quantity}` on the floor and for buyers who take the
    /// best available; otherwise free seats from the live map, side by side in one row where possible, nearer the front more
    /// often. `None` when the section has nothing left.
    pub(super) async fn choose(&mut self, section: &SimSection, quantity: u32) -> Option<Value> {
        let best = self
            .rng
            .random_bool(self.world.behaviour.best_available_share);
        if !section.seated || best {
            return Some(json!({ "section": section.code, "quantity": quantity }));
        }
        let path = format!(
            "/api/v1/events/{}/seats?section={}",
            self.world.event.id, section.code
        );
        let (200, map) = self
            .send("seat_map", 20, move |h, b| h.get(format!("{b}{path}")))
            .await?
        else {
            return None;
        };
        let mut free: Vec<(u32, u32, String)> = map["seats"]
            .as_array()?
            .iter()
            .filter(|s| s["state"] == "free")
            .filter_map(|s| {
                let id = s["seat"].as_str()?;
                let (_, label) = id.split_once(':')?;
                let (row, num) = label.split_once('-')?;
                Some((row.parse().ok()?, num.parse().ok()?, id.to_owned()))
            })
            .collect();
        if free.is_empty() {
            return None;
        }
        free.sort();
        let r: f64 = self.rng.random();
        let start = ((r * r) * free.len() as f64) as usize;
        let start = start.min(free.len() - 1);
        let mut seats = vec![free[start].2.clone()];
        let (row, mut last) = (free[start].0, free[start].1);
        for (r, n, id) in &free[start + 1..] {
            if seats.len() == quantity as usize {
                break;
            }
            if *r == row && *n == last + 1 {
                seats.push(id.clone());
                last = *n;
            } else {
                break;
            }
        }
        // Not enough side by side: take the next free ones, wherever they are.
        for (_, _, id) in free.iter().cycle().skip(start + 1).take(free.len()) {
            if seats.len() == quantity as usize {
                break;
            }
            if !seats.contains(id) {
                seats.push(id.clone());
            }
        }
        Some(json!({ "seats": seats }))
    }

    /// Whether the event's live counts show seats held by checkouts (which may come back).
    pub(super) async fn seats_may_return(&mut self) -> bool {
        let path = format!("/api/v1/events/{}", self.world.event.id);
        let Some((200, ev)) = self
            .send("event", 10, move |h, b| h.get(format!("{b}{path}")))
            .await
        else {
            return false;
        };
        ev["sections"].as_array().is_some_and(|all| {
            all.iter()
                .any(|x| x["availability"]["held"].as_u64().is_some_and(|n| n > 0))
        })
    }

    /// A section by demand, then seats in it; `None` when nothing is left anywhere it looked.
    pub(super) async fn request(&mut self) -> Option<Value> {
        for _ in 0..3 {
            let section = self.pick_section().await?;
            let quantity = self.pick_quantity();
            if let Some(r) = self.choose(&section, quantity).await {
                return Some(r);
            }
        }
        None
    }

    /// Places the order (twice at once for a double-click); `Ok(order id)` or why not.
    pub(super) async fn submit(
        &mut self,
        admission: &str,
        key: &str,
        request: &Value,
    ) -> Result<String, Refusal> {
        let started = Instant::now();
        let double = self
            .rng
            .random_bool(self.world.behaviour.double_click_share);
        let answer = if double {
            let (a, b) = {
                let mut twin = Visit {
                    world: self.world.clone(),
                    rng: StdRng::seed_from_u64(self.rng.random()),
                    gateway: self.gateway,
                    token: self.token.clone(),
                };
                tokio::join!(
                    self.place(admission, key, request),
                    twin.place(admission, key, request)
                )
            };
            if let (Some((202, x)), Some((202, y))) = (&a, &b)
                && x["order_id"] != y["order_id"]
            {
                self.world.tally.mismatch();
            }
            a
        } else {
            self.place(admission, key, request).await
        };
        self.world.tally.latency(Stage::Order, started);
        match answer {
            Some((202, body)) => Ok(body["order_id"].as_str().unwrap_or_default().to_owned()),
            Some((status, body)) => {
                let code = body["error"]["code"].as_str().unwrap_or("unknown");
                self.world.tally.error(format!("order_{status}_{code}"));
                Err(match (status, code) {
                    (409, "seats_taken") => Refusal::Taken,
                    (410, _) => Refusal::Lapsed,
                    _ => Refusal::Other,
                })
            }
            None => Err(Refusal::NoAnswer),
        }
    }

    pub(super) async fn place(
        &mut self,
        admission: &str,
        key: &str,
        body: &Value,
    ) -> Option<Answer> {
        let path = format!("/api/v1/events/{}/orders", self.world.event.id);
        let (admission, key, body) = (admission.to_owned(), key.to_owned(), body.clone());
        self.send("order", 30, move |h, b| {
            h.post(format!("{b}{path}"))
                .header("admission-token", &admission)
                .header("idempotency-key", &key)
                .json(&body)
        })
        .await
    }

    /// Orders with the admission and sees the order through. `Err` sends the buyer back to
    /// the queue.
    pub(super) async fn buy(&mut self, admission: &str) -> Result<&'static str, ()> {
        // Seats the gateway already sees taken are refused at once with the admission kept:
        // the buyer looks at the map again and picks others, as a person would, a few times.
        // Nothing free but seats still held by others' checkouts: those come back when a
        // payment fails or a hold lapses, so the buyer stays on the page and looks again.
        let (mut choices, mut waits) = (0, 0);
        let (order, key, request) = loop {
            choices += 1;
            let Some(request) = self.request().await else {
                if waits < 8 && self.seats_may_return().await {
                    waits += 1;
                    choices = 0;
                    let pause = self.rng.random_range(3_000..10_000);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    continue;
                }
                return Ok("no_seats_left");
            };
            let key = uuid::Uuid::new_v4().to_string();
            match self.submit(admission, &key, &request).await {
                Ok(order) => break (order, key, request),
                Err(Refusal::Taken) if choices < 4 => continue,
                Err(Refusal::Taken) => return Ok("seats_kept_being_taken"),
                Err(Refusal::Lapsed) => return Err(()),
                Err(Refusal::Other) => return Ok("order_refused"),
                Err(Refusal::NoAnswer) => return Ok("order_failed"),
            }
        };
        self.world.tally.count(Series::Orders, 1);
        if self.rng.random_bool(self.world.behaviour.resubmit_share) {
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(200..1_500))).await;
            if let Some((202, again)) = self.place(admission, &key, &request).await
                && again["order_id"].as_str() != Some(order.as_str())
            {
                self.world.tally.mismatch();
            }
        }

        let placed = Instant::now();
        let mut status = self
            .follow(
                &order,
                &["held", "awaiting_payment"],
                Duration::from_secs(180),
            )
            .await;
        if let Some(s) = &status
            && matches!(s["state"].as_str(), Some("held" | "awaiting_payment"))
        {
            self.world.tally.latency(Stage::Held, placed);
        }
        if status.as_ref().and_then(|s| s["state"].as_str()) == Some("held") {
            status = self
                .follow(&order, &["awaiting_payment"], Duration::from_secs(180))
                .await;
        }
        let Some(status) = status else {
            return Ok("order_lost");
        };
        match status["state"].as_str().unwrap_or_default() {
            "awaiting_payment" => {}
            // The admission was spent on this order: the buyer hears why and is done (joining
            // again returns the same, used, entry until it lapses).
            "rejected" => {
                self.world.tally.error(format!(
                    "order_rejected_{}",
                    status["reason"].as_str().unwrap_or("unknown")
                ));
                return Ok("rejected");
            }
            _ => return Ok("order_ended_early"),
        }
        self.world.tally.latency(Stage::PaymentOpen, placed);
        self.world.tally.count(Series::Holds, 1);

        let b = &self.world.behaviour;
        let roll: f64 = self.rng.random();
        let (decline, abandon, cancel) = (b.decline_share, b.abandon_share, b.cancel_share);
        let think = self.rng.random_range(b.think_ms / 10..=b.think_ms.max(1));
        tokio::time::sleep(Duration::from_millis(think)).await;
        if roll < abandon {
            return Ok("abandoned");
        }
        if roll < abandon + cancel {
            let path = format!("/api/v1/orders/{order}/cancel");
            let answer = self
                .send("cancel", 20, move |h, b| h.post(format!("{b}{path}")))
                .await;
            let end = self.follow(&order, &[], Duration::from_secs(120)).await;
            let ended = end.as_ref().and_then(|e| e["state"].as_str());
            return Ok(match (answer.map(|(status, _)| status), ended) {
                (_, Some("canceled")) => "canceled",
                // Never saw the order end: no answer.
                (_, None) => "cancel_unseen",
                // The request never got through (the gateway unreachable every time); the
                // order ended by itself and the buyer saw how.
                (None, Some(_)) => "cancel_unsent",
                // Accepted (202 means "asked of the workflow"), but the hold lapsed first: the
                // order expired, nothing was charged and the seats went back, which is the
                // answer the buyer gets. The 1,000,000-buyer run had one, whose payment opened
                // 45 s into its hold and whose buyer saw it late.
                (Some(s), Some("expired")) if (200..300).contains(&s) => "cancel_overtaken",
                // Accepted, and yet the order ended some other way: a lost cancel. Named in the
                // log so it can be looked up.
                (Some(s), Some(state)) if (200..300).contains(&s) => {
                    eprintln!("[sim] cancel of order {order} was accepted but it ended {state}");
                    "cancel_lost"
                }
                // Refused with a reason (already ended, not held yet): an answer.
                (Some(_), Some(_)) => "cancel_refused",
            });
        }
        let outcome = if roll < abandon + cancel + decline {
            "decline"
        } else {
            "succeed"
        };
        let checkout = status["payment"]["checkout_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let paid_at = Instant::now();
        let mut paid = false;
        for _ in 0..10 {
            match self
                .world
                .http
                .post(&checkout)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("outcome={outcome}"))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    paid = true;
                    break;
                }
                // Already confirmed (an earlier attempt's answer was lost): done.
                Ok(r) if r.status().as_u16() == 409 => {
                    paid = true;
                    break;
                }
                Ok(r) => self
                    .world
                    .tally
                    .error(format!("checkout_{}", r.status().as_u16())),
                Err(_) => self.world.tally.error("checkout_unreachable"),
            }
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(300..1_500))).await;
        }
        if !paid {
            return Ok("checkout_failed");
        }
        let end = self.follow(&order, &[], Duration::from_secs(300)).await;
        let state = end
            .as_ref()
            .and_then(|e| e["state"].as_str())
            .unwrap_or_default();
        Ok(match (outcome, state) {
            ("succeed", "issued") => {
                self.world.tally.latency(Stage::Issue, paid_at);
                let seats = end
                    .as_ref()
                    .and_then(|e| e["seats"].as_array())
                    .map_or(0, Vec::len);
                self.world.tally.issued(seats as u64);
                "bought"
            }
            ("decline", "payment_failed") => "declined",
            (_, "expired") => "paid_too_late",
            (_, "") => "order_lost",
            _ => "unexpected_end",
        })
    }

    /// Follows the order until its state is one of `until` or a final one; `None` if it
    /// never gets there within `within`. Follows the order's server-sent events, as the
    /// checkout page does (a change is seen when it is published, and one open stream costs
    /// the gateway less than a poll every half second); when a stream cannot be opened or
    /// breaks, one `GET` tells where the order is, and the stream is opened again.
    pub(super) async fn follow(
        &mut self,
        order: &str,
        until: &[&str],
        within: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(v) = self.follow_stream(order, until, deadline).await {
                return Some(v);
            }
            let path = format!("/api/v1/orders/{order}");
            if let Some((200, body)) = self
                .send("order_status", 20, move |h, b| h.get(format!("{b}{path}")))
                .await
            {
                let state = body["state"].as_str().unwrap_or_default();
                if until.contains(&state) || audit::is_done(state) {
                    return Some(body);
                }
            }
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(300..700))).await;
        }
        None
    }

    /// Reads the order's event stream until a state of interest; `None` when the stream
    /// could not be opened, broke, or the deadline passed.
    pub(super) async fn follow_stream(
        &mut self,
        order: &str,
        until: &[&str],
        deadline: Instant,
    ) -> Option<Value> {
        use futures::StreamExt;
        self.world.tally.count(Series::Requests, 1);
        let opened = self
            .world
            .http
            .get(format!("{}/api/v1/orders/{order}/events", self.base()))
            .bearer_auth(&self.token)
            .send()
            .await;
        let response = match opened {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                self.world
                    .tally
                    .error(format!("order_stream_{}", r.status().as_u16()));
                return None;
            }
            Err(_) => {
                self.world.tally.error("order_stream_unreachable");
                self.gateway = (self.gateway + 1) % self.world.gateways.len();
                return None;
            }
        };
        let mut body = response.bytes_stream();
        let mut buf = String::new();
        loop {
            let chunk = tokio::time::timeout_at(deadline.into(), body.next()).await;
            let Ok(Some(Ok(chunk))) = chunk else {
                return None;
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue; // a keep-alive comment
                };
                let Ok(view) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                let state = view["state"].as_str().unwrap_or_default();
                if until.contains(&state) || audit::is_done(state) {
                    return Some(view);
                }
            }
        }
    }
}
