//! Run with `cargo run -p boxoffice-ops --bin boxoffice-sim -- --help`, against running NATS,
//! Temporal and PostgreSQL servers (`ops/bench onsale` starts them and runs it).
//!
//! Drives a simulated on-sale through the real platform, audits every invariant, writes the
//! report, prints its JSON on the last line of stdout, and exits non-zero if the audit failed.

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "boxoffice-sim",
    about = "Boxoffice on-sale simulator and invariant audit"
)]
struct Cli {
    #[command(flatten)]
    sim: boxoffice_ops::sim::SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    let report = boxoffice_ops::sim::run(&Cli::parse().sim).await?;
    println!("{}", serde_json::to_string(&report)?);
    if !report.audit_ok {
        std::process::exit(1);
    }
    Ok(())
}
