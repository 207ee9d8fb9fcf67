//! KEKs: the in-memory cache of unwrapped keys (only while unsealed), status
//! per version, rotation (on demand and automatic), retire and destroy.

use std::sync::Arc;

use vault_core::api::{KekState, KekVersionStatus, KeyStatus};
use vault_core::clock::Timestamp;
use vault_core::crypto::{Kek, KeyRing, RootKey, WrappedKek, check_destroy, check_retire};
use vault_core::names::ProjectName;

use super::{Action, Ctx, Error, Result, Unsealed, Vault};
use crate::store::{KekRow, Reader, Writer};

/// Stored state text of a [`KekState`].
pub fn state_text(s: KekState) -> &'static str {
    match s {
        KekState::Active => "active",
        KekState::DecryptOnly => "decrypt_only",
        KekState::Retired => "retired",
        KekState::Destroyed => "destroyed",
    }
}

/// Parses a stored state.
pub fn state_of(s: &str) -> KekState {
    match s {
        "active" => KekState::Active,
        "decrypt_only" => KekState::DecryptOnly,
        "retired" => KekState::Retired,
        _ => KekState::Destroyed,
    }
}

/// Builds a project's key ring from its rows.
pub fn ring_from_rows(root: &RootKey, project: &ProjectName, rows: &[KekRow]) -> Result<KeyRing> {
    let mut ring = KeyRing::new(project.clone());
    let mut active = None;
    for row in rows {
        let Some(bytes) = &row.wrapped else { continue };
        // A damaged wrapped KEK is an integrity failure like a damaged value,
        // not an internal error.
        let kek = WrappedKek::from_bytes(bytes.clone())
            .ok()
            .and_then(|wrapped| root.unwrap_kek(project, row.version, &wrapped).ok())
            .ok_or_else(Error::integrity)?;
        ring.insert(kek).map_err(Error::internal)?;
        if row.state == "active" {
            active = Some(row.version);
        }
    }
    if let Some(v) = active {
        ring.set_active(v).map_err(Error::internal)?;
    }
    Ok(ring)
}

/// A fresh KEK row (wrapped by the root key).
pub fn new_kek_row(
    root: &RootKey,
    project: &ProjectName,
    project_id: i64,
    version: u32,
    now: Timestamp,
) -> Result<KekRow> {
    let kek = Kek::generate(project, version).map_err(Error::internal)?;
    let wrapped = root.wrap_kek(&kek).map_err(Error::internal)?;
    Ok(KekRow {
        project_id,
        version,
        wrapped: Some(wrapped.as_bytes().to_vec()),
        state: "active".into(),
        created_at: now,
        wrap_count: 0,
    })
}

pub(crate) fn status_rows(
    r: &dyn Reader,
    project: &str,
    project_id: i64,
    now: Timestamp,
) -> Result<Vec<KekVersionStatus>> {
    let counts = r.data_keys_per_kek(project_id)?;
    Ok(r.keks(project_id)?
        .into_iter()
        .map(|k| KekVersionStatus {
            project: project.to_owned(),
            version: k.version,
            state: state_of(&k.state),
            created_at: k.created_at,
            age_secs: now.secs_since(k.created_at),
            wrap_count: k.wrap_count,
            data_keys: counts
                .iter()
                .find(|(v, _)| *v == k.version)
                .map_or(0, |(_, n)| *n),
        })
        .collect())
}

