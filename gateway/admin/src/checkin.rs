//! `POST /admin/api/v1/checkin`: the door scanner's one call. It reads what was scanned (a
//! ticket's scan code, or its bare code typed by hand when the QR is damaged), verifies a scan
//! code's signature with the tickets' public key, and asks the store to mark the ticket used
//! exactly once (`store::checkin`). Every refusal is a precise 4xx in the usual error shape,
//! with the facts the door needs beside it (when and where a ticket was used, why it is void).

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use boxoffice_http::{
    error::{ApiError, ErrorCode, ErrorDetail},
    extract::ApiJson,
};
use boxoffice_workflows::{
    order::tickets::ScanCode,
    store::checkin::{self, CheckIn, DoorTicket, Scan, VoidReason},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{AdminState, api::input::text, auth::Staff};

/// The routes.
pub fn router() -> Router<AdminState> {
    Router::new().route("/admin/api/v1/checkin", post(check_in))
}

/// The body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    /// A ticket's scan code (`bxt1.<event>.<seat>.<code>.<signature>`, what its QR holds), or
    /// its code alone, typed.
    pub scan: String,
    /// The gate's name, as the door staff set it (`North 1`).
    pub gate: String,
}

/// What was scanned, once read.
#[derive(Debug, PartialEq, Eq)]
enum Scanned {
    /// A scan code whose signature verifies.
    Signed(ScanCode),
    /// A code typed by hand (upper case): looked up by the code alone.
    Typed(String),
}

/// Reads and checks what was scanned against the tickets' public key.
fn read_scan(scan: &str, public_key: &str) -> Result<Scanned, ApiError> {
    let scan = scan.trim();
    if scan.len() > 512 {
        return Err(code_invalid());
    }
    if scan
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("bxt1."))
    {
        let code: ScanCode = scan.parse().map_err(|_| code_invalid())?;
        if !code.verify(public_key) {
            return Err(ApiError::unprocessable(
                ErrorCode::TicketSignatureInvalid,
                "this ticket's signature does not verify: it is forged or altered",
            ));
        }
        return Ok(Scanned::Signed(code));
    }
    // A typed code: spaces and dashes a person may add are dropped; codes are 32 hex digits.
    let typed: String = scan
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect::<String>()
        .to_uppercase();
    if typed.len() == 32 && typed.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Scanned::Typed(typed))
    } else {
        Err(code_invalid())
    }
}

fn code_invalid() -> ApiError {
    ApiError::unprocessable(
        ErrorCode::TicketCodeInvalid,
        "not a ticket: scan its QR code or type the 32-character code printed under it",
    )
}

/// Counts a scan by its outcome.
fn count(outcome: &'static str) {
    metrics::counter!("boxoffice_checkin_scans_total", "outcome" => outcome).increment(1);
}

