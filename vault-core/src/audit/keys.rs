//! The checkpoint signing key (secret), its public half, and checkpoints.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::encoding;
use super::{ChainHash, ChainHead};
use crate::clock::Timestamp;

/// The Ed25519 key the server signs checkpoints with.
///
/// A secret: zeroized on drop (by `ed25519-dalek`), no `Display`, no
/// `Serialize`, and `Debug` prints only the key id. The 32 seed bytes are
/// read only through [`AuditSigningKey::expose_secret`] (to store them
/// encrypted).
pub struct AuditSigningKey(SigningKey);

impl AuditSigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, AuditKeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).map_err(|_| AuditKeyError::Random)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key with these 32 seed bytes (as returned by
    /// [`AuditSigningKey::expose_secret`]).
    pub fn from_seed_bytes(seed: &[u8]) -> Result<Self, AuditKeyError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| AuditKeyError::Length)?;
        Ok(Self(SigningKey::from_bytes(seed)))
    }

    /// The 32 seed bytes. Keep the borrow short, store them only encrypted,
    /// never log them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The public key that verifies this key's checkpoints.
    pub fn verifying_key(&self) -> AuditVerifyingKey {
        AuditVerifyingKey(self.0.verifying_key())
    }

    /// Short fingerprint of the public key (16 hex digits).
    pub fn key_id(&self) -> String {
        self.verifying_key().key_id()
    }

    /// Signs a compliance report's content hash (see
    /// [`crate::compliance::signed_message`]); base64.
    pub fn sign_report(&self, content_sha256: &[u8; 32]) -> String {
        let sig = self
            .0
            .sign(&crate::compliance::signed_message(content_sha256));
        BASE64.encode(sig.to_bytes())
    }

    /// Signs `head` (the state after record `head.seq`) at `time`.
    ///
    /// Sign only a head the server built itself or has just verified: a
    /// signature vouches for every record up to `head.seq`.
    pub fn sign_checkpoint(&self, head: &ChainHead, time: Timestamp) -> Checkpoint {
        let msg = encoding::checkpoint_message(head.seq, time, &head.hash);
        let sig = self.0.sign(&msg);
        Checkpoint {
            seq: head.seq,
            time,
            hash: head.hash.to_hex(),
            key_id: self.key_id(),
            signature: BASE64.encode(sig.to_bytes()),
        }
    }
}

impl AuditSigningKey {
    /// The key of the head MAC, derived from this key's seed with
    /// HMAC-SHA256 (so it needs no storage of its own and never leaves the
    /// unsealed server).
    pub fn head_mac_key(&self) -> HeadMacKey {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&hmac_sha256(
            self.0.as_bytes(),
            &[b"vault/v1/audit-head-mac-key"],
        ));
        HeadMacKey(key)
    }

    /// The HMAC key of one webhook subscription (Standard Webhooks
    /// `whsec_` secret), derived from this key's seed and the
    /// subscription's id: nothing to store, and a new id is a new key.
    pub fn webhook_secret(&self, subscription_id: &str) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        let len = u32::try_from(subscription_id.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        key.copy_from_slice(&hmac_sha256(
            self.0.as_bytes(),
            &[
                b"vault/v1/webhook-secret\0",
                &len,
                subscription_id.as_bytes(),
            ],
        ));
        key
    }

    /// The key of the secret head MACs, derived from this key's seed.
    pub fn secret_head_key(&self) -> SecretHeadKey {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&hmac_sha256(
            self.0.as_bytes(),
            &[b"vault/v1/secret-head-mac-key"],
        ));
        SecretHeadKey(key)
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac as _;
    // HMAC takes keys of any length: `new_from_slice` cannot fail here, and
    // if it ever did, an all-zero tag would only fail every verification.
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The key that authenticates the chain's head with every commit
/// (HMAC-SHA256, about a microsecond, where an Ed25519 signature costs tens
/// of microseconds). Verifiable only by the unsealed server; checkpoints and
/// exports carry Ed25519 signatures for everyone else. Zeroized on drop.
pub struct HeadMacKey(Zeroizing<[u8; 32]>);

impl HeadMacKey {
    /// The tag of `head`.
    pub fn tag(&self, head: &ChainHead) -> [u8; 32] {
        hmac_sha256(
            self.0.as_slice(),
            &[
                b"vault/v1/audit-head\0",
                &head.seq.to_be_bytes(),
                head.hash.as_bytes(),
            ],
        )
    }

    /// The stored form of `head` with its tag.
    pub fn seal(&self, head: &ChainHead) -> MacHead {
        MacHead {
            seq: head.seq,
            hash: head.hash.to_hex(),
            tag: hex::encode(self.tag(head)),
        }
    }

