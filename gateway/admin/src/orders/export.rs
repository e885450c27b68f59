//! CSV exports of an event: its orders, and its attendees (the door list).

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use boxoffice_http::{error::ApiError, extract::ApiPath};
use boxoffice_workflows::store::admin_orders::{self as store, OrderQuery};
use uuid::Uuid;

use crate::{AdminState, api::visible_event, auth::Admin};

/// A CSV file of `header` and `rows`, as a download named `name`.
fn csv_file<const N: usize>(
    name: &str,
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<Response, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(ApiError::unavailable)?;
    for row in rows {
        w.write_record(row).map_err(ApiError::unavailable)?;
    }
    let body = w.into_inner().map_err(ApiError::unavailable)?;
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /admin/api/v1/events/{id}/orders.csv`: every order, oldest first.
pub(crate) async fn orders_csv(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    visible_event(&state, &admin, id).await?;
    let q = OrderQuery {
        scope: admin.scope(),
        event: Some(id),
        oldest_first: true,
        ..OrderQuery::default()
    };
    let rows = store::find_orders(&state.db, &q).await?;
    csv_file(
        &format!("orders-{id}.csv"),
        [
            "order_id",
            "buyer_id",
            "state",
            "reason",
            "amount_cents",
            "currency",
            "seats",
            "created_at",
            "updated_at",
        ],
        rows.into_iter().map(|r| {
            [
                r.order_id.to_string(),
                r.buyer_id.to_string(),
                r.state.to_string(),
                r.reason.unwrap_or_default(),
                r.amount_cents.to_string(),
                r.currency,
                r.seats.join(" "),
                r.created_at.to_rfc3339(),
                r.updated_at.to_rfc3339(),
            ]
        }),
    )
}

/// `GET /admin/api/v1/events/{id}/attendees.csv`: every issued ticket, by section and seat.
pub(crate) async fn attendees_csv(
    State(state): State<AdminState>,
    admin: Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    visible_event(&state, &admin, id).await?;
    let rows = store::attendees(&state.db, id).await?;
    csv_file(
        &format!("attendees-{id}.csv"),
        [
            "ticket_id",
            "section",
            "section_name",
            "seat",
            "row",
            "number",
            "ticket_code",
            "order_id",
            "buyer_id",
            "issued_at",
        ],
        rows.into_iter().map(|r| {
            [
                r.ticket_id.to_string(),
                r.section,
                r.section_name,
                r.seat,
                r.row.unwrap_or_default(),
                r.number.map(|n| n.to_string()).unwrap_or_default(),
                r.ticket_code,
                r.order_id.to_string(),
                r.buyer_id.to_string(),
                r.issued_at.to_rfc3339(),
            ]
        }),
    )
}
