//! JSON wire types of the HTTP API (`/v1/...`), shared by server and CLI so
//! both agree by construction. Names travel as plain strings and are parsed
//! into [`crate::names`] types by the server; secret values travel as
//! [`SecretText`], which never prints.
//!
//! Routes (all JSON; `{p}` project, `{e}` environment, `{name}` secret):
//!
//! | method | path | body → answer |
//! |---|---|---|
//! | GET | `/v1/sys/health` | → [`Health`] (always served, also sealed) |
//! | POST | `/v1/sys/init` | [`InitRequest`] → [`InitResponse`] |
//! | GET | `/v1/sys/seal-status` | → [`SealStatus`] |
//! | POST | `/v1/sys/unseal` | [`UnsealRequest`] → [`SealStatus`] |
//! | POST | `/v1/sys/seal` | → [`SealStatus`] |
//! | POST | `/v1/sys/rotate-root` | → [`RootKeyStatus`] |
//! | GET | `/v1/sys/metrics` | → Prometheus text |
//! | GET | `/v1/openapi.json` | → OpenAPI 3.1 document |
//! | GET, POST | `/v1/projects` | [`CreateProject`] → [`ProjectList`], [`Project`] |
//! | DELETE | `/v1/projects/{p}` | → 204 (crypto-shreds the project) |
//! | GET, POST | `/v1/projects/{p}/environments` | [`CreateEnvironment`] → [`EnvironmentList`], [`Environment`] |
//! | GET | `/v1/projects/{p}/environments/{e}/secrets` | → [`SecretList`] (names only) |
//! | GET | `/v1/projects/{p}/environments/{e}/bundle` | → [`Bundle`] (every value, one round trip) |
//! | GET | `/v1/projects/{p}/environments/{e}/secrets/{name}[?version=N]` | → [`SecretValue`] |
//! | PUT | `/v1/projects/{p}/environments/{e}/secrets/{name}` | [`WriteSecret`] → [`SecretMeta`] |
//! | DELETE | `/v1/projects/{p}/environments/{e}/secrets/{name}` | → [`TrashedSecret`] (soft delete) |
//! | GET | `/v1/projects/{p}/environments/{e}/secrets/{name}/history` | → [`SecretHistory`] |
//! | POST | `/v1/projects/{p}/environments/{e}/secrets/{name}/rollback` | [`Rollback`] → [`SecretMeta`] |
//! | GET | `/v1/projects/{p}/environments/{e}/trash` | → [`TrashList`] |
//! | POST | `/v1/projects/{p}/environments/{e}/trash/{name}/restore` | → [`SecretMeta`] |
//! | DELETE | `/v1/projects/{p}/environments/{e}/trash/{name}` | → 204 (destroy for good) |
//! | GET | `/v1/keys` | → [`KeyStatus`] |
//! | POST | `/v1/projects/{p}/keys/rotate` | → [`KekVersionStatus`] |
//! | POST | `/v1/projects/{p}/keys/{version}/retire` | → [`KekVersionStatus`] |
//! | POST | `/v1/projects/{p}/keys/{version}/destroy` | → [`KekVersionStatus`] |
//! | POST | `/v1/keys/rewrap` | [`StartRewrap`] → [`RewrapJob`] |
//! | GET | `/v1/keys/rewrap/{id}` | → [`RewrapJob`] |
//! | GET | `/v1/audit` | filters as query → [`AuditPage`] |
//! | GET | `/v1/audit/export?format=jsonl\|csv` | → the export file |
//! | GET | `/v1/audit/verify` | → [`AuditVerifyReport`] |
//! | GET | `/v1/audit/public-key` | → [`AuditPublicKey`] |
//!
//! Every error answers [`ErrorBody`] with a stable `code`. Identity and access
//! routes (login, sessions, users, roles, tokens, emergency access) are in
//! [`identity`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditRecord;
use crate::clock::Timestamp;
use crate::secret::SecretText;

pub mod alerts;
pub mod identity;
pub mod passkeys;
pub mod reviews;
pub mod sso;
pub mod workload;
pub use alerts::*;
pub use identity::*;
pub use passkeys::*;
pub use reviews::*;
pub use sso::*;
pub use workload::*;

/// The one error shape: `{"error":{"code","message","request_id"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `secret.not_found`.
    pub code: String,
    /// Human text; never contains a secret or internal detail on 5xx.
    pub message: String,
    /// The request id (also in the `x-request-id` header and the audit trail).
    pub request_id: String,
}

/// `GET /v1/sys/health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Whether `init` has run.
    pub initialized: bool,
    /// Whether the server is sealed (serves only health, init, unseal).
    pub sealed: bool,
    /// Server version.
    pub version: String,
}