    /// The head `m` vouches for, if its tag is right (constant-time compare).
    pub fn open(&self, m: &MacHead) -> Option<ChainHead> {
        use subtle::ConstantTimeEq as _;
        let hash = ChainHash::from_hex(&m.hash).ok()?;
        let head = ChainHead::new(m.seq, hash);
        let tag = hex::decode(&m.tag).ok()?;
        bool::from(self.tag(&head).as_slice().ct_eq(&tag)).then_some(head)
    }
}

/// The key that authenticates each secret's current version (HMAC-SHA256
/// over project, environment, name and version, each length-prefixed), so
/// that pointing a secret back at an older genuine version in the database
/// is detected on read. Derived from the audit key's seed like
/// [`HeadMacKey`], with its own label. Zeroized on drop.
pub struct SecretHeadKey(Zeroizing<[u8; 32]>);

impl SecretHeadKey {
    /// The tag of "the current version of `project/environment/name` is `version`".
    pub fn tag(&self, project: &str, environment: &str, name: &str, version: u64) -> [u8; 32] {
        let len = |s: &str| u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes();
        hmac_sha256(
            self.0.as_slice(),
            &[
                b"vault/v1/secret-head\0",
                &len(project),
                project.as_bytes(),
                &len(environment),
                environment.as_bytes(),
                &len(name),
                name.as_bytes(),
                &version.to_be_bytes(),
            ],
        )
    }

    /// Whether `stored` is the tag of that statement (constant-time compare).
    pub fn verify(
        &self,
        project: &str,
        environment: &str,
        name: &str,
        version: u64,
        stored: &[u8],
    ) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(
            self.tag(project, environment, name, version)
                .as_slice()
                .ct_eq(stored),
        )
    }
}

impl fmt::Debug for SecretHeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHeadKey([redacted])")
    }
}

impl fmt::Debug for HeadMacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeadMacKey([redacted])")
    }
}

/// A head and its MAC, as stored with each commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacHead {
    /// Seq of the last record.
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// HMAC-SHA256 tag (hex).
    pub tag: String,
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigningKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// The public key that verifies checkpoints. Written as standard padded
/// base64 of the 32-byte Ed25519 public key (what `GET /v1/audit/public-key`
/// publishes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditVerifyingKey(VerifyingKey);

impl AuditVerifyingKey {
    /// Parses standard padded base64 of 32 bytes (surrounding whitespace is
    /// ignored, so a key pasted from a file works).
    pub fn from_base64(s: &str) -> Result<Self, AuditKeyError> {
        let bytes = BASE64
            .decode(s.trim())
            .map_err(|_| AuditKeyError::Encoding)?;
        Self::from_bytes(&bytes)
    }

    /// The key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditKeyError> {
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| AuditKeyError::Length)?;
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| AuditKeyError::Invalid)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.as_bytes())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Short fingerprint (16 hex digits), as in `docs/audit.md`.
    pub fn key_id(&self) -> String {
        encoding::key_id(self.0.as_bytes())
    }

    /// Whether `signature` (base64) signs a compliance report whose
    /// content hash is `content_sha256`.
    pub fn verify_report(&self, content_sha256: &[u8; 32], signature: &str) -> bool {
        let Ok(bytes) = BASE64.decode(signature.trim()) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0
            .verify_strict(&crate::compliance::signed_message(content_sha256), &sig)
            .is_ok()
    }
}

impl fmt::Debug for AuditVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditVerifyingKey({})", self.key_id())
    }
}

impl fmt::Display for AuditVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl FromStr for AuditVerifyingKey {
    type Err = AuditKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_base64(s)
    }
}

impl Serialize for AuditVerifyingKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for AuditVerifyingKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a key could not be made or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditKeyError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// Not 32 bytes.
    #[error("an audit key is 32 bytes")]
    Length,
    /// Not standard padded base64.
    #[error("the audit public key is not valid base64")]
    Encoding,
    /// 32 bytes that are not an Ed25519 public key.
    #[error("not an Ed25519 public key")]
    Invalid,
}

/// A signed statement "the record at `seq` has hash `hash`", made at `time`.
/// It vouches for every record up to `seq`, because each record's hash
/// covers its predecessor's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    /// Seq of the record it covers (0 only for a checkpoint of the empty chain).
    pub seq: u64,
    /// When it was signed.
    pub time: Timestamp,
    /// Hash of record `seq` (hex).
    pub hash: String,
    /// Key id of the signing key (informational; not part of the signed message).
    pub key_id: String,
    /// Ed25519 signature over the checkpoint message, standard padded base64.
    pub signature: String,
}

