//! The canonical byte encoding that is hashed and signed (format version 1).
//!
//! `docs/audit.md` specifies it for third-party verifiers; this module is the
//! reference implementation, pinned by the test vectors below. Changing any
//! byte here invalidates every existing chain: add a new version instead.
//!
//! Building blocks (all integers big-endian):
//!
//! - `u64(n)`: 8 bytes; `i64(n)`: 8 bytes, two's complement.
//! - `str(s)`: `u64(byte length)` then the UTF-8 bytes.
//! - `opt(None)`: the byte `0x00`; `opt(Some(s))`: `0x01` then `str(s)`.
//!
//! Hashes:
//!
//! - content hash = SHA-256(`str("vault.audit.content.v1")`, `i64(time_ms)`,
//!   `str(request_id)`, `str(actor)`, `opt(token_id)`, `str(action)`,
//!   `str(resource)`, `str(outcome)`, `str(source)`, `opt(detail)`)
//! - record hash = SHA-256(`str("vault.audit.record.v1")`, `u64(seq)`,
//!   `prev_hash` (32 bytes), content hash (32 bytes))
//! - checkpoint message (signed with Ed25519) = `str("vault.audit.checkpoint.v1")`,
//!   `u64(seq)`, `i64(time_ms)`, record hash (32 bytes)
//! - key id = lowercase hex of the first 8 bytes of
//!   SHA-256(`str("vault.audit.key-id.v1")`, public key (32 bytes))

use sha2::{Digest, Sha256};

use super::{AuditEntry, AuditRecord, ChainHash, Outcome};
use crate::clock::Timestamp;

/// Domain tag of the content hash.
pub const CONTENT_DOMAIN: &str = "vault.audit.content.v1";
/// Domain tag of the record hash.
pub const RECORD_DOMAIN: &str = "vault.audit.record.v1";
/// Domain tag of the checkpoint signature message.
pub const CHECKPOINT_DOMAIN: &str = "vault.audit.checkpoint.v1";
/// Domain tag of the key id.
pub const KEY_ID_DOMAIN: &str = "vault.audit.key-id.v1";

/// Borrowed view of the hashed contents of a record or entry.
pub(crate) struct ContentRef<'a> {
    time: Timestamp,
    request_id: &'a str,
    actor: &'a str,
    token_id: Option<&'a str>,
    action: &'a str,
    resource: &'a str,
    outcome: Outcome,
    source: &'a str,
    detail: Option<&'a str>,
}

impl<'a> ContentRef<'a> {
    pub(crate) fn from_entry(e: &'a AuditEntry) -> Self {
        Self {
            time: e.time,
            request_id: &e.request_id,
            actor: &e.actor,
            token_id: e.token_id.as_deref(),
            action: &e.action,
            resource: &e.resource,
            outcome: e.outcome,
            source: &e.source,
            detail: e.detail.as_deref(),
        }
    }

    pub(crate) fn from_record(r: &'a AuditRecord) -> Self {
        Self {
            time: r.time,
            request_id: &r.request_id,
            actor: &r.actor,
            token_id: r.token_id.as_deref(),
            action: &r.action,
            resource: &r.resource,
            outcome: r.outcome,
            source: &r.source,
            detail: r.detail.as_deref(),
        }
    }
}

/// Writes the building blocks into a sink (a hasher or, in tests, a buffer).
struct Enc<S: Sink>(S);

trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl<S: Sink> Enc<S> {
    fn u64(&mut self, n: u64) -> &mut Self {
        self.0.put(&n.to_be_bytes());
        self
    }

    fn i64(&mut self, n: i64) -> &mut Self {
        self.0.put(&n.to_be_bytes());
        self
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.put(bytes);
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        // usize → u64 is lossless on every supported target.
        self.u64(s.len() as u64).raw(s.as_bytes())
    }

    fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            None => self.raw(&[0]),
            Some(s) => self.raw(&[1]).str(s),
        }
    }
}

fn encode_content<S: Sink>(enc: &mut Enc<S>, c: &ContentRef<'_>) {
    enc.str(CONTENT_DOMAIN)
        .i64(c.time.as_millis())
        .str(c.request_id)
        .str(c.actor)
        .opt(c.token_id)
        .str(c.action)
        .str(c.resource)
        .str(c.outcome.as_str())
        .str(c.source)
        .opt(c.detail);
}

fn finish(h: Sha256) -> ChainHash {
    ChainHash::from_bytes(h.finalize().into())
}

/// The content hash of a record's contents.
pub(crate) fn content_hash(c: &ContentRef<'_>) -> ChainHash {
    let mut enc = Enc(Sha256::new());
    encode_content(&mut enc, c);
    finish(enc.0)
}

/// The hash of the record at `seq` that follows `prev` and has contents
/// hashing to `content`.
pub fn record_hash(seq: u64, prev: &ChainHash, content: &ChainHash) -> ChainHash {
    let mut enc = Enc(Sha256::new());
    enc.str(RECORD_DOMAIN)
        .u64(seq)
        .raw(prev.as_bytes())
        .raw(content.as_bytes());
    finish(enc.0)
}

