//! Workload identity: a CI job or a pod trades the JWT its platform signed
//! for a short service token with its role's scope, actions and lifetime,
//! so that a repository and its CI hold no vault credential (docs/ci.md).
//!
//! - [`jwt`]: one issuer: keys and the complete token check.
//! - here: the exchange (role lookup, bound claims, single use, minting,
//!   audit) and the roles made through the API.

pub mod jwt;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use vault_core::access::{Permission, Scope};
use vault_core::api::{
    CreateWorkloadRole, CreatedServiceToken, WorkloadIssuerInfo, WorkloadIssuerList, WorkloadLogin,
    WorkloadRole, WorkloadRoleList,
};
use vault_core::audit::Outcome;
use vault_core::crypto::Token;
use vault_core::workload::{
    DEFAULT_TTL_SECS, Refusal, audit_claims, check_bound_claims, token_name,
};

use self::jwt::Issuer;
use crate::config::WorkloadConfig;
use crate::config::workload::{CheckedRole, check_role, is_name};
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::identity::ServiceTokenRow;
use crate::store::workload::WorkloadRoleRow;

/// The configured issuers at run time.
#[derive(Debug, Default)]
pub struct WorkloadState {
    issuers: Vec<Arc<Issuer>>,
}

impl WorkloadState {
    /// Issuers for `config` (roles checked; nothing fetched yet).
    pub fn new(config: &WorkloadConfig) -> std::result::Result<Self, String> {
        Ok(Self {
            issuers: config
                .issuers
                .iter()
                .map(|i| Issuer::new(i.clone()).map(Arc::new))
                .collect::<std::result::Result<_, _>>()?,
        })
    }

    fn get(&self, name: &str) -> Option<Arc<Issuer>> {
        self.issuers.iter().find(|i| i.config.name == name).cloned()
    }
}

/// A role, wherever it was defined.
struct ResolvedRole {
    bound: std::collections::BTreeMap<String, String>,
    glob: bool,
    role: CheckedRole,
    /// `workload:<issuer>/<role>` for configured roles (the operator's
    /// trust), else the API role's creator, whose grants then bound every
    /// token minted under it.
    created_by: String,
}

fn refusal_error(r: &Refusal) -> Error {
    let kind = match r {
        Refusal::IssuerUnreachable => Kind::Upstream,
        Refusal::UnknownIssuer | Refusal::UnknownRole => Kind::NotFound,
        _ => Kind::Unauthenticated,
    };
    let code = match r {
        Refusal::UnknownIssuer => "workload.unknown_issuer",
        Refusal::UnknownRole => "workload.unknown_role",
        Refusal::Replayed => "workload.replayed",
        Refusal::IssuerUnreachable => "workload.issuer_unreachable",
        Refusal::ClaimMismatch(_) => "workload.claim_mismatch",
        _ => "workload.invalid_token",
    };
    Error::new(kind, code, format!("{} ({})", r.explanation(), r.code()))
}

impl Vault {
    fn workload(&self) -> &WorkloadState {
        self.workload_state()
    }

    /// `GET /v1/auth/workload/issuers`: the configured issuers and their
    /// audiences (what a CLI asks its platform for).
    pub fn workload_issuers(&self) -> WorkloadIssuerList {
        WorkloadIssuerList {
            issuers: self
                .workload()
                .issuers
                .iter()
                .map(|i| WorkloadIssuerInfo {
                    name: i.config.name.clone(),
                    issuer: i.config.issuer.clone(),
                    audiences: i.config.audiences.clone(),
                })
                .collect(),
        }
    }

