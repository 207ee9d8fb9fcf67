//! Key types of the hierarchy and their wrapped (stored) forms.
//!
//! Each key type zeroizes on drop, has no `Display` or `Serialize`, and
//! prints only its identity in `Debug`. Wrapped forms are opaque bytes that
//! are safe to store.
//!
//! Wrapped formats (all integers big-endian):
//!
//! | object | layout | associated data |
//! |---|---|---|
//! | [`WrappedRootKey`] | `0x01, root_version u32, nonce 12, ct 32, tag 16` | `vault/v1/root`, root_version |
//! | [`WrappedKek`] | `0x01, root_version u32, nonce 12, ct 32, tag 16` | `vault/v1/kek`, project, kek_version, root_version |
//! | system secret | `0x01, root_version u32, nonce 12, ct, tag 16` | `vault/v1/system`, label, root_version |

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::CryptoError;
use super::aead::{AeadKey, KEY_LEN, OVERHEAD};
use super::encoding::{Aad, read_u32};
use super::envelope::{DataKey, Envelope, SecretContext};
use crate::names::ProjectName;
use crate::secret::SecretBytes;

/// Format version byte of wrapped keys.
const WRAP_FORMAT: u8 = 1;
const HEADER_LEN: usize = 1 + 4;
const WRAPPED_KEY_LEN: usize = HEADER_LEN + OVERHEAD + KEY_LEN;

/// Short public fingerprint of key bytes, for `Debug` and logs.
fn fingerprint(label: &str, key: &[u8; KEY_LEN]) -> String {
    let mut h = Sha256::new();
    h.update(b"vault/v1/fingerprint");
    h.update(label.as_bytes());
    h.update(key);
    hex::encode(&h.finalize()[..4])
}

fn wrap(key: &AeadKey, version: u32, aad: &Aad, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(HEADER_LEN + OVERHEAD + secret.len());
    out.push(WRAP_FORMAT);
    out.extend_from_slice(&version.to_be_bytes());
    key.seal_into(aad.as_bytes(), secret, &mut out)?;
    Ok(out)
}

/// Checks the header of a wrapped object; returns the wrapping key's version.
fn wrapped_header(bytes: &[u8], what: &'static str) -> Result<u32, CryptoError> {
    if bytes.len() < HEADER_LEN + OVERHEAD {
        return Err(CryptoError::Format {
            what,
            why: "too short",
        });
    }
    if bytes[0] != WRAP_FORMAT {
        return Err(CryptoError::Format {
            what,
            why: "unknown format version",
        });
    }
    read_u32(bytes, 1).ok_or(CryptoError::Format {
        what,
        why: "too short",
    })
}

fn unwrap_key(
    key: &AeadKey,
    aad: &Aad,
    bytes: &[u8],
    what: &'static str,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    if bytes.len() != WRAPPED_KEY_LEN {
        return Err(CryptoError::Format {
            what,
            why: "wrong length",
        });
    }
    key.open_key(aad.as_bytes(), &bytes[HEADER_LEN..])
}

/// The key that protects the root key. It is never stored in the clear: it is
/// split into Shamir shares, derived from a passphrase, or kept in a key file.
pub struct UnsealKey {
    key: AeadKey,
}

impl UnsealKey {
    /// A fresh random unseal key.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            key: AeadKey::generate()?,
        })
    }

    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self {
            key: AeadKey::from_bytes(bytes),
        }
    }

    /// The 32 key bytes, for splitting into shares or writing a key file.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        self.key.bytes()
    }

    /// Wraps the root key for storage.
    pub fn wrap_root(&self, root: &RootKey) -> Result<WrappedRootKey, CryptoError> {
        let aad = Aad::new("vault/v1/root").u32(root.version);
        wrap(&self.key, root.version, &aad, root.key.bytes()).map(WrappedRootKey)
    }

    /// Unwraps the root key. Fails (opaquely) with a wrong unseal key.
    pub fn unwrap_root(&self, wrapped: &WrappedRootKey) -> Result<RootKey, CryptoError> {
        let version = wrapped_header(&wrapped.0, "wrapped root key")?;
        let aad = Aad::new("vault/v1/root").u32(version);
        let bytes = unwrap_key(&self.key, &aad, &wrapped.0, "wrapped root key")?;
        Ok(RootKey {
            version,
            key: AeadKey::from_bytes(bytes),
        })
    }
}

