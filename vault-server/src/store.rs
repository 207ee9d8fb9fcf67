//! The storage port: everything the service layer needs from a database,
//! behind traits so a PostgreSQL backend can follow the SQLite one.
//!
//! - [`Reader`]: queries, run on a pooled reader connection off the async runtime.
//! - [`Writer`]: queries plus changes, run inside the single writer's
//!   transaction (group commit, see [`sqlite::writer`]).
//! - [`Storage`]: the object-safe entry points; [`StoreHandle`] adds typed
//!   async helpers on top.
//!
//! Every write job carries an optional audit entry that the writer chains and
//! commits in the same transaction as the change (fail closed).

pub mod alerts;
pub mod identity;
pub mod passkeys;
pub mod reviews;
pub mod sqlite;
pub mod sso;
pub mod workload;

use std::sync::Arc;

use tokio::sync::oneshot;
use vault_core::audit::{AuditEntry, AuditRecord};
use vault_core::clock::Timestamp;

/// Storage failures. Never carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered an error.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database file's schema is newer than this server.
    #[error(
        "the database schema is at version {found}, newer than this server knows ({known}); upgrade vault-server"
    )]
    SchemaTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
    /// A stored value is malformed.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The writer or reader pool has shut down.
    #[error("storage is shut down")]
    Closed,
    /// I/O around the database (directories, archives).
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// How a write job ended, for its audit record.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    /// Commit the job's changes; audit as success.
    Commit,
    /// Roll the job's changes back; audit with this outcome and code.
    Rollback {
        /// Denied or error.
        outcome: vault_core::audit::Outcome,
        /// Stable error code for the audit detail.
        code: String,
    },
}

/// The body of a write job: runs inside the writer's transaction (its own
/// savepoint) and reports whether to keep its changes.
pub type WriteWork = Box<dyn FnOnce(&mut dyn Writer) -> JobOutcome + Send>;

/// A queued write: the change, its audit entry, and where to answer.
pub struct WriteJob {
    /// The change; `None` for an audit-only job.
    pub work: Option<WriteWork>,
    /// Its audit entry; `None` for housekeeping that audits itself elsewhere.
    pub audit: Option<AuditEntry>,
    /// Answered after the commit (or failure) of the batch.
    pub done: oneshot::Sender<Result<Option<AuditRecord>, StoreError>>,
}

/// Authenticates the audit chain's head inside each commit that appended
/// records, so every acknowledged record is covered by a key that never
/// leaves the unsealed server (installed while unsealed; records appended
/// while sealed are covered at the next unseal).
pub trait HeadSealer: Send + Sync {
    /// The stored form (JSON) of `head` with its MAC.
    fn seal(&self, head: &vault_core::audit::ChainHead) -> String;
}

/// Label, in the system values, of the latest head and its MAC (JSON of
/// `vault_core::audit::MacHead`).
pub const HEAD_MAC_LABEL: &str = "audit-head-mac";

/// A read to run on a pooled reader connection.
pub type ReadWork = Box<dyn FnOnce(Result<&dyn Reader, StoreError>) + Send>;

/// The object-safe storage port.
pub trait Storage: Send + Sync + 'static {
    /// Queues a read on a reader connection (off the async runtime).
    fn read_boxed(&self, work: ReadWork);
    /// Queues a write job for the group-commit writer.
    fn submit(&self, job: WriteJob);
    /// Stops the writer after the queued jobs (graceful shutdown).
    fn close(&self);
    /// Installs (or with `None` removes) the sealer of the audit head that
    /// the writer calls once per commit batch that appended records.
    fn set_head_sealer(&self, sealer: Option<Arc<dyn HeadSealer>>);
    /// Removes old copies of overwritten pages kept by the backend (the
    /// SQLite WAL), so that deleted key material is gone from disk, not
    /// only from the tables (crypto-shredding). Blocking.
    fn purge_old_pages(&self) -> Result<(), StoreError>;
    /// The change count: bumped after every commit that ran a change (not
    /// for audit-only appends), before the writers are answered. Read caches
    /// are keyed on it (see `service::cache`).
    fn changes(&self) -> Arc<std::sync::atomic::AtomicU64>;
}

