//! The SQL behind [`WorkloadReader`] and [`WorkloadWriter`] for SQLite.

use rusqlite::{OptionalExtension, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::workload::{WorkloadReader, WorkloadRoleRow, WorkloadWriter};

impl WorkloadReader for Sql<'_> {
    fn workload_roles(&self, issuer: Option<&str>) -> Result<Vec<WorkloadRoleRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT issuer, name, bound_claims, bound_claims_glob, scope, permissions, ttl_secs,
                    created_by, created_at
             FROM workload_roles WHERE ?1 IS NULL OR issuer = ?1 ORDER BY issuer, name",
        )?;
        let rows = st
            .query_map([issuer], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(issuer, name, claims, glob, scope, perms, ttl, by, at)| {
                Ok(WorkloadRoleRow {
                    issuer,
                    name,
                    bound_claims: serde_json::from_str(&claims)
                        .map_err(|e| StoreError::Corrupt(format!("bound_claims: {e}")))?,
                    bound_claims_glob: glob,
                    scope,
                    permissions: serde_json::from_str(&perms)
                        .map_err(|e| StoreError::Corrupt(format!("permissions: {e}")))?,
                    ttl_secs: ttl,
                    created_by: by,
                    created_at: Timestamp::from_millis(at),
                })
            })
            .collect()
    }
}

impl WorkloadWriter for Sql<'_> {
    fn insert_workload_role(&mut self, r: &WorkloadRoleRow) -> Result<bool, StoreError> {
        let claims = serde_json::to_string(&r.bound_claims)
            .map_err(|e| StoreError::Corrupt(format!("bound_claims: {e}")))?;
        let perms = serde_json::to_string(&r.permissions)
            .map_err(|e| StoreError::Corrupt(format!("permissions: {e}")))?;
        let n = self.0.execute(
            "INSERT INTO workload_roles (issuer, name, bound_claims, bound_claims_glob, scope,
                 permissions, ttl_secs, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
            params![
                r.issuer,
                r.name,
                claims,
                r.bound_claims_glob,
                r.scope,
                perms,
                r.ttl_secs,
                r.created_by,
                r.created_at.as_millis()
            ],
        )?;
        Ok(n == 1)
    }

    fn delete_workload_role(&mut self, issuer: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "DELETE FROM workload_roles WHERE issuer = ?1 AND name = ?2",
            [issuer, name],
        )?;
        Ok(n == 1)
    }

    fn record_jti(
        &mut self,
        issuer: &str,
        jti_hash: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.0.execute(
            "DELETE FROM workload_jtis WHERE expires_at < ?1",
            [now.as_millis()],
        )?;
        let seen: Option<i64> = self
            .0
            .query_row(
                "SELECT 1 FROM workload_jtis WHERE issuer = ?1 AND jti_hash = ?2",
                params![issuer, jti_hash],
                |r| r.get(0),
            )
            .optional()?;
        if seen.is_some() {
            return Ok(false);
        }
        self.0.execute(
            "INSERT INTO workload_jtis (issuer, jti_hash, expires_at) VALUES (?1, ?2, ?3)",
            params![issuer, jti_hash, expires_at.as_millis()],
        )?;
        Ok(true)
    }
}
