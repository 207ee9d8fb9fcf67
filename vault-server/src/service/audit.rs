//! The audit trail as a service: listing, export, verification, the public
//! key, signed checkpoints, and retention into verifiable archive files.
//!
//! The chain itself (hashing, signatures, export format, verification) is
//! `vault_core::audit`; this module only moves records between the database,
//! files and the API.

use std::io::Write as _;
use std::path::PathBuf;

use vault_core::api::{AuditPage, AuditPublicKey, AuditVerifyReport};
use vault_core::audit::{
    AuditRecord, AuditSigningKey, AuditVerifyingKey, ChainHash, ChainHead, ChainItem, Checkpoint,
    ExportFile, ExportHeader, OmittedRecord, Outcome, VerifyReport, export_csv, export_jsonl,
    parse_export, verify, verify_archive, verify_items,
};
use vault_core::clock::Timestamp;

use super::lifecycle::AUDIT_PUBLIC_LABEL;
use super::{Action, Ctx, Error, Result, Vault};
use crate::store::{ArchiveRow, AuditFilter, HEAD_MAC_LABEL};

/// MACs the head of each commit batch (see [`crate::store::HeadSealer`])
/// with a key derived from the unsealed audit key; removed at seal.
pub(crate) struct UnsealedSealer {
    pub(crate) key: vault_core::audit::HeadMacKey,
}

impl crate::store::HeadSealer for UnsealedSealer {
    fn seal(&self, head: &ChainHead) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(&self.key.seal(head)).unwrap_or_default()
    }
}

/// The stored head, checked against its MAC and, if right, signed now as a
/// checkpoint (the server has just verified it), so the ordinary checkpoint
/// logic catches records removed or rewritten up to it. `Err(problem)` when
/// the MAC does not verify.
fn mac_head(
    raw: Option<Vec<u8>>,
    key: &AuditSigningKey,
    now: Timestamp,
) -> std::result::Result<Option<Checkpoint>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let opened = serde_json::from_slice::<vault_core::audit::MacHead>(&raw)
        .ok()
        .and_then(|m| key.head_mac_key().open(&m));
    match opened {
        Some(head) => Ok(Some(key.sign_checkpoint(&head, now))),
        None => Err(
            "the stored audit head does not match its MAC: it was altered, \
                     or written without this vault's key"
                .into(),
        ),
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON lines.
    Jsonl,
    /// CSV with a header.
    Csv,
}

/// Most records in one page.
pub const MAX_PAGE: u64 = 1000;

/// Directory of archive segments under the data dir.
pub const ARCHIVE_DIR: &str = "audit-archive";

/// Whether `r` passes the non-time parts of `f`.
fn matches(f: &AuditFilter, r: &AuditRecord) -> bool {
    f.actor.as_ref().is_none_or(|a| *a == r.actor)
        && f.action.as_ref().is_none_or(|a| match a.strip_suffix('*') {
            Some(prefix) => r.action.starts_with(prefix),
            None => *a == r.action,
        })
        && f.resource
            .as_ref()
            .is_none_or(|p| r.resource.starts_with(p.as_str()))
}

/// The head a run of records continues (from its first record's `prev_hash`).
fn start_of(records: &[AuditRecord]) -> Result<Option<ChainHead>> {
    records
        .first()
        .map(|r| {
            ChainHash::from_hex(&r.prev_hash)
                .map(|h| ChainHead::new(r.seq.saturating_sub(1), h))
                .map_err(|_| Error::internal("stored prev_hash is not hex"))
        })
        .transpose()
}

fn parse_checkpoints(raw: Vec<String>) -> Result<Vec<Checkpoint>> {
    raw.iter()
        .map(|c| {
            serde_json::from_str(c).map_err(|_| Error::internal("stored checkpoint malformed"))
        })
        .collect()
}

fn report_view(r: &VerifyReport) -> AuditVerifyReport {
    AuditVerifyReport::from(r)
}

impl Vault {
    /// `GET /v1/audit`.
    pub async fn audit_page(&self, ctx: &Ctx, mut filter: AuditFilter) -> Result<AuditPage> {
        self.audited(ctx, Action::AuditRead, "audit", |_| async {
            let limit = filter.limit.unwrap_or(100).clamp(1, MAX_PAGE);
            filter.limit = Some(limit);
            let newest_first = filter.newest_first;
            let records = self.store().read(move |r| r.audit_records(&filter)).await?;
            let full = records.len() as u64 == limit;
            let last = records.last().map(|r| r.seq).filter(|_| full);
            let (next_after, next_before) = if newest_first {
                (None, last)
            } else {
                (last, None)
            };
            Ok(AuditPage {
                records,
                next_after,
                next_before,
            })
        })
        .await
    }