/// Typed async helpers over a [`Storage`].
#[derive(Clone)]
pub struct StoreHandle(pub Arc<dyn Storage>);

impl StoreHandle {
    /// Runs `f` on a reader connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Reader) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.0.read_boxed(Box::new(move |r| {
            let out = r.and_then(f);
            let _ = tx.send(out);
        }));
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in the writer's transaction; `f`'s result decides commit or
    /// rollback (`Err` rolls back). `audit` is chained and committed with the
    /// change; if it cannot be, the whole job fails.
    pub async fn write<T, E, F>(
        &self,
        audit: Option<AuditEntry>,
        f: F,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static + AuditCode,
        F: FnOnce(&mut dyn Writer) -> Result<T, E> + Send + 'static,
    {
        let slot: Arc<std::sync::Mutex<Option<Result<T, E>>>> = Arc::default();
        let slot2 = slot.clone();
        let work: WriteWork = Box::new(move |w| {
            let res = f(w);
            let outcome = match &res {
                Ok(_) => JobOutcome::Commit,
                Err(e) => JobOutcome::Rollback {
                    outcome: e.audit_outcome(),
                    code: e.audit_code().to_owned(),
                },
            };
            if let Ok(mut g) = slot2.lock() {
                *g = Some(res);
            }
            outcome
        });
        let (tx, rx) = oneshot::channel();
        self.0.submit(WriteJob {
            work: Some(work),
            audit,
            done: tx,
        });
        rx.await.map_err(|_| StoreError::Closed)??;
        let taken = slot.lock().ok().and_then(|mut g| g.take());
        taken.ok_or(StoreError::Closed)
    }

    /// Appends an audit record alone (reads, denials) and waits until it is durable.
    pub async fn audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.0.submit(WriteJob {
            work: None,
            audit: Some(entry),
            done: tx,
        });
        rx.await
            .map_err(|_| StoreError::Closed)??
            .ok_or(StoreError::Closed)
    }
}

/// What an error contributes to an audit record.
pub trait AuditCode {
    /// Stable code.
    fn audit_code(&self) -> &str;
    /// Denied or error.
    fn audit_outcome(&self) -> vault_core::audit::Outcome;
}

/// How the root key is protected.
#[derive(Debug, Clone)]
pub struct SealConfigRow {
    /// `shamir`, `passphrase` or `key_file`.
    pub mode: String,
    /// Shares made.
    pub shares: u8,
    /// Shares needed.
    pub threshold: u8,
    /// Argon2id parameters (JSON), passphrase mode.
    pub passphrase_params: Option<String>,
    /// The root key wrapped by the unseal key.
    pub wrapped_root: Vec<u8>,
    /// Root key version.
    pub root_version: u32,
    /// When initialized.
    pub created_at: Timestamp,
}

/// A stored token (hash only).
#[derive(Clone)]
pub struct TokenRow {
    /// Public id.
    pub id: String,
    /// Hash of the secret part.
    pub hash: Vec<u8>,
    /// Kind (`root`).
    pub kind: String,
    /// Where it came from: `init`, `generate-root` or `dev`.
    pub origin: String,
    /// Creation time (set by the store on insert).
    pub created_at: Timestamp,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
}

