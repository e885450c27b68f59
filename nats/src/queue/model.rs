//! The waiting room as data: what is stored in NATS, and the pure rules that turn the stored
//! order of messages into positions and answers. No I/O here, so every rule is unit-tested and
//! every gateway, given the same messages, computes the same answers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ids::BuyerId, seat::UnixMillis};

/// Where an event's waiting room is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not open yet: joins are taken and will be drawn at the opening.
    Pending,
    /// Admitting.
    Open,
    /// Admission stopped by the organizer; the queue keeps its order.
    Paused,
    /// Every seat is held or sold; waiting entries are told so, and admission resumes in order
    /// if seats come back.
    SoldOut,
    /// The sale is over; every waiting entry is closed.
    Closed,
}

/// The draw that orders everyone who joined before the opening. Anyone can recompute it from
/// the seed and the joins stored before the control message that carries it
/// ([`draw_key`]), which is what makes the shuffle auditable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draw {
    /// 32 random bytes, hex.
    pub seed: String,
    /// When the sale opened.
    pub at: UnixMillis,
}

/// One control message: the whole admission state of an event's room. Published only by a
/// compare-and-swap on the control subject's last sequence, so any number of pacers (one per
/// gateway) can run and each change builds on the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// The room's phase.
    pub phase: Phase,
    /// Set once, by the opening.
    pub draw: Option<Draw>,
    /// Positions `1..=admitted_through` are admitted.
    pub admitted_through: u64,
    /// Fractional admissions carried to the next tick.
    pub credit: f64,
    /// Current admission rate (buyers per second) the pacer settled on.
    pub rate_per_s: f64,
    /// The organizer's cap on that rate.
    pub cap_per_s: f64,
    /// Why the rate is what it is (`cap`, `ramping`, `core_pace`, `intake_backlog`, `hold_latency`,
    /// `in_flight`, `no_health`, `paused`, `sold_out`, `closed`, `not_open`, `queue_empty`).
    pub reason: String,
    /// How long an admission may be used, from the moment it is granted.
    pub admission_ttl_s: u32,
    /// When this control was written.
    pub at: UnixMillis,
}

impl Control {
    /// The state of a room nobody has touched yet.
    pub fn initial(cap_per_s: f64, admission_ttl_s: u32, now: UnixMillis) -> Self {
        Self {
            phase: Phase::Pending,
            draw: None,
            admitted_through: 0,
            credit: 0.0,
            rate_per_s: 0.0,
            cap_per_s,
            reason: "not_open".into(),
            admission_ttl_s,
            at: now,
        }
    }
}

/// One join, as stored inside a [`JoinBatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRecord {
    /// Who joined.
    pub buyer: BuyerId,
    /// When (the gateway's clock; ordering comes from the stream, not from this).
    pub joined_at: UnixMillis,
    /// 1 for the first join, +1 for each rejoin after a lapsed admission.
    pub attempt: u32,
    /// For a rejoin: the entry it replaces. It takes effect only if that entry is still the
    /// buyer's when the batch is applied, so two tabs rejoining make one new place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<u64>,
}

/// Joins published together: one stream message (one write, one fsync) for every join a
/// gateway collected while its previous batches were being acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinBatch {
    /// The joins, in the order they were taken.
    pub joins: Vec<JoinRecord>,
}

/// Most joins in one batch (an entry id keeps the index in its low 16 bits).
pub const MAX_BATCH: usize = 4_096;

/// The id of the `index`th join of the batch stored at stream sequence `seq`: ids sort in
/// arrival order, and the stream sequence is recoverable from them ([`batch_seq`]).
pub const fn entry_id(seq: u64, index: usize) -> u64 {
    (seq << 16) | index as u64
}

/// The stream sequence of the batch an entry id belongs to.
pub const fn batch_seq(id: u64) -> u64 {
    id >> 16
}

/// The draw's sort key of one buyer: SHA-256 of the seed's bytes followed by the buyer id's 16
/// bytes. Pre-opening joins are admitted in ascending key order.
pub fn draw_key(seed_hex: &str, buyer: BuyerId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(hex::decode(seed_hex).unwrap_or_else(|_| seed_hex.as_bytes().to_vec()));
    h.update(buyer.as_uuid().as_bytes());
    h.finalize().into()
}

