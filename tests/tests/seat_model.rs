//! Property test: random interleavings of hold, confirm, release and lapse, run against the real
//! seat store (two instances on two connections, so caches go stale) and against a plain model.
//! Every outcome and, after every step, every seat and every buyer's count must agree. Seats
//! [`GATED`] are a presale block: orders [`block_order`] claim with that block's access, the
//! others with the general sale's.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{collections::BTreeMap, time::Duration};

use boxoffice_nats::{
    BlockId, BuyerId, EventId, OrderId, SeatError,
    seat::{
        Access, BlockMeta, BlockUnits, Clock, OrderRef, SeatState, SeatStore, SeatStoreOptions,
        UnixMillis,
    },
};
use boxoffice_tests::{label, seat, seated_inventory, section, store_on, topology};
use proptest::prelude::*;

const SEATS: u32 = 6;
const LIMIT: u32 = 3;
const MARGIN_MS: i64 = 2_000;
/// The presale block's seats.
const GATED: [u32; 2] = [1, 2];

/// Whether order `o` claims with the block's access (one order of each buyer).
fn block_order(o: usize) -> bool {
    o % 2 == 1
}

#[derive(Debug, Clone)]
enum Op {
    Hold {
        store: usize,
        order: usize,
        seats: Vec<u32>,
        hold_s: u64,
    },
    Confirm {
        store: usize,
        order: usize,
        seats: Vec<u32>,
    },
    Release {
        store: usize,
        order: usize,
        seats: Vec<u32>,
    },
    Advance {
        secs: u64,
    },
}

fn seat_set() -> impl Strategy<Value = Vec<u32>> {
    proptest::sample::subsequence((1..=SEATS).collect::<Vec<_>>(), 1..=3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..4usize, seat_set(), prop_oneof![Just(10u64), Just(30)])
            .prop_map(|(store, order, seats, hold_s)| Op::Hold { store, order, seats, hold_s }),
        2 => (0..2usize, 0..4usize, seat_set()).prop_map(|(store, order, seats)| Op::Confirm { store, order, seats }),
        2 => (0..2usize, 0..4usize, seat_set()).prop_map(|(store, order, seats)| Op::Release { store, order, seats }),
        1 => (1..40u64).prop_map(|secs| Op::Advance { secs }),
    ]
}

/// The model: the rules of the seat store written as plainly as possible.
#[derive(Default)]
struct Model {
    seats: BTreeMap<u32, SeatState>,
    /// (buyer index, order index) → (qty, expires_at; None when sold)
    ledger: BTreeMap<(usize, usize), (std::collections::BTreeSet<u32>, Option<UnixMillis>)>,
}

fn buyer_of(order: usize) -> usize {
    order / 2
}

impl Model {
    fn entry(
        &self,
        o: usize,
        now: UnixMillis,
    ) -> Option<(std::collections::BTreeSet<u32>, Option<UnixMillis>)> {
        self.ledger
            .get(&(buyer_of(o), o))
            .cloned()
            .filter(|(_, exp)| exp.is_none_or(|t| t > now))
    }

    fn active(&self, buyer: usize, now: UnixMillis) -> u32 {
        (0..4)
            .filter(|o| buyer_of(*o) == buyer)
            .filter_map(|o| self.entry(o, now))
            .map(|(q, _)| q.len() as u32)
            .sum()
    }

