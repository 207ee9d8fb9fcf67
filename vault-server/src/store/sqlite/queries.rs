//! The SQL behind [`Reader`] and [`Writer`] for SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};
use vault_core::audit::{AuditRecord, Outcome};
use vault_core::clock::Timestamp;

use crate::store::{
    ArchiveRow, AuditFilter, EnvRow, KekRow, ProjectRow, Reader, RewrapItem, RewrapJobRow,
    SealConfigRow, SecretHead, SecretRow, StoreError, TokenRow, VersionRow, Writer,
};

/// A connection (or transaction) seen through the storage traits.
pub struct Sql<'a>(pub &'a Connection);

fn ts(v: i64) -> Timestamp {
    Timestamp::from_millis(v)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn project_row(r: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: ts(r.get(2)?),
    })
}

fn env_row(r: &Row<'_>) -> rusqlite::Result<EnvRow> {
    Ok(EnvRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        created_at: ts(r.get(3)?),
    })
}

fn kek_row(r: &Row<'_>) -> rusqlite::Result<KekRow> {
    Ok(KekRow {
        project_id: r.get(0)?,
        version: r.get(1)?,
        wrapped: r.get(2)?,
        state: r.get(3)?,
        created_at: ts(r.get(4)?),
        wrap_count: u64_of(r.get(5)?),
    })
}

const SECRET_COLS: &str = "id, env_id, name, current_version, updated_at, deleted_at, purge_after";

fn secret_row(r: &Row<'_>) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        id: r.get(0)?,
        env_id: r.get(1)?,
        name: r.get(2)?,
        current_version: u64_of(r.get(3)?),
        updated_at: ts(r.get(4)?),
        deleted_at: r.get::<_, Option<i64>>(5)?.map(ts),
        purge_after: r.get::<_, Option<i64>>(6)?.map(ts),
    })
}

const VERSION_COLS: &str = "v.id, v.secret_id, v.version, v.envelope, v.kek_version, v.created_at, v.created_by, v.kind, v.source_version";

fn version_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        id: r.get(0)?,
        secret_id: r.get(1)?,
        version: u64_of(r.get(2)?),
        envelope: r.get(3)?,
        kek_version: r.get(4)?,
        created_at: ts(r.get(5)?),
        created_by: r.get(6)?,
        kind: r.get(7)?,
        source_version: r.get::<_, Option<i64>>(8)?.map(u64_of),
        head_mac: None,
        head_checked: std::sync::OnceLock::new(),
    })
}

/// A version row read as its secret's current version: `VERSION_COLS`,
/// then `s.head_mac`.
fn current_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    let mut v = version_row(r)?;
    v.head_mac = r.get(9)?;
    Ok(v)
}

fn job_row(r: &Row<'_>) -> rusqlite::Result<RewrapJobRow> {
    Ok(RewrapJobRow {
        id: r.get(0)?,
        project: r.get(1)?,
        state: r.get(2)?,
        total: u64_of(r.get(3)?),
        done: u64_of(r.get(4)?),
        started_at: ts(r.get(5)?),
        finished_at: r.get::<_, Option<i64>>(6)?.map(ts),
        error: r.get(7)?,
    })
}

/// Outcome as stored text.
pub fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Denied => "denied",
        Outcome::Error => "error",
    }
}

fn outcome_of(s: &str) -> Outcome {
    match s {
        "success" => Outcome::Success,
        "denied" => Outcome::Denied,
        _ => Outcome::Error,
    }
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let outcome: String = r.get(7)?;
    Ok(AuditRecord {
        seq: u64_of(r.get(0)?),
        time: ts(r.get(1)?),
        request_id: r.get(2)?,
        actor: r.get(3)?,
        token_id: r.get(4)?,
        action: r.get(5)?,
        resource: r.get(6)?,
        outcome: outcome_of(&outcome),
        source: r.get(8)?,
        detail: r.get(9)?,
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

const TOKEN_COLUMNS: &str = "id, hash, kind, origin, created_at, expires_at, revoked_at";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        hash: r.get(1)?,
        kind: r.get(2)?,
        origin: r.get(3)?,
        created_at: ts(r.get(4)?),
        expires_at: r.get::<_, Option<i64>>(5)?.map(ts),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(ts),
    })
}

