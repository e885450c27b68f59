//! Run with `cargo run -p boxoffice-ops --bin boxofficectl -- --help`.
//!
//! The operator CLI: migrate the database, provision JetStream, create the demo event, and
//! inspect seat ownership.

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
    }
    Ok(())
}