    fn hold(
        &mut self,
        o: usize,
        id: OrderId,
        b: BuyerId,
        seats: &[u32],
        exp: UnixMillis,
        now: UnixMillis,
    ) -> &'static str {
        // The gate: a block's order takes only the block's seats, any other order none of
        // them; refused as a taken seat, before anything else is looked at.
        if seats.iter().any(|s| GATED.contains(s) != block_order(o)) {
            return "taken";
        }
        let n = seats.len() as u32;
        if self.entry(o, now).is_none() && self.active(buyer_of(o), now) + n > LIMIT {
            // The store's pre-check is a local, best-effort shortcut: depending on what the
            // instance last saw, the request is refused up front, or the claims run first and
            // a taken seat refuses it, or the ledger does. Either way nothing changes (claims
            // are given back as free, which is what a lapsed hold already was).
            let taken = seats.iter().any(|s| match &self.seats[s] {
                SeatState::Held {
                    order, expires_at, ..
                } if *order == id && *expires_at > now => false,
                st => !st.is_claimable(now),
            });
            return if taken {
                "limit_reached|taken"
            } else {
                "limit_reached"
            };
        }
        let mut fresh = Vec::new();
        for s in seats {
            match &self.seats[s] {
                SeatState::Held {
                    order, expires_at, ..
                } if *order == id && *expires_at > now => {}
                st if st.is_claimable(now) => fresh.push(*s),
                _ => {
                    // The store claimed the earlier seats and gives them back as free (a
                    // lapsed hold it overwrote is not restored: lapsed and free are the same).
                    for f in fresh {
                        self.seats.insert(f, SeatState::Free);
                    }
                    return "taken";
                }
            }
        }
        let undo = |m: &mut Self, fresh: &[u32]| {
            fresh.iter().for_each(|s| {
                m.seats.insert(*s, SeatState::Free);
            })
        };
        for s in &fresh {
            self.seats.insert(
                *s,
                SeatState::Held {
                    order: id,
                    buyer: b,
                    expires_at: exp,
                },
            );
        }
        if self.entry(o, now).is_some() {
            if fresh.is_empty() {
                return "ok";
            }
            undo(self, &fresh);
            return "invalid";
        }
        if self.active(buyer_of(o), now) + n > LIMIT {
            undo(self, &fresh);
            return "limit_reached";
        }
        self.ledger.insert(
            (buyer_of(o), o),
            (seats.iter().copied().collect(), Some(exp)),
        );
        "ok"
    }

    fn confirm(
        &mut self,
        o: usize,
        id: OrderId,
        b: BuyerId,
        seats: &[u32],
        now: UnixMillis,
    ) -> &'static str {
        let (mut plan, mut lapsed, mut foreign) = (vec![], false, false);
        for s in seats {
            match &self.seats[s] {
                SeatState::Sold { order, .. } if *order == id => {}
                SeatState::Held {
                    order, expires_at, ..
                } if *order == id => {
                    if expires_at - now > MARGIN_MS {
                        plan.push(*s)
                    } else {
                        lapsed = true
                    }
                }
                st if st.owner(now).is_some() => foreign = true,
                _ => lapsed = true,
            }
        }
        if foreign {
            return "not_owner";
        }
        if lapsed {
            return "lapsed";
        }
        if plan.is_empty() {
            return "ok";
        }
        match self.entry(o, now) {
            None => return "lapsed",
            Some((q, _)) => {
                self.ledger.insert((buyer_of(o), o), (q, None));
            }
        }
        for s in plan {
            self.seats.insert(
                s,
                SeatState::Sold {
                    order: id,
                    buyer: b,
                },
            );
        }
        "ok"
    }

    fn release(&mut self, o: usize, id: OrderId, seats: &[u32], now: UnixMillis) -> &'static str {
        let (mut plan, mut foreign) = (vec![], false);
        for s in seats {
            match &self.seats[s] {
                SeatState::Held { order, .. } if *order == id => plan.push(*s),
                st if st.owner(now).is_some() => foreign = true,
                _ => {}
            }
        }
        if foreign {
            // No seat changes, but the listed seats the order does not own stop counting.
            let lost: Vec<u32> = seats
                .iter()
                .copied()
                .filter(|s| self.seats[s].owner(now) != Some(id))
                .collect();
            self.uncount(o, &lost, now);
            return "not_owner";
        }
        for s in plan {
            self.seats.insert(s, SeatState::Free);
        }
        self.uncount(o, seats, now);
        "ok"
    }

    /// Takes `seats` out of the order's live entry, dropping it when empty.
    fn uncount(&mut self, o: usize, seats: &[u32], now: UnixMillis) {
        if let Some((held, exp)) = self.entry(o, now) {
            let left: std::collections::BTreeSet<u32> = held
                .difference(&seats.iter().copied().collect())
                .copied()
                .collect();
            if left.is_empty() {
                self.ledger.remove(&(buyer_of(o), o));
            } else {
                self.ledger.insert((buyer_of(o), o), (left, exp));
            }
        }
    }
}

