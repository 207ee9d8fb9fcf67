//! Access control as pure functions: permissions, roles, scope patterns and
//! the decision. Deny by default: nothing is allowed unless a binding of the
//! caller grants the permission on a scope that covers the resource.
//!
//! Scopes are `project/environment` patterns where either side is a name or
//! `*`: `payments/prod`, `payments/*`, `*/dev`, `*/*` (also written `*`).
//! Patterns are parsed with the same rules as names, so `DEMO/prod`,
//! `demo/../prod` or `%2e%2e/x` can never be a scope.
//!
//! Global permissions (users, audit, keys, sessions, emergency access) are
//! granted only by a binding on `*/*`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::{EnvName, NameError, ProjectName, SecretName};

/// One thing a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Permission {
    /// Read secret values.
    SecretsRead,
    /// List secret names and history (never values).
    SecretsList,
    /// Write, roll back and restore secrets.
    SecretsWrite,
    /// Delete secrets (trash, destroy).
    SecretsDelete,
    /// Create and delete projects and environments.
    ProjectsManage,
    /// Key status, rotation, rewrap, retirement (global).
    KeysManage,
    /// Create, disable and delete users; grant roles (global).
    UsersManage,
    /// List and revoke anyone's sessions and tokens (global).
    SessionsManage,
    /// Read, export and verify the audit trail (global).
    AuditRead,
    /// Open a time-boxed emergency grant (global).
    EmergencyAccess,
    /// Seal, rotate the root key (global).
    SysManage,
    /// Read the Prometheus metrics at `/v1/sys/metrics` (global).
    MetricsRead,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 12] = [
        Self::SecretsRead,
        Self::SecretsList,
        Self::SecretsWrite,
        Self::SecretsDelete,
        Self::ProjectsManage,
        Self::KeysManage,
        Self::UsersManage,
        Self::SessionsManage,
        Self::AuditRead,
        Self::EmergencyAccess,
        Self::SysManage,
        Self::MetricsRead,
    ];

    /// Stable name (`secrets.read`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretsRead => "secrets.read",
            Self::SecretsList => "secrets.list",
            Self::SecretsWrite => "secrets.write",
            Self::SecretsDelete => "secrets.delete",
            Self::ProjectsManage => "projects.manage",
            Self::KeysManage => "keys.manage",
            Self::UsersManage => "users.manage",
            Self::SessionsManage => "sessions.manage",
            Self::AuditRead => "audit.read",
            Self::EmergencyAccess => "emergency.access",
            Self::SysManage => "sys.manage",
            Self::MetricsRead => "metrics.read",
        }
    }

    /// Parses a stable name or its short form (`read` for `secrets.read`).
    pub fn parse(s: &str) -> Option<Self> {
        let short = |p: Permission| p.as_str().strip_prefix("secrets.") == Some(s);
        Self::ALL.into_iter().find(|p| p.as_str() == s || short(*p))
    }

    /// Whether this permission applies to the whole vault rather than to
    /// projects and environments.
    pub fn is_global(self) -> bool {
        matches!(
            self,
            Self::KeysManage
                | Self::UsersManage
                | Self::SessionsManage
                | Self::AuditRead
                | Self::EmergencyAccess
                | Self::SysManage
                | Self::MetricsRead
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Name (`admin`, `developer`, ...).
    pub name: String,
    /// What it allows.
    pub permissions: BTreeSet<Permission>,
}

impl Role {
    /// A role from parts.
    pub fn new(name: &str, permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self {
            name: name.to_owned(),
            permissions: permissions.into_iter().collect(),
        }
    }

    /// Whether the role includes `p`.
    pub fn allows(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// The built-in roles: `admin`, `security-officer` (audit, sessions,
    /// users; never secret values), `developer` (read, list, write, delete in
    /// scope), `reader` (read and list in scope), `break-glass` and
    /// `monitoring` (the metrics, for a scraper's service token).
    pub fn builtins() -> Vec<Role> {
        use Permission as P;
        vec![
            Role::new(
                "admin",
                P::ALL.into_iter().filter(|p| *p != P::EmergencyAccess),
            ),
            Role::new(
                "security-officer",
                [
                    P::AuditRead,
                    P::SessionsManage,
                    P::UsersManage,
                    P::SecretsList,
                ],
            ),
            Role::new(
                "developer",
                [
                    P::SecretsRead,
                    P::SecretsList,
                    P::SecretsWrite,
                    P::SecretsDelete,
                ],
            ),
            Role::new("reader", [P::SecretsRead, P::SecretsList]),
            Role::new("break-glass", [P::EmergencyAccess]),
            Role::new("monitoring", [P::MetricsRead]),
        ]
    }

    /// A built-in role by name.
    pub fn builtin(name: &str) -> Option<Role> {
        Self::builtins().into_iter().find(|r| r.name == name)
    }
}

/// One side of a scope pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part<N> {
    /// Any name.
    Any,
    /// Exactly this name.
    Exact(N),
}

impl<N: AsRef<str>> Part<N> {
    fn matches(&self, name: &N) -> bool {
        match self {
            Part::Any => true,
            Part::Exact(n) => n.as_ref() == name.as_ref(),
        }
    }

    fn text(&self) -> &str {
        match self {
            Part::Any => "*",
            Part::Exact(n) => n.as_ref(),
        }
    }
}

/// A `project/environment` pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// Project side.
    pub project: Part<ProjectName>,
    /// Environment side.
    pub environment: Part<EnvName>,
}

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not of the form `project/environment`.
    #[error(
        "scope {0:?} is not of the form PROJECT/ENV (each a name or '*'), e.g. payments/prod or */dev"
    )]
    Shape(String),
    /// A side is not a valid name.
    #[error("scope: {0}")]
    Name(#[from] NameError),
}

