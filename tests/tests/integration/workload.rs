//! Workload identity against a real JWT issuer (tests/idp/issuer.mjs:
//! discovery, JWKS with RS256, ES256 and EdDSA keys, tokens signed on
//! request, and a stand-in for GitHub's ID-token endpoint): GitHub-, GitLab-
//! and Kubernetes-shaped tokens for scoped service tokens, every refusal
//! audited with its reason and never the token, single use, key rotation,
//! an unreachable issuer, the roles API, and the real CLI.

use serde_json::{Value, json};
use vault_tests::idp::Idp;
use vault_tests::{Options, Server};

const AUD: &str = "https://vault.example.com";
const REQUEST_TOKEN: &str = "gh-request-token-for-tests";

fn github_claims(run: &str) -> Value {
    json!({
        "sub": "repo:acme/payments:environment:production",
        "repository": "acme/payments",
        "repository_owner": "acme",
        "ref": "refs/heads/main",
        "environment": "production",
        "run_id": run,
        "workflow": "deploy",
        "aud": AUD,
    })
}

fn config(issuer: &str) -> String {
    format!(
        r#"
[[workload_identity.issuers]]
name = "github"
issuer = "{issuer}"
audiences = ["{AUD}"]

[[workload_identity.issuers.roles]]
name = "deploy-payments-prod"
bound_claims = {{ repository = "acme/payments", ref = "refs/heads/main", environment = "production" }}
scope = "payments/prod"
actions = ["read"]
ttl = "15m"

[[workload_identity.issuers]]
name = "gitlab"
issuer = "{issuer}"
audiences = ["{AUD}"]

[[workload_identity.issuers.roles]]
name = "release"
bound_claims = {{ project_path = "acme/*", ref = "main", ref_protected = "true" }}
bound_claims_glob = true
scope = "payments/prod"
actions = ["read", "list"]

[[workload_identity.issuers]]
name = "k8s"
issuer = "{issuer}"
audiences = ["vault"]
jwks_url = "{issuer}/jwks"
max_token_age = "1h"

[[workload_identity.issuers.roles]]
name = "billing-api"
bound_claims = {{ sub = "system:serviceaccount:billing:api" }}
scope = "payments/prod"
actions = ["read"]
ttl = "5m"
"#
    )
}

fn setup() -> (Idp, Server) {
    let idp = Idp::jwt_issuer(REQUEST_TOKEN, &github_claims("777").to_string());
    let s = Server::dev_with(Options {
        env: vec![],
        config: Some(config(&idp.issuer)),
    });
    let admin = s.client();
    admin.setup("payments", "prod");
    admin.write("payments", "prod", "DB_URL", "postgres://prod");
    admin.setup("payments", "dev");
    admin.write("payments", "dev", "DB_URL", "postgres://dev");
    (idp, s)
}

fn exchange(s: &Server, issuer: &str, role: &str, jwt: &str) -> vault_tests::Resp {
    s.anonymous().post(
        "/v1/auth/workload/login",
        json!({ "issuer": issuer, "role": role, "jwt": jwt }),
    )
}

/// The real time: the issuer signs with it (the server's clock is real too).
#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

fn workload_records(s: &Server) -> Vec<Value> {
    let r = s.client().get("/v1/audit?limit=1000");
    r.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["action"] == "auth.workload_login")
        .cloned()
        .collect()
}

#[test]
fn a_github_token_becomes_a_scoped_short_token_once() {
    let (idp, s) = setup();
    let jwt = idp.sign(github_claims("123"), "RS256", None);
    let r = exchange(&s, "github", "deploy-payments-prod", &jwt);
    assert_eq!(r.status, 200, "{r:?}");
    let t = &r.json["service_token"];
    assert_eq!(t["name"], "github:acme/payments@refs/heads/main#run-123");
    assert_eq!(t["scopes"], json!(["payments/prod"]));
    assert_eq!(t["actions"], json!(["secrets.read"]));
    let ttl = t["expires_at"].as_i64().unwrap() - t["created_at"].as_i64().unwrap();
    assert_eq!(ttl, 15 * 60 * 1000);
    let ci = s.anonymous().with_token(r.json["token"].as_str());
    assert_eq!(
        ci.read("payments", "prod", "DB_URL").json["value"],
        "postgres://prod"
    );
    assert_eq!(ci.read("payments", "dev", "DB_URL").status, 403);
    let who = ci.get("/v1/auth/whoami");
    assert_eq!(who.json["kind"], "service_token", "{who:?}");

    // The same JWT again: refused, whatever role it asks for.
    let again = exchange(&s, "github", "deploy-payments-prod", &jwt);
    assert_eq!(again.status, 401, "{again:?}");
    assert!(again.text.contains("(replayed)"), "{again:?}");

    let recs = workload_records(&s);
    let ok = recs.iter().find(|r| r["outcome"] == "success").unwrap();
    let d = ok["detail"].as_str().unwrap();
    for part in [
        "issuer=github",
        "role=deploy-payments-prod",
        "repository=\"acme/payments\"",
        "ref=\"refs/heads/main\"",
        "run_id=\"123\"",
    ] {
        assert!(d.contains(part), "{part} missing from {d}");
    }
    assert!(
        recs.iter().any(|r| r["outcome"] == "denied"
            && r["detail"].as_str().unwrap().contains("reason=replayed"))
    );
    // Never the token, in the trail or the log.
    let export = s.client().get("/v1/audit/export?format=jsonl");
    let sig = jwt.rsplit('.').next().unwrap();
    assert!(!export.text.contains(sig));
    assert!(!s.log().contains(sig));
}

