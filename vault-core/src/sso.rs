//! Pure rules of single sign-on (OpenID Connect Core 1.0, RFC 6749, RFC 7636,
//! RFC 8252): where a login may return to, which outbound addresses the
//! server may call, what a new user is named, which role bindings a user's
//! groups give, and the reason codes of a refused login. No I/O here; the
//! flow itself is in the server.

use std::net::IpAddr;

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::identity::Username;

/// Where a browser goes after login when `return_to` is missing or not
/// acceptable.
pub const DEFAULT_RETURN_TO: &str = "/ui/";

/// `return_to` if it is a same-origin path under `/ui/` (at most 512 bytes,
/// printable ASCII, no `//`, `\`, `..` segment or scheme), else
/// [`DEFAULT_RETURN_TO`]. Refusing falls back rather than failing: the login
/// itself goes on (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
pub fn safe_return_to(return_to: Option<&str>) -> &str {
    let Some(r) = return_to else {
        return DEFAULT_RETURN_TO;
    };
    let printable = r.bytes().all(|b| (0x21..0x7f).contains(&b));
    let ok = printable
        && r.len() <= 512
        && (r == "/ui" || r.starts_with("/ui/"))
        && !r.contains("//")
        && !r.contains('\\')
        && !r
            .split(['/', '?', '#'])
            .any(|seg| seg == ".." || seg == ".")
        && !r.to_ascii_lowercase().contains("%2f")
        && !r.to_ascii_lowercase().contains("%5c")
        && !r.to_ascii_lowercase().contains("%2e");
    if ok { r } else { DEFAULT_RETURN_TO }
}

/// Whether the server may connect to `ip` for an outbound OIDC call.
/// Never: unspecified, link-local (169.254.0.0/16, fe80::/10, which holds
/// cloud metadata at 169.254.169.254), the AWS IPv6 metadata address
/// fd00:ec2::254, multicast, broadcast, documentation. Loopback and private
/// ranges (RFC 1918, RFC 6598 shared, RFC 4193 unique local) only when
/// `allow_private` (the issuer itself is configured there).
pub fn outbound_allowed(ip: IpAddr, allow_private: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
            {
                return false;
            }
            let private =
                v4.is_loopback() || v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1]));
            !private || allow_private
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let metadata = v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            if metadata
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
            {
                return false;
            }
            let private = v6.is_loopback() || (s[0] & 0xfe00) == 0xfc00;
            !private || allow_private
        }
    }
}

/// The IPv4 address inside an IPv6 one that carries it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`, RFC 6052), 6to4 (`2002::/16`, RFC 3056) and Teredo
/// (`2001::/32`, RFC 4380). Each is checked as the IPv4 address it reaches.
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        // Teredo: the client's address is stored inverted in the last 32 bits.
        [0x2001, 0, .., hi, lo] => Some(from(!hi, !lo)),
        _ => None,
    }
}

/// Whether `ip` is loopback or in a private range (the issuer is then
/// "configured there", and the provider's other endpoints may be too).
pub fn is_private(ip: IpAddr) -> bool {
    outbound_allowed(ip, true) && !outbound_allowed(ip, false)
}

/// The RFC 7636 S256 challenge of `verifier`: base64url(SHA-256(verifier)),
/// without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` (RFC 7636 §4.6, S256 only;
/// compared in constant time). A verifier must be 43-128 characters of
/// `[A-Za-z0-9-._~]` (§4.1).
pub fn pkce_verifies(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let expected = pkce_challenge(verifier);
    well_formed
        && expected.len() == challenge.len()
        && bool::from(expected.as_bytes().ct_eq(challenge.as_bytes()))
}

/// Whether `challenge` has the shape of an S256 challenge (43 base64url
/// characters).
pub fn is_pkce_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The username a new SSO user gets: `preferred_username`, else the local
/// part of `email`, else `user`; lowercased, characters outside
/// `[a-z0-9._-]` turned into `-`, at most 56 characters so that a suffix
/// fits. The caller makes it unique with [`numbered`].
pub fn username_base(preferred_username: Option<&str>, email: Option<&str>) -> Username {
    let raw = preferred_username
        .filter(|p| !p.trim().is_empty())
        .or_else(|| email.and_then(|e| e.split('@').next()))
        .unwrap_or("user");
    let mut s: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(56)
        .collect();
    s = s
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    Username::parse(&s).unwrap_or_else(|_| Username::fallback())
}

/// `base` with the n-th suffix: `base` for 1, `base-2`, `base-3`, ...
pub fn numbered(base: &Username, n: u32) -> Username {
    if n <= 1 {
        return base.clone();
    }
    Username::parse(&format!("{}-{n}", base.as_str())).unwrap_or_else(|_| base.clone())
}

