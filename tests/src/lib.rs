//! The integration-test harness: connects to the real NATS, PostgreSQL and Temporal that
//! `ops/test.sh` starts, and gives each test its own isolated slice of them (a NATS namespace,
//! a fresh database). Tests never start or fake these services themselves.

#![allow(clippy::unwrap_used)] // harness code: a panic is the failure report a test needs

pub mod admin;
pub mod browser;
pub mod buyer;
pub mod door;
pub mod platform;

use std::sync::OnceLock;

use boxoffice_nats::{
    EventId, Namespace, SeatStore, SectionCode, Topology, UnitLabel,
    seat::{EventInventory, SeatStoreOptions, SectionInventory, SectionUnits},
};

/// Addresses of the services `ops/test.sh` started.
#[derive(Debug, Clone)]
pub struct Services {
    /// NATS client URL.
    pub nats_url: String,
    /// PostgreSQL URL of the maintenance database (tests create their own databases).
    pub database_url: String,
    /// Temporal frontend URL.
    pub temporal_url: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with ./ops/test.sh, which starts NATS, PostgreSQL and Temporal")
    })
}

/// The services, read once from `BOXOFFICE_TEST_*`. Panics with the command to run when unset.
pub fn services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| Services {
        nats_url: var("BOXOFFICE_TEST_NATS_URL"),
        database_url: var("BOXOFFICE_TEST_DATABASE_URL"),
        temporal_url: var("BOXOFFICE_TEST_TEMPORAL_URL"),
    })
}

/// A loopback port free at the time of asking (for a binary the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs the future `make` builds on a new two-thread runtime on a thread of its own, as a
/// service's binary would (the worker's future is not `Send`, so it is driven by `block_on`,
/// never spawned); answers with its output.
pub fn on_own_runtime<F, T>(
    make: impl FnOnce() -> F + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T>
where
    F: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(rt.block_on(make()));
    });
    rx
}

/// The folder holding the workspace's binaries (`target/debug`), which `ops/test.sh` builds
/// before the tests: integration tests run from `target/debug/deps`.
pub fn bin_dir() -> std::path::PathBuf {
    // `ops/test.sh` says where `cargo build` put them; the test's own folder is the fallback,
    // wrong when Cargo's build directory is not its target directory (`build.build-dir`).
    if let Some(dir) = std::env::var_os("BOXOFFICE_TEST_BIN_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(std::path::Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// Logs to the test output when `TEST_LOG=1`.
pub fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info,boxoffice=debug".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}

/// A new NATS connection.
pub async fn nats() -> async_nats::Client {
    init_tracing();
    async_nats::connect(&services().nats_url)
        .await
        .expect("connect to test NATS")
}

/// A fresh namespace with its topology provisioned, over a new connection.
pub async fn topology() -> Topology {
    let client = nats().await;
    Topology::provision(async_nats::jetstream::new(client), Namespace::for_test(), 1)
        .await
        .expect("provision topology")
}

/// A seat store over an existing topology, on a connection of its own (a separate "process").
pub async fn store_on(topology: &Topology, opts: SeatStoreOptions) -> SeatStore {
    let js = async_nats::jetstream::new(nats().await);
    let kv = js
        .get_key_value(topology.ns.seat_bucket())
        .await
        .expect("seat bucket");
    SeatStore::new(kv, opts)
}

/// A seated inventory: one section `A` with seats `1..=n`.
pub fn seated_inventory(event: EventId, seats: u32, max_per_buyer: u32) -> EventInventory {
    EventInventory {
        event,
        max_per_buyer,
        sections: vec![SectionInventory {
            code: section("A"),
            units: SectionUnits::Seated((1..=seats).map(|i| label(&i.to_string())).collect()),
        }],
        blocks: Default::default(),
    }
}

/// Seat `n` of section `A` in [`seated_inventory`].
pub fn seat(n: u32) -> boxoffice_nats::SeatId {
    boxoffice_nats::SeatId::new(section("A"), label(&n.to_string()))
}

/// Parses a section code (test data only).
pub fn section(s: &str) -> SectionCode {
    SectionCode::parse(s).expect("valid section code")
}

/// Row and number of a `<row>-<number>` seat label, as `("B", 12)`; a buyer-API seat
/// (`<section>:<row>-<number>`) is accepted too. Panics on any other shape (a test's bug).
pub fn row_and_number(label: &str) -> (String, u32) {
    let place = label.rsplit_once(':').map_or(label, |(_, p)| p);
    let (row, number) = place
        .rsplit_once('-')
        .unwrap_or_else(|| panic!("{label:?} is not <row>-<number>"));
    let number = number
        .parse()
        .unwrap_or_else(|_| panic!("{label:?} has no seat number"));
    (row.to_owned(), number)
}

/// Parses a seat label (test data only).
pub fn label(s: &str) -> UnitLabel {
    UnitLabel::parse(s).expect("valid label")
}

/// A fresh, migrated database of its own.
pub async fn fresh_database() -> sqlx::PgPool {
    fresh_database_with_url().await.0
}

/// A fresh, migrated database of its own, and its URL (for services under test).
pub async fn fresh_database_with_url() -> (sqlx::PgPool, String) {
    use sqlx::{Connection, Executor};
    init_tracing();
    let admin = &services().database_url;
    let name = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to test PostgreSQL");
    // The name is generated above (hex only), so formatting it into the statement is safe.
    conn.execute(sqlx::AssertSqlSafe(format!("create database {name}")))
        .await
        .expect("create database");
    let url = database_url(&name);
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to fresh database");
    boxoffice_workflows::store::migrate(&pool)
        .await
        .expect("migrate");
    (pool, url)
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let admin = &services().database_url;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// A NATS server of a test's own (same binary and sync policy as `ops/test.sh` uses), for tests
/// that kill and restart the server. Killed on drop.
pub struct PrivateNats {
    child: Option<std::process::Child>,
    /// Where JetStream keeps its files (survives a restart).
    pub dir: std::path::PathBuf,
    /// The client port.
    pub port: u16,
}

impl PrivateNats {
    /// Starts a server on a free port with a fresh store directory.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = std::env::var("BOXOFFICE_TEST_TMP")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
        let dir =
            std::path::Path::new(&base).join(format!("nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut me = Self {
            child: None,
            dir,
            port,
        };
        me.restart();
        me
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server the hard way (SIGKILL: no flush, no goodbye).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port and store directory, and waits until it accepts clients.
    pub fn restart(&mut self) {
        self.kill();
        let conf = self.dir.join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\", sync_interval: always }}\n",
                self.port,
                self.dir.join("js").display()
            ),
        )
        .unwrap();
        let bin = var("BOXOFFICE_TEST_NATS_SERVER_BIN");
        let log = std::fs::File::create(self.dir.join("nats.log")).unwrap();
        self.child = Some(
            std::process::Command::new(bin)
                .arg("-c")
                .arg(&conf)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start nats-server"),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
    }
}
