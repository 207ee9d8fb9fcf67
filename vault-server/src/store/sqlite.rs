//! The SQLite backend: WAL, one writer thread doing group commit, and a small
//! pool of reader connections used from blocking threads.

mod alerts;
mod identity;
mod migrate;
mod passkeys;
mod queries;
mod reviews;
mod sso;
mod workload;
pub mod writer;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::{ReadWork, Storage, StoreError, WriteJob};
use crate::config::Synchronous;
pub use migrate::{MIGRATIONS, migrate};
pub use queries::Sql;

/// SQLite storage.
pub struct SqliteStore {
    reads: Mutex<Option<std::sync::mpsc::Sender<ReadWork>>>,
    readers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    jobs: Mutex<Option<mpsc::UnboundedSender<WriteJob>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    changes: Arc<AtomicU64>,
    signer: writer::SealerSlot,
    path: std::path::PathBuf,
    sync: Synchronous,
}

/// Opens (creating if needed) the database, applies migrations, and starts
/// the writer thread.
pub fn open(
    path: &Path,
    readers: usize,
    sync: Synchronous,
    max_batch: usize,
    integrity_check: std::time::Duration,
) -> Result<SqliteStore, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut conn = connect(path, sync).map_err(damaged)?;
    quick_check(&conn, integrity_check).map_err(damaged)?;
    migrate(&mut conn).map_err(damaged)?;
    // Dedicated reader threads, each owning a connection, take reads from
    // one queue: no thread per read, no growth of the blocking pool.
    let (read_tx, read_rx) = std::sync::mpsc::channel::<ReadWork>();
    let read_rx = Arc::new(Mutex::new(read_rx));
    let mut reader_threads = Vec::with_capacity(readers);
    for i in 0..readers {
        let c = connect(path, sync)?;
        c.execute_batch("PRAGMA query_only = ON;")?;
        let rx = read_rx.clone();
        reader_threads.push(
            std::thread::Builder::new()
                .name(format!("vault-reader-{i}"))
                .spawn(move || reader_loop(&c, &rx))?,
        );
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let changes = Arc::new(AtomicU64::new(0));
    let signer = writer::SealerSlot::default();
    let handle = writer::spawn(conn, rx, max_batch, changes.clone(), signer.clone())?;
    Ok(SqliteStore {
        changes,
        signer,
        path: path.to_path_buf(),
        sync,
        reads: Mutex::new(Some(read_tx)),
        readers: Mutex::new(reader_threads),
        jobs: Mutex::new(Some(tx)),
        writer: Mutex::new(Some(handle)),
    })
}

fn reader_loop(conn: &Connection, rx: &Mutex<std::sync::mpsc::Receiver<ReadWork>>) {
    loop {
        let job = match rx.lock() {
            Ok(g) => g.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // One snapshot per job: a job that reads several tables (the audit
        // records and the head MAC, a user and their bindings) sees them as
        // of one commit, never half of a write that lands in between.
        let began = conn.execute_batch("BEGIN DEFERRED").is_ok();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job(Ok(&Sql(conn)));
        }));
        if began && let Err(e) = conn.execute_batch("COMMIT") {
            tracing::warn!(error = %e, "ending a read transaction failed");
            let _ = conn.execute_batch("ROLLBACK");
        }
        if caught.is_err() {
            tracing::error!("a read job panicked");
        }
    }
}

/// A corrupt-file error from SQLite, said as such (wherever it surfaces
/// first: opening, the schema, the check, a migration).
fn damaged(e: StoreError) -> StoreError {
    match e {
        StoreError::Db(rusqlite::Error::SqliteFailure(f, m))
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            StoreError::Corrupt(format!(
                "the database file is damaged ({}); restore it from a backup",
                m.unwrap_or_else(|| f.to_string())
            ))
        }
        other => other,
    }
}

