//! Secret material in memory.
//!
//! Every type here zeroizes its bytes on drop, has no `Display`, prints
//! `[redacted]` in `Debug`, and is read only through `expose_secret()`, which
//! makes every place that touches plaintext easy to find in review.
//!
//! [`SecretText`] is the one deliberate exception to "no `Serialize`": it is
//! how a secret value travels in the JSON of the HTTP API, so it must be
//! (de)serializable, but only there.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

/// Overwrites `buf` with zeros in a way the compiler may not elide: volatile
/// writes, eight bytes at a time where aligned (byte-wise volatile writes
/// cost about a cycle per byte, which dominated opening a 4 KiB secret).
pub fn wipe(buf: &mut [u8]) {
    let (head, body, tail) = bytemuck::pod_align_to_mut::<u8, u64>(buf);
    head.zeroize();
    body.zeroize();
    tail.zeroize();
}

/// Secret bytes (plaintext values, derived keys before they are typed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe(&mut self.0);
        // Bytes beyond the length (left by a truncation) are secret too.
        self.0.spare_capacity_mut().zeroize();
    }
}

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when this value drops.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The plaintext. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The plaintext, writable (for in-place decryption).
    pub(crate) fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Number of bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// A secret UTF-8 text: a secret value, a password, a token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Takes ownership of `text`; it is wiped when this value drops.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The plaintext. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reinterprets decrypted bytes as text; `None` (and the bytes wiped) if
    /// they are not UTF-8.
    pub fn from_utf8(mut bytes: SecretBytes) -> Option<Self> {
        match String::from_utf8(std::mem::take(&mut bytes.0)) {
            Ok(s) => Some(Self::new(s)),
            Err(e) => {
                let mut v = e.into_bytes();
                v.zeroize();
                None
            }
        }
    }

    /// The text as secret bytes (copied; both copies are wiped on drop).
    pub fn to_bytes(&self) -> SecretBytes {
        SecretBytes::new(self.0.as_bytes().to_vec())
    }
}

impl From<String> for SecretText {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for SecretText {
    fn from(s: &str) -> Self {
        Self::new(s.to_owned())
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

// Deliberate: secret values cross the HTTP API as JSON strings.
impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

// In the OpenAPI document a secret is a plain string.
impl utoipa::PartialSchema for SecretText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("A secret text (UTF-8, never NUL)"))
            .into()
    }
}

impl utoipa::ToSchema for SecretText {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_contents() {
        let t = SecretText::from("hunter2-canary");
        let b = SecretBytes::new(b"hunter2-canary".to_vec());
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(!format!("{b:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&t)).contains("hunter2"));
    }

    #[test]
    fn serde_round_trip_is_deliberate() {
        let t = SecretText::from("a \"quoted\"\nvalue");
        let json = serde_json::to_string(&t).unwrap();
        let back: SecretText = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose_secret(), t.expose_secret());
    }

    #[test]
    fn wipe_clears_every_byte_at_any_alignment() {
        let mut v = [0xffu8; 67];
        for start in 0..8 {
            v.iter_mut().for_each(|b| *b = 0xff);
            wipe(&mut v[start..]);
            assert!(v[start..].iter().all(|&b| b == 0));
            assert!(v[..start].iter().all(|&b| b == 0xff));
        }
    }

    #[test]
    fn from_utf8_rejects_invalid() {
        assert!(SecretText::from_utf8(SecretBytes::new(vec![0xff, 0xfe])).is_none());
        let ok = SecretText::from_utf8(SecretBytes::new(b"ok".to_vec())).unwrap();
        assert_eq!(ok.expose_secret(), "ok");
    }
}
