//! Pure rules of workload identity: a CI job or a Kubernetes pod trades the
//! short-lived JWT its platform signed (RFC 7519) for a short, scoped
//! service token. Here: which signing algorithms are accepted, how bound
//! claims match, token age, the name a minted token gets, and the stable
//! refusal reasons. Signature checks and key fetching are in the server.

use std::collections::BTreeMap;

use serde_json::Value;

/// Signing algorithms accepted (RFC 7518 names): asymmetric only. `none`
/// and every HMAC algorithm are refused, so a token "signed" with the
/// issuer's public key as an HMAC secret fails before any key is used.
pub const ALLOWED_ALGS: &[&str] = &["RS256", "ES256", "EdDSA"];

/// Default `max_token_age`: a token older than this (since `iat`) is refused.
pub const DEFAULT_MAX_TOKEN_AGE_SECS: i64 = 600;
/// Default lifetime of a minted token.
pub const DEFAULT_TTL_SECS: i64 = 900;
/// Longest lifetime of a minted token.
pub const MAX_TTL_SECS: i64 = 3600;
/// Clock skew allowed on `exp`, `nbf` and `iat`, seconds.
pub const LEEWAY_SECS: i64 = 60;

/// Why an exchange was refused: the stable code in the audit record, the
/// error and docs/ci.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No issuer of that name is configured.
    UnknownIssuer,
    /// The issuer has no role of that name.
    UnknownRole,
    /// The role was made through the API by a user who is gone or disabled.
    RoleCreatorGone,
    /// Not a JWT (three base64url parts with JSON header and claims).
    Malformed,
    /// `alg` is not one of [`ALLOWED_ALGS`].
    AlgNotAllowed,
    /// No key with the token's `kid` in the issuer's key set, even after a
    /// refresh.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the issuer.
    IssMismatch,
    /// `aud` holds none of the configured audiences.
    AudMismatch,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is missing, in the future, or older than `max_token_age`.
    TooOld,
    /// A bound claim is missing or does not match (its name).
    ClaimMismatch(String),
    /// This token was exchanged already.
    Replayed,
    /// Discovery or keys could not be fetched.
    IssuerUnreachable,
}

impl Refusal {
    /// The stable code (`claim_mismatch:<claim>` names the claim).
    pub fn code(&self) -> String {
        match self {
            Self::UnknownIssuer => "unknown_issuer".into(),
            Self::UnknownRole => "unknown_role".into(),
            Self::RoleCreatorGone => "role_creator_gone".into(),
            Self::Malformed => "malformed".into(),
            Self::AlgNotAllowed => "alg_not_allowed".into(),
            Self::UnknownKey => "unknown_key".into(),
            Self::BadSignature => "bad_signature".into(),
            Self::IssMismatch => "iss_mismatch".into(),
            Self::AudMismatch => "aud_mismatch".into(),
            Self::Expired => "expired".into(),
            Self::NotYetValid => "not_yet_valid".into(),
            Self::TooOld => "too_old".into(),
            Self::ClaimMismatch(c) => format!("claim_mismatch:{c}"),
            Self::Replayed => "replayed".into(),
            Self::IssuerUnreachable => "issuer_unreachable".into(),
        }
    }

    /// What went wrong, and what to do (safe to show the caller).
    pub fn explanation(&self) -> String {
        match self {
            Self::UnknownIssuer => "no workload issuer of that name is configured on this server".into(),
            Self::UnknownRole => "that issuer has no role of that name (vault workload roles list)".into(),
            Self::RoleCreatorGone => "the user who made this role is deleted or disabled; an administrator must make it again".into(),
            Self::Malformed => "the token is not a JWT".into(),
            Self::AlgNotAllowed => "the token's signing algorithm is not accepted (RS256, ES256 or EdDSA only)".into(),
            Self::UnknownKey => "the token was signed with a key the issuer does not publish".into(),
            Self::BadSignature => "the token's signature does not verify".into(),
            Self::IssMismatch => "the token comes from another issuer".into(),
            Self::AudMismatch => "the token's audience is not one this issuer is configured with; request the token for that audience".into(),
            Self::Expired => "the token has expired; request a fresh one".into(),
            Self::NotYetValid => "the token is not valid yet (nbf); check the clocks".into(),
            Self::TooOld => "the token was issued too long ago (max_token_age) or in the future; request a fresh one".into(),
            Self::ClaimMismatch(c) => format!("the token's {c:?} claim does not match the role's bound claims"),
            Self::Replayed => "this token was exchanged already; each token works once".into(),
            Self::IssuerUnreachable => "the issuer's discovery document or keys could not be fetched".into(),
        }
    }
}

/// Claims that say whose job or workload a token is (repository, project,
/// service account). A role must bind one of them without a wildcard in its
/// first segment: a role bound only by `ref` or `environment` would let in
/// every account of a public CI service that asks for the vault's audience.
pub const IDENTIFYING_CLAIMS: &[&str] = &[
    "sub",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "project_path",
    "project_id",
    "namespace_path",
    "namespace_id",
];

