//! Verifying a chain of records against its checkpoints.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::export::{ChainItem, ExportFile, OmittedRecord};
use super::keys::{AuditVerifyingKey, Checkpoint, CheckpointError};
use super::{AuditRecord, ChainHash, ChainHead, encoding};

/// At most this many problems are listed; the rest are only counted.
const MAX_PROBLEMS: usize = 100;

/// Verifies `records` (in the order given, which must be chain order) as the
/// continuation of the trusted `start` (genesis for a whole chain; the final
/// head of the previous archive segment, or a head from
/// [`ChainHead::from_checkpoint`], for a suffix), and `checkpoints` against
/// them.
///
/// With `key`, each checkpoint's signature is checked; a checkpoint that
/// verifies pins every record up to its seq. Without a key, checkpoints are
/// only compared with the records (nothing is authenticated, and
/// [`VerifyReport::signatures_checked`] is false).
///
/// Checkpoints before `start.seq` are ignored (they cover archived records).
pub fn verify(
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    key: Option<&AuditVerifyingKey>,
    start: &ChainHead,
) -> VerifyReport {
    let items: Vec<ItemRef<'_>> = records.iter().map(ItemRef::Record).collect();
    verify_refs(&items, checkpoints, key, start)
}

/// Like [`verify`], for a chain in which some records are present only as
/// their content hash (a filtered export: see [`OmittedRecord`]).
pub fn verify_items(
    items: &[ChainItem],
    checkpoints: &[Checkpoint],
    key: Option<&AuditVerifyingKey>,
    start: &ChainHead,
) -> VerifyReport {
    let items: Vec<ItemRef<'_>> = items
        .iter()
        .map(|i| match i {
            ChainItem::Record(r) => ItemRef::Record(r),
            ChainItem::Omitted(o) => ItemRef::Omitted(o),
        })
        .collect();
    verify_refs(&items, checkpoints, key, start)
}

/// Verifies archive segments in order, each continuing the previous one,
/// the first continuing the trusted `start` (usually genesis). The report's
/// [`VerifyReport::end`] is then the trusted start for the records still in
/// the database:
///
/// ```text
/// let archived = verify_archive(&segments, Some(&key), &ChainHead::genesis());
/// let live = verify(&db_records, &db_checkpoints, Some(&key), &archived.end);
/// ```
pub fn verify_archive(
    segments: &[ExportFile],
    key: Option<&AuditVerifyingKey>,
    start: &ChainHead,
) -> VerifyReport {
    let mut total = VerifyReport::new(*start, key.is_some());
    total.start_anchored = true;
    let mut problems = Problems::default();
    for (i, seg) in segments.iter().enumerate() {
        let head = total.end;
        if seg.header.start != head {
            problems.push(Problem {
                seq: seg.header.start.seq.min(head.seq).saturating_add(1),
                kind: ProblemKind::SegmentGap {
                    segment: i as u64,
                    starts_after: seg.header.start.seq,
                    expected_after: head.seq,
                },
            });
        }
        let r = seg.verify(key, Some(&head));
        total.records += r.records;
        total.checkpoints += r.checkpoints;
        total.covered_seq = total.covered_seq.max(r.covered_seq);
        total.end = r.end;
        problems.extend(r.problems, r.problems_omitted);
    }
    problems.finish_into(&mut total);
    total
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The trusted start the chain was verified from.
    pub start: ChainHead,
    /// The head after the last record (its seq and stored hash). When the
    /// report is ok, the trusted start for whatever follows.
    pub end: ChainHead,
    /// Records (including omitted ones) checked.
    pub records: u64,
    /// Checkpoints that matched the chain (and, with a key, verified).
    pub checkpoints: u64,
    /// True when a public key was given and signatures were checked.
    pub signatures_checked: bool,
    /// True when the start is genesis or a checkpoint with a valid signature
    /// vouches for it.
    pub start_anchored: bool,
    /// Every record up to this seq is pinned by the trusted start or a
    /// verified signed checkpoint; records after it are protected by the hash
    /// chain alone (removing them from the end would go unnoticed).
    pub covered_seq: u64,
    /// What is wrong, ordered by seq; empty when the chain verifies.
    pub problems: Vec<Problem>,
    /// Further problems not listed (the list is capped).
    pub problems_omitted: u64,
}

