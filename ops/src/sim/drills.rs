//! What runs beside the crowd: the fault drills (kill and restart processes and servers at
//! their times), on-demand reconciliation passes, and the watch for every seat claimed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use super::*;

/// Runs the drills at their times; returns what was done, in words.
pub(super) async fn run_drills(
    d: Drills,
    workers: usize,
    opened: Instant,
    procs: Arc<Mutex<Procs>>,
) -> anyhow::Result<Vec<String>> {
    let mut plan: Vec<(u64, &'static str)> = Vec::new();
    if let Some(s) = d.kill_worker_at_s {
        plan.push((s, "kill_worker"));
    }
    if let Some(s) = d.restart_gateway_at_s {
        plan.push((s, "restart_gateway"));
    }
    if let Some(s) = d.provider_outage_at_s {
        plan.push((s, "provider_outage"));
    }
    if let Some(s) = d.restart_nats_at_s {
        plan.push((s, "restart_nats"));
    }
    if let Some(s) = d.restart_temporal_at_s {
        plan.push((s, "restart_temporal"));
    }
    plan.sort();
    let mut done = Vec::new();
    let mut next_worker = workers.max(1) + 1;
    for (at, what) in plan {
        tokio::time::sleep_until((opened + Duration::from_secs(at)).into()).await;
        match what {
            "kill_worker" => {
                let mut p = procs.lock().await;
                p.kill("worker-1").await?;
                eprintln!("[drill] t+{at}s: worker-1 killed (SIGKILL)");
                tokio::time::sleep(Duration::from_secs(1)).await;
                p.start_worker(next_worker).await?;
                eprintln!("[drill] worker-{next_worker} started");
                done.push(format!(
                    "t+{at}s: worker-1 SIGKILLed, worker-{next_worker} started"
                ));
                next_worker += 1;
            }
            "restart_gateway" => {
                let mut p = procs.lock().await;
                p.kill("gateway-1").await?;
                eprintln!("[drill] t+{at}s: gateway-1 killed (SIGKILL)");
                tokio::time::sleep(Duration::from_secs(1)).await;
                p.start_gateway(0).await?;
                done.push(format!("t+{at}s: gateway-1 SIGKILLed and restarted"));
            }
            "restart_nats" | "restart_temporal" => {
                let (server, pid_file) = if what == "restart_nats" {
                    ("NATS", d.nats_pid_file.clone())
                } else {
                    ("the Temporal dev server", d.temporal_pid_file.clone())
                };
                let pid_file = pid_file.context("no pid file")?;
                eprintln!("[drill] t+{at}s: {server} killed (SIGKILL)");
                let pid =
                    procs::restart_by_pid_file(&pid_file, Duration::from_secs(d.server_down_s))
                        .await?;
                eprintln!("[drill] {server} started again (pid {pid})");
                done.push(format!(
                    "t+{at}s: {server} SIGKILLed, down {} s, restarted",
                    d.server_down_s
                ));
            }
            _ => {
                procs.lock().await.kill("sandbox").await?;
                eprintln!(
                    "[drill] t+{at}s: payment provider cut off for {} s",
                    d.provider_outage_s
                );
                tokio::time::sleep(Duration::from_secs(d.provider_outage_s)).await;
                procs.lock().await.start_sandbox().await?;
                done.push(format!(
                    "t+{at}s: payment provider unreachable for {} s",
                    d.provider_outage_s
                ));
            }
        }
    }
    Ok(done)
}

/// Runs a reconciliation pass on demand every `every` from the opening, as an operator's
/// `boxofficectl reconcile` would, until aborted. A pass that cannot run (Temporal restarted
/// by a drill) is said and skipped.
pub(super) async fn reconcile_on_demand(
    temporal_url: String,
    task_queue: String,
    opened: Instant,
    every: Duration,
) {
    tokio::time::sleep_until(opened.into()).await;
    let config = boxoffice_workflows::service::TemporalConfig {
        url: temporal_url,
        namespace: "default".into(),
        task_queue: task_queue.clone(),
    };
    let client = loop {
        match config.connect("boxoffice-sim").await {
            Ok((_, c)) => break c,
            Err(e) => {
                eprintln!("[sim] on-demand reconciliation cannot reach Temporal yet: {e}");
                tokio::time::sleep(every).await;
            }
        }
    };
    loop {
        tokio::time::sleep(every).await;
        let pass =
            boxoffice_workflows::reconcile::workflow::run_now(&client, &task_queue, "manual");
        match tokio::time::timeout(Duration::from_secs(120), pass).await {
            Ok(Ok(r)) if r.repaired > 0 || r.unresolved > 0 => eprintln!(
                "[sim] on-demand reconciliation: {} repaired, {} reported",
                r.repaired, r.unresolved
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("[sim] on-demand reconciliation failed: {e}"),
            Err(_) => eprintln!("[sim] on-demand reconciliation took over 120 s"),
        }
    }
}

/// Samples the event's live counts every 250 ms from the opening and records the first time
/// no seat was left to buy: none available, every one held (by an order, whether its checkout
/// is open yet or not) or sold. Counts that are all zero (not loaded yet) do not count.
pub(super) async fn watch_claimed_out(world: Arc<buyer::World>, opened: Instant) {
    tokio::time::sleep_until(opened.into()).await;
    let url = format!("{}/api/v1/events/{}", world.gateways[0], world.event.id);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let Ok(r) = world.http.get(&url).send().await else {
            continue;
        };
        let Ok(ev) = r.json::<serde_json::Value>().await else {
            continue;
        };
        let a = &ev["availability"];
        let taken = a["held"].as_u64().unwrap_or(0) + a["sold"].as_u64().unwrap_or(0);
        if a["available"].as_u64() == Some(0) && taken > 0 {
            let ms = opened.elapsed().as_millis() as u64;
            world
                .tally
                .claimed_out_ms
                .store(ms, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    }
}
