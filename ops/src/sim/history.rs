//! What one issued order costs Temporal: the history events and workflow tasks of a sample of
//! the run's issued orders, read from the server after the sale (the workflow tasks are the
//! worker's round trips to the server; the events are what the server wrote for the order).

use std::{collections::BTreeMap, time::Duration};

use boxoffice_nats::OrderId;
use boxoffice_workflows::{order::OrderClient, service::TemporalConfig};
use serde::Serialize;

/// Medians over the sampled orders.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Issued orders whose history was read.
    pub sampled: usize,
    /// History events per issued order (median).
    pub events: f64,
    /// `WORKFLOW_TASK_COMPLETED` events per issued order (median): the workflow tasks the
    /// worker ran for it.
    pub workflow_tasks: f64,
    /// Events per issued order by kind (median of each), e.g. `MARKER_RECORDED` (one per
    /// local activity), `TIMER_STARTED`, `WORKFLOW_EXECUTION_SIGNALED`.
    pub by_kind: BTreeMap<String, f64>,
}

/// Reads the histories of `orders` (issued orders of the run) from the Temporal server at
/// `url`. `None` when none could be read (each failure is said on stderr).
pub async fn sample(url: &str, orders: &[String]) -> Option<History> {
    let config = TemporalConfig {
        url: url.to_owned(),
        namespace: "default".into(),
        task_queue: String::new(),
    };
    let client = match config.connect("boxoffice-sim-history").await {
        Ok((_, c)) => OrderClient::new(c),
        Err(e) => {
            eprintln!("[sim] cannot read workflow histories: {e}");
            return None;
        }
    };
    let mut kinds: Vec<BTreeMap<String, f64>> = Vec::new();
    for id in orders {
        let Ok(order) = id.parse::<OrderId>() else {
            continue;
        };
        match client.run(order, Duration::from_secs(20)).await {
            Ok(run) => {
                let mut counts: BTreeMap<String, f64> = BTreeMap::new();
                for e in &run.history {
                    *counts.entry(e.kind.clone()).or_default() += 1.0;
                }
                counts.insert("*".into(), run.history.len() as f64);
                kinds.push(counts);
            }
            Err(e) => eprintln!("[sim] history of order {id}: {e}"),
        }
    }
    if kinds.is_empty() {
        return None;
    }
    let all: std::collections::BTreeSet<&String> = kinds.iter().flat_map(|k| k.keys()).collect();
    let median_of = |kind: &str| {
        crate::median(
            kinds
                .iter()
                .map(|k| k.get(kind).copied().unwrap_or(0.0))
                .collect(),
        )
    };
    let mut by_kind: BTreeMap<String, f64> =
        all.into_iter().map(|k| (k.clone(), median_of(k))).collect();
    by_kind.remove("*");
    Some(History {
        sampled: kinds.len(),
        events: median_of("*"),
        workflow_tasks: median_of("WORKFLOW_TASK_COMPLETED"),
        by_kind,
    })
}