    /// The role `name` of `issuer`: configured, else made through the API
    /// (whose maker must still exist and be enabled).
    async fn role_of(
        &self,
        issuer: &Issuer,
        name: &str,
    ) -> Result<std::result::Result<ResolvedRole, Refusal>> {
        if let Some((_, bound, glob, role)) = issuer.roles.iter().find(|(n, ..)| n == name) {
            return Ok(Ok(ResolvedRole {
                bound: bound.clone(),
                glob: *glob,
                role: role.clone(),
                created_by: format!("workload:{}/{name}", issuer.config.name),
            }));
        }
        let (iss, n) = (issuer.config.name.clone(), name.to_owned());
        let found = self
            .store()
            .read(move |r| {
                let Some(row) = r
                    .workload_roles(Some(&iss))?
                    .into_iter()
                    .find(|x| x.name == n)
                else {
                    return Ok(None);
                };
                let maker_ok = row.created_by == "root"
                    || r.user_by_id(&row.created_by)?
                        .is_some_and(|u| u.disabled_at.is_none());
                Ok(Some((row, maker_ok)))
            })
            .await?;
        let Some((r, maker_ok)) = found else {
            return Ok(Err(Refusal::UnknownRole));
        };
        if !maker_ok {
            return Ok(Err(Refusal::RoleCreatorGone));
        }
        Ok(check_role(
            &r.name,
            &r.bound_claims,
            r.bound_claims_glob,
            &r.scope,
            &r.permissions,
            r.ttl_secs,
        )
        .map(|role| ResolvedRole {
            bound: r.bound_claims,
            glob: r.bound_claims_glob,
            role,
            created_by: r.created_by,
        })
        .map_err(|_| Refusal::UnknownRole))
    }

    async fn refuse_workload(
        &self,
        ctx: &Ctx,
        issuer: &str,
        role: &str,
        refusal: Refusal,
        claims: Option<String>,
    ) -> Error {
        let mut detail = format!("issuer={issuer} role={role} reason={}", refusal.code());
        if let Some(c) = claims {
            detail.push(' ');
            detail.push_str(&c);
        }
        let e = self.entry(
            ctx,
            None,
            "auth.workload_login",
            &format!("workload/{issuer}/{role}"),
            Outcome::Denied,
            Some(detail),
        );
        match self.audit(ctx, e).await {
            Ok(()) => refusal_error(&refusal),
            Err(e) => e,
        }
    }