    /// `GET /v1/audit/export`: the records in the time range, with the
    /// checkpoints covering them. Records that do not match the actor,
    /// action or resource filter stay in the file as content hashes only,
    /// so the file still verifies offline with just the public key.
    pub async fn audit_export(
        &self,
        ctx: &Ctx,
        filter: AuditFilter,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        self.audited(ctx, Action::AuditRead, "audit/export", |_| async {
            let range = AuditFilter {
                from: filter.from,
                to: filter.to,
                ..AuditFilter::default()
            };
            let (records, cps, head, head_raw) = self
                .store()
                .read(move |r| {
                    Ok((
                        r.audit_records(&range)?,
                        r.audit_checkpoints()?,
                        r.audit_head()?,
                        r.system_value(HEAD_MAC_LABEL)?,
                    ))
                })
                .await?;
            let start = match start_of(&records)? {
                Some(s) => s,
                None => match head {
                    Some((seq, h)) => ChainHead::new(
                        seq,
                        ChainHash::from_hex(&h).map_err(|_| Error::internal("bad head hash"))?,
                    ),
                    None => ChainHead::genesis(),
                },
            };
            let last = records.last().map_or(start.seq, |r| r.seq);
            let last_head = records.last().map(ChainHead::after).transpose();
            let last_head = last_head.map_err(|_| Error::internal("stored hash is not hex"))?;
            let u = self.unsealed()?;
            // A head whose MAC fails is left out: the export's verification
            // then shows what is not covered.
            let head_cp = mac_head(head_raw, &u.audit_key, self.clock().now()).unwrap_or(None);
            let mut checkpoints: Vec<Checkpoint> = parse_checkpoints(cps)?
                .into_iter()
                .chain(head_cp)
                .filter(|c| c.seq >= start.seq && c.seq <= last)
                .collect();
            let filtered =
                filter.actor.is_some() || filter.action.is_some() || filter.resource.is_some();
            let items: Vec<ChainItem> = records
                .into_iter()
                .map(|r| {
                    if matches(&filter, &r) {
                        ChainItem::Record(r)
                    } else {
                        ChainItem::Omitted(OmittedRecord::of(&r))
                    }
                })
                .collect();
            let mut header = ExportHeader::new(start);
            header.exported_at = Some(self.clock().now());
            header.key_id = self.verifying_key().await.ok().map(|k| k.key_id());
            header.filter = filtered.then(|| {
                format!(
                    "actor={} action={} resource={}",
                    filter.actor.as_deref().unwrap_or("*"),
                    filter.action.as_deref().unwrap_or("*"),
                    filter.resource.as_deref().unwrap_or("*"),
                )
            });
            // End with a head signed now, so a copy cut short or rewritten
            // fails offline verification; signed only over records that
            // verify against the signatures already made.
            if let Some(end) = last_head
                && !checkpoints.iter().any(|c| c.seq == end.seq)
            {
                let key = u.audit_key.verifying_key();
                if verify_items(&items, &checkpoints, Some(&key), &start).is_ok() {
                    checkpoints.push(u.audit_key.sign_checkpoint(&end, self.clock().now()));
                } else {
                    tracing::warn!("audit export of a chain that fails verification: not signed");
                }
            }
            let file = ExportFile {
                header,
                items,
                checkpoints,
            };
            let mut out = Vec::new();
            match format {
                ExportFormat::Jsonl => export_jsonl(&mut out, &file),
                ExportFormat::Csv => export_csv(&mut out, &file),
            }
            .map_err(Error::internal)?;
            Ok(out)
        })
        .await
    }

    /// `GET /v1/audit/public-key`.
    pub async fn audit_public_key(&self, ctx: &Ctx) -> Result<AuditPublicKey> {
        self.audited(ctx, Action::AuditRead, "audit/public-key", |_| async {
            let key = self.verifying_key().await?;
            Ok(AuditPublicKey {
                algorithm: "ed25519".into(),
                public_key: key.to_base64(),
            })
        })
        .await
    }

    /// The key that verifies this vault's checkpoints: the unsealed server's
    /// own (a key replaced in the database must not be handed out), else
    /// the published copy.
    async fn verifying_key(&self) -> Result<AuditVerifyingKey> {
        if let Ok(u) = self.unsealed() {
            return Ok(u.audit_key.verifying_key());
        }
        let raw = self
            .store()
            .read(|r| r.system_value(AUDIT_PUBLIC_LABEL))
            .await?
            .ok_or_else(|| Error::not_found("audit.no_key", "the vault is not initialized"))?;
        AuditVerifyingKey::from_bytes(&raw).map_err(Error::internal)
    }

