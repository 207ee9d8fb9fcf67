//! `[[oidc.providers]]`: the OpenID Connect providers browsers and the CLI
//! may sign in with (docs/sso.md). The client secret is never in this file:
//! it is read from `client_secret_file` or `VAULT_OIDC_<NAME>_CLIENT_SECRET`
//! at start, and never printed.

use std::path::PathBuf;

use serde::Deserialize;
use vault_core::access::Scope;
use vault_core::secret::SecretText;

/// `[oidc]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The providers, in the order the sign-in page shows them.
    pub providers: Vec<OidcProvider>,
}

/// One `[[oidc.providers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// `[a-z0-9-]{1,32}`: used in URLs and `vault login --oidc NAME`.
    pub name: String,
    /// Button text on the sign-in page (default: the name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// The issuer URL, exactly as the IdP's ID tokens carry it in `iss`;
    /// discovery is `<issuer>/.well-known/openid-configuration`. `https`, or
    /// `http` on a loopback host only.
    pub issuer: String,
    /// The client id registered at the IdP.
    pub client_id: String,
    /// A file holding the client secret (else the environment variable
    /// `VAULT_OIDC_<NAME>_CLIENT_SECRET`, `-` in the name as `_`).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested; must include `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding group names, in the ID token or at userinfo.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Only members of one of these groups may sign in (empty: anyone).
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// `auto`: the first login creates the user; `existing`: only users an
    /// administrator created and linked.
    #[serde(default)]
    pub provisioning: Provisioning,
    /// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
    #[serde(default)]
    pub token_auth_method: TokenAuthMethod,
    /// Group-to-role bindings, recomputed at every login.
    #[serde(default)]
    pub group_roles: Vec<GroupRoleConfig>,
    /// Values of the ID token's `amr` claim (RFC 8176: `hwk`, `mfa`, `otp`,
    /// ...) that show the IdP checked a second factor: such a login counts
    /// as MFA for roles that require it (empty: none does).
    #[serde(default)]
    pub mfa_amr: Vec<String>,
    /// A PEM file of CA certificates to trust for this IdP (an internal
    /// IdP behind a company CA), besides the usual roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `provisioning`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    /// First login creates the user.
    #[default]
    Auto,
    /// Only users linked by an administrator.
    Existing,
}

/// `token_auth_method`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client id and secret.
    #[default]
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
}

/// One `[[oidc.providers.group_roles]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRoleConfig {
    /// Group name as the IdP sends it.
    pub group: String,
    /// A built-in or custom role.
    pub role: String,
    /// Scope pattern, e.g. `payments/*`.
    pub scope: String,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}

fn default_groups_claim() -> String {
    "groups".into()
}

impl OidcConfig {
    /// The keys of a provider, for the documentation check.
    pub const PROVIDER_KEYS: &[&str] = &[
        "name",
        "display_name",
        "issuer",
        "client_id",
        "client_secret_file",
        "scopes",
        "groups_claim",
        "allowed_groups",
        "provisioning",
        "token_auth_method",
        "group_roles",
        "ca_file",
        "mfa_amr",
    ];

