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
    AuditRecord, AuditVerifyingKey, ChainHash, ChainHead, ChainItem, Checkpoint, ExportFile,
    ExportHeader, OmittedRecord, Outcome, VerifyReport, export_csv, export_jsonl, parse_export,
    verify, verify_archive,
};
use vault_core::clock::Timestamp;

use super::lifecycle::AUDIT_PUBLIC_LABEL;
use super::{Action, Ctx, Error, Result, Vault};
use crate::store::{ArchiveRow, AuditFilter};

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
            let records = self.store().read(move |r| r.audit_records(&filter)).await?;
            let next_after = (records.len() as u64 == limit)
                .then(|| records.last().map(|r| r.seq))
                .flatten();
            Ok(AuditPage {
                records,
                next_after,
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
            let (records, cps, head) = self
                .store()
                .read(move |r| {
                    Ok((
                        r.audit_records(&range)?,
                        r.audit_checkpoints()?,
                        r.audit_head()?,
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
            let checkpoints: Vec<Checkpoint> = parse_checkpoints(cps)?
                .into_iter()
                .filter(|c| c.seq >= start.seq && c.seq <= last)
                .collect();
            let filtered =
                filter.actor.is_some() || filter.action.is_some() || filter.resource.is_some();
            let items = records
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

    async fn verifying_key(&self) -> Result<AuditVerifyingKey> {
        let raw = self
            .store()
            .read(|r| r.system_value(AUDIT_PUBLIC_LABEL))
            .await?
            .ok_or_else(|| Error::not_found("audit.no_key", "the vault is not initialized"))?;
        AuditVerifyingKey::from_bytes(&raw).map_err(Error::internal)
    }

    /// `GET /v1/audit/verify`: every archive segment in order, then the
    /// records in the database continuing the last segment, with every
    /// checkpoint's signature.
    pub async fn audit_verify(&self, ctx: &Ctx) -> Result<AuditVerifyReport> {
        self.audited(ctx, Action::AuditRead, "audit/verify", |_| async {
            let key = self.verifying_key().await?;
            let (records, cps, archives) = self
                .store()
                .read(|r| {
                    Ok((
                        r.audit_records(&AuditFilter::default())?,
                        r.audit_checkpoints()?,
                        r.audit_archives()?,
                    ))
                })
                .await?;
            let checkpoints = parse_checkpoints(cps)?;
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
            if !out.ok {
                tracing::error!(problem = ?out.problem, "CRITICAL: audit chain verification failed");
            }
            Ok(out)
        })
        .await
    }

    /// Signs a checkpoint at the current head if it moved (background task).
    pub async fn checkpoint(&self) -> Result<Option<u64>> {
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
        let end_cp = u
            .audit_key
            .sign_checkpoint(&ChainHead::new(last.seq, last_hash), self.clock().now());
        let mut checkpoints: Vec<Checkpoint> = parse_checkpoints(cps)?
            .into_iter()
            .filter(|c| c.seq >= start.seq && c.seq < last.seq)
            .collect();
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
