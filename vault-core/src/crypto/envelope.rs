//! The stored envelope of one secret version.
//!
//! Layout, version 1 (integers big-endian):
//!
//! ```text
//! offset  size  field
//! 0       1     format version = 0x01
//! 1       4     KEK version that wraps the data key
//! 5       60    wrapped data key: nonce 12 | ciphertext 32 | tag 16
//! 65      28+n  value: nonce 12 | ciphertext n | tag 16
//! ```
//!
//! Associated data:
//! - data key wrap: `vault/v1/dek`, project, environment, name, secret version, KEK version
//! - value: `vault/v1/value`, project, environment, name, secret version
//!
//! The value's associated data leaves out the KEK version so that a rewrap can
//! move the data key to a new KEK without touching (or decrypting) the value;
//! the KEK version is bound where it matters, in the wrap of the data key.

use std::fmt;

use super::CryptoError;
use super::aead::{AeadKey, KEY_LEN, NONCE_LEN, OVERHEAD, TAG_LEN};
use super::encoding::{Aad, read_u32};
use super::keys::Kek;
use crate::names::{EnvName, ProjectName, SecretName};
use crate::secret::SecretBytes;

/// Current envelope format version.
pub const ENVELOPE_FORMAT: u8 = 1;
const WRAPPED_DEK_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
const VALUE_AT: usize = 1 + 4 + WRAPPED_DEK_LEN;
/// Bytes an envelope adds to the value.
pub const ENVELOPE_OVERHEAD: usize = VALUE_AT + OVERHEAD;

/// The identity a ciphertext is bound to. Opening with any other identity
/// fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretContext {
    /// Project.
    pub project: ProjectName,
    /// Environment.
    pub environment: EnvName,
    /// Secret name.
    pub name: SecretName,
    /// Secret version (1, 2, ...).
    pub version: u64,
}

impl SecretContext {
    fn dek_aad(&self, kek_version: u32) -> Aad {
        Aad::new("vault/v1/dek")
            .str(self.project.as_str())
            .str(self.environment.as_str())
            .str(self.name.as_str())
            .u64(self.version)
            .u32(kek_version)
    }

    fn value_aad(&self) -> Aad {
        Aad::new("vault/v1/value")
            .str(self.project.as_str())
            .str(self.environment.as_str())
            .str(self.name.as_str())
            .u64(self.version)
    }
}

/// A data key: made fresh for one secret version, used once, never stored in
/// the clear. Only [`Kek::seal`] can make one.
pub(crate) struct DataKey(AeadKey);

impl DataKey {
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        AeadKey::generate().map(Self)
    }
}

/// A sealed secret version: safe to store.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope(Vec<u8>);

impl Envelope {
    pub(crate) fn seal(
        kek: &Kek,
        dek: &DataKey,
        ctx: &SecretContext,
        value: &SecretBytes,
    ) -> Result<Self, CryptoError> {
        let mut out = Vec::with_capacity(ENVELOPE_OVERHEAD + value.len());
        out.push(ENVELOPE_FORMAT);
        out.extend_from_slice(&kek.version().to_be_bytes());
        kek.aead().seal_into(
            ctx.dek_aad(kek.version()).as_bytes(),
            dek.0.bytes(),
            &mut out,
        )?;
        dek.0
            .seal_into(ctx.value_aad().as_bytes(), value.expose_secret(), &mut out)?;
        Ok(Self(out))
    }

    /// Parses stored bytes. Checks the structure only; authenticity is checked
    /// by [`open`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CryptoError> {
        const WHAT: &str = "envelope";
        if bytes.len() < ENVELOPE_OVERHEAD {
            return Err(CryptoError::Format {
                what: WHAT,
                why: "too short",
            });
        }
        if bytes[0] != ENVELOPE_FORMAT {
            return Err(CryptoError::Format {
                what: WHAT,
                why: "unknown format version",
            });
        }
        Ok(Self(bytes))
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the envelope into its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Version of the KEK that wraps this envelope's data key.
    pub fn kek_version(&self) -> u32 {
        read_u32(&self.0, 1).unwrap_or(0)
    }

