//! Roles: the built-in ones and custom roles (no escalation: a creator
//! puts in a role only what it holds everywhere).

use super::*;

impl Vault {
    /// `GET /v1/roles`.
    pub async fn list_roles(&self, ctx: &Ctx) -> Result<RoleList> {
        self.audited(ctx, Action::SelfService, "roles", |_| async {
            let custom = self.store().read(|r| r.roles()).await?;
            let s = self.identity();
            let mut roles: Vec<RoleInfo> = Role::builtins()
                .into_iter()
                .map(|r| {
                    let over = s.role_sessions.get(&r.name).copied().unwrap_or_default();
                    RoleInfo {
                        permissions: r
                            .permissions
                            .iter()
                            .map(|p| p.as_str().to_owned())
                            .collect(),
                        require_mfa: r.name == "admin" && s.admin_requires_mfa,
                        name: r.name,
                        builtin: true,
                        session_absolute_secs: over.0,
                        session_idle_secs: over.1,
                    }
                })
                .collect();
            roles.extend(custom.into_iter().map(role_info));
            Ok(RoleList { roles })
        })
        .await
    }

    /// `POST /v1/roles`: a custom role.
    pub async fn create_role(&self, ctx: &Ctx, req: CreateRole) -> Result<RoleInfo> {
        let resource = format!("roles/{}", shown(&req.name));
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        custom_role_name(&req.name)?;
        let perms = parse_permissions(&req.permissions)?;
        if perms.is_empty() {
            return Err(Error::bad(
                "role.invalid_permission",
                "a role needs at least one action",
            ));
        }
        // No escalation through custom roles: the creator must hold every
        // permission it puts in a role, everywhere (bindings later narrow
        // the scope; they are checked again then).
        let everywhere = scope("*")?;
        if let Some(missing) = perms.iter().find(|perm| !holds_on(&p, **perm, &everywhere)) {
            let err = escalation(
                format!("create a role with {}", missing.as_str()),
                "every scope",
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "role.create", &resource, err)
                .await);
        }
        if req.session_absolute_secs.is_some_and(|v| v <= 0)
            || req.session_idle_secs.is_some_and(|v| v <= 0)
        {
            return Err(Error::bad(
                "role.invalid_session",
                "session lifetimes must be positive",
            ));
        }
        let mut names: Vec<String> = perms.iter().map(|p| p.as_str().to_owned()).collect();
        names.sort();
        names.dedup();
        let row = RoleRow {
            name: req.name,
            permissions: names,
            absolute_secs: req.session_absolute_secs,
            idle_secs: req.session_idle_secs,
            require_mfa: req.require_mfa,
            created_at: self.clock().now(),
        };
        let detail = Some(format!(
            "permissions={} require_mfa={}",
            row.permissions.join(","),
            row.require_mfa
        ));
        self.write_as(ctx, Some(&p), "role.create", &resource, detail, move |w| {
            if w.roles()?.iter().any(|r| r.name == row.name) {
                return Err(Error::conflict(
                    "role.exists",
                    format!("role {} exists", row.name),
                ));
            }
            w.insert_role(&row)?;
            Ok(role_info(row))
        })
        .await
    }

    /// `PATCH /v1/roles/{role}`: whether a custom role requires a second
    /// factor (the built-in `admin` follows `identity.admin_requires_mfa`).
    pub async fn update_role(&self, ctx: &Ctx, name: &str, req: UpdateRole) -> Result<RoleInfo> {
        let resource = format!("roles/{}", shown(name));
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        if Role::builtin(name).is_some() {
            return Err(Error::conflict(
                "role.builtin",
                format!(
                    "{name} is built in and cannot be changed{}",
                    if name == "admin" {
                        "; set identity.admin_requires_mfa in the server configuration"
                    } else {
                        ""
                    }
                ),
            ));
        }
        custom_role_name(name)?;
        let n = name.to_owned();
        let detail = Some(format!("require_mfa={}", req.require_mfa));
        self.write_as(ctx, Some(&p), "role.update", &resource, detail, move |w| {
            if !w.set_role_require_mfa(&n, req.require_mfa)? {
                return Err(Error::not_found("role.not_found", format!("no role {n}")));
            }
            w.roles()?
                .into_iter()
                .find(|r| r.name == n)
                .map(role_info)
                .ok_or_else(|| Error::internal("updated role vanished"))
        })
        .await
    }

    /// `DELETE /v1/roles/{role}`: removes its bindings and ends the sessions
    /// of everyone who held it.
    pub async fn delete_role(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let resource = format!("roles/{}", shown(name));
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        custom_role_name(name)?;
        let (n, now) = (name.to_owned(), self.clock().now());
        self.write_as(ctx, Some(&p), "role.delete", &resource, None, move |w| {
            if !w.roles()?.iter().any(|r| r.name == n) {
                return Err(Error::not_found("role.not_found", format!("no role {n}")));
            }
            for u in w.delete_role(&n)? {
                w.revoke_sessions(Some(&u), now)?;
            }
            Ok(())
        })
        .await
    }
}

fn role_info(r: RoleRow) -> RoleInfo {
    RoleInfo {
        name: r.name,
        permissions: r.permissions,
        builtin: false,
        session_absolute_secs: r.absolute_secs,
        session_idle_secs: r.idle_secs,
        require_mfa: r.require_mfa,
    }
}
