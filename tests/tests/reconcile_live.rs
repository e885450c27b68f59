//! Reconciliation racing live orders, on the real servers.
//!
//! An order here is walked by the test through the very calls its workflow's activities make
//! (hold, record, open the payment, authorise, confirm by revision, capture, issue, refund),
//! one step at a time, so a pass can be cut in anywhere:
//!
//! - **deterministic**: for every path an order can take and every point of its life, a pass
//!   runs and, at its n-th checkpoint (after its snapshots, after its seat walk, before and
//!   after each candidate's fresh read), the rest of the order's life happens; every n is
//!   tried until the pass has no n-th checkpoint;
//! - **property**: random orders, random paths, and random steps taken at random checkpoints
//!   of several passes (proptest).
//!
//! At every checkpoint and at the end: no issued ticket's seat is free or sold to another
//! order, and no issued order's captured money is refunded; at the end every order's seats,
//! tickets and money are exactly what its path says, and a last pass finds nothing.
//! (The pass before ADR 0017 failed the first case: the order authorised and confirmed between
//! its snapshot and its seat walk, and the walk freed the sold seat of an order it still
//! believed `awaiting_payment`.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use boxoffice_nats::{
    BuyerId, OrderId, SeatId,
    seat::{OrderRef, SeatState},
};
use boxoffice_tests::platform::{Platform, PlatformOptions};
use boxoffice_workflows::{
    domain::OrderState,
    order::{TicketSigner, tickets::DEV_SEED_HEX, workflow_id},
    payments::{NewPayment, PaymentProvider},
    reconcile::{Checkpoint, FindingKind, Hook, Report},
    store::{self, NewOrder},
};
use futures::FutureExt;
use proptest::prelude::*;
use tokio::sync::Mutex;

/// How an order's life goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Paid and issued.
    Issue,
    /// Issued, then refunded by the organizer.
    Refund,
    /// Declined at the checkout.
    Decline,
    /// Canceled by the buyer before paying.
    Cancel,
}

/// One call of the order's workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Hold,
    Open,
    PaySucceed,
    PayDecline,
    Authorize,
    Confirm,
    Capture,
    Confirmed,
    Issue,
    Issued,
    RefundPayment,
    VoidTickets,
    RefundSeats,
    Refunded,
    Void,
    Release,
    Failed,
    Canceled,
}

impl Path {
    fn steps(self) -> &'static [Step] {
        use Step::*;
        // Issued, then refunded: the issue path is its first nine steps.
        const REFUND: &[Step] = &[
            Hold,
            Open,
            PaySucceed,
            Authorize,
            Confirm,
            Capture,
            Confirmed,
            Issue,
            Issued,
            RefundPayment,
            VoidTickets,
            RefundSeats,
            Refunded,
        ];
        const DECLINE: &[Step] = &[Hold, Open, PayDecline, Release, Failed];
        const CANCEL: &[Step] = &[Hold, Open, Void, Release, Canceled];
        match self {
            Self::Issue => &REFUND[..9],
            Self::Refund => REFUND,
            Self::Decline => DECLINE,
            Self::Cancel => CANCEL,
        }
    }
}

/// One order walked by the test.
struct Live {
    who: OrderRef,
    seats: Vec<SeatId>,
    path: Path,
    done: usize,
    intent: Option<String>,
    amount: i64,
    state: OrderState,
}

impl Live {
    fn new(p: &Platform, path: Path, seats: Vec<SeatId>) -> Self {
        Self {
            who: OrderRef {
                event: p.event,
                order: OrderId::new(),
                buyer: BuyerId::new(),
            },
            seats,
            path,
            done: 0,
            intent: None,
            amount: 0,
            state: OrderState::Requested,
        }
    }

    /// Moves the order one state on, as `record_state` does (a pass may have moved it first:
    /// the ticket repair takes `confirmed` to `issued`).
    async fn enter(&mut self, p: &Platform, to: OrderState) {
        let moved = store::transition(
            &p.db,
            self.who.order.as_uuid(),
            self.state,
            to,
            None,
            serde_json::json!({}),
        )
        .await
        .unwrap();
        assert!(
            matches!(
                moved,
                store::Transitioned::Applied | store::Transitioned::AlreadyThere
            ),
            "{:?} -> {to}: {moved:?}",
            self.state
        );
        self.state = to;
    }

    fn pay_ref(&self) -> String {
        self.intent.clone().unwrap()
    }

    async fn record_payment(&self, p: &Platform) {
        let now = p.provider.retrieve(&self.pay_ref()).await.unwrap();
        store::record_payment(&p.db, "sandbox", self.who.order.as_uuid(), &now)
            .await
            .unwrap();
    }

