//! The tamper-evident audit chain (pure logic; storage lives in the server).
//!
//! Every request becomes an [`AuditEntry`]. The server appends it to the chain
//! with [`ChainHead::append`], which numbers it and links it to its
//! predecessor by hash, giving an [`AuditRecord`]. Every so often the server
//! signs the current head with its [`AuditSigningKey`], giving a
//! [`Checkpoint`]. [`verify`] then detects any edited, deleted, inserted or
//! reordered record, a removed tail that a checkpoint still remembers, and a
//! forged checkpoint, with only the [`AuditVerifyingKey`].
//!
//! Exports ([`export_jsonl`], [`export_csv`]) carry records *and* checkpoints,
//! so a file can be verified offline ([`parse_export`], then
//! [`ExportFile::verify`]). Records leaving the database under retention are
//! written as archive segments in the same format ([`verify_archive`]).
//!
//! The byte-level encoding that is hashed and signed is specified in
//! `docs/audit.md`; [`encoding`] implements it.
//!
//! Nothing here does I/O or reads the clock: time comes in as
//! [`Timestamp`] arguments; exports write to and parse from caller-given
//! writers and readers.

pub mod encoding;
pub mod export;
pub mod keys;
pub mod verification;

mod csv;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::Timestamp;

pub use self::export::{
    ChainItem, ExportFile, ExportFormat, ExportHeader, ExportParseError, ExportWriter,
    OmittedRecord, export_csv, export_jsonl, parse_csv, parse_export, parse_jsonl,
};
pub use self::keys::{
    AuditKeyError, AuditSigningKey, AuditVerifyingKey, Checkpoint, CheckpointError, HeadMacKey,
    MacHead, SecretHeadKey,
};
pub use self::verification::{
    Problem, ProblemKind, VerifyReport, verify, verify_archive, verify_items,
};

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed and done.
    Success,
    /// Refused by access control or authentication.
    Denied,
    /// Failed (bad input, not found, integrity error, internal error).
    Error,
}

impl Outcome {
    /// The wire name: `success`, `denied` or `error` (also what is hashed).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Self::Success),
            "denied" => Ok(Self::Denied),
            "error" => Ok(Self::Error),
            _ => Err(UnknownOutcome),
        }
    }
}

/// A string that is not `success`, `denied` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome (expected success, denied or error)")]
pub struct UnknownOutcome;

/// One audit record, as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// UTC time.
    pub time: Timestamp,
    /// Request id.
    pub request_id: String,
    /// Who: `root`, `user:<id>`, `token:<id>`, or `anonymous`.
    pub actor: String,
    /// Session or token id (never the credential itself).
    pub token_id: Option<String>,
    /// Action, e.g. `secret.read`.
    pub action: String,
    /// Resource, e.g. `demo/dev/DATABASE_URL`.
    pub resource: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Source address.
    pub source: String,
    /// Error code or short note (never a secret).
    pub detail: Option<String>,
    /// Hash of the previous record (hex), all zeros for the first.
    pub prev_hash: String,
    /// Hash of this record (hex).
    pub hash: String,
}

impl AuditRecord {
    /// The record's contents without its chain fields.
    pub fn entry(&self) -> AuditEntry {
        AuditEntry {
            time: self.time,
            request_id: self.request_id.clone(),
            actor: self.actor.clone(),
            token_id: self.token_id.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            outcome: self.outcome,
            source: self.source.clone(),
            detail: self.detail.clone(),
        }
    }

    /// The hash of the record's contents (every field except `seq`,
    /// `prev_hash` and `hash`), as specified in `docs/audit.md`.
    pub fn content_hash(&self) -> ChainHash {
        encoding::content_hash(&encoding::ContentRef::from_record(self))
    }

    /// The hash this record should carry, recomputed from its `seq`, its
    /// `prev_hash` field and its contents; an error if `prev_hash` is not
    /// canonical hex.
    pub fn computed_hash(&self) -> Result<ChainHash, HashParseError> {
        let prev = ChainHash::from_hex(&self.prev_hash)?;
        Ok(encoding::record_hash(self.seq, &prev, &self.content_hash()))
    }
}

