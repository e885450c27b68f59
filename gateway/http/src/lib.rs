//! `boxoffice-http`: what the gateway's two sides (the buyer API in `boxoffice-gateway` and the
//! organizer side in `boxoffice-admin`) share, so neither copies it from the other.
//!
//! - [`code`]: every error code, one per meaning, listed in the OpenAPI document.
//! - [`error`]: the one JSON error ([`error::ApiError`]) and the one conversion from the
//!   store's error into it.
//! - [`extract`]: JSON body, path and query extractors whose every rejection is that error.
//! - [`client`]: the client's address behind trusted proxies, and the key limits count it by.
//! - [`availability`]: the in-memory view of every followed event's seats, fed by the seat
//!   store's KV watch (seat maps, counters and the live dashboard read it, never NATS).
//!
//! It holds no routes and no state of its own: each side builds its router on top.

pub mod availability;
pub mod client;
pub mod code;
pub mod error;
pub mod extract;
