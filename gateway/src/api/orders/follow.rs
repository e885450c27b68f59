//! Following an order: its status, its stream of changes, the buyer's cancel.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::sse::{Event as SseEvent, KeepAlive, Sse},
};
use boxoffice_nats::{BuyerId, OrderId};
use boxoffice_workflows::{domain::OrderState, order::OrderClientError};
use futures::{Stream, StreamExt};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    api::extract::{ApiPath, Session},
    error::{ApiError, ErrorBody, ErrorCode},
    limits::StreamsFull,
    records::OrderIndex,
};

use super::{OrderView, requested_view};

/// Finds the order's index and checks it is the buyer's.
pub(crate) async fn own_order(
    state: &AppState,
    order: OrderId,
    buyer: BuyerId,
) -> Result<OrderIndex, ApiError> {
    let records = &state.buyer.records;
    let index: OrderIndex = records
        .read_confirmed(records.ns().order_index_subject(order))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(ErrorCode::OrderNotFound, format!("no order {order}"))
        })?;
    if index.buyer_id != buyer {
        return Err(ApiError::forbidden(
            ErrorCode::OrderNotYours,
            "this order is another buyer's",
        ));
    }
    Ok(index)
}

/// The buyer's own order, from the status board.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let status = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(status.as_ref().map_or_else(
        || requested_view(order, &index),
        OrderView::from,
    )))
}

/// The order's state changes as server-sent events (`event: status`, `id`: the version, data:
/// the order as `GET` shows it), starting with the current state. Closes after 30 minutes;
/// reconnect to continue. A buyer may keep a few streams open at once on a gateway
/// (`--order-streams-per-buyer`), and a gateway keeps a bounded number in all
/// (`--order-streams-max`); past either, 429 with `Retry-After`. A stream's place is given
/// back when it ends or its client goes away.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}/events", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "text/event-stream of OrderView", content_type = "text/event-stream", body = OrderView),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 429, description = "Too many streams open: this buyer's (`too_many_streams`) or the gateway's (`streams_at_capacity`)", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let slot = state
        .clients
        .streams
        .acquire(buyer)
        .map_err(|full| {
            metrics::counter!("boxoffice_order_streams_refused_total").increment(1);
            match full {
                StreamsFull::Buyer(n) => ApiError::too_many(
                    ErrorCode::TooManyStreams,
                    format!("at most {n} order streams open at once; close one first"),
                    STREAM_RETRY_S,
                ),
                StreamsFull::Gateway(_) => ApiError::too_many(
                    ErrorCode::StreamsAtCapacity,
                    "the gateway has as many order streams open as it serves; poll the order instead or retry shortly",
                    STREAM_RETRY_S,
                ),
            }
        })?;
    // Subscribe before reading, so no change falls between the two.
    let subject = state
        .buyer
        .records
        .ns()
        .order_event_subject(index.event_id, order);
    let live = state
        .buyer
        .nats
        .subscribe(subject)
        .await
        .map_err(ApiError::unavailable)?;
    let current = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?;
    let first = current
        .as_ref()
        .map_or_else(|| requested_view(order, &index), OrderView::from);
    let seen = Arc::new(AtomicU32::new(first.version));
    let first_event = sse(&first);
    // A message on the subject only says "something was published": a copy JetStream dropped
    // (a replayed workflow's status, deduplicated) or refused (a losing delivery's first
    // status) reaches plain subscribers too, with content the stream never stored. So each one
    // is a cue to read the stored latest, and only a newer stored version is sent: the buyer
    // follows the order's record, never a copy. Reads without a cue besides, soon after the
    // opening and then every few seconds: a status published just before the subscription
    // took effect but stored (fsync) just after the first read is in neither, and would
    // otherwise wait for the order's next change (`ops/bench contended` saw a few percent of
    // holds reach their buyer only then); a cue lost while NATS was away heals the same way.
    let cues = futures::stream::select(
        live.map(|_| ()),
        futures::stream::unfold(RESYNC_FIRST, |wait| async move {
            tokio::time::sleep(wait).await;
            Some(((), (wait * 2).min(RESYNC_EVERY)))
        }),
    );
    let board = state.buyer.board.clone();
    let event = index.event_id;
    let changes = cues.filter_map(move |()| {
        let (seen, board) = (seen.clone(), board.clone());
        async move {
            let status = board.latest(event, order).await.ok()??;
            // Newer only: the buyer never moves back.
            (seen.fetch_max(status.version, Ordering::SeqCst) < status.version)
                .then(|| sse(&OrderView::from(&status)))
        }
    });
    let stream = futures::stream::once(async move { first_event })
        .chain(changes)
        .take_until(tokio::time::sleep(Duration::from_secs(30 * 60)))
        // The stream owns its place: dropped with it when it ends or its client goes away
        // (the response body is dropped).
        .map(move |event| {
            let _owned = &slot;
            event
        });
    metrics::counter!("boxoffice_order_streams_total").increment(1);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The first re-read of the stored status without a cue, after the stream opens; each next
/// one waits twice as long, up to [`RESYNC_EVERY`].
const RESYNC_FIRST: Duration = Duration::from_millis(100);
/// How often an order stream re-reads the stored status without a cue, at most.
const RESYNC_EVERY: Duration = Duration::from_secs(5);

/// `Retry-After` of a refused order stream: long enough for another stream to end.
const STREAM_RETRY_S: u32 = 5;

fn sse(view: &OrderView) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event("status")
        .id(view.version.to_string())
        .json_data(view)
        .unwrap_or_default())
}

/// What a cancel did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAccepted {
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// `cancel_requested`: the workflow releases the hold and voids the payment.
    pub state: String,
}

/// Releases a hold that is not paid yet (the order workflow voids the payment and frees the
/// seats; follow the order to see `canceled`).
#[utoipa::path(
    post, path = "/api/v1/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "Order id")),
    security(("session" = [])),
    responses(
        (status = 202, description = "Cancel requested", body = CancelAccepted),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Paid, finished, or not held yet", body = ErrorBody),
        (status = 503, description = "Temporal or NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath(order_id): ApiPath<uuid::Uuid>,
) -> Result<(StatusCode, Json<CancelAccepted>), ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = own_order(&state, order, buyer).await?;
    let status = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| {
            ApiError::conflict(
                ErrorCode::OrderNotReady,
                "the order is not held yet; retry in a moment",
            )
        })?;
    if !matches!(status.state, OrderState::Held | OrderState::AwaitingPayment) {
        return Err(ApiError::conflict(
            ErrorCode::OrderNotCancelable,
            format!(
                "the order is {}; only an unpaid hold can be canceled",
                status.state.as_str()
            ),
        ));
    }
    match crate::api::order_client(&state)?.cancel(order).await {
        Ok(()) => {}
        Err(OrderClientError::NotRunning) => {
            return Err(ApiError::conflict(
                ErrorCode::OrderNotReady,
                "the order's checkout has not opened yet; retry once it has (checkout_opens_at)",
            ));
        }
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    metrics::counter!("boxoffice_order_cancels_total").increment(1);
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelAccepted {
            order_id: order,
            state: "cancel_requested".into(),
        }),
    ))
}
