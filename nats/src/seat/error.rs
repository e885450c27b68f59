//! What can go wrong in the seat store, typed so callers branch on the case.

use crate::ids::{EventId, SeatId, SectionCode};

/// A request the store refuses before touching anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// No seats named.
    #[error("the seat list is empty")]
    EmptySeatList,
    /// The same seat named twice.
    #[error("seat {0} is listed twice")]
    DuplicateSeat(SeatId),
    /// More units than one order may take.
    #[error("quantity {got} is out of range 1..={max}")]
    Quantity {
        /// Requested.
        got: usize,
        /// Largest allowed.
        max: usize,
    },
    /// A hold time of zero, or longer than allowed.
    #[error("hold time {got_ms} ms is out of range {min_ms}..={max_ms} ms")]
    HoldTime {
        /// Requested, in milliseconds.
        got_ms: u128,
        /// Smallest allowed.
        min_ms: u128,
        /// Largest allowed.
        max_ms: u128,
    },
    /// A general-admission pick on a seated section.
    #[error("section {0} is not general admission")]
    NotGeneralAdmission(SectionCode),
    /// The order already holds seats; an order holds once (a retry of the same hold is fine).
    #[error("order {0} already holds seats")]
    OrderAlreadyHolds(crate::ids::OrderId),
    /// An inventory that cannot be loaded.
    #[error("invalid inventory: {0}")]
    Inventory(String),
}

/// Errors of [`super::SeatStore`] operations. Every error except `Unavailable` means nothing
/// was changed (partial work is compensated before the error is returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeatError {
    /// The request is malformed; nothing was touched.
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// The event has not been loaded into the seat store (or does not exist).
    #[error("event {0} is not on sale")]
    UnknownEvent(EventId),
    /// A seat or section that is not sellable for the event.
    #[error("seat {seat} is not on sale for event {event}")]
    UnknownSeat {
        /// The event.
        event: EventId,
        /// The seat.
        seat: SeatId,
    },
    /// A section that is not sellable for the event.
    #[error("section {section} is not on sale for event {event}")]
    UnknownSection {
        /// The event.
        event: EventId,
        /// The section.
        section: SectionCode,
    },
    /// Another order owns these seats.
    #[error("{} seat(s) already taken, first {}", seats.len(), first(seats))]
    Taken {
        /// The seats that could not be claimed.
        seats: Vec<SeatId>,
    },
    /// The order's hold on these seats has lapsed (or is too close to lapsing to confirm).
    #[error("hold lapsed on {} seat(s), first {}", seats.len(), first(seats))]
    Lapsed {
        /// The seats no longer held.
        seats: Vec<SeatId>,
    },
    /// These seats belong to another order.
    #[error("{} seat(s) belong to another order, first {}", seats.len(), first(seats))]
    NotOwner {
        /// The seats in question.
        seats: Vec<SeatId>,
    },
    /// The buyer would exceed the event's per-buyer limit.
    #[error("per-buyer limit {limit} reached ({active} active, {requested} requested)")]
    LimitReached {
        /// The event's limit.
        limit: u32,
        /// Tickets the buyer already holds or owns.
        active: u32,
        /// Tickets asked for.
        requested: u32,
    },
    /// A general-admission section has fewer free units than asked for.
    #[error("section {section} has {available} of {requested} requested units free")]
    SoldOut {
        /// The section.
        section: SectionCode,
        /// Asked for.
        requested: u32,
        /// Free when the pick gave up.
        available: u32,
    },
    /// NATS is unreachable, timed out, or returned something unreadable. The operation may or may
    /// not have taken effect; every operation is safe to retry.
    #[error("seat store unavailable: {0}")]
    Unavailable(String),
}

fn first(seats: &[SeatId]) -> String {
    seats.first().map(ToString::to_string).unwrap_or_default()
}

impl SeatError {
    pub(crate) fn unavailable(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Unavailable(format!("{what}: {err}"))
    }

    /// A short, stable, low-cardinality name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::UnknownEvent(_) => "unknown_event",
            Self::UnknownSeat { .. } => "unknown_seat",
            Self::UnknownSection { .. } => "unknown_section",
            Self::Taken { .. } => "taken",
            Self::Lapsed { .. } => "lapsed",
            Self::NotOwner { .. } => "not_owner",
            Self::LimitReached { .. } => "limit_reached",
            Self::SoldOut { .. } => "sold_out",
            Self::Unavailable(_) => "unavailable",
        }
    }
}