    /// `GET /v1/audit/head`: the current head, signed now, after the records
    /// since the last checkpoint verified. Saved by an auditor, it lets a
    /// later verification catch a trail cut back past it, even by someone
    /// holding the signing key.
    pub async fn audit_signed_head(&self, ctx: &Ctx) -> Result<Checkpoint> {
        self.audited(ctx, Action::AuditRead, "audit/head", |_| async {
            let u = self.unsealed()?;
            if let Some(problem) = self.audit_tail_problem(&u.audit_key).await? {
                return Err(Error::new(
                    super::Kind::Integrity,
                    "audit.chain_broken",
                    format!("the audit trail is broken ({problem}); no head was signed"),
                ));
            }
            let head = self.store().read(|r| r.audit_head()).await?;
            let head = match head {
                Some((seq, h)) => ChainHead::new(
                    seq,
                    ChainHash::from_hex(&h).map_err(|_| Error::internal("bad head hash"))?,
                ),
                None => ChainHead::genesis(),
            };
            Ok(u.audit_key.sign_checkpoint(&head, self.clock().now()))
        })
        .await
    }

    /// `GET /v1/audit/verify`: every archive segment in order, then the
    /// records in the database continuing the last segment, with every
    /// checkpoint's signature (the head signed with the last commit
    /// included). With `against`, a head saved earlier must still be in the
    /// chain with the same hash.
    pub async fn audit_verify(
        &self,
        ctx: &Ctx,
        against: Option<ChainHead>,
    ) -> Result<AuditVerifyReport> {
        self.audited(ctx, Action::AuditRead, "audit/verify", |_| async {
            let u = self.unsealed()?;
            // The server's own key: a public key replaced in the database
            // must not make forged checkpoints verify.
            let key = u.audit_key.verifying_key();
            let (records, cps, archives, head_raw) = self
                .store()
                .read(|r| {
                    Ok((
                        r.audit_records(&AuditFilter::default())?,
                        r.audit_checkpoints()?,
                        r.audit_archives()?,
                        r.system_value(HEAD_MAC_LABEL)?,
                    ))
                })
                .await?;
            let mut checkpoints = parse_checkpoints(cps)?;
            // The head MACed with the last commit: removing records from the
            // end, or rewriting any, no longer goes unnoticed.
            let head_problem = match mac_head(head_raw, &u.audit_key, self.clock().now()) {
                Ok(h) => {
                    checkpoints.extend(h);
                    None
                }
                Err(problem) => Some(problem),
            };
            let dir = self.settings().data_dir.join(ARCHIVE_DIR);
            let segments = tokio::task::spawn_blocking(move || {
                archives
                    .iter()
                    .map(|a| {
                        let f = std::fs::File::open(dir.join(&a.file))
                            .map_err(|e| format!("archive {} unreadable: {e}", a.file))?;
                        parse_export(std::io::BufReader::new(f))
                            .map_err(|e| format!("archive {} malformed: {e}", a.file))
                    })
                    .collect::<std::result::Result<Vec<_>, String>>()
            })
            .await
            .map_err(Error::internal)?;
            let segments = match segments {
                Ok(s) => s,
                Err(problem) => {
                    return Ok(AuditVerifyReport {
                        ok: false,
                        records: 0,
                        checkpoints: 0,
                        problem: Some(problem),
                    });
                }
            };
            let archived = verify_archive(&segments, Some(&key), &ChainHead::genesis());
            let live = verify(&records, &checkpoints, Some(&key), &archived.end);
            let mut out = report_view(&live);
            out.records += archived.records;
            out.checkpoints += archived.checkpoints;
            if !archived.is_ok() {
                out.ok = false;
                out.problem = archived
                    .first_problem()
                    .map(|p| format!("archive, seq {}: {p}", p.seq));
            }
            if let Some(problem) = head_problem {
                out.ok = false;
                out.problem = Some(problem);
            }
            if let Some(saved) = against
                && out.ok
            {
                let stored = segments
                    .iter()
                    .flat_map(ExportFile::records)
                    .chain(records.iter())
                    .find(|r| r.seq == saved.seq)
                    .map(|r| r.hash.clone());
                let end = live.end.seq;
                out.problem = match stored {
                    _ if saved.seq == 0 => None,
                    None if saved.seq > end => Some(format!(
                        "the trail ends at seq {end}, but the saved head is at seq {}: \
                         records were removed from the end",
                        saved.seq
                    )),
                    None => Some(format!(
                        "record {} of the saved head is not in the trail",
                        saved.seq
                    )),
                    Some(h) if h != saved.hash.to_hex() => Some(format!(
                        "record {} differs from the saved head: the trail was rewritten",
                        saved.seq
                    )),
                    Some(_) => None,
                };
                out.ok = out.problem.is_none();
            }
            if !out.ok {
                tracing::error!(problem = ?out.problem, "CRITICAL: audit chain verification failed");
            } else if let Some((from, to)) = live.unprotected_tail() {
                tracing::warn!(from, to, "audit records not yet covered by a signed head");
            }
            Ok(out)
        })
        .await
    }

