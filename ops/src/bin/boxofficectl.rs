//! Run with `cargo run -p boxoffice-ops --bin boxofficectl -- --help`.
//!
//! The operator CLI: migrate the database, provision JetStream, create accounts and the demo
//! event, list events, inspect seat ownership and a waiting room, show an order's workflow,
//! run reconciliation now, and verify a ticket's scan code offline.

use anyhow::Context;
use boxoffice_nats::{EventId, SectionCode, Topology, seat::SeatStore};
use boxoffice_workflows::store::{self, PgConfig};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "boxofficectl", about = "Boxoffice operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply the database migrations (idempotent).
    Migrate {
        #[command(flatten)]
        pg: PgConfig,
    },
    /// Create or update the JetStream streams and buckets (idempotent).
    Provision {
        #[command(flatten)]
        nats: boxoffice_nats::NatsConfig,
    },
    /// Create the demo organizer and a demo event, and put it on sale in the seat store.
    DemoEvent {
        #[command(flatten)]
        pg: PgConfig,
        #[command(flatten)]
        nats: boxoffice_nats::NatsConfig,
        /// Password of the demo organizer account (stored as an argon2 hash).
        #[arg(
            long,
            env = "BOXOFFICE_DEMO_PASSWORD",
            default_value = "boxoffice-demo",
            hide_env_values = true
        )]
        password: String,
    },
    /// Show who owns each seat of a section, as the seat store has it now.
    Seats {
        #[command(flatten)]
        nats: boxoffice_nats::NatsConfig,
        /// The event.
        #[arg(long)]
        event: EventId,
        /// The section code.
        #[arg(long)]
        section: SectionCode,
    },
    /// Publish a purchase intent as the gateway does, then follow the order's status.
    Intent {
        #[command(flatten)]
        pg: PgConfig,
        #[command(flatten)]
        nats: boxoffice_nats::NatsConfig,
        /// The event.
        #[arg(long)]
        event: EventId,
        /// Named seats, comma-separated (`SECTION:LABEL`).
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["section", "quantity"])]
        seats: Vec<boxoffice_nats::SeatId>,
        /// A general-admission section (with `--quantity`).
        #[arg(long, requires = "quantity")]
        section: Option<SectionCode>,
        /// How many units of `--section`.
        #[arg(long)]
        quantity: Option<i64>,
        /// Follow the status this long (seconds); 0 prints the order id and returns.
        #[arg(long, default_value_t = 900)]
        follow_s: u64,
    },
    /// Create an organizer, operator or door staff account (or, with --update, reset its
    /// password and role and end its admin sessions, live dashboards included). A door account
    /// (`--role door --works-for <organizer email>`) uses the check-in scanner and nothing else,
    /// for that organizer's events (every event when it works for an operator).
    /// The password comes from BOXOFFICE_ACCOUNT_PASSWORD or, when that is unset, the first
    /// line of standard input, so it never appears in the process list.
    Account {
        #[command(flatten)]
        pg: PgConfig,
        /// Sign-in email (stored lower-case).
        #[arg(long)]
        email: String,
        /// Name shown in the admin UI.
        #[arg(long)]
        name: String,
        /// `organizer` (its own events only), `operator` (everything) or `door` (the check-in
        /// scanner only; needs `--works-for`).
        #[arg(long, default_value = "organizer", value_parser = ["organizer", "operator", "door"])]
        role: String,
        /// For `--role door`: the email of the organizer (or operator) it checks tickets in for.
        #[arg(long, required_if_eq("role", "door"))]
        works_for: Option<String>,
        /// Update the account if the email exists (otherwise that is an error), signing it out
        /// everywhere.
        #[arg(long)]
        update: bool,
    },
    /// List events: status, sale window, organizer, tickets sold of capacity.
    Events {
        #[command(flatten)]
        pg: PgConfig,
    },
    /// Show an event's waiting room as the queue stream has it: phase, draw seed, admission
    /// frontier, rate and the pacer's reason, and how many wait.
    Queue {
        #[command(flatten)]
        nats: boxoffice_nats::NatsConfig,
        /// The event.
        #[arg(long)]
        event: EventId,
    },
    /// Run reconciliation now (through Temporal, like the schedule) and print its report.
    Reconcile {
        #[command(flatten)]
        temporal: boxoffice_workflows::service::TemporalConfig,
    },
    /// Verify a ticket's scan code (what its QR holds) offline, with the tickets' public key
    /// only: no network. Prints the event and seat and `valid` or `INVALID`; exits 0 valid, 1
    /// invalid (forged or altered, or signed by another key), 2 not a ticket code.
    VerifyTicket {
        /// The scan code: `bxt1.<event>.<section:label>.<code>.<signature hex>`.
        scan: String,
        /// The tickets' public key (64 hex digits), as `GET /api/v1/tickets/public-key` gives
        /// it. The default is the development key (the public key of the worker's development
        /// seed), right only for tickets issued in development mode.
        #[arg(
            long,
            env = "BOXOFFICE_TICKET_PUBLIC_KEY",
            default_value = boxoffice_workflows::order::tickets::DEV_PUBLIC_KEY_HEX
        )]
        public_key: String,
    },
    /// Show an order: its record in PostgreSQL, its transitions, and its workflow's own status.
    Order {
        #[command(flatten)]
        pg: PgConfig,
        #[command(flatten)]
        temporal: boxoffice_workflows::service::TemporalConfig,
        /// The order id.
        #[arg(long)]
        order: boxoffice_nats::OrderId,
    },
}