/// Whether `bound` pins the workload down: one of [`IDENTIFYING_CLAIMS`],
/// exact, or (with `glob`) with an owner fixed before the first `*`. The
/// text before the first `*` must name an owner: a non-empty name followed
/// by `/` (`acme/*`, `repo:acme/app:*`), or, for a Kubernetes subject, the
/// namespace (`system:serviceaccount:NS:*`). `repo:*`, `project_path:*`,
/// `acme*` or `*` fix nothing a stranger cannot match.
pub fn binds_identity(bound: &BTreeMap<String, String>, glob: bool) -> bool {
    bound.iter().any(|(k, v)| {
        if !IDENTIFYING_CLAIMS.contains(&k.as_str()) || v.is_empty() {
            return false;
        }
        let Some(star) = v.find('*').filter(|_| glob) else {
            return true; // exact
        };
        let fixed = &v[..star];
        let owner_fixed = fixed.rsplit_once('/').is_some_and(|(owner, _)| {
            owner
                .rsplit([':', '/'])
                .next()
                .is_some_and(|o| !o.is_empty())
        });
        let namespace_fixed = fixed
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(ns, _)| !ns.is_empty());
        owner_fixed || namespace_fixed
    })
}

/// Whether `value` matches `pattern`, where `*` stands for any run of
/// characters (none included) and everything else is literal.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    // Prefix and suffix first: both are then on character boundaries, and
    // the length check keeps them from overlapping.
    if !value.starts_with(first) || !value.ends_with(last) || value.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A claim's value as text for matching: strings as they are, booleans and
