//! `[[workload_identity.issuers]]`: the JWT issuers of CI systems and
//! clusters whose tokens may be exchanged for short service tokens, and
//! their roles (docs/ci.md). Roles can also be made through the API.

use std::collections::BTreeMap;

use serde::Deserialize;
use vault_core::access::{Permission, Scope};
use vault_core::clock::parse_duration_secs;
use vault_core::workload::{DEFAULT_MAX_TOKEN_AGE_SECS, DEFAULT_TTL_SECS, MAX_TTL_SECS};

use super::oidc::issuer_url;

/// `[workload_identity]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Trusted issuers.
    pub issuers: Vec<WorkloadIssuer>,
}

/// One `[[workload_identity.issuers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadIssuer {
    /// `[a-z0-9-]{1,32}`: `vault login --workload NAME`.
    pub name: String,
    /// The `iss` of its tokens; discovery at
    /// `<issuer>/.well-known/openid-configuration` unless `jwks_url` is set.
    pub issuer: String,
    /// A token's `aud` must contain one of these.
    pub audiences: Vec<String>,
    /// The key set's URL, for issuers whose discovery is private (clusters).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Oldest token accepted, since its `iat` (`10m` by default).
    #[serde(default)]
    pub max_token_age: Option<String>,
    /// A PEM file of CA certificates to trust for `jwks_url` and discovery
    /// (a cluster's own CA), besides the usual roots.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Roles defined here (more can be made with `vault workload roles`).
    #[serde(default)]
    pub roles: Vec<WorkloadRoleConfig>,
}

/// One `[[workload_identity.issuers.roles]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRoleConfig {
    /// `[a-z0-9-]{1,64}`.
    pub name: String,
    /// Claims a token must carry, exactly (or as `*` patterns with
    /// `bound_claims_glob`); at least one.
    pub bound_claims: BTreeMap<String, String>,
    /// Whether `*` in bound claims matches any run of characters.
    #[serde(default)]
    pub bound_claims_glob: bool,
    /// The scope of the minted token (`payments/prod`).
    pub scope: String,
    /// Its actions: `read`, `list`, `write`, `delete`.
    pub actions: Vec<String>,
    /// Its lifetime (`15m` by default, at most `1h`).
    #[serde(default)]
    pub ttl: Option<String>,
}

impl WorkloadConfig {
    /// The keys of an issuer, for the documentation check.
    pub const ISSUER_KEYS: &[&str] = &[
        "name",
        "issuer",
        "audiences",
        "jwks_url",
        "max_token_age",
        "ca_file",
        "roles",
    ];
    /// The keys of a role.
    pub const ROLE_KEYS: &[&str] = &[
        "name",
        "bound_claims",
        "bound_claims_glob",
        "scope",
        "actions",
        "ttl",
    ];

    /// Checks every issuer and role; names unique.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for i in &self.issuers {
            i.validate()?;
            if !seen.insert(i.name.as_str()) {
                return Err(format!(
                    "workload_identity.issuers: the name {:?} is used twice",
                    i.name
                ));
            }
        }
        Ok(())
    }
}

/// Whether `s` is a name of 1-`max` of `[a-z0-9-]`, not starting with `-`.
pub fn is_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

impl WorkloadIssuer {
    /// `max_token_age` in seconds.
    pub fn max_age_secs(&self) -> i64 {
        self.max_token_age
            .as_deref()
            .and_then(parse_duration_secs)
            .unwrap_or(DEFAULT_MAX_TOKEN_AGE_SECS)
    }

    fn validate(&self) -> Result<(), String> {
        let at = |m: String| format!("workload issuer {:?}: {m}", self.name);
        if !is_name(&self.name, 32) {
            return Err(format!(
                "workload issuer name {:?}: use 1-32 of a-z, 0-9 and '-'",
                self.name
            ));
        }
        issuer_url(&self.issuer).map_err(|e| at(format!("issuer: {e}")))?;
        if let Some(j) = &self.jwks_url {
            issuer_url(j).map_err(|e| at(format!("jwks_url: {e}")))?;
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.is_empty()) {
            return Err(at(
                "audiences must list at least one audience (e.g. your vault's URL)".into(),
            ));
        }
        if let Some(a) = &self.max_token_age {
            match parse_duration_secs(a) {
                Some(s) if s <= 86_400 => {}
                _ => {
                    return Err(at(format!(
                        "max_token_age {a:?}: a duration up to 1d, e.g. 10m"
                    )));
                }
            }
        }
        let mut roles = std::collections::HashSet::new();
        for r in &self.roles {
            r.checked()
                .map_err(|e| at(format!("role {:?}: {e}", r.name)))?;
            if !roles.insert(r.name.as_str()) {
                return Err(at(format!("the role name {:?} is used twice", r.name)));
            }
        }
        Ok(())
    }
}

