//! Checking a provider webhook: the signature over the raw body, and the timestamp tolerance
//! that stops a captured request from being replayed later.
//!
//! Header: `Boxoffice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Boxoffice-Signature";

/// Why a webhook is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No header, or not `t=...,v1=...`.
    #[error("missing or malformed signature header")]
    Malformed,
    /// The timestamp is too old or in the future (a replay, or a badly skewed clock).
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No `v1` signature matches the body.
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies `header` for `body` with `secret`, at `now` (Unix seconds), accepting timestamps
/// within `tolerance_s` either way. Comparison is constant-time.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => {
                signatures.push(hex::decode(s).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > tolerance_s {
        return Err(SignatureError::Stale);
    }
    for sig in signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| SignatureError::Malformed)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn a_good_signature_passes_and_every_tampering_fails() {
        let body = br#"{"id":"evt_1"}"#;
        let h = sign("s3cret", 1_000, body);
        assert_eq!(verify("s3cret", &h, body, 1_100, 300), Ok(()));
        assert_eq!(
            verify("s3cret", &h, br#"{"id":"evt_2"}"#, 1_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", &h, body, 1_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", &h, body, 1_301, 300),
            Err(SignatureError::Stale),
            "replayed later"
        );
        assert_eq!(
            verify("s3cret", &h.replace("t=1000", "t=1200"), body, 1_200, 300),
            Err(SignatureError::Mismatch),
            "re-stamped"
        );
        assert_eq!(
            verify("s3cret", "", body, 1_000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("s3cret", "t=1000,v1=zz", body, 1_000, 300),
            Err(SignatureError::Malformed)
        );
    }
}
