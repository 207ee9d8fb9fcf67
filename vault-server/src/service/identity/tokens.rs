//! Service tokens: create (never more than the creator holds), list,
//! revoke; also root tokens' revocation.

use super::*;

impl Vault {
    /// `POST /v1/tokens`: a scoped, expiring service token, shown once. It
    /// can never carry more than its creator holds, nor global rights other
    /// than `metrics.read` (a scraper's token).
    pub async fn create_token(
        &self,
        ctx: &Ctx,
        req: CreateServiceToken,
    ) -> Result<CreatedServiceToken> {
        // A token outlives the session that makes it and is exempt from
        // step-up: making one needs a fresh passkey proof.
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "tokens")
            .await?;
        let scopes: Vec<Scope> = req.scopes.iter().map(|s| scope(s)).collect::<Result<_>>()?;
        if scopes.is_empty() {
            return Err(Error::bad(
                "token.invalid_scope",
                "give at least one scope (PROJECT/ENV)",
            ));
        }
        let perms = parse_permissions(&req.actions)
            .map_err(|e| Error::bad("token.invalid_action", e.message))?;
        if perms.is_empty()
            || perms.iter().any(|p| {
                (p.is_global() && *p != Permission::MetricsRead) || *p == Permission::ProjectsManage
            })
        {
            return Err(Error::bad(
                "token.invalid_action",
                "service tokens carry only read, list, write, delete, and metrics.read",
            ));
        }
        let ttl = req.ttl_secs.unwrap_or(TOKEN_DEFAULT_TTL_SECS);
        if !(1..=TOKEN_MAX_TTL_SECS).contains(&ttl) {
            return Err(Error::bad(
                "token.invalid_ttl",
                "the lifetime must be between 1 second and 1 year",
            ));
        }
        let networks: Vec<String> = req
            .networks
            .iter()
            .map(|n| {
                Cidr::parse(n.trim()).map(|c| c.to_string()).ok_or_else(|| {
                    Error::bad(
                        "token.invalid_network",
                        "networks are CIDRs like 10.0.0.0/8 or ::1/128",
                    )
                })
            })
            .collect::<Result<_>>()?;
        let name = req.name.unwrap_or_default();
        if name.len() > 100 || name.chars().any(char::is_control) {
            return Err(Error::bad(
                "token.invalid_name",
                "names are at most 100 characters, no control characters",
            ));
        }
        let creator = match &p {
            Principal::Root { .. } => "root".to_owned(),
            Principal::User { user_id, .. } => user_id.clone(),
            Principal::Service { .. } => {
                return Err(self
                    .refuse(
                        ctx,
                        &p,
                        "token.create",
                        "tokens",
                        "a service token cannot create tokens",
                    )
                    .await);
            }
        };
        if let Some((perm, sc)) = scopes.iter().find_map(|s| {
            perms
                .iter()
                .find(|perm| !holds_on(&p, **perm, s))
                .map(|perm| (*perm, s))
        }) {
            let err = escalation(
                format!("create a token with {}", perm.as_str()),
                &sc.to_string(),
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "token.create", "tokens", err)
                .await);
        }
        let now = self.clock().now();
        let (id, token, hash) =
            Token::generate().map_err(|e| Error::internal(format!("token: {e}")))?;
        let row = ServiceTokenRow {
            id: id.as_str().to_owned(),
            hash: hash.to_vec(),
            name,
            created_by: creator,
            scopes: scopes.iter().map(ToString::to_string).collect(),
            permissions: perms.iter().map(|p| p.as_str().to_owned()).collect(),
            networks,
            created_at: now,
            expires_at: now.plus_secs(ttl),
            last_used_at: None,
            revoked_at: None,
        };
        let wire = token_wire(&row, p.actor());
        let detail = Some(format!(
            "scopes={} actions={} expires={}",
            row.scopes.join(","),
            row.permissions.join(","),
            row.expires_at.to_rfc3339()
        ));
        self.write_as(
            ctx,
            Some(&p),
            "token.create",
            &format!("tokens/{}", row.id),
            detail,
            move |w| {
                w.insert_service_token(&row)?;
                Ok(())
            },
        )
        .await?;
        Ok(CreatedServiceToken {
            token,
            service_token: wire,
        })
    }

    /// `GET /v1/tokens`: the caller's tokens; `?all=true` needs `sessions.manage`.
    pub async fn list_tokens(&self, ctx: &Ctx, all: bool) -> Result<ServiceTokenList> {
        let action = if all {
            Action::SessionsManage
        } else {
            Action::SelfService
        };
        self.audited(ctx, action, "tokens", |p| async move {
            let mine = match &p {
                _ if all => None,
                Principal::Root { .. } => Some("root".to_owned()),
                Principal::User { user_id, .. } => Some(user_id.clone()),
                Principal::Service { .. } => {
                    return Ok(ServiceTokenList {
                        tokens: Vec::new(),
                        root_tokens: Vec::new(),
                    });
                }
            };
            let with_root = all || matches!(p, Principal::Root { .. });
            let (rows, roots) = self
                .store()
                .read(move |r| {
                    let mut out = Vec::new();
                    let roots = if with_root {
                        r.root_tokens()?
                            .iter()
                            .map(crate::service::root::wire)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    for t in r.service_tokens(mine.as_deref())? {
                        let creator =
                            if t.created_by == "root" || t.created_by.starts_with("workload:") {
                                t.created_by.clone()
                            } else {
                                r.user_by_id(&t.created_by)?.map_or_else(
                                    || format!("user-id:{}", t.created_by),
                                    |u| format!("user:{}", u.username),
                                )
                            };
                        out.push(token_wire(&t, creator));
                    }
                    Ok((out, roots))
                })
                .await?;
            Ok(ServiceTokenList {
                tokens: rows,
                root_tokens: roots,
            })
        })
        .await
    }

    /// `DELETE /v1/tokens/{id}`: one's own token, or any with `sessions.manage`.
    /// Root tokens too, by a root token or an admin (`sessions.manage`);
    /// the calling token may revoke itself.
    pub async fn revoke_token(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let resource = format!("tokens/{id}");
        let p = self.authorize(ctx, Action::SelfService, &resource).await?;
        let id2 = id.to_owned();
        let root_row = self.store().read(move |r| r.token(&id2)).await?;
        if let Some(t) = root_row.filter(|t| t.kind == "root") {
            let allowed = matches!(p, Principal::Root { .. })
                || p.can(Permission::SessionsManage, &Resource::Global);
            if !allowed {
                return Err(self
                    .refuse(
                        ctx,
                        &p,
                        "token.revoke",
                        &resource,
                        "revoking a root token needs sessions.manage (a global permission)",
                    )
                    .await);
            }
            let now = self.clock().now();
            return self
                .write_as(
                    ctx,
                    Some(&p),
                    "token.revoke",
                    &resource,
                    Some("root token".into()),
                    move |w| {
                        w.revoke_root_token(&t.id, now)?;
                        Ok(())
                    },
                )
                .await;
        }
        let id2 = id.to_owned();
        let row = self.store().read(move |r| r.service_token(&id2)).await?;
        let own = match (&p, &row) {
            (Principal::User { user_id, .. }, Some(t)) => *user_id == t.created_by,
            (Principal::Root { .. }, Some(t)) => t.created_by == "root",
            // A token may always end itself (a CI job cleaning up).
            (Principal::Service { token_id, .. }, Some(t)) => *token_id == t.id,
            _ => false,
        };
        if !own && !p.can(Permission::SessionsManage, &Resource::Global) {
            return Err(self
                .refuse(
                    ctx,
                    &p,
                    "token.revoke",
                    &resource,
                    "revoking another's token needs sessions.manage (a global permission)",
                )
                .await);
        }
        let Some(row) = row else {
            return Err(Error::not_found("token.not_found", "no such token"));
        };
        let now = self.clock().now();
        self.write_as(ctx, Some(&p), "token.revoke", &resource, None, move |w| {
            w.revoke_service_token(&row.id, now)?;
            Ok(())
        })
        .await
    }

    // ---- emergency access -----------------------------------------------
}
