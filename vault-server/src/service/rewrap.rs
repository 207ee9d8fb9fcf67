//! Rewrap: move every data key of a project (or all projects) onto the
//! active KEK version, as a background job persisted in the database.
//!
//! The job row records progress after every batch, in the same transaction
//! as the batch's envelope updates, so a crash loses at most the batch in
//! flight; at the next unseal the job resumes and skips what already moved
//! (the batch query selects only envelopes not on the active version).

use std::sync::Arc;

use vault_core::api::{RewrapJob, StartRewrap};
use vault_core::audit::Outcome;
use vault_core::crypto::{Envelope, KeyRing, SecretContext};
use vault_core::names::{EnvName, ProjectName, SecretName};

use super::{Action, Ctx, Error, Result, Vault};
use crate::store::{RewrapItem, RewrapJobRow};

fn job_view(j: RewrapJobRow) -> RewrapJob {
    RewrapJob {
        id: j.id,
        state: j.state,
        total: j.total,
        done: j.done,
        started_at: j.started_at,
        finished_at: j.finished_at,
        error: j.error,
    }
}

fn new_job_id() -> Result<String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(Error::internal)?;
    Ok(format!("rw-{}", hex::encode(b)))
}

/// Rewraps one batch (pure crypto, run off the async runtime).
fn rewrap_items(
    ring: &KeyRing,
    project: &ProjectName,
    items: Vec<RewrapItem>,
) -> Vec<(i64, u32, Vec<u8>)> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let (Ok(environment), Ok(name)) = (EnvName::parse(&it.env), SecretName::parse(&it.name))
        else {
            continue;
        };
        let ctx = SecretContext {
            project: project.clone(),
            environment,
            name,
            version: it.version,
        };
        let moved =
            Envelope::from_bytes(it.envelope).and_then(|env| ring.rewrap_to_active(&ctx, &env));
        match moved {
            Ok(Some(env)) => out.push((it.id, it.kek_version, env.into_bytes())),
            Ok(None) => {}
            // A tampered envelope is left as is: reading it reports the
            // integrity error (and audits it); rewrap must not stop on it.
            Err(_) => tracing::warn!(
                row = it.id,
                "rewrap skipped an envelope that failed to open"
            ),
        }
    }
    out
}

impl Vault {
    /// `POST /v1/keys/rewrap`.
    pub async fn start_rewrap(&self, ctx: &Ctx, req: StartRewrap) -> Result<RewrapJob> {
        let u = self.unsealed()?;
        let project = req.project.as_deref().map(ProjectName::parse).transpose()?;
        let resource = project
            .as_ref()
            .map_or_else(|| "keys/*".to_owned(), |p| format!("{p}/keys"));
        let id = new_job_id()?;
        let now = self.clock().now();
        let _ = u;
        let scope = project.clone();
        let id2 = id.clone();
        let job = self
            .audited_write(ctx, Action::KeysManage, &resource, move |w, _| {
                let projects = match &scope {
                    Some(p) => vec![w.project(p.as_str())?.ok_or_else(|| {
                        Error::not_found("project.not_found", format!("no project {p}"))
                    })?],
                    None => w.projects()?,
                };
                let mut total = 0;
                for p in projects {
                    if let Some(active) = w.keks(p.id)?.iter().find(|k| k.state == "active") {
                        total += w.count_not_on(p.id, active.version)?;
                    }
                }
                let row = RewrapJobRow {
                    id: id2,
                    project: scope.map(|p| p.to_string()),
                    state: "running".into(),
                    total,
                    done: 0,
                    started_at: now,
                    finished_at: None,
                    error: None,
                };
                w.put_rewrap_job(&row)?;
                Ok(row)
            })
            .await?;
        self.spawn_rewrap(job.clone());
        Ok(job_view(job))
    }

    /// `GET /v1/keys/rewrap/{id}`.
    pub async fn rewrap_status(&self, ctx: &Ctx, id: &str) -> Result<RewrapJob> {
        let id = id.to_owned();
        self.audited(
            ctx,
            Action::KeysManage,
            &format!("keys/rewrap/{id}"),
            |_| async {
                let id2 = id.clone();
                self.store()
                    .read(move |r| r.rewrap_job(&id2))
                    .await?
                    .map(job_view)
                    .ok_or_else(|| {
                        Error::not_found("rewrap.not_found", format!("no rewrap job {id}"))
                    })
            },
        )
        .await
    }

