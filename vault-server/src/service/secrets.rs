//! Projects, environments and secrets: versions, bundle, history, rollback,
//! compare-and-set, trash, restore, destroy, crypto-shredding.

use std::collections::BTreeMap;
use std::sync::Arc;

use vault_core::api::{
    Bundle, Environment, EnvironmentList, HistoryEntry, Project, ProjectList, SecretHistory,
    SecretList, SecretMeta, SecretSummary, SecretValue, TrashList, TrashedSecret,
};
use vault_core::audit::Outcome;
use vault_core::clock::Timestamp;
use vault_core::crypto::{Envelope, KeyRing, SecretContext};
use vault_core::names::{EnvName, ProjectName, SecretName};
use vault_core::secret::{SecretBytes, SecretText};

use super::keys::{new_kek_row, ring_from_rows};
use super::{Action, Ctx, Error, Result, Unsealed, Vault, access};
use crate::store::{EnvRow, ProjectRow, Reader, SecretRow, VersionRow, Writer};

/// Largest secret value in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

fn locate(r: &dyn Reader, p: &ProjectName, e: &EnvName) -> Result<(ProjectRow, EnvRow)> {
    let project = r
        .project(p.as_str())?
        .ok_or_else(|| Error::not_found("project.not_found", format!("no project {p}")))?;
    let env = r.environment(project.id, e.as_str())?.ok_or_else(|| {
        Error::not_found("environment.not_found", format!("no environment {p}/{e}"))
    })?;
    Ok((project, env))
}

fn live_secret(r: &dyn Reader, env: &EnvRow, n: &SecretName) -> Result<SecretRow> {
    match r.secret(env.id, n.as_str())? {
        Some(s) if s.deleted_at.is_none() => Ok(s),
        Some(_) => Err(Error::not_found(
            "secret.in_trash",
            format!("secret {n} is in the trash; restore it first"),
        )),
        None => Err(Error::not_found(
            "secret.not_found",
            format!("no secret {n}"),
        )),
    }
}

fn trashed_secret(r: &dyn Reader, env: &EnvRow, n: &SecretName) -> Result<SecretRow> {
    r.secret(env.id, n.as_str())?
        .filter(|s| s.deleted_at.is_some())
        .ok_or_else(|| Error::not_found("trash.not_found", format!("{n} is not in the trash")))
}

fn trashed(s: &SecretRow) -> TrashedSecret {
    TrashedSecret {
        name: s.name.clone(),
        version: s.current_version,
        deleted_at: s.deleted_at.unwrap_or(s.updated_at),
        purge_after: s.purge_after.unwrap_or(s.updated_at),
    }
}

/// A value to store, with how it came to be.
struct NewVersion {
    value: SecretBytes,
    cas: Option<u64>,
    kind: &'static str,
    source_version: Option<u64>,
}

