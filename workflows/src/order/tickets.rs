//! Ticket codes and their signatures.
//!
//! A code is 128 random bits (122 of them from a v4 UUID), so it cannot be guessed; the
//! signature is Ed25519 over `bxt1.<event>.<seat>.<code>`, so a door scanner holding only the
//! issuer's public key verifies a ticket offline, and a forged or altered ticket fails.

use boxoffice_nats::{EventId, SeatId};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::store::NewTicket;

/// The development seed: the worker's default, allowed only in development mode
/// (`BOXOFFICE_DEV_MODE`); a deployment sets its own.
pub const DEV_SEED_HEX: &str = "6b6f786f66666963652d6465762d7469636b65742d7369676e696e672d6b6579";

/// A seed that is not 32 bytes of hex.
#[derive(Debug, thiserror::Error)]
#[error("ticket signing seed must be 64 hex digits")]
pub struct BadSeed;

/// Issues signed tickets.
#[derive(Clone)]
pub struct TicketSigner {
    key: SigningKey,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketSigner(public {})", self.public_key_hex())
    }
}

/// What a ticket's signature covers.
pub fn payload(event: EventId, seat: &SeatId, code: &str) -> String {
    format!("bxt1.{event}.{seat}.{code}")
}

impl TicketSigner {
    /// A signer from a 32-byte seed in hex.
    pub fn from_seed_hex(seed: &str) -> Result<Self, BadSeed> {
        let bytes: [u8; 32] = hex::decode(seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(BadSeed)?;
        Ok(Self {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// The public key scanners verify with, in hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// A new ticket for `seat`: a fresh code and its signature.
    pub fn issue(&self, event: EventId, seat: &SeatId) -> NewTicket {
        let code = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        let signature = hex::encode(
            self.key
                .sign(payload(event, seat, &code).as_bytes())
                .to_bytes(),
        );
        NewTicket {
            seat: seat.clone(),
            code,
            signature,
        }
    }
}

/// Checks a ticket against the issuer's public key (hex), as a scanner does offline.
pub fn verify(
    public_key_hex: &str,
    event: EventId,
    seat: &SeatId,
    code: &str,
    sig_hex: &str,
) -> bool {
    let Some(key) = hex::decode(public_key_hex)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
    else {
        return false;
    };
    let Some(sig) = hex::decode(sig_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
    else {
        return false;
    };
    key.verify(payload(event, seat, code).as_bytes(), &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_verifies_and_any_change_to_it_does_not() {
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        let event = EventId::new();
        let seat: SeatId = "A:1".parse().unwrap();
        let t = signer.issue(event, &seat);
        let pk = signer.public_key_hex();
        assert!(verify(&pk, event, &seat, &t.code, &t.signature));
        assert!(
            !verify(&pk, EventId::new(), &seat, &t.code, &t.signature),
            "other event"
        );
        assert!(
            !verify(&pk, event, &"A:2".parse().unwrap(), &t.code, &t.signature),
            "other seat"
        );
        let mut code = t.code.clone();
        code.replace_range(0..1, if code.starts_with('A') { "B" } else { "A" });
        assert!(
            !verify(&pk, event, &seat, &code, &t.signature),
            "altered code"
        );
        let other = TicketSigner::from_seed_hex(&"11".repeat(32)).unwrap();
        assert!(
            !verify(&other.public_key_hex(), event, &seat, &t.code, &t.signature),
            "other issuer"
        );
        assert_ne!(signer.issue(event, &seat).code, t.code, "codes are fresh");
        assert!(TicketSigner::from_seed_hex("abc").is_err());
    }
}