    fn wrapped_dek(&self) -> &[u8] {
        &self.0[5..VALUE_AT]
    }

    fn value_box(&self) -> &[u8] {
        &self.0[VALUE_AT..]
    }

    fn unwrap_dek(&self, kek: &Kek, ctx: &SecretContext) -> Result<DataKey, CryptoError> {
        kek.check_project(ctx)?;
        if kek.version() != self.kek_version() {
            return Err(CryptoError::WrongKey(
                "envelope is wrapped under another KEK version",
            ));
        }
        let raw = kek
            .aead()
            .open_key(ctx.dek_aad(kek.version()).as_bytes(), self.wrapped_dek())?;
        Ok(DataKey(AeadKey::from_bytes(raw)))
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Envelope(v{}, kek v{}, {} bytes)",
            self.0[0],
            self.kek_version(),
            self.0.len()
        )
    }
}

/// Decrypts an envelope. Any mismatch of key, context or bytes gives
/// [`CryptoError::Decrypt`] (or [`CryptoError::WrongKey`] when the caller
/// offered a KEK of the wrong project or version), never wrong plaintext.
pub fn open(kek: &Kek, ctx: &SecretContext, env: &Envelope) -> Result<SecretBytes, CryptoError> {
    let dek = env.unwrap_dek(kek, ctx)?;
    dek.0.open(ctx.value_aad().as_bytes(), env.value_box())
}

