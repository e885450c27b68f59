//! The order lifecycle (brief section 3).
//!
//! ```text
//! requested → held → awaiting_payment → authorized → confirmed → issued
//!     │         │           │               │            │
//!     ▼         ▼           ▼               ▼            ▼
//!  rejected  expired    payment_failed   expired,     refunded
//!            canceled   expired, canceled  payment_failed
//!            rejected
//! ```
//! Every transition is conditional on the current state: a timeout, a payment callback and a
//! cancel can race, and whichever is applied first wins; the others find the state moved on.

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Accepted by the gateway, not yet looked at by intake.
    Requested,
    /// Seats held by compare-and-swap.
    Held,
    /// A payment intent exists; waiting for the buyer to pay.
    AwaitingPayment,
    /// The provider authorised the payment (not captured yet).
    Authorized,
    /// Seats sold and payment captured; tickets pending.
    Confirmed,
    /// Tickets issued. Done.
    Issued,
    /// Refused at intake: sold out, limit reached, or invalid.
    Rejected,
    /// The hold lapsed before payment.
    Expired,
    /// The payment was declined or failed.
    PaymentFailed,
    /// The buyer canceled before paying.
    Canceled,
    /// The organizer refunded the order.
    Refunded,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The current state.
    pub from: OrderState,
    /// The refused target.
    pub to: OrderState,
}

impl OrderState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 11] = [
        Self::Requested,
        Self::Held,
        Self::AwaitingPayment,
        Self::Authorized,
        Self::Confirmed,
        Self::Issued,
        Self::Rejected,
        Self::Expired,
        Self::PaymentFailed,
        Self::Canceled,
        Self::Refunded,
    ];

    /// The name stored in PostgreSQL and shown in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Held => "held",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Authorized => "authorized",
            Self::Confirmed => "confirmed",
            Self::Issued => "issued",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::PaymentFailed => "payment_failed",
            Self::Canceled => "canceled",
            Self::Refunded => "refunded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No transition leaves a terminal state, except `issued`, which a refund can still reach.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Rejected | Self::Expired | Self::PaymentFailed | Self::Canceled | Self::Refunded
        )
    }

    /// Whether the order's seats are on hold while its payment is decided: the hold has an
    /// expiry, and the order's workflow is still driving it.
    pub const fn is_on_hold(self) -> bool {
        matches!(self, Self::Held | Self::AwaitingPayment | Self::Authorized)
    }

    /// Whether the order still owns (or may own) seats.
    pub const fn owns_seats(self) -> bool {
        matches!(
            self,
            Self::Held | Self::AwaitingPayment | Self::Authorized | Self::Confirmed | Self::Issued
        )
    }

    /// Whether `self → to` is allowed.
    pub const fn can_become(self, to: Self) -> bool {
        use OrderState::*;
        matches!(
            (self, to),
            (Requested, Held | Rejected)
                // `held → rejected`: the catalog refused an order intake had held (a section
                // without a price, an event withdrawn): the seats go back at once.
                | (Held, AwaitingPayment | Rejected | Expired | Canceled | PaymentFailed)
                | (AwaitingPayment, Authorized | Expired | Canceled | PaymentFailed)
                // An authorisation whose seats could not be confirmed (hold lapsed) is voided.
                | (Authorized, Confirmed | Expired | PaymentFailed)
                | (Confirmed, Issued | Refunded)
                | (Issued, Refunded)
        )
    }

    /// `self → to`, or why not.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_happy_path_is_allowed_step_by_step() {
        use OrderState::*;
        let path = [
            Requested,
            Held,
            AwaitingPayment,
            Authorized,
            Confirmed,
            Issued,
            Refunded,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn money_states_cannot_be_skipped() {
        use OrderState::*;
        assert!(
            !Held.can_become(Confirmed),
            "no sale without an authorisation"
        );
        assert!(!AwaitingPayment.can_become(Confirmed));
        assert!(
            !Authorized.can_become(Issued),
            "no ticket before the seats are confirmed"
        );
        assert!(
            !Confirmed.can_become(Expired),
            "a confirmed order never expires"
        );
        assert!(!Issued.can_become(Canceled));
    }

    #[test]
    fn only_unpaid_seat_owning_states_are_on_hold() {
        use OrderState::*;
        let on_hold: Vec<_> = OrderState::ALL
            .into_iter()
            .filter(|s| s.is_on_hold())
            .collect();
        assert_eq!(on_hold, [Held, AwaitingPayment, Authorized]);
        assert!(on_hold.iter().all(|s| s.owns_seats() && !s.is_terminal()));
    }

    #[test]
    fn names_round_trip() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(OrderState::parse("paid"), None);
    }

    proptest! {
        #[test]
        fn terminal_states_have_no_way_out(from in 0usize..11, to in 0usize..11) {
            let (from, to) = (OrderState::ALL[from], OrderState::ALL[to]);
            if from.is_terminal() {
                prop_assert!(!from.can_become(to));
            }
            prop_assert!(!from.can_become(from), "no self-loops: a repeated event must be a no-op, not a transition");
            prop_assert!(!to.can_become(OrderState::Requested));
        }
    }
}