    /// `POST /v1/auth/workload/login`: verifies the JWT completely, checks
    /// the role's bound claims, spends the token (single use) and mints a
    /// service token with the role's scope, actions and lifetime.
    pub async fn workload_login(
        &self,
        ctx: &Ctx,
        req: WorkloadLogin,
    ) -> Result<CreatedServiceToken> {
        self.unsealed()?;
        // Names are checked before anything is written: they reach the
        // audit trail from an unauthenticated caller.
        if !is_name(&req.issuer, 32) || !is_name(&req.role, 64) {
            return Err(Error::bad(
                "workload.invalid_name",
                "issuer and role are names of a-z, 0-9 and '-' (32 and 64 characters at most)",
            ));
        }
        let (iname, rname) = (req.issuer.clone(), req.role.clone());
        let Some(issuer) = self.workload().get(&iname) else {
            return Err(self
                .refuse_workload(ctx, &iname, &rname, Refusal::UnknownIssuer, None)
                .await);
        };
        let role = match self.role_of(&issuer, &rname).await? {
            Ok(r) => r,
            Err(r) => return Err(self.refuse_workload(ctx, &iname, &rname, r, None).await),
        };
        let jwt = req.jwt.expose_secret();
        if jwt.len() > 16 * 1024 {
            return Err(self
                .refuse_workload(ctx, &iname, &rname, Refusal::Malformed, None)
                .await);
        }
        let now = self.clock().now();
        let v = match issuer.verify(jwt, now.as_millis() / 1000).await {
            Ok(v) => v,
            Err(r) => return Err(self.refuse_workload(ctx, &iname, &rname, r, None).await),
        };
        let seen = audit_claims(&role.bound, &v.claims);
        if let Err(r) = check_bound_claims(&role.bound, role.glob, &v.claims) {
            return Err(self
                .refuse_workload(ctx, &iname, &rname, r, Some(seen))
                .await);
        }
        // Spent before the token is minted: a failure after this burns the
        // JWT (the job asks its platform for another), never lets it twice.
        // Keyed by the issuer URL (two names for one issuer share it) and
        // the `jti`, else the signed part of the token: a re-encoded
        // signature (ECDSA's (r, n-s)) is the same token. Kept until the
        // token could no longer pass, leeway included.
        let signed_part = jwt.rsplit_once('.').map_or(jwt, |(head, _)| head);
        let mut h = Sha256::new();
        h.update(issuer.config.issuer.as_bytes());
        h.update([0u8]);
        match v.claims.get("jti").and_then(|j| j.as_str()) {
            Some(j) => h.update(format!("jti:{j}").as_bytes()),
            None => h.update(format!("jwt:{signed_part}").as_bytes()),
        }
        let jti = h.finalize().to_vec();
        let (i2, exp) = (
            issuer.config.issuer.clone(),
            vault_core::clock::Timestamp::from_millis(
                v.exp
                    .saturating_add(vault_core::workload::LEEWAY_SECS + 60)
                    .saturating_mul(1000),
            ),
        );
        let fresh = self
            .store()
            .write(None, move |w| -> Result<bool> {
                Ok(w.record_jti(&i2, &jti, exp, now)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        if !fresh {
            return Err(self
                .refuse_workload(ctx, &iname, &rname, Refusal::Replayed, Some(seen))
                .await);
        }
        let (id, token, hash) =
            Token::generate().map_err(|e| Error::internal(format!("token: {e}")))?;
        let row = ServiceTokenRow {
            id: id.as_str().to_owned(),
            hash: hash.to_vec(),
            name: token_name(&iname, &v.claims),
            created_by: role.created_by.clone(),
            scopes: vec![role.role.scope.to_string()],
            permissions: role
                .role
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            networks: Vec::new(),
            created_at: now,
            expires_at: now.plus_secs(role.role.ttl_secs),
            last_used_at: None,
            revoked_at: None,
        };
        let wire = super::identity::token_wire(&row, role.created_by.clone());
        let detail = Some(format!(
            "issuer={iname} role={rname} {seen} token={} scope={} actions={} expires={}",
            row.id,
            row.scopes.join(","),
            row.permissions.join(","),
            row.expires_at.to_rfc3339()
        ));
        let mut entry = self.entry(
            ctx,
            None,
            "auth.workload_login",
            &format!("workload/{iname}/{rname}"),
            Outcome::Success,
            detail,
        );
        entry.token_id = Some(row.id.clone());
        entry.actor = format!("workload:{}", row.name);
        ctx.audited
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                w.insert_service_token(&row)?;
                Ok(())
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        self.metrics().audit_records.inc();
        Ok(CreatedServiceToken {
            token,
            service_token: wire,
        })
    }

    // ---- roles ------------------------------------------------------------

    /// `GET /v1/workload/roles`: configured roles, then API-made ones.
    pub async fn workload_roles(&self, ctx: &Ctx) -> Result<WorkloadRoleList> {
        self.audited(ctx, Action::UsersManage, "workload/roles", |_| async move {
            let mut roles: Vec<WorkloadRole> = Vec::new();
            for i in &self.workload().issuers {
                for (name, bound, glob, r) in &i.roles {
                    roles.push(WorkloadRole {
                        issuer: i.config.name.clone(),
                        name: name.clone(),
                        bound_claims: bound.clone(),
                        bound_claims_glob: *glob,
                        scope: r.scope.to_string(),
                        actions: r
                            .permissions
                            .iter()
                            .map(|p| p.as_str().to_owned())
                            .collect(),
                        ttl_secs: r.ttl_secs,
                        source: "config".into(),
                        created_by: None,
                        created_at: None,
                    });
                }
            }
            let rows = self
                .store()
                .read(|r| {
                    let rows = r.workload_roles(None)?;
                    let mut out = Vec::new();
                    for row in rows {
                        let by = if row.created_by == "root" {
                            "root".to_owned()
                        } else {
                            r.user_by_id(&row.created_by)?.map_or_else(
                                || format!("user-id:{}", row.created_by),
                                |u| format!("user:{}", u.username),
                            )
                        };
                        out.push((row, by));
                    }
                    Ok(out)
                })
                .await?;
            roles.extend(rows.into_iter().map(|(r, by)| WorkloadRole {
                issuer: r.issuer,
                name: r.name,
                bound_claims: r.bound_claims,
                bound_claims_glob: r.bound_claims_glob,
                scope: r.scope,
                actions: r.permissions,
                ttl_secs: r.ttl_secs,
                source: "api".into(),
                created_by: Some(by),
                created_at: Some(r.created_at),
            }));
            Ok(WorkloadRoleList { roles })
        })
        .await
    }

    /// `POST /v1/workload/roles`: the same checks as service tokens: the
    /// creator cannot grant what they do not hold on the scope.
    pub async fn create_workload_role(
        &self,
        ctx: &Ctx,
        req: CreateWorkloadRole,
    ) -> Result<WorkloadRole> {
        let resource = format!("workload/roles/{}/{}", req.issuer, req.name);
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let bad = |code: &'static str, m: String| Error::bad(code, m);
        let checked = (|| {
            let issuer = self.workload().get(&req.issuer).ok_or_else(|| {
                bad(
                    "workload.unknown_issuer",
                    format!(
                        "no workload issuer {:?} is configured; see [[workload_identity.issuers]]",
                        req.issuer
                    ),
                )
            })?;
            if issuer.roles.iter().any(|(n, ..)| *n == req.name) {
                return Err(Error::conflict(
                    "workload.role_exists",
                    "the server's configuration defines a role of that name",
                ));
            }
            check_role(
                &req.name,
                &req.bound_claims,
                req.bound_claims_glob,
                &req.scope,
                &req.actions,
                req.ttl_secs.unwrap_or(DEFAULT_TTL_SECS),
            )
            .map_err(|m| bad("workload.invalid_role", m))
        })();
        let role = match checked {
            Ok(r) => r,
            Err(e) => {
                return Err(self
                    .audit_refusal(ctx, Some(&p), "workload.role_create", &resource, e)
                    .await);
            }
        };
        let creator = match &p {
            Principal::Root { .. } => "root".to_owned(),
            Principal::User { user_id, .. } => user_id.clone(),
            Principal::Service { .. } => {
                let e = Error::new(
                    Kind::Forbidden,
                    "access.denied",
                    "a service token cannot create workload roles",
                );
                return Err(self
                    .audit_refusal(ctx, Some(&p), "workload.role_create", &resource, e)
                    .await);
            }
        };
        if let Some(perm) = role
            .permissions
            .iter()
            .find(|perm| !holds(&p, **perm, &role.scope))
        {
            let e = Error::new(
                Kind::Forbidden,
                "access.escalation",
                format!(
                    "you cannot create a workload role with {}: you do not hold it on {}",
                    perm.as_str(),
                    role.scope
                ),
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "workload.role_create", &resource, e)
                .await);
        }
        let row = WorkloadRoleRow {
            issuer: req.issuer.clone(),
            name: req.name.clone(),
            bound_claims: req.bound_claims.clone(),
            bound_claims_glob: req.bound_claims_glob,
            scope: role.scope.to_string(),
            permissions: role
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            ttl_secs: role.ttl_secs,
            created_by: creator,
            created_at: self.clock().now(),
        };
        let wire = WorkloadRole {
            issuer: row.issuer.clone(),
            name: row.name.clone(),
            bound_claims: row.bound_claims.clone(),
            bound_claims_glob: row.bound_claims_glob,
            scope: row.scope.clone(),
            actions: row.permissions.clone(),
            ttl_secs: row.ttl_secs,
            source: "api".into(),
            created_by: Some(p.actor()),
            created_at: Some(row.created_at),
        };
        let detail = Some(format!(
            "bound_claims={} scope={} actions={} ttl={}s",
            serde_json::to_string(&row.bound_claims).unwrap_or_default(),
            row.scope,
            row.permissions.join(","),
            row.ttl_secs
        ));
        self.write_as(
            ctx,
            Some(&p),
            "workload.role_create",
            &resource,
            detail,
            move |w| {
                if !w.insert_workload_role(&row)? {
                    return Err(Error::conflict(
                        "workload.role_exists",
                        "a role of that name exists for this issuer",
                    ));
                }
                Ok(())
            },
        )
        .await?;
        Ok(wire)
    }

    /// `DELETE /v1/workload/roles/{issuer}/{name}`: tokens minted under it
    /// keep their (short) lifetime.
    pub async fn delete_workload_role(&self, ctx: &Ctx, issuer: &str, name: &str) -> Result<()> {
        let resource = format!("workload/roles/{issuer}/{name}");
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let (i, n) = (issuer.to_owned(), name.to_owned());
        self.write_as(ctx, Some(&p), "workload.role_delete", &resource, None, move |w| {
            if !w.delete_workload_role(&i, &n)? {
                return Err(Error::not_found(
                    "workload.role_not_found",
                    "no such role made through the API (configured roles are changed in the server's TOML)",
                ));
            }
            Ok(())
        })
        .await
    }
}

/// Whether `p` holds `perm` on all of `scope` (root always).
fn holds(p: &Principal, perm: Permission, scope: &Scope) -> bool {
    p.grants()
        .is_none_or(|g| super::identity::auth::grants_hold(g, perm, scope))
}
