//! The SQL behind [`SsoReader`] and [`SsoWriter`] for SQLite.

use rusqlite::{OptionalExtension, Row, params};
use vault_core::clock::Timestamp;

use super::queries::Sql;
use crate::store::StoreError;
use crate::store::sso::{CliCodeRow, FlowRow, IdentityRow, SsoReader, SsoWriter};

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(v)
}

const IDENTITY_COLS: &str = "i.id, i.issuer, i.subject, i.user_id, u.username, i.provider, \
                             i.email, i.created_at, i.last_login_at";

fn identity_row(r: &Row<'_>) -> rusqlite::Result<IdentityRow> {
    Ok(IdentityRow {
        id: r.get(0)?,
        issuer: r.get(1)?,
        subject: r.get(2)?,
        user_id: r.get(3)?,
        username: r.get(4)?,
        provider: r.get(5)?,
        email: r.get(6)?,
        created_at: ts(r.get(7)?),
        last_login_at: r.get::<_, Option<i64>>(8)?.map(ts),
    })
}

impl SsoReader for Sql<'_> {
    fn identity_by_subject(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                &format!(
                    "SELECT {IDENTITY_COLS} FROM user_identities i JOIN users u ON u.id = i.user_id
                     WHERE i.issuer = ?1 AND i.subject = ?2"
                ),
                [issuer, subject],
                identity_row,
            )
            .optional()?)
    }

    fn identities(&self, user_id: Option<&str>) -> Result<Vec<IdentityRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {IDENTITY_COLS} FROM user_identities i JOIN users u ON u.id = i.user_id
             WHERE ?1 IS NULL OR i.user_id = ?1 ORDER BY u.username, i.provider, i.subject"
        ))?;
        let rows = st
            .query_map([user_id], identity_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl SsoWriter for Sql<'_> {
    fn insert_oidc_flow(&mut self, f: &FlowRow, now: Timestamp) -> Result<bool, StoreError> {
        self.0.execute(
            "DELETE FROM oidc_flows WHERE expires_at < ?1",
            [now.as_millis()],
        )?;
        let live: i64 = self
            .0
            .query_row("SELECT COUNT(*) FROM oidc_flows", [], |r| r.get(0))?;
        let from_source: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM oidc_flows WHERE source = ?1",
            [&f.source],
            |r| r.get(0),
        )?;
        if u64::try_from(live).unwrap_or(u64::MAX) >= crate::service::sso::MAX_FLOWS
            || u64::try_from(from_source).unwrap_or(u64::MAX)
                >= crate::service::sso::MAX_FLOWS_PER_SOURCE
        {
            return Ok(false);
        }
        self.0.execute(
            "INSERT INTO oidc_flows (state_hash, provider, browser_hash, pkce_verifier, nonce,
                 return_to, cli_port, cli_challenge, created_at, expires_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                f.state_hash,
                f.provider,
                f.browser_hash,
                f.pkce_verifier,
                f.nonce,
                f.return_to,
                f.cli_port,
                f.cli_challenge,
                f.created_at.as_millis(),
                f.expires_at.as_millis(),
                f.source
            ],
        )?;
        Ok(true)
    }

    fn take_oidc_flow(&mut self, state_hash: &[u8]) -> Result<Option<FlowRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                "DELETE FROM oidc_flows WHERE state_hash = ?1
                 RETURNING state_hash, provider, browser_hash, pkce_verifier, nonce, return_to,
                           cli_port, cli_challenge, created_at, expires_at, source",
                [state_hash],
                |r| {
                    Ok(FlowRow {
                        state_hash: r.get(0)?,
                        provider: r.get(1)?,
                        browser_hash: r.get(2)?,
                        pkce_verifier: r.get(3)?,
                        nonce: r.get(4)?,
                        return_to: r.get(5)?,
                        cli_port: r.get(6)?,
                        cli_challenge: r.get(7)?,
                        created_at: ts(r.get(8)?),
                        expires_at: ts(r.get(9)?),
                        source: r.get(10)?,
                    })
                },
            )
            .optional()?)
    }

    fn insert_cli_code(&mut self, c: &CliCodeRow, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "DELETE FROM oidc_cli_codes WHERE expires_at < ?1",
            [now.as_millis()],
        )?;
        self.0.execute(
            "INSERT INTO oidc_cli_codes (code_hash, user_id, provider, challenge, expires_at,
                 method, mfa, passkey_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                c.code_hash,
                c.user_id,
                c.provider,
                c.challenge,
                c.expires_at.as_millis(),
                c.method,
                c.mfa,
                c.passkey_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    fn take_cli_code(&mut self, code_hash: &[u8]) -> Result<Option<CliCodeRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                "DELETE FROM oidc_cli_codes WHERE code_hash = ?1
                 RETURNING code_hash, user_id, provider, challenge, expires_at, method, mfa,
                     passkey_at",
                [code_hash],
                |r| {
                    Ok(CliCodeRow {
                        code_hash: r.get(0)?,
                        user_id: r.get(1)?,
                        provider: r.get(2)?,
                        challenge: r.get(3)?,
                        expires_at: ts(r.get(4)?),
                        method: r.get(5)?,
                        mfa: r.get(6)?,
                        passkey_at: r.get::<_, Option<i64>>(7)?.map(ts),
                    })
                },
            )
            .optional()?)
    }

    fn insert_identity(&mut self, i: &IdentityRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO user_identities (id, issuer, subject, user_id, provider, email,
                 created_at, last_login_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                i.id,
                i.issuer,
                i.subject,
                i.user_id,
                i.provider,
                i.email,
                i.created_at.as_millis(),
                i.last_login_at.map(Timestamp::as_millis)
            ],
        )?;
        Ok(())
    }

    fn delete_identity(&mut self, id: &str) -> Result<Option<IdentityRow>, StoreError> {
        let row = self
            .0
            .query_row(
                &format!(
                    "SELECT {IDENTITY_COLS} FROM user_identities i JOIN users u ON u.id = i.user_id
                     WHERE i.id = ?1"
                ),
                [id],
                identity_row,
            )
            .optional()?;
        self.0
            .execute("DELETE FROM user_identities WHERE id = ?1", [id])?;
        Ok(row)
    }

    fn touch_identity(
        &mut self,
        id: &str,
        email: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE user_identities SET last_login_at = ?2, email = ?3 WHERE id = ?1",
            params![id, now.as_millis(), email],
        )?;
        Ok(())
    }

    fn set_source_bindings(
        &mut self,
        user_id: &str,
        source: &str,
        wanted: &[(String, String, String)],
        now: Timestamp,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), StoreError> {
        let mut st = self
            .0
            .prepare_cached("SELECT id, role, scope, source FROM bindings WHERE user_id = ?1")?;
        let held: Vec<(String, String, String, String)> = st
            .query_map([user_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut removed = Vec::new();
        for (id, role, scope, src) in &held {
            if src == source && !wanted.iter().any(|(_, r, s)| r == role && s == scope) {
                self.0.execute("DELETE FROM bindings WHERE id = ?1", [id])?;
                removed.push((role.clone(), scope.clone()));
            }
        }
        let mut added = Vec::new();
        for (id, role, scope) in wanted {
            if held.iter().any(|(_, r, s, _)| r == role && s == scope) {
                continue;
            }
            self.0.execute(
                "INSERT INTO bindings (id, user_id, role, scope, created_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, user_id, role, scope, now.as_millis(), source],
            )?;
            added.push((role.clone(), scope.clone()));
        }
        Ok((added, removed))
    }
}