impl VerifyReport {
    fn new(start: ChainHead, signatures_checked: bool) -> Self {
        Self {
            start,
            end: start,
            records: 0,
            checkpoints: 0,
            signatures_checked,
            start_anchored: start.is_genesis(),
            covered_seq: start.seq,
            problems: Vec::new(),
            problems_omitted: 0,
        }
    }

    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problem with the lowest seq.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// The records (first and last seq) after the last verified signed
    /// checkpoint, which only the hash chain protects.
    pub fn unprotected_tail(&self) -> Option<(u64, u64)> {
        (self.end.seq > self.covered_seq).then(|| (self.covered_seq + 1, self.end.seq))
    }

    /// One line for humans: what was checked and the first problem.
    pub fn summary(&self) -> String {
        let what = format!(
            "{} records (seq {}..={}), {} checkpoints{}",
            self.records,
            self.start.seq.saturating_add(1),
            self.end.seq,
            self.checkpoints,
            if self.signatures_checked {
                ""
            } else {
                " (signatures not checked: no public key)"
            }
        );
        match self.first_problem() {
            None => format!("ok: {what}"),
            Some(p) => {
                let more = self.problems.len() as u64 - 1 + self.problems_omitted;
                if more == 0 {
                    format!("FAILED at seq {}: {p}; checked {what}", p.seq)
                } else {
                    format!(
                        "FAILED at seq {}: {p} (and {more} more); checked {what}",
                        p.seq
                    )
                }
            }
        }
    }
}

impl From<&VerifyReport> for crate::api::AuditVerifyReport {
    fn from(r: &VerifyReport) -> Self {
        Self {
            ok: r.is_ok(),
            records: r.records,
            checkpoints: r.checkpoints,
            problem: r.first_problem().map(|p| format!("seq {}: {p}", p.seq)),
        }
    }
}

/// One thing wrong with the chain, at a seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where: the first seq affected.
    pub seq: u64,
    /// What (flattened: `{"seq": 4, "kind": "edited"}`).
    #[serde(flatten)]
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.kind {
            ProblemKind::Edited => write!(
                f,
                "record {seq} was edited: its contents do not match its hash"
            ),
            ProblemKind::BrokenLink => write!(
                f,
                "record {seq} does not link to the record before it (prev_hash mismatch): \
                 a record was deleted, inserted or edited just before it"
            ),
            ProblemKind::Missing { to } if *to == seq => {
                write!(f, "record {seq} is missing (deleted)")
            }
            ProblemKind::Missing { to } => {
                write!(f, "records {seq} to {to} are missing (deleted)")
            }
            ProblemKind::OutOfOrder { found } => write!(
                f,
                "records are out of order: record {found} is where record {seq} belongs \
                 (reordered, or an inserted record)"
            ),
            ProblemKind::Duplicate => write!(
                f,
                "record {seq} appears more than once (an inserted or replayed record)"
            ),
            ProblemKind::Malformed { field } => {
                write!(f, "record {seq} has a malformed {field}")
            }
            ProblemKind::CheckpointBadSignature {
                key_id,
                expected_key_id,
            } => {
                write!(
                    f,
                    "the checkpoint at seq {seq} has an invalid signature (forged or altered)"
                )?;
                if key_id != expected_key_id {
                    write!(
                        f,
                        "; it names key {key_id} but the public key given is {expected_key_id}"
                    )?;
                }
                Ok(())
            }
            ProblemKind::CheckpointMalformed => write!(
                f,
                "the checkpoint at seq {seq} is malformed (hash or signature encoding)"
            ),
            ProblemKind::CheckpointMismatch => write!(
                f,
                "the checkpoint at seq {seq} does not match record {seq}: \
                 that record or an earlier one was changed"
            ),
            ProblemKind::CheckpointWithoutRecord => write!(
                f,
                "the checkpoint at seq {seq} has no record {seq} to match"
            ),
            ProblemKind::Truncated { checkpoint } => write!(
                f,
                "records from seq {seq} on were removed: the records end at seq {}, \
                 but a checkpoint covers seq {checkpoint}",
                seq.saturating_sub(1)
            ),
            ProblemKind::StartNotAnchored => write!(
                f,
                "the records start at seq {seq}, but no valid signed checkpoint vouches \
                 for the chain before it (records before it could have been removed); \
                 verify together with the previous archive segment"
            ),
            ProblemKind::WrongKey {
                file_key_id,
                given_key_id,
            } => write!(
                f,
                "wrong key: the file was signed by key {file_key_id}, but the public key given \
                 is {given_key_id}; nothing can be said about tampering with this key"
            ),
            ProblemKind::Unsigned { to } => write!(
                f,
                "records {seq} to {to} are not covered by any signed checkpoint: unverified \
                 (the file may have been cut short or rewritten after its last signature)"
            ),
            ProblemKind::SegmentGap {
                segment,
                starts_after,
                expected_after,
            } => write!(
                f,
                "archive segment {segment} starts after seq {starts_after}, \
                 but the chain before it ends at seq {expected_after}"
            ),
        }
    }
}

