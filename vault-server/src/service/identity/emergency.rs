//! Emergency (break-glass) access: time-boxed, audited as critical,
//! ended early by its holder or an admin.

use super::*;

impl Vault {
    /// `POST /v1/emergency`: a time-boxed break-glass grant (read and list
    /// every secret) with a reason, recorded as a critical audit event.
    pub async fn open_emergency(&self, ctx: &Ctx, req: OpenEmergency) -> Result<EmergencyGrant> {
        let p = self
            .authorize_sensitive(ctx, Action::EmergencyOpen, "emergency")
            .await?;
        let reason = req.reason.trim().to_owned();
        if reason.chars().count() < 10
            || reason.len() > 1000
            || reason.chars().any(char::is_control)
        {
            return Err(Error::bad(
                "emergency.invalid_reason",
                "give a reason of 10 to 1000 characters (no control characters)",
            ));
        }
        let (default, max) = self.identity().emergency_secs;
        let ttl = req.ttl_secs.unwrap_or(default);
        if !(1..=max).contains(&ttl) {
            return Err(Error::bad(
                "emergency.invalid_ttl",
                format!("the duration must be 1..={max} seconds"),
            ));
        }
        let Principal::User {
            user_id, username, ..
        } = &p
        else {
            return Err(Error::bad(
                "emergency.user_only",
                "emergency access is opened by a user",
            ));
        };
        let now = self.clock().now();
        let row = EmergencyRow {
            id: new_id("e")?,
            user_id: user_id.clone(),
            username: username.clone(),
            reason,
            created_at: now,
            expires_at: now.plus_secs(ttl),
            revoked_at: None,
        };
        tracing::warn!(user = %username, until = %row.expires_at.to_rfc3339(), "CRITICAL: emergency access opened");
        let detail = Some(format!(
            "severity=critical until={} reason={}",
            row.expires_at.to_rfc3339(),
            row.reason
        ));
        self.write_as(
            ctx,
            Some(&p),
            "emergency.open",
            &format!("emergency/{}", row.id),
            detail,
            move |w| {
                w.insert_emergency(&row)?;
                Ok(EmergencyGrant {
                    id: row.id,
                    user: row.username,
                    reason: row.reason,
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                    active: true,
                })
            },
        )
        .await
    }

    /// `DELETE /v1/emergency/{id}`: ends a grant early, by its holder or by
    /// an administrator of users (`users.manage`); audited as critical.
    pub async fn end_emergency(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let resource = format!("emergency/{}", shown(id));
        let p = self.authorize(ctx, Action::SelfService, &resource).await?;
        let id2 = id.to_owned();
        let grant = self
            .store()
            .read(move |r| Ok(r.emergency_grants(None)?.into_iter().find(|g| g.id == id2)))
            .await?;
        let holder = matches!((&p, &grant), (Principal::User { user_id, .. }, Some(g)) if *user_id == g.user_id);
        if !holder && !p.can(Permission::UsersManage, &Resource::Global) {
            return Err(self
                .refuse(
                    ctx,
                    &p,
                    "emergency.end",
                    &resource,
                    "ending another's emergency grant needs users.manage (a global permission)",
                )
                .await);
        }
        let Some(g) = grant else {
            return Err(Error::not_found(
                "emergency.not_found",
                "no such emergency grant",
            ));
        };
        let now = self.clock().now();
        tracing::warn!(grant = %g.id, "CRITICAL: emergency access ended early");
        self.write_as(
            ctx,
            Some(&p),
            "emergency.end",
            &resource,
            Some("severity=critical ended early".into()),
            move |w| {
                if !w.end_emergency(&g.id, now)? {
                    return Err(Error::conflict(
                        "emergency.not_active",
                        "the grant has already ended",
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    /// `GET /v1/emergency`: every grant (security officers: `audit.read`).
    pub async fn list_emergency(&self, ctx: &Ctx) -> Result<EmergencyList> {
        self.audited(ctx, Action::AuditRead, "emergency", |_| async {
            let now = self.clock().now();
            let rows = self.store().read(|r| r.emergency_grants(None)).await?;
            Ok(EmergencyList {
                grants: rows
                    .into_iter()
                    .map(|g| EmergencyGrant {
                        active: g.revoked_at.is_none() && g.expires_at > now,
                        id: g.id,
                        user: g.username,
                        reason: g.reason,
                        created_at: g.created_at,
                        expires_at: g.expires_at,
                    })
                    .collect(),
            })
        })
        .await
    }

    // ---- dev-mode test clock --------------------------------------------
}