    /// Takes the next step of the order's path. `false`: it had none left.
    async fn advance(&mut self, p: &Platform) -> bool {
        let Some(step) = self.path.steps().get(self.done).copied() else {
            return false;
        };
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        let key = |what: &str| format!("{}:{what}", self.who.order);
        match step {
            Step::Hold => {
                p.seats
                    .hold(&self.who, &self.seats, Duration::from_secs(600))
                    .await
                    .unwrap();
            }
            Step::Open => {
                let recorded = store::record_order(
                    &p.db,
                    &NewOrder {
                        order: self.who,
                        idempotency_key: uuid::Uuid::new_v4().to_string(),
                        request_hash: "h".into(),
                        seats: self.seats.clone(),
                        hold_expires_at: p.seats.now() + 600_000,
                        workflow_id: workflow_id(self.who.order),
                    },
                )
                .await
                .unwrap();
                self.state = OrderState::Held;
                self.amount = recorded.amount_cents;
                let intent = p
                    .provider
                    .create(
                        &key("create"),
                        &NewPayment {
                            amount: recorded.amount_cents,
                            currency: recorded.currency,
                            order_id: self.who.order.to_string(),
                            expires_at: chrono::Utc::now() + chrono::Duration::minutes(8),
                        },
                    )
                    .await
                    .unwrap();
                self.intent = Some(intent.id.clone());
                store::record_payment(&p.db, "sandbox", self.who.order.as_uuid(), &intent)
                    .await
                    .unwrap();
                self.enter(p, OrderState::AwaitingPayment).await;
            }
            Step::PaySucceed => assert_eq!(p.pay(&self.pay_ref(), "succeed").await, 200),
            Step::PayDecline => assert_eq!(p.pay(&self.pay_ref(), "decline").await, 200),
            Step::Authorize => self.enter(p, OrderState::Authorized).await,
            Step::Confirm => {
                p.seats.confirm(&self.who, &self.seats).await.unwrap();
            }
            Step::Capture => {
                p.provider
                    .capture(&key("capture"), &self.pay_ref())
                    .await
                    .unwrap();
                self.record_payment(p).await;
            }
            Step::Confirmed => self.enter(p, OrderState::Confirmed).await,
            Step::Issue => {
                let event = self.who.event;
                store::issue_tickets(&p.db, &self.who, &self.seats, |s| signer.issue(event, s))
                    .await
                    .unwrap();
            }
            Step::Issued => self.enter(p, OrderState::Issued).await,
            Step::RefundPayment => {
                p.provider
                    .refund(&key("refund"), &self.pay_ref())
                    .await
                    .unwrap();
                self.record_payment(p).await;
            }
            Step::VoidTickets => {
                store::void_tickets(&p.db, self.who.order.as_uuid())
                    .await
                    .unwrap();
            }
            Step::RefundSeats => {
                p.seats.refund(&self.who, &self.seats).await.unwrap();
            }
            Step::Refunded => self.enter(p, OrderState::Refunded).await,
            Step::Void => {
                p.provider
                    .cancel(&key("void"), &self.pay_ref())
                    .await
                    .unwrap();
                self.record_payment(p).await;
            }
            Step::Release => {
                p.seats.release(&self.who, &self.seats).await.unwrap();
            }
            Step::Failed => self.enter(p, OrderState::PaymentFailed).await,
            Step::Canceled => self.enter(p, OrderState::Canceled).await,
        }
        self.done += 1;
        true
    }

    async fn finish(&mut self, p: &Platform) {
        while self.advance(p).await {}
    }
}

type Shared = Arc<Mutex<Live>>;

/// The promises that must hold at every instant: an issued ticket's seat is sold to that
/// ticket's order, and an issued order keeps its money.
async fn check_always(p: &Platform, o: &Live, at: &str) {
    let tickets = sqlx::query!(
        "select s.code, t.label from tickets t join sections s on s.section_id = t.section_id
         where t.order_id = $1 and t.state = 'issued'",
        o.who.order.as_uuid(),
    )
    .fetch_all(&p.db)
    .await
    .unwrap();
    for t in tickets {
        let seat: SeatId = format!("{}:{}", t.code, t.label).parse().unwrap();
        let now = p.seats.seat(p.event, &seat).await.unwrap().unwrap().state;
        assert!(
            matches!(now, SeatState::Sold { order, .. } if order == o.who.order),
            "{at}: {:?} order {} has an issued ticket for {seat}, which is {now:?}",
            o.path,
            o.who.order
        );
    }
    if o.path == Path::Issue
        && let Some(id) = &o.intent
    {
        let pay = p.provider.retrieve(id).await.unwrap();
        assert_eq!(
            pay.amount_refunded, 0,
            "{at}: order {} on its way to issued had money refunded",
            o.who.order
        );
    }
}