impl Checkpoint {
    /// The head this checkpoint claims (not yet trusted: see
    /// [`ChainHead::from_checkpoint`]).
    pub fn head(&self) -> Result<ChainHead, CheckpointError> {
        let hash = ChainHash::from_hex(&self.hash).map_err(|_| CheckpointError::Malformed)?;
        Ok(ChainHead::new(self.seq, hash))
    }

    /// Checks the signature with `key` (strict Ed25519 verification).
    pub fn verify_signature(&self, key: &AuditVerifyingKey) -> Result<(), CheckpointError> {
        let head = self.head()?;
        let raw = BASE64
            .decode(&self.signature)
            .map_err(|_| CheckpointError::Malformed)?;
        let raw: [u8; 64] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CheckpointError::Malformed)?;
        let sig = Signature::from_bytes(&raw);
        let msg = encoding::checkpoint_message(head.seq, self.time, &head.hash);
        key.0
            .verify_strict(&msg, &sig)
            .map_err(|_| CheckpointError::BadSignature)
    }
}

/// Why a checkpoint is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The hash or signature field is not well formed.
    #[error("malformed checkpoint (hash or signature encoding)")]
    Malformed,
    /// The signature does not verify with the given key.
    #[error("checkpoint signature does not verify")]
    BadSignature,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_key_id() {
        let k = AuditSigningKey::from_seed_bytes(&[9u8; 32]).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains(&k.key_id()), "{dbg}");
        assert!(!dbg.contains(&hex::encode(k.expose_secret())));
        assert!(!dbg.contains("9, 9"));
        assert_eq!(k.key_id().len(), 16);
    }

    #[test]
    fn seed_round_trip_and_public_key_base64() {
        let k = AuditSigningKey::generate().unwrap();
        let k2 = AuditSigningKey::from_seed_bytes(k.expose_secret()).unwrap();
        assert_eq!(k.verifying_key(), k2.verifying_key());
        let pk = k.verifying_key();
        let b64 = pk.to_base64();
        assert_eq!(AuditVerifyingKey::from_base64(&format!(" {b64}\n")), Ok(pk));
        assert_eq!(b64.parse::<AuditVerifyingKey>(), Ok(pk));
        assert_eq!(
            serde_json::from_str::<AuditVerifyingKey>(&serde_json::to_string(&pk).unwrap())
                .unwrap(),
            pk
        );
        assert_eq!(
            AuditSigningKey::from_seed_bytes(&[1; 31]).unwrap_err(),
            AuditKeyError::Length
        );
        assert_eq!(
            AuditVerifyingKey::from_base64("not base64!").unwrap_err(),
            AuditKeyError::Encoding
        );
        assert_eq!(
            AuditVerifyingKey::from_base64(&BASE64.encode([1u8; 31])).unwrap_err(),
            AuditKeyError::Length
        );
        assert_ne!(
            AuditSigningKey::generate().unwrap().key_id(),
            k.key_id(),
            "two generated keys differ"
        );
    }

    #[test]
    fn checkpoint_sign_verify_and_tamper() {
        let k = AuditSigningKey::from_seed_bytes(&[3u8; 32]).unwrap();
        let pk = k.verifying_key();
        let head = ChainHead::new(42, ChainHash::from_bytes([5; 32]));
        let cp = k.sign_checkpoint(&head, Timestamp::from_millis(1000));
        assert_eq!(cp.verify_signature(&pk), Ok(()));
        assert_eq!(ChainHead::from_checkpoint(&cp, &pk), Ok(head));

        let other = AuditSigningKey::from_seed_bytes(&[4u8; 32])
            .unwrap()
            .verifying_key();
        assert_eq!(
            cp.verify_signature(&other),
            Err(CheckpointError::BadSignature)
        );

        let mut c = cp.clone();
        c.seq = 43;
        assert_eq!(c.verify_signature(&pk), Err(CheckpointError::BadSignature));
        let mut c = cp.clone();
        c.time = Timestamp::from_millis(1001);
        assert_eq!(c.verify_signature(&pk), Err(CheckpointError::BadSignature));
        let mut c = cp.clone();
        c.hash = ChainHash::from_bytes([6; 32]).to_hex();
        assert_eq!(c.verify_signature(&pk), Err(CheckpointError::BadSignature));
        let mut c = cp.clone();
        c.signature = "AAAA".into();
        assert_eq!(c.verify_signature(&pk), Err(CheckpointError::Malformed));
        let mut c = cp;
        c.hash = "xyz".into();
        assert_eq!(c.verify_signature(&pk), Err(CheckpointError::Malformed));
    }
}
