//! Identity and access operations: login and logout, users, roles and
//! bindings, sessions, service tokens, emergency access, offboarding, and
//! the dev-mode test clock. Each operation authenticates (the `who` layer,
//! against the database on every request), decides (the `may they` layer)
//! and writes its audit record in the same transaction as its change.
//! Credentials never reach an audit record, a log line or an error.
//!
//! - [`auth`]: credential checks for sessions and service tokens.
//! - [`cidr`]: allowed source networks of service tokens.
//! - [`throttle`]: failed-attempt counters reserved before each hash.

pub mod auth;
pub mod cidr;
pub mod throttle;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OnceCell, Semaphore};
use vault_core::access::{Grant, Permission, Resource, Role, Scope};
use vault_core::api::{
    Binding, BindingList, ChangePassword, CreateBinding, CreateRole, CreateServiceToken,
    CreateUser, CreatedServiceToken, EmergencyGrant, EmergencyList, GrantInfo, LoginRequest,
    LoginResponse, Offboard, OffboardReport, OpenEmergency, ReadItem, RevokeSessions, Revoked,
    RoleInfo, RoleList, ServiceToken, ServiceTokenList, Session, SessionList, TestClock, User,
    UserList, WhoAmI,
};
use vault_core::audit::Outcome;
use vault_core::clock::{Clock, Timestamp};
use vault_core::crypto::{Token, hash_password, needs_rehash, random, verify_password};
use vault_core::identity::{PasswordPolicyError, Username, check_password, check_password_length};
use vault_core::secret::SecretText;

pub use self::auth::IdentitySettings;
use self::auth::{EMERGENCY_ROLE, find_role, resolve};
use self::cidr::Cidr;
use self::throttle::Counter;
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::identity::{
    BindingRow, EmergencyRow, RoleRow, ServiceTokenRow, SessionRow, UserRow,
};
use crate::store::{AuditFilter, Writer};

/// Default service token lifetime: 30 days.
pub const TOKEN_DEFAULT_TTL_SECS: i64 = 30 * 86_400;
/// Longest service token lifetime: 1 year.
pub const TOKEN_MAX_TTL_SECS: i64 = 365 * 86_400;

/// Runtime state of the identity layer: the cap on concurrent password
/// hashes and the dummy hash verified for unknown users.
pub struct IdentityState {
    hashes: Arc<Semaphore>,
    dummy: OnceCell<String>,
}

impl IdentityState {
    /// State for `settings`.
    pub fn new(settings: &IdentitySettings) -> Self {
        Self {
            hashes: Arc::new(Semaphore::new(settings.max_concurrent_hashes.max(1))),
            dummy: OnceCell::new(),
        }
    }
}

