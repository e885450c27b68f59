//! Protecting the core: the layer stack every request passes (request ids, tracing, body and
//! header limits, a timeout), load shedding on the buyer API (a concurrency limit whose
//! overflow is answered 429 with `Retry-After` at once, never queued), and one rule for every
//! error body: whatever produced a 4xx or 5xx (axum's own 404/405, a limit layer's 413, a
//! timeout), the client gets the JSON shape of brief section 4.

use std::time::Duration;

use axum::{
    BoxError, Json,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use boxoffice_nats::queue::WaitingRoom;
use tower_http::{
    ServiceBuilderExt, limit::RequestBodyLimitLayer, request_id::MakeRequestUuid,
    timeout::TimeoutLayer, trace::TraceLayer,
};

use crate::{
    catalog::Catalog,
    error::{ApiError, ErrorCode},
};

/// The limits in force.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Buyer API requests in flight before shedding.
    pub max_in_flight: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// Largest total header size.
    pub max_header_bytes: usize,
}

/// Tracing, request ids, limits, timeout, JSON errors: wraps every route of `router`.
pub fn with_layers(router: axum::Router, limits: &Limits) -> axum::Router {
    let max_header = limits.max_header_bytes;
    let stack = tower::ServiceBuilder::new()
        .set_x_request_id(MakeRequestUuid)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // Route template, never the raw URI: low cardinality.
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str())
                    .to_owned();
                tracing::info_span!("http.request", method = %req.method(), route)
            }),
        )
        .propagate_x_request_id()
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(move |req, next| {
            header_limit(max_header, req, next)
        }))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10),
        ));
    router.layer(stack)
}

/// Sheds requests to `router` beyond `max_in_flight` with 429 + `Retry-After`.
pub fn with_shedding<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    max_in_flight: usize,
) -> axum::Router<S> {
    router.layer(
        tower::ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                metrics::counter!("boxoffice_http_shed_total").increment(1);
                ApiError::too_many(
                    ErrorCode::Overloaded,
                    "the gateway is at capacity; retry shortly",
                    1,
                )
            }))
            .load_shed()
            .concurrency_limit(max_in_flight),
    )
}

async fn header_limit(max: usize, req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > max {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            &format!("request headers exceed {max} bytes"),
        );
    }
    next.run(req).await
}

fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut r = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// Rewrites any error response that is not JSON yet (axum's own rejections and fallbacks,
/// tower-http's 413 and timeouts) into the JSON error shape, keeping its status. A page's own
/// error page (HTML, which only the pages write) is left as it is, for the person reading it.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let kept = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || kept {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    };
    metrics::counter!("boxoffice_http_errors_total", "code" => code.as_str(), "status" => status.as_str().to_owned()).increment(1);
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut out = error_response(status, code, &message);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    drop(response.into_body());
    out
}

/// The fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found(ErrorCode::NotFound, "no such resource")
}

/// A static answer through the same stack as the buyer API: the baseline benchmarks compare
/// the join and the poll against.
pub async fn ping() -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(&b"{\"ok\":true}"[..]))
        .unwrap_or_default()
}

/// Publishes queue gauges per event once a second.
pub async fn report_queues(room: WaitingRoom, catalog: Catalog) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for (event, summary) in room.summaries() {
            if catalog.get(event).is_none() {
                continue;
            }
            let label = event.to_string();
            metrics::gauge!("boxoffice_queue_waiting", "event" => label.clone())
                .set(summary.waiting as f64);
            metrics::gauge!("boxoffice_queue_entries", "event" => label.clone())
                .set(summary.entries as f64);
            if let Some((_, c)) = &summary.control {
                metrics::gauge!("boxoffice_queue_admitted_through", "event" => label.clone())
                    .set(c.admitted_through as f64);
                metrics::gauge!("boxoffice_queue_admission_rate", "event" => label)
                    .set(c.rate_per_s);
            }
        }
    }
}
