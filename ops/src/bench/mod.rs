//! Benchmarks. Each measures the platform's path and the raw building block it rests on in the
//! same run, on the same server, and reports the ratio.

pub mod bare;
pub mod contended;
pub mod gateway;
pub mod holds;
pub mod onsale;
pub mod orders;
