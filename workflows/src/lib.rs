//! `boxoffice-workflows`: the domain, and everything the gateway and workers share above NATS.
//!
//! - [`domain`]: the order state machine and the checked value types. Start here.
//! - [`store`]: PostgreSQL (sqlx): the catalog, and what is sellable for an event.
//! - [`payments`]: the payment provider trait, its HTTP client, and webhook signature checks.
//! - [`service`]: process plumbing every binary uses the same way: typed config pieces and the
//!   settings both services share, the shared start-up and stop ([`service::Foundation`]), the
//!   background-loop set, telemetry, `/healthz` `/readyz` `/metrics`, and the shutdown signal.
//!
//! The Temporal order workflow and its activities land here too (they are pure functions of the
//! domain plus thin calls into `store` and `boxoffice_nats`).

pub mod domain;
pub mod onsale;
pub mod order;
pub mod payments;
pub mod reconcile;
pub mod service;
pub mod store;
