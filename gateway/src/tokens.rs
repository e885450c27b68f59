//! Signed bearer credentials: buyer sessions, waiting-room admissions and presale grants, as
//! HS256 JWTs.
//!
//! Both are verified with no database round trip. Keys rotate through configuration: the
//! first key signs, every listed key verifies, and each token names its key (`kid`), so adding
//! a new key in front of the old one, then dropping the old one after the longest token
//! lifetime, rotates without logging anyone out. The audience separates the kinds, so an
//! admission can never pass for a session, a presale grant for either, or the other way round.

use std::collections::HashMap;

use boxoffice_nats::{BlockId, BuyerId, EventId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

const SESSION_AUDIENCE: &str = "boxoffice:session";
const ADMISSION_AUDIENCE: &str = "boxoffice:admission";
const PRESALE_AUDIENCE: &str = "boxoffice:presale";

/// A signing key as configured: `kid:secret`.
#[derive(Clone)]
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The configured keys could not be used.
#[derive(Debug, thiserror::Error)]
#[error("token keys: {0}")]
pub struct KeyError(String);

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, a bad signature, an unknown key, or the wrong kind.
    #[error("the credential is not valid")]
    Invalid,
    /// Valid but past its expiry.
    #[error("the credential has expired")]
    Expired,
}

/// A buyer session's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The buyer.
    pub sub: BuyerId,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    aud: String,
}

/// An admission's claims: one buyer, one event, one queue entry, until `exp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdmissionClaims {
    /// The buyer.
    pub sub: BuyerId,
    /// The event.
    pub evt: EventId,
    /// The queue entry (its stream sequence): one order per entry.
    pub ent: u64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    aud: String,
}

/// A presale grant's claims: one buyer may buy from one presale block of one event until
/// `exp` (a code redeemed once, used for every order of the grant's life).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresaleClaims {
    /// The buyer who redeemed the code.
    pub sub: BuyerId,
    /// The event.
    pub evt: EventId,
    /// The presale block the code unlocks.
    pub blk: BlockId,
    /// Expiry, Unix seconds.
    pub exp: i64,
    aud: String,
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    signer: Key,
    verifiers: HashMap<String, DecodingKey>,
    session_validation: Validation,
    admission_validation: Validation,
    presale_validation: Validation,
    session_ttl_s: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("signer", &self.signer.kid)
            .field("verifiers", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn validation(audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "aud", "sub"]);
    // Every process that checks these runs on synchronised clocks; an expiry is an expiry.
    v.leeway = 0;
    v
}

