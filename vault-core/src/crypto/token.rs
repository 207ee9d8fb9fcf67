//! Bearer tokens (sessions, service tokens, the root token): `<id>.<secret>`.
//!
//! The id is public (it names the token in storage and the audit trail); the
//! secret is 256 random bits, stored only as a SHA-256 hash (a slow hash adds
//! nothing for a uniformly random 256-bit value) and compared in constant time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{CryptoError, random};
use crate::secret::SecretText;

const ID_BYTES: usize = 12;
const SECRET_BYTES: usize = 32;
const ID_LEN: usize = ID_BYTES * 2;
const SECRET_LEN: usize = 43; // base64url, no padding, of 32 bytes

/// The public id of a token (24 lowercase hex characters).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    /// Parses an id.
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        if s.len() == ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(CryptoError::Format {
                what: "token id",
                why: "expected 24 lowercase hex characters",
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

/// The secret half of a token.
pub struct TokenSecret(Zeroizing<String>);

impl TokenSecret {
    /// The secret text. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret([redacted])")
    }
}

/// A freshly made token.
pub struct Token;

impl Token {
    /// Makes a token: its id, the full `<id>.<secret>` text to hand out once,
    /// and the hash to store.
    pub fn generate() -> Result<(TokenId, SecretText, [u8; 32]), CryptoError> {
        let id = TokenId(hex::encode(random::bytes::<ID_BYTES>()?));
        let raw = Zeroizing::new(random::bytes::<SECRET_BYTES>()?);
        let secret = TokenSecret(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())));
        let hash = token_hash(&secret);
        let full = SecretText::new(format!("{}.{}", id.0, secret.expose_secret()));
        Ok((id, full, hash))
    }
}

/// Splits `<id>.<secret>`. The error never echoes the input.
pub fn parse_token(s: &str) -> Result<(TokenId, TokenSecret), CryptoError> {
    const BAD: CryptoError = CryptoError::Format {
        what: "token",
        why: "expected <id>.<secret>",
    };
    let (id, secret) = s.trim().split_once('.').ok_or(BAD)?;
    let id = TokenId::parse(id).map_err(|_| BAD)?;
    if secret.len() != SECRET_LEN
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(BAD);
    }
    Ok((id, TokenSecret(Zeroizing::new(secret.to_owned()))))
}

/// The hash stored for a token secret.
pub fn token_hash(secret: &TokenSecret) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"vault/v1/token\0");
    h.update(secret.expose_secret().as_bytes());
    h.finalize().into()
}

/// Checks a presented secret against a stored hash in constant time.
pub fn verify_token_hash(secret: &TokenSecret, stored: &[u8]) -> bool {
    let computed = token_hash(secret);
    stored.len() == computed.len() && bool::from(computed.ct_eq(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_parse_verify() {
        let (id, full, hash) = Token::generate().unwrap();
        let (pid, secret) = parse_token(full.expose_secret()).unwrap();
        assert_eq!(pid, id);
        assert!(verify_token_hash(&secret, &hash));
        let (_, other, _) = Token::generate().unwrap();
        let (_, other_secret) = parse_token(other.expose_secret()).unwrap();
        assert!(!verify_token_hash(&other_secret, &hash));
        assert!(!verify_token_hash(&secret, &hash[..31]));
        assert!(!format!("{secret:?}").contains(secret.expose_secret()));
    }

    #[test]
    fn rejects_malformed_without_echo() {
        for bad in [
            "",
            "abc",
            "x.y",
            "0123456789abcdef01234567.short",
            "0123456789ABCDEF01234567.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let e = parse_token(bad).err().unwrap().to_string();
            assert!(bad.is_empty() || !e.contains(bad));
        }
    }
}