/// An audit record before it is chained: everything except `seq`,
/// `prev_hash` and `hash`. The server builds one per request and hands it to
/// [`ChainHead::append`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// UTC time.
    pub time: Timestamp,
    /// Request id.
    pub request_id: String,
    /// Who: `root`, `user:<id>`, `token:<id>`, or `anonymous`.
    pub actor: String,
    /// Session or token id (never the credential itself).
    pub token_id: Option<String>,
    /// Action, e.g. `secret.read`.
    pub action: String,
    /// Resource, e.g. `demo/dev/DATABASE_URL`.
    pub resource: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Source address.
    pub source: String,
    /// Error code or short note (never a secret).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// The hash of this entry's contents, as specified in `docs/audit.md`.
    pub fn content_hash(&self) -> ChainHash {
        encoding::content_hash(&encoding::ContentRef::from_entry(self))
    }
}

/// A SHA-256 hash in the chain (record hash, content hash or the all-zero
/// genesis hash). Written as 64 lowercase hex digits everywhere.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The all-zero hash: the `prev_hash` of record 1.
    pub const ZERO: Self = Self([0; 32]);

    /// Wraps raw hash bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses exactly 64 lowercase hex digits (the only canonical form; an
    /// uppercase digit is an error so that a hash has one spelling).
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(HashParseError);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashParseError)?;
        Ok(Self(out))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl FromStr for ChainHash {
    type Err = HashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A hash field that is not 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a hash (expected 64 lowercase hex digits)")]
pub struct HashParseError;

/// The state of the chain after its last record: the next record gets
/// `seq + 1` and `prev_hash = hash`. The genesis head (empty chain) is seq 0
/// with the all-zero hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Seq of the last record (0 for the empty chain).
    pub seq: u64,
    /// Hash of the last record (all zeros for the empty chain).
    pub hash: ChainHash,
}

impl Default for ChainHead {
    fn default() -> Self {
        Self::genesis()
    }
}

impl ChainHead {
    /// The empty chain: seq 0, all-zero hash.
    pub const fn genesis() -> Self {
        Self {
            seq: 0,
            hash: ChainHash::ZERO,
        }
    }

    /// A head at `seq` with `hash`.
    pub const fn new(seq: u64, hash: ChainHash) -> Self {
        Self { seq, hash }
    }

    /// True for the empty chain (seq 0, all-zero hash).
    pub fn is_genesis(&self) -> bool {
        *self == Self::genesis()
    }

    /// The head after `record`, taken from its stored `seq` and `hash` (what
    /// the server does at start to resume the chain from its last row). This
    /// trusts the record; verify the chain first if in doubt.
    pub fn after(record: &AuditRecord) -> Result<Self, HashParseError> {
        Ok(Self {
            seq: record.seq,
            hash: ChainHash::from_hex(&record.hash)?,
        })
    }

    /// The head a checkpoint vouches for, after checking its signature with
    /// `key`: a trusted start for verifying the records after it.
    pub fn from_checkpoint(
        checkpoint: &Checkpoint,
        key: &AuditVerifyingKey,
    ) -> Result<Self, CheckpointError> {
        checkpoint.verify_signature(key)?;
        checkpoint.head()
    }

