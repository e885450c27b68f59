//! The platform's own processes, as an operator runs them: the payments sandbox, gateways and
//! workers started from their binaries, so a fault drill can `SIGKILL` one and start another
//! exactly as a crash and a restart would happen in production.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// Where the shared servers are and how the platform's processes reach them.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// NATS URL(s).
    pub nats_url: String,
    /// Subject, stream and bucket prefix of this run.
    pub prefix: String,
    /// The run's database.
    pub database_url: String,
    /// Temporal frontend.
    pub temporal_url: String,
    /// Temporal task queue of this run.
    pub task_queue: String,
    /// Folder holding the binaries.
    pub bin_dir: PathBuf,
    /// Folder for logs and the sandbox's ledger.
    pub dir: PathBuf,
}

/// A port nobody is listening on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The running processes by name (`sandbox`, `gateway-1`, `worker-1`, ...).
pub struct Procs {
    wiring: Wiring,
    children: BTreeMap<String, Child>,
    /// Restarts so far, per role, so log files never overwrite each other.
    generation: BTreeMap<String, u32>,
    /// Gateway base URLs (stable across a gateway's restarts: it comes back on its port).
    pub gateways: Vec<String>,
    gateway_ports: Vec<u16>,
    /// The sandbox's base URL.
    pub sandbox_url: String,
    sandbox_port: u16,
    sandbox_env: Vec<(String, String)>,
    /// Extra settings of every gateway and worker.
    gateway_env: Vec<(String, String)>,
    /// Extra settings of every worker.
    pub worker_env: Vec<(String, String)>,
}

impl Procs {
    /// Plans the processes (nothing starts yet).
    pub fn new(
        wiring: Wiring,
        gateways: usize,
        sandbox_env: Vec<(String, String)>,
        gateway_env: Vec<(String, String)>,
    ) -> Self {
        let sandbox_port = free_port();
        let gateway_ports: Vec<u16> = (0..gateways.max(1)).map(|_| free_port()).collect();
        Self {
            gateways: gateway_ports
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect(),
            gateway_ports,
            sandbox_url: format!("http://127.0.0.1:{sandbox_port}"),
            sandbox_port,
            sandbox_env,
            gateway_env,
            worker_env: Vec::new(),
            wiring,
            children: BTreeMap::new(),
            generation: BTreeMap::new(),
        }
    }

    fn bin(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.wiring.bin_dir.join(name);
        if !p.exists() {
            bail!(
                "{} is missing: build the binaries first (cargo build --workspace --bins)",
                p.display()
            );
        }
        Ok(p)
    }