/// How the key that protects the root key is itself protected.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum UnsealMode {
    /// Shamir shares: any `threshold` of `shares` unseal.
    Shamir {
        /// Number of shares to make (1..=255).
        #[schema(minimum = 1)]
        shares: u8,
        /// Shares needed to unseal (1..=shares).
        #[schema(minimum = 1)]
        threshold: u8,
    },
    /// A passphrase stretched with Argon2id.
    Passphrase {
        /// The passphrase.
        passphrase: SecretText,
    },
    /// A key file written to the server's configured `unseal.key_file`, read
    /// at every start for unattended restarts.
    KeyFile,
}

/// `POST /v1/sys/init`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// The unseal mode.
    pub mode: UnsealMode,
}

/// Answer to init: shown once, never stored by the server in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InitResponse {
    /// Shamir shares (text encoded), for the Shamir mode.
    #[serde(default)]
    pub shares: Vec<SecretText>,
    /// Shares needed to unseal (1 for passphrase and key-file modes).
    pub threshold: u8,
    /// An admin token with every right.
    pub root_token: SecretText,
}

/// `POST /v1/sys/unseal`: one share, the passphrase, or (key-file mode,
/// after an operator sealed) the key file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// One Shamir share.
    #[serde(default)]
    pub share: Option<SecretText>,
    /// The passphrase (passphrase mode).
    #[serde(default)]
    pub passphrase: Option<SecretText>,
    /// Forget shares given so far.
    #[serde(default)]
    pub reset: bool,
    /// The unseal key file's contents (`vault-unseal-key-v1.…`), key-file mode.
    #[serde(default)]
    pub key: Option<SecretText>,
}

/// `POST /v1/sys/generate-root`: the unseal key material, as for unseal
/// (all `threshold` shares at once, the passphrase, or the key file's
/// contents), and an optional lifetime.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRoot {
    /// Shamir shares (at least the threshold).
    #[serde(default)]
    pub shares: Vec<SecretText>,
    /// The passphrase (passphrase mode).
    #[serde(default)]
    pub passphrase: Option<SecretText>,
    /// The key file's contents (key-file mode).
    #[serde(default)]
    pub key: Option<SecretText>,
    /// Lifetime in seconds, 60 to 2,592,000 (30 days); none: no expiry.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub ttl_secs: Option<i64>,
}

/// A root token's description (never the token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RootToken {
    /// Public id (the part before the dot).
    pub id: String,
    /// `init`, `generate-root` or `dev`.
    pub origin: String,
    /// Creation.
    pub created_at: Timestamp,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Revocation, if revoked.
    pub revoked_at: Option<Timestamp>,
}

/// Answer to `POST /v1/sys/generate-root`: the token is shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeneratedRoot {
    /// `<id>.<secret>`.
    pub root_token: SecretText,
    /// Its description.
    pub token: RootToken,
}

/// Seal state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SealStatus {
    /// Whether `init` has run.
    pub initialized: bool,
    /// Whether sealed.
    pub sealed: bool,
    /// `shamir`, `passphrase` or `key_file` (absent before init).
    pub mode: Option<String>,
    /// Shares needed.
    pub threshold: u8,
    /// Shares given so far.
    pub progress: u8,
}

/// Root key state (after `rotate-root`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RootKeyStatus {
    /// Current root key version.
    pub version: u32,
    /// KEKs rewrapped under it.
    pub keks_rewrapped: u64,
}

/// `POST /v1/projects`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Project name.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub name: String,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Projects the caller may see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    /// Projects, by name.
    pub projects: Vec<Project>,
}

/// `POST /v1/projects/{p}/environments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironment {
    /// Environment name.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub name: String,
}

/// An environment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    /// Project.
    pub project: String,
    /// Name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Environments of a project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentList {
    /// Environments, by name.
    pub environments: Vec<Environment>,
}

/// `PUT .../secrets/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteSecret {
    /// The value: UTF-8, at most 64 KiB, multi-line allowed.
    pub value: SecretText,
    /// Write only if the current version is this (0: only if absent).
    #[serde(default)]
    pub cas: Option<u64>,
}

/// A secret version's metadata (no value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretMeta {
    /// Name.
    pub name: String,
    /// Version (1, 2, ...).
    pub version: u64,
    /// When this version was written.
    pub created_at: Timestamp,
    /// Who wrote it.
    pub created_by: String,
}

/// A secret with its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretValue {
    /// Name.
    pub name: String,
    /// Version.
    pub version: u64,
    /// The value.
    pub value: SecretText,
    /// When this version was written.
    pub created_at: Timestamp,
    /// Who wrote it.
    pub created_by: String,
}

/// A line of [`SecretList`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretSummary {
    /// Name.
    pub name: String,
    /// Current version.
    pub version: u64,
    /// When the current version was written.
    pub updated_at: Timestamp,
}

