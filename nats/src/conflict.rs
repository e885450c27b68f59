//! Recognising a refused compare-and-swap, however the server words it.
//!
//! Every conditional write here (a seat's revision, a record's "subject still empty", a
//! status's first publish) is refused with JetStream's "wrong last sequence" when someone wrote
//! first. A single server answers with error code 10071, which async-nats maps to its
//! `WrongLastSequence` / `WrongLastRevision` kinds. A clustered stream's leader can answer with
//! 10164, the same refusal without the sequence in its text, which async-nats 0.51 leaves as
//! `Other`: taken at face value, every lost race on a 3-node cluster looked like NATS being
//! unavailable (seen in the clustered on-sale run: intents retried, buyers answered 503).
//!
//! async-nats keeps the server's error as the source of its publish, update and create errors,
//! so this one test, used alone, recognises both wordings at every conditional write.

use async_nats::jetstream::{self, ErrorCode};

/// Whether `err`, or an error it wraps, is JetStream's "wrong last sequence" refusal.
pub fn is_wrong_last_sequence(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(js) = e.downcast_ref::<jetstream::Error>() {
            let code = js.error_code();
            if code == ErrorCode::STREAM_WRONG_LAST_SEQUENCE
                || code == ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(code: u64) -> jetstream::Error {
        serde_json::from_value(serde_json::json!({
            "code": 400, "err_code": code, "description": "from the server"
        }))
        .unwrap()
    }

    /// An error that wraps another, as async-nats's publish and update errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("publish failed")]
    struct Wrapped(#[source] jetstream::Error);

    #[test]
    fn both_wordings_of_the_refusal_are_recognised_through_wrapping() {
        assert!(is_wrong_last_sequence(&js(10071)));
        assert!(is_wrong_last_sequence(&js(10164)));
        assert!(is_wrong_last_sequence(&Wrapped(js(10164))));
        // Not a refusal: unavailability stays unavailability.
        assert!(!is_wrong_last_sequence(&Wrapped(js(10026))));
        assert!(!is_wrong_last_sequence(&std::io::Error::other("down")));
    }
}
