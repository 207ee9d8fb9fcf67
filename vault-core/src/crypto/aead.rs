//! AES-256-GCM with random 96-bit nonces: the only file that imports `aes-gcm`.
//!
//! Layout of a sealed box: `nonce (12) || ciphertext || tag (16)`.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Key};

type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;
type Tag = aes_gcm::aead::Tag<Aes256Gcm>;
use zeroize::Zeroizing;

use super::{CryptoError, random};
use crate::secret::SecretBytes;

/// Nonce length in bytes.
pub(crate) const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub(crate) const TAG_LEN: usize = 16;
/// Key length in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Bytes a sealed box adds to its plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A 256-bit AES-GCM key with its expanded schedule, ready to use. The raw
/// bytes are kept (zeroized on drop) so the key can be wrapped.
pub(crate) struct AeadKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    cipher: Aes256Gcm,
}

impl AeadKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(random::bytes::<KEY_LEN>()?);
        Ok(Self::from_bytes(bytes))
    }

    /// A key from its bytes.
    pub(crate) fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes));
        Self { bytes, cipher }
    }

    /// The raw key bytes (to be wrapped, never stored in the clear).
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Encrypts `plaintext` bound to `aad`, appending `nonce || ct || tag` to `out`.
    pub(crate) fn seal_into(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let nonce_bytes = random::bytes::<NONCE_LEN>()?;
        out.reserve(OVERHEAD + plaintext.len());
        out.extend_from_slice(&nonce_bytes);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&Nonce::from(nonce_bytes), aad, (&mut out[start..]).into())
            .map_err(|_| CryptoError::InvalidParameter("plaintext too long".into()))?;
        out.extend_from_slice(tag.as_slice());
        Ok(())
    }

    /// Opens a sealed box made by [`Self::seal_into`] with the same `aad`,
    /// returning the plaintext in a buffer that is wiped on drop.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
        let (nonce, ct, tag) = split_box(sealed)?;
        let mut buf = SecretBytes::new(ct.to_vec());
        self.cipher
            .decrypt_inout_detached(&nonce, aad, buf.expose_secret_mut().into(), &tag)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(buf)
    }

    /// Opens a sealed 32-byte key without touching the heap.
    pub(crate) fn open_key(
        &self,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        let (nonce, ct, tag) = split_box(sealed)?;
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        if ct.len() != KEY_LEN {
            return Err(CryptoError::Decrypt);
        }
        out.copy_from_slice(ct);
        self.cipher
            .decrypt_inout_detached(&nonce, aad, out.as_mut_slice().into(), &tag)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(out)
    }
}

fn split_box(sealed: &[u8]) -> Result<(Nonce, &[u8], Tag), CryptoError> {
    if sealed.len() < OVERHEAD {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
    let tag = Tag::try_from(tag).map_err(|_| CryptoError::Decrypt)?;
    Ok((nonce, ct, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let k = AeadKey::generate().unwrap();
        let mut sealed = Vec::new();
        k.seal_into(b"ctx", b"hello", &mut sealed).unwrap();
        assert_eq!(sealed.len(), 5 + OVERHEAD);
        assert_eq!(k.open(b"ctx", &sealed).unwrap().expose_secret(), b"hello");
        assert_eq!(k.open(b"other", &sealed).err(), Some(CryptoError::Decrypt));
        assert_eq!(
            k.open(b"ctx", &sealed[..10]).err(),
            Some(CryptoError::Decrypt)
        );
    }
}
