//! Path and query parameters of the routes, as the types the handlers
//! extract. The OpenAPI document describes each from the same type
//! (`IntoParams`), with the constraints the parsers in `vault_core::names`
//! and `vault_core::identity` enforce, so the two cannot drift apart.

use serde::Deserialize;
use utoipa::IntoParams;
use vault_core::names::{EnvName, ProjectName, SecretName};

use super::ApiResult;
use super::error::ApiError;
use crate::service::{Ctx, Error};

// Patterns repeat the rules of `vault_core::names` (the derive takes
// literals only); `params_match_the_name_parsers` below checks they agree.

/// `{p}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// Project name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub p: String,
}

impl ProjectPath {
    /// The parsed name; 400 `name.invalid` otherwise.
    pub fn parse(&self, ctx: &Ctx) -> Result<ProjectName, ApiError> {
        ProjectName::parse(&self.p).map_err(Error::from).api(ctx)
    }
}

/// `{p}/environments/{e}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EnvPath {
    /// Project name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub p: String,
    /// Environment name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub e: String,
}

impl EnvPath {
    /// The parsed names.
    pub fn parse(&self, ctx: &Ctx) -> Result<(ProjectName, EnvName), ApiError> {
        let p = ProjectName::parse(&self.p).map_err(Error::from).api(ctx)?;
        let e = EnvName::parse(&self.e).map_err(Error::from).api(ctx)?;
        Ok((p, e))
    }
}

/// `{p}/environments/{e}/secrets/{name}` (and `trash/{name}`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SecretPath {
    /// Project name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub p: String,
    /// Environment name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub e: String,
    /// Secret name.
    #[param(pattern = "^[A-Za-z_][A-Za-z0-9_]*$", min_length = 1, max_length = 255)]
    pub name: String,
}

impl SecretPath {
    /// The parsed names.
    pub fn parse(&self, ctx: &Ctx) -> Result<(ProjectName, EnvName, SecretName), ApiError> {
        let p = ProjectName::parse(&self.p).map_err(Error::from).api(ctx)?;
        let e = EnvName::parse(&self.e).map_err(Error::from).api(ctx)?;
        let n = SecretName::parse(&self.name)
            .map_err(Error::from)
            .api(ctx)?;
        Ok((p, e, n))
    }
}

/// `{p}/keys/{version}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KekPath {
    /// Project name.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 63)]
    pub p: String,
    /// Key-encryption-key version, from 1.
    #[param(minimum = 1)]
    pub version: u32,
}

/// `{name}` of a user.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// User name (`vault_core::identity::Username`, normalized form).
    #[param(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub name: String,
}

/// `{name}` of a custom role.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RolePath {
    /// Role name.
    #[param(pattern = "^[a-z][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub name: String,
}

/// `{provider}` of single sign-on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    /// A configured provider's name (`[[oidc.providers]] name`).
    #[param(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 32)]
    pub provider: String,
}

/// `{name}/identities/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserIdentityPath {
    /// User name.
    #[param(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub name: String,
    /// The identity's id, as listed.
    #[param(pattern = "^[A-Za-z0-9_-]+$", min_length = 1, max_length = 128)]
    pub id: String,
}

/// `{issuer}/{name}` of a workload role.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WorkloadRolePath {
    /// A configured workload issuer's name.
    #[param(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 32)]
    pub issuer: String,
    /// The role's name.
    #[param(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 64)]
    pub name: String,
}

/// `{id}/bindings/{binding}` of an access review.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReviewItemPath {
    /// The review's id.
    #[param(pattern = "^[A-Za-z0-9_-]+$", min_length = 1, max_length = 128)]
    pub id: String,
    /// The binding's id, as the review lists it.
    #[param(pattern = "^[A-Za-z0-9_-]+$", min_length = 1, max_length = 128)]
    pub binding: String,
}

/// `{id}` of a session, token, binding, emergency grant or rewrap job.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    /// The id, as listed.
    #[param(pattern = "^[A-Za-z0-9_-]+$", min_length = 1, max_length = 128)]
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Membership in a regex character class such as `a-z0-9_-`.
    fn in_class(class: &str, b: u8) -> bool {
        let c = class.as_bytes();
        let mut i = 0;
        while i < c.len() {
            if i + 2 < c.len() && c[i + 1] == b'-' {
                if (c[i]..=c[i + 2]).contains(&b) {
                    return true;
                }
                i += 3;
            } else {
                if c[i] == b {
                    return true;
                }
                i += 1;
            }
        }
        false
    }

    /// The two classes of a `^[first][rest]*$` pattern.
    fn classes(pattern: &str) -> (String, String) {
        let inner = pattern
            .strip_prefix("^[")
            .and_then(|s| s.strip_suffix("]*$"))
            .unwrap_or_default();
        let (first, rest) = inner.split_once("][").unwrap_or_default();
        (first.to_owned(), rest.to_owned())
    }

    fn pattern_of(path: &str, method: &str, param: &str) -> String {
        let doc = crate::http::openapi::document();
        doc["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == param))
            .and_then(|p| p["schema"]["pattern"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The published patterns accept exactly what the parsers accept, on
    /// every ASCII byte as first and as later character.
    #[test]
    fn params_match_the_name_parsers() {
        let secret = "/v1/projects/{p}/environments/{e}/secrets/{name}";
        type Check = (String, fn(&str) -> bool, &'static str);
        let checks: [Check; 3] = [
            (
                pattern_of(secret, "get", "p"),
                |s| ProjectName::parse(s).is_ok(),
                "a",
            ),
            (
                pattern_of(secret, "get", "e"),
                |s| EnvName::parse(s).is_ok(),
                "a",
            ),
            (
                pattern_of(secret, "get", "name"),
                |s| SecretName::parse(s).is_ok(),
                "A",
            ),
        ];
        for (pattern, parses, lead) in checks {
            let (first, rest) = classes(&pattern);
            assert!(!first.is_empty() && !rest.is_empty(), "{pattern}");
            for b in 0u8..128 {
                let c = b as char;
                assert_eq!(
                    parses(&c.to_string()),
                    in_class(&first, b),
                    "{pattern} {c:?}"
                );
                assert_eq!(
                    parses(&format!("{lead}{c}")),
                    in_class(&rest, b),
                    "{pattern} {c:?}"
                );
            }
        }
    }
}
