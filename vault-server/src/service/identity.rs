//! Identity and access operations: login and logout, users, roles and
//! bindings, sessions, service tokens, emergency access, offboarding, and
//! the dev-mode test clock. Each operation authenticates (the `who` layer,
//! against the database on every request), decides (the `may they` layer)
//! and writes its audit record in the same transaction as its change.
//! Credentials never reach an audit record, a log line or an error.
//!
//! One file per concern: `login` (password login, logout, whoami, password
//! change), `users`, `offboard`, `roles`, `bindings`, `sessions`, `tokens`,
//! `emergency`, `test_clock`; the helpers they share are here.
//!
//! - [`auth`]: credential checks for sessions and service tokens.
//! - [`cidr`]: allowed source networks of service tokens.
//! - [`throttle`]: failed-attempt counters reserved before each hash.

pub mod auth;
mod bindings;
pub mod cidr;
mod emergency;
mod login;
mod offboard;
mod roles;
mod sessions;
mod test_clock;
pub mod throttle;
mod tokens;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OnceCell, Semaphore};
use vault_core::access::{Grant, Permission, Resource, Role, Scope};
use vault_core::api::{
    Binding, BindingList, ChangePassword, CreateBinding, CreateRole, CreateServiceToken,
    CreateUser, CreatedServiceToken, EmergencyGrant, EmergencyList, GrantInfo, LoginRequest,
    LoginResponse, Offboard, OffboardReport, OpenEmergency, ReadItem, RevokeSessions, Revoked,
    RoleInfo, RoleList, ServiceToken, ServiceTokenList, Session, SessionList, TestClock,
    UpdateRole, User, UserList, WhoAmI, WithheldGrant,
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
    /// Key of the fingerprints of unknown sign-in names: random per
    /// process, so a fingerprint cannot be tested against guessed
    /// passwords without it.
    fingerprint_key: zeroize::Zeroizing<[u8; 32]>,
}

impl IdentityState {
    /// The first 12 hex digits of HMAC-SHA256(process key, `typed`): the
    /// same text gives the same fingerprint until the server restarts.
    pub fn name_fingerprint(&self, typed: &str) -> String {
        use hmac::{Hmac, Mac};
        match <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.fingerprint_key.as_ref()) {
            Ok(mut mac) => {
                mac.update(typed.as_bytes());
                hex::encode(&mac.finalize().into_bytes()[..6])
            }
            Err(_) => "000000000000".to_owned(),
        }
    }

    /// State for `settings`.
    pub fn new(settings: &IdentitySettings) -> Self {
        // Without randomness the key is zeros: fingerprints then still hide
        // the text from a reader of the trail who has no candidates.
        let key = random::bytes::<32>().unwrap_or([0u8; 32]);
        Self {
            hashes: Arc::new(Semaphore::new(settings.max_concurrent_hashes.max(1))),
            dummy: OnceCell::new(),
            fingerprint_key: zeroize::Zeroizing::new(key),
        }
    }
}

/// A new public id: `prefix` and 24 random hex digits.
pub(crate) fn new_id(prefix: &str) -> Result<String> {
    let b = random::bytes::<12>().map_err(|e| Error::internal(format!("random: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// A new single-use secret handed to a client (a flow's cookie, a CLI code,
/// a ceremony id): 32 random bytes, base64url (43 characters).
pub(crate) fn new_secret() -> Result<String> {
    use base64::Engine;
    let b = random::bytes::<32>().map_err(|e| Error::internal(format!("random: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// SHA-256 of a handed-out secret: what the database keeps of it.
pub(crate) fn secret_hash(s: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).to_vec()
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

/// A user name as the API takes it (login aside): valid and already in its
/// normalized form (trimmed, NFKC, lowercase), so one user has one spelling
/// on the wire and in the audit trail. The CLI normalizes what people type.
pub(crate) fn username(s: &str) -> Result<Username> {
    let n = Username::parse(s).map_err(|e| Error::bad("user.invalid_name", e.to_string()))?;
    if n.as_str() != s {
        return Err(Error::bad(
            "user.invalid_name",
            format!("user names are written in lowercase, without spaces: `{n}`"),
        ));
    }
    Ok(n)
}

pub(crate) fn user_not_found(name: &str) -> Error {
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

pub(crate) fn token_wire(t: &ServiceTokenRow, creator: String) -> ServiceToken {
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
pub(crate) fn is_admin(p: &Principal) -> bool {
    p.grants()
        .is_none_or(|g| g.iter().any(|g| g.role.name == "admin"))
}

/// Refuses (inside the writer's transaction, so the check and the change
/// are one) to let a non-administrator disable, enable, delete or offboard
/// an administrator.
pub(crate) fn guard_admin_target(
    w: &dyn Writer,
    caller_is_admin: bool,
    user_id: &str,
) -> Result<()> {
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
pub(crate) fn shown(s: &str) -> String {
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
    pub(crate) fn identity(&self) -> &IdentitySettings {
        &self.settings().identity
    }

    /// Writes `f` with an audit record named `audit_action` for `p`.
    pub(crate) async fn write_as<T, F>(
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
            factors: vault_core::session::Factors::default(),
            has_passkey: false,
            withheld: Vec::new(),
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
            factors: vault_core::session::Factors::default(),
            has_passkey: false,
            withheld: Vec::new(),
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
            source: "manual".into(),
        };
        let custom = [RoleRow {
            name: "short".into(),
            permissions: vec!["secrets.list".into()],
            absolute_secs: None,
            idle_secs: Some(60),
            require_mfa: true,
            created_at: Timestamp::from_millis(0),
        }];
        assert!(auth::role_requires_mfa("short", &custom, &s));
        assert!(!auth::role_requires_mfa("admin", &custom, &s));
        s.admin_requires_mfa = true;
        assert!(auth::role_requires_mfa("admin", &custom, &s));
        assert!(!auth::role_requires_mfa("reader", &custom, &s));
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
