//! The on-sale's activities: read the plan, open (load seats), move the status, check sell-out.

use std::sync::Arc;

use boxoffice_nats::{EventId, SeatError, SeatStore, seat::SectionUnits};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::{domain::SaleStatus, store};

/// What the on-sale activities reach.
pub struct OnSaleActivities {
    /// The catalog and tickets.
    pub db: PgPool,
    /// Seat ownership.
    pub seats: SeatStore,
}

/// The event's sale as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The sale's status; `None` when the event does not exist (recorded as `missing` in the
    /// workflow's history, as it always was).
    #[serde(with = "missing")]
    pub status: Option<SaleStatus>,
    /// Opens, Unix ms.
    pub opens_at: Option<i64>,
    /// Closes, Unix ms.
    pub closes_at: Option<i64>,
}

/// `Option<SaleStatus>` as the history has carried it: a status name, or `missing`.
mod missing {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::SaleStatus;

    pub(super) fn serialize<S: Serializer>(
        s: &Option<SaleStatus>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.map_or("missing", SaleStatus::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<SaleStatus>, D::Error> {
        let name = String::deserialize(de)?;
        match name.as_str() {
            "missing" => Ok(None),
            other => SaleStatus::parse(other)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("unknown sale status {other:?}"))),
        }
    }
}

/// A status move: only from one of `from` (a conditional update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMove {
    /// The event.
    pub event: EventId,
    /// Allowed current statuses.
    pub from: Vec<SaleStatus>,
    /// The new one.
    pub to: SaleStatus,
}

fn fail(e: impl std::fmt::Display) -> ActivityError {
    anyhow::anyhow!(e.to_string()).into()
}

#[activities]
impl OnSaleActivities {
    /// Reads the sale's status and window.
    #[activity]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        event: EventId,
    ) -> Result<Plan, ActivityError> {
        let row = sqlx::query!(
            "select status, opens_at, closes_at from events where event_id = $1",
            event.as_uuid(),
        )
        .fetch_optional(&self.db)
        .await
        .map_err(fail)?;
        Ok(match row {
            None => Plan {
                status: None,
                opens_at: None,
                closes_at: None,
            },
            Some(r) => Plan {
                status: Some(
                    SaleStatus::parse(&r.status)
                        .ok_or_else(|| fail(format!("unknown sale status {:?}", r.status)))?,
                ),
                opens_at: r.opens_at.map(|t| t.timestamp_millis()),
                closes_at: r.closes_at.map(|t| t.timestamp_millis()),
            },
        })
    }

    /// Loads the sellable inventory (catalog minus unreleased allocations) into the seat
    /// store; additive, so a reload never frees a held or sold seat. Returns the units loaded.
    #[activity]
    pub async fn load(
        self: Arc<Self>,
        _ctx: ActivityContext,
        event: EventId,
    ) -> Result<u64, ActivityError> {
        let inventory = store::sellable_inventory(&self.db, event)
            .await
            .map_err(fail)?;
        let report = self.seats.load_event(&inventory).await.map_err(fail)?;
        tracing::info!(%event, created = report.created, existing = report.existing, "inventory loaded");
        Ok(report.created + report.existing)
    }

    /// Writes the sale's settings as the database has them now (the per-buyer limit) to the
    /// seat store, which every process enforces within its `event_meta_ttl`. Whether the
    /// stored limit changed; `false` also when the seats are not loaded yet (loading writes
    /// the limit then).
    #[activity]
    pub async fn apply_settings(
        self: Arc<Self>,
        _ctx: ActivityContext,
        event: EventId,
    ) -> Result<bool, ActivityError> {
        let limit = sqlx::query_scalar!(
            "select max_tickets_per_buyer from events where event_id = $1",
            event.as_uuid(),
        )
        .fetch_one(&self.db)
        .await
        .map_err(fail)?;
        let limit = u32::try_from(limit).map_err(fail)?;
        match self.seats.set_max_per_buyer(event, limit).await {
            Ok(changed) => {
                if changed {
                    tracing::info!(%event, limit, "per-buyer limit written to the seat store");
                }
                Ok(changed)
            }
            Err(SeatError::UnknownEvent(_)) => Ok(false),
            Err(e) => Err(fail(e)),
        }
    }

    /// Moves `events.status` if it is one of `from`; whether it moved.
    #[activity]
    pub async fn set_status(
        self: Arc<Self>,
        _ctx: ActivityContext,
        m: StatusMove,
    ) -> Result<bool, ActivityError> {
        let from: Vec<&str> = m.from.iter().map(|s| s.as_str()).collect();
        let moved = sqlx::query!(
            "update events set status = $2 where event_id = $1 and status = any($3)",
            m.event.as_uuid(),
            m.to.as_str(),
            &from[..] as &[&str],
        )
        .execute(&self.db)
        .await
        .map_err(fail)?
        .rows_affected()
            > 0;
        if moved {
            metrics::counter!("boxoffice_onsale_transitions_total", "to" => m.to.as_str())
                .increment(1);
            tracing::info!(event = %m.event, to = %m.to, "sale status moved");
        }
        Ok(moved)
    }

    /// Whether every sellable unit is sold (issued tickets cover the sellable inventory).
    #[activity]
    pub async fn sold_out(
        self: Arc<Self>,
        _ctx: ActivityContext,
        event: EventId,
    ) -> Result<bool, ActivityError> {
        let inventory = store::sellable_inventory(&self.db, event)
            .await
            .map_err(fail)?;
        let units: i64 = inventory
            .sections
            .iter()
            .map(|s| match &s.units {
                SectionUnits::Seated(l) => l.len() as i64,
                SectionUnits::GeneralAdmission(n) => i64::from(*n),
            })
            .sum();
        let sold = sqlx::query_scalar!(
            r#"select count(*) as "issued!" from tickets where event_id = $1 and state = 'issued'"#,
            event.as_uuid(),
        )
        .fetch_one(&self.db)
        .await
        .map_err(fail)?;
        Ok(units > 0 && sold >= units)
    }
}