impl TokenKeys {
    /// Keys from `kid:secret` entries, the first of which signs. Secrets must be at least 32
    /// bytes; kids must be unique.
    pub fn new(entries: &[String], session_ttl_s: i64) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for entry in entries {
            let (kid, secret) = entry
                .split_once(':')
                .ok_or_else(|| KeyError("each key is kid:secret".into()))?;
            if kid.is_empty() || secret.len() < 32 {
                return Err(KeyError(format!(
                    "key {kid:?}: a non-empty kid and a secret of at least 32 bytes"
                )));
            }
            let bytes = secret.as_bytes();
            keys.push(Key {
                kid: kid.to_owned(),
                encoding: EncodingKey::from_secret(bytes).map_err(|e| KeyError(e.to_string()))?,
                decoding: DecodingKey::from_secret(bytes).map_err(|e| KeyError(e.to_string()))?,
            });
        }
        let signer = keys
            .first()
            .cloned()
            .ok_or_else(|| KeyError("at least one key".into()))?;
        let mut verifiers = HashMap::new();
        for k in keys {
            if verifiers.insert(k.kid.clone(), k.decoding).is_some() {
                return Err(KeyError(format!("duplicate kid {:?}", k.kid)));
            }
        }
        Ok(Self {
            signer,
            verifiers,
            session_validation: validation(SESSION_AUDIENCE),
            admission_validation: validation(ADMISSION_AUDIENCE),
            presale_validation: validation(PRESALE_AUDIENCE),
            session_ttl_s,
        })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signer.kid.clone());
        // HS256 over a plain struct with a valid key: cannot fail.
        jsonwebtoken::encode(&header, claims, &self.signer.encoding).unwrap_or_default()
    }

    fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifiers.get(kid))
            .ok_or(TokenError::Invalid)?;
        jsonwebtoken::decode::<T>(token, key, validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// A new session for a new buyer, valid for the configured time.
    pub fn new_session(&self, now_s: i64) -> (BuyerId, String, i64) {
        let buyer = BuyerId::new();
        let exp = now_s + self.session_ttl_s;
        let token = self.sign(&SessionClaims {
            sub: buyer,
            exp,
            iat: now_s,
            aud: SESSION_AUDIENCE.into(),
        });
        (buyer, token, exp)
    }

    /// Checks a session token.
    pub fn session(&self, token: &str) -> Result<SessionClaims, TokenError> {
        self.verify(token, &self.session_validation)
    }

    /// An admission for one entry until `exp` (Unix seconds).
    pub fn admission(&self, buyer: BuyerId, event: EventId, entry: u64, exp: i64) -> String {
        self.sign(&AdmissionClaims {
            sub: buyer,
            evt: event,
            ent: entry,
            exp,
            aud: ADMISSION_AUDIENCE.into(),
        })
    }

    /// Checks an admission token's signature and expiry (binding to buyer and event is the
    /// caller's, who knows both).
    pub fn check_admission(&self, token: &str) -> Result<AdmissionClaims, TokenError> {
        let claims: AdmissionClaims = self.verify(token, &self.admission_validation)?;
        // JWT expiry is in whole seconds and the library accepts a token during its `exp`
        // second; the entry's admission lapses at a millisecond (`exp` is its floor), so the
        // token ends at the start of that second, never after the entry it stands for.
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

impl TokenKeys {
    /// A presale grant for `buyer` on `event`'s block `block` until `exp` (Unix seconds).
    pub fn presale(&self, buyer: BuyerId, event: EventId, block: BlockId, exp: i64) -> String {
        self.sign(&PresaleClaims {
            sub: buyer,
            evt: event,
            blk: block,
            exp,
            aud: PRESALE_AUDIENCE.into(),
        })
    }

    /// Checks a presale grant's signature and expiry (binding to buyer and event is the
    /// caller's, who knows both).
    pub fn check_presale(&self, token: &str) -> Result<PresaleClaims, TokenError> {
        self.verify(token, &self.presale_validation)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const A: &str = "a:0123456789abcdef0123456789abcdef";
    const B: &str = "b:fedcba9876543210fedcba9876543210";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_session_verifies_and_names_its_buyer() {
        let keys = TokenKeys::new(&[A.into()], 3600).unwrap();
        let (buyer, token, _) = keys.new_session(now());
        assert_eq!(keys.session(&token).unwrap().sub, buyer);
    }

    #[test]
    fn forged_expired_and_cross_kind_tokens_are_refused() {
        let keys = TokenKeys::new(&[A.into()], 3600).unwrap();
        let (_, token, _) = keys.new_session(now());
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.session(&forged).unwrap_err(), TokenError::Invalid);
        assert_eq!(
            keys.session("not a token").unwrap_err(),
            TokenError::Invalid
        );
        let (_, old, _) = keys.new_session(now() - 7200);
        assert_eq!(keys.session(&old).unwrap_err(), TokenError::Expired);
        let admission = keys.admission(BuyerId::new(), EventId::new(), 7, now() + 60);
        assert_eq!(keys.session(&admission).unwrap_err(), TokenError::Invalid);
        assert_eq!(
            keys.check_admission(&token).unwrap_err(),
            TokenError::Invalid
        );
        let other = TokenKeys::new(&["a:another-secret-of-thirty-two-bytes!!".into()], 60).unwrap();
        assert_eq!(other.session(&token).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_presale_grant_is_its_own_kind() {
        let keys = TokenKeys::new(&[A.into()], 3600).unwrap();
        let (buyer, event, block) = (BuyerId::new(), EventId::new(), BlockId::new());
        let grant = keys.presale(buyer, event, block, now() + 60);
        let claims = keys.check_presale(&grant).unwrap();
        assert_eq!((claims.sub, claims.evt, claims.blk), (buyer, event, block));
        assert_eq!(keys.session(&grant).unwrap_err(), TokenError::Invalid);
        assert_eq!(
            keys.check_admission(&grant).unwrap_err(),
            TokenError::Invalid
        );
        let admission = keys.admission(buyer, event, 1, now() + 60);
        assert_eq!(
            keys.check_presale(&admission).unwrap_err(),
            TokenError::Invalid
        );
        let old = keys.presale(buyer, event, block, now() - 1);
        assert_eq!(keys.check_presale(&old).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
        let old = TokenKeys::new(&[A.into()], 3600).unwrap();
        let (_, token, _) = old.new_session(now());
        let rotated = TokenKeys::new(&[B.into(), A.into()], 3600).unwrap();
        assert!(rotated.session(&token).is_ok());
        let (_, fresh, _) = rotated.new_session(now());
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("b")
        );
        let dropped = TokenKeys::new(&[B.into()], 3600).unwrap();
        assert_eq!(dropped.session(&token).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn bad_key_configuration_is_refused() {
        assert!(TokenKeys::new(&[], 60).is_err());
        assert!(TokenKeys::new(&["short:abc".into()], 60).is_err());
        assert!(TokenKeys::new(&[A.into(), A.into()], 60).is_err());
        assert!(TokenKeys::new(&["no-colon".into()], 60).is_err());
    }
}
