//! The SQL behind [`IdentityReader`] and [`IdentityWriter`] for SQLite.

use rusqlite::{OptionalExtension, Row, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::identity::{
    BindingRow, EmergencyRow, IdentityReader, IdentityWriter, RoleRow, ServiceTokenRow, SessionRow,
    UserRow,
};

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn list(json: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const USER_COLS: &str = "id, username, password_hash, created_at, disabled_at";

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        created_at: ts(r.get(3)?),
        disabled_at: r.get::<_, Option<i64>>(4)?.map(ts),
    })
}

const SESSION_COLS: &str = "s.id, s.hash, s.user_id, u.username, s.created_at, s.last_used_at, \
     s.revoked_at, s.source, s.method, s.mfa, s.passkey_at";

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        user_id: r.get(2)?,
        username: r.get(3)?,
        created_at: ts(r.get(4)?),
        last_used_at: ts(r.get(5)?),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(ts),
        source: r.get(7)?,
        method: r.get(8)?,
        mfa: r.get(9)?,
        passkey_at: r.get::<_, Option<i64>>(10)?.map(ts),
    })
}

const TOKEN_COLS: &str = "id, hash, name, created_by, scopes, permissions, networks, created_at, \
     expires_at, last_used_at, revoked_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ServiceTokenRow> {
    Ok(ServiceTokenRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        name: r.get(2)?,
        created_by: r.get(3)?,
        scopes: list(&r.get::<_, String>(4)?)?,
        permissions: list(&r.get::<_, String>(5)?)?,
        networks: list(&r.get::<_, String>(6)?)?,
        created_at: ts(r.get(7)?),
        expires_at: ts(r.get(8)?),
        last_used_at: r.get::<_, Option<i64>>(9)?.map(ts),
        revoked_at: r.get::<_, Option<i64>>(10)?.map(ts),
    })
}

fn binding_row(r: &Row<'_>) -> rusqlite::Result<BindingRow> {
    Ok(BindingRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        username: r.get(2)?,
        role: r.get(3)?,
        scope: r.get(4)?,
        created_at: ts(r.get(5)?),
        source: r.get(6)?,
    })
}

fn emergency_row(r: &Row<'_>) -> rusqlite::Result<EmergencyRow> {
    Ok(EmergencyRow {
        id: r.get(0)?,
        user_id: r.get(1)?,
        username: r.get(2)?,
        reason: r.get(3)?,
        created_at: ts(r.get(4)?),
        expires_at: ts(r.get(5)?),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(ts),
    })
}

