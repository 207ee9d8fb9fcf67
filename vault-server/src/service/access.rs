//! Who is calling and what they may do. Deny by default.
//!
//! Two layers: the service authenticates every request against the database
//! ([`crate::service::Vault::authenticate`]: root token, user session or
//! service token, with the grants loaded fresh from the database each time),
//! then decides here whether this principal may do this [`Action`] to this
//! resource, using the pure rules of `vault_core::access`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use vault_core::access::{Grant, Part, Permission, Resource};
use vault_core::clock::Timestamp;
use vault_core::names::{EnvName, ProjectName, SecretName};
use vault_core::secret::SecretText;
use vault_core::session::Factors;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The root token made at init (the bootstrap admin): every right.
    Root {
        /// The token's public id.
        token_id: String,
    },
    /// A user, through a session.
    User {
        /// Immutable user id.
        user_id: String,
        /// Normalized username.
        username: String,
        /// The session's public id.
        session_id: String,
        /// Last authenticated use of the session before this request.
        last_used_at: Timestamp,
        /// Roles on scopes, read from the database for this request
        /// (including an open emergency grant).
        grants: Vec<Grant>,
        /// End of an open emergency grant.
        emergency_until: Option<Timestamp>,
        /// What the session proved besides its first factor.
        factors: Factors,
        /// Whether the user has a passkey (and so can step up).
        has_passkey: bool,
        /// Grants of roles that require a second factor, held back from
        /// this session because its login had none.
        withheld: Vec<Grant>,
    },
    /// A machine, through a service token.
    Service {
        /// The token's public id.
        token_id: String,
        /// Its label.
        name: String,
        /// `root` or the creating user's id.
        created_by: String,
        /// Last use before this request.
        last_used_at: Option<Timestamp>,
        /// The token's own scopes and actions (never global rights).
        grants: Vec<Grant>,
    },
}

impl Principal {
    /// The actor as recorded in the audit trail.
    pub fn actor(&self) -> String {
        match self {
            Principal::Root { .. } => "root".into(),
            Principal::User { username, .. } => format!("user:{username}"),
            Principal::Service { token_id, .. } => format!("service:{token_id}"),
        }
    }

    /// Session or token id (never the credential).
    pub fn token_id(&self) -> Option<String> {
        match self {
            Principal::Root { token_id } | Principal::Service { token_id, .. } => {
                Some(token_id.clone())
            }
            Principal::User { session_id, .. } => Some(session_id.clone()),
        }
    }

    /// The grants in force (`None` for root, which has every right).
    pub fn grants(&self) -> Option<&[Grant]> {
        match self {
            Principal::Root { .. } => None,
            Principal::User { grants, .. } | Principal::Service { grants, .. } => Some(grants),
        }
    }

    /// Whether this principal holds `permission` on `resource`.
    pub fn can(&self, permission: Permission, resource: &Resource) -> bool {
        self.grants()
            .is_none_or(|g| vault_core::access::allowed(g, permission, resource))
    }

    /// Whether this principal may see `resource` in a listing (it may list
    /// or read something inside it).
    pub fn may_see(&self, resource: &Resource) -> bool {
        self.can(Permission::SecretsList, resource) || self.can(Permission::SecretsRead, resource)
    }
}

/// What a request wants to do; one per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Seal the vault.
    SysSeal,
    /// Rotate the root key.
    SysRotateRoot,
    /// List projects.
    ProjectList,
    /// Create a project.
    ProjectCreate,
    /// Delete (crypto-shred) a project.
    ProjectDelete,
    /// List environments.
    EnvList,
    /// Create an environment.
    EnvCreate,
    /// List secret names.
    SecretList,
    /// Read a value (one or a bundle).
    SecretRead,
    /// Write a value (write, rollback, restore).
    SecretWrite,
    /// Read history (no values).
    SecretHistory,
    /// Soft delete, list trash, destroy.
    SecretDelete,
    /// Key status, rotation, rewrap, retire, destroy.
    KeysManage,
    /// Read, export and verify the audit trail.
    AuditRead,
    /// Create, disable, enable, delete, offboard users; roles and bindings.
    UsersManage,
    /// List and revoke other users' sessions and tokens.
    SessionsManage,
    /// Open an emergency (break-glass) grant.
    EmergencyOpen,
    /// Any authenticated caller acting on itself (whoami, logout, own
    /// sessions and tokens, change password); the service checks ownership.
    SelfService,
    /// Advance the dev-mode test clock.
    SysTestClock,
    /// Read the Prometheus metrics.
    MetricsRead,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 20] = [
        Action::SysSeal,
        Action::SysRotateRoot,
        Action::ProjectList,
        Action::ProjectCreate,
        Action::ProjectDelete,
        Action::EnvList,
        Action::EnvCreate,
        Action::SecretList,
        Action::SecretRead,
        Action::SecretWrite,
        Action::SecretHistory,
        Action::SecretDelete,
        Action::KeysManage,
        Action::AuditRead,
        Action::UsersManage,
        Action::SessionsManage,
        Action::EmergencyOpen,
        Action::SelfService,
        Action::SysTestClock,
        Action::MetricsRead,
    ];

    /// Stable name, used in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SysSeal => "sys.seal",
            Action::SysRotateRoot => "sys.rotate_root",
            Action::ProjectList => "project.list",
            Action::ProjectCreate => "project.create",
            Action::ProjectDelete => "project.delete",
            Action::EnvList => "environment.list",
            Action::EnvCreate => "environment.create",
            Action::SecretList => "secret.list",
            Action::SecretRead => "secret.read",
            Action::SecretWrite => "secret.write",
            Action::SecretHistory => "secret.history",
            Action::SecretDelete => "secret.delete",
            Action::KeysManage => "keys.manage",
            Action::AuditRead => "audit.read",
            Action::UsersManage => "users.manage",
            Action::SessionsManage => "sessions.manage",
            Action::EmergencyOpen => "emergency.open",
            Action::SelfService => "self",
            Action::SysTestClock => "sys.danger_test_clock",
            Action::MetricsRead => "sys.metrics",
        }
    }

    /// The permission this action needs, if it is decided by permission.
    pub fn permission(self) -> Option<Permission> {
        Some(match self {
            Action::SysSeal | Action::SysRotateRoot | Action::SysTestClock => Permission::SysManage,
            Action::ProjectCreate | Action::ProjectDelete | Action::EnvCreate => {
                Permission::ProjectsManage
            }
            Action::EnvList | Action::SecretList => Permission::SecretsList,
            Action::SecretRead | Action::SecretHistory => Permission::SecretsRead,
            Action::SecretWrite => Permission::SecretsWrite,
            Action::SecretDelete => Permission::SecretsDelete,
            Action::KeysManage => Permission::KeysManage,
            Action::AuditRead => Permission::AuditRead,
            Action::UsersManage => Permission::UsersManage,
            Action::SessionsManage => Permission::SessionsManage,
            Action::EmergencyOpen => Permission::EmergencyAccess,
            Action::MetricsRead => Permission::MetricsRead,
            Action::ProjectList | Action::SelfService => return None,
        })
    }
}