/// Where a finished order must end: seats, tickets, money and state as its path says.
async fn check_end(p: &Platform, o: &Live) {
    check_always(p, o, "end").await;
    let who = o.who.order;
    for seat in &o.seats {
        let now = p.seats.seat(p.event, seat).await.unwrap().unwrap().state;
        match o.path {
            Path::Issue => assert!(
                matches!(now, SeatState::Sold { order, .. } if order == who),
                "issued order {who}: {seat} is {now:?}"
            ),
            _ => assert_eq!(now, SeatState::Free, "{:?} order {who}: {seat}", o.path),
        }
    }
    let order = sqlx::query!(
        r#"select o.state,
                  (select count(*) from tickets t
                   where t.order_id = o.order_id and t.state = 'issued') as "tickets!"
           from orders o where o.order_id = $1"#,
        who.as_uuid(),
    )
    .fetch_one(&p.db)
    .await
    .unwrap();
    let (state, tickets) = (order.state, order.tickets);
    let pay = p.provider.retrieve(&o.pay_ref()).await.unwrap();
    let kept = pay.amount_captured - pay.amount_refunded;
    let (want_state, want_tickets, want_kept) = match o.path {
        Path::Issue => ("issued", o.seats.len() as i64, o.amount),
        Path::Refund => ("refunded", 0, 0),
        Path::Decline => ("payment_failed", 0, 0),
        Path::Cancel => ("canceled", 0, 0),
    };
    assert_eq!(
        (state.as_str(), tickets, kept),
        (want_state, want_tickets, want_kept),
        "{:?} order {who}",
        o.path
    );
}

/// A hook that counts checkpoints and calls `at_each(n, checkpoint)`.
fn hook<F>(at_each: F) -> Hook
where
    F: Fn(usize, Checkpoint) -> futures::future::BoxFuture<'static, ()> + Send + Sync + 'static,
{
    let n = Arc::new(AtomicUsize::new(0));
    let at_each = Arc::new(at_each);
    Arc::new(move |c: Checkpoint| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        at_each(i, c)
    })
}

fn options() -> PlatformOptions {
    PlatformOptions {
        rows: 20,
        seats_per_row: 30,
        max_per_buyer: 8,
        floor_capacity: None,
        // The worker's schedule runs beside the test's own passes, every second, with no grace
        // either: an unhooked pass racing the hooked one must be just as harmless.
        reconcile_grace_s: 0,
        reconcile_every_s: 1,
        ..Default::default()
    }
}

/// Hands out seats no earlier case used.
struct Seats {
    next: AtomicU32,
    max: u32,
}

impl Seats {
    fn new(p: &PlatformOptions) -> Self {
        Self {
            next: AtomicU32::new(1),
            max: p.rows as u32 * p.seats_per_row,
        }
    }
    fn take(&self, p: &Platform, n: u32) -> Vec<SeatId> {
        let first = self.next.fetch_add(n, Ordering::SeqCst);
        assert!(first + n - 1 <= self.max, "the test ran out of seats");
        (first..first + n).map(|i| p.seat(i)).collect()
    }
}