impl fmt::Debug for UnsealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnsealKey({})", fingerprint("unseal", self.key.bytes()))
    }
}

/// The root key: wraps every KEK and the server's own secrets. Versioned;
/// rotating it rewraps only the KEKs (cost grows with keys, not secrets).
pub struct RootKey {
    version: u32,
    key: AeadKey,
}

impl RootKey {
    /// A fresh random root key with the given version.
    pub fn generate(version: u32) -> Result<Self, CryptoError> {
        Ok(Self {
            version,
            key: AeadKey::generate()?,
        })
    }

    /// Version of this root key.
    pub fn version(&self) -> u32 {
        self.version
    }

    fn kek_aad(&self, project: &ProjectName, kek_version: u32) -> Aad {
        Aad::new("vault/v1/kek")
            .str(project.as_str())
            .u32(kek_version)
            .u32(self.version)
    }

    /// Wraps a KEK for storage.
    pub fn wrap_kek(&self, kek: &Kek) -> Result<WrappedKek, CryptoError> {
        let aad = self.kek_aad(&kek.project, kek.version);
        wrap(&self.key, self.version, &aad, kek.key.bytes()).map(WrappedKek)
    }

    /// Unwraps the KEK `project`/`kek_version`. Fails if the bytes belong to
    /// another project or version, were wrapped under another root version,
    /// or were altered.
    pub fn unwrap_kek(
        &self,
        project: &ProjectName,
        kek_version: u32,
        wrapped: &WrappedKek,
    ) -> Result<Kek, CryptoError> {
        let root_version = wrapped_header(&wrapped.0, "wrapped KEK")?;
        if root_version != self.version {
            return Err(CryptoError::WrongKey(
                "KEK is wrapped under another root key version",
            ));
        }
        let aad = self.kek_aad(project, kek_version);
        let bytes = unwrap_key(&self.key, &aad, &wrapped.0, "wrapped KEK")?;
        Ok(Kek {
            project: project.clone(),
            version: kek_version,
            key: AeadKey::from_bytes(bytes),
        })
    }

    /// Root version a wrapped KEK was wrapped under (public header field).
    pub fn wrapped_kek_root_version(wrapped: &WrappedKek) -> Result<u32, CryptoError> {
        wrapped_header(&wrapped.0, "wrapped KEK")
    }

    /// Encrypts one of the server's own secrets (e.g. the audit signing key)
    /// under the root key, bound to `label`.
    pub fn wrap_system_secret(
        &self,
        label: &str,
        secret: &SecretBytes,
    ) -> Result<Vec<u8>, CryptoError> {
        let aad = Aad::new("vault/v1/system").str(label).u32(self.version);
        wrap(&self.key, self.version, &aad, secret.expose_secret())
    }

    /// Decrypts what [`Self::wrap_system_secret`] made with the same label.
    pub fn unwrap_system_secret(
        &self,
        label: &str,
        wrapped: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let version = wrapped_header(wrapped, "wrapped system secret")?;
        if version != self.version {
            return Err(CryptoError::WrongKey(
                "secret is wrapped under another root key version",
            ));
        }
        let aad = Aad::new("vault/v1/system").str(label).u32(self.version);
        self.key.open(aad.as_bytes(), &wrapped[HEADER_LEN..])
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RootKey(v{}, {})",
            self.version,
            fingerprint("root", self.key.bytes())
        )
    }
}

/// A project's key-encryption key, one version of it. Wraps data keys.
pub struct Kek {
    project: ProjectName,
    version: u32,
    key: AeadKey,
}

impl Kek {
    /// A fresh random KEK for `project` with the given version.
    pub fn generate(project: &ProjectName, version: u32) -> Result<Self, CryptoError> {
        Ok(Self {
            project: project.clone(),
            version,
            key: AeadKey::generate()?,
        })
    }

