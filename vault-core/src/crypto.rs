//! The key hierarchy and envelope encryption.
//!
//! ```text
//! UnsealKey (Shamir shares | Argon2id passphrase | key file)
//!   └─ wraps RootKey (versioned; plaintext only in an unsealed server's memory)
//!        └─ wraps Kek (per project, versioned: active / decrypt-only / retired)
//!             └─ wraps DataKey (one fresh key per secret version, never reused)
//!                  └─ encrypts the value (AES-256-GCM)
//! ```
//!
//! The types make misuse hard: a value can only be encrypted through
//! [`Kek::seal`], which makes the data key itself; a data key can only be
//! wrapped by a [`Kek`]; a KEK only by a [`RootKey`]. No function takes a
//! nonce: every nonce is 96 random bits drawn inside `aead`. Every
//! encryption's associated data binds the ciphertext to its identity
//! ([`SecretContext`] plus key versions), so a ciphertext moved to another row
//! or replayed as another version fails to open with one opaque error.
//!
//! `aes-gcm` is imported in `aead` only; `argon2` in [`password`] and
//! [`unseal`] only; `vsss-rs` in [`unseal`] only.

mod aead;
mod encoding;
pub mod envelope;
pub mod keyring;
pub mod keys;
pub mod password;
pub mod random;
pub mod rotation;
pub mod token;
pub mod unseal;
#[cfg(test)]
mod vectors;

pub use envelope::{Envelope, SecretContext, open, rewrap};
pub use keyring::KeyRing;
pub use keys::{Kek, RootKey, UnsealKey, WrappedKek, WrappedRootKey};
pub use password::{PasswordParams, hash_password, needs_rehash, verify_password};
pub use rotation::{
    KekLifecycleError, RotationPolicy, RotationReason, check_destroy, check_retire,
};
pub use token::{Token, TokenId, TokenSecret, parse_token, token_hash, verify_token_hash};
pub use unseal::{
    PassphraseParams, ShareInfo, derive_unseal_key, encode_key_file, inspect_share, parse_key_file,
    shamir_combine, shamir_split,
};

/// Errors of the crypto layer. Decryption failures are deliberately
/// uninformative: a wrong key, a wrong context and a flipped bit look the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: wrong key, wrong context, or tampered bytes.
    #[error("decryption failed: the data is corrupt, was moved, or the key is wrong")]
    Decrypt,
    /// The bytes are not a stored object this release understands.
    #[error("malformed {what}: {why}")]
    Format {
        /// What was being parsed.
        what: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// A key of the wrong version or project was offered.
    #[error("wrong key: {0}")]
    WrongKey(&'static str),
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Shamir shares could not be combined.
    #[error("shares could not be combined: {0}")]
    Shares(&'static str),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{EnvName, ProjectName, SecretName};
    use crate::secret::{SecretBytes, SecretText};

    /// Every secret-holding type, formatted with `{:?}`, shows no key byte
    /// (raw, hex or base64) and no plaintext.
    #[test]
    fn debug_output_never_contains_key_material() {
        let p = ProjectName::parse("demo").unwrap();
        let unseal = UnsealKey::generate().unwrap();
        let root = RootKey::generate(1).unwrap();
        let kek = Kek::generate(&p, 1).unwrap();
        let mut ring = KeyRing::new(p.clone());
        ring.insert(Kek::generate(&p, 2).unwrap()).unwrap();
        let (_, token_text, _) = Token::generate().unwrap();
        let (_, token_secret) = parse_token(token_text.expose_secret()).unwrap();
        let shares = shamir_split(&unseal, 3, 2).unwrap();
        let key_file = encode_key_file(&unseal);
        let value = SecretText::from("canary-value-9f2c");
        let wrapped_root = unseal.wrap_root(&root).unwrap();

        let outputs = [
            format!("{unseal:?}"),
            format!("{root:?}"),
            format!("{kek:?}"),
            format!("{ring:?}"),
            format!("{token_text:?}"),
            format!("{token_secret:?}"),
            format!("{shares:?}"),
            format!("{key_file:?}"),
            format!("{value:?}"),
            format!("{:?}", SecretBytes::new(b"canary-value-9f2c".to_vec())),
            format!("{wrapped_root:?}"),
        ];
        let unseal_key = unseal.expose_secret();
        let forbidden = [
            hex::encode(unseal_key),
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                unseal_key,
            ),
            token_secret.expose_secret().to_owned(),
            "canary-value".to_owned(),
        ];
        for out in &outputs {
            for f in &forbidden {
                assert!(!out.contains(f.as_str()), "{out} leaks");
            }
            // No run of 8+ hex digits longer than a fingerprint.
            let longest_hex = out
                .split(|c: char| !c.is_ascii_hexdigit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            assert!(longest_hex <= 8, "{out} prints something key-like");
        }
        // The context itself is public and prints readably.
        let ctx = SecretContext {
            project: p,
            environment: EnvName::parse("dev").unwrap(),
            name: SecretName::parse("X").unwrap(),
            version: 1,
        };
        assert!(format!("{ctx:?}").contains("dev"));
    }
}