/// The kinds of [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The record's contents do not hash to its stored hash.
    Edited,
    /// The record's `prev_hash` is not the previous record's hash.
    BrokenLink,
    /// Records from the problem's seq to `to` are absent.
    Missing {
        /// Last missing seq.
        to: u64,
    },
    /// Record `found` stands where the problem's seq belongs.
    OutOfOrder {
        /// The seq found instead.
        found: u64,
    },
    /// The seq occurs twice.
    Duplicate,
    /// A hash field is not 64 lowercase hex digits.
    Malformed {
        /// Which field.
        field: String,
    },
    /// A checkpoint's signature does not verify with the given key.
    CheckpointBadSignature {
        /// The key id the checkpoint names.
        key_id: String,
        /// The key id of the key given.
        expected_key_id: String,
    },
    /// A checkpoint's hash or signature is not well formed.
    CheckpointMalformed,
    /// A checkpoint's hash differs from the record at its seq.
    CheckpointMismatch,
    /// A checkpoint's seq is within the chain but no record has it.
    CheckpointWithoutRecord,
    /// The file names a signing key other than the public key given: the
    /// wrong key was supplied (or the file comes from another server); no
    /// statement about tampering can be made.
    WrongKey {
        /// The key id the file's header names.
        file_key_id: String,
        /// The key id of the key given.
        given_key_id: String,
    },
    /// No verified signed checkpoint covers records from the problem's seq
    /// to `to`: an export or archive cut short, or rewritten after its last
    /// signature (every export ends with a signed head). Unverified, not ok.
    Unsigned {
        /// Last uncovered seq.
        to: u64,
    },
    /// A checkpoint lies beyond the last record: the tail was removed. The
    /// problem's seq is the first removed one.
    Truncated {
        /// The checkpoint's seq.
        checkpoint: u64,
    },
    /// The records do not start at genesis and nothing signed vouches for
    /// their start.
    StartNotAnchored,
    /// An archive segment does not continue the one before it.
    SegmentGap {
        /// Segment index (from 0).
        segment: u64,
        /// The seq the segment's header says it continues.
        starts_after: u64,
        /// The seq the previous segment ended at.
        expected_after: u64,
    },
}

/// A record or an omitted record, borrowed.
#[derive(Clone, Copy)]
enum ItemRef<'a> {
    Record(&'a AuditRecord),
    Omitted(&'a OmittedRecord),
}

impl ItemRef<'_> {
    fn seq(&self) -> u64 {
        match self {
            Self::Record(r) => r.seq,
            Self::Omitted(o) => o.seq,
        }
    }
}

/// A capped, later sorted list of problems.
#[derive(Default)]
struct Problems {
    list: Vec<Problem>,
    omitted: u64,
}

