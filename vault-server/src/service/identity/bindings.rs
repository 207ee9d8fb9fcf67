//! Role bindings: a role on a scope for a user (no escalation: the granter
//! holds the role's permissions on that scope).

use super::*;

impl Vault {
    /// `GET /v1/bindings[?user=NAME]`.
    pub async fn list_bindings(&self, ctx: &Ctx, user: Option<String>) -> Result<BindingList> {
        self.audited(ctx, Action::UsersManage, "bindings", |_| async move {
            let user = user.as_deref().map(username).transpose()?;
            let rows = self
                .store()
                .read(move |r| {
                    let uid = match &user {
                        Some(n) => match r.user_by_name(n.as_str())? {
                            Some(u) => Some(u.id),
                            None => return Ok(Vec::new()),
                        },
                        None => None,
                    };
                    r.bindings(uid.as_deref())
                })
                .await?;
            Ok(BindingList {
                bindings: rows
                    .into_iter()
                    .map(|b| Binding {
                        id: b.id,
                        user: b.username,
                        role: b.role,
                        scope: b.scope,
                        created_at: b.created_at,
                        source: b.source,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// `POST /v1/bindings`: grants a role on a scope. The granter must hold
    /// every action of the role on that scope (no escalation); the user's
    /// sessions end (their rights changed).
    pub async fn create_binding(&self, ctx: &Ctx, req: CreateBinding) -> Result<Binding> {
        let resource = format!("bindings/{}", shown(&req.user));
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let name = username(&req.user)?;
        let sc = scope(&req.scope)?;
        let custom = self.store().read(|r| r.roles()).await?;
        let role = find_role(&req.role, &custom).ok_or_else(|| {
            Error::bad(
                "role.unknown",
                format!(
                    "no role {:?} (see GET /v1/roles)",
                    req.role.chars().take(64).collect::<String>()
                ),
            )
        })?;
        if role.permissions.iter().any(|perm| perm.is_global()) && !sc.is_all() {
            return Err(Error::bad(
                "access.invalid_scope",
                format!("role {} holds global actions: bind it on *", role.name),
            ));
        }
        if let Some(missing) = role
            .permissions
            .iter()
            .find(|perm| !holds_on(&p, **perm, &sc))
        {
            let err = escalation(
                format!("grant {} (it holds {})", role.name, missing.as_str()),
                &sc.to_string(),
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "binding.create", &resource, err)
                .await);
        }
        let row = BindingRow {
            id: new_id("b")?,
            user_id: String::new(),
            username: name.to_string(),
            role: role.name.clone(),
            scope: sc.to_string(),
            created_at: self.clock().now(),
            source: "manual".into(),
        };
        let now = row.created_at;
        let (sc_check, allow_future) = (sc.clone(), req.allow_future);
        let detail = Some(format!(
            "role={} scope={}; sessions revoked",
            row.role, row.scope
        ));
        self.write_as(
            ctx,
            Some(&p),
            "binding.create",
            &resource,
            detail,
            move |w| {
                require_existing_scope(w, &sc_check, allow_future)?;
                let u = w
                    .user_by_name(&row.username)?
                    .ok_or_else(|| user_not_found(&row.username))?;
                if w.bindings(Some(&u.id))?
                    .iter()
                    .any(|b| b.role == row.role && b.scope == row.scope)
                {
                    return Err(Error::conflict("binding.exists", "that binding exists"));
                }
                let row = BindingRow {
                    user_id: u.id.clone(),
                    ..row
                };
                w.insert_binding(&row)?;
                w.revoke_sessions(Some(&u.id), now)?;
                Ok(Binding {
                    id: row.id,
                    user: row.username,
                    role: row.role,
                    scope: row.scope,
                    created_at: row.created_at,
                    source: row.source,
                })
            },
        )
        .await
    }

    /// `DELETE /v1/bindings/{id}`: the user's sessions end.
    pub async fn delete_binding(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let resource = format!("bindings/{id}");
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let (id, now) = (id.to_owned(), self.clock().now());
        let admin = is_admin(&p);
        self.write_as(
            ctx,
            Some(&p),
            "binding.delete",
            &resource,
            Some("sessions revoked".into()),
            move |w| {
                // Removing an admin's binding is how one would get round the
                // guard on disabling an admin: the same rule applies.
                let target = w.bindings(None)?.into_iter().find(|b| b.id == id);
                if target.as_ref().is_some_and(|b| b.role == "admin") && !admin {
                    return Err(Error::new(
                        Kind::Forbidden,
                        "access.admin_target",
                        "only an administrator may remove an administrator's binding",
                    ));
                }
                // SSO keeps these in step with the IdP's groups: a hand edit
                // would come back (or go) at the next login.
                if let Some(b) = target.as_ref().filter(|b| b.source != "manual") {
                    return Err(Error::conflict(
                        "binding.managed_by_sso",
                        format!(
                            "this binding comes from {} (the user's groups at the identity \
                             provider); change the group membership or the provider's \
                             group_roles instead",
                            b.source
                        ),
                    ));
                }
                let u = w
                    .delete_binding(&id)?
                    .ok_or_else(|| Error::not_found("binding.not_found", "no such binding"))?;
                w.revoke_sessions(Some(&u), now)?;
                Ok(())
            },
        )
        .await
    }

    // ---- sessions -------------------------------------------------------
}
