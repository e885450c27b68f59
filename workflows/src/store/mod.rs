//! PostgreSQL: orders, payments, tickets and the catalog (sqlx), and the organizer side's
//! reads and writes.
//!
//! Queries are plain `sqlx::query` with binds, exercised by the integration tests against a
//! real database (see `docs/adr/0005-sqlx-runtime-queries.md` for why not `query!` yet). Every
//! function answers in [`StoreError`] and domain types: states are parsed where the rows come
//! in, and the callers never see a constraint name or compare a state as a string.
//!
//! The organizer side (`boxoffice-admin`) reads and writes through the public modules named
//! for what they hold: [`accounts`] and [`sessions`] (sign-in), [`events`] and [`inventory`]
//! (what an organizer builds, with [`audit`] lines), [`admin_orders`], [`runs`] and
//! [`event_stats`] (what it reads back); [`Refusal`] is why the store refused its change.

pub mod accounts;
pub mod admin_orders;
pub mod audit;
mod catalog;
mod db;
pub mod event_stats;
pub mod events;
pub mod inventory;
mod orders;
mod published;
mod refusal;
pub mod runs;
pub mod sessions;

pub use catalog::{NewEvent, NewSection, SectionLayout, create_event, sellable_inventory};
use db::parse_stored;
pub use db::{PgConfig, StoreError, connect, migrate};
pub(crate) use orders::ts;
pub use orders::{
    NewOrder, NewTicket, RecordedOrder, Repaired, Transitioned, issue_confirmed, issue_tickets,
    record_closed, record_order, record_payment, transition, void_tickets,
};
pub use published::{PublishedEvent, PublishedSection, published_events};
pub use refusal::Refusal;