fn new_id(prefix: &str) -> Result<String> {
    let b = random::bytes::<12>().map_err(|e| Error::internal(format!("random: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// No escalation: a caller cannot hand out a permission it does not hold
/// itself (403 `access.escalation`, naming the permission and scope).
fn escalation(what: String, scope: &str) -> Error {
    Error::new(
        Kind::Forbidden,
        "access.escalation",
        format!("you cannot {what}: you do not hold it on {scope}"),
    )
}

fn invalid_credentials() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "auth.invalid_credentials",
        "invalid username or password",
    )
}

fn password_error(e: &PasswordPolicyError) -> Error {
    let code = match e {
        PasswordPolicyError::TooShort { .. } => "password.too_short",
        PasswordPolicyError::TooLong { .. } => "password.too_long",
        PasswordPolicyError::Weak { .. } => "password.too_weak",
    };
    Error::bad(code, e.to_string())
}

fn username(s: &str) -> Result<Username> {
    Username::parse(s).map_err(|e| Error::bad("user.invalid_name", e.to_string()))
}

fn user_not_found(name: &str) -> Error {
    Error::not_found("user.not_found", format!("no user {name}"))
}

fn user_wire(u: &UserRow) -> User {
    User {
        id: u.id.clone(),
        username: u.username.clone(),
        disabled: u.disabled_at.is_some(),
        created_at: u.created_at,
    }
}

fn token_wire(t: &ServiceTokenRow, creator: String) -> ServiceToken {
    ServiceToken {
        id: t.id.clone(),
        name: t.name.clone(),
        created_by: creator,
        scopes: t.scopes.clone(),
        actions: t.permissions.clone(),
        networks: t.networks.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
    }
}

/// Whether `p` holds `perm` on all of `scope` (root always; emergency grants
/// never count: they cannot be passed on).
fn holds_on(p: &Principal, perm: Permission, scope: &Scope) -> bool {
    p.grants().is_none_or(|g| auth::grants_hold(g, perm, scope))
}

/// Refuses an exact scope whose project or environment does not exist
/// (inside the writer's transaction, so the check holds at the commit).
/// Patterns (`*`) are fine; so is anything with `allow_future`.
fn require_existing_scope(w: &dyn Writer, sc: &Scope, allow_future: bool) -> Result<()> {
    use vault_core::access::Part;
    if allow_future {
        return Ok(());
    }
    let Part::Exact(project) = &sc.project else {
        return Ok(());
    };
    let missing = |what: String| {
        Error::bad(
            "access.unknown_scope",
            format!(
                "{what} does not exist: check the name (`vault projects list`, `vault envs list`), \
                 use a pattern, or pass --allow-future to grant it ahead of its creation"
            ),
        )
    };
    let Some(p) = w.project(project.as_str())? else {
        return Err(missing(format!("project {project}")));
    };
    if let Part::Exact(env) = &sc.environment
        && w.environment(p.id, env.as_str())?.is_none()
    {
        return Err(missing(format!("environment {project}/{env}")));
    }
    Ok(())
}

/// Whether `p` is an administrator: a root token, or a holder of the
/// built-in `admin` role.
fn is_admin(p: &Principal) -> bool {
    p.grants()
        .is_none_or(|g| g.iter().any(|g| g.role.name == "admin"))
}

/// Refuses (inside the writer's transaction, so the check and the change
/// are one) to let a non-administrator disable, enable, delete or offboard
/// an administrator.
fn guard_admin_target(w: &dyn Writer, caller_is_admin: bool, user_id: &str) -> Result<()> {
    if !caller_is_admin && w.bindings(Some(user_id))?.iter().any(|b| b.role == "admin") {
        return Err(Error::new(
            Kind::Forbidden,
            "access.admin_target",
            "only an administrator may disable, delete or offboard an administrator",
        ));
    }
    Ok(())
}

/// User input shown in an audit resource before it is validated: escaped
/// and cut short.
fn shown(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_default).collect()
}

fn custom_role_name(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(Error::bad(
            "role.invalid_name",
            "role names are lowercase ASCII letters, digits and '-', starting with a letter",
        ));
    }
    if Role::builtin(s).is_some() || s == EMERGENCY_ROLE || s == "service-token" {
        return Err(Error::conflict(
            "role.exists",
            format!("{s} is a built-in role"),
        ));
    }
    Ok(())
}

fn parse_permissions(list: &[String]) -> Result<Vec<Permission>> {
    list.iter()
        .map(|p| {
            Permission::parse(p).ok_or_else(|| {
                Error::bad(
                    "role.invalid_permission",
                    format!(
                        "unknown action {:?}; known: {}",
                        p.chars().take(40).collect::<String>(),
                        Permission::ALL.map(Permission::as_str).join(", ")
                    ),
                )
            })
        })
        .collect()
}

fn scope(s: &str) -> Result<Scope> {
    Scope::parse(s).map_err(|e| Error::bad("access.invalid_scope", e.to_string()))
}

impl Vault {
    fn identity(&self) -> &IdentitySettings {
        &self.settings().identity
    }