impl Problems {
    fn push(&mut self, p: Problem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.omitted += 1;
        }
    }

    fn at(&mut self, seq: u64, kind: ProblemKind) {
        self.push(Problem { seq, kind });
    }

    fn extend(&mut self, list: Vec<Problem>, omitted: u64) {
        for p in list {
            self.push(p);
        }
        self.omitted += omitted;
    }

    fn finish_into(mut self, report: &mut VerifyReport) {
        // Stable: at one seq, chain problems (found first) stay first.
        self.list.sort_by_key(|p| p.seq);
        report.problems = self.list;
        report.problems_omitted = self.omitted;
    }
}

fn verify_refs(
    items: &[ItemRef<'_>],
    checkpoints: &[Checkpoint],
    key: Option<&AuditVerifyingKey>,
    start: &ChainHead,
) -> VerifyReport {
    let mut report = VerifyReport::new(*start, key.is_some());
    let mut problems = Problems::default();

    // Where each seq last occurs, to tell "reordered" from "deleted".
    let mut last_index: HashMap<u64, usize> = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        last_index.insert(item.seq(), i);
    }
    // The hash each seq's (first) record really has, for the checkpoints.
    let mut computed: HashMap<u64, ChainHash> = HashMap::with_capacity(items.len());
    let mut head = *start;
    let mut max_seq = start.seq;

    for (i, item) in items.iter().enumerate() {
        let seq = item.seq();
        max_seq = max_seq.max(seq);
        let expected = head.seq.saturating_add(1);
        let mut found_problem = false;
        if seq != expected {
            found_problem = true;
            if seq > expected {
                if last_index.get(&expected).is_some_and(|&j| j > i) {
                    problems.at(expected, ProblemKind::OutOfOrder { found: seq });
                } else {
                    problems.at(expected, ProblemKind::Missing { to: seq - 1 });
                }
            } else if computed.contains_key(&seq) || seq <= start.seq {
                problems.at(seq, ProblemKind::Duplicate);
            } else {
                problems.at(expected, ProblemKind::OutOfOrder { found: seq });
            }
        }

        let (this_hash, next_hash) = match item {
            ItemRef::Record(r) => {
                let content = r.content_hash();
                let prev = ChainHash::from_hex(&r.prev_hash);
                let stored = ChainHash::from_hex(&r.hash);
                match (prev, stored) {
                    (Err(_), _) => {
                        if !found_problem {
                            problems.at(seq, malformed("prev_hash"));
                        }
                        // Resynchronize on the stored hash if it is readable.
                        let h = stored.unwrap_or(ChainHash::ZERO);
                        (None, h)
                    }
                    (Ok(prev), stored) => {
                        let this = encoding::record_hash(seq, &prev, &content);
                        if !found_problem {
                            if stored.is_err() {
                                problems.at(seq, malformed("hash"));
                            } else if prev != head.hash {
                                problems.at(seq, ProblemKind::BrokenLink);
                            } else if stored != Ok(this) {
                                problems.at(seq, ProblemKind::Edited);
                            }
                        }
                        // Continue from the stored hash so that one edited
                        // record is reported once, not again at its successor.
                        (Some(this), stored.unwrap_or(this))
                    }
                }
            }
            ItemRef::Omitted(o) => match ChainHash::from_hex(&o.content_hash) {
                Ok(content) => {
                    let this = encoding::record_hash(seq, &head.hash, &content);
                    (Some(this), this)
                }
                Err(_) => {
                    if !found_problem {
                        problems.at(seq, malformed("content_hash"));
                    }
                    (None, ChainHash::ZERO)
                }
            },
        };
        if let Some(h) = this_hash {
            computed.entry(seq).or_insert(h);
        }
        head = ChainHead::new(seq, next_hash);
    }
    report.records = items.len() as u64;
    report.end = head;

    let expected_key_id = key.map(AuditVerifyingKey::key_id);
    for cp in checkpoints {
        let mut signed = false;
        if let (Some(key), Some(expected_key_id)) = (key, &expected_key_id) {
            match cp.verify_signature(key) {
                Ok(()) => signed = true,
                Err(CheckpointError::BadSignature) => {
                    problems.at(
                        cp.seq,
                        ProblemKind::CheckpointBadSignature {
                            key_id: cp.key_id.clone(),
                            expected_key_id: expected_key_id.clone(),
                        },
                    );
                    continue;
                }
                Err(_) => {
                    problems.at(cp.seq, ProblemKind::CheckpointMalformed);
                    continue;
                }
            }
        }
        let Ok(claimed) = cp.head() else {
            problems.at(cp.seq, ProblemKind::CheckpointMalformed);
            continue;
        };
        if cp.seq < start.seq {
            continue; // covers archived records
        }
        let actual = if cp.seq == start.seq {
            Some(start.hash)
        } else if cp.seq > max_seq {
            problems.at(
                max_seq.saturating_add(1),
                ProblemKind::Truncated { checkpoint: cp.seq },
            );
            continue;
        } else {
            computed.get(&cp.seq).copied()
        };
        match actual {
            None => problems.at(cp.seq, ProblemKind::CheckpointWithoutRecord),
            Some(h) if h != claimed.hash => problems.at(cp.seq, ProblemKind::CheckpointMismatch),
            Some(_) => {
                report.checkpoints += 1;
                if signed {
                    report.covered_seq = report.covered_seq.max(cp.seq);
                    if cp.seq == start.seq {
                        report.start_anchored = true;
                    }
                }
            }
        }
    }
    problems.finish_into(&mut report);
    report
}