/// Names in an environment (never values).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// Secrets, by name.
    pub secrets: Vec<SecretSummary>,
}

/// Every current value of an environment, in one answer (what `vault run` uses).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bundle {
    /// Project.
    pub project: String,
    /// Environment.
    pub environment: String,
    /// Name → value.
    pub secrets: BTreeMap<String, SecretText>,
}

/// One version in a history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// Version.
    pub version: u64,
    /// When written.
    pub created_at: Timestamp,
    /// Who wrote it.
    pub created_by: String,
    /// `write`, `rollback` or `restore`.
    pub kind: String,
    /// For a rollback: the version whose value it copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<u64>,
}

/// Versions of a secret, newest first (no values).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretHistory {
    /// Name.
    pub name: String,
    /// Versions, newest first.
    pub versions: Vec<HistoryEntry>,
}

/// `POST .../rollback`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose value becomes the new current version.
    #[schema(minimum = 1)]
    pub version: u64,
    /// Optional compare-and-set on the current version.
    #[serde(default)]
    pub cas: Option<u64>,
}

/// A secret in the trash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrashedSecret {
    /// Name.
    pub name: String,
    /// Last version before deletion.
    pub version: u64,
    /// When deleted.
    pub deleted_at: Timestamp,
    /// When it will be destroyed for good.
    pub purge_after: Timestamp,
}

/// The trash of an environment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrashList {
    /// Trashed secrets.
    pub secrets: Vec<TrashedSecret>,
}

/// State of a KEK version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KekState {
    /// Used for all new wraps.
    Active,
    /// Unwrap only; data keys still point at it.
    DecryptOnly,
    /// Wraps nothing and is no longer used; may be destroyed.
    Retired,
    /// Key material erased.
    Destroyed,
}

/// One KEK version of a project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KekVersionStatus {
    /// Project.
    pub project: String,
    /// Version (1, 2, ...).
    pub version: u32,
    /// State.
    pub state: KekState,
    /// When created.
    pub created_at: Timestamp,
    /// Age in seconds.
    pub age_secs: i64,
    /// Encryptions made with it (wraps of data keys).
    pub wrap_count: u64,
    /// Data keys it still wraps (secret versions it protects).
    pub data_keys: u64,
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyStatus {
    /// Root key version.
    pub root_version: u32,
    /// Every KEK version of every project.
    pub keks: Vec<KekVersionStatus>,
}

/// `POST /v1/keys/rewrap`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRewrap {
    /// Only this project (all projects when absent).
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub project: Option<String>,
}

/// A rewrap job's state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RewrapJob {
    /// Job id.
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// Data keys to move when the job started.
    pub total: u64,
    /// Data keys moved so far.
    pub done: u64,
    /// When started.
    pub started_at: Timestamp,
    /// When finished.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// A page of audit records (`GET /v1/audit?from&to&actor&action&resource&after&limit`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// Records, oldest first (newest first with `order=newest`).
    pub records: Vec<AuditRecord>,
    /// Pass as `after` for the next page (oldest-first order).
    #[serde(default)]
    pub next_after: Option<u64>,
    /// Pass as `before` for the next page (newest-first order).
    #[serde(default)]
    pub next_before: Option<u64>,
}

/// `GET /v1/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerifyReport {
    /// True when the chain and every checkpoint verify.
    pub ok: bool,
    /// Records checked.
    pub records: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// What is wrong, when not ok.
    #[serde(default)]
    pub problem: Option<String>,
}

/// `GET /v1/audit/public-key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPublicKey {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The public key, base64 (standard, padded).
    pub public_key: String,
}

#[cfg(test)]
mod strict_input_tests {
    use super::*;

    #[test]
    fn request_bodies_refuse_unknown_fields() {
        // A misspelled `cas` must not silently write without the check.
        assert!(serde_json::from_str::<WriteSecret>(r#"{"value":"x","CAS":3}"#).is_err());
        assert!(serde_json::from_str::<WriteSecret>(r#"{"value":"x","cas":3}"#).is_ok());
        assert!(serde_json::from_str::<Rollback>(r#"{"version":1,"cass":2}"#).is_err());
        assert!(serde_json::from_str::<CreateProject>(r#"{"name":"a","x":1}"#).is_err());
        assert!(serde_json::from_str::<CreateEnvironment>(r#"{"name":"a","x":1}"#).is_err());
        assert!(serde_json::from_str::<StartRewrap>(r#"{"projet":"a"}"#).is_err());
        assert!(
            serde_json::from_str::<InitRequest>(
                r#"{"mode":{"type":"shamir","shares":3,"threshold":2,"treshold":1}}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<InitRequest>(
                r#"{"mode":{"type":"shamir","shares":3,"threshold":2}}"#
            )
            .is_ok()
        );
    }
}