/// The exact bytes an Ed25519 checkpoint signature covers.
pub fn checkpoint_message(seq: u64, time: Timestamp, hash: &ChainHash) -> Vec<u8> {
    let mut enc = Enc(Vec::with_capacity(8 + CHECKPOINT_DOMAIN.len() + 8 + 8 + 32));
    enc.str(CHECKPOINT_DOMAIN)
        .u64(seq)
        .i64(time.as_millis())
        .raw(hash.as_bytes());
    enc.0
}

/// The key id of an Ed25519 public key: 16 lowercase hex digits.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let mut enc = Enc(Sha256::new());
    enc.str(KEY_ID_DOMAIN).raw(public_key);
    let digest = enc.0.finalize();
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ChainHead, Outcome};

    fn vector_entry() -> AuditEntry {
        AuditEntry {
            time: Timestamp::from_millis(1_795_357_680_123),
            request_id: "req-1".into(),
            actor: "user:alice".into(),
            token_id: Some("tok_1".into()),
            action: "secret.read".into(),
            resource: "demo/dev/DATABASE_URL".into(),
            outcome: Outcome::Success,
            source: "127.0.0.1".into(),
            detail: None,
        }
    }

    /// The content-hash preimage built byte by byte exactly as `docs/audit.md`
    /// describes it, independently of `Enc`.
    #[test]
    fn content_preimage_matches_the_spec() {
        fn s(out: &mut Vec<u8>, v: &str) {
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        let mut pre = Vec::new();
        s(&mut pre, "vault.audit.content.v1");
        pre.extend_from_slice(&1_795_357_680_123i64.to_be_bytes());
        s(&mut pre, "req-1");
        s(&mut pre, "user:alice");
        pre.push(1);
        s(&mut pre, "tok_1");
        s(&mut pre, "secret.read");
        s(&mut pre, "demo/dev/DATABASE_URL");
        s(&mut pre, "success");
        s(&mut pre, "127.0.0.1");
        pre.push(0);

        let e = vector_entry();
        let mut enc = Enc(Vec::new());
        encode_content(&mut enc, &ContentRef::from_entry(&e));
        assert_eq!(enc.0, pre);
        let want: [u8; 32] = Sha256::digest(&pre).into();
        assert_eq!(e.content_hash(), ChainHash::from_bytes(want));
    }

    /// Permanent vectors: if this test fails, the format changed and every
    /// existing chain would stop verifying. Bump the version instead.
    #[test]
    fn permanent_vectors() {
        let e = vector_entry();
        let mut head = ChainHead::genesis();
        let r1 = head.append(e.clone());
        let r2 = head.append(AuditEntry {
            token_id: None,
            detail: Some("".into()),
            outcome: Outcome::Denied,
            ..e
        });
        assert_eq!(r1.hash, VECTOR_R1);
        assert_eq!(r2.hash, VECTOR_R2);
        let msg = checkpoint_message(2, Timestamp::from_millis(1), &head.hash);
        assert_eq!(msg.len(), 81);
        assert_eq!(hex::encode(&msg[..41]), VECTOR_MSG_PREFIX);
        assert_eq!(key_id(&[0u8; 32]), VECTOR_KEY_ID);

        // Ed25519 is deterministic, so the signature pins the message too.
        let k = crate::audit::AuditSigningKey::from_seed_bytes(&[7u8; 32]).unwrap();
        let cp = k.sign_checkpoint(&head, Timestamp::from_millis(1_795_357_690_000));
        assert_eq!(cp.signature, VECTOR_SIGNATURE);
        assert_eq!(k.verifying_key().to_base64(), VECTOR_PUBLIC_KEY);
        assert_eq!(cp.key_id, k.verifying_key().key_id());
    }

    const VECTOR_R1: &str = "c5998efc628cd607f94a29778f1889028e66cbec2297c37a334d4e9c215629fd";
    const VECTOR_R2: &str = "16891a3a7b481737fed4042bfa6bad319f693b1d40906f2eeb4feff2c8578028";
    const VECTOR_SIGNATURE: &str =
        "M8B6t0KBw+YhcBYiEXuwU18uzDAYEkU8wr+9KPgtGf5Ui587p2xOaE8K5pqiT6szuJsksRFjBxspxabMQc72AA==";
    const VECTOR_PUBLIC_KEY: &str = "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";
    const VECTOR_MSG_PREFIX: &str =
        "00000000000000197661756c742e61756469742e636865636b706f696e742e76310000000000000002";
    const VECTOR_KEY_ID: &str = "e66aab9648e07b2f";

    /// `None` and `Some("")` hash differently, and so do field boundaries.
    #[test]
    fn encoding_is_unambiguous() {
        let e = vector_entry();
        let a = AuditEntry {
            token_id: None,
            ..e.clone()
        };
        let b = AuditEntry {
            token_id: Some(String::new()),
            ..e.clone()
        };
        assert_ne!(a.content_hash(), b.content_hash());
        let c = AuditEntry {
            request_id: "ab".into(),
            actor: "c".into(),
            ..e.clone()
        };
        let d = AuditEntry {
            request_id: "a".into(),
            actor: "bc".into(),
            ..e
        };
        assert_ne!(c.content_hash(), d.content_hash());
    }
}
