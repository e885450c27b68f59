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

/// The public key of [`DEV_SEED_HEX`]: what gates verify development tickets with (the
/// gateway's default for `BOXOFFICE_TICKET_PUBLIC_KEY`, allowed only in development mode).
pub const DEV_PUBLIC_KEY_HEX: &str =
    "96b9b2041a94f2997e6a3e153b7cfda3b8d639459ad0785bef2c45519a94906f";

/// Whether `hex` is an Ed25519 public key (64 hex digits of a valid curve point).
pub fn is_public_key(hex_key: &str) -> bool {
    hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .is_some_and(|b| VerifyingKey::from_bytes(&b).is_ok())
}

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

/// What a ticket's QR code holds: `bxt1.<event>.<section:label>.<code>.<signature hex>`, all a
/// scanner needs to check the ticket offline with the issuer's public key. No part contains a
/// dot (event ids are UUIDs; section codes and labels are letters, digits, `_` and `-`; codes
/// and signatures are hex), so the text splits unambiguously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCode {
    /// The event the ticket admits to.
    pub event: EventId,
    /// Its seat or general-admission unit.
    pub seat: SeatId,
    /// The ticket's code (how the gateway finds it).
    pub code: String,
    /// The issuer's Ed25519 signature over [`payload`], in hex.
    pub signature: String,
}

/// Text that is not a ticket's scan code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a Boxoffice ticket code")]
pub struct NotAScanCode;

impl ScanCode {
    /// Whether the issuer behind `public_key_hex` signed this ticket.
    pub fn verify(&self, public_key_hex: &str) -> bool {
        verify(
            public_key_hex,
            self.event,
            &self.seat,
            &self.code,
            &self.signature,
        )
    }
}

impl std::fmt::Display for ScanCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}",
            payload(self.event, &self.seat, &self.code),
            self.signature
        )
    }
}

impl std::str::FromStr for ScanCode {
    type Err = NotAScanCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split('.');
        let (Some("bxt1"), Some(event), Some(seat), Some(code), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(NotAScanCode);
        };
        let hex_only =
            |t: &str| !t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_only(code) || !hex_only(signature) {
            return Err(NotAScanCode);
        }
        Ok(Self {
            event: event.parse().map_err(|_| NotAScanCode)?,
            seat: seat.parse().map_err(|_| NotAScanCode)?,
            code: code.to_owned(),
            signature: signature.to_owned(),
        })
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

    #[test]
    fn the_development_public_key_is_the_development_seeds() {
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        assert_eq!(signer.public_key_hex(), DEV_PUBLIC_KEY_HEX);
        assert!(is_public_key(DEV_PUBLIC_KEY_HEX));
        assert!(!is_public_key("abcd"));
        assert!(!is_public_key(&"zz".repeat(32)));
    }

    #[test]
    fn a_scan_code_round_trips_and_verifies_and_junk_is_not_one() {
        let signer = TicketSigner::from_seed_hex(DEV_SEED_HEX).unwrap();
        let event = EventId::new();
        let seat: SeatId = "FLOOR:u12".parse().unwrap();
        let t = signer.issue(event, &seat);
        let scan = ScanCode {
            event,
            seat: seat.clone(),
            code: t.code.clone(),
            signature: t.signature.clone(),
        };
        let text = scan.to_string();
        let back: ScanCode = text.parse().unwrap();
        assert_eq!(back, scan);
        assert!(back.verify(&signer.public_key_hex()));
        let mut forged = back.clone();
        forged.seat = "FLOOR:u13".parse().unwrap();
        assert!(
            !forged.verify(&signer.public_key_hex()),
            "moved to another unit"
        );
        for junk in [
            "",
            "bxt1",
            "bxt2.x.y.z.w",
            &text.replacen("bxt1", "bxt2", 1),
            &format!("{text}.extra"),
            &text.replace(&t.code, "not-hex"),
            &text.replace(&event.to_string(), "not-an-event"),
        ] {
            assert!(junk.parse::<ScanCode>().is_err(), "{junk:?} parsed");
        }
    }
}
