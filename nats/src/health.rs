//! What the order intake reports about itself, once a second, on a plain NATS subject: the
//! waiting room's pacer admits buyers at the pace these figures say the core can take.

use serde::{Deserialize, Serialize};

use crate::seat::UnixMillis;

/// One intake process's recent figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeHealth {
    /// The reporting process.
    pub worker: String,
    /// Holds being taken right now.
    pub holds_in_flight: u32,
    /// Workflow starts in flight.
    pub starts_in_flight: u32,
    /// Holds completed in the window.
    pub holds: u32,
    /// Median hold latency in the window (intent accepted → held), ms.
    pub hold_p50_ms: u32,
    /// 99th percentile of the same, ms.
    pub hold_p99_ms: u32,
    /// The window's length, ms.
    pub window_ms: u32,
    /// When this report was made.
    pub at: UnixMillis,
}