/// `PRAGMA quick_check` at start, bounded by `budget` (zero: skipped): a
/// database with corrupted pages is refused rather than served. When the
/// check does not finish in time (a very large file), it is abandoned with a
/// warning and the server starts.
fn quick_check(conn: &Connection, budget: std::time::Duration) -> Result<(), StoreError> {
    if budget.is_zero() {
        return Ok(());
    }
    let interrupt = conn.get_interrupt_handle();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let timer = std::thread::spawn(move || {
        if done_rx.recv_timeout(budget).is_err() {
            interrupt.interrupt();
        }
    });
    let started = std::time::Instant::now();
    let result: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA quick_check(20)")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect());
    let _ = done_tx.send(());
    let _ = timer.join();
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => {
            tracing::debug!(
                ms = started.elapsed().as_millis(),
                "database quick_check ok"
            );
            Ok(())
        }
        Ok(lines) => Err(StoreError::Corrupt(format!(
            "PRAGMA quick_check found damage ({}); restore the database from a backup",
            lines.join("; ")
        ))),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            tracing::warn!(
                secs = budget.as_secs(),
                "database quick_check did not finish in time; started without it \
                 (raise storage.integrity_check_secs, or run it offline)"
            );
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(e, m))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Err(StoreError::Corrupt(format!(
                "the database is damaged ({}); restore it from a backup",
                m.unwrap_or_else(|| e.to_string())
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checkpoints the WAL into the database file and truncates it to zero
/// bytes, on a connection of its own (waiting up to its busy timeout for
/// readers), so that pages overwritten by `secure_delete` (a deleted
/// project's wrapped KEKs) leave no old copy in the WAL.
fn truncate_wal(path: &Path, sync: Synchronous) -> Result<(), StoreError> {
    let conn = connect(path, sync)?;
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if busy != 0 {
        return Err(StoreError::Corrupt(
            "the WAL checkpoint could not complete (busy); it will be retried".into(),
        ));
    }
    Ok(())
}

fn connect(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // rusqlite caches 16 prepared statements by default; the read and write
    // paths use more, and a miss re-parses and re-plans the SQL (it showed up
    // as the top SQLite cost in profiles).
    conn.set_prepared_statement_cache_capacity(256);
    // The bundled SQLite is built with STAT4: without the query planner
    // stability guarantee, a cached JOIN whose plan peeked at a bound value
    // is silently recompiled at every new binding (measured: 70 us instead
    // of 13 us per secret lookup). With QPSG the plan is made once.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    let sync = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // secure_delete: deleted envelopes and keys are overwritten, not left in
    // free pages (crypto-shredding and destroy mean gone).
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA busy_timeout = 5000;"
    ))?;
    Ok(conn)
}

impl Storage for SqliteStore {
    fn read_boxed(&self, work: ReadWork) {
        let sender = self.reads.lock().ok().and_then(|g| g.clone());
        match sender {
            Some(s) => {
                if let Err(e) = s.send(work) {
                    (e.0)(Err(StoreError::Closed));
                }
            }
            None => work(Err(StoreError::Closed)),
        }
    }

    fn submit(&self, job: WriteJob) {
        let sender = self.jobs.lock().ok().and_then(|g| g.clone());
        match sender {
            Some(s) => {
                if let Err(e) = s.send(job) {
                    let _ = e.0.done.send(Err(StoreError::Closed));
                }
            }
            None => {
                let _ = job.done.send(Err(StoreError::Closed));
            }
        }
    }

    fn changes(&self) -> Arc<AtomicU64> {
        self.changes.clone()
    }

    fn set_head_sealer(&self, signer: Option<Arc<dyn super::HeadSealer>>) {
        self.signer.set(signer);
    }

    fn purge_old_pages(&self) -> Result<(), StoreError> {
        truncate_wal(&self.path, self.sync)
    }

    fn close(&self) {
        // Dropping the senders lets the readers and the writer drain their
        // queues and stop.
        if let Ok(mut g) = self.reads.lock() {
            g.take();
        }
        if let Ok(mut g) = self.jobs.lock() {
            g.take();
        }
        let readers = self
            .readers
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        for h in readers {
            let _ = h.join();
        }
        let handle = self.writer.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!("the storage writer thread panicked");
        }
    }
}
