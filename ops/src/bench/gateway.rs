//! The gateway under wrk on loopback: a static 200 through the same stack (the baseline), the
//! durable waiting-room join (one conditional JetStream publish per request, every request a
//! new buyer), the status poll (in memory) and the waiting-room page (`GET
//! /events/{id}/queue`, the shell every buyer in line loads, served from memory), each
//! measured in the same run.

use std::{io::Write, path::Path, time::Duration};

use anyhow::{Context, bail};
use boxoffice_gateway::tokens::TokenKeys;
use boxoffice_nats::{EventId, Namespace, SeatStore, Topology, seat::SeatStoreOptions};
use clap::Parser;
use futures::StreamExt;

use crate::median;

/// Flags of `ops/bench gateway`.
#[derive(clap::Args, Debug)]
pub struct GatewayArgs {
    /// NATS URL.
    #[arg(long)]
    pub nats_url: String,
    /// PostgreSQL maintenance database URL (a fresh database is created).
    #[arg(long)]
    pub database_url: String,
    /// Runs (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 5)]
    pub duration_s: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 128)]
    pub connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Fresh sessions prepared per join measurement (must exceed the joins it makes).
    #[arg(long, default_value_t = 400_000)]
    pub join_pool: usize,
    /// Buyers in line whose tickets the poll measurement cycles through.
    #[arg(long, default_value_t = 20_000)]
    pub poll_pool: usize,
}

/// One wrk measurement.
#[derive(Debug, Clone, Copy)]
struct Wrk {
    rps: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
}