// Hand-written so the stored hash never reaches a log or a panic message.
impl std::fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A project.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// An environment.
#[derive(Debug, Clone)]
pub struct EnvRow {
    /// Row id.
    pub id: i64,
    /// Project row id.
    pub project_id: i64,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A KEK version.
#[derive(Debug, Clone)]
pub struct KekRow {
    /// Project row id.
    pub project_id: i64,
    /// Version.
    pub version: u32,
    /// Wrapped key; `None` once destroyed.
    pub wrapped: Option<Vec<u8>>,
    /// `active`, `decrypt_only`, `retired`, `destroyed`.
    pub state: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Data keys wrapped with it so far.
    pub wrap_count: u64,
}

/// A secret (its current state, not a version).
#[derive(Debug, Clone)]
pub struct SecretRow {
    /// Row id.
    pub id: i64,
    /// Environment row id.
    pub env_id: i64,
    /// Name.
    pub name: String,
    /// Current version.
    pub current_version: u64,
    /// Last change.
    pub updated_at: Timestamp,
    /// Soft-deletion time.
    pub deleted_at: Option<Timestamp>,
    /// When the trash purge destroys it.
    pub purge_after: Option<Timestamp>,
}

/// One stored secret version.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Row id.
    pub id: i64,
    /// Secret row id.
    pub secret_id: i64,
    /// Version.
    pub version: u64,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
    /// KEK version that wraps its data key.
    pub kek_version: u32,
    /// When written.
    pub created_at: Timestamp,
    /// Who wrote it.
    pub created_by: String,
    /// `write`, `rollback`, `restore`.
    pub kind: String,
    /// For a rollback: the copied version.
    pub source_version: Option<u64>,
    /// The secret's head MAC, when read as its current version.
    pub head_mac: Option<Vec<u8>>,
    /// Whether `head_mac` verified, once checked: a row kept in the read
    /// cache (which any change empties) is checked once, not per read.
    pub head_checked: std::sync::OnceLock<bool>,
}

/// A secret's names and current version, for its head MAC.
#[derive(Debug, Clone)]
pub struct SecretHead {
    /// Secret row id.
    pub id: i64,
    /// Project name.
    pub project: String,
    /// Environment name.
    pub environment: String,
    /// Secret name.
    pub name: String,
    /// Current version.
    pub version: u64,
}

/// A version to rewrap, with the names that make its context.
#[derive(Debug, Clone)]
pub struct RewrapItem {
    /// Version row id.
    pub id: i64,
    /// Environment name.
    pub env: String,
    /// Secret name.
    pub name: String,
    /// Version.
    pub version: u64,
    /// KEK version now.
    pub kek_version: u32,
    /// Envelope bytes.
    pub envelope: Vec<u8>,
}

/// A rewrap job.
#[derive(Debug, Clone)]
pub struct RewrapJobRow {
    /// Id.
    pub id: String,
    /// Project filter.
    pub project: Option<String>,
    /// `running`, `done`, `failed`.
    pub state: String,
    /// Data keys to move at start.
    pub total: u64,
    /// Moved so far.
    pub done: u64,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub finished_at: Option<Timestamp>,
    /// Failure reason.
    pub error: Option<String>,
}

/// Audit query filters.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Before this time (exclusive).
    pub to: Option<Timestamp>,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact action, or prefix when it ends in `*`.
    pub action: Option<String>,
    /// Resource prefix.
    pub resource: Option<String>,
    /// Only records with a larger seq.
    pub after: Option<u64>,
    /// Only records with a smaller seq.
    pub before: Option<u64>,
    /// Newest (largest seq) first instead of oldest first.
    pub newest_first: bool,
    /// At most this many.
    pub limit: Option<u64>,
}

/// An archive of audit records moved out by retention.
#[derive(Debug, Clone)]
pub struct ArchiveRow {
    /// First seq in the file.
    pub first_seq: u64,
    /// Last seq in the file.
    pub last_seq: u64,
    /// Hash of the last record (the next record's `prev_hash`).
    pub last_hash: String,
    /// File name under `<data_dir>/audit-archive/`.
    pub file: String,
}

