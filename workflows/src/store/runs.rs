//! Reconciliation runs (`reconciliation_runs`) as the admin side reports them: the latest
//! runs, each with the findings its reader may see.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

/// A reconciliation run with the findings the reader may see.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Id.
    pub run_id: Uuid,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// `running`, `succeeded`, `failed`.
    pub status: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Seats compared.
    pub checked_seats: i32,
    /// Repaired.
    pub repaired: i32,
    /// Left for a human.
    pub unresolved: i32,
    /// Findings (an organizer sees those about its own orders), as the run stored them.
    pub findings: Vec<serde_json::Value>,
}

fn classify(e: sqlx::Error) -> StoreError {
    StoreError::classify(e, "reconciliation run", "")
}

/// The latest 50 runs. With `scope` (an organizer), each run keeps only the findings about
/// that organizer's orders; the counts stay the run's own.
pub async fn recent_runs(pool: &PgPool, scope: Option<Uuid>) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query!(
        "select run_id, trigger, status, started_at, finished_at, checked_seats, repaired,
                unresolved, findings from reconciliation_runs order by started_at desc limit 50",
    )
    .fetch_all(pool)
    .await
    .map_err(classify)?;
    let mine: Option<HashSet<String>> = match scope {
        None => None,
        Some(organizer) => Some(
            sqlx::query_scalar!(
                "select o.order_id from orders o join events e using (event_id) where e.organizer_id = $1",
                organizer,
            )
            .fetch_all(pool)
            .await
            .map_err(classify)?
            .into_iter()
            .map(|u| u.to_string())
            .collect(),
        ),
    };
    let visible = |f: &serde_json::Value| {
        mine.as_ref().is_none_or(|m| {
            f.get("order")
                .and_then(|o| o.as_str())
                .is_some_and(|o| m.contains(o))
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| RunRow {
            run_id: r.run_id,
            trigger: r.trigger,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            checked_seats: r.checked_seats,
            repaired: r.repaired,
            unresolved: r.unresolved,
            findings: r
                .findings
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| visible(f))
                .cloned()
                .collect(),
        })
        .collect())
}