#[test]
fn gitlab_and_kubernetes_shaped_tokens_with_es256_and_eddsa() {
    let (idp, s) = setup();
    let gl = idp.sign(
        json!({ "aud": AUD, "sub": "project_path:acme/app:ref_type:branch:ref:main",
                "project_path": "acme/app", "ref": "main", "ref_protected": "true",
                "pipeline_id": 42, "jti": "gl-1" }),
        "ES256",
        None,
    );
    let r = exchange(&s, "gitlab", "release", &gl);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json["service_token"]["name"],
        "gitlab:acme/app@main#pipeline-42"
    );
    // The glob is on `project_path`; an unprotected ref is refused.
    let unprotected = idp.sign(
        json!({ "aud": AUD, "project_path": "acme/app", "ref": "main", "ref_protected": "false" }),
        "ES256",
        None,
    );
    let r = exchange(&s, "gitlab", "release", &unprotected);
    assert!(r.text.contains("claim_mismatch:ref_protected"), "{r:?}");

    let k8s = idp.sign(
        json!({ "aud": ["vault"], "sub": "system:serviceaccount:billing:api",
                "iat": now() - 1800, "exp": now() + 1800 }),
        "EdDSA",
        None,
    );
    let r = exchange(&s, "k8s", "billing-api", &k8s);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json["service_token"]["name"],
        "k8s:system:serviceaccount:billing:api"
    );
    let other_sa = idp.sign(
        json!({ "aud": "vault", "sub": "system:serviceaccount:billing:worker" }),
        "EdDSA",
        None,
    );
    assert!(
        exchange(&s, "k8s", "billing-api", &other_sa)
            .text
            .contains("claim_mismatch:sub")
    );
}