const PATHS: [Path; 4] = [Path::Issue, Path::Refund, Path::Decline, Path::Cancel];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_cut_into_every_step_of_every_order_path_never_undoes_a_sale() {
    let opts = options();
    let seats = Seats::new(&opts);
    let p = Arc::new(Platform::start(opts).await);
    let _worker = p.start_worker();
    let mut cases = 0;
    for path in PATHS {
        for split in 0..path.steps().len() {
            for cut in 0usize.. {
                let live: Shared = Arc::new(Mutex::new(Live::new(&p, path, seats.take(&p, 1))));
                for _ in 0..split {
                    live.lock().await.advance(&p).await;
                }
                let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
                // The allowance checks come last, one per buyer of every order this test
                // ended: the first is a cut point like any other, the rest add nothing new.
                let allowances = Arc::new(AtomicUsize::new(0));
                let (pp, ll, ff) = (p.clone(), live.clone(), fired.clone());
                let h = hook(move |i, c| {
                    let (p, live, fired) = (pp.clone(), ll.clone(), ff.clone());
                    let repeat = c == Checkpoint::Candidate(FindingKind::AllowanceDrift)
                        && allowances.fetch_add(1, Ordering::SeqCst) > 0;
                    async move {
                        if repeat {
                            return;
                        }
                        let mut o = live.lock().await;
                        check_always(&p, &o, &format!("checkpoint {i} {c:?}")).await;
                        if i == cut {
                            fired.store(true, Ordering::SeqCst);
                            o.finish(&p).await;
                            check_always(&p, &o, &format!("after checkpoint {i} {c:?}")).await;
                        }
                    }
                    .boxed()
                });
                let report = p.reconciler(0, Some(h)).await.run("manual").await.unwrap();
                let mut o = live.lock().await;
                o.finish(&p).await;
                check_end(&p, &o).await;
                assert!(
                    report
                        .findings
                        .iter()
                        .all(|f| !f.repaired || f.kind == FindingKind::CapturedWithoutTicket),
                    "{path:?} split {split} cut {cut}: a pass repaired a live order: {report:#?}"
                );
                cases += 1;
                if !fired.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
    let last = p.reconciler(0, None).await.run("manual").await.unwrap();
    assert_eq!(last.findings, [], "{last:#?}");
    assert!(cases > 40, "only {cases} interleavings ran");
}

/// One random case: orders on random paths (each already some way along), and a schedule
/// saying which order takes how many steps at each checkpoint of each pass.
#[derive(Debug, Clone)]
struct Case {
    /// Path, seats, and steps taken before the first pass.
    orders: Vec<(Path, u32, usize)>,
    passes: usize,
    /// At checkpoint i: (which order, how many steps).
    schedule: Vec<(usize, usize)>,
}

fn case() -> impl Strategy<Value = Case> {
    let path = prop_oneof![
        3 => Just(Path::Issue),
        2 => Just(Path::Refund),
        1 => Just(Path::Decline),
        1 => Just(Path::Cancel),
    ];
    (
        prop::collection::vec((path, 1u32..=2, 0usize..14), 2..=4),
        1usize..=3,
        prop::collection::vec((0usize..4, 0usize..=5), 4..40),
    )
        .prop_map(|(orders, passes, schedule)| Case {
            orders,
            passes,
            schedule,
        })
}

async fn run_case(p: Arc<Platform>, seats: &Seats, case: Case) {
    let mut orders: Vec<Shared> = Vec::new();
    for (path, n, before) in &case.orders {
        let mut o = Live::new(&p, *path, seats.take(&p, *n));
        for _ in 0..*before {
            o.advance(&p).await;
        }
        orders.push(Arc::new(Mutex::new(o)));
    }
    let schedule = Arc::new(case.schedule.clone());
    for pass in 0..case.passes {
        let (pp, oo, ss) = (p.clone(), orders.clone(), schedule.clone());
        let h = hook(move |i, c| {
            let (p, orders, schedule) = (pp.clone(), oo.clone(), ss.clone());
            async move {
                for o in &orders {
                    check_always(
                        &p,
                        &*o.lock().await,
                        &format!("pass {pass} checkpoint {i} {c:?}"),
                    )
                    .await;
                }
                // Several steps may happen while the pass looks away.
                let (which, steps) = schedule[(i + pass * 7) % schedule.len()];
                let mut o = orders[which % orders.len()].lock().await;
                for _ in 0..steps {
                    o.advance(&p).await;
                }
            }
            .boxed()
        });
        let report: Report = p.reconciler(0, Some(h)).await.run("manual").await.unwrap();
        let wrong: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.repaired && f.kind != FindingKind::CapturedWithoutTicket)
            .collect();
        assert!(wrong.is_empty(), "a pass repaired a live order: {wrong:#?}");
    }
    let mut ids = Vec::new();
    for o in &orders {
        let mut o = o.lock().await;
        o.finish(&p).await;
        check_end(&p, &o).await;
        ids.push(o.who.order);
    }
    let last = p.reconciler(0, None).await.run("manual").await.unwrap();
    let ours: Vec<_> = last
        .findings
        .iter()
        .filter(|f| f.order.is_some_and(|id| ids.contains(&id)))
        .collect();
    assert!(ours.is_empty(), "a settled pass still finds: {ours:#?}");
}

#[test]
fn random_interleavings_of_orders_and_passes_keep_every_sale() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = options();
    let seats = Seats::new(&opts);
    let p = Arc::new(rt.block_on(Platform::start(opts)));
    let _worker = p.start_worker();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 32,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&case(), |c| {
            rt.block_on(run_case(p.clone(), &seats, c));
            Ok(())
        })
        .unwrap();
}