/// The order the draw gives `buyers` (the audit's recomputation, and the replica's).
pub fn drawn_order(seed_hex: &str, buyers: &[BuyerId]) -> Vec<BuyerId> {
    let mut keyed: Vec<([u8; 32], BuyerId)> = buyers
        .iter()
        .map(|b| (draw_key(seed_hex, *b), *b))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, b)| b).collect()
}

/// Where a live entry stands in the room's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rank {
    /// Joined before the opening: index into `pre` (arrival order until the draw, drawn
    /// order after it).
    Pre(usize),
    /// Joined after the opening: index into `post`, first come first served.
    Post(usize),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u64,
    attempt: u32,
    rank: Rank,
}

/// One event's room as rebuilt from its stream: entries in order and the control history.
#[derive(Debug, Default)]
pub struct Book {
    slots: HashMap<BuyerId, Slot>,
    pre: Vec<BuyerId>,
    post: Vec<BuyerId>,
    /// Sequence of the control message that carried the draw.
    drawn_at_seq: Option<u64>,
    control: Option<(u64, Control)>,
    /// `(admitted_through, at)` each time the frontier moved: when a position was admitted.
    steps: Vec<(u64, UnixMillis)>,
}

/// A buyer's entry as stored: its id (the queue ticket's number) and attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef {
    /// The entry's id ([`entry_id`]).
    pub id: u64,
    /// Join attempt.
    pub attempt: u32,
}

/// What a buyer's entry is, right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// In line.
    Waiting,
    /// May order now, with the admission token the answer carries.
    Admitted,
    /// The admission lapsed unused; joining again puts the buyer at the back.
    Expired,
    /// Nothing left to sell for now (admission resumes in order if seats come back).
    SoldOut,
    /// The sale is over.
    Closed,
}

/// The answer to "where am I?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryView {
    /// The entry's id ([`entry_id`]).
    pub id: u64,
    /// State.
    pub state: EntryState,
    /// 1-based place in line; `None` until the pre-opening draw has placed the entry.
    pub position: Option<u64>,
    /// Entries still waiting in front.
    pub ahead: Option<u64>,
    /// Seconds until admission at the current rate; `None` when not moving.
    pub estimated_wait_s: Option<u64>,
    /// When to ask again.
    pub poll_after_ms: u64,
    /// When the admission was granted and when it lapses (admitted or expired entries).
    pub admitted_at: Option<UnixMillis>,
    /// When the admission lapses.
    pub admission_expires_at: Option<UnixMillis>,
}

/// How often entries are told to poll: roughly `polls_per_wait` times over their expected
/// wait, never more often than `min_ms` and never less than `max_ms`, so the total polling
/// rate stays about `polls_per_wait × admission rate × ln(queue length) + length / max_ms`.
#[derive(Debug, Clone, Copy)]
pub struct PollPolicy {
    /// Shortest interval.
    pub min_ms: u64,
    /// Longest interval while the line is short enough for the poll budget.
    pub max_ms: u64,
    /// Polls over the expected wait.
    pub polls_per_wait: u64,
    /// Polls per second the whole line may send, over every gateway: a long line stretches
    /// the longest interval to `waiting / budget` so the load its far end sends stays bounded
    /// however many join (1,000,000 buyers at one poll a minute would be about 17,000 polls a
    /// second, for news that cannot change for hours). The front, where news is near, polls
    /// as before.
    pub budget_per_s: u64,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            min_ms: 1_000,
            max_ms: 60_000,
            polls_per_wait: 4,
            budget_per_s: 2_000,
        }
    }
}

impl PollPolicy {
    /// The longest interval for a line of `waiting` entries whose admissions last
    /// `admission_ttl_ms`. The budget stretches it, but never past half an admission's life:
    /// an entry admitted while it waits out its interval must come back with time left to
    /// use it (the 1,000,000-buyer run, told up to 500 s with a 300 s admission, saw 645
    /// orders refused `admission_expired`).
    fn ceiling(&self, waiting: u64, admission_ttl_ms: u64) -> u64 {
        let stretched = waiting.saturating_mul(1_000) / self.budget_per_s.max(1);
        stretched.min(admission_ttl_ms / 2).max(self.max_ms)
    }

    fn after(&self, wait_ms: u64, ceiling: u64) -> u64 {
        (wait_ms / self.polls_per_wait.max(1)).clamp(self.min_ms, ceiling.max(self.min_ms))
    }
}