    /// Before the server signs a checkpoint, and at unseal: verifies the
    /// records from the last checkpoint in the history (else the start of
    /// the live chain) to the end, together with the head signed at the last
    /// commit, using the server's own key rather than the public key stored
    /// beside them. `Some(problem)` when the chain is broken: records
    /// deleted (at the end or in between), edited, reordered, or a head the
    /// key never signed. History checkpoints are signed only over a chain
    /// that passed this check, so each one is a verified anchor.
    pub(crate) async fn audit_tail_problem(&self, key: &AuditSigningKey) -> Result<Option<String>> {
        let (head_raw, cps) = self
            .store()
            .read(|r| Ok((r.system_value(HEAD_MAC_LABEL)?, r.audit_checkpoints()?)))
            .await?;
        let mut checkpoints = parse_checkpoints(cps)?;
        let anchor = checkpoints.last().cloned();
        let after = anchor.as_ref().map(|a| a.seq.saturating_sub(1));
        let records = self
            .store()
            .read(move |r| {
                r.audit_records(&AuditFilter {
                    after,
                    ..AuditFilter::default()
                })
            })
            .await?;
        if let Some(a) = &anchor
            && a.seq > 0
            && records.first().is_none_or(|r| r.seq != a.seq)
        {
            return Ok(Some(format!(
                "record {} (covered by the last checkpoint) is missing: records were removed",
                a.seq
            )));
        }
        match mac_head(head_raw, key, self.clock().now()) {
            Ok(h) => checkpoints.extend(h),
            Err(problem) => return Ok(Some(problem)),
        }
        // Only the anchor and what follows it: older ones cover older records.
        let from = anchor.map_or(0, |a| a.seq);
        checkpoints.retain(|c| c.seq >= from);
        let start = start_of(&records)?.unwrap_or_else(ChainHead::genesis);
        let report = verify(&records, &checkpoints, Some(&key.verifying_key()), &start);
        Ok(report
            .first_problem()
            .map(|p| format!("seq {}: {p}", p.seq)))
    }

    /// Signs a checkpoint at the current head without verifying the chain
    /// first: only after an operator chose to extend a broken chain
    /// (`audit.danger_extend_broken_chain`, recorded as critical).
    pub(crate) async fn sign_checkpoint_unverified(&self) -> Result<Option<u64>> {
        self.sign_head(false).await
    }

    /// Signs a checkpoint at the current head if it moved (background task),
    /// only over a chain that verifies.
    pub async fn checkpoint(&self) -> Result<Option<u64>> {
        self.sign_head(true).await
    }

    /// The one way checkpoints are made: the current head, if it moved past
    /// the last checkpoint, after verifying the chain unless told not to.
    async fn sign_head(&self, verify_first: bool) -> Result<Option<u64>> {
        let u = self.unsealed()?;
        let (head, last_cp) = self
            .store()
            .read(|r| Ok((r.audit_head()?, r.audit_checkpoints()?.pop())))
            .await?;
        let Some((seq, hash)) = head else {
            return Ok(None);
        };
        let last_seq = last_cp
            .and_then(|c| serde_json::from_str::<Checkpoint>(&c).ok())
            .map_or(0, |c| c.seq);
        if seq <= last_seq {
            return Ok(None);
        }
        let hash = ChainHash::from_hex(&hash).map_err(|_| Error::internal("bad head hash"))?;
        // Never sign whatever head is found: only a chain that verifies.
        if verify_first && let Some(problem) = self.audit_tail_problem(&u.audit_key).await? {
            tracing::error!(%problem, "CRITICAL: audit chain broken; checkpoint not signed");
            return Err(Error::new(
                super::Kind::Integrity,
                "audit.chain_broken",
                format!("the audit trail is broken ({problem}); no checkpoint was signed"),
            ));
        }
        let cp = u
            .audit_key
            .sign_checkpoint(&ChainHead::new(seq, hash), self.clock().now());
        let json = serde_json::to_string(&cp).map_err(Error::internal)?;
        self.store()
            .write(None, move |w| -> Result<()> {
                w.insert_checkpoint(seq, &json)?;
                Ok(())
            })
            .await
            .map_err(Error::internal)??;
        Ok(Some(seq))
    }