/// A refusal with the facts beside the error.
fn refusal(
    status: StatusCode,
    code: ErrorCode,
    message: String,
    extra: serde_json::Value,
) -> Response {
    let mut body = json!({ "error": ErrorDetail { code, message } });
    if let (Some(b), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    (status, Json(body)).into_response()
}

/// `POST /admin/api/v1/checkin`: 200 `admitted` with the ticket; 409 `ticket_already_used`
/// (with `used_at`, `gate`, `by`), 409 `ticket_void` (with `reason`: `refunded` or `voided`),
/// 422 `ticket_signature_invalid` or `ticket_code_invalid`, 404 `ticket_not_found`, 403
/// `ticket_not_yours` for another organizer's event.
pub async fn check_in(
    State(state): State<AdminState>,
    Staff(admin): Staff,
    ApiJson(body): ApiJson<ScanBody>,
) -> Response {
    match scan(&state, admin.account.id, admin.reach(), &body).await {
        Ok(r) => r,
        Err(e) => {
            if let ApiError::Client { code, .. } = &e {
                count(match code {
                    ErrorCode::TicketSignatureInvalid => "signature_invalid",
                    ErrorCode::TicketCodeInvalid => "code_invalid",
                    _ => "invalid",
                });
            }
            e.into_response()
        }
    }
}

async fn scan(
    state: &AdminState,
    by: Uuid,
    reach: Uuid,
    body: &ScanBody,
) -> Result<Response, ApiError> {
    let gate = text("gate", &body.gate, 100)?;
    let public_key = state
        .own
        .config
        .ticket_key()
        .map_err(ApiError::unavailable)?;
    let scanned = read_scan(&body.scan, public_key)?;
    let (code, event) = match &scanned {
        Scanned::Signed(s) => (s.code.as_str(), Some(s.event.as_uuid())),
        Scanned::Typed(c) => (c.as_str(), None),
    };
    let outcome = checkin::check_in(
        &state.db,
        &Scan {
            code,
            event,
            gate: &gate,
            by,
            reach,
        },
    )
    .await?;
    Ok(answer(outcome, &gate))
}

fn answer(outcome: CheckIn, gate: &str) -> Response {
    match outcome {
        CheckIn::Admitted(ticket) => {
            count("admitted");
            Json(json!({ "result": "admitted", "ticket": ticket, "gate": gate })).into_response()
        }
        CheckIn::AlreadyUsed {
            ticket,
            at,
            gate,
            by,
        } => {
            count("already_used");
            refusal(
                StatusCode::CONFLICT,
                ErrorCode::TicketAlreadyUsed,
                format!(
                    "already used at {} UTC at gate {gate}",
                    at.format("%H:%M:%S")
                ),
                json!({ "used_at": at, "gate": gate, "by": by, "ticket": ticket }),
            )
        }
        CheckIn::Void { ticket, why, at } => {
            count("void");
            refusal(
                StatusCode::CONFLICT,
                ErrorCode::TicketVoid,
                void_message(why, &ticket),
                json!({ "reason": why, "voided_at": at, "ticket": ticket }),
            )
        }
        CheckIn::NotYours => {
            count("not_yours");
            ApiError::forbidden(
                ErrorCode::TicketNotYours,
                "this ticket is for an event this account does not check in",
            )
            .into_response()
        }
        CheckIn::Unknown => {
            count("not_found");
            ApiError::not_found(ErrorCode::TicketNotFound, "no ticket has this code")
                .into_response()
        }
    }
}

fn void_message(why: VoidReason, t: &DoorTicket) -> String {
    match why {
        VoidReason::Refunded => format!("refunded: order {} was refunded", t.order_id),
        VoidReason::Voided => format!("voided: the ticket for {} was voided", t.label),
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_nats::EventId;
    use boxoffice_workflows::order::tickets::{DEV_PUBLIC_KEY_HEX, DEV_SEED_HEX, TicketSigner};

    use super::*;

    fn code_of(e: ApiError) -> ErrorCode {
        match e {
            ApiError::Client { code, .. } => code,
            _ => ErrorCode::Internal,
        }
    }

    #[test]
    fn a_signed_scan_verifies_an_altered_one_does_not_and_junk_is_not_a_ticket() {
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        let event = EventId::new();
        let seat = "A:A-1".parse().unwrap();
        let t = signer.issue(event, &seat);
        let scan = ScanCode {
            event,
            seat,
            code: t.code.clone(),
            signature: t.signature,
        };
        let text = scan.to_string();
        assert_eq!(
            read_scan(&format!(" {text}\n"), DEV_PUBLIC_KEY_HEX).unwrap(),
            Scanned::Signed(scan)
        );
        let moved = text.replace("A:A-1", "A:A-2");
        assert_eq!(
            code_of(read_scan(&moved, DEV_PUBLIC_KEY_HEX).unwrap_err()),
            ErrorCode::TicketSignatureInvalid
        );
        let lower = t.code.to_lowercase();
        let typed = format!("{}-{}", &lower[..16], &lower[16..]);
        assert_eq!(
            read_scan(&typed, DEV_PUBLIC_KEY_HEX).unwrap(),
            Scanned::Typed(t.code)
        );
        for junk in ["", "hello", "bxt1.x", &"A".repeat(600), "ZZZZ"] {
            assert_eq!(
                code_of(read_scan(junk, DEV_PUBLIC_KEY_HEX).unwrap_err()),
                ErrorCode::TicketCodeInvalid,
                "{junk:?}"
            );
        }
    }
}