fn malformed(field: &str) -> ProblemKind {
    ProblemKind::Malformed {
        field: field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::audit::testutil::*;
    use crate::audit::{AuditSigningKey, Outcome};
    use crate::clock::Timestamp;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    /// A chain of `n` records with a signed checkpoint every `every` records
    /// and at the end.
    fn signed_chain(n: u64, every: u64) -> (Vec<AuditRecord>, Vec<Checkpoint>, AuditSigningKey) {
        let k = key();
        let mut head = ChainHead::genesis();
        let mut records = Vec::new();
        let mut cps = Vec::new();
        for i in 1..=n {
            records.push(head.append(entry(i)));
            if i.is_multiple_of(every) || i == n {
                cps.push(k.sign_checkpoint(&head, t(i as i64)));
            }
        }
        (records, cps, k)
    }

    fn check(records: &[AuditRecord], cps: &[Checkpoint], k: &AuditSigningKey) -> VerifyReport {
        verify(
            records,
            cps,
            Some(&k.verifying_key()),
            &ChainHead::genesis(),
        )
    }

    /// Recomputes every hash from `from` on, as a forger without the key would.
    fn rehash_from(records: &mut [AuditRecord], from: usize) {
        let mut head = if from == 0 {
            ChainHead::genesis()
        } else {
            ChainHead::after(&records[from - 1]).unwrap()
        };
        for r in &mut records[from..] {
            head.seq = r.seq - 1;
            *r = head.append(r.entry());
        }
    }

    #[test]
    fn round_trip_verifies() {
        let (records, cps, k) = signed_chain(25, 10);
        let r = check(&records, &cps, &k);
        assert!(r.is_ok(), "{}", r.summary());
        assert_eq!(r.records, 25);
        assert_eq!(r.checkpoints, 3);
        assert_eq!(r.covered_seq, 25);
        assert_eq!(r.unprotected_tail(), None);
        assert!(r.start_anchored && r.signatures_checked);
        assert_eq!(r.end, ChainHead::after(&records[24]).unwrap());
        assert!(r.summary().starts_with("ok: 25 records"));
        let api = crate::api::AuditVerifyReport::from(&r);
        assert!(api.ok && api.problem.is_none());
    }

    #[test]
    fn empty_chain_verifies() {
        let r = verify(&[], &[], None, &ChainHead::genesis());
        assert!(r.is_ok());
        assert_eq!(r.unprotected_tail(), None);
    }

    #[test]
    fn unprotected_tail_is_reported() {
        let (records, cps, k) = signed_chain(25, 10);
        let r = check(&records, &cps[..2], &k);
        assert!(r.is_ok());
        assert_eq!(r.unprotected_tail(), Some((21, 25)));
        let r = verify(&records, &cps, None, &ChainHead::genesis());
        assert!(r.is_ok() && !r.signatures_checked);
        assert_eq!(r.unprotected_tail(), Some((1, 25)));
    }

    #[test]
    fn edited_record_is_named() {
        let (mut records, cps, k) = signed_chain(10, 5);
        records[3].resource = "demo/prod/OTHER".into();
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (4, &ProblemKind::Edited));
        assert!(p.to_string().contains("record 4 was edited"), "{p}");
        let api = crate::api::AuditVerifyReport::from(&r);
        assert!(!api.ok);
        assert!(
            api.problem
                .unwrap()
                .starts_with("seq 4: record 4 was edited")
        );
    }

    #[test]
    fn edited_and_rehashed_is_caught_by_checkpoint() {
        let (mut records, cps, k) = signed_chain(10, 5);
        records[3].outcome = Outcome::Success;
        records[3].actor = "user:mallory".into();
        rehash_from(&mut records, 3);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (5, &ProblemKind::CheckpointMismatch));
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    }

    #[test]
    fn deleted_record_is_missing() {
        let (mut records, cps, k) = signed_chain(10, 5);
        records.remove(6);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (7, &ProblemKind::Missing { to: 7 }));
        assert_eq!(p.to_string(), "record 7 is missing (deleted)");
    }

    #[test]
    fn deleted_and_renumbered_is_caught() {
        let (mut records, cps, k) = signed_chain(10, 5);
        records.remove(2);
        for r in &mut records[2..] {
            r.seq -= 1;
        }
        rehash_from(&mut records, 2);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (5, &ProblemKind::CheckpointMismatch));
        // And the end checkpoint at 10 says records were removed.
        assert!(
            r.problems
                .iter()
                .any(|p| p.seq == 10 && p.kind == ProblemKind::Truncated { checkpoint: 10 })
        );
    }

    #[test]
    fn inserted_record_is_caught() {
        let (mut records, cps, k) = signed_chain(10, 5);
        // A forged record with a free seq... there is none: it must collide.
        let mut head = ChainHead::after(&records[3]).unwrap();
        let forged = head.append(entry(99));
        records.insert(4, forged.clone());
        let r = check(&records, &cps, &k);
        assert_eq!(r.first_problem().unwrap().seq, 5, "{:?}", r.problems);
        assert_eq!(r.first_problem().unwrap().kind, ProblemKind::Duplicate);

        // Inserted and everything after renumbered and rehashed.
        let (mut records, cps, k) = signed_chain(10, 5);
        records.insert(4, forged);
        for r in &mut records[5..] {
            r.seq += 1;
        }
        rehash_from(&mut records, 5);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (5, &ProblemKind::CheckpointMismatch));
    }

    #[test]
    fn reordered_records_are_caught() {
        let (mut records, cps, k) = signed_chain(10, 5);
        records.swap(2, 6);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!((p.seq, &p.kind), (3, &ProblemKind::OutOfOrder { found: 7 }));
        assert!(p.to_string().contains("out of order"), "{p}");
    }

    #[test]
    fn truncated_tail_is_caught() {
        let (records, cps, k) = signed_chain(10, 5);
        let r = check(&records[..8], &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!(
            (p.seq, &p.kind),
            (9, &ProblemKind::Truncated { checkpoint: 10 })
        );
        assert!(p.to_string().contains("end at seq 8"), "{p}");
    }

    #[test]
    fn forged_checkpoints_are_caught() {
        let (mut records, mut cps, k) = signed_chain(10, 5);
        let mallory = AuditSigningKey::from_seed_bytes(&[66; 32]).unwrap();
        records[7].detail = Some("nothing to see".into());
        rehash_from(&mut records, 7);
        cps[1] = mallory.sign_checkpoint(&ChainHead::after(&records[9]).unwrap(), t(10));
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!(p.seq, 10);
        assert!(matches!(p.kind, ProblemKind::CheckpointBadSignature { .. }));
        assert!(p.to_string().contains("names key"), "{p}");

        // Same key id copied in: still a bad signature.
        let (records, mut cps, k) = signed_chain(10, 5);
        cps[0].time = t(12345);
        let r = check(&records, &cps, &k);
        let p = r.first_problem().unwrap();
        assert_eq!(p.seq, 5);
        assert!(matches!(p.kind, ProblemKind::CheckpointBadSignature { .. }));
        assert!(!p.to_string().contains("names key"), "{p}");

        cps[0].signature = "garbage".into();
        let r = check(&records, &cps, &k);
        assert_eq!(r.problems[0].kind, ProblemKind::CheckpointMalformed);
    }

    #[test]
    fn checkpoint_not_matching_its_record() {
        let (records, _, k) = signed_chain(10, 5);
        let wrong = k.sign_checkpoint(&ChainHead::after(&records[3]).unwrap(), t(1));
        let mut c = wrong.clone();
        c.seq = 6; // signature now fails too
        let r = check(&records, &[c], &k);
        assert!(matches!(
            r.problems[0].kind,
            ProblemKind::CheckpointBadSignature { .. }
        ));
        // Validly signed but about a different history.
        let mut other = records.clone();
        other[5].action = "secret.write".into();
        rehash_from(&mut other, 5);
        let cp = k.sign_checkpoint(&ChainHead::after(&other[5]).unwrap(), t(1));
        let r = check(&records, &[cp], &k);
        assert_eq!(r.problems[0].seq, 6);
        assert_eq!(r.problems[0].kind, ProblemKind::CheckpointMismatch);
    }

    #[test]
    fn suffix_from_a_checkpoint() {
        let (records, cps, k) = signed_chain(20, 5);
        let pk = k.verifying_key();
        // Records 1..=10 were archived; the checkpoint at 10 anchors the rest.
        let start = ChainHead::from_checkpoint(&cps[1], &pk).unwrap();
        let r = verify(&records[10..], &cps, Some(&pk), &start);
        assert!(r.is_ok(), "{}", r.summary());
        assert!(r.start_anchored);
        assert_eq!(r.records, 10);
        assert_eq!(r.checkpoints, 3); // at 10 (the start), 15, 20
        // Deleting the first record after the start is caught.
        let r = verify(&records[11..], &cps, Some(&pk), &start);
        assert_eq!(r.first_problem().unwrap().seq, 11);
        assert_eq!(
            r.first_problem().unwrap().kind,
            ProblemKind::Missing { to: 11 }
        );
        // A wrong start is caught at the first record.
        let wrong = ChainHead::after(&records[8]).unwrap();
        let r = verify(&records[10..], &[], Some(&pk), &wrong);
        assert_eq!(r.first_problem().unwrap().seq, 10);
        // An unsigned start is not anchored.
        let r = verify(&records[10..], &[], Some(&pk), &start);
        assert!(r.is_ok() && !r.start_anchored);
    }

    #[test]
    fn malformed_hash_fields() {
        let (mut records, cps, k) = signed_chain(5, 5);
        records[1].prev_hash = records[1].prev_hash.to_uppercase();
        records[3].hash = "00".into();
        let r = check(&records, &cps, &k);
        assert_eq!(r.problems[0].seq, 2);
        assert_eq!(r.problems[0].kind, malformed("prev_hash"));
        assert!(
            r.problems
                .iter()
                .any(|p| p.seq == 4 && p.kind == malformed("hash"))
        );
    }

    #[test]
    fn problem_list_is_capped() {
        let (mut records, _, k) = signed_chain(300, 1000);
        for r in &mut records {
            r.source = "10.0.0.1".into();
        }
        let r = check(&records, &[], &k);
        assert_eq!(r.problems.len(), MAX_PROBLEMS);
        assert_eq!(r.problems_omitted, 200);
        assert!(r.summary().contains("and 299 more"), "{}", r.summary());
    }

    /// Which field of a record a tamper test edits.
    fn edit_field(r: &mut AuditRecord, field: usize, s: &str) {
        fn change(v: &mut String, s: &str) {
            *v = if v == s {
                format!("{s}x")
            } else {
                s.to_owned()
            };
        }
        fn change_opt(v: &mut Option<String>, s: &str) {
            *v = match v.take() {
                None => Some(s.to_owned()),
                Some(old) if old == s => None,
                Some(_) => Some(s.to_owned()),
            };
        }
        match field {
            0 => r.seq = r.seq.wrapping_add(1 + s.len() as u64),
            1 => r.time = Timestamp::from_millis(r.time.as_millis() ^ 1),
            2 => change(&mut r.request_id, s),
            3 => change(&mut r.actor, s),
            4 => change_opt(&mut r.token_id, s),
            5 => change(&mut r.action, s),
            6 => change(&mut r.resource, s),
            7 => {
                r.outcome = match r.outcome {
                    Outcome::Success => Outcome::Denied,
                    Outcome::Denied => Outcome::Error,
                    Outcome::Error => Outcome::Success,
                }
            }
            8 => change(&mut r.source, s),
            9 => change_opt(&mut r.detail, s),
            10 => change(&mut r.prev_hash, s),
            _ => change(&mut r.hash, s),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn any_chain_round_trips(entries in proptest::collection::vec(any_entry(), 0..12)) {
            let k = key();
            let mut head = ChainHead::genesis();
            let records: Vec<_> = entries.into_iter().map(|e| head.append(e)).collect();
            let cp = k.sign_checkpoint(&head, t(0));
            let r = verify(&records, &[cp], Some(&k.verifying_key()), &ChainHead::genesis());
            prop_assert!(r.is_ok(), "{}", r.summary());
            prop_assert_eq!(r.covered_seq, records.len() as u64);
        }

        /// Editing any field of any record is detected, even without any
        /// checkpoint (the stored hash no longer matches).
        #[test]
        fn any_edit_is_detected(n in 1u64..12, pick in any::<prop::sample::Index>(),
                                field in 0usize..12, s in nasty_string()) {
            let (mut records, _) = chain(n);
            let i = pick.index(records.len());
            edit_field(&mut records[i], field, &s);
            let r = verify(&records, &[], None, &ChainHead::genesis());
            prop_assert!(!r.is_ok());
            prop_assert!(r.first_problem().unwrap().seq <= records[i].seq.max(i as u64 + 1));
        }

        /// An edit hidden by recomputing every later hash is caught by any
        /// signed checkpoint at or after it.
        #[test]
        fn rehashed_edit_is_caught_by_checkpoint(n in 1u64..12, pick in any::<prop::sample::Index>(),
                                                 field in 1usize..10, s in nasty_string()) {
            let (mut records, head) = chain(n);
            let k = key();
            let cp = k.sign_checkpoint(&head, t(0));
            let i = pick.index(records.len());
            edit_field(&mut records[i], field, &s);
            rehash_from(&mut records, i);
            let r = verify(&records, &[cp], Some(&k.verifying_key()), &ChainHead::genesis());
            prop_assert!(!r.is_ok());
        }

        /// Deleting, duplicating or moving any record is detected.
        #[test]
        fn any_structural_change_is_detected(n in 2u64..12, a in any::<prop::sample::Index>(),
                                             b in any::<prop::sample::Index>(), op in 0u8..3) {
            let (mut records, head) = chain(n);
            let k = key();
            let cp = k.sign_checkpoint(&head, t(0));
            let i = a.index(records.len());
            let j = b.index(records.len());
            match op {
                0 => { records.remove(i); }
                1 => { let r = records[i].clone(); records.insert(j, r); }
                _ => {
                    prop_assume!(i != j);
                    let r = records.remove(i);
                    records.insert(j, r);
                }
            }
            let r = verify(&records, &[cp], Some(&k.verifying_key()), &ChainHead::genesis());
            prop_assert!(!r.is_ok());
        }
    }
}
