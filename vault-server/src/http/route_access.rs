//! The declared access rule of every route: the service [`Action`] it is
//! decided by, or `open` (no credential: health, init, unseal, login, ...).
//! The OpenAPI document publishes it as `x-vault-action`; a unit test here
//! fails when a route has no declaration, and the integration test
//! `identity_routes` fails when a route lacks an allow case and a deny case.
//!
//! [`Action`]: crate::service::Action

use crate::service::Action;

/// Open to anyone (the body or the route itself is the credential).
pub const OPEN: &str = "open";

/// (method, path, action name or [`OPEN`]).
pub const ROUTE_ACCESS: &[(&str, &str, &str)] = &[
    ("GET", "/v1/sys/health", OPEN),
    ("POST", "/v1/sys/init", OPEN),
    ("GET", "/v1/sys/seal-status", OPEN),
    ("POST", "/v1/sys/unseal", OPEN),
    ("POST", "/v1/sys/seal", "sys.seal"),
    ("POST", "/v1/sys/generate-root", OPEN),
    ("POST", "/v1/sys/rotate-root", "sys.rotate_root"),
    ("GET", "/v1/sys/metrics", "sys.metrics"),
    ("GET", "/v1/openapi.json", OPEN),
    ("GET", "/v1/projects", "project.list"),
    ("POST", "/v1/projects", "project.create"),
    ("DELETE", "/v1/projects/{p}", "project.delete"),
    ("GET", "/v1/projects/{p}/environments", "environment.list"),
    (
        "POST",
        "/v1/projects/{p}/environments",
        "environment.create",
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets",
        "secret.list",
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/bundle",
        "secret.read",
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "secret.read",
    ),
    (
        "PUT",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "secret.write",
    ),
    (
        "DELETE",
        "/v1/projects/{p}/environments/{e}/secrets/{name}",
        "secret.delete",
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/history",
        "secret.history",
    ),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/rollback",
        "secret.write",
    ),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/trash",
        "secret.delete",
    ),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
        "secret.write",
    ),
    (
        "DELETE",
        "/v1/projects/{p}/environments/{e}/trash/{name}",
        "secret.delete",
    ),
    ("GET", "/v1/keys", "keys.manage"),
    ("POST", "/v1/projects/{p}/keys/rotate", "keys.manage"),
    (
        "POST",
        "/v1/projects/{p}/keys/{version}/retire",
        "keys.manage",
    ),
    (
        "POST",
        "/v1/projects/{p}/keys/{version}/destroy",
        "keys.manage",
    ),
    ("POST", "/v1/keys/rewrap", "keys.manage"),
    ("GET", "/v1/keys/rewrap/{id}", "keys.manage"),
    ("GET", "/v1/audit", "audit.read"),
    ("GET", "/v1/audit/export", "audit.read"),
    ("GET", "/v1/audit/verify", "audit.read"),
    ("GET", "/v1/audit/head", "audit.read"),
    ("GET", "/v1/audit/public-key", "audit.read"),
    ("POST", "/v1/auth/login", OPEN),
    ("POST", "/v1/auth/logout", "self"),
    ("GET", "/v1/auth/whoami", "self"),
    ("POST", "/v1/auth/password", "self"),
    ("GET", "/v1/users", "users.manage"),
    ("POST", "/v1/users", "users.manage"),
    ("DELETE", "/v1/users/{name}", "users.manage"),
    ("POST", "/v1/users/{name}/disable", "users.manage"),
    ("POST", "/v1/users/{name}/enable", "users.manage"),
    ("POST", "/v1/users/{name}/offboard", "users.manage"),
    ("GET", "/v1/roles", "self"),
    ("POST", "/v1/roles", "users.manage"),
    ("DELETE", "/v1/roles/{name}", "users.manage"),
    ("GET", "/v1/bindings", "users.manage"),
    ("POST", "/v1/bindings", "users.manage"),
    ("DELETE", "/v1/bindings/{id}", "users.manage"),
    ("GET", "/v1/sessions", "self"),
    ("DELETE", "/v1/sessions/{id}", "self"),
    ("POST", "/v1/sessions/revoke", "sessions.manage"),
    ("GET", "/v1/tokens", "self"),
    ("POST", "/v1/tokens", "self"),
    ("DELETE", "/v1/tokens/{id}", "self"),
    ("GET", "/v1/emergency", "audit.read"),
    ("POST", "/v1/emergency", "emergency.open"),
    ("DELETE", "/v1/emergency/{id}", "self"),
    ("POST", "/v1/sys/danger-test-clock", "sys.danger_test_clock"),
];

/// Every action, for checking the table.
pub const ACTIONS: &[Action] = &[
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

/// The declared action of a route.
pub fn action_of(method: &str, path: &str) -> Option<&'static str> {
    ROUTE_ACCESS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_declares_a_known_action() {
        let routes = crate::http::ROUTES
            .iter()
            .chain(crate::http::identity::ROUTES);
        let mut n = 0;
        for (m, p) in routes {
            n += 1;
            let a = action_of(m, p).unwrap_or_else(|| panic!("{m} {p} declares no action"));
            assert!(
                a == OPEN || ACTIONS.iter().any(|x| x.as_str() == a),
                "{m} {p}: unknown action {a}"
            );
        }
        assert_eq!(
            n,
            ROUTE_ACCESS.len(),
            "declarations for routes that do not exist"
        );
    }
}
