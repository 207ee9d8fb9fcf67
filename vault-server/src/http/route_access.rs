//! The declared access rule of every route: the service [`Action`] it is
//! decided by, or `open` (no credential: health, init, unseal, login, ...).
//! Each handler declares it in its `#[utoipa::path]` as `x-vault-action`;
//! this module reads the declarations back from the generated document. A
//! unit test here fails when a route has no declaration or an unknown one;
//! the integration test `identity_routes` fails when a route lacks an allow
//! and a deny case, or when the permission the document names
//! (`x-vault-permission`) is not the one the server enforces.
//!
//! [`Action`]: crate::service::Action

use crate::service::Action;

/// Open to anyone (the body or the route itself is the credential).
pub const OPEN: &str = "open";

/// Every action, for checking the table.
pub const ACTIONS: &[Action] = &Action::ALL;

/// The declared action of every operation in the OpenAPI document:
/// (method, path, action name or [`OPEN`]); `None` for the action of an
/// operation that declares none.
pub fn declared(doc: &serde_json::Value) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            if let Some(item) = item.as_object() {
                for (method, op) in item {
                    out.push((
                        method.to_ascii_uppercase(),
                        path.clone(),
                        op["x-vault-action"].as_str().map(str::to_owned),
                    ));
                }
            }
        }
    }
    out
}

/// The declared action of a route (method and path template), from the
/// document (built once).
pub fn action_of(method: &str, path: &str) -> Option<&'static str> {
    static TABLE: std::sync::LazyLock<Vec<(String, String, &'static str)>> =
        std::sync::LazyLock::new(|| {
            declared(&crate::http::openapi::document())
                .into_iter()
                .filter_map(|(m, p, a)| {
                    let a = a?;
                    let known = ACTIONS.iter().find(|x| x.as_str() == a).map(|x| x.as_str());
                    Some((m, p, if a == OPEN { OPEN } else { known? }))
                })
                .collect()
        });
    TABLE
        .iter()
        .find(|(m, p, _)| m == method && p == path)
        .map(|(_, _, a)| *a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_declares_a_known_action() {
        let all = declared(&crate::http::openapi::document());
        assert!(all.len() > 50, "{} routes", all.len());
        for (m, p, a) in all {
            let a = a.unwrap_or_else(|| panic!("{m} {p} declares no action"));
            assert!(
                a == OPEN || ACTIONS.iter().any(|x| x.as_str() == a),
                "{m} {p}: unknown action {a}"
            );
        }
    }
}