    fn log(&mut self, name: &str) -> anyhow::Result<std::fs::File> {
        let n = self.generation.entry(name.to_owned()).or_default();
        *n += 1;
        let path = self.wiring.dir.join(format!("{name}.{n}.log"));
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))
    }

    fn spawn(&mut self, name: &str, bin: &str, env: Vec<(String, String)>) -> anyhow::Result<()> {
        let bin = self.bin(bin)?;
        let out = self.log(name)?;
        let err = out.try_clone()?;
        let child = Command::new(&bin)
            .envs(env)
            .env("BOXOFFICE_LOG", "warn")
            // The platform runs on the development secrets, which the sandbox shares.
            .env("BOXOFFICE_DEV_MODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        self.children.insert(name.to_owned(), child);
        Ok(())
    }

    fn common(&self) -> Vec<(String, String)> {
        let w = &self.wiring;
        [
            ("BOXOFFICE_NATS_URL", w.nats_url.as_str()),
            ("BOXOFFICE_NATS_PREFIX", w.prefix.as_str()),
            ("BOXOFFICE_DATABASE_URL", w.database_url.as_str()),
            ("BOXOFFICE_TEMPORAL_URL", w.temporal_url.as_str()),
            ("BOXOFFICE_TASK_QUEUE", w.task_queue.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Starts the payments sandbox (its ledger survives its restarts).
    pub async fn start_sandbox(&mut self) -> anyhow::Result<()> {
        let ledger = self.wiring.dir.join("payments-sandbox");
        let mut env: Vec<(String, String)> = vec![
            (
                "SANDBOX_ADDR".into(),
                format!("127.0.0.1:{}", self.sandbox_port),
            ),
            ("SANDBOX_DATA_DIR".into(), ledger.display().to_string()),
            (
                "SANDBOX_WEBHOOK_URL".into(),
                format!("{}/webhooks/payments", self.gateways[0]),
            ),
        ];
        env.extend(self.sandbox_env.iter().cloned());
        self.spawn("sandbox", "boxoffice-payments-sandbox", env)?;
        wait_ready(
            &format!("{}/healthz", self.sandbox_url),
            "the payments sandbox",
        )
        .await
    }

    /// Starts gateway `i` (0-based) and waits until it is ready.
    pub async fn start_gateway(&mut self, i: usize) -> anyhow::Result<()> {
        let mut env = self.common();
        env.push((
            "BOXOFFICE_HTTP_ADDR".into(),
            format!("127.0.0.1:{}", self.gateway_ports[i]),
        ));
        env.push(("BOXOFFICE_ADMIN_COOKIE_SECURE".into(), "false".into()));
        // Every simulated buyer comes from 127.0.0.1: the per-address session bound (a first
        // line against one client minting buyers) would refuse all but the first few hundred.
        env.push((
            "BOXOFFICE_SESSIONS_PER_ADDRESS_PER_MINUTE".into(),
            "0".into(),
        ));
        env.extend(self.gateway_env.iter().cloned());
        self.spawn(&format!("gateway-{}", i + 1), "boxoffice-gateway", env)?;
        wait_ready(&format!("{}/readyz", self.gateways[i]), "a gateway").await
    }

    /// Starts worker `i` (1-based name) and waits until it is ready.
    pub async fn start_worker(&mut self, i: usize) -> anyhow::Result<()> {
        let admin = free_port();
        let mut env = self.common();
        env.push(("BOXOFFICE_PAYMENTS_URL".into(), self.sandbox_url.clone()));
        env.push((
            "BOXOFFICE_WORKER_ADMIN_ADDR".into(),
            format!("127.0.0.1:{admin}"),
        ));
        env.extend(self.gateway_env.iter().cloned());
        env.extend(self.worker_env.iter().cloned());
        self.spawn(&format!("worker-{i}"), "boxoffice-worker", env)?;
        wait_ready(&format!("http://127.0.0.1:{admin}/readyz"), "a worker").await
    }

    /// `SIGKILL`s a process (a crash: no shutdown, no goodbye).
    pub async fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let mut child = self
            .children
            .remove(name)
            .with_context(|| format!("no process {name}"))?;
        child.start_kill().ok();
        child.wait().await.ok();
        Ok(())
    }

    /// Whether every process still runs; names the first that exited.
    pub fn check(&mut self) -> anyhow::Result<()> {
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "{name} exited ({status}); its log is in {}",
                    self.wiring.dir.display()
                );
            }
        }
        Ok(())
    }

    /// Stops everything (SIGKILL: nothing of the run is kept but the logs and the ledger).
    pub async fn stop_all(&mut self) {
        let names: Vec<String> = self.children.keys().cloned().collect();
        for n in names {
            self.kill(&n).await.ok();
        }
    }

    /// The folder with the logs.
    pub fn dir(&self) -> &Path {
        &self.wiring.dir
    }

    /// CPU seconds each running process has used since it started (a process killed by a
    /// drill takes its count with it).
    pub fn cpu_seconds(&self) -> BTreeMap<String, f64> {
        self.children
            .iter()
            .filter_map(|(name, child)| Some((name.clone(), cpu_seconds(child.id()?)?)))
            .collect()
    }
}

/// CPU seconds (user and system) process `pid` has used, from `/proc/<pid>/stat`, in the
/// kernel's clock ticks of 1/100 s (`USER_HZ`, 100 on every Linux the project runs on).
/// `None` when it cannot be read.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, 12th and 13th after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The pid in a pid file, if it holds one.
pub fn pid_in(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Crashes and restarts a server this program did not start (NATS, the Temporal dev server),
/// found by the pid file its start script wrote: reads its command line, working folder and
/// environment from `/proc`, `SIGKILL`s it, waits `down_for`, starts the same command again
/// (detached: it outlives this program, like the original) and writes the new pid back, so the
/// script that owns it still stops it.
pub async fn restart_by_pid_file(pid_file: &Path, down_for: Duration) -> anyhow::Result<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .with_context(|| format!("reading {}", pid_file.display()))?
        .trim()
        .parse()
        .context("pid file")?;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let argv: Vec<String> = std::fs::read(proc_dir.join("cmdline"))
        .with_context(|| format!("process {pid} is not running"))?
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cwd = std::fs::read_link(proc_dir.join("cwd"))?;
    let env: Vec<(String, String)> = std::fs::read(proc_dir.join("environ"))?
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let (program, args) = argv.split_first().context("empty command line")?;
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    while proc_dir.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(down_for).await;
    let log = pid_file.with_extension("restarted.log");
    let out = std::fs::File::create(&log)?;
    let child = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .with_context(|| format!("restarting {program}"))?;
    let new = child.id();
    std::fs::write(pid_file, format!("{new}\n"))?;
    // Not waited for here: the script that owns the server stops it through the pid file.
    std::mem::forget(child);
    Ok(new)
}

async fn wait_ready(url: &str, what: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while tokio::time::Instant::now() < deadline {
        if http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{what} did not become ready at {url} within 90 s")
}