fn u64_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl IdentityReader for Sql<'_> {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
                [username],
                user_row,
            )
            .optional()?)
    }

    fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [id],
                user_row,
            )
            .optional()?)
    }

    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let mut st = self
            .0
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))?;
        let rows = st.query_map([], user_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn roles(&self) -> Result<Vec<RoleRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT name, permissions, absolute_secs, idle_secs, created_at, require_mfa FROM roles
             ORDER BY name",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(RoleRow {
                    name: r.get(0)?,
                    permissions: list(&r.get::<_, String>(1)?)?,
                    absolute_secs: r.get(2)?,
                    idle_secs: r.get(3)?,
                    created_at: ts(r.get(4)?),
                    require_mfa: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn bindings(&self, user_id: Option<&str>) -> Result<Vec<BindingRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT b.id, b.user_id, u.username, b.role, b.scope, b.created_at, b.source
             FROM bindings b JOIN users u ON u.id = b.user_id
             WHERE ?1 IS NULL OR b.user_id = ?1 ORDER BY u.username, b.role, b.scope",
        )?;
        let rows = st
            .query_map([user_id], binding_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!(
                    "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.id = ?1"
                ),
                [id],
                session_row,
            )
            .optional()?)
    }

    fn sessions_ended_before(
        &self,
        created_before: Timestamp,
        revoked_before: Timestamp,
    ) -> Result<usize, StoreError> {
        let n: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM sessions WHERE created_at < ?1 OR revoked_at < ?2",
            params![created_before.as_millis(), revoked_before.as_millis()],
            |row| row.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn sessions(&self, user_id: Option<&str>) -> Result<Vec<SessionRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.revoked_at IS NULL AND (?1 IS NULL OR s.user_id = ?1)
             ORDER BY s.created_at"
        ))?;
        let rows = st
            .query_map([user_id], session_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn service_token(&self, id: &str) -> Result<Option<ServiceTokenRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!("SELECT {TOKEN_COLS} FROM service_tokens WHERE id = ?1"),
                [id],
                token_row,
            )
            .optional()?)
    }

    fn service_tokens(&self, created_by: Option<&str>) -> Result<Vec<ServiceTokenRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {TOKEN_COLS} FROM service_tokens
             WHERE ?1 IS NULL OR created_by = ?1 ORDER BY created_at"
        ))?;
        let rows = st
            .query_map([created_by], token_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn throttle(&self, key: &str) -> Result<Option<(u32, Timestamp)>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT failures, last_failure FROM login_throttle WHERE key = ?1",
                [key],
                |r| Ok((r.get::<_, u32>(0)?, ts(r.get(1)?))),
            )
            .optional()?)
    }

    fn emergency_grants(&self, user_id: Option<&str>) -> Result<Vec<EmergencyRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT g.id, g.user_id, u.username, g.reason, g.created_at, g.expires_at, g.revoked_at
             FROM emergency_grants g JOIN users u ON u.id = g.user_id
             WHERE ?1 IS NULL OR g.user_id = ?1 ORDER BY g.created_at DESC",
        )?;
        let rows = st
            .query_map([user_id], emergency_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl IdentityWriter for Sql<'_> {
    fn insert_user(&mut self, u: &UserRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO users (id, username, password_hash, created_at, disabled_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                u.id,
                u.username,
                u.password_hash,
                u.created_at.as_millis(),
                u.disabled_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    fn set_user_disabled(&mut self, id: &str, at: Option<Timestamp>) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
            params![id, at.map(Timestamp::as_millis)],
        )?;
        Ok(())
    }

    fn set_password_hash(&mut self, id: &str, hash: &str) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![id, hash],
        )?;
        Ok(())
    }

    fn delete_user(&mut self, id: &str) -> Result<(), StoreError> {
        self.0.execute("DELETE FROM users WHERE id = ?1", [id])?;
        Ok(())
    }

    fn insert_role(&mut self, r: &RoleRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO roles (name, permissions, absolute_secs, idle_secs, created_at, require_mfa)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.name,
                json(&r.permissions),
                r.absolute_secs,
                r.idle_secs,
                r.created_at.as_millis(),
                r.require_mfa
            ],
        )?;
        Ok(())
    }

    fn set_role_require_mfa(&mut self, name: &str, require: bool) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE roles SET require_mfa = ?2 WHERE name = ?1",
            params![name, require],
        )?;
        Ok(n == 1)
    }

    fn delete_role(&mut self, name: &str) -> Result<Vec<String>, StoreError> {
        let users: Vec<String> = {
            let mut st = self
                .0
                .prepare_cached("SELECT DISTINCT user_id FROM bindings WHERE role = ?1")?;
            st.query_map([name], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.0
            .execute("DELETE FROM bindings WHERE role = ?1", [name])?;
        self.0
            .execute("DELETE FROM roles WHERE name = ?1", [name])?;
        Ok(users)
    }

    fn insert_binding(&mut self, b: &BindingRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO bindings (id, user_id, role, scope, created_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                b.id,
                b.user_id,
                b.role,
                b.scope,
                b.created_at.as_millis(),
                b.source
            ],
        )?;
        Ok(())
    }

    fn delete_binding(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        let user: Option<String> = self
            .0
            .query_row("SELECT user_id FROM bindings WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        self.0.execute("DELETE FROM bindings WHERE id = ?1", [id])?;
        Ok(user)
    }

    fn delete_bindings_of(&mut self, user_id: &str) -> Result<u64, StoreError> {
        let n = self
            .0
            .execute("DELETE FROM bindings WHERE user_id = ?1", [user_id])?;
        Ok(u64_of(n))
    }

    fn insert_session(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO sessions (id, hash, user_id, created_at, last_used_at, revoked_at, source,
                 method, mfa, passkey_at)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, ?9)",
            params![
                s.id,
                s.hash,
                s.user_id,
                s.created_at.as_millis(),
                s.last_used_at.as_millis(),
                s.source,
                s.method,
                s.mfa,
                s.passkey_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    fn set_session_passkey_at(&mut self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE sessions SET passkey_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at.as_millis()],
        )?;
        Ok(n == 1)
    }

    fn touch_session(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE sessions SET last_used_at = MAX(last_used_at, ?2) WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now.as_millis()],
        )?;
        Ok(())
    }

    fn prune_sessions(
        &mut self,
        created_before: Timestamp,
        revoked_before: Timestamp,
    ) -> Result<usize, StoreError> {
        Ok(self.0.execute(
            "DELETE FROM sessions WHERE created_at < ?1 OR revoked_at < ?2",
            params![created_before.as_millis(), revoked_before.as_millis()],
        )?)
    }

    fn revoke_session(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now.as_millis()],
        )?;
        Ok(n > 0)
    }

    fn revoke_sessions(
        &mut self,
        user_id: Option<&str>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = self.0.execute(
            "UPDATE sessions SET revoked_at = ?2
             WHERE revoked_at IS NULL AND (?1 IS NULL OR user_id = ?1)",
            params![user_id, now.as_millis()],
        )?;
        Ok(u64_of(n))
    }

    fn insert_service_token(&mut self, t: &ServiceTokenRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO service_tokens (id, hash, name, created_by, scopes, permissions, networks,
                 created_at, expires_at, last_used_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)",
            params![
                t.id,
                t.hash,
                t.name,
                t.created_by,
                json(&t.scopes),
                json(&t.permissions),
                json(&t.networks),
                t.created_at.as_millis(),
                t.expires_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn touch_service_token(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE service_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) WHERE id = ?1",
            params![id, now.as_millis()],
        )?;
        Ok(())
    }

    fn revoke_service_token(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE service_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now.as_millis()],
        )?;
        Ok(n > 0)
    }

    fn revoke_service_tokens_of(
        &mut self,
        created_by: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = {
            let mut st = self.0.prepare_cached(
                "SELECT id FROM service_tokens WHERE created_by = ?1 AND revoked_at IS NULL",
            )?;
            st.query_map([created_by], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.0.execute(
            "UPDATE service_tokens SET revoked_at = ?2 WHERE created_by = ?1 AND revoked_at IS NULL",
            params![created_by, now.as_millis()],
        )?;
        Ok(ids)
    }

    fn set_throttle(
        &mut self,
        key: &str,
        value: Option<(u32, Timestamp)>,
    ) -> Result<(), StoreError> {
        match value {
            Some((n, t)) => self.0.execute(
                "INSERT INTO login_throttle (key, failures, last_failure) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET failures = ?2, last_failure = ?3",
                params![key, n, t.as_millis()],
            )?,
            None => self
                .0
                .execute("DELETE FROM login_throttle WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    fn insert_emergency(&mut self, g: &EmergencyRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO emergency_grants (id, user_id, reason, created_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            params![
                g.id,
                g.user_id,
                g.reason,
                g.created_at.as_millis(),
                g.expires_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn end_emergency(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE emergency_grants SET revoked_at = ?2
             WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            params![id, now.as_millis()],
        )?;
        Ok(n > 0)
    }

    fn revoke_emergency_of(&mut self, user_id: &str, now: Timestamp) -> Result<u64, StoreError> {
        let n = self.0.execute(
            "UPDATE emergency_grants SET revoked_at = ?2
             WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            params![user_id, now.as_millis()],
        )?;
        Ok(u64_of(n))
    }
}
