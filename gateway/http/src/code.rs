//! Every error code the gateway answers with: one code per meaning, each with the status it
//! comes with, listed in the OpenAPI document (the `code` of an error body is this enum).
//!
//! Naming: `<thing>_not_found` is a 404 for something the path names; `<thing>_unknown` is a
//! 422 for something the body names that does not exist; `<thing>_invalid` and
//! `invalid_<field>` are values that fail their rules; `malformed_<part>` is a request that
//! does not parse. A client matches on the code, never on the message.

use serde::Serialize;

macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)+) => {
        /// A stable, machine-readable error code.
        ///
        /// The JSON name is the variant's name in snake case; `as_str` spells the same name
        /// out, and a unit test holds the two together.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }
    };
}

codes! {
    // Requests that do not parse (400).
    /// 400: the body is not JSON, or not the JSON this route takes.
    MalformedJson = "malformed_json",
    /// 400: a path segment is not what the route takes (e.g. not a UUID).
    MalformedPath = "malformed_path",
    /// 400: the query string does not parse.
    MalformedQuery = "malformed_query",
    /// 400: a section code in the path is not a valid code.
    MalformedSection = "malformed_section",
    /// 400: a waiting-room ticket is not one of ours.
    MalformedTicket = "malformed_ticket",
    /// 400: a provider callback's event does not parse.
    MalformedEvent = "malformed_event",
    /// 400: a provider callback's signature does not verify.
    BadSignature = "bad_signature",
    /// 400: the `Idempotency-Key` header is missing.
    IdempotencyKeyMissing = "idempotency_key_missing",
    /// 400: the `Idempotency-Key` header is empty, too long or not printable.
    IdempotencyKeyInvalid = "idempotency_key_invalid",
    /// 400: any other request the server cannot read.
    BadRequest = "bad_request",

    // Credentials (401, 403).
    /// 401: no buyer session.
    SessionMissing = "session_missing",
    /// 401: the session token is forged or unreadable.
    SessionInvalid = "session_invalid",
    /// 401: the session has expired.
    SessionExpired = "session_expired",
    /// 401: no admission token with the order.
    AdmissionMissing = "admission_missing",
    /// 401: the admission token is forged or unreadable.
    AdmissionInvalid = "admission_invalid",
    /// 403: the admission was given to another buyer.
    AdmissionNotYours = "admission_not_yours",
    /// 403: the admission is for another event.
    AdmissionWrongEvent = "admission_wrong_event",
    /// 401: the `Presale-Token` is forged, unreadable or expired; redeem the code again.
    PresaleTokenInvalid = "presale_token_invalid",
    /// 403: the `Presale-Token` was given to another buyer, or is for another event.
    PresaleTokenNotYours = "presale_token_not_yours",
    /// 403: the order belongs to another buyer.
    OrderNotYours = "order_not_yours",
    /// 401: the organizer side needs a sign-in.
    AdminLoginRequired = "admin_login_required",
    /// 401: wrong email or password.
    LoginRefused = "login_refused",
    /// 403: a form without its CSRF token, or with another session's.
    CsrfInvalid = "csrf_invalid",
    /// 403: a state-changing request from another origin.
    CrossOrigin = "cross_origin",
    /// 403: this account's role may not do this (door staff: the check-in scanner only).
    RoleForbidden = "role_forbidden",
    /// 403: the ticket is for an event this account may not check in.
    TicketNotYours = "ticket_not_yours",

    // What the path names (404, 410).
    /// 404: no such route.
    NotFound = "not_found",
    /// 404: no such event (or not one of this organizer's, or not published).
    EventNotFound = "event_not_found",
    /// 404: the event has no such section.
    SectionNotFound = "section_not_found",
    /// 404: no such allocation.
    AllocationNotFound = "allocation_not_found",
    /// 404: no such order (or not one of this organizer's).
    OrderNotFound = "order_not_found",
    /// 404: no such waiting-room ticket for this buyer.
    QueueTicketNotFound = "queue_ticket_not_found",
    /// 404: no ticket has this code (at the door), or the order has no issued ticket with it
    /// (a ticket's QR code).
    TicketNotFound = "ticket_not_found",
    /// 410: the admission has expired.
    AdmissionExpired = "admission_expired",
    /// 410: a later join replaced this waiting-room ticket.
    QueueTicketSuperseded = "queue_ticket_superseded",
    /// 405: the route does not take this method.
    MethodNotAllowed = "method_not_allowed",

    // The state moved on (409).
    /// 409: the sale is over (closed, sold out or canceled).
    SaleClosed = "sale_closed",
    /// 409: the sale has opened; its window can no longer be changed.
    SaleStarted = "sale_started",
    /// 409: the command does not apply to the sale as it is (e.g. resume a sale on sale).
    SaleState = "sale_state",
    /// 409: the admission was used by another order.
    AdmissionUsed = "admission_used",
    /// 409: seats the order names are already taken.
    SeatsTaken = "seats_taken",
    /// 409: the order is not held yet; retry in a moment.
    OrderNotReady = "order_not_ready",
    /// 409: only an unpaid hold can be canceled.
    OrderNotCancelable = "order_not_cancelable",
    /// 409: only an issued order can be refunded.
    NotRefundable = "not_refundable",
    /// 409: the order's refund window has closed.
    RefundWindowClosed = "refund_window_closed",
    /// 409: the event already has a section with this code.
    SectionExists = "section_exists",
    /// 409: seats are already in another allocation.
    SeatAllocated = "seat_allocated",
    /// 409: the ticket was checked in before (`used_at` and `gate` say when and where).
    TicketAlreadyUsed = "ticket_already_used",
    /// 409: the ticket is void (`reason`: `refunded` or `voided`).
    TicketVoid = "ticket_void",

    // Values that fail their rules (422).
    /// 422: the body has the right shape but a field's value is not accepted.
    InvalidBody = "invalid_body",
    /// 422: a value is out of range or conflicts with another.
    InvalidValue = "invalid_value",
    /// 422: a field is missing, empty, too long or has control characters.
    InvalidField = "invalid_field",
    /// 422: a number is outside its allowed range.
    OutOfRange = "out_of_range",
    /// 422: ask for named seats or a quantity of a section, not both or neither.
    RequestShape = "request_shape",
    /// 422: the quantity is below 1 or above the per-buyer limit.
    QuantityOutOfRange = "quantity_out_of_range",
    /// 422: a seat id is not `SECTION:LABEL`.
    SeatInvalid = "seat_invalid",
    /// 422: the same seat is named twice.
    SeatDuplicate = "seat_duplicate",
    /// 422: a seat the body names does not exist or is not for sale.
    SeatUnknown = "seat_unknown",
    /// 422: a section code in the body is not valid.
    SectionInvalid = "section_invalid",
    /// 422: a section the body names does not exist.
    SectionUnknown = "section_unknown",
    /// 422: the same key was used for another order or body.
    IdempotencyKeyReused = "idempotency_key_reused",
    /// 422: the sale must close after it opens.
    InvalidWindow = "invalid_window",
    /// 422: the sale must open in the future.
    OpensInPast = "opens_in_past",
    /// 422: the sale must close in the future.
    ClosesInPast = "closes_in_past",
    /// 422: the show must start in the future.
    StartsInPast = "starts_in_past",
    /// 422: add a section before scheduling the sale.
    NoSections = "no_sections",
    /// 422: a section code must be a short upper-case token.
    InvalidCode = "invalid_code",
    /// 422: an ISO currency code of three letters.
    InvalidCurrency = "invalid_currency",
    /// 422: a section kind is `seated` or `general_admission`; an allocation kind is known.
    InvalidKind = "invalid_kind",
    /// 422: a seated section's rows and seats do not describe a layout.
    InvalidLayout = "invalid_layout",
    /// 422: a seat description (`A-1..A-10, B-3`) does not parse or is too large.
    InvalidSeats = "invalid_seats",
    /// 422: not a known order state.
    InvalidState = "invalid_state",
    /// 422: not an IANA time zone.
    InvalidTimezone = "invalid_timezone",
    /// 422: a reason of 1 to 500 characters, without control characters.
    InvalidReason = "invalid_reason",
    /// 422: a sign-in form with a missing or malformed field.
    InvalidLogin = "invalid_login",
    /// 422: a scanned ticket's signature does not verify with the issuer's public key
    /// (forged or altered).
    TicketSignatureInvalid = "ticket_signature_invalid",
    /// 422: neither a ticket's scan code (`bxt1....`) nor a ticket code typed by hand.
    TicketCodeInvalid = "ticket_code_invalid",
    /// 422: an allocation's seats or units do not fit its section (seats in a standing
    /// section, a quantity in a seated one, both or neither).
    AllocationInvalid = "allocation_invalid",
    /// 422: the allocation asks for more units than the section has.
    AllocationTooLarge = "allocation_too_large",
    /// 422: a presale block needs an access code.
    AccessCodeRequired = "access_code_required",
    /// 422: only presale blocks take an access code.
    AccessCodeUnexpected = "access_code_unexpected",
    /// 422: no presale of this event opens with this code (said the same whether or not the
    /// event, or any presale of it, exists).
    AccessCodeInvalid = "access_code_invalid",
    /// 431: the request's headers are larger than the gateway allows.
    HeadersTooLarge = "headers_too_large",
    /// 413: the body is larger than the route allows.
    BodyTooLarge = "body_too_large",
    /// 415: the body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",

    // Limits (429) and the platform's own state (408, 500, 503).
    /// 429: the gateway is shedding load; retry after `Retry-After`.
    Overloaded = "overloaded",
    /// 429: too many new sessions from this address.
    SessionsRateLimited = "sessions_rate_limited",
    /// 429: too many presale code attempts from this buyer or address.
    PresaleRateLimited = "presale_rate_limited",
    /// 429: too many failed sign-ins.
    LoginRateLimited = "login_rate_limited",
    /// 429: this buyer has as many order streams open as allowed.
    TooManyStreams = "too_many_streams",
    /// 429: the gateway has as many order streams open as it serves.
    StreamsAtCapacity = "streams_at_capacity",
    /// 408: the request took longer than the gateway allows.
    Timeout = "timeout",
    /// 503: a dependency is unavailable; nothing was written; retry after `Retry-After`.
    Unavailable = "unavailable",
    /// 500: a fault of ours (never a client's input).
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_one_name_and_json_says_that_name() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
        }
    }

    #[test]
    fn the_old_twins_are_gone() {
        // One code per meaning: these drifted apart once (`event_unknown` beside
        // `event_not_found`, `sale_over` beside `sale_closed`, ...).
        for twin in [
            "event_unknown",
            "order_unknown",
            "sale_over",
            "queue_ticket_unknown",
            "invalid_allocation",
        ] {
            assert!(ErrorCode::ALL.iter().all(|c| c.as_str() != twin), "{twin}");
        }
    }
}
