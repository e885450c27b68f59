//! The virtual waiting room: durable, idempotent joins; a pre-opening draw anyone can audit;
//! first come, first served afterwards; and an admission frontier that pacers move by
//! compare-and-swap. Its state lives in one JetStream stream, so any number of gateways serve
//! one queue with one order of positions.
//!
//! [`model`] holds the pure rules (positions, answers, the draw); [`room`] the NATS side.

pub mod model;
pub mod room;

pub use model::{
    Book, Control, Draw, EntryRef, EntryState, EntryView, JoinBatch, JoinRecord, MAX_BATCH, Phase,
    PollPolicy, Summary, batch_seq, draw_key, drawn_order, entry_id,
};
pub use room::{Joined, QueueError, WaitingRoom};