impl Vault {
    /// `GET /v1/projects`.
    pub async fn list_projects(&self, ctx: &Ctx) -> Result<ProjectList> {
        self.audited(ctx, Action::ProjectList, "projects", |who| async move {
            self.unsealed()?;
            let rows = self.store().read(|r| r.projects()).await?;
            Ok(ProjectList {
                projects: rows
                    .into_iter()
                    .filter(|p| access::sees_project(&who, &p.name))
                    .map(|p| Project {
                        name: p.name,
                        created_at: p.created_at,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `POST /v1/projects`: a project with its first KEK.
    pub async fn create_project(&self, ctx: &Ctx, name: &ProjectName) -> Result<Project> {
        let u = self.unsealed()?;
        let now = self.clock().now();
        let name2 = name.clone();
        self.audited_write(ctx, Action::ProjectCreate, name.as_str(), move |w, _| {
            if w.project(name2.as_str())?.is_some() {
                return Err(Error::conflict(
                    "project.exists",
                    format!("project {name2} already exists"),
                ));
            }
            let p = w.insert_project(name2.as_str(), now)?;
            w.insert_kek(&new_kek_row(&u.root, &name2, p.id, 1, now)?)?;
            Ok(Project {
                name: p.name,
                created_at: p.created_at,
            })
        })
        .await
    }

    /// `DELETE /v1/projects/{p}`: deletes its KEKs first (crypto-shredding).
    pub async fn delete_project(&self, ctx: &Ctx, name: &ProjectName) -> Result<()> {
        self.unsealed()?;
        let name2 = name.clone();
        let res = self
            .audited_write_as(
                ctx,
                Action::ProjectDelete,
                name.as_str(),
                true,
                move |w, _| {
                    let p = w.project(name2.as_str())?.ok_or_else(|| {
                        Error::not_found("project.not_found", format!("no project {name2}"))
                    })?;
                    w.delete_project(p.id)?;
                    Ok(())
                },
            )
            .await;
        self.forget_keys(name.as_str());
        if res.is_ok() {
            // The rows are overwritten (secure_delete); now the WAL's old
            // copies of those pages go too.
            let store = self.store().0.clone();
            let purged = tokio::task::spawn_blocking(move || {
                // Busy readers can hold the WAL for a moment: a few tries.
                let mut last = Ok(());
                for _ in 0..5 {
                    last = store.purge_old_pages();
                    if last.is_ok() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                last
            })
            .await
            .map_err(Error::internal)?;
            if let Err(e) = purged {
                tracing::warn!(error = %e, "WAL truncation after a project delete failed");
            }
        }
        res
    }

    /// `GET /v1/projects/{p}/environments`.
    pub async fn list_environments(&self, ctx: &Ctx, p: &ProjectName) -> Result<EnvironmentList> {
        self.audited(ctx, Action::EnvList, p.as_str(), |who| async move {
            self.unsealed()?;
            let p2 = p.clone();
            let envs = self
                .store()
                .read(move |r| {
                    Ok(match r.project(p2.as_str())? {
                        Some(pr) => Some(r.environments(pr.id)?),
                        None => None,
                    })
                })
                .await?
                .ok_or_else(|| Error::not_found("project.not_found", format!("no project {p}")))?;
            Ok(EnvironmentList {
                environments: envs
                    .into_iter()
                    .filter(|e| access::sees_environment(&who, p, &e.name))
                    .map(|e| Environment {
                        project: p.to_string(),
                        name: e.name,
                        created_at: e.created_at,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `POST /v1/projects/{p}/environments`.
    pub async fn create_environment(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
    ) -> Result<Environment> {
        self.unsealed()?;
        let now = self.clock().now();
        let (p2, e2) = (p.clone(), e.clone());
        self.audited_write(ctx, Action::EnvCreate, &format!("{p}/{e}"), move |w, _| {
            let pr = w
                .project(p2.as_str())?
                .ok_or_else(|| Error::not_found("project.not_found", format!("no project {p2}")))?;
            if w.environment(pr.id, e2.as_str())?.is_some() {
                return Err(Error::conflict(
                    "environment.exists",
                    format!("environment {p2}/{e2} already exists"),
                ));
            }
            let env = w.insert_environment(pr.id, e2.as_str(), now)?;
            Ok(Environment {
                project: p2.to_string(),
                name: env.name,
                created_at: env.created_at,
            })
        })
        .await
    }

    /// `GET .../secrets`: names only.
    pub async fn list_secrets(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
    ) -> Result<SecretList> {
        self.audited(ctx, Action::SecretList, &format!("{p}/{e}"), |_| async {
            self.unsealed()?;
            let (p2, e2) = (p.clone(), e.clone());
            let rows = self
                .store()
                .read(move |r| Ok(locate(r, &p2, &e2).and_then(|(_, env)| Ok(r.secrets(env.id)?))))
                .await??;
            Ok(SecretList {
                secrets: rows
                    .into_iter()
                    .map(|s| SecretSummary {
                        name: s.name,
                        version: s.current_version,
                        updated_at: s.updated_at,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// Opens one stored version; an authentication failure becomes an
    /// integrity error plus a critical audit event, never a value.
    /// Opens a stored version. When it is read as the secret's current
    /// version (`current`), the head MAC must first vouch that it is the
    /// current one, so an older genuine version put back as current in the
    /// database is an integrity error, not an answer.
    #[allow(clippy::too_many_arguments)]
    async fn open_version(
        &self,
        ctx: &Ctx,
        u: &Unsealed,
        ring: &KeyRing,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        row: &VersionRow,
        current: bool,
    ) -> Result<SecretText> {
        if current {
            let vouched = *row.head_checked.get_or_init(|| {
                row.head_mac.as_deref().is_some_and(|mac| {
                    u.secret_heads
                        .verify(p.as_str(), e.as_str(), n.as_str(), row.version, mac)
                })
            });
            if !vouched {
                return Err(self
                    .integrity_failure(
                        ctx,
                        p,
                        e,
                        n,
                        row.version,
                        "its current version is not the one last written",
                    )
                    .await);
            }
        }
        let sctx = SecretContext {
            project: p.clone(),
            environment: e.clone(),
            name: n.clone(),
            version: row.version,
        };
        let opened = Envelope::from_bytes(row.envelope.clone())
            .ok()
            .filter(|env| env.kek_version() == row.kek_version)
            .and_then(|env| ring.open(&sctx, &env).ok())
            .and_then(SecretText::from_utf8);
        match opened {
            Some(v) => Ok(v),
            None => Err(self
                .integrity_failure(
                    ctx,
                    p,
                    e,
                    n,
                    row.version,
                    "stored ciphertext failed authentication",
                )
                .await),
        }
    }

    /// Reports a stored secret that failed an integrity check: forgets it in
    /// the read cache, counts it, logs and audits it as critical; the error
    /// to answer (or the audit failure, failing closed).
    async fn integrity_failure(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        version: u64,
        what: &str,
    ) -> Error {
        // The next read goes back to the database.
        let resource = format!("{p}/{e}/{n}");
        self.cache().forget(
            &version_key(&resource, Some(version)),
            &version_key(&resource, None),
            &format!("{p}/{e}/*"),
        );
        self.metrics().integrity_failures.inc();
        tracing::error!(resource = %resource, version, problem = what, "CRITICAL: secret integrity failure");
        let entry = self.entry(
            ctx,
            None,
            "secret.integrity_failure",
            &format!("{resource}@{version}"),
            Outcome::Error,
            Some(format!("critical: {what}")),
        );
        match self.audit(ctx, entry).await {
            Ok(()) => Error::integrity(),
            Err(e) => e,
        }
    }

    /// `GET .../secrets/{name}[?version=N]`.
    pub async fn read_secret(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        version: Option<u64>,
    ) -> Result<SecretValue> {
        let resource = format!("{p}/{e}/{n}");
        let key = version_key(&resource, version);
        let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
        let cache = self.cache().clone();
        let fill_key = key.clone();
        let read = move |r: &dyn Reader| -> Result<Arc<VersionRow>> {
            let generation = cache.generation();
            // One indexed query on the hot path; the step-by-step lookup
            // below only runs to name what is missing.
            if let Some(row) = r.version_by_name(p2.as_str(), e2.as_str(), n2.as_str(), version)? {
                let row = Arc::new(row);
                cache.put_version(fill_key, row.clone(), generation);
                return Ok(row);
            }
            let (_, env) = locate(r, &p2, &e2)?;
            let s = live_secret(r, &env, &n2)?;
            let v = version.unwrap_or(s.current_version);
            let row = r.version(s.id, v)?.ok_or_else(|| {
                Error::not_found(
                    "secret.version_not_found",
                    format!("no version {v} of {n2}"),
                )
            })?;
            Ok(Arc::new(row))
        };
        self.audited_read(
            ctx,
            Action::SecretRead,
            &resource,
            || self.cache().version(&key),
            read,
            |_, row| async move {
                let u = self.unsealed()?;
                let ring = self.keyring(&u, p).await?;
                let value = self
                    .open_version(ctx, &u, &ring, p, e, n, &row, version.is_none())
                    .await?;
                self.metrics().secret_reads.inc();
                Ok(SecretValue {
                    name: n.to_string(),
                    version: row.version,
                    value,
                    created_at: row.created_at,
                    created_by: row.created_by.clone(),
                })
            },
        )
        .await
    }

    /// `GET .../bundle`: every current value in one answer.
    pub async fn bundle(&self, ctx: &Ctx, p: &ProjectName, e: &EnvName) -> Result<Bundle> {
        let (p2, e2) = (p.clone(), e.clone());
        let resource = format!("{p}/{e}/*");
        let cache = self.cache().clone();
        let fill_key = resource.clone();
        let read = move |r: &dyn Reader| -> Result<Arc<Vec<(String, VersionRow)>>> {
            let generation = cache.generation();
            let rows = r.current_versions_by_name(p2.as_str(), e2.as_str())?;
            if rows.is_empty() {
                // Empty, or missing: say which.
                locate(r, &p2, &e2)?;
            }
            let rows = Arc::new(rows);
            cache.put_bundle(fill_key, rows.clone(), generation);
            Ok(rows)
        };
        self.audited_read(
            ctx,
            Action::SecretRead,
            &resource,
            || self.cache().bundle(&resource),
            read,
            |_, rows| async move {
                let u = self.unsealed()?;
                let ring = self.keyring(&u, p).await?;
                let mut secrets = BTreeMap::new();
                for (name, row) in rows.iter() {
                    let n = SecretName::parse(name)
                        .map_err(|_| Error::internal("stored secret name invalid"))?;
                    let v = self
                        .open_version(ctx, &u, &ring, p, e, &n, row, true)
                        .await?;
                    secrets.insert(name.clone(), v);
                }
                self.metrics().secret_reads.inc();
                Ok(Bundle {
                    project: p.to_string(),
                    environment: e.to_string(),
                    secrets,
                })
            },
        )
        .await
    }

    /// `PUT .../secrets/{name}`: a new version under a fresh data key.
    pub async fn write_secret(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        value: SecretText,
        cas: Option<u64>,
    ) -> Result<SecretMeta> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::bad(
                "secret.value_too_large",
                format!("secret values are at most {MAX_VALUE_BYTES} bytes"),
            ));
        }
        refuse_undeliverable(&value)?;
        let nv = NewVersion {
            value: value.to_bytes(),
            cas,
            kind: "write",
            source_version: None,
        };
        self.store_version(ctx, p, e, n, nv).await
    }

    /// `POST .../rollback`: the value of an old version becomes a new version.
    pub async fn rollback(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        version: u64,
        cas: Option<u64>,
    ) -> Result<SecretMeta> {
        let resource = format!("{p}/{e}/{n}");
        // The old value is read to be copied, never shown: the route needs
        // `secrets.write` alone, as it declares. The read is still audited.
        let old = self
            .audited(ctx, Action::SecretWrite, &resource, |_| async {
                let u = self.unsealed()?;
                let ring = self.keyring(&u, p).await?;
                let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
                let row = self
                    .store()
                    .read(move |r| {
                        Ok((|| -> Result<_> {
                            let (_, env) = locate(r, &p2, &e2)?;
                            let s = live_secret(r, &env, &n2)?;
                            r.version(s.id, version)?.ok_or_else(|| {
                                Error::not_found(
                                    "secret.version_not_found",
                                    format!("no version {version} of {n2}"),
                                )
                            })
                        })())
                    })
                    .await??;
                // An explicit old version: genuine by its own AD, not "current".
                self.open_version(ctx, &u, &ring, p, e, n, &row, false)
                    .await
            })
            .await?;
        refuse_undeliverable(&old)?;
        let nv = NewVersion {
            value: old.to_bytes(),
            cas,
            kind: "rollback",
            source_version: Some(version),
        };
        self.store_version(ctx, p, e, n, nv).await
    }

    async fn store_version(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
        nv: NewVersion,
    ) -> Result<SecretMeta> {
        let u = self.unsealed()?;
        let resource = format!("{p}/{e}/{n}");
        let ring = match self.keyring(&u, p).await {
            Ok(r) => r,
            Err(err) if err.kind == super::Kind::NotFound => {
                // Decide first: a caller who may not write here must not
                // learn whether the project exists.
                self.authorize(ctx, Action::SecretWrite, &resource).await?;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        let now = self.clock().now();
        let policy = self.settings().rotation;
        let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
        let (meta, due) = self
            .audited_write(ctx, Action::SecretWrite, &resource, move |w, who| {
                write_in(w, &u, ring, &p2, &e2, &n2, nv, &who.actor(), now, policy)
            })
            .await?;
        self.metrics().secret_writes.inc();
        if due {
            let vault = self.clone();
            let project = p.clone();
            tokio::spawn(async move {
                if let Err(e) = vault.rotate_if_due(&project).await {
                    tracing::warn!(error = %e, "automatic rotation failed");
                }
            });
        }
        Ok(meta)
    }

    /// `GET .../secrets/{name}/history`.
    pub async fn history(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
    ) -> Result<SecretHistory> {
        let resource = format!("{p}/{e}/{n}");
        self.audited(ctx, Action::SecretHistory, &resource, |_| async {
            self.unsealed()?;
            let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
            let rows = self
                .store()
                .read(move |r| {
                    Ok((|| -> Result<_> {
                        let (_, env) = locate(r, &p2, &e2)?;
                        let s = r.secret(env.id, n2.as_str())?.ok_or_else(|| {
                            Error::not_found("secret.not_found", format!("no secret {n2}"))
                        })?;
                        Ok(r.history(s.id)?)
                    })())
                })
                .await??;
            Ok(SecretHistory {
                name: n.to_string(),
                versions: rows
                    .into_iter()
                    .map(|v| HistoryEntry {
                        version: v.version,
                        created_at: v.created_at,
                        created_by: v.created_by,
                        kind: v.kind,
                        source_version: v.source_version,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `DELETE .../secrets/{name}`: into the trash.
    pub async fn trash_secret(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
    ) -> Result<TrashedSecret> {
        self.unsealed()?;
        let now = self.clock().now();
        let purge_after = now.plus_secs(self.settings().trash_retention_secs);
        let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
        self.audited_write(
            ctx,
            Action::SecretDelete,
            &format!("{p}/{e}/{n}"),
            move |w, _| {
                let (_, env) = locate(w, &p2, &e2)?;
                let mut s = live_secret(w, &env, &n2)?;
                w.trash_secret(s.id, now, purge_after)?;
                s.deleted_at = Some(now);
                s.purge_after = Some(purge_after);
                Ok(trashed(&s))
            },
        )
        .await
    }

    /// `GET .../trash`.
    pub async fn trash_list(&self, ctx: &Ctx, p: &ProjectName, e: &EnvName) -> Result<TrashList> {
        self.audited(
            ctx,
            Action::SecretDelete,
            &format!("{p}/{e}/trash"),
            |_| async {
                self.unsealed()?;
                let (p2, e2) = (p.clone(), e.clone());
                let rows = self
                    .store()
                    .read(
                        move |r| Ok(locate(r, &p2, &e2).and_then(|(_, env)| Ok(r.trash(env.id)?))),
                    )
                    .await??;
                Ok(TrashList {
                    secrets: rows.iter().map(trashed).collect(),
                })
            },
        )
        .await
    }

    /// `POST .../trash/{name}/restore`.
    pub async fn restore(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
    ) -> Result<SecretMeta> {
        self.unsealed()?;
        let now = self.clock().now();
        let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
        self.audited_write(
            ctx,
            Action::SecretWrite,
            &format!("{p}/{e}/{n}"),
            move |w, _| {
                let (_, env) = locate(w, &p2, &e2)?;
                let s = trashed_secret(w, &env, &n2)?;
                w.set_current(s.id, s.current_version, now)?;
                let v = w
                    .version(s.id, s.current_version)?
                    .ok_or_else(|| Error::internal("trashed secret has no current version row"))?;
                Ok(SecretMeta {
                    name: s.name,
                    version: v.version,
                    created_at: v.created_at,
                    created_by: v.created_by,
                })
            },
        )
        .await
    }

    /// `DELETE .../trash/{name}`: destroy for good.
    pub async fn destroy(
        &self,
        ctx: &Ctx,
        p: &ProjectName,
        e: &EnvName,
        n: &SecretName,
    ) -> Result<()> {
        self.unsealed()?;
        let (p2, e2, n2) = (p.clone(), e.clone(), n.clone());
        self.audited_write_as(
            ctx,
            Action::SecretDelete,
            &format!("{p}/{e}/{n}"),
            true,
            move |w, _| {
                let (_, env) = locate(w, &p2, &e2)?;
                let s = trashed_secret(w, &env, &n2)?;
                w.destroy_secret(s.id)?;
                Ok(())
            },
        )
        .await
    }

    /// Destroys trashed secrets whose window has passed (background task).
    pub async fn purge_trash(&self) -> Result<usize> {
        let now = self.clock().now();
        let ids = self.store().read(move |r| r.expired_trash(now)).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let n = ids.len();
        let ctx = Ctx::system("purge");
        let entry = self.entry(
            &ctx,
            None,
            "secret.purge",
            "trash",
            Outcome::Success,
            Some(format!("{n} secrets past their recovery window")),
        );
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                for id in ids {
                    w.destroy_secret(id)?;
                }
                Ok(())
            })
            .await
            .map_err(Error::internal)??;
        Ok(n)
    }
}

/// The body of a secret write, inside the writer's transaction. Returns the
/// new version's metadata and whether the active KEK is due for rotation.
#[allow(clippy::too_many_arguments)]
fn write_in(
    w: &mut dyn Writer,
    u: &Unsealed,
    ring: Arc<KeyRing>,
    p: &ProjectName,
    e: &EnvName,
    n: &SecretName,
    nv: NewVersion,
    actor: &str,
    now: Timestamp,
    policy: vault_core::crypto::RotationPolicy,
) -> Result<(SecretMeta, bool)> {
    let (project, env) = locate(w, p, e)?;
    let existing = w.secret(env.id, n.as_str())?;
    if existing.as_ref().is_some_and(|s| s.deleted_at.is_some()) {
        return Err(Error::conflict(
            "secret.in_trash",
            format!("secret {n} is in the trash; restore or destroy it first"),
        ));
    }
    let current = existing.as_ref().map_or(0, |s| s.current_version);
    if let Some(expected) = nv.cas
        && expected != current
    {
        return Err(Error::conflict(
            "secret.cas_mismatch",
            format!("current version is {current}, not {expected}"),
        ));
    }
    let keks = w.keks(project.id)?;
    let active = keks
        .iter()
        .find(|k| k.state == "active")
        .ok_or_else(|| Error::internal("project has no active KEK"))?;
    // The cached ring may predate a rotation: seal with what the database says.
    let ring = if ring.active().map(|k| k.version()) == Some(active.version) {
        ring
    } else {
        Arc::new(ring_from_rows(&u.root, p, &keks)?)
    };
    let version = current + 1;
    let sctx = SecretContext {
        project: p.clone(),
        environment: e.clone(),
        name: n.clone(),
        version,
    };
    let envelope = ring.seal(&sctx, &nv.value).map_err(Error::internal)?;
    let secret_id = match &existing {
        Some(s) => {
            w.set_current(s.id, version, now)?;
            s.id
        }
        None => w.insert_secret(env.id, n.as_str(), version, now)?,
    };
    w.set_head_mac(
        secret_id,
        &u.secret_heads
            .tag(p.as_str(), e.as_str(), n.as_str(), version),
    )?;
    w.insert_version(
        project.id,
        &VersionRow {
            id: 0,
            secret_id,
            version,
            envelope: envelope.as_bytes().to_vec(),
            kek_version: envelope.kek_version(),
            created_at: now,
            created_by: actor.to_owned(),
            kind: nv.kind.to_owned(),
            source_version: nv.source_version,
            head_mac: None,
            head_checked: std::sync::OnceLock::new(),
        },
    )?;
    w.add_wraps(project.id, active.version, 1)?;
    let due = policy
        .due(active.created_at, active.wrap_count + 1, now)
        .is_some();
    Ok((
        SecretMeta {
            name: n.to_string(),
            version,
            created_at: now,
            created_by: actor.to_owned(),
        },
        due,
    ))
}

/// Refuses a value that could never be delivered: `vault run` puts values in
/// a process environment, which cannot hold a NUL byte (POSIX `execve`).
fn refuse_undeliverable(value: &SecretText) -> Result<()> {
    if value.expose_secret().contains('\0') {
        return Err(Error::bad(
            "secret.invalid_value",
            "secret values cannot contain a NUL byte: no process environment can carry it; \
             base64-encode binary data",
        ));
    }
    Ok(())
}

/// The read cache's key of a version (`None`: the current one).
fn version_key(resource: &str, version: Option<u64>) -> String {
    match version {
        Some(v) => format!("{resource}@{v}"),
        None => format!("{resource}@"),
    }
}
