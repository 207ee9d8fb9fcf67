//! Offboarding: what a departing user could read, for the record.

use super::*;

impl Vault {
    /// `POST /v1/users/{user}/offboard`: disables the user, revokes their
    /// sessions, the service tokens they created, their bindings and
    /// emergency grants in one transaction, then lists what they (and their
    /// tokens) read in the period, from the audit trail.
    pub async fn offboard(&self, ctx: &Ctx, name: &str, req: Offboard) -> Result<OffboardReport> {
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
            .await?;
        let name = username(name)?;
        let resource = format!("users/{name}");
        let now = self.clock().now();
        let until = req.until.unwrap_or(now.plus_secs(1));
        if until <= req.since {
            return Err(Error::bad(
                "offboard.invalid_period",
                "`until` must be after `since`",
            ));
        }
        let n = name.to_string();
        let admin = is_admin(&p);
        let (user, sessions, tokens, bindings) = self
            .write_as(ctx, Some(&p), "user.offboard", &resource, None, move |w| {
                let mut u = w.user_by_name(&n)?.ok_or_else(|| user_not_found(&n))?;
                guard_admin_target(w, admin, &u.id)?;
                if u.disabled_at.is_none() {
                    u.disabled_at = Some(now);
                    w.set_user_disabled(&u.id, Some(now))?;
                }
                let s = w.revoke_sessions(Some(&u.id), now)?;
                let t = w.revoke_service_tokens_of(&u.id, now)?;
                let b = w.delete_bindings_of(&u.id)?;
                w.revoke_emergency_of(&u.id, now)?;
                Ok((u, s, t, b))
            })
            .await?;
        let uid = user.id.clone();
        let mut actors = vec![format!("user:{name}")];
        let all_tokens = self
            .store()
            .read(move |r| r.service_tokens(Some(&uid)))
            .await?;
        actors.extend(all_tokens.iter().map(|t| format!("service:{}", t.id)));
        let since = req.since;
        let records = self
            .store()
            .read(move |r| {
                let mut out = Vec::new();
                for actor in actors {
                    out.extend(r.audit_records(&AuditFilter {
                        from: Some(since),
                        to: Some(until),
                        actor: Some(actor),
                        action: Some("secret.read".into()),
                        ..AuditFilter::default()
                    })?);
                }
                Ok(out)
            })
            .await?;
        let mut reads: BTreeMap<String, (u64, Timestamp)> = BTreeMap::new();
        for r in records.iter().filter(|r| r.outcome == Outcome::Success) {
            let resource = r.resource.strip_suffix("/*").unwrap_or(&r.resource);
            let e = reads.entry(resource.to_owned()).or_insert((0, r.time));
            e.0 += 1;
            e.1 = e.1.max(r.time);
        }
        let detail = format!(
            "sessions_revoked={sessions} tokens_revoked={} bindings_removed={bindings} secrets_read={}",
            tokens.len(),
            reads.len()
        );
        let entry = self.entry(
            ctx,
            Some(&p),
            "user.offboard.report",
            &resource,
            Outcome::Success,
            Some(detail),
        );
        self.audit(ctx, entry).await?;
        Ok(OffboardReport {
            user: user_wire(&user),
            sessions_revoked: sessions,
            tokens_revoked: u64::try_from(tokens.len()).unwrap_or(u64::MAX),
            bindings_removed: bindings,
            secrets_read: reads
                .into_iter()
                .map(|(resource, (reads, last_read_at))| ReadItem {
                    resource,
                    reads,
                    last_read_at,
                })
                .collect(),
        })
    }

    // ---- roles and bindings ---------------------------------------------
}