/// `verify-ticket`: prints what the scan code says and whether it verifies; the exit code.
fn verify_ticket(scan: &str, public_key: &str) -> i32 {
    use boxoffice_workflows::order::tickets::{DEV_PUBLIC_KEY_HEX, ScanCode, is_public_key};
    let public_key = public_key.trim();
    if !is_public_key(public_key) {
        eprintln!("--public-key is not an Ed25519 public key of 64 hex digits");
        return 2;
    }
    let Ok(code) = scan.parse::<ScanCode>() else {
        eprintln!("not a Boxoffice ticket code (bxt1.<event>.<section:label>.<code>.<signature>)");
        return 2;
    };
    println!("event   {}", code.event);
    println!("seat    {}", code.seat);
    println!("code    {}", code.code);
    if public_key.eq_ignore_ascii_case(DEV_PUBLIC_KEY_HEX) {
        eprintln!(
            "(checked with the development key: set --public-key for a deployment's tickets)"
        );
    }
    if code.verify(public_key) {
        println!("valid");
        0
    } else {
        println!(
            "INVALID: the signature does not verify with this public key (forged, altered, or another issuer's)"
        );
        1
    }
}

async fn seat_store(nats: &boxoffice_nats::NatsConfig) -> anyhow::Result<SeatStore> {
    let client = nats
        .connect("boxofficectl")
        .await
        .context("connecting to NATS")?;
    let topology = Topology::provision(
        async_nats::jetstream::new(client),
        nats.namespace()?,
        nats.replicas,
    )
    .await?;
    Ok(SeatStore::new(topology.seats, Default::default()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::VerifyTicket { scan, public_key } => {
            std::process::exit(verify_ticket(&scan, &public_key));
        }
        Command::Migrate { pg } => {
            let pool = store::connect(&pg)?;
            store::migrate(&pool).await.context("applying migrations")?;
            println!("migrations applied");
        }
        Command::Provision { nats } => {
            seat_store(&nats).await?;
            println!("JetStream topology provisioned (prefix {})", nats.prefix);
        }
        Command::DemoEvent { pg, nats, password } => {
            use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
            let hash = argon2::Argon2::default()
                .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
                .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?
                .to_string();
            let pool = store::connect(&pg)?;
            let seats = seat_store(&nats).await?;
            let event = boxoffice_ops::demo::create(&pool, &seats, &hash).await?;
            println!("{event}");
        }
        Command::Seats {
            nats,
            event,
            section,
        } => {
            let seats = seat_store(&nats).await?;
            let now = seats.now();
            for v in seats.list_section(event, &section).await? {
                let who = match &v.state {
                    boxoffice_nats::seat::SeatState::Free => String::new(),
                    boxoffice_nats::seat::SeatState::Held {
                        order, expires_at, ..
                    } => {
                        format!("order {order}, {} s left", (expires_at - now) / 1000)
                    }
                    boxoffice_nats::seat::SeatState::Sold { order, .. } => format!("order {order}"),
                };
                println!(
                    "{:<16} {:<5} rev {:<8} {who}",
                    v.seat.to_string(),
                    format!("{:?}", v.state.availability(now)).to_lowercase(),
                    v.revision
                );
            }
        }
        Command::Intent {
            pg,
            nats,
            event,
            seats,
            section,
            quantity,
            follow_s,
        } => {
            intent(&pg, &nats, event, seats, section, quantity, follow_s).await?;
        }
        Command::Account {
            pg,
            email,
            name,
            role,
            works_for,
            update,
        } => {
            use boxoffice_workflows::store::accounts::{
                Role, create_account, create_door_account, find_by_email,
            };
            let password = match std::env::var("BOXOFFICE_ACCOUNT_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let role = Role::parse(&role).context("role is organizer, operator or door")?;
            let pool = store::connect(&pg)?;
            let id = match (role, works_for) {
                (Role::Door, Some(boss)) => {
                    let (boss, _) = find_by_email(&pool, &boss)
                        .await?
                        .with_context(|| format!("no account has the email {boss}"))?;
                    create_door_account(&pool, &email, &name, &password, boss.id, update).await?
                }
                (Role::Door, None) => anyhow::bail!("a door account needs --works-for"),
                (_, Some(_)) => anyhow::bail!("--works-for is for door accounts only"),
                (role, None) => {
                    create_account(&pool, &email, &name, &password, role, update).await?
                }
            };
            println!("{} {id} {}", role.as_str(), email.trim().to_lowercase());
        }
        Command::Events { pg } => {
            let pool = store::connect(&pg)?;
            let rows = sqlx::query!(
                r#"select e.event_id, e.name, e.status, e.opens_at, e.closes_at, o.email,
                        (select count(*) from tickets t where t.event_id = e.event_id
                           and t.voided_at is null) as "sold!",
                        (select coalesce(sum(s.capacity), 0) from sections s
                           where s.event_id = e.event_id)::bigint as "capacity!"
                 from events e join organizers o using (organizer_id)
                 order by e.opens_at desc nulls last, e.name"#,
            )
            .fetch_all(&pool)
            .await
            .context("listing events")?;
            println!(
                "{:<36}  {:<10} {:<20} {:<20} {:>11}  {:<28} name",
                "event", "status", "opens", "closes", "sold/cap", "organizer"
            );
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            };
            for r in rows {
                println!(
                    "{:<36}  {:<10} {:<20} {:<20} {:>11}  {:<28} {}",
                    r.event_id,
                    r.status,
                    at(r.opens_at),
                    at(r.closes_at),
                    format!("{}/{}", r.sold, r.capacity),
                    r.email,
                    r.name,
                );
            }
        }
        Command::Queue { nats, event } => {
            let client = nats
                .connect("boxofficectl")
                .await
                .context("connecting to NATS")?;
            Topology::provision(
                async_nats::jetstream::new(client.clone()),
                nats.namespace()?,
                nats.replicas,
            )
            .await?;
            let room = boxoffice_nats::queue::WaitingRoom::start(client, nats.namespace()?)
                .await
                .context("replaying the queue stream")?;
            let Some(summary) = room.read(event, |b| b.map(|b| b.summary())) else {
                println!("event {event}: nobody has joined its waiting room");
                return Ok(());
            };
            println!("event {event}");
            match &summary.control {
                Some((seq, c)) => {
                    println!("  phase            {:?}", c.phase);
                    println!("  admitted through {}", c.admitted_through);
                    println!(
                        "  rate             {:.1}/s (cap {:.1}/s), reason {}",
                        c.rate_per_s, c.cap_per_s, c.reason
                    );
                    println!("  admission ttl    {} s", c.admission_ttl_s);
                    match &c.draw {
                        Some(d) => println!(
                            "  draw             seed {} at {}",
                            d.seed,
                            chrono::DateTime::from_timestamp_millis(d.at)
                                .map_or_else(|| d.at.to_string(), |t| t.to_rfc3339())
                        ),
                        None => println!("  draw             not yet (the sale has not opened)"),
                    }
                    println!("  control seq      {seq}");
                }
                None => println!("  phase            no control yet (no pacer has run)"),
            }
            println!("  entries          {}", summary.entries);
            println!("  positions        {}", summary.positions);
            println!("  waiting          {}", summary.waiting);
            println!("  joined pre-open  {}", summary.pre_open);
        }
        Command::Reconcile { temporal } => {
            let (_, client) = temporal.connect("boxofficectl").await?;
            let report = boxoffice_workflows::reconcile::workflow::run_now(
                &client,
                &temporal.task_queue,
                "manual",
            )
            .await
            .context("running a reconciliation pass (is a worker running?)")?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Order {
            pg,
            temporal,
            order,
        } => {
            use boxoffice_workflows::order::{OrderClient, workflow_id};
            let pool = store::connect(&pg)?;
            let row = sqlx::query!(
                "select state, reason, amount_cents, currency, created_at, updated_at from orders
                 where order_id = $1",
                order.as_uuid(),
            )
            .fetch_optional(&pool)
            .await?
            .with_context(|| format!("no order {order} in PostgreSQL"))?;
            println!(
                "order {order}: {}{}, {} {}, created {}, updated {}",
                row.state,
                row.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                row.amount_cents,
                row.currency,
                row.created_at,
                row.updated_at,
            );
            let steps = sqlx::query!(
                "select seq, from_state, to_state, at, detail from order_transitions
                 where order_id = $1 order by seq",
                order.as_uuid(),
            )
            .fetch_all(&pool)
            .await?;
            for s in steps {
                println!(
                    "  {:>2} {} {:>16} -> {:<16} {}",
                    s.seq,
                    s.at,
                    s.from_state.unwrap_or_default(),
                    s.to_state,
                    s.detail
                );
            }
            let (_, client) = temporal.connect("boxofficectl").await?;
            match OrderClient::new(client).status(order).await {
                Ok(status) => println!(
                    "workflow {}: {}",
                    workflow_id(order),
                    serde_json::to_string_pretty(&status)?
                ),
                Err(e) => println!("workflow {}: not queryable ({e})", workflow_id(order)),
            }
        }
    }
    Ok(())
}

async fn intent(
    pg: &PgConfig,
    nats: &boxoffice_nats::NatsConfig,
    event: EventId,
    seats: Vec<boxoffice_nats::SeatId>,
    section: Option<SectionCode>,
    quantity: Option<i64>,
    follow_s: u64,
) -> anyhow::Result<()> {
    use boxoffice_workflows::{
        domain::{OrderState, PurchaseIntent, Quantity, SeatRequest},
        order::StatusBoard,
    };
    let request = match (section, quantity) {
        (Some(section), Some(q)) => SeatRequest::BestAvailable {
            section,
            quantity: Quantity::parse(q)?,
        },
        _ if !seats.is_empty() => SeatRequest::Seats(seats),
        _ => anyhow::bail!("give --seats, or --section with --quantity"),
    };
    let pool = store::connect(pg)?;
    let hold_seconds = sqlx::query_scalar!(
        "select hold_seconds from events where event_id = $1",
        event.as_uuid(),
    )
    .fetch_optional(&pool)
    .await?
    .with_context(|| format!("no event {event}"))?;
    let client = nats
        .connect("boxofficectl")
        .await
        .context("connecting to NATS")?;
    let ns = nats.namespace()?;
    let js = async_nats::jetstream::new(client);
    let key = uuid::Uuid::new_v4().to_string();
    let intent = PurchaseIntent {
        order_id: boxoffice_nats::OrderId::new(),
        event_id: event,
        buyer_id: boxoffice_nats::BuyerId::new(),
        request_hash: format!("cli-{key}"),
        idempotency_key: key,
        request,
        hold_seconds: hold_seconds as u32,
        submitted_at: chrono::Utc::now().timestamp_millis(),
        presale: None,
    };
    js.send_publish(
        ns.intent_subject(event),
        async_nats::jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(&intent)?.into())
            .message_id(&intent.idempotency_key),
    )
    .await?
    .await
    .context("publishing the intent")?;
    println!("order {} (buyer {})", intent.order_id, intent.buyer_id);
    if follow_s == 0 {
        return Ok(());
    }
    let board = StatusBoard::new(js, ns).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(follow_s);
    let mut seen = 0;
    while std::time::Instant::now() < deadline {
        if let Some(s) = board.latest(event, intent.order_id).await?
            && s.version != seen
        {
            seen = s.version;
            let extra = match (&s.payment, s.state) {
                (Some(p), OrderState::AwaitingPayment) => format!("pay at {}", p.checkout_url),
                _ => s.reason.clone().unwrap_or_default(),
            };
            println!("  {:<16} {extra}", s.state.as_str());
            for t in &s.tickets {
                println!(
                    "    ticket {} {} sig {}..",
                    t.seat,
                    t.code,
                    &t.signature[..16]
                );
            }
            if s.state.is_terminal() || (s.state == OrderState::Issued) {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    anyhow::bail!("the order did not finish within {follow_s} s")
}