impl Sql<'_> {
    /// Appends one chained audit record.
    pub fn insert_audit(&self, rec: &AuditRecord) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO audit_log (seq, time, request_id, actor, token_id, action, resource, outcome, source, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                i64_of(rec.seq),
                rec.time.as_millis(),
                rec.request_id,
                rec.actor,
                rec.token_id,
                rec.action,
                rec.resource,
                outcome_text(rec.outcome),
                rec.source,
                rec.detail,
                rec.prev_hash,
                rec.hash,
            ])?;
        Ok(())
    }
}

impl Reader for Sql<'_> {
    fn seal_config(&self) -> Result<Option<SealConfigRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT mode, shares, threshold, passphrase_params, wrapped_root, root_version, created_at FROM seal_config WHERE id = 1",
                [],
                |r| {
                    Ok(SealConfigRow {
                        mode: r.get(0)?,
                        shares: r.get(1)?,
                        threshold: r.get(2)?,
                        passphrase_params: r.get(3)?,
                        wrapped_root: r.get(4)?,
                        root_version: r.get(5)?,
                        created_at: ts(r.get(6)?),
                    })
                },
            )
            .optional()?)
    }

    fn system_secret(&self, label: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT wrapped FROM system_secrets WHERE label = ?1",
                [label],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn system_value(&self, label: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT value FROM system_values WHERE label = ?1",
                [label],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?
            .query_row([id], token_row)
            .optional()?)
    }

    fn root_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut st = self.0.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE kind = 'root' ORDER BY created_at DESC, id"
        ))?;
        let rows = st.query_map([], token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn projects(&self) -> Result<Vec<ProjectRow>, StoreError> {
        let mut st = self
            .0
            .prepare_cached("SELECT id, name, created_at FROM projects ORDER BY name")?;
        let rows = st.query_map([], project_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn project(&self, name: &str) -> Result<Option<ProjectRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT id, name, created_at FROM projects WHERE name = ?1")?
            .query_row([name], project_row)
            .optional()?)
    }

    fn environments(&self, project_id: i64) -> Result<Vec<EnvRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT id, project_id, name, created_at FROM environments WHERE project_id = ?1 ORDER BY name",
        )?;
        let rows = st.query_map([project_id], env_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn environment(&self, project_id: i64, name: &str) -> Result<Option<EnvRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, project_id, name, created_at FROM environments WHERE project_id = ?1 AND name = ?2",
            )?
            .query_row(params![project_id, name], env_row)
            .optional()?)
    }

    fn keks(&self, project_id: i64) -> Result<Vec<KekRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT project_id, version, wrapped, state, created_at, wrap_count FROM keks WHERE project_id = ?1 ORDER BY version",
        )?;
        let rows = st.query_map([project_id], kek_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn data_keys_per_kek(&self, project_id: i64) -> Result<Vec<(u32, u64)>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT kek_version, COUNT(*) FROM secret_versions WHERE project_id = ?1 GROUP BY kek_version",
        )?;
        let rows = st.query_map([project_id], |r| Ok((r.get(0)?, u64_of(r.get(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn secret(&self, env_id: i64, name: &str) -> Result<Option<SecretRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {SECRET_COLS} FROM secrets WHERE env_id = ?1 AND name = ?2"
            ))?
            .query_row(params![env_id, name], secret_row)
            .optional()?)
    }

    fn secrets(&self, env_id: i64) -> Result<Vec<SecretRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {SECRET_COLS} FROM secrets WHERE env_id = ?1 AND deleted_at IS NULL ORDER BY name"
        ))?;
        let rows = st.query_map([env_id], secret_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn trash(&self, env_id: i64) -> Result<Vec<SecretRow>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {SECRET_COLS} FROM secrets WHERE env_id = ?1 AND deleted_at IS NOT NULL ORDER BY name"
        ))?;
        let rows = st.query_map([env_id], secret_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn version(&self, secret_id: i64, version: u64) -> Result<Option<VersionRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {VERSION_COLS} FROM secret_versions v WHERE v.secret_id = ?1 AND v.version = ?2"
            ))?
            .query_row(params![secret_id, i64_of(version)], version_row)
            .optional()?)
    }

    fn current_versions(&self, env_id: i64) -> Result<Vec<(String, VersionRow)>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {VERSION_COLS}, s.head_mac, s.name FROM secrets s JOIN secret_versions v
               ON v.secret_id = s.id AND v.version = s.current_version
             WHERE s.env_id = ?1 AND s.deleted_at IS NULL ORDER BY s.name"
        ))?;
        let rows = st.query_map([env_id], |r| Ok((r.get(10)?, current_row(r)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn version_by_name(
        &self,
        project: &str,
        env: &str,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<VersionRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {VERSION_COLS}, CASE WHEN ?4 IS NULL THEN s.head_mac END FROM projects p
                 JOIN environments e ON e.project_id = p.id AND e.name = ?2
                 JOIN secrets s ON s.env_id = e.id AND s.name = ?3 AND s.deleted_at IS NULL
                 JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE(?4, s.current_version)
                 WHERE p.name = ?1"
            ))?
            .query_row(
                params![project, env, name, version.map(i64_of)],
                current_row,
            )
            .optional()?)
    }

    fn current_versions_by_name(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Vec<(String, VersionRow)>, StoreError> {
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {VERSION_COLS}, s.head_mac, s.name FROM projects p
             JOIN environments e ON e.project_id = p.id AND e.name = ?2
             JOIN secrets s ON s.env_id = e.id AND s.deleted_at IS NULL
             JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version
             WHERE p.name = ?1 ORDER BY s.name"
        ))?;
        let rows = st.query_map(params![project, env], |r| Ok((r.get(10)?, current_row(r)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn history(&self, secret_id: i64) -> Result<Vec<VersionRow>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT v.id, v.secret_id, v.version, X'', v.kek_version, v.created_at, v.created_by, v.kind, v.source_version
             FROM secret_versions v WHERE v.secret_id = ?1 ORDER BY v.version DESC",
        )?;
        let rows = st.query_map([secret_id], version_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn rewrap_batch(
        &self,
        project_id: i64,
        active: u32,
        after: i64,
        limit: usize,
    ) -> Result<Vec<RewrapItem>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT v.id, e.name, s.name, v.version, v.kek_version, v.envelope
             FROM secret_versions v
             JOIN secrets s ON s.id = v.secret_id
             JOIN environments e ON e.id = s.env_id
             WHERE v.project_id = ?1 AND v.kek_version <> ?2 AND v.id > ?3
             ORDER BY v.id LIMIT ?4",
        )?;
        let rows = st.query_map(
            params![
                project_id,
                active,
                after,
                i64::try_from(limit).unwrap_or(1000)
            ],
            |r| {
                Ok(RewrapItem {
                    id: r.get(0)?,
                    env: r.get(1)?,
                    name: r.get(2)?,
                    version: u64_of(r.get(3)?),
                    kek_version: r.get(4)?,
                    envelope: r.get(5)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_not_on(&self, project_id: i64, active: u32) -> Result<u64, StoreError> {
        let n: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM secret_versions WHERE project_id = ?1 AND kek_version <> ?2",
            params![project_id, active],
            |r| r.get(0),
        )?;
        Ok(u64_of(n))
    }

    fn rewrap_job(&self, id: &str) -> Result<Option<RewrapJobRow>, StoreError> {
        Ok(self
            .0
            .query_row(
                "SELECT id, project, state, total, done, started_at, finished_at, error FROM rewrap_jobs WHERE id = ?1",
                [id],
                job_row,
            )
            .optional()?)
    }

    fn running_rewrap_jobs(&self) -> Result<Vec<RewrapJobRow>, StoreError> {
        let mut st = self.0.prepare(
            "SELECT id, project, state, total, done, started_at, finished_at, error FROM rewrap_jobs WHERE state = 'running' ORDER BY started_at",
        )?;
        let rows = st.query_map([], job_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expired_trash(&self, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let mut st = self.0.prepare(
            "SELECT id FROM secrets WHERE purge_after IS NOT NULL AND purge_after <= ?1",
        )?;
        let rows = st.query_map([now.as_millis()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        let last = self
            .0
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((u64_of(r.get(0)?), r.get(1)?)),
            )
            .optional()?;
        if last.is_some() {
            return Ok(last);
        }
        // Everything may have moved to archives: continue after the last one.
        Ok(self
            .0
            .query_row(
                "SELECT last_seq, last_hash FROM audit_archives ORDER BY last_seq DESC LIMIT 1",
                [],
                |r| Ok((u64_of(r.get(0)?), r.get(1)?)),
            )
            .optional()?)
    }

    fn audit_records(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, time, request_id, actor, token_id, action, resource, outcome, source, detail, prev_hash, hash FROM audit_log WHERE 1=1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        use rusqlite::types::Value as V;
        if let Some(t) = f.from {
            sql.push_str(" AND time >= ?");
            args.push(V::Integer(t.as_millis()));
        }
        if let Some(t) = f.to {
            sql.push_str(" AND time < ?");
            args.push(V::Integer(t.as_millis()));
        }
        if let Some(a) = &f.actor {
            sql.push_str(" AND actor = ?");
            args.push(V::Text(a.clone()));
        }
        if let Some(a) = &f.action {
            if let Some(prefix) = a.strip_suffix('*') {
                sql.push_str(" AND substr(action, 1, ?) = ?");
                args.push(V::Integer(i64::try_from(prefix.len()).unwrap_or(0)));
                args.push(V::Text(prefix.to_owned()));
            } else {
                sql.push_str(" AND action = ?");
                args.push(V::Text(a.clone()));
            }
        }
        if let Some(r) = &f.resource {
            sql.push_str(" AND substr(resource, 1, ?) = ?");
            args.push(V::Integer(i64::try_from(r.len()).unwrap_or(0)));
            args.push(V::Text(r.clone()));
        }
        if let Some(a) = f.after {
            sql.push_str(" AND seq > ?");
            args.push(V::Integer(i64_of(a)));
        }
        if let Some(b) = f.before {
            sql.push_str(" AND seq < ?");
            args.push(V::Integer(i64_of(b)));
        }
        sql.push_str(if f.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        if let Some(l) = f.limit {
            sql.push_str(" LIMIT ?");
            args.push(V::Integer(i64_of(l)));
        }
        let mut st = self.0.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), audit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_checkpoints(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .0
            .prepare("SELECT checkpoint FROM audit_checkpoints ORDER BY seq")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_archives(&self) -> Result<Vec<ArchiveRow>, StoreError> {
        let mut st = self.0.prepare(
            "SELECT first_seq, last_seq, last_hash, file FROM audit_archives ORDER BY first_seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ArchiveRow {
                first_seq: u64_of(r.get(0)?),
                last_seq: u64_of(r.get(1)?),
                last_hash: r.get(2)?,
                file: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Writer for Sql<'_> {
    fn put_seal_config(&mut self, c: &SealConfigRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR REPLACE INTO seal_config (id, mode, shares, threshold, passphrase_params, wrapped_root, root_version, created_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                c.mode,
                c.shares,
                c.threshold,
                c.passphrase_params,
                c.wrapped_root,
                c.root_version,
                c.created_at.as_millis()
            ],
        )?;
        Ok(())
    }

    fn put_system_secret(&mut self, label: &str, wrapped: &[u8]) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR REPLACE INTO system_secrets (label, wrapped) VALUES (?1, ?2)",
            params![label, wrapped],
        )?;
        Ok(())
    }

    fn put_system_value(&mut self, label: &str, value: &[u8]) -> Result<(), StoreError> {
        // Cached: the writer stores the audit head MAC with every commit.
        self.0
            .prepare_cached("INSERT OR REPLACE INTO system_values (label, value) VALUES (?1, ?2)")?
            .execute(params![label, value])?;
        Ok(())
    }

    fn insert_token(&mut self, t: &TokenRow, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO tokens (id, hash, kind, created_at, expires_at, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t.id,
                t.hash,
                t.kind,
                now.as_millis(),
                t.expires_at.map(|e| e.as_millis()),
                t.origin
            ],
        )?;
        Ok(())
    }

    fn revoke_root_token(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND kind = 'root' AND revoked_at IS NULL",
            params![id, now.as_millis()],
        )?;
        Ok(())
    }

    fn insert_project(&mut self, name: &str, now: Timestamp) -> Result<ProjectRow, StoreError> {
        self.0.execute(
            "INSERT INTO projects (name, created_at) VALUES (?1, ?2)",
            params![name, now.as_millis()],
        )?;
        Ok(ProjectRow {
            id: self.0.last_insert_rowid(),
            name: name.to_owned(),
            created_at: now,
        })
    }

    fn delete_project(&mut self, project_id: i64) -> Result<(), StoreError> {
        // Keys first and explicitly: with them gone the data is unreadable
        // even in a backup taken before the cascade below.
        self.0
            .execute("DELETE FROM keks WHERE project_id = ?1", [project_id])?;
        self.0
            .execute("DELETE FROM projects WHERE id = ?1", [project_id])?;
        Ok(())
    }

    fn insert_environment(
        &mut self,
        project_id: i64,
        name: &str,
        now: Timestamp,
    ) -> Result<EnvRow, StoreError> {
        self.0.execute(
            "INSERT INTO environments (project_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![project_id, name, now.as_millis()],
        )?;
        Ok(EnvRow {
            id: self.0.last_insert_rowid(),
            project_id,
            name: name.to_owned(),
            created_at: now,
        })
    }

    fn insert_kek(&mut self, k: &KekRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO keks (project_id, version, wrapped, state, created_at, wrap_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                k.project_id,
                k.version,
                k.wrapped,
                k.state,
                k.created_at.as_millis(),
                i64_of(k.wrap_count)
            ],
        )?;
        Ok(())
    }

    fn set_kek_state(
        &mut self,
        project_id: i64,
        version: u32,
        state: &str,
    ) -> Result<(), StoreError> {
        if state == "destroyed" {
            self.0.execute(
                "UPDATE keks SET state = ?3, wrapped = NULL WHERE project_id = ?1 AND version = ?2",
                params![project_id, version, state],
            )?;
        } else {
            self.0.execute(
                "UPDATE keks SET state = ?3 WHERE project_id = ?1 AND version = ?2",
                params![project_id, version, state],
            )?;
        }
        Ok(())
    }

    fn set_kek_wrapped(
        &mut self,
        project_id: i64,
        version: u32,
        wrapped: &[u8],
    ) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE keks SET wrapped = ?3 WHERE project_id = ?1 AND version = ?2",
            params![project_id, version, wrapped],
        )?;
        Ok(())
    }

    fn add_wraps(&mut self, project_id: i64, version: u32, n: u64) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE keks SET wrap_count = wrap_count + ?3 WHERE project_id = ?1 AND version = ?2",
            )?
            .execute(params![project_id, version, i64_of(n)])?;
        Ok(())
    }

    fn insert_secret(
        &mut self,
        env_id: i64,
        name: &str,
        version: u64,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO secrets (env_id, name, current_version, updated_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![env_id, name, i64_of(version), now.as_millis()])?;
        Ok(self.0.last_insert_rowid())
    }

    fn set_current(
        &mut self,
        secret_id: i64,
        version: u64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE secrets SET current_version = ?2, updated_at = ?3, deleted_at = NULL, purge_after = NULL WHERE id = ?1",
            )?
            .execute(params![secret_id, i64_of(version), now.as_millis()])?;
        Ok(())
    }

    fn set_head_mac(&mut self, secret_id: i64, mac: &[u8]) -> Result<(), StoreError> {
        self.0
            .prepare_cached("UPDATE secrets SET head_mac = ?2 WHERE id = ?1")?
            .execute(params![secret_id, mac])?;
        Ok(())
    }

    fn secret_heads_with_mac(&self) -> Result<u64, StoreError> {
        Ok(u64_of(self.0.query_row(
            "SELECT COUNT(*) FROM secrets WHERE head_mac IS NOT NULL",
            [],
            |r| r.get(0),
        )?))
    }

    fn secret_heads(&self) -> Result<Vec<SecretHead>, StoreError> {
        let mut st = self.0.prepare(
            "SELECT s.id, p.name, e.name, s.name, s.current_version FROM secrets s
             JOIN environments e ON e.id = s.env_id JOIN projects p ON p.id = e.project_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SecretHead {
                id: r.get(0)?,
                project: r.get(1)?,
                environment: r.get(2)?,
                name: r.get(3)?,
                version: u64_of(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_version(&mut self, project_id: i64, v: &VersionRow) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO secret_versions (secret_id, project_id, version, envelope, kek_version, created_at, created_by, kind, source_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                v.secret_id,
                project_id,
                i64_of(v.version),
                v.envelope,
                v.kek_version,
                v.created_at.as_millis(),
                v.created_by,
                v.kind,
                v.source_version.map(i64_of)
            ])?;
        Ok(())
    }

    fn trash_secret(
        &mut self,
        secret_id: i64,
        now: Timestamp,
        purge_after: Timestamp,
    ) -> Result<(), StoreError> {
        self.0.execute(
            "UPDATE secrets SET deleted_at = ?2, purge_after = ?3, updated_at = ?2 WHERE id = ?1",
            params![secret_id, now.as_millis(), purge_after.as_millis()],
        )?;
        Ok(())
    }

    fn destroy_secret(&mut self, secret_id: i64) -> Result<(), StoreError> {
        self.0.execute(
            "DELETE FROM secret_versions WHERE secret_id = ?1",
            [secret_id],
        )?;
        self.0
            .execute("DELETE FROM secrets WHERE id = ?1", [secret_id])?;
        Ok(())
    }

    fn replace_envelope(
        &mut self,
        version_id: i64,
        old_kek: u32,
        new_kek: u32,
        envelope: &[u8],
    ) -> Result<bool, StoreError> {
        let n = self
            .0
            .prepare_cached(
                "UPDATE secret_versions SET envelope = ?4, kek_version = ?3 WHERE id = ?1 AND kek_version = ?2",
            )?
            .execute(params![version_id, old_kek, new_kek, envelope])?;
        Ok(n == 1)
    }

    fn put_rewrap_job(&mut self, j: &RewrapJobRow) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR REPLACE INTO rewrap_jobs (id, project, state, total, done, started_at, finished_at, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                j.id,
                j.project,
                j.state,
                i64_of(j.total),
                i64_of(j.done),
                j.started_at.as_millis(),
                j.finished_at.map(Timestamp::as_millis),
                j.error
            ],
        )?;
        Ok(())
    }

    fn insert_checkpoint(&mut self, seq: u64, json: &str) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR REPLACE INTO audit_checkpoints (seq, checkpoint) VALUES (?1, ?2)",
            params![i64_of(seq), json],
        )?;
        Ok(())
    }

    fn archive_audit(&mut self, a: &ArchiveRow, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO audit_archives (first_seq, last_seq, last_hash, file, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i64_of(a.first_seq),
                i64_of(a.last_seq),
                a.last_hash,
                a.file,
                now.as_millis()
            ],
        )?;
        self.0.execute(
            "DELETE FROM audit_log WHERE seq <= ?1",
            [i64_of(a.last_seq)],
        )?;
        self.0.execute(
            "DELETE FROM audit_checkpoints WHERE seq <= ?1",
            [i64_of(a.last_seq)],
        )?;
        Ok(())
    }
}
