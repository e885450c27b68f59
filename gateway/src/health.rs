//! How loaded the core is, as the pacer needs to know it: the intake's own reports (hold
//! latency, work in flight) from a plain NATS subject, and the intents backlog from the intake
//! consumer's JetStream info, read once a second.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use boxoffice_nats::{Namespace, health::IntakeHealth, seat::UnixMillis};
use boxoffice_workflows::service::Background;
use futures::StreamExt;

/// What the pacer sees.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoreLoad {
    /// Intents published and not yet delivered to the intake.
    pub backlog: u64,
    /// Intents delivered and not yet acknowledged (holds and starts in progress).
    pub in_flight: u64,
    /// Worst recent hold p99 over the intake processes reporting, ms (`None`: nobody reports).
    pub hold_p99_ms: Option<u32>,
    /// Intake processes that reported in the last few seconds.
    pub reporters: usize,
    /// Intents the intake settled per second lately, summed over the processes reporting
    /// (smoothed over a few seconds; `None`: nobody reports). With the intake's staging, this
    /// is the pace at which the core opens payments, the one figure admissions must follow.
    pub served_per_s: Option<f64>,
}

/// The collector. Cheap to clone.
#[derive(Clone, Default)]
pub struct CoreHealth {
    /// Each process's latest report, with its smoothed pace (intents settled per second).
    reports: Arc<RwLock<HashMap<String, (IntakeHealth, f64)>>>,
    consumer: Arc<RwLock<(u64, u64)>>,
}

/// Reports older than this are ignored.
const FRESH_MS: i64 = 5_000;
/// Weight of the previous pace in each new report's smoothing (one report a second: about
/// three seconds of memory), so one slow second does not halve admissions.
const PACE_SMOOTHING: f64 = 0.7;

impl CoreHealth {
    /// Starts collecting in `background` (until it stops).
    pub fn start(client: async_nats::Client, ns: Namespace, background: &Background) -> Self {
        let health = Self::default();
        let reports = health.reports.clone();
        let subject = ns.intake_health_subject();
        let sub_client = client.clone();
        background.spawn(async move {
            loop {
                match sub_client.subscribe(subject.clone()).await {
                    Ok(mut sub) => {
                        while let Some(msg) = sub.next().await {
                            if let Ok(report) = serde_json::from_slice::<IntakeHealth>(&msg.payload)
                            {
                                let mut all = reports.write().unwrap_or_else(|e| e.into_inner());
                                let pace = f64::from(report.holds) * 1_000.0
                                    / f64::from(report.window_ms.max(1));
                                let smoothed = all.get(&report.worker).map_or(pace, |(_, old)| {
                                    PACE_SMOOTHING * old + (1.0 - PACE_SMOOTHING) * pace
                                });
                                all.insert(report.worker.clone(), (report, smoothed));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot subscribe to intake health"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let consumer = health.consumer.clone();
        let js = async_nats::jetstream::new(client);
        background.spawn(async move {
            // One handle, its info refreshed each second; looked up again only after a failure.
            let mut handle = None;
            loop {
                if handle.is_none() {
                    handle = js
                        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(
                            boxoffice_nats::topology::INTAKE_CONSUMER,
                            ns.intents_stream(),
                        )
                        .await
                        .ok();
                }
                if let Some(c) = handle.as_mut() {
                    match c.info().await {
                        Ok(info) => {
                            *consumer.write().unwrap_or_else(|e| e.into_inner()) =
                                (info.num_pending, info.num_ack_pending as u64);
                        }
                        Err(_) => handle = None,
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        health
    }

    /// The load as of `now`.
    pub fn load(&self, now: UnixMillis) -> CoreLoad {
        let (backlog, in_flight) = *self.consumer.read().unwrap_or_else(|e| e.into_inner());
        let reports = self.reports.read().unwrap_or_else(|e| e.into_inner());
        let fresh: Vec<&(IntakeHealth, f64)> = reports
            .values()
            .filter(|(r, _)| now - r.at <= FRESH_MS)
            .collect();
        CoreLoad {
            backlog,
            in_flight,
            hold_p99_ms: fresh.iter().map(|(r, _)| r.hold_p99_ms).max(),
            reporters: fresh.len(),
            served_per_s: (!fresh.is_empty()).then(|| fresh.iter().map(|(_, pace)| pace).sum()),
        }
    }
}