/// The permission a successful audit record's `action` used, if any: an
/// action's own name (`secret.read`), or the name a change is recorded
/// under (`binding.create`, `user.disable`, `keys.rotate`, ...).
pub fn permission_of_audit_action(action: &str) -> Option<Permission> {
    if let Some(a) = Action::ALL.iter().find(|a| a.as_str() == action) {
        return a.permission();
    }
    // Changing one's own password is self-service, no use of a role.
    if action == "user.password_change" {
        return None;
    }
    let family = action.split('.').next().unwrap_or_default();
    Some(match family {
        "user" | "role" | "binding" | "access_review" | "workload_role" | "sso" => {
            Permission::UsersManage
        }
        "keys" | "key" | "rewrap" => Permission::KeysManage,
        "project" | "environment" => Permission::ProjectsManage,
        "emergency" => Permission::EmergencyAccess,
        "audit" => Permission::AuditRead,
        "sys" => Permission::SysManage,
        _ => return None,
    })
}

/// Parses a resource string made by the service (`demo`, `demo/dev`,
/// `demo/dev/NAME`, `demo/dev/*`) back into its canonical parts. Anything
/// that does not parse is `None`, and `None` is refused.
pub fn parse_resource(s: &str) -> Option<Resource> {
    let mut it = s.split('/');
    let p = ProjectName::parse(it.next()?).ok()?;
    let Some(e) = it.next() else {
        return Some(Resource::Project(p));
    };
    let e = EnvName::parse(e).ok()?;
    let out = match it.next() {
        None | Some("*") => Resource::Environment(p, e),
        Some(n) => Resource::Secret(p, e, SecretName::parse(n).ok()?),
    };
    it.next().is_none().then_some(out)
}

/// The decision: may `principal` do `action` on `resource`? Root may do
/// everything; anyone else needs a grant (deny by default). Project-wide
/// changes (create or delete a project) need the permission on `PROJECT/*`.
pub fn allowed(principal: &Principal, action: Action, resource: &str) -> bool {
    let Some(grants) = principal.grants() else {
        return true;
    };
    let Some(permission) = action.permission() else {
        // Listing projects is filtered by the service; self-service actions
        // check ownership in the service.
        return matches!(action, Action::ProjectList | Action::SelfService);
    };
    if permission.is_global() {
        return vault_core::access::allowed(grants, permission, &Resource::Global);
    }
    let Some(res) = parse_resource(resource) else {
        return false;
    };
    match (action, &res) {
        (Action::ProjectCreate | Action::ProjectDelete, Resource::Project(p)) => {
            grants.iter().any(|g| {
                g.role.allows(permission)
                    && g.scope.environment == Part::Any
                    && match &g.scope.project {
                        Part::Any => true,
                        Part::Exact(q) => q == p,
                    }
            })
        }
        _ => vault_core::access::allowed(grants, permission, &res),
    }
}

/// Listing filter: whether `who` may see project `name` (it may list or
/// read something in it, or manage it).
pub fn sees_project(who: &Principal, name: &str) -> bool {
    ProjectName::parse(name).is_ok_and(|p| {
        let r = Resource::Project(p);
        who.may_see(&r) || who.can(Permission::ProjectsManage, &r)
    })
}

/// Listing filter: whether `who` may see environment `env` of `project`.
pub fn sees_environment(who: &Principal, project: &ProjectName, env: &str) -> bool {
    EnvName::parse(env).is_ok_and(|e| {
        let r = Resource::Environment(project.clone(), e);
        who.may_see(&r) || who.can(Permission::ProjectsManage, &r)
    })
}

/// What the HTTP edge knows about a request, handed to every service call.
#[derive(Clone)]
pub struct Ctx {
    /// Request id.
    pub request_id: String,
    /// Client address.
    pub source: String,
    /// The presented credential, if any (verified by the service).
    pub credential: Option<SecretText>,
    /// Set once the service has audited this request.
    pub audited: Arc<AtomicBool>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("request_id", &self.request_id)
            .field("source", &self.source)
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Ctx {
    /// A context for work the server does by itself (background tasks).
    pub fn system(what: &str) -> Self {
        Self {
            request_id: format!("system-{what}"),
            source: "internal".into(),
            credential: None,
            audited: Arc::default(),
        }
    }
}
