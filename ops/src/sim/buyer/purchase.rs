//! From the admission to the order's end: choose, place the order (again a moment later, for
//! some), wait for it to be held and for its checkout to open, however long the platform's
//! backlog takes, then pay, be declined, abandon or cancel, and see how the order ended.

use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;

use super::{Refusal, Series, Stage, Visit, watch::OrderWatch};

/// How long a buyer waits, from placing the order, for it to be held and its checkout to
/// open. It is the platform's backlog, not the buyer's patience (the time to pay starts only
/// when the checkout opens): long enough for the biggest on-sale's queue of checkouts.
const CHECKOUT_WAIT: Duration = Duration::from_secs(15 * 60);
/// How long a buyer follows an order to its end once paid or canceled.
const END_WAIT: Duration = Duration::from_secs(300);

fn seats(view: &Value) -> u64 {
    view["seats"].as_array().map_or(0, Vec::len) as u64
}

fn state(view: &Value) -> &str {
    view["state"].as_str().unwrap_or_default()
}

impl Visit {
    /// Orders with the admission and sees the order through. `Err` sends the buyer back to
    /// the queue.
    pub(super) async fn buy(&mut self, admission: &str) -> Result<&'static str, ()> {
        // Seats the gateway already sees taken are refused at once with the admission kept:
        // the buyer looks at the map again and picks others, as a person would, a few times.
        // Nothing free but seats still held by others' checkouts: those come back when a
        // payment fails or a hold lapses, so the buyer stays on the page and looks again.
        let (mut choices, mut waits) = (0, 0);
        let (order, sent) = loop {
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
                Ok((order, sent)) => {
                    self.resubmit_maybe(admission, &key, &request, &order);
                    break (order, sent);
                }
                Err(Refusal::Taken) if choices < 4 => continue,
                Err(Refusal::Taken) => return Ok("seats_kept_being_taken"),
                Err(Refusal::Lapsed) => return Err(()),
                Err(Refusal::Other) => return Ok("order_refused"),
                Err(Refusal::NoAnswer) => return Ok("order_failed"),
            }
        };
        self.world.tally.count(Series::Orders, 1);

        // One stream from here to the order's end, as the checkout page keeps one.
        let mut watch = OrderWatch::new(&order);
        let deadline = sent + CHECKOUT_WAIT;
        let tally = self.world.tally.clone();
        let Some(first) = self
            .follow(&mut watch, &["held", "awaiting_payment"], deadline)
            .await
        else {
            return Ok("order_lost");
        };
        tally.latency(Stage::Decided, sent);
        let held_at = Instant::now();
        let mut estimate = None;
        let status = match state(&first) {
            "held" => {
                tally.latency(Stage::Held, sent);
                tally.held(seats(&first));
                // While held, the checkout may not be open yet: the view may say when it
                // should be (`checkout_opens_at`, RFC 3339).
                estimate = first["checkout_opens_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                match self
                    .follow(&mut watch, &["awaiting_payment"], deadline)
                    .await
                {
                    Some(s) => s,
                    None => return Ok("checkout_never_opened"),
                }
            }
            "awaiting_payment" => {
                tally.latency(Stage::Held, sent);
                tally.held(seats(&first));
                first
            }
            _ => first,
        };
        match state(&status) {
            "awaiting_payment" => {}
            // The admission was spent on this order: the buyer hears why and is done (joining
            // again returns the same, used, entry until it lapses).
            "rejected" => {
                tally.error(format!(
                    "order_rejected_{}",
                    status["reason"].as_str().unwrap_or("unknown")
                ));
                return Ok("rejected");
            }
            _ => return Ok("order_ended_early"),
        }
        tally.latency(Stage::CheckoutWait, held_at);
        if let Some(at) = estimate {
            let late = chrono::Utc::now() - at.with_timezone(&chrono::Utc);
            tally.latency_ms(Stage::CheckoutLateBy, late.num_milliseconds() as f64);
        }
        tally.latency(Stage::PaymentOpen, sent);
        tally.count(Series::Checkouts, 1);
        // From here on the buyer's own behaviour: counted from the checkout's opening.
        self.checkout(&order, &mut watch, &status).await
    }

    /// A retry of the same order a moment later (a slow answer, a reload), for some buyers.
    /// It runs beside the buyer's wait, as a second request from the same page would, so the
    /// buyer's own timings do not include its pause.
    fn resubmit_maybe(&mut self, admission: &str, key: &str, request: &Value, order: &str) {
        if !self.rng.random_bool(self.world.behaviour.resubmit_share) {
            return;
        }
        let mut twin = self.twin();
        let (admission, key, request, order) = (
            admission.to_owned(),
            key.to_owned(),
            request.clone(),
            order.to_owned(),
        );
        tokio::spawn(async move {
            let pause = twin.rng.random_range(200..1_500);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            if let Some((202, again)) = twin.place(&admission, &key, &request).await
                && again["order_id"].as_str() != Some(order.as_str())
            {
                twin.world.tally.mismatch();
            }
        });
    }

    /// The checkout is open: think, then abandon, cancel, or pay (to succeed or be declined),
    /// and see how the order ended.
    async fn checkout(
        &mut self,
        order: &str,
        watch: &mut OrderWatch,
        status: &Value,
    ) -> Result<&'static str, ()> {
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
            let end = self
                .follow(watch, &[], Instant::now() + Duration::from_secs(120))
                .await;
            let ended = end.as_ref().map(state);
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
        if !self.pay(&checkout, outcome).await {
            return Ok("checkout_failed");
        }
        let end = self.follow(watch, &[], Instant::now() + END_WAIT).await;
        let ended = end.as_ref().map(state).unwrap_or_default();
        Ok(match (outcome, ended) {
            ("succeed", "issued") => {
                self.world.tally.latency(Stage::Issue, paid_at);
                let seats = end.as_ref().map_or(0, seats);
                self.world.tally.issued(order, seats);
                "bought"
            }
            ("decline", "payment_failed") => "declined",
            (_, "expired") => "paid_too_late",
            (_, "") => "order_lost",
            _ => "unexpected_end",
        })
    }

    /// Submits the sandbox's hosted checkout form with `outcome`; whether it was taken.
    async fn pay(&mut self, checkout: &str, outcome: &str) -> bool {
        for _ in 0..10 {
            match self
                .world
                .http
                .post(checkout)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("outcome={outcome}"))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return true,
                // Already confirmed (an earlier attempt's answer was lost): done.
                Ok(r) if r.status().as_u16() == 409 => return true,
                Ok(r) => self
                    .world
                    .tally
                    .error(format!("checkout_{}", r.status().as_u16())),
                Err(_) => self.world.tally.error("checkout_unreachable"),
            }
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(300..1_500))).await;
        }
        false
    }
}
