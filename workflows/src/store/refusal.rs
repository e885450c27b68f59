//! What an organizer's change to an event can be refused for: decided by the store, in the
//! transaction that would make the change or by a named constraint, and given to the caller
//! as a type (never as a constraint name or the database's words).

use super::StoreError;

/// An organizer's change the store refused. Not `non_exhaustive` on purpose: whoever turns
/// it into an answer must decide about every new refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The sale would close before it opens (`events_closes_after_opens_check`).
    #[error("the sale must close after it opens")]
    ClosesBeforeOpens,
    /// The event has a section with that code already (`sections_event_code_unique`).
    #[error("this event already has a section with that code")]
    SectionExists,
    /// The event has no section with that code.
    #[error("no section {0:?} in this event")]
    UnknownSection(String),
    /// Seats named for a general-admission section.
    #[error("a general-admission section takes a quantity, not seats")]
    SeatsInStandingSection,
    /// A quantity given for a seated section.
    #[error("a seated section takes seats, not a quantity")]
    UnitsInSeatedSection,
    /// Labels that are not seats of the section.
    #[error("not seats of {section}: {}", .labels.join(", "))]
    UnknownSeats {
        /// The section's code.
        section: String,
        /// The labels it does not have.
        labels: Vec<String>,
    },
    /// Seats another unreleased allocation withholds already.
    #[error("already allocated: {}", .0.join(", "))]
    SeatsAllocated(Vec<String>),
    /// More units than the section has left to allocate.
    #[error("{section} has {left} units left to allocate")]
    TooManyUnits {
        /// The section's code.
        section: String,
        /// Units it still has unallocated.
        left: i64,
    },
}

impl Refusal {
    /// The refusal a named constraint stands for, when an organizer can break it by hand.
    fn of_constraint(name: &str) -> Option<Self> {
        match name {
            "events_closes_after_opens_check" => Some(Self::ClosesBeforeOpens),
            "sections_event_code_unique" => Some(Self::SectionExists),
            _ => None,
        }
    }
}

/// Classifies an error of an organizer's write: a constraint the organizer can break by hand
/// is its [`Refusal`]; anything else is as [`StoreError::classify`] has it.
pub(super) fn organizer_write(
    e: sqlx::Error,
    entity: &'static str,
    key: impl ToString,
) -> StoreError {
    match StoreError::classify(e, entity, key) {
        StoreError::Constraint(c) => {
            Refusal::of_constraint(&c).map_or(StoreError::Constraint(c), StoreError::Refused)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, error::Error as StdError};

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A PostgreSQL error as the driver reports it.
    #[derive(Debug)]
    struct PgFault {
        code: &'static str,
        constraint: Option<&'static str>,
    }

    impl std::fmt::Display for PgFault {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "violates check constraint {:?}", self.constraint)
        }
    }

    impl StdError for PgFault {}

    impl DatabaseError for PgFault {
        fn message(&self) -> &str {
            "violates a constraint"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            self.constraint
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn classified(code: &'static str, constraint: Option<&'static str>) -> StoreError {
        organizer_write(
            sqlx::Error::Database(Box::new(PgFault { code, constraint })),
            "event",
            "e",
        )
    }

    #[test]
    fn a_constraint_an_organizer_can_break_is_its_refusal() {
        assert!(matches!(
            classified("23514", Some("events_closes_after_opens_check")),
            StoreError::Refused(Refusal::ClosesBeforeOpens)
        ));
        assert!(matches!(
            classified("23505", Some("sections_event_code_unique")),
            StoreError::Refused(Refusal::SectionExists)
        ));
    }

    #[test]
    fn another_constraint_keeps_its_name_for_the_log() {
        assert!(matches!(
            classified("23514", Some("events_hold_seconds_check")),
            StoreError::Constraint(c) if c == "events_hold_seconds_check"
        ));
    }

    #[test]
    fn a_value_the_database_cannot_store_is_a_bad_value_not_an_outage() {
        // Invalid byte sequence (a NUL): the input's fault; a retry fails the same way.
        assert!(matches!(classified("22021", None), StoreError::BadValue(_)));
        // Admin shutdown: the database's fault; a retry may succeed.
        assert!(matches!(
            classified("57P01", None),
            StoreError::Unavailable(_)
        ));
    }
}