    /// Moves records older than the retention window into an archive
    /// segment, then out of the database (background task).
    pub async fn audit_retention(&self) -> Result<usize> {
        let cutoff = self
            .clock()
            .now()
            .plus_secs(-self.settings().audit_retention_secs);
        self.archive_before(cutoff).await
    }

    /// Archives every record older than `cutoff` (a prefix of the chain):
    /// signs a checkpoint at its end, writes the segment (records plus the
    /// checkpoints covering them, in the export format) and syncs it, and
    /// only then deletes the rows, in the same transaction that records the
    /// archive.
    pub async fn archive_before(&self, cutoff: Timestamp) -> Result<usize> {
        let u = self.unsealed()?;
        let (records, cps) = self
            .store()
            .read(move |r| {
                let all = r.audit_records(&AuditFilter {
                    to: Some(cutoff),
                    limit: Some(100_000),
                    ..AuditFilter::default()
                })?;
                Ok((all, r.audit_checkpoints()?))
            })
            .await?;
        // Only a prefix may leave, so the chain in the database stays whole.
        let first_seq = records.first().map_or(0, |r| r.seq);
        let old: Vec<AuditRecord> = records
            .into_iter()
            .zip(first_seq..)
            .take_while(|(r, want)| r.seq == *want)
            .map(|(r, _)| r)
            .collect();
        let (Some(start), Some(last)) = (start_of(&old)?, old.last().cloned()) else {
            return Ok(0);
        };
        let last_hash = ChainHash::from_hex(&last.hash).map_err(|_| Error::internal("bad hash"))?;
        let covering: Vec<Checkpoint> = parse_checkpoints(cps)?
            .into_iter()
            .filter(|c| c.seq >= start.seq && c.seq <= last.seq)
            .collect();
        // Sign only what verifies: the records leaving against the
        // checkpoints among them, and everything after the last checkpoint
        // against the head MAC.
        let key = u.audit_key.verifying_key();
        let problem = match self.audit_tail_problem(&u.audit_key).await? {
            Some(p) => Some(p),
            None => verify(&old, &covering, Some(&key), &start)
                .first_problem()
                .map(|p| format!("seq {}: {p}", p.seq)),
        };
        if let Some(problem) = problem {
            tracing::error!(%problem, "CRITICAL: audit chain broken; nothing archived");
            return Err(Error::new(
                super::Kind::Integrity,
                "audit.chain_broken",
                format!("the audit trail is broken ({problem}); nothing was archived"),
            ));
        }
        let end_cp = u
            .audit_key
            .sign_checkpoint(&ChainHead::new(last.seq, last_hash), self.clock().now());
        let mut checkpoints: Vec<Checkpoint> =
            covering.into_iter().filter(|c| c.seq < last.seq).collect();
        checkpoints.push(end_cp);
        let first = start.seq + 1;
        let n = old.len();
        let file = format!("audit-{first:012}-{:012}.jsonl", last.seq);
        let segment = ExportFile::from_records(start, old, checkpoints);
        let dir = self.settings().data_dir.join(ARCHIVE_DIR);
        let path: PathBuf = dir.join(&file);
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let mut buf = Vec::new();
            export_jsonl(&mut buf, &segment)?;
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&buf)?;
            f.sync_all()?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(Error::internal)?;
        written.map_err(|e| Error::internal(format!("audit archive write: {e}")))?;
        let archive = ArchiveRow {
            first_seq: first,
            last_seq: last.seq,
            last_hash: last.hash.clone(),
            file: file.clone(),
        };
        let now = self.clock().now();
        let ctx = Ctx::system("retention");
        let entry = self.entry(
            &ctx,
            None,
            "audit.archive",
            &format!("{ARCHIVE_DIR}/{file}"),
            Outcome::Success,
            Some(format!("records {first}..={}", last.seq)),
        );
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                w.archive_audit(&archive, now)?;
                Ok(())
            })
            .await
            .map_err(Error::internal)??;
        tracing::info!(first, last = last.seq, file, "archived audit records");
        Ok(n)
    }
}