impl Vault {
    /// The project's key ring, unwrapping KEKs on first use.
    pub async fn keyring(&self, u: &Arc<Unsealed>, project: &ProjectName) -> Result<Arc<KeyRing>> {
        if let Some(r) = u
            .rings
            .lock()
            .map_err(|_| Error::internal("poisoned"))?
            .get(project.as_str())
        {
            return Ok(r.clone());
        }
        let name = project.as_str().to_owned();
        let rows = self
            .store()
            .read(move |r| {
                Ok(match r.project(&name)? {
                    Some(p) => Some(r.keks(p.id)?),
                    None => None,
                })
            })
            .await?
            .ok_or_else(|| {
                Error::not_found("project.not_found", format!("no project {project}"))
            })?;
        let ring = match ring_from_rows(&u.root, project, &rows) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                if e.kind == super::Kind::Integrity {
                    self.metrics().integrity_failures.inc();
                    tracing::error!(%project, "CRITICAL: a stored wrapped KEK failed authentication");
                    let ctx = Ctx::system("keys");
                    let entry = self.entry(
                        &ctx,
                        None,
                        "keys.integrity_failure",
                        &format!("keys/{project}"),
                        vault_core::audit::Outcome::Error,
                        Some("critical: a stored wrapped KEK failed authentication".into()),
                    );
                    self.audit(&ctx, entry).await?;
                }
                return Err(e);
            }
        };
        u.rings
            .lock()
            .map_err(|_| Error::internal("poisoned"))?
            .insert(project.as_str().to_owned(), ring.clone());
        Ok(ring)
    }

    /// Drops a project's cached keys (after rotation, destroy or delete).
    pub fn forget_keys(&self, project: &str) {
        if let Ok(u) = self.unsealed()
            && let Ok(mut g) = u.rings.lock()
        {
            g.remove(project);
        }
    }

    /// `GET /v1/keys`.
    pub async fn key_status(&self, ctx: &Ctx) -> Result<KeyStatus> {
        self.audited(ctx, Action::KeysManage, "keys", |_| async {
            let u = self.unsealed()?;
            let now = self.clock().now();
            let keks = self
                .store()
                .read(move |r| {
                    let mut out = Vec::new();
                    for p in r.projects()? {
                        out.extend(
                            status_rows(r, &p.name, p.id, now)
                                .map_err(|e| crate::store::StoreError::Corrupt(e.message))?,
                        );
                    }
                    Ok(out)
                })
                .await?;
            Ok(KeyStatus {
                root_version: u.root.version(),
                keks,
            })
        })
        .await
    }

    /// `POST /v1/projects/{p}/keys/rotate`.
    pub async fn rotate_kek(&self, ctx: &Ctx, project: &ProjectName) -> Result<KekVersionStatus> {
        let u = self.unsealed()?;
        let resource = format!("{project}/keys");
        let res = self
            .audited_write(ctx, Action::KeysManage, &resource, {
                let project = project.clone();
                let now = self.clock().now();
                let u = u.clone();
                move |w, _| rotate_in(w, &u.root, &project, now, "on_demand")
            })
            .await;
        self.forget_keys(project.as_str());
        res
    }

    /// Rotates a project's KEK if the policy says so (called when a write
    /// reports it due, and by the periodic check). Audited as a system action.
    pub async fn rotate_if_due(&self, project: &ProjectName) -> Result<bool> {
        let u = self.unsealed()?;
        let policy = self.settings().rotation;
        let now = self.clock().now();
        let name = project.as_str().to_owned();
        let due = self
            .store()
            .read(move |r| {
                let Some(p) = r.project(&name)? else {
                    return Ok(None);
                };
                Ok(r.keks(p.id)?
                    .into_iter()
                    .find(|k| k.state == "active")
                    .and_then(|k| policy.due(k.created_at, k.wrap_count, now)))
            })
            .await?;
        let Some(reason) = due else { return Ok(false) };
        let ctx = Ctx::system("rotation");
        let resource = format!("{project}/keys");
        let entry = self.entry(
            &ctx,
            None,
            "keys.auto_rotate",
            &resource,
            vault_core::audit::Outcome::Success,
            Some(reason.as_str().to_owned()),
        );
        let project2 = project.clone();
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                let Some(p) = w.project(project2.as_str())? else {
                    return Err(Error::not_found("project.not_found", "project is gone"));
                };
                let active = w.keks(p.id)?.into_iter().find(|k| k.state == "active");
                // Re-checked in the transaction: a concurrent rotation may have won.
                if active.is_some_and(|k| policy.due(k.created_at, k.wrap_count, now).is_some()) {
                    rotate_in(w, &u.root, &project2, now, reason.as_str())?;
                }
                Ok(())
            })
            .await
            .map_err(Error::internal)??;
        tracing::info!(project = %project, reason = reason.as_str(), "rotated KEK automatically");
        self.forget_keys(project.as_str());
        Ok(true)
    }

    /// Retire or destroy a KEK version.
    pub async fn kek_lifecycle(
        &self,
        ctx: &Ctx,
        project: &ProjectName,
        version: u32,
        destroy: bool,
    ) -> Result<KekVersionStatus> {
        self.unsealed()?;
        let resource = format!("{project}/keys/{version}");
        let now = self.clock().now();
        let name = project.clone();
        let res = self
            .audited_write_as(ctx, Action::KeysManage, &resource, destroy, move |w, _| {
                let p = w.project(name.as_str())?.ok_or_else(|| {
                    Error::not_found("project.not_found", format!("no project {name}"))
                })?;
                let rows = status_rows(w, name.as_str(), p.id, now)?;
                let Some(row) = rows.iter().find(|r| r.version == version) else {
                    return Err(Error::not_found(
                        "keys.version_not_found",
                        format!("project {name} has no KEK version {version}"),
                    ));
                };
                let check = if destroy {
                    check_destroy(version, row.state, row.data_keys)
                } else {
                    check_retire(version, row.state, row.data_keys)
                };
                check.map_err(|e| Error::conflict("keys.lifecycle", e.to_string()))?;
                let new_state = if destroy {
                    KekState::Destroyed
                } else {
                    KekState::Retired
                };
                w.set_kek_state(p.id, version, state_text(new_state))?;
                let mut out = row.clone();
                out.state = new_state;
                Ok(out)
            })
            .await;
        self.forget_keys(project.as_str());
        res
    }
}

/// Makes a new active KEK version inside a transaction; the old active one
/// becomes decrypt-only.
pub fn rotate_in(
    w: &mut dyn Writer,
    root: &RootKey,
    project: &ProjectName,
    now: Timestamp,
    _reason: &str,
) -> Result<KekVersionStatus> {
    let p = w
        .project(project.as_str())?
        .ok_or_else(|| Error::not_found("project.not_found", format!("no project {project}")))?;
    let rows = w.keks(p.id)?;
    let next = rows.iter().map(|k| k.version).max().unwrap_or(0) + 1;
    for k in rows.iter().filter(|k| k.state == "active") {
        w.set_kek_state(p.id, k.version, "decrypt_only")?;
    }
    let row = new_kek_row(root, project, p.id, next, now)?;
    w.insert_kek(&row)?;
    Ok(KekVersionStatus {
        project: project.to_string(),
        version: next,
        state: KekState::Active,
        created_at: now,
        age_secs: 0,
        wrap_count: 0,
        data_keys: 0,
    })
}