    /// Checks every provider; names must be unique.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for p in &self.providers {
            p.validate()?;
            if !seen.insert(p.name.as_str()) {
                return Err(format!(
                    "oidc.providers: the name {:?} is used twice",
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// Lines `check-config` prints about the providers (never a secret).
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.providers {
            if p.issuer.starts_with("http://") {
                out.push(format!(
                    "oidc provider {:?}: plain-HTTP issuer {} accepted because it is on a \
                     loopback address (tests, a local IdP); use https for anything else",
                    p.name, p.issuer
                ));
            }
            for g in &p.group_roles {
                if vault_core::access::Role::builtin(&g.role).is_none() {
                    out.push(format!(
                        "oidc provider {:?}: group_roles names role {:?}, which is not built in; \
                         it must exist as a custom role (vault access roles), or the rule gives \
                         nothing",
                        p.name, g.role
                    ));
                }
            }
            if p.provisioning == Provisioning::Auto && p.allowed_groups.is_empty() {
                out.push(format!(
                    "oidc provider {:?}: every account the IdP signs in gets a vault user \
                     (provisioning = \"auto\", allowed_groups = []); set allowed_groups or \
                     provisioning = \"existing\" unless that is what you want",
                    p.name
                ));
            }
        }
        out
    }
}

impl OidcProvider {
    /// The environment variable that may hold this provider's secret.
    pub fn secret_env(&self) -> String {
        format!(
            "VAULT_OIDC_{}_CLIENT_SECRET",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The client secret: the file's content (one trailing newline
    /// dropped), else the environment variable. The error names where it
    /// looked, never the value.
    pub fn client_secret(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SecretText, String> {
        let var = self.secret_env();
        let text = match &self.client_secret_file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "oidc provider {:?}: cannot read client_secret_file {}: {e}",
                    self.name,
                    path.display()
                )
            })?,
            None => env(&var).ok_or_else(|| {
                format!(
                    "oidc provider {:?} has no client secret: set client_secret_file or {var}",
                    self.name
                )
            })?,
        };
        let secret = SecretText::new(
            text.strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_owned(),
        );
        if secret.expose_secret().is_empty() {
            return Err(format!(
                "oidc provider {:?}: the client secret is empty",
                self.name
            ));
        }
        Ok(secret)
    }

    fn validate(&self) -> Result<(), String> {
        let at = |m: String| format!("oidc provider {:?}: {m}", self.name);
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.name.starts_with('-');
        if !name_ok {
            return Err(format!(
                "oidc provider name {:?}: use 1-32 of a-z, 0-9 and '-', not starting with '-'",
                self.name
            ));
        }
        issuer_url(&self.issuer).map_err(|e| at(format!("issuer: {e}")))?;
        if self.client_id.trim().is_empty() || self.client_id.len() > 256 {
            return Err(at("client_id must be 1-256 characters".into()));
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(at(
                "scopes must include \"openid\" (without it there is no ID token)".into(),
            ));
        }
        if self
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"'))
        {
            return Err(at("a scope is empty or holds a space or quote".into()));
        }
        if self.groups_claim.is_empty() {
            return Err(at("groups_claim is empty".into()));
        }
        if self
            .display_name
            .as_ref()
            .is_some_and(|d| d.trim().is_empty() || d.chars().count() > 64)
        {
            return Err(at("display_name must be 1-64 characters".into()));
        }
        for g in &self.group_roles {
            Scope::parse(&g.scope)
                .map_err(|e| at(format!("group_roles: scope {:?}: {e}", g.scope)))?;
            let named = g.role.len() <= 64
                && !g.role.is_empty()
                && g.role.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !named {
                return Err(at(format!(
                    "group_roles: role name {:?} is invalid",
                    g.role
                )));
            }
            if g.group.is_empty() {
                return Err(at("group_roles: group is empty".into()));
            }
            let global = vault_core::access::Role::builtin(&g.role)
                .is_some_and(|r| r.permissions.iter().any(|p| p.is_global()));
            if global && g.scope != "*" && g.scope != "*/*" {
                return Err(at(format!(
                    "group_roles: role {} holds global actions: bind it on \"*\"",
                    g.role
                )));
            }
        }
        Ok(())
    }

    /// The button text.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }
}

/// Checks an issuer URL: `https://host[:port][/path]`, or `http://` on a
/// loopback host (RFC 8414 §2: no query or fragment). The issuer is compared
/// exactly with `iss`, so it is kept as written.
pub fn issuer_url(issuer: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(format!("{issuer:?}: no query, fragment or user part"));
    }
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("{issuer:?} has no host")),
    };
    match u.scheme() {
        "https" => Ok(u),
        "http" if loopback => Ok(u),
        "http" => Err(format!(
            "{issuer:?}: plain http is accepted only on a loopback address; use https"
        )),
        other => Err(format!("{issuer:?}: scheme {other:?} is not https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(extra: &str) -> Result<OidcConfig, String> {
        let text = format!(
            "[[providers]]\nname = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"vault\"\n{extra}"
        );
        let c: OidcConfig = toml::from_str(&text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn providers_are_checked() {
        let c = provider("").unwrap();
        assert_eq!(c.providers[0].scopes, ["openid", "email", "profile"]);
        assert_eq!(c.providers[0].provisioning, Provisioning::Auto);
        assert!(provider("scopes = [\"email\"]").is_err());
        assert!(provider("unknown = 1").is_err());
        assert!(provider("provisioning = \"sometimes\"").is_err());
        assert!(
            provider(
                "[[providers.group_roles]]\ngroup = \"g\"\nrole = \"reader\"\nscope = \"a b\""
            )
            .is_err()
        );
        for bad in [
            "http://idp.example.com",
            "ftp://idp",
            "https://idp?x=1",
            "https://u@idp",
            "idp",
        ] {
            assert!(issuer_url(bad).is_err(), "{bad}");
        }
        assert!(issuer_url("http://127.0.0.1:9400").is_ok());
        assert!(issuer_url("http://localhost:9400/realms/x").is_ok());
        let twice = "[[providers]]\nname = \"corp\"\nissuer = \"https://a\"\nclient_id = \"v\"\n";
        assert!(provider(twice).is_err());
    }

    #[test]
    fn the_secret_comes_from_a_file_or_the_environment_and_is_never_shown() {
        let c = provider("").unwrap();
        let p = &c.providers[0];
        assert_eq!(p.secret_env(), "VAULT_OIDC_CORP_CLIENT_SECRET");
        let none = |_: &str| None;
        let e = p.client_secret(&none).unwrap_err();
        assert!(e.contains("VAULT_OIDC_CORP_CLIENT_SECRET"), "{e}");
        let some = |_: &str| Some("s3cret-value\n".to_owned());
        assert_eq!(
            p.client_secret(&some).unwrap().expose_secret(),
            "s3cret-value"
        );
        assert!(!format!("{p:?}").contains("s3cret"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "from-file\r\n").unwrap();
        let mut p2 = p.clone();
        p2.client_secret_file = Some(f);
        assert_eq!(
            p2.client_secret(&some).unwrap().expose_secret(),
            "from-file"
        );
    }
}