/// A lapsed hold and a free seat are the same thing.
fn normalized(state: SeatState, now: UnixMillis) -> SeatState {
    match state {
        SeatState::Held { expires_at, .. } if expires_at <= now => SeatState::Free,
        s => s,
    }
}

fn code<T>(r: &Result<T, SeatError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

async fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let topo = topology().await;
    let clock = Clock::manual();
    let opts = SeatStoreOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let stores: Vec<SeatStore> = vec![
        store_on(&topo, opts.clone()).await,
        store_on(&topo, opts).await,
    ];
    let event = EventId::new();
    let block = BlockId::new();
    let mut inventory = seated_inventory(event, SEATS, LIMIT);
    inventory.blocks.insert(
        section("A"),
        vec![BlockMeta {
            id: block,
            units: BlockUnits::Seats(GATED.iter().map(|s| label(&s.to_string())).collect()),
            open: false,
        }],
    );
    stores[0].load_event(&inventory).await.unwrap();
    let access = |o: usize| {
        if block_order(o) {
            Access::Block(block)
        } else {
            Access::General
        }
    };
    let buyers = [BuyerId::new(), BuyerId::new()];
    let orders: Vec<OrderRef> = (0..4)
        .map(|o| OrderRef {
            event,
            order: OrderId::new(),
            buyer: buyers[buyer_of(o)],
        })
        .collect();
    let mut model = Model {
        seats: (1..=SEATS).map(|s| (s, SeatState::Free)).collect(),
        ..Default::default()
    };

    for (step, op) in ops.iter().enumerate() {
        let now = clock.now_ms();
        let ids = |seats: &[u32]| seats.iter().map(|s| seat(*s)).collect::<Vec<_>>();
        let (got, want) = match op {
            Op::Hold {
                store,
                order,
                seats,
                hold_s,
            } => {
                let r = stores[*store]
                    .hold_with(
                        &orders[*order],
                        &ids(seats),
                        Duration::from_secs(*hold_s),
                        access(*order),
                    )
                    .await;
                let o = &orders[*order];
                (
                    code(&r),
                    model.hold(
                        *order,
                        o.order,
                        o.buyer,
                        seats,
                        now + *hold_s as i64 * 1000,
                        now,
                    ),
                )
            }
            Op::Confirm {
                store,
                order,
                seats,
            } => {
                let r = stores[*store].confirm(&orders[*order], &ids(seats)).await;
                let o = &orders[*order];
                (
                    code(&r),
                    model.confirm(*order, o.order, o.buyer, seats, now),
                )
            }
            Op::Release {
                store,
                order,
                seats,
            } => {
                let r = stores[*store].release(&orders[*order], &ids(seats)).await;
                (
                    code(&r),
                    model.release(*order, orders[*order].order, seats, now),
                )
            }
            Op::Advance { secs } => {
                clock.advance(Duration::from_secs(*secs));
                ("ok", "ok")
            }
        };
        prop_assert!(
            want.split('|').any(|w| w == got),
            "step {}: {:?}: store said {}, model {}",
            step,
            op,
            got,
            want
        );
        for s in 1..=SEATS {
            let actual = stores[0]
                .seat(event, &seat(s))
                .await
                .unwrap()
                .unwrap()
                .state;
            let now = clock.now_ms();
            prop_assert_eq!(
                normalized(actual, now),
                normalized(model.seats[&s].clone(), now),
                "step {}: seat {} after {:?}",
                step,
                s,
                op
            );
        }
        let now = clock.now_ms();
        for (b, buyer) in buyers.iter().enumerate() {
            let probe = OrderRef {
                event,
                order: OrderId::new(),
                buyer: *buyer,
            };
            let active = stores[1].buyer_ledger(&probe).await.unwrap().active(now);
            prop_assert_eq!(
                active,
                model.active(b, now),
                "step {}: buyer {} after {:?}",
                step,
                b,
                op
            );
            prop_assert!(active <= LIMIT);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 200, ..ProptestConfig::default() })]
    #[test]
    fn the_seat_store_matches_the_model_under_random_interleavings(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run_case(ops))?;
    }
}
