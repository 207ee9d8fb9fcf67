//! The single writer thread and its group commit.
//!
//! Jobs queue on a channel. The thread takes every job waiting (up to a
//! batch limit), runs them in ONE transaction with a SAVEPOINT each, chains
//! each job's audit record right after its change (so the chain is serial and
//! a change never commits without its record), commits once, then answers
//! every job. A job whose change or audit append fails is rolled back to its
//! savepoint alone; the others still commit. A batch that appended records
//! also stores the new head with its MAC in the same transaction (when a
//! sealer is installed), so no acknowledged record is ever outside it. After a commit that ran any change, the store's change count
//! is bumped before anyone is answered.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rusqlite::Connection;
use tokio::sync::mpsc;
use vault_core::audit::{AuditRecord, ChainHash, ChainHead, Outcome};

use super::queries::Sql;
use crate::store::{HEAD_MAC_LABEL, HeadSealer, JobOutcome, Reader, StoreError, WriteJob, Writer};

/// Where the service installs the head sealer while unsealed.
#[derive(Clone, Default)]
pub struct SealerSlot(Arc<RwLock<Option<Arc<dyn HeadSealer>>>>);

impl SealerSlot {
    /// Installs or removes the signer.
    pub fn set(&self, signer: Option<Arc<dyn HeadSealer>>) {
        let mut g = self.0.write().unwrap_or_else(|p| p.into_inner());
        *g = signer;
    }

    fn current(&self) -> Option<Arc<dyn HeadSealer>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

type Reply = (
    tokio::sync::oneshot::Sender<Result<Option<AuditRecord>, StoreError>>,
    Result<Option<AuditRecord>, StoreError>,
);

/// Starts the writer thread on `conn`.
pub fn spawn(
    conn: Connection,
    rx: mpsc::UnboundedReceiver<WriteJob>,
    max_batch: usize,
    changes: Arc<AtomicU64>,
    signer: SealerSlot,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let head = load_head(&conn)?;
    let handle = std::thread::Builder::new()
        .name("vault-writer".into())
        .spawn(move || run(conn, rx, head, max_batch, &changes, &signer))?;
    Ok(handle)
}

fn load_head(conn: &Connection) -> Result<ChainHead, StoreError> {
    let head = match Sql(conn).audit_head()? {
        Some((seq, hash)) => ChainHead::new(
            seq,
            ChainHash::from_hex(&hash)
                .map_err(|_| StoreError::Corrupt("last audit record hash is not hex".into()))?,
        ),
        None => ChainHead::genesis(),
    };
    // Never reuse a seq that a checkpoint or the head MAC already vouched
    // for: if records were cut from the end, new ones continue after the
    // highest seq ever vouched for, so the gap stays visible to `verify`
    // instead of being papered over by new records with the old numbers.
    let vouched = [
        conn.query_row("SELECT MAX(seq) FROM audit_checkpoints", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .and_then(|s| u64::try_from(s).ok()),
        Sql(conn)
            .system_value(HEAD_MAC_LABEL)?
            .and_then(|raw| serde_json::from_slice::<vault_core::audit::MacHead>(&raw).ok())
            .map(|m| m.seq),
    ];
    let highest = vouched.into_iter().flatten().max().unwrap_or(0);
    Ok(if highest > head.seq {
        tracing::error!(
            last_record = head.seq,
            vouched = highest,
            "CRITICAL: audit records were removed from the end; new records continue after the gap"
        );
        ChainHead::new(highest, head.hash)
    } else {
        head
    })
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<WriteJob>,
    mut head: ChainHead,
    max_batch: usize,
    changes: &AtomicU64,
    signer: &SealerSlot,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let start_head = head;
        let changed = batch.iter().any(|j| j.work.is_some());
        let result = run_batch(&mut conn, &mut batch, &mut head, signer);
        if changed {
            // Before any answer: a writer that got its answer must never
            // meet a cache entry read before its change.
            changes.fetch_add(1, Ordering::AcqRel);
        }
        match result {
            Ok(replies) => {
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
            }
            Err(e) => {
                // The whole commit failed: nothing of the batch is stored.
                tracing::error!(error = %e, "group commit failed");
                head = start_head;
                for job in batch.drain(..) {
                    let _ = job
                        .done
                        .send(Err(StoreError::Corrupt("commit failed".into())));
                }
            }
        }
        batch.clear();
    }
    tracing::debug!("storage writer stopped");
}

fn run_batch(
    conn: &mut Connection,
    batch: &mut Vec<WriteJob>,
    head: &mut ChainHead,
    signer: &SealerSlot,
) -> Result<Vec<Reply>, StoreError> {
    let start_seq = head.seq;
    let tx = conn.transaction()?;
    let mut replies = Vec::with_capacity(batch.len());
    let mut pending = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let WriteJob { work, audit, done } = job;
        // Audit-only jobs change nothing but their one INSERT, which is
        // atomic by itself: they need no savepoint.
        let savepoint = work.is_some();
        if savepoint {
            tx.prepare_cached("SAVEPOINT job")?.execute([])?;
        }
        let outcome = match work {
            None => JobOutcome::Commit,
            Some(work) => {
                let mut sql = Sql(&tx);
                catch_unwind(AssertUnwindSafe(|| work(&mut sql))).unwrap_or_else(|_| {
                    tracing::error!("a write job panicked; rolled back");
                    JobOutcome::Rollback {
                        outcome: Outcome::Error,
                        code: "internal".into(),
                    }
                })
            }
        };
        if let JobOutcome::Rollback { .. } = outcome {
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        let result = match audit {
            None => Ok(None),
            Some(mut entry) => {
                if let JobOutcome::Rollback { outcome, code } = &outcome {
                    entry.outcome = *outcome;
                    if entry.detail.is_none() {
                        entry.detail = Some(code.clone());
                    }
                }
                let mut next = *head;
                let rec = next.append(entry);
                match Sql(&tx).insert_audit(&rec) {
                    Ok(()) => {
                        *head = next;
                        Ok(Some(rec))
                    }
                    Err(e) => {
                        // Fail closed: the change goes with its record.
                        tracing::error!(error = %e, "audit append failed; job rolled back");
                        if savepoint {
                            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
                        }
                        Err(e)
                    }
                }
            }
        };
        if savepoint {
            tx.prepare_cached("RELEASE job")?.execute([])?;
        }
        pending.push((done, result));
    }
    if head.seq != start_seq
        && let Some(s) = signer.current()
    {
        // One MAC per batch (about a microsecond), committed with the records.
        Sql(&tx).put_system_value(HEAD_MAC_LABEL, s.seal(head).as_bytes())?;
    }
    tx.commit()?;
    replies.extend(pending);
    Ok(replies)
}
