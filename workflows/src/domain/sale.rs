//! An event's sale lifecycle (the `events.status` column) and the organizer's commands.
//!
//! ```text
//! draft ⇄ scheduled ─ opens_at → on_sale ⇄ paused
//!             │                     │         │
//!             └──────── close ──────┴─────────┴──→ closed
//! ```
//! The on-sale workflow makes every move (`docs/adr/0013-on-sale-workflow.md`), each a
//! conditional update from the states [`SaleStatus::can_become`] allows, so a retried activity
//! or a command racing the opening changes nothing twice. The organizer's side only schedules
//! a draft (and undoes that when the workflow cannot start) and sends [`SaleCommand`]s.

use serde::{Deserialize, Serialize};

/// Where an event's sale is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SaleStatus {
    /// Being set up by the organizer; not published.
    Draft,
    /// Announced; the sale opens at `opens_at`.
    Scheduled,
    /// Selling.
    OnSale,
    /// Stopped by the organizer for now.
    Paused,
    /// Over: closed by the organizer, at `closes_at`, or sold out.
    Closed,
    /// Called off. The schema allows it; no flow sets it yet, and nothing leaves it.
    Canceled,
}

impl SaleStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Draft,
        Self::Scheduled,
        Self::OnSale,
        Self::Paused,
        Self::Closed,
        Self::Canceled,
    ];

    /// The name stored in PostgreSQL and shown in the APIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::OnSale => "on_sale",
            Self::Paused => "paused",
            Self::Closed => "closed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether buyers see the event (catalog, buyer API, waiting room): every status but a
    /// draft and a canceled event.
    pub const fn is_published(self) -> bool {
        matches!(
            self,
            Self::Scheduled | Self::OnSale | Self::Paused | Self::Closed
        )
    }

    /// Whether the sale has opened and not ended; a pause keeps it live (holds stand, the
    /// seat store keeps the inventory).
    pub const fn is_live(self) -> bool {
        matches!(self, Self::OnSale | Self::Paused)
    }

    /// Whether the sale is over for good: no command, schedule or reload applies any more.
    pub const fn is_over(self) -> bool {
        matches!(self, Self::Closed | Self::Canceled)
    }

    /// Whether the organizer may still set the sale's window (a draft, or a sale that has not
    /// opened yet; the caller also checks that `opens_at` has not passed).
    pub const fn can_schedule(self) -> bool {
        matches!(self, Self::Draft | Self::Scheduled)
    }

    /// Whether `self → to` is allowed.
    pub const fn can_become(self, to: Self) -> bool {
        use SaleStatus::*;
        matches!(
            (self, to),
            (Draft, Scheduled)
                // A schedule whose on-sale workflow could not start is undone at once.
                | (Scheduled, Draft | OnSale | Closed)
                | (OnSale, Paused | Closed)
                | (Paused, OnSale | Closed)
        )
    }

    /// Every status that may become `to`: the `from` list of a conditional update.
    pub fn sources(to: Self) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| s.can_become(to)).collect()
    }
}

impl std::fmt::Display for SaleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the organizer asks of a sale (the on-sale workflow's `command` signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleCommand {
    /// Stop admitting and selling for now.
    Pause,
    /// Carry on after a pause.
    Resume,
    /// End the sale for good.
    Close,
    /// The window (`opens_at`, `closes_at`) changed: read it again.
    Reschedule,
    /// Released allocations joined the sale: load them into the seat store.
    Reload,
    /// The sale's settings changed (the per-buyer limit): write them to the seat store.
    Settings,
}

impl SaleCommand {
    /// Every command.
    pub const ALL: [Self; 6] = [
        Self::Pause,
        Self::Resume,
        Self::Close,
        Self::Reschedule,
        Self::Reload,
        Self::Settings,
    ];

    /// The status the command moves the sale to, if it moves it.
    pub const fn target(self) -> Option<SaleStatus> {
        match self {
            Self::Pause => Some(SaleStatus::Paused),
            Self::Resume => Some(SaleStatus::OnSale),
            Self::Close => Some(SaleStatus::Closed),
            Self::Reschedule | Self::Reload | Self::Settings => None,
        }
    }

    /// Whether the organizer may send it while the sale is `status`: a move only where the
    /// lifecycle allows it (`resume` only a paused sale: never an early opening), anything
    /// else until the sale is over.
    pub const fn allowed_in(self, status: SaleStatus) -> bool {
        match self {
            Self::Resume => matches!(status, SaleStatus::Paused),
            Self::Pause | Self::Close => match self.target() {
                Some(to) => status.can_become(to),
                None => false,
            },
            Self::Reschedule | Self::Reload | Self::Settings => !status.is_over(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip_through_the_database_and_json() {
        for s in SaleStatus::ALL {
            assert_eq!(SaleStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(SaleStatus::parse("open"), None);
    }

    #[test]
    fn the_commands_allow_what_the_organizer_pages_offer() {
        use SaleStatus::*;
        let allowed = |c: SaleCommand| -> Vec<SaleStatus> {
            SaleStatus::ALL
                .into_iter()
                .filter(|s| c.allowed_in(*s))
                .collect()
        };
        assert_eq!(allowed(SaleCommand::Pause), [OnSale]);
        assert_eq!(allowed(SaleCommand::Resume), [Paused]);
        assert_eq!(allowed(SaleCommand::Close), [Scheduled, OnSale, Paused]);
        assert_eq!(
            allowed(SaleCommand::Reload),
            [Draft, Scheduled, OnSale, Paused]
        );
        assert_eq!(SaleStatus::sources(Closed), [Scheduled, OnSale, Paused]);
    }

    #[test]
    fn only_a_sale_that_has_not_opened_can_be_scheduled() {
        use SaleStatus::*;
        let schedulable: Vec<_> = SaleStatus::ALL
            .into_iter()
            .filter(|s| s.can_schedule())
            .collect();
        assert_eq!(schedulable, [Draft, Scheduled]);
        assert!(schedulable.iter().all(|s| !s.is_live() && !s.is_over()));
    }

    proptest! {
        #[test]
        fn an_ended_sale_stays_ended(from in 0usize..6, to in 0usize..6, cmd in 0usize..6) {
            let (from, to) = (SaleStatus::ALL[from], SaleStatus::ALL[to]);
            let cmd = SaleCommand::ALL[cmd];
            if from.is_over() {
                prop_assert!(!from.can_become(to));
                prop_assert!(!cmd.allowed_in(from));
            }
            prop_assert!(!from.can_become(from), "a repeated move must be a no-op, not a transition");
            if from.can_become(to) && to != SaleStatus::Draft {
                prop_assert!(to.is_published(), "every move but the undo publishes the event");
            }
            if let Some(target) = cmd.target() {
                prop_assert!(!cmd.allowed_in(from) || from.can_become(target));
            }
            // A sale opens only from its schedule, never from a draft or an organizer's resume
            // of a sale that has not opened.
            if to == SaleStatus::OnSale && from.can_become(to) {
                prop_assert!(matches!(from, SaleStatus::Scheduled | SaleStatus::Paused));
            }
        }
    }
}
