//! Sessions: use (`touch`), listing, revocation, and pruning of ended ones.

use super::*;

impl Vault {
    /// Deletes the rows of sessions that have ended: revoked more than a day
    /// ago, or created longer ago than the default absolute lifetime plus a
    /// day (role settings only ever shorten a session, so none can still be
    /// valid). Sessions end on their own; this keeps the table from growing
    /// without bound. Audited when it removes anything.
    pub async fn prune_sessions(&self) -> Result<usize> {
        const GRACE_SECS: i64 = 86_400;
        let now = self.clock().now();
        let created_before = now.plus_secs(-(self.identity().session.absolute_secs + GRACE_SECS));
        let revoked_before = now.plus_secs(-GRACE_SECS);
        // Count first so a pass that finds nothing writes no audit record.
        let due = self
            .store()
            .read(move |r| r.sessions_ended_before(created_before, revoked_before))
            .await?;
        if due == 0 {
            return Ok(0);
        }
        let entry = self.entry(
            &Ctx::system("session-prune"),
            None,
            "session.prune",
            "sessions",
            Outcome::Success,
            Some(format!("{due} ended sessions removed")),
        );
        let n = self
            .store()
            .write(Some(entry), move |w| -> Result<usize> {
                Ok(w.prune_sessions(created_before, revoked_before)?)
            })
            .await
            .map_err(Error::internal)??;
        Ok(n)
    }

    /// After a successful authentication: records use of the session or
    /// service token (at most once a minute, so the idle timer moves only
    /// with authenticated activity and writes stay rare).
    pub async fn touch(&self, p: &Principal) -> Result<()> {
        let now = self.clock().now();
        let grain = (self.identity().session.idle_secs / 10).clamp(1, 60);
        match p {
            Principal::User {
                session_id,
                last_used_at,
                ..
            } if now.secs_since(*last_used_at) >= grain => {
                let id = session_id.clone();
                self.store()
                    .write(None, move |w| -> Result<()> {
                        Ok(w.touch_session(&id, now)?)
                    })
                    .await??;
            }
            Principal::Service {
                token_id,
                last_used_at,
                ..
            } if last_used_at.is_none_or(|t| now.secs_since(t) >= 60) => {
                let id = token_id.clone();
                self.store()
                    .write(None, move |w| -> Result<()> {
                        Ok(w.touch_service_token(&id, now)?)
                    })
                    .await??;
            }
            _ => {}
        }
        Ok(())
    }

    /// `GET /v1/sessions`: the caller's own; `?user=` or `?all=true` need
    /// `sessions.manage`.
    pub async fn list_sessions(
        &self,
        ctx: &Ctx,
        user: Option<String>,
        all: bool,
    ) -> Result<SessionList> {
        let action = if user.is_some() || all {
            Action::SessionsManage
        } else {
            Action::SelfService
        };
        let settings = Arc::new(self.identity().clone());
        self.audited(ctx, action, "sessions", |p| async move {
            let user = user.as_deref().map(username).transpose()?;
            let own = match &p {
                Principal::User { user_id, .. } if action == Action::SelfService => {
                    Some(user_id.clone())
                }
                _ if action == Action::SelfService => {
                    return Ok(SessionList {
                        sessions: Vec::new(),
                    });
                }
                _ => None,
            };
            let current = p.token_id();
            let now = self.clock().now();
            let rows = self
                .store()
                .read(move |r| {
                    let uid = match (&own, &user) {
                        (Some(o), _) => Some(o.clone()),
                        (None, Some(n)) => match r.user_by_name(n.as_str())? {
                            Some(u) => Some(u.id),
                            None => return Ok(Vec::new()),
                        },
                        (None, None) => None,
                    };
                    let roles = r.roles()?;
                    let mut out = Vec::new();
                    for s in r.sessions(uid.as_deref())? {
                        let (_, policy) =
                            resolve(&r.bindings(Some(&s.user_id))?, &roles, &settings);
                        if policy.check(s.created_at, s.last_used_at, now).is_ok() {
                            out.push((s.clone(), policy.ends_at(s.created_at, s.last_used_at)));
                        }
                    }
                    Ok(out)
                })
                .await?;
            Ok(SessionList {
                sessions: rows
                    .into_iter()
                    .map(|(s, ends)| Session {
                        current: current.as_deref() == Some(s.id.as_str()),
                        id: s.id,
                        user: s.username,
                        created_at: s.created_at,
                        last_used_at: s.last_used_at,
                        expires_at: ends,
                        source: s.source,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `DELETE /v1/sessions/{id}`: one's own session, or anyone's with
    /// `sessions.manage`.
    pub async fn revoke_session(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let resource = format!("sessions/{id}");
        let p = self.authorize(ctx, Action::SelfService, &resource).await?;
        let id2 = id.to_owned();
        let row = self.store().read(move |r| r.session(&id2)).await?;
        let own = matches!((&p, &row), (Principal::User { user_id, .. }, Some(s)) if *user_id == s.user_id);
        if !own && !p.can(Permission::SessionsManage, &Resource::Global) {
            return Err(self
                .refuse(
                    ctx,
                    &p,
                    "session.revoke",
                    &resource,
                    "revoking another's session needs sessions.manage (a global permission)",
                )
                .await);
        }
        let Some(row) = row else {
            return Err(Error::not_found("session.not_found", "no such session"));
        };
        let now = self.clock().now();
        let detail = Some(format!("user={}", row.username));
        self.write_as(
            ctx,
            Some(&p),
            "session.revoke",
            &resource,
            detail,
            move |w| {
                w.revoke_session(&row.id, now)?;
                Ok(())
            },
        )
        .await
    }

    /// `POST /v1/sessions/revoke`: every session of a user, or everyone's.
    pub async fn revoke_sessions(&self, ctx: &Ctx, req: RevokeSessions) -> Result<Revoked> {
        let resource = match (&req.user, req.all) {
            (Some(u), _) => format!("sessions/user/{}", shown(u)),
            (None, _) => "sessions/*".to_owned(),
        };
        let p = self
            .authorize(ctx, Action::SessionsManage, &resource)
            .await?;
        let user = req.user.as_deref().map(username).transpose()?;
        if user.is_some() == req.all {
            return Err(Error::bad(
                "request.invalid_body",
                "give exactly one of `user` or `all: true`",
            ));
        }
        let now = self.clock().now();
        self.write_as(
            ctx,
            Some(&p),
            "session.revoke_all",
            &resource,
            None,
            move |w| {
                let uid = match &user {
                    Some(n) => Some(
                        w.user_by_name(n.as_str())?
                            .ok_or_else(|| user_not_found(n.as_str()))?
                            .id,
                    ),
                    None => None,
                };
                Ok(Revoked {
                    revoked: w.revoke_sessions(uid.as_deref(), now)?,
                })
            },
        )
        .await
    }

    // ---- service tokens -------------------------------------------------
}