/// A role, checked: what a minted token gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRole {
    /// Scope.
    pub scope: Scope,
    /// Permissions.
    pub permissions: Vec<Permission>,
    /// Lifetime, seconds.
    pub ttl_secs: i64,
}

/// Checks a role's parts (shared by configured and API-made roles).
pub fn check_role(
    name: &str,
    bound_claims: &BTreeMap<String, String>,
    glob: bool,
    scope: &str,
    actions: &[String],
    ttl_secs: i64,
) -> Result<CheckedRole, String> {
    if !is_name(name, 64) {
        return Err("the name must be 1-64 of a-z, 0-9 and '-'".into());
    }
    if bound_claims.is_empty() {
        return Err(
            "bound_claims must name at least one claim: without one, every token of the issuer \
             (any repository, any branch) would get this role"
                .into(),
        );
    }
    if bound_claims
        .iter()
        .any(|(k, v)| k.is_empty() || v.is_empty() || k.len() > 64 || v.len() > 256)
    {
        return Err("bound claim names are 1-64 characters and values 1-256".into());
    }
    if !vault_core::workload::binds_identity(bound_claims, glob) {
        return Err(format!(
            "bound_claims must pin down whose workload this is: bind one of {} (no `*` in its \
             first part); `ref` or `environment` alone would admit anyone's CI",
            vault_core::workload::IDENTIFYING_CLAIMS.join(", ")
        ));
    }
    let scope = Scope::parse(scope).map_err(|e| format!("scope {scope:?}: {e}"))?;
    let permissions: Vec<Permission> = actions
        .iter()
        .map(|a| Permission::parse(a).ok_or_else(|| format!("unknown action {a:?}")))
        .collect::<Result<_, _>>()?;
    if permissions.is_empty()
        || permissions
            .iter()
            .any(|p| p.is_global() || *p == Permission::ProjectsManage)
    {
        return Err("actions: one or more of read, list, write, delete".into());
    }
    if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
        return Err("ttl must be between 1s and 1h".into());
    }
    Ok(CheckedRole {
        scope,
        permissions,
        ttl_secs,
    })
}

impl WorkloadRoleConfig {
    /// Lifetime in seconds (`None`: unparseable).
    pub fn ttl_secs(&self) -> Option<i64> {
        match &self.ttl {
            None => Some(DEFAULT_TTL_SECS),
            Some(t) => parse_duration_secs(t),
        }
    }

    /// The role, checked.
    pub fn checked(&self) -> Result<CheckedRole, String> {
        let ttl = self
            .ttl_secs()
            .ok_or_else(|| format!("ttl {:?}: a duration such as 15m", self.ttl))?;
        check_role(
            &self.name,
            &self.bound_claims,
            self.bound_claims_glob,
            &self.scope,
            &self.actions,
            ttl,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<WorkloadConfig, String> {
        let text = format!(
            "[[issuers]]\nname = \"github\"\nissuer = \"https://token.actions.githubusercontent.com\"\n\
             audiences = [\"https://vault.example.com\"]\n{extra}"
        );
        let c: WorkloadConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn issuers_and_roles_are_checked() {
        let role = "[[issuers.roles]]\nname = \"deploy\"\nbound_claims = { repository = \"acme/payments\" }\nscope = \"payments/prod\"\nactions = [\"read\"]\n";
        let c = parse(role).unwrap();
        let r = c.issuers[0].roles[0].checked().unwrap();
        assert_eq!(r.ttl_secs, 900);
        assert_eq!(c.issuers[0].max_age_secs(), 600);
        assert!(
            parse(&role.replace("actions = [\"read\"]", "actions = [\"read\"]\nttl = \"2h\""))
                .is_err()
        );
        assert!(parse(&role.replace("{ repository = \"acme/payments\" }", "{}")).is_err());
        assert!(parse(&role.replace("[\"read\"]", "[\"users.manage\"]")).is_err());
        assert!(parse(&role.replace("[\"read\"]", "[\"fly\"]")).is_err());
        assert!(parse("audiences = []").is_err());
        assert!(parse("max_token_age = \"forever\"").is_err());
        assert!(parse("jwks_url = \"http://10.0.0.1/keys\"").is_err());
        assert!(parse("unknown = 1").is_err());
    }
}