/// Moves an envelope's data key from `old` to `new` (normally the active KEK)
/// without decrypting the value: the value bytes are copied unchanged.
pub fn rewrap(
    old: &Kek,
    new: &Kek,
    ctx: &SecretContext,
    env: &Envelope,
) -> Result<Envelope, CryptoError> {
    new.check_project(ctx)?;
    let dek = env.unwrap_dek(old, ctx)?;
    let mut out = Vec::with_capacity(env.0.len());
    out.push(ENVELOPE_FORMAT);
    out.extend_from_slice(&new.version().to_be_bytes());
    new.aead().seal_into(
        ctx.dek_aad(new.version()).as_bytes(),
        dek.0.bytes(),
        &mut out,
    )?;
    out.extend_from_slice(env.value_box());
    Ok(Envelope(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn ctx(p: &str, e: &str, n: &str, v: u64) -> SecretContext {
        SecretContext {
            project: ProjectName::parse(p).unwrap(),
            environment: EnvName::parse(e).unwrap(),
            name: SecretName::parse(n).unwrap(),
            version: v,
        }
    }

    fn kek(p: &str, v: u32) -> Kek {
        Kek::generate(&ProjectName::parse(p).unwrap(), v).unwrap()
    }

    #[test]
    fn every_byte_flip_is_detected() {
        let k = kek("demo", 1);
        let c = ctx("demo", "dev", "DB_URL", 1);
        let env = k
            .seal(&c, &SecretBytes::new(b"postgres://x".to_vec()))
            .unwrap();
        let bytes = env.as_bytes().to_vec();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                let opened = Envelope::from_bytes(b).and_then(|e| open(&k, &c, &e));
                assert!(opened.is_err(), "flip at byte {i} bit {bit:#x} opened");
            }
        }
        // Truncation and extension fail too.
        for len in 0..bytes.len() {
            let e = Envelope::from_bytes(bytes[..len].to_vec());
            assert!(e.and_then(|e| open(&k, &c, &e)).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(open(&k, &c, &Envelope::from_bytes(longer).unwrap()).is_err());
    }

    #[test]
    fn context_mismatch_never_opens() {
        let k = kek("demo", 1);
        let c = ctx("demo", "dev", "DB_URL", 3);
        let env = k.seal(&c, &SecretBytes::new(b"v".to_vec())).unwrap();
        let other_ctxs = [
            ctx("demo", "prod", "DB_URL", 3), // moved to another environment
            ctx("demo", "dev", "API_KEY", 3), // moved to another secret
            ctx("demo", "dev", "DB_URL", 4),  // old version replayed as current
            ctx("demo", "dev", "DB_URL", 2),
        ];
        for o in &other_ctxs {
            assert_eq!(open(&k, o, &env).err(), Some(CryptoError::Decrypt), "{o:?}");
        }
        // Another project's KEK, even with the same version, is refused.
        let other = kek("other", 1);
        assert!(open(&other, &ctx("other", "dev", "DB_URL", 3), &env).is_err());
        // Same project, another KEK version.
        let k2 = kek("demo", 2);
        assert!(matches!(open(&k2, &c, &env), Err(CryptoError::WrongKey(_))));
        assert_eq!(open(&k, &c, &env).unwrap().expose_secret(), b"v");
    }

    #[test]
    fn data_key_is_fresh_per_seal_and_nonces_unique() {
        let k = kek("demo", 1);
        let c = ctx("demo", "dev", "X", 1);
        let v = SecretBytes::new(b"same value".to_vec());
        let mut nonces = HashSet::new();
        let mut deks = HashSet::new();
        for _ in 0..20_000 {
            let env = k.seal(&c, &v).unwrap();
            assert!(
                nonces.insert(env.as_bytes()[5..17].to_vec()),
                "repeated wrap nonce"
            );
            assert!(
                nonces.insert(env.as_bytes()[VALUE_AT..VALUE_AT + 12].to_vec()),
                "repeated value nonce"
            );
            assert!(
                deks.insert(env.wrapped_dek()[12..].to_vec()),
                "repeated wrapped data key"
            );
        }
    }

    #[test]
    fn rewrap_keeps_value_bytes_and_moves_kek() {
        let old = kek("demo", 1);
        let new = kek("demo", 2);
        let c = ctx("demo", "dev", "X", 7);
        let env = old.seal(&c, &SecretBytes::new(b"secret".to_vec())).unwrap();
        let moved = rewrap(&old, &new, &c, &env).unwrap();
        assert_eq!(moved.kek_version(), 2);
        assert_eq!(
            moved.value_box(),
            env.value_box(),
            "value must not be re-encrypted"
        );
        assert_eq!(open(&new, &c, &moved).unwrap().expose_secret(), b"secret");
        assert!(open(&old, &c, &moved).is_err());
        // Rewrap with the wrong context fails and produces nothing.
        assert!(rewrap(&old, &new, &ctx("demo", "dev", "X", 8), &env).is_err());
        // Rewrap into another project's KEK is refused.
        assert!(rewrap(&old, &kek("other", 3), &c, &env).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn seal_open_round_trip(value in proptest::collection::vec(any::<u8>(), 0..5000), version in 1u64..u64::MAX) {
            let k = kek("demo", 1);
            let c = ctx("demo", "dev", "VALUE", version);
            let env = k.seal(&c, &SecretBytes::new(value.clone())).unwrap();
            prop_assert_eq!(env.as_bytes().len(), value.len() + ENVELOPE_OVERHEAD);
            let parsed = Envelope::from_bytes(env.as_bytes().to_vec()).unwrap();
            let opened = open(&k, &c, &parsed).unwrap();
            prop_assert_eq!(opened.expose_secret(), &value[..]);
        }

        #[test]
        fn rewrap_round_trip(value in proptest::collection::vec(any::<u8>(), 0..512)) {
            let old = kek("demo", 4);
            let new = kek("demo", 5);
            let c = ctx("demo", "prod", "K", 1);
            let env = old.seal(&c, &SecretBytes::new(value.clone())).unwrap();
            let moved = rewrap(&old, &new, &c, &env).unwrap();
            let opened = open(&new, &c, &moved).unwrap();
            prop_assert_eq!(opened.expose_secret(), &value[..]);
        }
    }
}