#[test]
fn every_bad_token_is_refused_with_its_reason_and_audited() {
    let (idp, s) = setup();
    let other = Idp::jwt_issuer("x", "{}");
    let with = |patch: Value| {
        let mut c = github_claims("9");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let t = now();
    let cases: Vec<(&str, String)> = vec![
        (
            "aud_mismatch",
            idp.sign(
                with(json!({ "aud": "https://other.example" })),
                "RS256",
                None,
            ),
        ),
        (
            "claim_mismatch:repository",
            idp.sign(with(json!({ "repository": "acme/other" })), "RS256", None),
        ),
        (
            "claim_mismatch:ref",
            idp.sign(with(json!({ "ref": "refs/heads/feature" })), "RS256", None),
        ),
        (
            "claim_mismatch:environment",
            idp.sign(with(json!({ "environment": null })), "RS256", None),
        ),
        (
            "expired",
            idp.sign(
                with(json!({ "iat": t - 400, "exp": t - 120 })),
                "RS256",
                None,
            ),
        ),
        (
            "too_old",
            idp.sign(
                with(json!({ "iat": t - 1200, "exp": t + 300 })),
                "RS256",
                None,
            ),
        ),
        (
            "too_old",
            idp.sign(
                with(json!({ "iat": t + 600, "exp": t + 900 })),
                "RS256",
                None,
            ),
        ),
        (
            "not_yet_valid",
            idp.sign(with(json!({ "nbf": t + 600 })), "RS256", None),
        ),
        (
            "unknown_key",
            idp.sign(github_claims("9"), "RS256", Some("unknown-kid")),
        ),
        (
            "alg_not_allowed",
            idp.sign(github_claims("9"), "RS256", Some("none")),
        ),
        (
            "alg_not_allowed",
            idp.sign(github_claims("9"), "RS256", Some("hmac-with-public-key")),
        ),
        (
            "bad_signature",
            idp.sign(github_claims("9"), "RS256", Some("sig")),
        ),
        // Another issuer's token, as it is.
        (
            "iss_mismatch",
            other.sign(github_claims("9"), "RS256", None),
        ),
        // Another issuer's token claiming to be ours: its key is not ours.
        (
            "unknown_key",
            other.sign(with(json!({ "iss": idp.issuer })), "RS256", None),
        ),
        ("malformed", "not.a-jwt".to_owned()),
    ];
    for (reason, jwt) in &cases {
        let r = exchange(&s, "github", "deploy-payments-prod", jwt);
        assert!(
            r.status == 401 && r.text.contains(&format!("({reason})")),
            "{reason}: {r:?}"
        );
        assert!(r.json["token"].is_null());
    }
    let recs = workload_records(&s);
    for (reason, _) in &cases {
        assert!(
            recs.iter().any(|r| r["outcome"] == "denied"
                && r["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("reason={reason}"))),
            "{reason} not audited"
        );
    }
    let trail = s.client().get("/v1/audit/export?format=jsonl").text;
    for (_, jwt) in &cases {
        if let Some(sig) = jwt.rsplit('.').next().filter(|x| x.len() > 20) {
            assert!(!trail.contains(sig), "a token reached the audit trail");
        }
    }
    // Names are checked before anything is recorded.
    let r = exchange(&s, "Git Hub\u{1b}[31m", "x", &cases[0].1);
    assert_eq!(r.code(), "workload.invalid_name", "{r:?}");
    // Unknown issuer and role: 404 with a reason.
    let r = exchange(&s, "nope", "x", &cases[0].1);
    assert_eq!(r.status, 404, "{r:?}");
    let r = exchange(&s, "github", "nope", &cases[0].1);
    assert_eq!(r.code(), "workload.unknown_role", "{r:?}");
}

#[test]
fn key_rotation_is_followed_and_an_unreachable_issuer_fails_closed() {
    let (idp, s) = setup();
    let first = idp.sign(github_claims("1"), "RS256", None);
    assert_eq!(
        exchange(&s, "github", "deploy-payments-prod", &first).status,
        200
    );
    idp.rotate();
    let after = idp.sign(github_claims("2"), "RS256", None);
    let r = exchange(&s, "github", "deploy-payments-prod", &after);
    assert_eq!(r.status, 200, "the new key is fetched: {r:?}");

    let down = Server::dev_with(Options {
        env: vec![],
        config: Some(config("http://127.0.0.1:1")),
    });
    let mut claims = github_claims("3");
    claims["iss"] = "http://127.0.0.1:1".into();
    let theirs = idp.sign(claims, "RS256", None);
    let r = exchange(&down, "github", "deploy-payments-prod", &theirs);
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.text.contains("(issuer_unreachable)"), "{r:?}");
}

#[test]
fn roles_made_through_the_api_follow_the_token_rules() {
    let (idp, s) = setup();
    let admin = s.client();
    let role = json!({
        "issuer": "github", "name": "preview",
        "bound_claims": { "repository": "acme/payments", "ref": "refs/heads/*" },
        "bound_claims_glob": true, "scope": "payments/dev", "actions": ["read"], "ttl_secs": 600
    });
    let r = admin.post("/v1/workload/roles", role.clone());
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(admin.post("/v1/workload/roles", role.clone()).status, 409);
    let mut empty = role.clone();
    empty["name"] = "open".into();
    empty["bound_claims"] = json!({});
    let r = admin.post("/v1/workload/roles", empty);
    assert_eq!(r.code(), "workload.invalid_role", "{r:?}");
    // A role that does not say whose workload it is would admit anyone's CI.
    for bound in [
        json!({ "ref": "refs/heads/main" }),
        json!({ "environment": "production" }),
        json!({ "repository": "*" }),
        json!({ "sub": "acme*" }),
        // A subject's first part is a fixed word (`repo`): it pins nothing.
        json!({ "sub": "repo:*" }),
        json!({ "sub": "repo:*:ref:refs/heads/main" }),
    ] {
        let mut open = role.clone();
        open["name"] = "open".into();
        open["bound_claims"] = bound.clone();
        let r = admin.post("/v1/workload/roles", open);
        assert_eq!(r.code(), "workload.invalid_role", "{bound}: {r:?}");
    }
    let list = admin.get("/v1/workload/roles");
    let sources: Vec<&str> = list.json["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"config") && sources.contains(&"api"),
        "{list:?}"
    );

    let jwt = idp.sign(
        json!({ "aud": AUD, "repository": "acme/payments", "ref": "refs/heads/feature-x" }),
        "RS256",
        None,
    );
    let r = exchange(&s, "github", "preview", &jwt);
    assert_eq!(r.status, 200, "{r:?}");
    let ci = s.anonymous().with_token(r.json["token"].as_str());
    assert_eq!(ci.read("payments", "dev", "DB_URL").status, 200);
    assert_eq!(ci.read("payments", "prod", "DB_URL").status, 403);

    // No escalation: a user with users.manage and reader on payments/dev
    // cannot make a role that writes there.
    let pw = "correct horse battery staple 42";
    admin.post("/v1/users", json!({ "username": "ops", "password": pw }));
    for (role, scope) in [("security-officer", "*"), ("reader", "payments/dev")] {
        admin.post(
            "/v1/bindings",
            json!({ "user": "ops", "role": role, "scope": scope }),
        );
    }
    let ops = s.anonymous().post(
        "/v1/auth/login",
        json!({ "username": "ops", "password": pw }),
    );
    let ops = s.anonymous().with_token(ops.json["token"].as_str());
    let mut writer = role.clone();
    writer["name"] = "writer".into();
    writer["actions"] = json!(["read", "write"]);
    let r = ops.post("/v1/workload/roles", writer);
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.code(), "access.escalation");
    assert_eq!(
        admin.delete("/v1/workload/roles/github/preview").status,
        204
    );
    let fresh = idp.sign(
        json!({ "aud": AUD, "repository": "acme/payments", "ref": "refs/heads/y" }),
        "RS256",
        None,
    );
    assert_eq!(
        exchange(&s, "github", "preview", &fresh).code(),
        "workload.unknown_role"
    );
}

#[test]
fn vault_login_and_vault_run_with_workload_through_the_real_cli() {
    let (idp, s) = setup();
    let ci = |args: &[&str]| {
        let mut c = vault_tests::cli::vault(&s);
        c.env_remove("VAULT_TOKEN")
            .env("VAULT_TOKEN_STORE", "file")
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/actions/token?api-version=2.0", idp.issuer),
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
            .args(args);
        c.output().unwrap()
    };
    let out = ci(&[
        "run",
        "--workload",
        "github",
        "--role",
        "deploy-payments-prod",
        "-p",
        "payments",
        "-e",
        "prod",
        "--",
        "sh",
        "-c",
        "printf %s \"$DB_URL\"",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "postgres://prod");

    let out = ci(&[
        "login",
        "--workload",
        "github",
        "--role",
        "deploy-payments-prod",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("github:acme/payments@refs/heads/main#run-777"),
        "{err}"
    );
    let who = ci(&["whoami", "--format", "json"]);
    let who: Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(who["kind"], "service_token", "{who}");
    // The job cleans up: logout revokes the minted token and forgets it.
    let out = ci(&["logout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who = ci(&["whoami"]);
    assert!(!who.status.success(), "the token is gone");
    let trail = s.client().get("/v1/audit?limit=1000");
    assert!(
        trail.json["records"].as_array().unwrap().iter().any(|r| {
            r["action"] == "token.revoke" && r["detail"] == "logout" && r["outcome"] == "success"
        }),
        "the logout is audited as the token's revocation"
    );

    // The repository's .vault.toml names the issuer and role: the CI line
    // is just `vault run -- CMD`.
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join(".vault.toml"),
        "project = \"payments\"\nenvironment = \"prod\"\n[workload]\nissuer = \"github\"\nrole = \"deploy-payments-prod\"\n",
    )
    .unwrap();
    let mut c = vault_tests::cli::vault(&s);
    let out = c
        .current_dir(repo.path())
        .env_remove("VAULT_TOKEN")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/actions/token", idp.issuer),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .args(["run", "--", "sh", "-c", "printf %s \"$DB_URL\""])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "postgres://prod");

    // A wrong request token: GitHub's endpoint says no, and the CLI says why.
    let mut c = vault_tests::cli::vault(&s);
    let out = c
        .env_remove("VAULT_TOKEN")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/actions/token", idp.issuer),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong")
        .args([
            "run",
            "--workload",
            "github",
            "--role",
            "deploy-payments-prod",
            "-p",
            "payments",
            "-e",
            "prod",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("id-token: write"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // GitLab: the token from a variable; a missing one is named.
    let mut c = vault_tests::cli::vault(&s);
    let out = c
        .env_remove("VAULT_TOKEN")
        .args([
            "run",
            "--workload",
            "gitlab",
            "--role",
            "release",
            "--jwt-env",
            "VAULT_ID_TOKEN",
            "-p",
            "payments",
            "-e",
            "prod",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("VAULT_ID_TOKEN is empty or not set"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
