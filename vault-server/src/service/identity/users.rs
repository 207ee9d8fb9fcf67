//! Users: create, list, disable and enable, delete.

use super::*;

impl Vault {
    /// `POST /v1/users`.
    pub async fn create_user(&self, ctx: &Ctx, req: CreateUser) -> Result<User> {
        let p = self
            .authorize_sensitive(
                ctx,
                Action::UsersManage,
                &format!("users/{}", shown(&req.username)),
            )
            .await?;
        let name = username(&req.username)?;
        check_password(&req.password, &name).map_err(|e| password_error(&e))?;
        let hash = self.hash_new_password(req.password).await?;
        let row = UserRow {
            id: new_id("u")?,
            username: name.to_string(),
            password_hash: Some(hash),
            created_at: self.clock().now(),
            disabled_at: None,
        };
        self.write_as(
            ctx,
            Some(&p),
            "user.create",
            &format!("users/{name}"),
            None,
            move |w| {
                if w.user_by_name(&row.username)?.is_some() {
                    return Err(Error::conflict(
                        "user.exists",
                        format!("user {} already exists", row.username),
                    ));
                }
                w.insert_user(&row)?;
                Ok(user_wire(&row))
            },
        )
        .await
    }

    /// `GET /v1/users`.
    pub async fn list_users(&self, ctx: &Ctx) -> Result<UserList> {
        self.audited(ctx, Action::UsersManage, "users", |_| async {
            let rows = self.store().read(|r| r.users()).await?;
            Ok(UserList {
                users: rows.iter().map(user_wire).collect(),
            })
        })
        .await
    }

    /// `POST /v1/users/{user}/disable` and `/enable`. Disabling ends every
    /// session at once.
    pub async fn set_user_enabled(&self, ctx: &Ctx, name: &str, enabled: bool) -> Result<User> {
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
            .await?;
        let name = username(name)?;
        let now = self.clock().now();
        let action = if enabled {
            "user.enable"
        } else {
            "user.disable"
        };
        let n = name.to_string();
        let admin = is_admin(&p);
        self.write_as(
            ctx,
            Some(&p),
            action,
            &format!("users/{name}"),
            None,
            move |w| {
                let mut u = w.user_by_name(&n)?.ok_or_else(|| user_not_found(&n))?;
                guard_admin_target(w, admin, &u.id)?;
                u.disabled_at = if enabled { None } else { Some(now) };
                w.set_user_disabled(&u.id, u.disabled_at)?;
                if !enabled {
                    w.revoke_sessions(Some(&u.id), now)?;
                }
                Ok(user_wire(&u))
            },
        )
        .await
    }

    /// `DELETE /v1/users/{user}`: the user, bindings and sessions; tokens
    /// they created are revoked.
    pub async fn delete_user(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
            .await?;
        let name = username(name)?;
        let now = self.clock().now();
        let n = name.to_string();
        let admin = is_admin(&p);
        self.write_as(
            ctx,
            Some(&p),
            "user.delete",
            &format!("users/{name}"),
            None,
            move |w| {
                let u = w.user_by_name(&n)?.ok_or_else(|| user_not_found(&n))?;
                guard_admin_target(w, admin, &u.id)?;
                w.revoke_sessions(Some(&u.id), now)?;
                w.revoke_service_tokens_of(&u.id, now)?;
                w.delete_user(&u.id)?;
                Ok(())
            },
        )
        .await
    }
}