/// The room's totals, for metrics, the pacer and the admin side.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The latest control message and its sequence, if any.
    pub control: Option<(u64, Control)>,
    /// Positions handed out (joins placed in line, rejoins included).
    pub positions: u64,
    /// Entries placed in line and not yet reached by the frontier.
    pub waiting: u64,
    /// Joins taken before the opening.
    pub pre_open: u64,
    /// Live entries (one per buyer).
    pub entries: u64,
}

impl Book {
    /// Applies a batch stored at stream sequence `seq`.
    pub fn apply_batch(&mut self, seq: u64, batch: &JoinBatch) {
        for (i, join) in batch.joins.iter().enumerate().take(MAX_BATCH) {
            self.apply_join(entry_id(seq, i), join);
        }
    }

    /// Applies one join with entry id `id`. The first join of a buyer wins (a twin from
    /// another tab or gateway changes nothing); a rejoin replaces the buyer's entry only if it
    /// names it (the old place stays counted, behind the frontier).
    pub fn apply_join(&mut self, id: u64, join: &JoinRecord) {
        let current = self.slots.get(&join.buyer).map(|s| s.id);
        let applies = match (current, join.supersedes) {
            (Some(c), _) if c >= id => false, // a redelivery of something already applied
            (None, None) => true,
            (Some(c), Some(old)) => c == old,
            (Some(_), None) | (None, Some(_)) => false,
        };
        if !applies {
            return;
        }
        let rank = if self.drawn_at_seq.is_some() {
            self.post.push(join.buyer);
            Rank::Post(self.post.len() - 1)
        } else {
            self.pre.push(join.buyer);
            Rank::Pre(self.pre.len() - 1)
        };
        self.slots.insert(
            join.buyer,
            Slot {
                id,
                attempt: join.attempt,
                rank,
            },
        );
    }

    /// Applies a control message stored at `seq`. The first one with a draw shuffles every
    /// entry that joined before it.
    pub fn apply_control(&mut self, seq: u64, control: Control) {
        if self.control.as_ref().is_some_and(|(s, _)| *s >= seq) {
            return;
        }
        if self.drawn_at_seq.is_none()
            && let Some(draw) = &control.draw
        {
            self.pre = drawn_order(&draw.seed, &self.pre);
            for (i, buyer) in self.pre.iter().enumerate() {
                if let Some(slot) = self.slots.get_mut(buyer) {
                    slot.rank = Rank::Pre(i);
                }
            }
            self.drawn_at_seq = Some(seq);
        }
        if self
            .steps
            .last()
            .is_none_or(|(through, _)| control.admitted_through > *through)
        {
            self.steps.push((control.admitted_through, control.at));
        }
        self.control = Some((seq, control));
    }

    /// The latest control and its sequence.
    pub fn control(&self) -> Option<&(u64, Control)> {
        self.control.as_ref()
    }

    /// Positions handed out so far (0 before the draw).
    pub fn positions(&self) -> u64 {
        if self.drawn_at_seq.is_some() {
            (self.pre.len() + self.post.len()) as u64
        } else {
            0
        }
    }

    /// The buyer's live entry.
    pub fn entry(&self, buyer: BuyerId) -> Option<EntryRef> {
        self.slots.get(&buyer).map(|s| EntryRef {
            id: s.id,
            attempt: s.attempt,
        })
    }

    /// Buyers who joined before the opening, in arrival order if not drawn yet, else in drawn
    /// order; and the draw's seed.
    pub fn pre_open(&self) -> (&[BuyerId], Option<&str>) {
        let seed = self
            .control
            .as_ref()
            .and_then(|(_, c)| c.draw.as_ref())
            .map(|d| d.seed.as_str());
        (&self.pre, seed)
    }

    /// Buyers in line order (drawn pre-opening entries, then later arrivals), superseded places
    /// included; for audits and tests.
    pub fn line(&self) -> Vec<BuyerId> {
        self.pre.iter().chain(self.post.iter()).copied().collect()
    }

    /// Totals.
    pub fn summary(&self) -> Summary {
        let positions = self.positions();
        let through = self.control.as_ref().map_or(0, |(_, c)| c.admitted_through);
        Summary {
            control: self.control.clone(),
            positions,
            waiting: positions.saturating_sub(through),
            pre_open: self.pre.len() as u64,
            entries: self.slots.len() as u64,
        }
    }