    /// Resumes jobs left running (after a restart); called at unseal.
    pub async fn resume_rewrap_jobs(&self) {
        match self.store().read(|r| r.running_rewrap_jobs()).await {
            Ok(jobs) => {
                for j in jobs {
                    tracing::info!(job = %j.id, done = j.done, total = j.total, "resuming rewrap job");
                    self.spawn_rewrap(j);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list rewrap jobs"),
        }
    }

    fn spawn_rewrap(&self, job: RewrapJobRow) {
        if let Ok(mut running) = self.inner.rewrap_running.lock()
            && !running.insert(job.id.clone())
        {
            return;
        }
        let vault = self.clone();
        tokio::spawn(async move {
            let id = job.id.clone();
            let res = vault.run_rewrap(job.clone()).await;
            if let Ok(mut running) = vault.inner.rewrap_running.lock() {
                running.remove(&id);
            }
            match res {
                Ok(()) => {}
                Err(e) if e.code == "vault.sealed" => {
                    tracing::info!(job = %id, "rewrap paused: sealed; resumes at unseal");
                    // An unseal may have come while this task was stopping.
                    if !vault.sealed() {
                        vault.resume_rewrap_jobs().await;
                    }
                }
                Err(e) => {
                    tracing::error!(job = %id, error = %e, "rewrap job failed");
                    let _ = vault.finish_job(&id, Some(e.message)).await;
                }
            }
        });
    }

    async fn run_rewrap(&self, job: RewrapJobRow) -> Result<()> {
        let projects = match &job.project {
            Some(p) => vec![p.clone()],
            None => self
                .store()
                .read(|r| r.projects())
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect(),
        };
        let batch = self.settings().rewrap_batch;
        let mut done = job.done;
        for name in projects {
            let project = ProjectName::parse(&name).map_err(Error::internal)?;
            let u = self.unsealed()?;
            let ring = match self.keyring(&u, &project).await {
                Ok(r) => r,
                Err(e) if e.code == "project.not_found" => continue,
                Err(e) => return Err(e),
            };
            drop(u);
            let Some(active) = ring.active().map(|k| k.version()) else {
                continue;
            };
            let n2 = name.clone();
            let Some(pid) = self
                .store()
                .read(move |r| Ok(r.project(&n2)?.map(|p| p.id)))
                .await?
            else {
                continue;
            };
            let mut after = 0i64;
            loop {
                self.unsealed()?;
                let items = self
                    .store()
                    .read(move |r| r.rewrap_batch(pid, active, after, batch))
                    .await?;
                let Some(last) = items.last().map(|i| i.id) else {
                    break;
                };
                after = last;
                let ring2: Arc<KeyRing> = ring.clone();
                let p2 = project.clone();
                let moved = tokio::task::spawn_blocking(move || rewrap_items(&ring2, &p2, items))
                    .await
                    .map_err(Error::internal)?;
                let id = job.id.clone();
                let n = self
                    .store()
                    .write(None, move |w| -> Result<u64> {
                        let mut n = 0u64;
                        for (row, old, env) in &moved {
                            if w.replace_envelope(*row, *old, active, env)? {
                                n += 1;
                            }
                        }
                        w.add_wraps(pid, active, n)?;
                        if let Some(mut j) = w.rewrap_job(&id)? {
                            j.done += n;
                            w.put_rewrap_job(&j)?;
                        }
                        Ok(n)
                    })
                    .await
                    .map_err(Error::internal)??;
                done += n;
                self.metrics().rewrapped.add(n);
                tracing::debug!(job = %job.id, done, "rewrap progress");
            }
        }
        self.finish_job(&job.id, None).await
    }

    async fn finish_job(&self, id: &str, error: Option<String>) -> Result<()> {
        let ctx = Ctx::system("rewrap");
        let now = self.clock().now();
        let (outcome, detail) = match &error {
            None => (Outcome::Success, format!("job {id} done")),
            Some(_) => (Outcome::Error, format!("job {id} failed")),
        };
        let entry = self.entry(
            &ctx,
            None,
            "keys.rewrap.finish",
            "keys/rewrap",
            outcome,
            Some(detail),
        );
        let id = id.to_owned();
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                if let Some(mut j) = w.rewrap_job(&id)? {
                    j.state = if error.is_some() {
                        "failed".into()
                    } else {
                        "done".into()
                    };
                    j.finished_at = Some(now);
                    j.error = error;
                    w.put_rewrap_job(&j)?;
                }
                Ok(())
            })
            .await
            .map_err(Error::internal)?
    }
}
