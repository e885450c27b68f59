//! Identifiers that cross crate boundaries and end up inside NATS subjects and KV keys.
//!
//! Each has one checked constructor, so a malformed id is rejected at the edge and never becomes
//! a malformed key.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A value that cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not a UUID.
    #[error("{kind} must be a UUID, got {got:?}")]
    NotUuid {
        /// Which identifier.
        kind: &'static str,
        /// The rejected text.
        got: String,
    },
    /// Not 1 to 32 characters of `A-Z a-z 0-9 _ -`.
    #[error("{kind} must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-', got {got:?}")]
    BadToken {
        /// Which identifier.
        kind: &'static str,
        /// The rejected text.
        got: String,
    },
    /// A seat id is `SECTION:LABEL`.
    #[error("seat id must look like SECTION:LABEL, got {0:?}")]
    BadSeat(String),
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so ids sort by creation and index well.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| IdError::NotUuid { kind: $kind, got: s.to_owned() })
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// An event (one show, one on-sale).
    EventId,
    "event id"
);
uuid_id!(
    /// An order: one buyer's attempt to buy a set of seats.
    OrderId,
    "order id"
);
uuid_id!(
    /// A buyer (an anonymous buyer session or an account).
    BuyerId,
    "buyer id"
);
uuid_id!(
    /// A presale block: the id of the presale allocation whose access code unlocks it.
    BlockId,
    "block id"
);

fn check_token(kind: &'static str, s: &str) -> Result<(), IdError> {
    let ok = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(IdError::BadToken {
            kind,
            got: s.to_owned(),
        })
    }
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `s` is 1 to 32 characters of `A-Z a-z 0-9 _ -` (a valid KV key token).
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_token($kind, &s)?;
                Ok(Self(s))
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

token_id!(
    /// A section's short code within an event, such as `FLOOR` or `A`.
    SectionCode,
    "section code"
);
token_id!(
    /// A seat's label within its section, such as `R12-7`, or `u17` for a general-admission unit.
    UnitLabel,
    "seat label"
);

impl UnitLabel {
    /// A label built by this crate from parts known to be valid (fixed letters, hex digits and
    /// numbers within the token's length).
    pub(crate) fn built(s: String) -> Self {
        debug_assert!(check_token("seat label", &s).is_ok(), "{s:?}");
        Self(s)
    }
}

/// One sellable unit: a seat, or one unit of a general-admission section.
///
/// Written `SECTION:LABEL` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeatId {
    /// The section the unit belongs to.
    pub section: SectionCode,
    /// The unit's label within the section.
    pub label: UnitLabel,
}

impl SeatId {
    /// Builds a seat id from its parts.
    pub fn new(section: SectionCode, label: UnitLabel) -> Self {
        Self { section, label }
    }

    /// The `n`th unit (1-based) of a general-admission section.
    pub fn general_admission(section: &SectionCode, n: u32) -> Self {
        // "u" + at most 10 digits always fits the 32-character token.
        Self {
            section: section.clone(),
            label: UnitLabel(format!("u{n}")),
        }
    }
}

impl fmt::Display for SeatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.section, self.label)
    }
}

impl FromStr for SeatId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (section, label) = s
            .split_once(':')
            .ok_or_else(|| IdError::BadSeat(s.to_owned()))?;
        Ok(Self {
            section: SectionCode::parse(section)?,
            label: UnitLabel::parse(label)?,
        })
    }
}

impl TryFrom<String> for SeatId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<SeatId> for String {
    fn from(v: SeatId) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_id_round_trips_through_its_wire_form() {
        let seat: SeatId = "FLOOR:R12-7".parse().unwrap();
        assert_eq!(seat.section.as_str(), "FLOOR");
        assert_eq!(seat.label.as_str(), "R12-7");
        assert_eq!(seat.to_string(), "FLOOR:R12-7");
        let json = serde_json::to_string(&seat).unwrap();
        assert_eq!(json, "\"FLOOR:R12-7\"");
        assert_eq!(serde_json::from_str::<SeatId>(&json).unwrap(), seat);
    }

    #[test]
    fn tokens_that_would_break_a_kv_key_are_rejected() {
        for bad in ["", "a.b", "a b", "a*", ">", "é", &"x".repeat(33)] {
            assert!(SectionCode::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!("A".parse::<SeatId>().is_err());
        assert!("A:".parse::<SeatId>().is_err());
        assert!(serde_json::from_str::<SeatId>("\"A:b.c\"").is_err());
    }

    #[test]
    fn uuid_ids_reject_non_uuids() {
        assert!("nope".parse::<EventId>().is_err());
        let id = EventId::new();
        assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
    }
}
