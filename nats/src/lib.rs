//! `boxoffice-nats`: everything the platform keeps in NATS JetStream.
//!
//! This crate owns:
//! - [`ids`]: the identifiers that become NATS subjects and KV keys (so they are validated once,
//!   here, and every crate above shares them);
//! - [`namespace`] and [`topology`]: the JetStream streams and KV buckets, declared as code and
//!   provisioned idempotently;
//! - [`queue`]: the virtual waiting room (joins, the draw, the admission frontier);
//! - [`health`]: what the order intake reports so the waiting room can pace admission;
//! - [`seat`]: the seat store, where seat ownership changes only by compare-and-swap. It is the
//!   heart of "never sell a seat twice"; start reading at [`seat::SeatStore`].
//!
//! It must not know about HTTP, PostgreSQL or Temporal.

pub mod config;
pub mod conflict;
pub mod health;
pub mod ids;
pub mod namespace;
pub mod publish;
pub mod queue;
pub mod seat;
pub mod topology;

pub use config::NatsConfig;
pub use ids::{BlockId, BuyerId, EventId, IdError, OrderId, SeatId, SectionCode, UnitLabel};
pub use namespace::Namespace;
pub use seat::{SeatError, SeatStore};
pub use topology::{Topology, TopologyError};