    fn position(&self, slot: &Slot) -> Option<u64> {
        match slot.rank {
            Rank::Pre(i) => self.drawn_at_seq.map(|_| i as u64 + 1),
            Rank::Post(i) => Some((self.pre.len() + i) as u64 + 1),
        }
    }

    /// When position `p` was admitted (the first frontier step that reached it).
    fn admitted_at(&self, p: u64) -> Option<UnixMillis> {
        let i = self.steps.partition_point(|(through, _)| *through < p);
        self.steps.get(i).map(|(_, at)| *at)
    }

    /// The buyer's entry as of `now`. `until_open_ms`: how long until the scheduled opening,
    /// if known (pending rooms tell entries to come back around then).
    pub fn view(
        &self,
        buyer: BuyerId,
        now: UnixMillis,
        until_open_ms: Option<u64>,
        poll: &PollPolicy,
    ) -> Option<EntryView> {
        let slot = self.slots.get(&buyer)?;
        let control = self.control.as_ref().map(|(_, c)| c);
        let phase = control.map_or(Phase::Pending, |c| c.phase);
        let through = control.map_or(0, |c| c.admitted_through);
        let position = self.position(slot);
        let mut view = EntryView {
            id: slot.id,
            state: EntryState::Waiting,
            position,
            ahead: None,
            estimated_wait_s: None,
            poll_after_ms: poll.min_ms,
            admitted_at: None,
            admission_expires_at: None,
        };
        if phase == Phase::Closed {
            view.state = EntryState::Closed;
            view.poll_after_ms = poll.max_ms;
            return Some(view);
        }
        let Some(p) = position else {
            // Joined before the opening; the draw places it. Come back around the opening,
            // spread so the whole room does not return in the same instant: over a few
            // seconds, or over as many as the poll budget needs for a crowd this size. The
            // spread comes from the buyer id's random bits, not the join time, because a crowd
            // joins within seconds of each other.
            let window = (self.pre.len() as u64 * 1_000 / poll.budget_per_s.max(1)).max(5_000);
            let spread = (buyer.as_uuid().as_u128() as u64) % window;
            view.poll_after_ms = until_open_ms
                .map_or(poll.max_ms / 4, |ms| ms + spread)
                .clamp(poll.min_ms, poll.max_ms + window);
            return Some(view);
        };
        if p <= through
            && let Some(at) = self.admitted_at(p)
        {
            let ttl = control.map_or(0, |c| c.admission_ttl_s) as i64 * 1_000;
            view.admitted_at = Some(at);
            view.admission_expires_at = Some(at + ttl);
            view.ahead = Some(0);
            view.estimated_wait_s = Some(0);
            if now < at + ttl {
                view.state = EntryState::Admitted;
                view.poll_after_ms = ((at + ttl - now) as u64).clamp(poll.min_ms, poll.max_ms);
            } else {
                view.state = EntryState::Expired;
                view.poll_after_ms = poll.max_ms;
            }
            return Some(view);
        }
        let ahead = p.saturating_sub(through + 1);
        view.ahead = Some(ahead);
        let rate = control.map_or(0.0, |c| c.rate_per_s);
        let ttl_ms = control.map_or(0, |c| u64::from(c.admission_ttl_s) * 1_000);
        let ceiling = poll.ceiling(self.positions().saturating_sub(through), ttl_ms);
        match phase {
            Phase::SoldOut => {
                view.state = EntryState::SoldOut;
                // Seats may come back from lapsed holds: check now and then.
                view.poll_after_ms = (ceiling / 2).max(poll.min_ms);
            }
            Phase::Open if rate > 0.0 => {
                let wait_ms = ((ahead + 1) as f64 / rate * 1_000.0) as u64;
                view.estimated_wait_s = Some(wait_ms.div_ceil(1_000));
                view.poll_after_ms = poll.after(wait_ms, ceiling);
            }
            _ => {
                // Paused, or open with nothing moving yet: no honest estimate; poll at a pace
                // that grows with the distance to the front.
                view.poll_after_ms = poll.after(ahead.saturating_mul(1_000), ceiling);
            }
        }
        Some(view)
    }
}

#[cfg(test)]
mod tests;