impl Scope {
    /// Everything: `*/*`.
    pub fn all() -> Self {
        Self {
            project: Part::Any,
            environment: Part::Any,
        }
    }

    /// Parses `project/env`, `project/*`, `*/env`, `*/*` or `*`.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        if s == "*" {
            return Ok(Self::all());
        }
        let shown: String = s.chars().take(80).flat_map(char::escape_default).collect();
        let mut it = s.split('/');
        let (Some(p), Some(e), None) = (it.next(), it.next(), it.next()) else {
            return Err(ScopeError::Shape(shown));
        };
        let project = if p == "*" {
            Part::Any
        } else {
            Part::Exact(ProjectName::parse(p)?)
        };
        let environment = if e == "*" {
            Part::Any
        } else {
            Part::Exact(EnvName::parse(e)?)
        };
        Ok(Self {
            project,
            environment,
        })
    }

    /// Whether this scope is `*/*`.
    pub fn is_all(&self) -> bool {
        self.project == Part::Any && self.environment == Part::Any
    }

    /// Whether the scope covers `resource`.
    pub fn covers(&self, resource: &Resource) -> bool {
        match resource {
            Resource::Global => self.is_all(),
            // A project is visible through any environment pattern within it.
            Resource::Project(p) => self.project.matches(p),
            Resource::Environment(p, e) | Resource::Secret(p, e, _) => {
                self.project.matches(p) && self.environment.matches(e)
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.project.text(), self.environment.text())
    }
}

impl std::str::FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, ScopeError> {
        Self::parse(s)
    }
}

/// What an access decision is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The vault as a whole (users, audit, keys).
    Global,
    /// A project.
    Project(ProjectName),
    /// An environment.
    Environment(ProjectName, EnvName),
    /// One secret.
    Secret(ProjectName, EnvName, SecretName),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Global => f.write_str("*"),
            Resource::Project(p) => write!(f, "{p}"),
            Resource::Environment(p, e) => write!(f, "{p}/{e}"),
            Resource::Secret(p, e, n) => write!(f, "{p}/{e}/{n}"),
        }
    }
}

/// A role granted on a scope: what a subject's binding resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// Where it applies.
    pub scope: Scope,
}

/// The decision: does any grant allow `permission` on `resource`?
/// Global permissions need a grant on `*/*`.
pub fn allowed(grants: &[Grant], permission: Permission, resource: &Resource) -> bool {
    let resource = if permission.is_global() {
        &Resource::Global
    } else {
        resource
    };
    grants
        .iter()
        .any(|g| g.role.allows(permission) && g.scope.covers(resource))
}

/// A service token's own limits: the actions it carries and where. A token
/// can never do more than these, whatever its creator may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    /// Where it applies.
    pub scopes: Vec<Scope>,
    /// What it may do there (never a global permission).
    pub permissions: BTreeSet<Permission>,
}

