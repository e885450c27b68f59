//! A ticket's QR code, drawn on the server: the buyer's page shows it without a QR library of
//! its own, and the code it holds is exactly what door scanners read ([`ScanCode`]).

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use boxoffice_nats::OrderId;
use boxoffice_workflows::order::tickets::ScanCode;
use qrcode::{EcLevel, QrCode, render::svg};

use crate::{
    AppState,
    api::extract::{ApiPath, Session},
    error::{ApiError, ErrorBody, ErrorCode},
};

/// The QR code (SVG) of one of the buyer's issued tickets; it holds the ticket's scan code,
/// `bxt1.<event>.<section:label>.<code>.<signature>`, which a scanner verifies offline.
#[utoipa::path(
    get, path = "/api/v1/orders/{order_id}/tickets/{code}/qr.svg", tag = "orders",
    params(
        ("order_id" = uuid::Uuid, Path, description = "Order id"),
        ("code" = String, Path, description = "The ticket's code"),
    ),
    security(("session" = [])),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No or bad session", body = ErrorBody),
        (status = 403, description = "Another buyer's order", body = ErrorBody),
        (status = 404, description = "No such order, or no such ticket in it", body = ErrorBody),
        (status = 503, description = "NATS is unreachable", body = ErrorBody),
    )
)]
pub async fn qr(
    State(state): State<AppState>,
    Session(buyer): Session,
    ApiPath((order_id, code)): ApiPath<(uuid::Uuid, String)>,
) -> Result<Response, ApiError> {
    let order = OrderId::from_uuid(order_id);
    let index = super::orders::own_order(&state, order, buyer).await?;
    let status = state
        .buyer
        .board
        .latest(index.event_id, order)
        .await
        .map_err(ApiError::unavailable)?;
    let ticket = status
        .as_ref()
        .and_then(|s| s.tickets.iter().find(|t| t.code == code))
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::TicketNotFound,
                "this order has no issued ticket with that code",
            )
        })?;
    let scan = ScanCode {
        event: index.event_id,
        seat: ticket.seat.clone(),
        code: ticket.code.clone(),
        signature: ticket.signature.clone(),
    };
    let mut r = qr_svg(&scan.to_string())?.into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    // A ticket's code never changes; only its owner may fetch it.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(r)
}

/// `text` as an SVG QR code (medium error correction: a scuffed phone screen still scans).
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::unavailable(format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scan_code_fits_a_qr_code() {
        let text = format!(
            "bxt1.{}.A:B-7.{}.{}",
            uuid::Uuid::nil(),
            "F".repeat(32),
            "a".repeat(128)
        );
        let svg = super::qr_svg(&text).expect("fits");
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    }
}