/// A group-to-role rule: members of `group` get `role` on `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRole {
    /// Group name as the IdP sends it (compared exactly).
    pub group: String,
    /// Role name.
    pub role: String,
    /// Scope pattern.
    pub scope: String,
}

/// The (role, scope) pairs `groups` give under `rules`, sorted and without
/// duplicates.
pub fn bindings_for(groups: &[String], rules: &[GroupRole]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rules
        .iter()
        .filter(|r| groups.contains(&r.group))
        .map(|r| (r.role.clone(), r.scope.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `groups` may log in: `allowed` empty, or one group in it.
pub fn group_allowed(groups: &[String], allowed: &[String]) -> bool {
    allowed.is_empty() || groups.iter().any(|g| allowed.contains(g))
}

/// The group names in a claim value: an array of strings, or one string.
/// Other shapes give none. At most 1,000 groups of at most 256 bytes each
/// are taken (an IdP sending more is misconfigured).
pub fn groups_from_claim(value: Option<&serde_json::Value>) -> Vec<String> {
    let take = |s: &str| (!s.is_empty() && s.len() <= 256).then(|| s.to_owned());
    match value {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .filter_map(take)
            .take(1000)
            .collect(),
        Some(serde_json::Value::String(s)) => take(s).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Why an SSO login was refused: the stable reason code in the audit
/// record, the error page and docs/sso.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such provider configured.
    UnknownProvider,
    /// The callback's `state` is missing, unknown, used or expired.
    StateMismatch,
    /// The browser finishing the flow is not the one that started it (no
    /// or another pre-login cookie).
    BrowserMismatch,
    /// The IdP answered the authorization request with an error.
    IdpError,
    /// The code did not redeem at the token endpoint.
    CodeExchangeFailed,
    /// The ID token failed validation (signature, `iss`, `aud`, `azp`,
    /// `exp`, `iat`, algorithm).
    IdTokenInvalid,
    /// The ID token's `nonce` is not the one this flow sent.
    NonceMismatch,
    /// The IdP could not be reached in time or answered nonsense.
    IdpUnreachable,
    /// The userinfo answer failed verification (another `sub`, bad shape).
    UserinfoInvalid,
    /// The user is in none of `allowed_groups`.
    GroupNotAllowed,
    /// `provisioning = "existing"` and this identity is linked to no user.
    NotProvisioned,
    /// The linked user is disabled.
    UserDisabled,
    /// The CLI code is unknown, used, expired or its verifier is wrong.
    CliCodeInvalid,
}

impl Refusal {
    /// Every reason.
    pub const ALL: [Refusal; 13] = [
        Self::UnknownProvider,
        Self::StateMismatch,
        Self::BrowserMismatch,
        Self::IdpError,
        Self::CodeExchangeFailed,
        Self::IdTokenInvalid,
        Self::NonceMismatch,
        Self::IdpUnreachable,
        Self::UserinfoInvalid,
        Self::GroupNotAllowed,
        Self::NotProvisioned,
        Self::UserDisabled,
        Self::CliCodeInvalid,
    ];

    /// The reason with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::StateMismatch => "state_mismatch",
            Self::BrowserMismatch => "browser_mismatch",
            Self::IdpError => "idp_error",
            Self::CodeExchangeFailed => "code_exchange_failed",
            Self::IdTokenInvalid => "id_token_invalid",
            Self::NonceMismatch => "nonce_mismatch",
            Self::IdpUnreachable => "idp_unreachable",
            Self::UserinfoInvalid => "userinfo_invalid",
            Self::GroupNotAllowed => "group_not_allowed",
            Self::NotProvisioned => "not_provisioned",
            Self::UserDisabled => "user_disabled",
            Self::CliCodeInvalid => "cli_code_invalid",
        }
    }

    /// What the person sees: the cause, and what to do.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::UnknownProvider => "This server has no single sign-on provider of that name.",
            Self::StateMismatch => {
                "This sign-in link was already used, has expired (10 minutes), or was not \
                 started here. Start again from the sign-in page."
            }
            Self::BrowserMismatch => {
                "This sign-in was started in another browser, its cookies were cleared, or it \
                 started at another address of this server than the one the identity provider \
                 returns to (server.public_url). Start again from the sign-in page, in this \
                 browser, at that address."
            }
            Self::IdpError => "The identity provider refused or cancelled the sign-in.",
            Self::CodeExchangeFailed => {
                "The identity provider did not accept the sign-in code (used twice, expired, or \
                 the server's client credentials are wrong). Start again; if it persists, ask an \
                 administrator to check the provider's client id and secret."
            }
            Self::IdTokenInvalid => {
                "The identity provider's answer failed verification (signature, issuer, \
                 audience or lifetime). Ask an administrator to check the provider settings and \
                 the server's clock."
            }
            Self::NonceMismatch => {
                "The identity provider's answer was not made for this sign-in. Start again."
            }
            Self::IdpUnreachable => {
                "The identity provider could not be reached. Try again later, or sign in with a \
                 password."
            }
            Self::UserinfoInvalid => {
                "The identity provider's userinfo answer failed verification (it named another \
                 subject or was malformed). Ask an administrator to check the provider."
            }
            Self::GroupNotAllowed => {
                "Your account at the identity provider is in none of the groups allowed to use \
                 this vault. Ask an administrator for access."
            }
            Self::NotProvisioned => {
                "No vault account is linked to your identity at this provider. Ask an \
                 administrator to create and link one (vault users link-sso)."
            }
            Self::UserDisabled => "Your vault account is disabled.",
            Self::CliCodeInvalid => {
                "The sign-in code is unknown, already used, or expired (60 seconds). Run vault \
                 login --oidc again."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_accepts_only_ui_paths() {
        assert_eq!(safe_return_to(Some("/ui/")), "/ui/");
        assert_eq!(safe_return_to(Some("/ui/account?x=1")), "/ui/account?x=1");
        for bad in [
            "https://evil",
            "//evil",
            "/\\evil",
            "https:evil",
            "/ui//evil",
            "/ui/../v1/sys/seal",
            "/ui/%2e%2e/x",
            "/ui/%2F%2Fevil",
            "/v1/auth/logout",
            "/ui/\nx",
            "ui/",
            "",
            "/ui/ x",
        ] {
            assert_eq!(safe_return_to(Some(bad)), DEFAULT_RETURN_TO, "{bad:?}");
        }
        assert_eq!(safe_return_to(None), DEFAULT_RETURN_TO);
    }

    #[test]
    fn outbound_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for never in [
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "169.254.169.254",
            "0.0.0.0",
            "fd00:ec2::254",
            "fe80::1",
            "::",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!outbound_allowed(ip(never), true), "{never}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
        ] {
            assert!(!outbound_allowed(ip(private), false), "{private}");
            assert!(outbound_allowed(ip(private), true), "{private}");
            assert!(is_private(ip(private)));
        }
        assert!(outbound_allowed(ip("93.184.216.34"), false));
        assert!(!is_private(ip("93.184.216.34")));
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce_challenge(v),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_verifies(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_verifies("short", &pkce_challenge("short")));
        assert!(!pkce_verifies(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(is_pkce_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_pkce_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }

    #[test]
    fn usernames_from_claims() {
        assert_eq!(username_base(Some("Alice"), None).as_str(), "alice");
        assert_eq!(
            username_base(None, Some("Bob.Smith+x@corp.example")).as_str(),
            "bob.smith-x"
        );
        assert_eq!(username_base(Some("  "), None).as_str(), "user");
        assert_eq!(username_base(Some("_-x"), None).as_str(), "x");
        assert_eq!(
            username_base(Some("Zoë Ünicode"), None).as_str(),
            "zo---nicode"
        );
        let long = "a".repeat(100);
        let base = username_base(Some(&long), None);
        assert_eq!(base.as_str().len(), 56);
        assert_eq!(numbered(&base, 3).as_str().len(), 58);
        assert_eq!(numbered(&username_base(Some("a"), None), 2).as_str(), "a-2");
    }

    #[test]
    fn groups_give_bindings() {
        let rules = vec![
            GroupRole {
                group: "readers".into(),
                role: "reader".into(),
                scope: "payments/*".into(),
            },
            GroupRole {
                group: "ops".into(),
                role: "admin".into(),
                scope: "*/*".into(),
            },
        ];
        let g = vec!["readers".to_owned(), "other".to_owned()];
        assert_eq!(
            bindings_for(&g, &rules),
            vec![("reader".to_owned(), "payments/*".to_owned())]
        );
        assert!(group_allowed(&g, &[]));
        assert!(group_allowed(&g, &["readers".to_owned()]));
        assert!(!group_allowed(&g, &["ops".to_owned()]));
        let claim = serde_json::json!(["a", 3, "", "b"]);
        assert_eq!(groups_from_claim(Some(&claim)), vec!["a", "b"]);
        assert_eq!(
            groups_from_claim(Some(&serde_json::json!("solo"))),
            vec!["solo"]
        );
        assert!(groups_from_claim(Some(&serde_json::json!({"a": 1}))).is_empty());
    }
}