    /// Writes `f` with an audit record named `audit_action` for `p`.
    async fn write_as<T, F>(
        &self,
        ctx: &Ctx,
        p: Option<&Principal>,
        audit_action: &str,
        resource: &str,
        detail: Option<String>,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Writer) -> Result<T> + Send + 'static,
    {
        let entry = self.entry(ctx, p, audit_action, resource, Outcome::Success, detail);
        ctx.audited.store(true, Ordering::Relaxed);
        let res = self
            .store()
            .write(Some(entry), f)
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))?;
        self.metrics().audit_records.inc();
        res
    }

    /// Audits a refusal made after authentication and returns it.
    async fn refuse(
        &self,
        ctx: &Ctx,
        p: &Principal,
        action: &str,
        resource: &str,
        why: &str,
    ) -> Error {
        let err = Error::new(Kind::Forbidden, "access.denied", why);
        self.audit_refusal(ctx, Some(p), action, resource, err)
            .await
    }

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

    async fn hash_new_password(&self, pw: SecretText) -> Result<String> {
        let params = self.identity().password_params;
        let _permit = self
            .inner_hashes()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("hash limiter closed"))?;
        tokio::task::spawn_blocking(move || hash_password(&pw, params))
            .await
            .map_err(|e| Error::internal(format!("hash task: {e}")))?
            .map_err(|e| Error::internal(format!("hash: {e}")))
    }

    async fn verify_off_runtime(&self, pw: SecretText, phc: Option<String>) -> Result<bool> {
        let real = phc.is_some();
        let phc = match phc {
            Some(h) => h,
            None => self.dummy_hash().await?,
        };
        let _permit = self
            .inner_hashes()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("hash limiter closed"))?;
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
            .await
            .map_err(|e| Error::internal(format!("verify task: {e}")))?;
        Ok(ok && real)
    }

    async fn dummy_hash(&self) -> Result<String> {
        let params = self.identity().password_params;
        self.identity_state()
            .dummy
            .get_or_try_init(|| async move {
                let b = random::bytes::<16>().map_err(|e| Error::internal(format!("{e}")))?;
                let pw = SecretText::new(hex::encode(b));
                tokio::task::spawn_blocking(move || hash_password(&pw, params))
                    .await
                    .map_err(|e| Error::internal(format!("hash task: {e}")))?
                    .map_err(|e| Error::internal(format!("hash: {e}")))
            })
            .await
            .cloned()
    }

    fn inner_hashes(&self) -> Arc<Semaphore> {
        self.identity_state().hashes.clone()
    }

    /// `POST /v1/auth/login`: the same answer, after comparable work, for an
    /// unknown user, a wrong password and a disabled account. Each attempt
    /// is reserved on the account's and the address's throttle before the
    /// password is hashed; a password over 1,024 bytes is refused unhashed.
    pub async fn login(&self, ctx: &Ctx, req: LoginRequest) -> Result<LoginResponse> {
        self.unsealed()?;
        let name = Username::parse(&req.username).ok();
        let shown = name
            .as_ref()
            .map_or_else(|| "(invalid)".to_owned(), ToString::to_string);
        let acct_key = format!("user:{shown}");
        let settings = Arc::new(self.identity().clone());
        let mut entry = self.entry(ctx, None, "auth.login", "auth", Outcome::Denied, None);
        entry.actor = format!("user:{shown}");
        if let Err(e) = check_password_length(&req.password) {
            entry.detail = Some("password.too_long".into());
            self.audit(ctx, entry).await?;
            return Err(password_error(&e));
        }
        let reservation = match self
            .reserve_attempt(vec![
                Counter {
                    key: acct_key.clone(),
                    policy: settings.throttle,
                    what: "account",
                },
                Counter {
                    key: format!("ip:{}", ctx.source),
                    policy: settings.address_throttle(),
                    what: "address",
                },
            ])
            .await
        {
            Ok(r) => r,
            Err(e) => {
                entry.detail = Some(format!("{}: {}", e.code, e.message));
                self.audit(ctx, entry).await?;
                return Err(e);
            }
        };
        let (lookup, s2) = (name.clone(), settings.clone());
        let (user, grants_policy) = self
            .store()
            .read(move |r| {
                let user = match &lookup {
                    Some(n) => r.user_by_name(n.as_str())?,
                    None => None,
                };
                let gp = match &user {
                    Some(u) => Some(resolve(&r.bindings(Some(&u.id))?, &r.roles()?, &s2)),
                    None => None,
                };
                Ok((user, gp))
            })
            .await?;
        let enabled = user.as_ref().filter(|u| u.disabled_at.is_none());
        let phc = user.as_ref().and_then(|u| u.password_hash.clone());
        let rehash = phc
            .as_deref()
            .is_some_and(|h| needs_rehash(h, settings.password_params));
        let presented = rehash.then(|| req.password.clone());
        let verified = self.verify_off_runtime(req.password, phc).await?;
        let Some(u) = enabled.filter(|_| verified).cloned() else {
            let delay = reservation.next_delay_secs();
            entry.detail = Some(if delay > 0 {
                format!("auth.invalid_credentials; auth.throttled: next attempt delayed {delay}s")
            } else {
                "auth.invalid_credentials".to_owned()
            });
            self.audit(ctx, entry).await?;
            return Err(invalid_credentials());
        };
        // Upgrade a hash made with older parameters while the password is at hand.
        let new_hash = match presented {
            Some(pw) => Some(self.hash_new_password(pw).await?),
            None => None,
        };
        let (_, policy) = grants_policy.unwrap_or_else(|| (Vec::new(), settings.session));
        let uid = u.id.clone();
        self.open_session(ctx, &u, "password", policy, entry, move |w| {
            if let Some(h) = &new_hash {
                w.set_password_hash(&uid, h)?;
            }
            Vault::settle_success(w, &reservation, &acct_key)
        })
        .await
    }

    /// Ends every way of proving identity (password today; OIDC and
    /// WebAuthn plug in here): stores a new session for `user` and writes the
    /// `auth.login` success record (`entry`) with it, plus `also` (e.g.
    /// clearing a throttle) in the same transaction.
    pub(crate) async fn open_session<F>(
        &self,
        ctx: &Ctx,
        user: &UserRow,
        method: &'static str,
        policy: vault_core::session::SessionPolicy,
        mut entry: vault_core::audit::AuditEntry,
        also: F,
    ) -> Result<LoginResponse>
    where
        F: FnOnce(&mut dyn Writer) -> Result<()> + Send + 'static,
    {
        let now = self.clock().now();
        let (id, token, hash) =
            Token::generate().map_err(|e| Error::internal(format!("token: {e}")))?;
        let row = SessionRow {
            id: id.as_str().to_owned(),
            hash: hash.to_vec(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            created_at: now,
            last_used_at: now,
            revoked_at: None,
            source: ctx.source.clone(),
            method: method.into(),
        };
        entry.outcome = Outcome::Success;
        entry.token_id = Some(row.id.clone());
        entry.detail = Some(format!("method={method}"));
        ctx.audited.store(true, Ordering::Relaxed);
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                w.insert_session(&row)?;
                also(w)
            })
            .await??;
        self.metrics().audit_records.inc();
        Ok(LoginResponse {
            token,
            session_id: id.as_str().to_owned(),
            username: user.username.clone(),
            expires_at: now.plus_secs(policy.absolute_secs),
            idle_timeout_secs: policy.idle_secs,
        })
    }

    /// `POST /v1/auth/logout`: revokes the calling session.
    pub async fn logout(&self, ctx: &Ctx) -> Result<()> {
        let p = self.authorize(ctx, Action::SelfService, "auth").await?;
        let Principal::User { session_id, .. } = &p else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "only a login session can log out; revoke tokens with DELETE /v1/tokens/{id}",
            ));
        };
        let (id, now) = (session_id.clone(), self.clock().now());
        self.write_as(
            ctx,
            Some(&p),
            "session.revoke",
            &format!("sessions/{id}"),
            Some("logout".into()),
            move |w| {
                w.revoke_session(&id, now)?;
                Ok(())
            },
        )
        .await
    }

    /// `GET /v1/auth/whoami`.
    pub async fn whoami(&self, ctx: &Ctx) -> Result<WhoAmI> {
        self.audited(ctx, Action::SelfService, "auth/whoami", |p| async move {
            let grants = |g: &[Grant]| {
                g.iter()
                    .map(|g| GrantInfo {
                        role: g.role.name.clone(),
                        scope: g.scope.to_string(),
                    })
                    .collect::<Vec<_>>()
            };
            Ok(match p {
                Principal::Root { token_id } => WhoAmI {
                    kind: "root".into(),
                    name: "root".into(),
                    id: token_id,
                    session_id: None,
                    grants: vec![GrantInfo {
                        role: "admin".into(),
                        scope: "*/*".into(),
                    }],
                    emergency_until: None,
                },
                Principal::User {
                    user_id,
                    username,
                    session_id,
                    grants: g,
                    emergency_until,
                    ..
                } => WhoAmI {
                    kind: "user".into(),
                    name: username,
                    id: user_id,
                    session_id: Some(session_id),
                    grants: grants(&g),
                    emergency_until,
                },
                Principal::Service {
                    token_id,
                    name,
                    grants: g,
                    ..
                } => WhoAmI {
                    kind: "service_token".into(),
                    name,
                    id: token_id,
                    session_id: None,
                    grants: grants(&g),
                    emergency_until: None,
                },
            })
        })
        .await
    }

    /// `POST /v1/auth/password`: checks the current password, stores the new
    /// one and ends every session of the user.
    pub async fn change_password(&self, ctx: &Ctx, req: ChangePassword) -> Result<()> {
        let p = self
            .authorize(ctx, Action::SelfService, "auth/password")
            .await?;
        let Principal::User {
            user_id,
            username: who,
            ..
        } = &p
        else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "only a user session can change its password",
            ));
        };
        let resource = format!("users/{who}");
        let deny = |code: &str| {
            self.entry(
                ctx,
                Some(&p),
                "user.password_change",
                &resource,
                Outcome::Denied,
                Some(code.to_owned()),
            )
        };
        let name = username(who)?;
        // Refuse what cannot be right before any hashing, and check the
        // current password under the account's login throttle: a stolen
        // session must not become a password-guessing oracle.
        if let Err(e) = check_password_length(&req.current_password)
            .and_then(|()| check_password(&req.new_password, &name))
        {
            let e = password_error(&e);
            self.audit(ctx, deny(e.code)).await?;
            return Err(e);
        }
        let acct_key = format!("user:{name}");
        let reservation = match self
            .reserve_attempt(vec![Counter {
                key: acct_key.clone(),
                policy: self.identity().throttle,
                what: "account",
            }])
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.audit(ctx, deny(e.code)).await?;
                return Err(e);
            }
        };
        let uid = user_id.clone();
        let row = self
            .store()
            .read(move |r| r.user_by_id(&uid))
            .await?
            .ok_or_else(|| user_not_found(who))?;
        if !self
            .verify_off_runtime(req.current_password, row.password_hash.clone())
            .await?
        {
            self.audit(ctx, deny("auth.invalid_credentials")).await?;
            return Err(invalid_credentials());
        }
        let hash = self.hash_new_password(req.new_password).await?;
        let (uid, now) = (user_id.clone(), self.clock().now());
        self.write_as(
            ctx,
            Some(&p),
            "user.password_change",
            &resource,
            Some("sessions revoked".into()),
            move |w| {
                w.set_password_hash(&uid, &hash)?;
                w.revoke_sessions(Some(&uid), now)?;
                Vault::settle_success(w, &reservation, &acct_key)
            },
        )
        .await
    }

    // ---- users ----------------------------------------------------------

    /// `POST /v1/users`.
    pub async fn create_user(&self, ctx: &Ctx, req: CreateUser) -> Result<User> {
        let p = self
            .authorize(
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
            .authorize(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
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
            .authorize(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
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

    /// `POST /v1/users/{user}/offboard`: disables the user, revokes their
    /// sessions, the service tokens they created, their bindings and
    /// emergency grants in one transaction, then lists what they (and their
    /// tokens) read in the period, from the audit trail.
    pub async fn offboard(&self, ctx: &Ctx, name: &str, req: Offboard) -> Result<OffboardReport> {
        let p = self
            .authorize(ctx, Action::UsersManage, &format!("users/{}", shown(name)))
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
                        name: r.name,
                        builtin: true,
                        session_absolute_secs: over.0,
                        session_idle_secs: over.1,
                    }
                })
                .collect();
            roles.extend(custom.into_iter().map(|r| RoleInfo {
                name: r.name,
                permissions: r.permissions,
                builtin: false,
                session_absolute_secs: r.absolute_secs,
                session_idle_secs: r.idle_secs,
            }));
            Ok(RoleList { roles })
        })
        .await
    }

    /// `POST /v1/roles`: a custom role.
    pub async fn create_role(&self, ctx: &Ctx, req: CreateRole) -> Result<RoleInfo> {
        let resource = format!("roles/{}", shown(&req.name));
        let p = self.authorize(ctx, Action::UsersManage, &resource).await?;
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
            created_at: self.clock().now(),
        };
        let detail = Some(format!("permissions={}", row.permissions.join(",")));
        self.write_as(ctx, Some(&p), "role.create", &resource, detail, move |w| {
            if w.roles()?.iter().any(|r| r.name == row.name) {
                return Err(Error::conflict(
                    "role.exists",
                    format!("role {} exists", row.name),
                ));
            }
            w.insert_role(&row)?;
            Ok(RoleInfo {
                name: row.name,
                permissions: row.permissions,
                builtin: false,
                session_absolute_secs: row.absolute_secs,
                session_idle_secs: row.idle_secs,
            })
        })
        .await
    }

    /// `DELETE /v1/roles/{role}`: removes its bindings and ends the sessions
    /// of everyone who held it.
    pub async fn delete_role(&self, ctx: &Ctx, name: &str) -> Result<()> {
        let resource = format!("roles/{}", shown(name));
        let p = self.authorize(ctx, Action::UsersManage, &resource).await?;
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
        let p = self.authorize(ctx, Action::UsersManage, &resource).await?;
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
                })
            },
        )
        .await
    }

    /// `DELETE /v1/bindings/{id}`: the user's sessions end.
    pub async fn delete_binding(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let resource = format!("bindings/{id}");
        let p = self.authorize(ctx, Action::UsersManage, &resource).await?;
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

    /// `POST /v1/tokens`: a scoped, expiring service token, shown once. It
    /// can never carry more than its creator holds, nor global rights other
    /// than `metrics.read` (a scraper's token).
    pub async fn create_token(
        &self,
        ctx: &Ctx,
        req: CreateServiceToken,
    ) -> Result<CreatedServiceToken> {
        let p = self.authorize(ctx, Action::SelfService, "tokens").await?;
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
                        r.root_tokens()?.iter().map(super::root::wire).collect()
                    } else {
                        Vec::new()
                    };
                    for t in r.service_tokens(mine.as_deref())? {
                        let creator = if t.created_by == "root" {
                            "root".to_owned()
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

    /// `POST /v1/emergency`: a time-boxed break-glass grant (read and list
    /// every secret) with a reason, recorded as a critical audit event.
    pub async fn open_emergency(&self, ctx: &Ctx, req: OpenEmergency) -> Result<EmergencyGrant> {
        let p = self
            .authorize(ctx, Action::EmergencyOpen, "emergency")
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

    /// `POST /v1/sys/danger-test-clock`: moves the manual clock forward.
    /// Needs `sys.manage`, and exists only in dev mode with the test clock.
    pub async fn advance_test_clock(&self, ctx: &Ctx, secs: i64) -> Result<TestClock> {
        let p = self
            .authorize(ctx, Action::SysTestClock, "sys/clock")
            .await?;
        let Some(clock) = self.identity().test_clock.clone() else {
            return Err(Error::not_found(
                "dev.test_clock_disabled",
                "the test clock exists only with --dev and identity.danger_test_clock",
            ));
        };
        if !(0..=10 * 365 * 86_400).contains(&secs) {
            return Err(Error::bad("dev.invalid_advance", "advance by 0..=10 years"));
        }
        clock.advance_secs(secs);
        let entry = self.entry(
            ctx,
            Some(&p),
            "sys.danger_test_clock",
            "sys/clock",
            Outcome::Success,
            Some(format!("advanced {secs}s")),
        );
        self.audit(ctx, entry).await?;
        Ok(TestClock { now: clock.now() })
    }
}

#[cfg(test)]
mod tests {
    use super::auth::scope_within;
    use super::*;
    use vault_core::clock::Timestamp;

    fn sc(s: &str) -> Scope {
        Scope::parse(s).unwrap()
    }

    fn user_with(grants: &[(&str, &str)]) -> Principal {
        Principal::User {
            user_id: "u1".into(),
            username: "alice".into(),
            session_id: "s1".into(),
            last_used_at: Timestamp::from_millis(0),
            grants: grants
                .iter()
                .map(|(r, s)| Grant {
                    role: Role::builtin(r).unwrap(),
                    scope: sc(s),
                })
                .collect(),
            emergency_until: None,
        }
    }

    #[test]
    fn scope_containment() {
        assert!(scope_within(&sc("demo/dev"), &sc("demo/*")));
        assert!(scope_within(&sc("demo/dev"), &sc("*")));
        assert!(scope_within(&sc("*/dev"), &sc("*/dev")));
        assert!(!scope_within(&sc("demo/*"), &sc("demo/dev")));
        assert!(!scope_within(&sc("*/dev"), &sc("demo/dev")));
        assert!(!scope_within(&sc("demo/prod"), &sc("*/dev")));
    }

    #[test]
    fn holding_rights_to_pass_on() {
        let dev = user_with(&[("developer", "demo/*")]);
        assert!(holds_on(&dev, Permission::SecretsWrite, &sc("demo/dev")));
        assert!(!holds_on(&dev, Permission::SecretsWrite, &sc("*/dev")));
        assert!(!holds_on(&dev, Permission::UsersManage, &sc("*")));
        let so = user_with(&[("security-officer", "*")]);
        assert!(holds_on(&so, Permission::UsersManage, &sc("*")));
        assert!(!holds_on(&so, Permission::SecretsRead, &sc("demo/dev")));
        let root = Principal::Root {
            token_id: "r".into(),
        };
        assert!(holds_on(&root, Permission::SysManage, &sc("*")));
        // Emergency grants are never passed on.
        let Principal::User {
            user_id,
            username,
            session_id,
            last_used_at,
            ..
        } = user_with(&[])
        else {
            unreachable!()
        };
        let em = Principal::User {
            user_id,
            username,
            session_id,
            last_used_at,
            grants: vec![Grant {
                role: Role::new(EMERGENCY_ROLE, [Permission::SecretsRead]),
                scope: Scope::all(),
            }],
            emergency_until: Some(Timestamp::from_millis(1)),
        };
        assert!(em.can(
            Permission::SecretsRead,
            &Resource::Environment(
                vault_core::names::ProjectName::parse("demo").unwrap(),
                vault_core::names::EnvName::parse("dev").unwrap()
            )
        ));
        assert!(!holds_on(&em, Permission::SecretsRead, &sc("demo/dev")));
    }

    #[test]
    fn custom_role_names_and_shown_input() {
        assert!(custom_role_name("ci-reader").is_ok());
        for bad in ["", "Admin", "admin", "emergency", "a b", "1abc", "аdmin"] {
            assert!(custom_role_name(bad).is_err(), "{bad}");
        }
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn strictest_session_policy_of_the_roles() {
        let mut s = IdentitySettings::default();
        s.role_sessions
            .insert("admin".into(), (Some(3600), Some(600)));
        let b = |role: &str| BindingRow {
            id: "b".into(),
            user_id: "u".into(),
            username: "alice".into(),
            role: role.into(),
            scope: "*".into(),
            created_at: Timestamp::from_millis(0),
        };
        let custom = [RoleRow {
            name: "short".into(),
            permissions: vec!["secrets.list".into()],
            absolute_secs: None,
            idle_secs: Some(60),
            created_at: Timestamp::from_millis(0),
        }];
        let (g, p) = resolve(&[b("reader")], &custom, &s);
        assert_eq!(g.len(), 1);
        assert_eq!((p.absolute_secs, p.idle_secs), (8 * 3600, 1800));
        let (_, p) = resolve(&[b("reader"), b("admin")], &custom, &s);
        assert_eq!((p.absolute_secs, p.idle_secs), (3600, 600));
        let (g, p) = resolve(&[b("admin"), b("short"), b("gone")], &custom, &s);
        assert_eq!(g.len(), 2, "an unknown role grants nothing");
        assert_eq!((p.absolute_secs, p.idle_secs), (3600, 60));
    }
}