impl TokenScope {
    /// The grants this token scope amounts to.
    pub fn grants(&self) -> Vec<Grant> {
        // No global rights through a token, except reading the metrics (a
        // scraper's token).
        let role = Role::new(
            "service-token",
            self.permissions
                .iter()
                .copied()
                .filter(|p| !p.is_global() || *p == Permission::MetricsRead),
        );
        self.scopes
            .iter()
            .map(|s| Grant {
                role: role.clone(),
                scope: s.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(p: &str, e: &str) -> Resource {
        Resource::Environment(ProjectName::parse(p).unwrap(), EnvName::parse(e).unwrap())
    }

    fn grant(role: &str, scope: &str) -> Grant {
        Grant {
            role: Role::builtin(role).unwrap(),
            scope: Scope::parse(scope).unwrap(),
        }
    }

    #[test]
    fn deny_by_default() {
        for p in Permission::ALL {
            assert!(!allowed(&[], p, &env("demo", "dev")));
            assert!(!allowed(&[], p, &Resource::Global));
        }
    }

    #[test]
    fn reader_on_demo_dev() {
        let g = [grant("reader", "demo/dev")];
        assert!(allowed(&g, Permission::SecretsRead, &env("demo", "dev")));
        assert!(allowed(&g, Permission::SecretsList, &env("demo", "dev")));
        assert!(!allowed(&g, Permission::SecretsWrite, &env("demo", "dev")));
        assert!(!allowed(&g, Permission::SecretsRead, &env("demo", "prod")));
        assert!(!allowed(&g, Permission::SecretsList, &env("demo", "prod")));
        assert!(!allowed(&g, Permission::SecretsRead, &env("other", "dev")));
        // The project is visible (it holds something they may read).
        assert!(allowed(
            &g,
            Permission::SecretsList,
            &Resource::Project(ProjectName::parse("demo").unwrap())
        ));
        assert!(!allowed(&g, Permission::AuditRead, &Resource::Global));
    }

    #[test]
    fn wildcards() {
        let g = [grant("developer", "payments/*"), grant("reader", "*/dev")];
        assert!(allowed(
            &g,
            Permission::SecretsWrite,
            &env("payments", "prod")
        ));
        assert!(allowed(&g, Permission::SecretsRead, &env("web", "dev")));
        assert!(!allowed(&g, Permission::SecretsWrite, &env("web", "dev")));
        assert!(!allowed(&g, Permission::SecretsRead, &env("web", "prod")));
    }

    #[test]
    fn global_permissions_need_all_scope() {
        let scoped = [grant("admin", "demo/*")];
        assert!(!allowed(&scoped, Permission::AuditRead, &Resource::Global));
        assert!(!allowed(
            &scoped,
            Permission::UsersManage,
            &env("demo", "dev")
        ));
        assert!(allowed(
            &scoped,
            Permission::SecretsRead,
            &env("demo", "prod")
        ));
        let all = [grant("admin", "*")];
        assert!(allowed(&all, Permission::AuditRead, &Resource::Global));
        let so = [grant("security-officer", "*/*")];
        assert!(allowed(&so, Permission::AuditRead, &Resource::Global));
        assert!(
            !allowed(&so, Permission::SecretsRead, &env("demo", "dev")),
            "officers never read values"
        );
    }

    #[test]
    fn hostile_scopes_are_refused() {
        for s in [
            "",
            "/",
            "demo",
            "demo/",
            "/dev",
            "demo/dev/x",
            "DEMO/prod",
            "demo/../prod",
            "demo/..",
            "%2e%2e/prod",
            "demo/%2Fprod",
            "dеmo/dev",
            "demo/dev\n",
            "demo//dev",
            "**/dev",
            "de*/dev",
            " demo/dev",
        ] {
            assert!(Scope::parse(s).is_err(), "{s:?} accepted");
        }
        assert_eq!(Scope::parse("*").unwrap(), Scope::all());
        assert_eq!(
            Scope::parse("payments/*").unwrap().to_string(),
            "payments/*"
        );
    }

    #[test]
    fn token_scope_never_global() {
        let t = TokenScope {
            scopes: vec![Scope::all()],
            permissions: [Permission::SecretsRead, Permission::AuditRead].into(),
        };
        let g = t.grants();
        assert!(allowed(&g, Permission::SecretsRead, &env("a", "b")));
        assert!(!allowed(&g, Permission::AuditRead, &Resource::Global));
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("read"), Some(Permission::SecretsRead));
        assert_eq!(Permission::parse("READ"), None);
    }
}
