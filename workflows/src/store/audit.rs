//! The admin audit trail (`admin_audit`): what an organizer or operator did, written in the
//! transaction that did it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;

/// One line of an event's audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLine {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (email).
    pub who: String,
    /// What (`event.update`, `sale.pause`, ...).
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
}

fn classify(e: sqlx::Error) -> StoreError {
    StoreError::classify(e, "audit", "")
}

/// Records what `who` did, in the transaction `tx` that did it.
pub async fn write(
    tx: &mut Transaction<'_, Postgres>,
    who: Uuid,
    event: Option<Uuid>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query!(
        "insert into admin_audit (audit_id, organizer_id, event_id, action, detail) values ($1, $2, $3, $4, $5)",
        Uuid::now_v7(),
        who,
        event,
        action,
        detail,
    )
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(())
}

/// Records an action whose effect is outside PostgreSQL (a signal to a workflow), on its own.
pub async fn record(
    pool: &PgPool,
    who: Uuid,
    event: Option<Uuid>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::Unavailable)?;
    write(&mut tx, who, event, action, detail).await?;
    tx.commit().await.map_err(StoreError::Unavailable)
}

/// The event's latest `limit` audit lines, newest first.
pub async fn trail(pool: &PgPool, event: Uuid, limit: i64) -> Result<Vec<AuditLine>, StoreError> {
    Ok(sqlx::query!(
        "select a.at, o.email, a.action, a.detail from admin_audit a
         join organizers o using (organizer_id) where a.event_id = $1 order by a.at desc limit $2",
        event,
        limit,
    )
    .fetch_all(pool)
    .await
    .map_err(classify)?
    .into_iter()
    .map(|r| AuditLine {
        at: r.at,
        who: r.email,
        action: r.action,
        detail: r.detail,
    })
    .collect())
}