/// numbers in JSON form (`ref_protected = "true"`); other shapes none.
pub fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks every bound claim: present and equal (or, with `glob`, matching
/// its pattern). The first claim that fails is the refusal.
pub fn check_bound_claims(
    bound: &BTreeMap<String, String>,
    glob: bool,
    claims: &serde_json::Map<String, Value>,
) -> Result<(), Refusal> {
    for (name, want) in bound {
        let got = claims.get(name).and_then(claim_text);
        let ok = got.is_some_and(|g| {
            if glob {
                glob_match(want, &g)
            } else {
                *want == g
            }
        });
        if !ok {
            return Err(Refusal::ClaimMismatch(name.clone()));
        }
    }
    Ok(())
}

/// Checks `iat` against `now` (Unix seconds): present, not in the future
/// beyond [`LEEWAY_SECS`], and no older than `max_age_secs`.
pub fn check_age(iat: Option<i64>, now: i64, max_age_secs: i64) -> Result<(), Refusal> {
    match iat {
        Some(iat)
            if iat <= now.saturating_add(LEEWAY_SECS)
                && now.saturating_sub(iat) <= max_age_secs.saturating_add(LEEWAY_SECS) =>
        {
            Ok(())
        }
        _ => Err(Refusal::TooOld),
    }
}

/// The name of a minted token, after the workload: GitHub
/// `github:acme/payments@refs/heads/main#run-123`, GitLab
/// `gitlab:group/app@main#pipeline-7`, else `<issuer>:<sub>`. At most 100
/// characters, control characters dropped.
pub fn token_name(issuer: &str, claims: &serde_json::Map<String, Value>) -> String {
    let get = |k: &str| claims.get(k).and_then(claim_text);
    let name = match (
        get("repository").or_else(|| get("project_path")),
        get("ref"),
    ) {
        (Some(repo), Some(r)) => {
            let run = get("run_id")
                .map(|id| format!("#run-{id}"))
                .or_else(|| get("pipeline_id").map(|id| format!("#pipeline-{id}")))
                .unwrap_or_default();
            format!("{issuer}:{repo}@{r}{run}")
        }
        _ => format!(
            "{issuer}:{}",
            get("sub").unwrap_or_else(|| "unknown".into())
        ),
    };
    name.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The claims worth recording for an exchange (identifiers, not
/// credentials): `sub` and every bound claim, as `name=value` pairs.
pub fn audit_claims(
    bound: &BTreeMap<String, String>,
    claims: &serde_json::Map<String, Value>,
) -> String {
    let mut names: Vec<&str> = vec!["sub"];
    names.extend(bound.keys().map(String::as_str).filter(|k| *k != "sub"));
    for extra in ["run_id", "pipeline_id", "job_id"] {
        if !names.contains(&extra) && claims.contains_key(extra) {
            names.push(extra);
        }
    }
    names
        .iter()
        .filter_map(|k| {
            claims.get(*k).and_then(claim_text).map(|v| {
                // Quoted and escaped: values come from the token (a branch
                // or environment name anyone can choose).
                let v: String = v.chars().take(200).collect();
                format!("{k}={v:?}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn globs() {
        assert!(glob_match("refs/heads/*", "refs/heads/main"));
        assert!(glob_match("refs/heads/*", "refs/heads/"));
        assert!(!glob_match("refs/heads/*", "refs/tags/v1"));
        assert!(glob_match("acme/*-service", "acme/pay-service"));
        assert!(!glob_match("acme/*-service", "acme/pay-service2"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a12b34c"));
        assert!(!glob_match("a*b*c", "a12c34b"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("exact", "exact"));
        // Multi-byte values never split a character.
        assert!(!glob_match("é*é", "é"));
        assert!(glob_match("é*é", "éxé"));
        assert!(!glob_match("a*", "éa"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn bound_claims_must_all_be_present_and_match() {
        let bound: BTreeMap<String, String> = [
            ("repository".to_owned(), "acme/payments".to_owned()),
            ("ref".to_owned(), "refs/heads/main".to_owned()),
        ]
        .into();
        let good = map(json!({"repository": "acme/payments", "ref": "refs/heads/main"}));
        assert!(check_bound_claims(&bound, false, &good).is_ok());
        let wrong_ref = map(json!({"repository": "acme/payments", "ref": "refs/heads/dev"}));
        assert_eq!(
            check_bound_claims(&bound, false, &wrong_ref)
                .unwrap_err()
                .code(),
            "claim_mismatch:ref"
        );
        let missing = map(json!({"repository": "acme/payments"}));
        assert!(check_bound_claims(&bound, false, &missing).is_err());
        // Without glob, a `*` is literal.
        let b2: BTreeMap<String, String> = [("ref".to_owned(), "refs/heads/*".to_owned())].into();
        assert!(check_bound_claims(&b2, false, &good).is_err());
        assert!(check_bound_claims(&b2, true, &good).is_ok());
        let flag: BTreeMap<String, String> =
            [("ref_protected".to_owned(), "true".to_owned())].into();
        assert!(check_bound_claims(&flag, false, &map(json!({"ref_protected": true}))).is_ok());
        assert!(check_bound_claims(&flag, false, &map(json!({"ref_protected": "false"}))).is_err());
    }

    #[test]
    fn roles_must_bind_an_identity() {
        let b = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(binds_identity(&b(&[("repository", "acme/app")]), false));
        assert!(binds_identity(&b(&[("repository", "acme/*")]), true));
        assert!(!binds_identity(&b(&[("ref", "refs/heads/main")]), false));
        assert!(!binds_identity(&b(&[("environment", "production")]), false));
        assert!(!binds_identity(&b(&[("sub", "*")]), true));
        assert!(!binds_identity(&b(&[("repository", "acme*/x")]), true));
        // The subject's first part is a fixed word: it pins nothing.
        for open in [
            "repo:*",
            "repo:ac*",
            "repo:*/app:ref:refs/heads/main",
            "project_path:*",
            "system:serviceaccount:*",
            "system:serviceaccount::*",
            "/*",
        ] {
            assert!(!binds_identity(&b(&[("sub", open)]), true), "{open}");
        }
        for pinned in [
            "repo:acme/*",
            "repo:acme/app:*",
            "project_path:group/*",
            "system:serviceaccount:billing:*",
        ] {
            assert!(binds_identity(&b(&[("sub", pinned)]), true), "{pinned}");
        }
        // Without glob a `*` is literal, so it pins nothing open.
        assert!(binds_identity(&b(&[("sub", "*")]), false));
        assert!(binds_identity(
            &b(&[("sub", "system:serviceaccount:ns:sa")]),
            true
        ));
    }

    #[test]
    fn ages() {
        assert!(check_age(Some(1000), 1000, 600).is_ok());
        assert!(check_age(Some(1000), 1000 + 660, 600).is_ok());
        assert!(check_age(Some(1000), 1000 + 661, 600).is_err());
        assert!(check_age(Some(1061), 1000, 600).is_err());
        assert!(check_age(None, 1000, 600).is_err());
        assert!(check_age(Some(i64::MIN), i64::MAX, 600).is_err());
    }

    #[test]
    fn names_and_audit_claims() {
        let gh = map(
            json!({"repository": "acme/payments", "ref": "refs/heads/main", "run_id": "123", "sub": "repo:acme/payments:ref:refs/heads/main"}),
        );
        assert_eq!(
            token_name("github", &gh),
            "github:acme/payments@refs/heads/main#run-123"
        );
        let gl = map(json!({"project_path": "g/app", "ref": "main", "pipeline_id": 7}));
        assert_eq!(token_name("gitlab", &gl), "gitlab:g/app@main#pipeline-7");
        let k8s = map(json!({"sub": "system:serviceaccount:ns:deployer"}));
        assert_eq!(
            token_name("k8s", &k8s),
            "k8s:system:serviceaccount:ns:deployer"
        );
        let bound: BTreeMap<String, String> = [("repository".to_owned(), "x".to_owned())].into();
        assert_eq!(
            audit_claims(&bound, &gh),
            "sub=\"repo:acme/payments:ref:refs/heads/main\" repository=\"acme/payments\" run_id=\"123\""
        );
        assert!(ALLOWED_ALGS.iter().all(|a| !a.starts_with("HS")));
    }
}
