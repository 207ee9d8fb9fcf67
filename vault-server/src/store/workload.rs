//! The storage port for workload identity: roles made through the API, and
//! the ids of exchanged tokens (single use).

use std::collections::BTreeMap;

use vault_core::clock::Timestamp;

use super::StoreError;

/// A role made through the API.
#[derive(Debug, Clone)]
pub struct WorkloadRoleRow {
    /// Issuer name.
    pub issuer: String,
    /// Role name.
    pub name: String,
    /// Claims a token must carry.
    pub bound_claims: BTreeMap<String, String>,
    /// `*` patterns in bound claims.
    pub bound_claims_glob: bool,
    /// Scope of minted tokens.
    pub scope: String,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Lifetime of minted tokens, seconds.
    pub ttl_secs: i64,
    /// `root` or a user id.
    pub created_by: String,
    /// Creation.
    pub created_at: Timestamp,
}

/// Workload queries.
pub trait WorkloadReader {
    /// Roles of one issuer, or of all.
    fn workload_roles(&self, issuer: Option<&str>) -> Result<Vec<WorkloadRoleRow>, StoreError>;
}

/// Workload changes (inside the writer's transaction).
pub trait WorkloadWriter {
    /// Stores a role; `false` when one of that issuer and name exists.
    fn insert_workload_role(&mut self, row: &WorkloadRoleRow) -> Result<bool, StoreError>;
    /// Deletes a role; whether it existed.
    fn delete_workload_role(&mut self, issuer: &str, name: &str) -> Result<bool, StoreError>;
    /// Records an exchanged token's id until `expires_at`; `false` when it
    /// was recorded already (a replay). Expired ids are dropped on the way.
    fn record_jti(
        &mut self,
        issuer: &str,
        jti_hash: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}
