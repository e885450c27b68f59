#![allow(clippy::unwrap_used)]
use super::*;

fn record(buyer: BuyerId) -> JoinRecord {
    JoinRecord {
        buyer,
        joined_at: 0,
        attempt: 1,
        supersedes: None,
    }
}

fn join(book: &mut Book, seq: u64, buyer: BuyerId) {
    book.apply_batch(
        seq,
        &JoinBatch {
            joins: vec![record(buyer)],
        },
    );
}

fn open(through: u64, at: UnixMillis) -> Control {
    Control {
        phase: Phase::Open,
        draw: Some(Draw {
            seed: "00".repeat(32),
            at: 0,
        }),
        admitted_through: through,
        credit: 0.0,
        rate_per_s: 10.0,
        cap_per_s: 10.0,
        reason: "cap".into(),
        admission_ttl_s: 60,
        at,
    }
}

#[test]
fn pre_opening_joins_are_drawn_then_later_ones_queue_in_arrival_order() {
    let mut book = Book::default();
    let early: Vec<BuyerId> = (0..50).map(|_| BuyerId::new()).collect();
    for (i, b) in early.iter().enumerate() {
        join(&mut book, i as u64 + 1, *b);
    }
    assert_eq!(book.positions(), 0);
    book.apply_control(100, open(0, 1_000));
    let late: Vec<BuyerId> = (0..5).map(|_| BuyerId::new()).collect();
    for (i, b) in late.iter().enumerate() {
        join(&mut book, 101 + i as u64, *b);
    }
    let line = book.line();
    assert_eq!(
        &line[..50],
        drawn_order(&"00".repeat(32), &early).as_slice()
    );
    assert_ne!(&line[..50], early.as_slice(), "the draw shuffles");
    assert_eq!(&line[50..], late.as_slice());
    let p = |b| {
        book.view(b, 0, None, &PollPolicy::default())
            .unwrap()
            .position
            .unwrap()
    };
    assert_eq!(p(line[0]), 1);
    assert_eq!(p(late[0]), 51);
}

#[test]
fn the_frontier_admits_and_admissions_lapse_after_their_ttl() {
    let mut book = Book::default();
    let buyers: Vec<BuyerId> = (0..3).map(|_| BuyerId::new()).collect();
    book.apply_control(1, open(0, 0));
    for (i, b) in buyers.iter().enumerate() {
        join(&mut book, 2 + i as u64, *b);
    }
    book.apply_control(10, open(2, 5_000));
    let poll = PollPolicy::default();
    let first = book.view(buyers[0], 6_000, None, &poll).unwrap();
    assert_eq!(first.state, EntryState::Admitted);
    assert_eq!(first.admission_expires_at, Some(65_000));
    let third = book.view(buyers[2], 6_000, None, &poll).unwrap();
    assert_eq!(third.state, EntryState::Waiting);
    assert_eq!(third.ahead, Some(0));
    assert_eq!(
        book.view(buyers[0], 65_000, None, &poll).unwrap().state,
        EntryState::Expired
    );
}

#[test]
fn sold_out_and_closed_reach_every_waiting_entry() {
    let mut book = Book::default();
    book.apply_control(1, open(0, 0));
    let buyers: Vec<BuyerId> = (0..100).map(|_| BuyerId::new()).collect();
    for (i, b) in buyers.iter().enumerate() {
        join(&mut book, 2 + i as u64, *b);
    }
    let mut c = open(10, 1);
    c.phase = Phase::SoldOut;
    book.apply_control(500, c.clone());
    let poll = PollPolicy::default();
    for b in &buyers[10..] {
        assert_eq!(
            book.view(*b, 2, None, &poll).unwrap().state,
            EntryState::SoldOut
        );
    }
    assert_eq!(
        book.view(buyers[0], 2, None, &poll).unwrap().state,
        EntryState::Admitted
    );
    c.phase = Phase::Closed;
    book.apply_control(501, c);
    for b in &buyers {
        assert_eq!(
            book.view(*b, 2, None, &poll).unwrap().state,
            EntryState::Closed
        );
    }
}

#[test]
fn poll_intervals_grow_with_the_distance_to_the_front() {
    let mut book = Book::default();
    book.apply_control(1, open(0, 0));
    let buyers: Vec<BuyerId> = (0..10_000).map(|_| BuyerId::new()).collect();
    for (i, b) in buyers.iter().enumerate() {
        join(&mut book, 2 + i as u64, *b);
    }
    let poll = PollPolicy::default();
    let at = |i: usize| book.view(buyers[i], 0, None, &poll).unwrap().poll_after_ms;
    assert_eq!(at(0), poll.min_ms);
    assert!(at(100) < at(1_000) && at(1_000) <= at(9_999));
    assert_eq!(at(9_999), poll.max_ms);
    // A line longer than the poll budget covers at one poll a minute: its far end polls
    // less often, so the line as a whole sends about the budget.
    let tight = PollPolicy {
        budget_per_s: 50,
        ..PollPolicy::default()
    };
    let mut long_lived = open(0, 0);
    long_lived.admission_ttl_s = 3_600;
    book.apply_control(2 + 10_000, long_lived.clone());
    let at = |i: usize| book.view(buyers[i], 0, None, &tight).unwrap().poll_after_ms;
    assert_eq!(at(9_999), 10_000 * 1_000 / 50);
    assert_eq!(at(0), tight.min_ms, "the front is unaffected");
    // The far end (everyone told the longest interval) sends at most the budget; at the
    // one-minute ceiling it would send 10,000 / 60, more than three times as much.
    let ceiling = at(9_999);
    let far: f64 = (0..10_000)
        .map(at)
        .filter(|ms| *ms == ceiling)
        .map(|ms| 1_000.0 / ms as f64)
        .sum();
    assert!(far <= 50.0, "{far}");
    // Never past half an admission's life: with 300 s admissions, 150 s at most.
    long_lived.admission_ttl_s = 300;
    book.apply_control(3 + 10_000, long_lived);
    assert_eq!(
        book.view(buyers[9_999], 0, None, &tight)
            .unwrap()
            .poll_after_ms,
        150_000
    );
}

#[test]
fn a_rejoin_supersedes_and_goes_to_the_back() {
    let mut book = Book::default();
    let a = BuyerId::new();
    let b = BuyerId::new();
    book.apply_control(1, open(0, 0));
    join(&mut book, 2, a);
    join(&mut book, 3, b);
    let first = book.entry(a).unwrap().id;
    let rejoin = |supersedes| JoinRecord {
        attempt: 2,
        supersedes: Some(supersedes),
        ..record(a)
    };
    // Two tabs rejoin in one batch: the first replaces the entry, the second names an entry
    // that is no longer the buyer's and changes nothing.
    book.apply_batch(
        4,
        &JoinBatch {
            joins: vec![rejoin(first), rejoin(first)],
        },
    );
    let poll = PollPolicy::default();
    assert_eq!(book.view(a, 0, None, &poll).unwrap().position, Some(3));
    assert_eq!(book.entry(a).unwrap().id, entry_id(4, 0));
    assert_eq!(book.entry(a).unwrap().attempt, 2);
    // A redelivery of the first join, and a plain twin join, change nothing.
    join(&mut book, 2, a);
    join(&mut book, 5, a);
    assert_eq!(book.view(a, 0, None, &poll).unwrap().position, Some(3));
    assert_eq!(book.positions(), 3);
}