/// Queries.
pub trait Reader:
    identity::IdentityReader
    + sso::SsoReader
    + workload::WorkloadReader
    + passkeys::PasskeyReader
    + reviews::ReviewReader
    + alerts::AlertReader
{
    /// The seal configuration, once initialized.
    fn seal_config(&self) -> Result<Option<SealConfigRow>, StoreError>;
    /// A wrapped system secret.
    fn system_secret(&self, label: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A public system value.
    fn system_value(&self, label: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A token by id.
    fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError>;
    /// Every root token, newest first.
    fn root_tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// Every project.
    fn projects(&self) -> Result<Vec<ProjectRow>, StoreError>;
    /// A project by name.
    fn project(&self, name: &str) -> Result<Option<ProjectRow>, StoreError>;
    /// A project's environments.
    fn environments(&self, project_id: i64) -> Result<Vec<EnvRow>, StoreError>;
    /// An environment by name.
    fn environment(&self, project_id: i64, name: &str) -> Result<Option<EnvRow>, StoreError>;
    /// A project's KEK versions, oldest first.
    fn keks(&self, project_id: i64) -> Result<Vec<KekRow>, StoreError>;
    /// Data keys per KEK version of a project.
    fn data_keys_per_kek(&self, project_id: i64) -> Result<Vec<(u32, u64)>, StoreError>;
    /// A secret by name (also when trashed).
    fn secret(&self, env_id: i64, name: &str) -> Result<Option<SecretRow>, StoreError>;
    /// Live secrets of an environment, by name.
    fn secrets(&self, env_id: i64) -> Result<Vec<SecretRow>, StoreError>;
    /// Trashed secrets of an environment, by name.
    fn trash(&self, env_id: i64) -> Result<Vec<SecretRow>, StoreError>;
    /// One version of a secret.
    fn version(&self, secret_id: i64, version: u64) -> Result<Option<VersionRow>, StoreError>;
    /// Current versions of every live secret of an environment.
    fn current_versions(&self, env_id: i64) -> Result<Vec<(String, VersionRow)>, StoreError>;
    /// One version (`None`: the current one) of a live secret, found by
    /// names in one query; `None` when anything along the path is missing.
    fn version_by_name(
        &self,
        project: &str,
        env: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<VersionRow>, StoreError>;
    /// Current versions of every live secret of an environment, by names in
    /// one query (empty when the environment is missing or empty).
    fn current_versions_by_name(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Vec<(String, VersionRow)>, StoreError>;
    /// Every version of a secret, newest first (envelopes left empty).
    fn history(&self, secret_id: i64) -> Result<Vec<VersionRow>, StoreError>;
    /// Versions of a project not wrapped by `active`, after row id `after`.
    fn rewrap_batch(
        &self,
        project_id: i64,
        active: u32,
        after: i64,
        limit: usize,
    ) -> Result<Vec<RewrapItem>, StoreError>;
    /// How many versions of a project are not wrapped by `active`.
    fn count_not_on(&self, project_id: i64, active: u32) -> Result<u64, StoreError>;
    /// A rewrap job.
    fn rewrap_job(&self, id: &str) -> Result<Option<RewrapJobRow>, StoreError>;
    /// Jobs still running (to resume after a restart).
    fn running_rewrap_jobs(&self) -> Result<Vec<RewrapJobRow>, StoreError>;
    /// Trashed secrets whose window has passed.
    fn expired_trash(&self, now: Timestamp) -> Result<Vec<i64>, StoreError>;
    /// The chain head: last seq and hash (0 and all-zero hash when empty).
    fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// Audit records matching a filter, oldest first.
    fn audit_records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
    /// Signed checkpoints (JSON), oldest first.
    fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError>;
    /// Archives made by retention, oldest first.
    fn audit_archives(&self) -> Result<Vec<ArchiveRow>, StoreError>;
}

/// Changes (inside the writer's transaction).
pub trait Writer:
    Reader
    + identity::IdentityWriter
    + sso::SsoWriter
    + workload::WorkloadWriter
    + passkeys::PasskeyWriter
    + reviews::ReviewWriter
    + alerts::AlertWriter
{
    /// Stores the seal configuration (replaces it on root rotation).
    fn put_seal_config(&mut self, row: &SealConfigRow) -> Result<(), StoreError>;
    /// Stores a wrapped system secret.
    fn put_system_secret(&mut self, label: &str, wrapped: &[u8]) -> Result<(), StoreError>;
    /// Stores a public system value.
    fn put_system_value(&mut self, label: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Stores a token hash.
    fn insert_token(&mut self, row: &TokenRow, now: Timestamp) -> Result<(), StoreError>;
    /// Revokes a root token (no-op if already revoked).
    fn revoke_root_token(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Creates a project.
    fn insert_project(&mut self, name: &str, now: Timestamp) -> Result<ProjectRow, StoreError>;
    /// Deletes a project with its keys, environments and secrets.
    fn delete_project(&mut self, project_id: i64) -> Result<(), StoreError>;
    /// Creates an environment.
    fn insert_environment(
        &mut self,
        project_id: i64,
        name: &str,
        now: Timestamp,
    ) -> Result<EnvRow, StoreError>;
    /// Stores a new KEK version.
    fn insert_kek(&mut self, row: &KekRow) -> Result<(), StoreError>;
    /// Changes a KEK's state (and wipes it when `destroyed`).
    fn set_kek_state(
        &mut self,
        project_id: i64,
        version: u32,
        state: &str,
    ) -> Result<(), StoreError>;
    /// Replaces a KEK's wrapping (root rotation).
    fn set_kek_wrapped(
        &mut self,
        project_id: i64,
        version: u32,
        wrapped: &[u8],
    ) -> Result<(), StoreError>;
    /// Counts `n` more wraps on a KEK version.
    fn add_wraps(&mut self, project_id: i64, version: u32, n: u64) -> Result<(), StoreError>;
    /// Creates a secret row.
    fn insert_secret(
        &mut self,
        env_id: i64,
        name: &str,
        version: u64,
        now: Timestamp,
    ) -> Result<i64, StoreError>;
    /// Sets a secret's current version and clears any trash state.
    fn set_current(
        &mut self,
        secret_id: i64,
        version: u64,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Stores the MAC of a secret's current version.
    fn set_head_mac(&mut self, secret_id: i64, mac: &[u8]) -> Result<(), StoreError>;
    /// Every live or trashed secret with its names and current version
    /// (id, project, environment, name, version), for filling head MACs.
    fn secret_heads(&self) -> Result<Vec<SecretHead>, StoreError>;
    /// How many secrets have a head MAC.
    fn secret_heads_with_mac(&self) -> Result<u64, StoreError>;
    /// Stores a version.
    fn insert_version(&mut self, project_id: i64, row: &VersionRow) -> Result<(), StoreError>;
    /// Moves a secret to the trash.
    fn trash_secret(
        &mut self,
        secret_id: i64,
        now: Timestamp,
        purge_after: Timestamp,
    ) -> Result<(), StoreError>;
    /// Destroys a secret and every version.
    fn destroy_secret(&mut self, secret_id: i64) -> Result<(), StoreError>;
    /// Replaces a version's envelope if it is still on `old_kek`.
    fn replace_envelope(
        &mut self,
        version_id: i64,
        old_kek: u32,
        new_kek: u32,
        envelope: &[u8],
    ) -> Result<bool, StoreError>;
    /// Stores or updates a rewrap job.
    fn put_rewrap_job(&mut self, row: &RewrapJobRow) -> Result<(), StoreError>;
    /// Stores a signed checkpoint.
    fn insert_checkpoint(&mut self, seq: u64, json: &str) -> Result<(), StoreError>;
    /// Records an archive and deletes the archived records.
    fn archive_audit(&mut self, archive: &ArchiveRow, now: Timestamp) -> Result<(), StoreError>;
}
