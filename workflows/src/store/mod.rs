//! PostgreSQL: orders, payments, tickets and the catalog (sqlx).
//!
//! Queries are plain `sqlx::query` with binds, exercised by the integration tests against a
//! real database (see `docs/adr/0005-sqlx-runtime-queries.md` for why not `query!` yet).

pub mod accounts;
mod catalog;
mod db;
mod orders;
mod published;

pub use catalog::{NewEvent, NewSection, SectionLayout, create_event, sellable_inventory};
pub use db::{PgConfig, StoreError, connect, migrate};
pub(crate) use orders::ts;
pub use orders::{
    NewOrder, NewTicket, RecordedOrder, Repaired, Transitioned, issue_confirmed, issue_tickets,
    record_closed, record_order, record_payment, transition, void_tickets,
};
pub use published::{PublishedEvent, PublishedSection, published_events};