    /// The project this KEK belongs to.
    pub fn project(&self) -> &ProjectName {
        &self.project
    }

    /// Version of this KEK.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Encrypts a secret value under a fresh data key, which this KEK wraps.
    /// The only way to encrypt a value.
    pub fn seal(&self, ctx: &SecretContext, value: &SecretBytes) -> Result<Envelope, CryptoError> {
        self.check_project(ctx)?;
        let dek = DataKey::generate()?;
        Envelope::seal(self, &dek, ctx, value)
    }

    pub(crate) fn check_project(&self, ctx: &SecretContext) -> Result<(), CryptoError> {
        if ctx.project == self.project {
            Ok(())
        } else {
            Err(CryptoError::WrongKey("KEK belongs to another project"))
        }
    }

    pub(crate) fn aead(&self) -> &AeadKey {
        &self.key
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Kek({}, v{}, {})",
            self.project,
            self.version,
            fingerprint("kek", self.key.bytes())
        )
    }
}

/// A root key wrapped by the unseal key: safe to store.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedRootKey(Vec<u8>);

/// A KEK wrapped by the root key: safe to store.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKek(Vec<u8>);

macro_rules! wrapped_bytes {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// Parses stored bytes (checks the header only; authenticity is
            /// checked when unwrapping).
            pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CryptoError> {
                if bytes.len() != WRAPPED_KEY_LEN {
                    return Err(CryptoError::Format {
                        what: $what,
                        why: "wrong length",
                    });
                }
                wrapped_header(&bytes, $what)?;
                Ok(Self(bytes))
            }

            /// The bytes to store.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} bytes)", stringify!($ty), self.0.len())
            }
        }
    };
}

wrapped_bytes!(WrappedRootKey, "wrapped root key");
wrapped_bytes!(WrappedKek, "wrapped KEK");

#[cfg(test)]
mod tests {
    use super::*;

    fn project(s: &str) -> ProjectName {
        ProjectName::parse(s).unwrap()
    }

    #[test]
    fn root_wrap_round_trip_and_wrong_unseal_key() {
        let uk = UnsealKey::generate().unwrap();
        let root = RootKey::generate(3).unwrap();
        let w = uk.wrap_root(&root).unwrap();
        let back = uk.unwrap_root(&w).unwrap();
        assert_eq!(back.version(), 3);
        assert_eq!(back.key.bytes(), root.key.bytes());
        let other = UnsealKey::generate().unwrap();
        assert_eq!(other.unwrap_root(&w).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn kek_wrap_binds_project_and_version() {
        let root = RootKey::generate(1).unwrap();
        let p = project("demo");
        let kek = Kek::generate(&p, 2).unwrap();
        let w = root.wrap_kek(&kek).unwrap();
        assert!(root.unwrap_kek(&p, 2, &w).is_ok());
        assert_eq!(root.unwrap_kek(&p, 1, &w).err(), Some(CryptoError::Decrypt));
        assert_eq!(
            root.unwrap_kek(&project("other"), 2, &w).err(),
            Some(CryptoError::Decrypt)
        );
        let root2 = RootKey::generate(2).unwrap();
        assert!(matches!(
            root2.unwrap_kek(&p, 2, &w),
            Err(CryptoError::WrongKey(_))
        ));
    }

    #[test]
    fn system_secret_binds_label() {
        let root = RootKey::generate(1).unwrap();
        let s = SecretBytes::new(vec![7; 32]);
        let w = root.wrap_system_secret("audit-signing", &s).unwrap();
        assert_eq!(root.unwrap_system_secret("audit-signing", &w).unwrap(), s);
        assert!(root.unwrap_system_secret("other", &w).is_err());
    }

    #[test]
    fn wrapped_from_bytes_checks_header() {
        assert!(WrappedKek::from_bytes(vec![0; 3]).is_err());
        assert!(WrappedKek::from_bytes(vec![9; WRAPPED_KEY_LEN]).is_err());
    }
}
