//! Run through `./ops/bench <name>`, which starts the servers a benchmark needs.
//!
//! Prints progress and per-run figures on stderr and one JSON object on the last line of stdout.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "boxoffice-bench", about = "Boxoffice benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// Seat holds vs bare KV compare-and-swap (and PostgreSQL, when given a database).
    Holds(boxoffice_ops::bench::holds::HoldsArgs),
    /// The order workflow on a contended inventory vs a bare workflow of the same shape.
    Orders(boxoffice_ops::bench::orders::OrdersArgs),
    /// The gateway's join and poll vs a static response through the same stack, under wrk.
    Gateway(boxoffice_ops::bench::gateway::GatewayArgs),
    /// The busiest minute: the on-sale simulator vs bare workflows on the same server.
    Onsale(Box<boxoffice_ops::bench::onsale::OnsaleArgs>),
    /// One general-admission section, a crowd of single-ticket buyers who all pay: held per
    /// second, order → held, issued per second against bare workflows.
    Contended(boxoffice_ops::bench::contended::ContendedArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("warn,boxoffice_gateway=error")
        .with_writer(std::io::stderr)
        .init();
    let report = match Cli::parse().bench {
        Bench::Holds(args) => boxoffice_ops::bench::holds::run(&args).await?,
        Bench::Orders(args) => boxoffice_ops::bench::orders::run(&args).await?,
        Bench::Gateway(args) => boxoffice_ops::bench::gateway::run(&args).await?,
        Bench::Onsale(args) => boxoffice_ops::bench::onsale::run(&args).await?,
        Bench::Contended(args) => boxoffice_ops::bench::contended::run(&args).await?,
    };
    println!("{report}");
    Ok(())
}