    /// Chains `entry` after this head: returns the record with
    /// `seq = self.seq + 1`, `prev_hash = self.hash` and its own hash, and
    /// moves this head to it.
    ///
    /// The server must persist the record before it relies on the new head
    /// (if the write fails, restore the old head, e.g. by re-reading the last
    /// stored record with [`ChainHead::after`]).
    pub fn append(&mut self, entry: AuditEntry) -> AuditRecord {
        // 2^64 records cannot be written; saturating keeps this panic-free.
        let seq = self.seq.saturating_add(1);
        let content = entry.content_hash();
        let hash = encoding::record_hash(seq, &self.hash, &content);
        let prev = self.hash;
        self.seq = seq;
        self.hash = hash;
        AuditRecord {
            seq,
            time: entry.time,
            request_id: entry.request_id,
            actor: entry.actor,
            token_id: entry.token_id,
            action: entry.action,
            resource: entry.resource,
            outcome: entry.outcome,
            source: entry.source,
            detail: entry.detail,
            prev_hash: prev.to_hex(),
            hash: hash.to_hex(),
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared fixtures for the audit tests.

    use proptest::prelude::*;

    use super::*;

    /// A fixed signing key for tests.
    pub fn key() -> AuditSigningKey {
        AuditSigningKey::from_seed_bytes(&[7u8; 32]).unwrap()
    }

    /// A plain entry number `i`.
    pub fn entry(i: u64) -> AuditEntry {
        AuditEntry {
            time: Timestamp::from_millis(1_795_357_680_000 + i as i64 * 1000),
            request_id: format!("req-{i}"),
            actor: "user:alice".into(),
            token_id: Some(format!("tok-{}", i % 3)),
            action: "secret.read".into(),
            resource: format!("demo/dev/KEY_{i}"),
            outcome: if i.is_multiple_of(5) {
                Outcome::Denied
            } else {
                Outcome::Success
            },
            source: "127.0.0.1".into(),
            detail: if i.is_multiple_of(4) {
                Some("note, with \"quotes\"\nand a newline".into())
            } else {
                None
            },
        }
    }

    /// A chain of `n` records from genesis.
    pub fn chain(n: u64) -> (Vec<AuditRecord>, ChainHead) {
        let mut head = ChainHead::genesis();
        let records = (1..=n).map(|i| head.append(entry(i))).collect();
        (records, head)
    }

    /// Nasty strings: separators, quotes, newlines, unicode, empties.
    pub fn nasty_string() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(",".to_string()),
            Just("\"".to_string()),
            Just("\r\n".to_string()),
            Just("a,\"b\"\nc\r".to_string()),
            Just(" lead and trail ".to_string()),
            Just("\u{feff}bom".to_string()),
            Just("=cmd|' /C calc'!A0".to_string()),
            "\\PC{0,24}",
            any::<String>(),
        ]
    }

    /// Any outcome.
    pub fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Success),
            Just(Outcome::Denied),
            Just(Outcome::Error)
        ]
    }

    /// Any entry, with nasty strings in every text field.
    pub fn any_entry() -> impl Strategy<Value = AuditEntry> {
        (
            any::<i64>(),
            nasty_string(),
            nasty_string(),
            proptest::option::of(nasty_string()),
            nasty_string(),
            nasty_string(),
            outcome(),
            nasty_string(),
            proptest::option::of(nasty_string()),
        )
            .prop_map(
                |(t, request_id, actor, token_id, action, resource, outcome, source, detail)| {
                    AuditEntry {
                        time: Timestamp::from_millis(t),
                        request_id,
                        actor,
                        token_id,
                        action,
                        resource,
                        outcome,
                        source,
                        detail,
                    }
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn append_links_records() {
        let (records, head) = chain(3);
        assert_eq!(records[0].seq, 1);
        assert_eq!(records[0].prev_hash, ChainHash::ZERO.to_hex());
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(records[2].prev_hash, records[1].hash);
        assert_eq!(head, ChainHead::after(&records[2]).unwrap());
        for r in &records {
            assert_eq!(r.computed_hash().unwrap().to_hex(), r.hash);
            assert_eq!(r.entry().content_hash(), r.content_hash());
        }
    }

    #[test]
    fn hash_hex_is_strict() {
        let h = ChainHash::from_bytes([0xab; 32]);
        assert_eq!(ChainHash::from_hex(&h.to_hex()), Ok(h));
        assert!(ChainHash::from_hex(&h.to_hex().to_uppercase()).is_err());
        assert!(ChainHash::from_hex("ab").is_err());
        assert!(ChainHash::from_hex(&"g".repeat(64)).is_err());
        assert_eq!(
            serde_json::to_string(&ChainHead::genesis()).unwrap(),
            format!("{{\"seq\":0,\"hash\":\"{}\"}}", "0".repeat(64))
        );
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in [Outcome::Success, Outcome::Denied, Outcome::Error] {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        assert!("Success".parse::<Outcome>().is_err());
    }
}
