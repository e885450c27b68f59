//! The figures of an event's sale that only PostgreSQL has (the live dashboard's once-a-second
//! read): its status, orders by state, revenue, tickets issued per 10 s lately, and tickets
//! checked in at the door per section.

use sqlx::PgPool;
use uuid::Uuid;

use super::{StoreError, parse_stored};
use crate::domain::{OrderState, SaleStatus};

/// An event's sale as PostgreSQL has it now.
#[derive(Debug, Clone)]
pub struct SaleFigures {
    /// The event's sale status.
    pub status: SaleStatus,
    /// Orders by state, in state-name order.
    pub orders: Vec<(OrderState, i64)>,
    /// Captured less refunded, cents.
    pub revenue_cents: i64,
    /// Tickets issued per 10-second bucket over the last 30 minutes: `(bucket start ms, n)`.
    pub sales: Vec<(i64, i64)>,
    /// Tickets checked in at the door per section code (sections with none left out).
    pub checked_in: Vec<(String, i64)>,
}

/// The event's figures: five small indexed queries.
pub async fn sale_figures(pool: &PgPool, event: Uuid) -> Result<SaleFigures, StoreError> {
    let classify = |e| StoreError::classify(e, "event", event);
    let status = sqlx::query_scalar!("select status from events where event_id = $1", event)
        .fetch_one(pool)
        .await
        .map_err(classify)?;
    let status = parse_stored("sale status", &status, SaleStatus::parse)?;
    let orders = sqlx::query!(
        r#"select state, count(*) as "n!" from orders where event_id = $1 group by state order by state"#,
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(classify)?
    .into_iter()
    .map(|r| Ok((parse_stored("order state", &r.state, OrderState::parse)?, r.n)))
    .collect::<Result<_, StoreError>>()?;
    let revenue_cents = sqlx::query_scalar!(
        r#"select coalesce(sum(p.captured_cents - p.refunded_cents), 0)::bigint as "revenue!"
         from payments p join orders o using (order_id) where o.event_id = $1"#,
        event,
    )
    .fetch_one(pool)
    .await
    .map_err(classify)?;
    // Grouped and sorted by position: the bucket's alias carries the non-null assertion.
    let sales = sqlx::query!(
        r#"select (floor(extract(epoch from issued_at) / 10) * 10000)::bigint as "b!", count(*) as "n!"
         from tickets where event_id = $1 and issued_at > now() - interval '30 minutes'
         group by 1 order by 1"#,
        event,
    )
    .fetch_all(pool)
    .await
    .map_err(classify)?
    .into_iter()
    .map(|r| (r.b, r.n))
    .collect();
    let checked_in = super::checkin::checked_in_by_section(pool, event).await?;
    Ok(SaleFigures {
        status,
        orders,
        revenue_cents,
        sales,
        checked_in,
    })
}
