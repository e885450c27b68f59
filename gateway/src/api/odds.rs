//! Honest odds for a buyer in the waiting room: the seats left against the demand of the
//! buyers ahead, said as `likely`, `unlikely` or `sold_out`.
//!
//! The demand of one buyer ahead is counted as the event's per-buyer limit. The gateway knows
//! no average order size without reading the orders (a database read per poll, or another
//! feed to keep), and the limit is the most anyone ahead can take: so `likely` is a promise
//! (even if everyone ahead buys the most they may, a seat remains for this buyer), and `unlikely` says only that it could sell out first, which the page words as
//! such. Polls are the waiting room's hot path: the seats left are counted at most once a
//! second per event ([`SeatsLeft`]), never per poll.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use boxoffice_nats::EventId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::availability::Availability;

/// How a buyer's chances look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Odds {
    /// A seat remains for this buyer even if everyone ahead buys their limit.
    Likely,
    /// The buyers ahead could take every seat left before this buyer's turn.
    Unlikely,
    /// No seat is left.
    SoldOut,
}

/// The odds of a buyer with `ahead` buyers in front, `seats_left` seats for sale and a
/// per-buyer limit of `per_buyer`.
pub fn odds(seats_left: u32, ahead: u64, per_buyer: u32) -> Odds {
    if seats_left == 0 {
        return Odds::SoldOut;
    }
    let per_buyer = u64::from(per_buyer.max(1));
    let demand_ahead = ahead.saturating_mul(per_buyer);
    if u64::from(seats_left) > demand_ahead {
        Odds::Likely
    } else {
        Odds::Unlikely
    }
}

/// How long a count of the seats left is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The seats left per event, counted at most once per [`FRESH_FOR`].
#[derive(Default)]
pub struct SeatsLeft {
    counted: Mutex<HashMap<EventId, (Instant, u32)>>,
}

impl SeatsLeft {
    /// Seats that can be bought now (`None` while the seat map is loading).
    pub fn get(&self, availability: &Availability, event: EventId) -> Option<u32> {
        let now = Instant::now();
        if let Some((at, n)) = self.lock().get(&event)
            && now.duration_since(*at) < FRESH_FOR
        {
            return Some(*n);
        }
        let (_, total) = availability.counts(event)?;
        self.lock().insert(event, (now, total.available));
        Some(total.available)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventId, (Instant, u32)>> {
        self.counted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::{Odds, odds};

    #[test]
    fn odds_count_everyone_ahead_at_their_limit() {
        assert_eq!(odds(0, 0, 4), Odds::SoldOut);
        assert_eq!(odds(1, 0, 4), Odds::Likely, "first in line, a seat left");
        assert_eq!(odds(9, 2, 4), Odds::Likely);
        assert_eq!(
            odds(8, 2, 4),
            Odds::Unlikely,
            "the two ahead could take all eight"
        );
        assert_eq!(odds(10, u64::MAX, 4), Odds::Unlikely, "no overflow");
    }
}
