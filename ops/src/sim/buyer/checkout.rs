//! The buyer's order page: picking a section and seats and placing the order (with the
//! double clicks people make). What follows, up to the order's end, is in `purchase.rs`.

use std::time::Instant;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::{
    super::{setup::SimSection, tally::Stage},
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

    /// Places the order (twice at once for a double-click); `Ok((order id, when it was sent))`
    /// or why not.
    pub(super) async fn submit(
        &mut self,
        admission: &str,
        key: &str,
        request: &Value,
    ) -> Result<(String, Instant), Refusal> {
        let started = Instant::now();
        let double = self
            .rng
            .random_bool(self.world.behaviour.double_click_share);
        let answer = if double {
            let (a, b) = {
                let mut twin = self.twin();
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
            Some((202, body)) => Ok((
                body["order_id"].as_str().unwrap_or_default().to_owned(),
                started,
            )),
            Some((status, body)) => {
                // Refused at once: decided, too.
                self.world.tally.latency(Stage::Decided, started);
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

    /// The same buyer in a second tab (or a second click): same session, same gateway.
    pub(super) fn twin(&mut self) -> Visit {
        Visit {
            world: self.world.clone(),
            rng: StdRng::seed_from_u64(self.rng.random()),
            gateway: self.gateway,
            token: self.token.clone(),
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
}
