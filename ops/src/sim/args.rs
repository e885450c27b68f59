//! The simulator's settings: the platform it runs against, the crowd, the provider's faults
//! and the fault drills.

use std::path::PathBuf;

use super::buyer;

/// The simulator's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// NATS URL.
    #[arg(long, env = "BOXOFFICE_NATS_URL")]
    pub nats_url: String,
    /// PostgreSQL maintenance database URL (the run creates a fresh database beside it).
    #[arg(long, env = "BOXOFFICE_DATABASE_URL")]
    pub database_url: String,
    /// Temporal frontend.
    #[arg(long, env = "BOXOFFICE_TEMPORAL_URL")]
    pub temporal_url: String,
    /// Replicas of every stream and of the seat bucket (3 on a cluster).
    #[arg(long, default_value_t = 1)]
    pub nats_replicas: usize,
    /// Folder with the platform's binaries (default: this program's own folder).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Folder for the report, the logs and the sandbox's ledger.
    #[arg(long, default_value = "bench-results/onsale")]
    pub out: PathBuf,
    /// Buyers.
    #[arg(long, default_value_t = 200_000)]
    pub buyers: u64,
    /// Seats (in the arena, a fifth of them standing).
    #[arg(long, default_value_t = 20_000)]
    pub seats: u32,
    /// The venue: `arena` (three seated sections and a standing floor, demand skewed to the
    /// best) or `general-admission` (one standing section of `--seats` units).
    #[arg(long, value_enum, default_value_t = Venue::Arena)]
    pub venue: Venue,
    /// Tickets one buyer may hold.
    #[arg(long, default_value_t = 6)]
    pub max_per_buyer: u32,
    /// Requests in flight from the simulator at most (keep it under the process's open-file
    /// limit, with room for the order event streams and the gateway's own connections).
    #[arg(long, default_value_t = 8_192)]
    pub max_requests: usize,
    /// Hold time, seconds (30 or more).
    #[arg(long, default_value_t = 60)]
    pub hold_s: u32,
    /// The organizer's admission cap, buyers per second (the platform's own cap when unset).
    #[arg(long)]
    pub admission_rate: Option<u32>,
    /// Seconds from scheduling to the opening.
    #[arg(long, default_value_t = 8)]
    pub opens_in_s: u64,
    /// Share of buyers already waiting before the opening (they are drawn at random).
    #[arg(long, default_value_t = 0.3)]
    pub early_share: f64,
    /// The opening burst: the rest arrive within this many seconds, most in the first few.
    #[arg(long, default_value_t = 10)]
    pub burst_s: u64,
    /// Gateways.
    #[arg(long, default_value_t = 1)]
    pub gateways: usize,
    /// Workers.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// How often the worker's reconciliation schedule runs during the sale, seconds (as
    /// deployed, it is on; the deployed default is 300 s, the simulator races it harder).
    #[arg(long, default_value_t = 5)]
    pub reconcile_every_s: u64,
    /// How long reconciliation leaves a moved order or a lapsed hold alone, seconds (a margin,
    /// not the safety; shorter than the deployed 120 s so the passes act during the sale).
    #[arg(long, default_value_t = 10)]
    pub reconcile_grace_s: u64,
    /// An on-demand pass (what `boxofficectl reconcile` runs) every this many seconds from the
    /// opening until every order has settled.
    #[arg(long, default_value_t = 7)]
    pub reconcile_on_demand_s: u64,
    /// Random seed (buyers' choices and arrival times).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How long to wait for every order to end after the last buyer is done, seconds
    /// (default: twice the hold time plus two minutes).
    #[arg(long)]
    pub settle_s: Option<u64>,
    /// Give up on the run this many seconds after it starts (its processes are stopped and
    /// it fails): a bound for benchmarks. None by default.
    #[arg(long)]
    pub deadline_s: Option<u64>,
    /// Bare workflows per second measured on the same Temporal server in this run, for the
    /// report's comparisons (`ops/bench onsale` and `contended` measure and pass it).
    #[arg(long)]
    pub bare_workflows_per_s: Option<f64>,
    /// Issued orders whose Temporal history is read after the run (history events and
    /// workflow tasks per order); 0 reads none.
    #[arg(long, default_value_t = 20)]
    pub history_sample: usize,
    /// Buyer behaviour.
    #[command(flatten)]
    pub behaviour: buyer::Behaviour,
    /// Payment provider faults.
    #[command(flatten)]
    pub faults: ProviderFaults,
    /// Fault drills.
    #[command(flatten)]
    pub drills: Drills,
}

/// The simulated venue's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Venue {
    /// Three seated sections and a standing floor with a fifth of the capacity.
    Arena,
    /// One general-admission section of every unit.
    GeneralAdmission,
}

/// Faults of the payment provider (passed to the sandbox).
#[derive(Debug, Clone, clap::Args)]
pub struct ProviderFaults {
    /// Fastest provider answer, ms.
    #[arg(long, default_value_t = 20)]
    pub latency_min_ms: u64,
    /// Slowest provider answer, ms.
    #[arg(long, default_value_t = 250)]
    pub latency_max_ms: u64,
    /// Share of webhooks never delivered.
    #[arg(long, default_value_t = 0.05)]
    pub webhook_drop_rate: f64,
    /// Share of webhooks delivered twice.
    #[arg(long, default_value_t = 0.05)]
    pub webhook_duplicate_rate: f64,
    /// Share of webhooks delivered out of order.
    #[arg(long, default_value_t = 0.05)]
    pub webhook_reorder_rate: f64,
    /// Longest webhook delay, ms.
    #[arg(long, default_value_t = 2_000)]
    pub webhook_delay_max_ms: u64,
}

/// Fault drills, each at a time after the opening.
#[derive(Debug, Clone, clap::Args)]
pub struct Drills {
    /// SIGKILL a worker this many seconds after the opening, and start another one.
    #[arg(long)]
    pub kill_worker_at_s: Option<u64>,
    /// SIGKILL a gateway this many seconds after the opening, and start it again.
    #[arg(long)]
    pub restart_gateway_at_s: Option<u64>,
    /// Cut the payment provider off at this second (SIGKILL), for `--provider-outage-s`.
    #[arg(long)]
    pub provider_outage_at_s: Option<u64>,
    /// How long the provider stays away.
    #[arg(long, default_value_t = 30)]
    pub provider_outage_s: u64,
    /// SIGKILL the NATS server at this second and start it again (needs `--nats-pid-file`).
    #[arg(long, requires = "nats_pid_file")]
    pub restart_nats_at_s: Option<u64>,
    /// SIGKILL the Temporal dev server at this second and start it again (needs
    /// `--temporal-pid-file`; the server must keep its state in a file).
    #[arg(long, requires = "temporal_pid_file")]
    pub restart_temporal_at_s: Option<u64>,
    /// How long a restarted server stays down, seconds.
    #[arg(long, default_value_t = 3)]
    pub server_down_s: u64,
    /// Pid file of the NATS server (as `ops/lib/services.sh` writes it).
    #[arg(long)]
    pub nats_pid_file: Option<PathBuf>,
    /// Pid file of the Temporal dev server.
    #[arg(long)]
    pub temporal_pid_file: Option<PathBuf>,
}