fn parse_latency(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(out: &str) -> anyhow::Result<Wrk> {
    let mut w = Wrk {
        rps: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        errors: 0,
    };
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse()?;
        } else if let Some(v) = line.strip_prefix("99%") {
            w.p99_ms = parse_latency(v.trim()).context("99% latency")?;
        } else if line.contains(" requests in ") {
            w.requests = line.split_whitespace().next().unwrap_or("0").parse()?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            w.errors += v.trim().parse::<u64>()?;
        } else if line.starts_with("Socket errors:") {
            w.errors += line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    if w.rps.is_nan() {
        bail!("unreadable wrk output:\n{out}");
    }
    Ok(w)
}

fn wrk(args: &GatewayArgs, script: &Path, url: &str) -> anyhow::Result<Wrk> {
    let out = std::process::Command::new("wrk")
        .arg(format!("-t{}", args.threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.duration_s))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (ops/bench installs it)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// A wrk script: each thread loads its own file of request lines and cycles through them.
fn script(
    dir: &Path,
    name: &str,
    method: &str,
    files: &[std::path::PathBuf],
    path_of: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let list = files
        .iter()
        .map(|f| format!("{:?}", f.display().to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    let lua = format!(
        r#"local files = {{ {list} }}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("file", files[n])
end
local lines, i = {{}}, 0
function init(args)
  for line in io.lines(file) do lines[#lines + 1] = line end
end
function request()
  i = i + 1
  if i > #lines then i = 1 end
  local token, arg = lines[i]:match("([^ ]+) ?(.*)")
  return wrk.format("{method}", {path_of}, {{ ["Authorization"] = "Bearer " .. token }})
end
"#
    );
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua)?;
    Ok(path)
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for l in lines {
        writeln!(f, "{l}")?;
    }
    f.flush()?;
    Ok(())
}

/// Entries in the event's room, once a replica of our own has caught up with the stream.
async fn entries(
    room: &boxoffice_nats::queue::WaitingRoom,
    js: &async_nats::jetstream::Context,
    ns: &Namespace,
    event: EventId,
) -> anyhow::Result<u64> {
    let last = js
        .get_stream(ns.queue_stream())
        .await?
        .info()
        .await?
        .state
        .last_sequence;
    room.caught_up_to(last, Duration::from_secs(30)).await;
    Ok(room.read(event, |b| b.map_or(0, |b| b.summary().entries)))
}

/// Runs the benchmark and returns the JSON report (medians over runs).
pub async fn run(args: &GatewayArgs) -> anyhow::Result<serde_json::Value> {
    let db_url = crate::fresh_database(&args.database_url).await?;
    let db = sqlx::PgPool::connect(&db_url).await?;
    let ns = Namespace::for_test();
    let nats = async_nats::connect(&args.nats_url).await?;
    let js = async_nats::jetstream::new(nats.clone());
    let topology = Topology::provision(js.clone(), ns.clone(), 1).await?;
    let seats = SeatStore::new(topology.seats.clone(), SeatStoreOptions::default());
    let event: EventId = crate::demo::create(&db, &seats, "x").await?;
    // A slow admission rate keeps the line waiting: polls answer the common case.
    sqlx::query!(
        "update events set admission_rate_per_s = 1 where event_id = $1",
        event.as_uuid(),
    )
    .execute(&db)
    .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let gateway = boxoffice_gateway::GatewayConfig::try_parse_from([
        "boxoffice-gateway",
        "--dev-mode",
        "--nats-url",
        &args.nats_url,
        "--nats-prefix",
        ns.prefix(),
        "--database-url",
        &db_url,
        "--temporal-url",
        "http://127.0.0.1:1",
    ])?;
    tokio::spawn(boxoffice_gateway::run(
        gateway,
        listener,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    for i in 0.. {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        if i > 200 {
            bail!("the gateway did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let keys = TokenKeys::new(
        &[boxoffice_gateway::config::DEV_TOKEN_KEY.to_owned()],
        6 * 3600,
    )?;
    let dir = std::env::temp_dir().join(format!("bench-gateway-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let queue_path = format!("\"/api/v1/events/{event}/queue\"");

    // The poll pool: buyers in line, joined through the API.
    eprintln!("joining {} buyers for the poll measurement", args.poll_pool);
    let now = chrono::Utc::now().timestamp();
    let pool: Vec<(String, String)> = futures::stream::iter(0..args.poll_pool)
        .map(|_| {
            let (_, token, _) = keys.new_session(now);
            let http = http.clone();
            let url = format!("{base}/api/v1/events/{event}/queue");
            async move {
                let r: serde_json::Value = http
                    .post(url)
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let ticket = r["queue_ticket"].as_str().context("ticket")?.to_owned();
                anyhow::Ok((token, ticket))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let poll_files: Vec<_> = (0..args.threads)
        .map(|t| dir.join(format!("poll-{t}.txt")))
        .collect();
    for (t, f) in poll_files.iter().enumerate() {
        write_lines(
            f,
            pool.iter()
                .skip(t)
                .step_by(args.threads)
                .map(|(token, ticket)| format!("{token} {ticket}")),
        )?;
    }
    let ping = script(&dir, "ping", "GET", &poll_files, "\"/api/v1/ping\"")?;
    let poll = script(
        &dir,
        "poll",
        "GET",
        &poll_files,
        "\"/api/v1/queue/\" .. arg",
    )?;
    // The page needs no session; the header the script sends anyway is ignored.
    let page = script(
        &dir,
        "page",
        "GET",
        &poll_files,
        &format!("\"/events/{event}/queue\""),
    )?;

    let room = boxoffice_nats::queue::WaitingRoom::start(nats, ns.clone()).await?;
    let mut runs = Vec::new();
    for run in 0..args.runs {
        let baseline = wrk(args, &ping, &base)?;
        // Fresh buyers for every join measurement: each request is a first join.
        let now = chrono::Utc::now().timestamp();
        let join_files: Vec<_> = (0..args.threads)
            .map(|t| dir.join(format!("join-{run}-{t}.txt")))
            .collect();
        for f in &join_files {
            write_lines(
                f,
                (0..args.join_pool / args.threads).map(|_| keys.new_session(now).1),
            )?;
        }
        let join_script = script(
            &dir,
            &format!("join-{run}"),
            "POST",
            &join_files,
            &queue_path,
        )?;
        let before = entries(&room, &js, &ns, event).await?;
        let join = wrk(args, &join_script, &base)?;
        let created = entries(&room, &js, &ns, event).await? - before;
        let polled = wrk(args, &poll, &base)?;
        let paged = wrk(args, &page, &base)?;
        eprintln!(
            "run {}: baseline {:.0}/s p99 {:.1} ms | join {:.0}/s p99 {:.1} ms ({} new entries of {} requests, {} errors) | poll {:.0}/s p99 {:.1} ms ({} errors) | page {:.0}/s p99 {:.1} ms ({} errors) | join ratio {:.2}, poll ratio {:.2}, page ratio {:.2}",
            run + 1,
            baseline.rps,
            baseline.p99_ms,
            join.rps,
            join.p99_ms,
            created,
            join.requests,
            join.errors,
            polled.rps,
            polled.p99_ms,
            polled.errors,
            paged.rps,
            paged.p99_ms,
            paged.errors,
            join.rps / baseline.rps,
            polled.rps / baseline.rps,
            paged.rps / baseline.rps
        );
        if created < join.requests * 9 / 10 {
            eprintln!(
                "warning: the join pool ran out ({created} new of {}); raise --join-pool",
                join.requests
            );
        }
        for f in &join_files {
            let _ = std::fs::remove_file(f);
        }
        runs.push((baseline, join, polled, created, paged));
    }
    let _ = std::fs::remove_dir_all(&dir);
    type Run = (Wrk, Wrk, Wrk, u64, Wrk);
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let baseline_rps = m(&|r| r.0.rps);
    let join_rps = m(&|r| r.1.rps);
    let poll_rps = m(&|r| r.2.rps);
    let page_rps = m(&|r| r.4.rps);
    Ok(serde_json::json!({
        "baseline_rps": baseline_rps.round(),
        "join_rps": join_rps.round(),
        "poll_rps": poll_rps.round(),
        "page_rps": page_rps.round(),
        "join_ratio": (m(&|r| r.1.rps / r.0.rps) * 100.0).round() / 100.0,
        "poll_ratio": (m(&|r| r.2.rps / r.0.rps) * 100.0).round() / 100.0,
        "page_ratio": (m(&|r| r.4.rps / r.0.rps) * 100.0).round() / 100.0,
        "join_p99_ms": (m(&|r| r.1.p99_ms) * 10.0).round() / 10.0,
        "poll_p99_ms": (m(&|r| r.2.p99_ms) * 10.0).round() / 10.0,
        "page_p99_ms": (m(&|r| r.4.p99_ms) * 10.0).round() / 10.0,
        "baseline_p99_ms": (m(&|r| r.0.p99_ms) * 10.0).round() / 10.0,
        "join_errors": runs.iter().map(|r| r.1.errors).sum::<u64>(),
        "poll_errors": runs.iter().map(|r| r.2.errors).sum::<u64>(),
        "page_errors": runs.iter().map(|r| r.4.errors).sum::<u64>(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn wrk_output_is_read() {
        let out = "Running 5s test @ http://127.0.0.1:1\n  2 threads and 128 connections\n  Latency Distribution\n     50%  1.10ms\n     75%  1.50ms\n     90%  2.00ms\n     99%  612.00us\n  300000 requests in 5.00s, 40.00MB read\n  Non-2xx or 3xx responses: 12\nRequests/sec:  60000.12\nTransfer/sec:      8.00MB\n";
        let w = super::parse_wrk(out).unwrap();
        assert_eq!(w.requests, 300_000);
        assert_eq!(w.errors, 12);
        assert!((w.p99_ms - 0.612).abs() < 1e-9);
        assert!((w.rps - 60000.12).abs() < 1e-6);
    }
}
