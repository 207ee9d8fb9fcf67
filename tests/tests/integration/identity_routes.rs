//! Route enumeration: every route in the OpenAPI document must declare its
//! access rule (`x-vault-action`) and have, in the table below, an allow
//! case (a caller the access layer lets through) and a deny case (a caller
//! it refuses). A new route without both fails this test.

use serde_json::{Value, json};
use vault_tests::{Client, Resp};

use super::identity_kit::{login, member, server, user};

#[derive(Clone, Copy, Debug)]
enum Who {
    Anon,
    Root,
    /// developer on demo/*, break-glass, security-officer on *.
    Carol,
    /// reader on other/dev only.
    Nobody,
    /// A fresh login of carol (for logout).
    Fresh,
}

struct Case {
    method: &'static str,
    template: &'static str,
    path: String,
    body: Value,
    allow: Who,
    deny: Option<Who>,
}

fn case(
    method: &'static str,
    template: &'static str,
    path: &str,
    body: Value,
    allow: Who,
    deny: Option<Who>,
) -> Case {
    Case {
        method,
        template,
        path: path.to_owned(),
        body,
        allow,
        deny,
    }
}

fn call(c: &Client, method: &str, path: &str, body: &Value) -> Resp {
    c.request(method, path, body.clone())
}

#[test]
fn every_route_has_a_declared_action_an_allow_and_a_deny_case() {
    let s = server();
    let root = s.client();
    root.setup("demo", "dev");
    root.setup("other", "dev");
    root.setup("scratch", "dev");
    root.write("demo", "dev", "K", "v");
    let carol = member(&s, "carol", "developer", "demo/*");
    super::identity_kit::grant(&root, "carol", "security-officer", "*");
    super::identity_kit::grant(&root, "carol", "break-glass", "*");
    let carol = {
        let _ = carol;
        login(&s, "carol")
    };
    let nobody = member(&s, "nobody", "reader", "other/dev");
    for v in ["victim", "victim2", "victim3"] {
        user(&root, v);
    }
    let bind = super::identity_kit::grant(&root, "victim", "reader", "demo/dev");
    let bind_id = bind["id"].as_str().unwrap().to_owned();
    let carol_sid = carol.get("/v1/auth/whoami").json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tok = root.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
    );
    let tok_id = tok.json["service_token"]["id"].as_str().unwrap().to_owned();
    let victim_sid = {
        let v = login(&s, "victim");
        v.get("/v1/auth/whoami").json["session_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    use Who::*;
    let e = json!({});
    let sec = "/v1/projects/demo/environments/dev/secrets/K";
    let cases = vec![
        case(
            "GET",
            "/v1/sys/health",
            "/v1/sys/health",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/sys/init",
            "/v1/sys/init",
            json!({ "mode": { "type": "shamir", "shares": 1, "threshold": 1 } }),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/sys/seal-status",
            "/v1/sys/seal-status",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/sys/unseal",
            "/v1/sys/unseal",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/sys/generate-root",
            "/v1/sys/generate-root",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/sys/rotate-root",
            "/v1/sys/rotate-root",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "GET",
            "/v1/sys/metrics",
            "/v1/sys/metrics",
            e.clone(),
            Root,
            Some(Anon),
        ),
        case(
            "GET",
            "/v1/openapi.json",
            "/v1/openapi.json",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/projects",
            "/v1/projects",
            e.clone(),
            Nobody,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/projects",
            "/v1/projects",
            json!({ "name": "fresh" }),
            Root,
            Some(Carol),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments",
            "/v1/projects/demo/environments",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/projects/{p}/environments",
            "/v1/projects/demo/environments",
            json!({ "name": "qa" }),
            Root,
            Some(Carol),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments/{e}/secrets",
            "/v1/projects/demo/environments/dev/secrets",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments/{e}/bundle",
            "/v1/projects/demo/environments/dev/bundle",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments/{e}/secrets/{name}",
            sec,
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "PUT",
            "/v1/projects/{p}/environments/{e}/secrets/{name}",
            sec,
            json!({ "value": "w" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments/{e}/secrets/{name}/history",
            &format!("{sec}/history"),
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/projects/{p}/environments/{e}/secrets/{name}/rollback",
            &format!("{sec}/rollback"),
            json!({ "version": 1 }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/projects/{p}/environments/{e}/secrets/{name}",
            sec,
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/projects/{p}/environments/{e}/trash",
            "/v1/projects/demo/environments/dev/trash",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
            "/v1/projects/demo/environments/dev/trash/K/restore",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/projects/{p}/environments/{e}/trash/{name}",
            "/v1/projects/demo/environments/dev/trash/NOPE",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case("GET", "/v1/keys", "/v1/keys", e.clone(), Root, Some(Carol)),
        case(
            "POST",
            "/v1/projects/{p}/keys/rotate",
            "/v1/projects/scratch/keys/rotate",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "POST",
            "/v1/projects/{p}/keys/{version}/retire",
            "/v1/projects/scratch/keys/1/retire",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "POST",
            "/v1/projects/{p}/keys/{version}/destroy",
            "/v1/projects/scratch/keys/1/destroy",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "POST",
            "/v1/keys/rewrap",
            "/v1/keys/rewrap",
            json!({ "project": "scratch" }),
            Root,
            Some(Carol),
        ),
        case(
            "GET",
            "/v1/keys/rewrap/{id}",
            "/v1/keys/rewrap/nope",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "GET",
            "/v1/audit",
            "/v1/audit",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/audit/export",
            "/v1/audit/export",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/audit/verify",
            "/v1/audit/verify",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/emergency/{id}",
            "/v1/emergency/e-nope",
            e.clone(),
            Root,
            Some(Anon),
        ),
        case(
            "GET",
            "/v1/audit/head",
            "/v1/audit/head",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/audit/public-key",
            "/v1/audit/public-key",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/projects/{p}",
            "/v1/projects/scratch",
            e.clone(),
            Root,
            Some(Carol),
        ),
        case(
            "POST",
            "/v1/auth/passkeys/login/start",
            "/v1/auth/passkeys/login/start",
            json!({}),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/auth/passkeys/login/finish",
            "/v1/auth/passkeys/login/finish",
            json!({ "ceremony_id": "nope", "credential": {} }),
            Nobody,
            None,
        ),
        case(
            "POST",
            "/v1/auth/mfa/recovery",
            "/v1/auth/mfa/recovery",
            json!({ "ceremony_id": "nope", "recovery_code": "AAAA-AAAA-AAAA-AAAA" }),
            Nobody,
            None,
        ),
        case(
            "POST",
            "/v1/auth/passkeys/step-up/start",
            "/v1/auth/passkeys/step-up/start",
            e.clone(),
            Carol,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/auth/passkeys/step-up/finish",
            "/v1/auth/passkeys/step-up/finish",
            json!({ "ceremony_id": "nope", "credential": {} }),
            Carol,
            Some(Anon),
        ),
        case(
            "PATCH",
            "/v1/auth/passkeys/{id}",
            "/v1/auth/passkeys/pk_nope",
            json!({ "name": "phone" }),
            Carol,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/auth/passkeys/register/start",
            "/v1/auth/passkeys/register/start",
            json!({ "name": "laptop" }),
            Carol,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/auth/passkeys/register/finish",
            "/v1/auth/passkeys/register/finish",
            json!({ "ceremony_id": "nope", "credential": {} }),
            Carol,
            Some(Anon),
        ),
        case(
            "GET",
            "/v1/auth/passkeys",
            "/v1/auth/passkeys",
            e.clone(),
            Carol,
            Some(Anon),
        ),
        case(
            "DELETE",
            "/v1/auth/passkeys/{id}",
            "/v1/auth/passkeys/pk_nope",
            e.clone(),
            Carol,
            Some(Anon),
        ),
        case(
            "GET",
            "/v1/auth/workload/issuers",
            "/v1/auth/workload/issuers",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/auth/workload/login",
            "/v1/auth/workload/login",
            json!({ "issuer": "github", "role": "deploy", "jwt": "not.a.jwt" }),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/workload/roles",
            "/v1/workload/roles",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/workload/roles",
            "/v1/workload/roles",
            json!({ "issuer": "github", "name": "deploy", "bound_claims": { "repository": "a/b" },
                    "scope": "demo/dev", "actions": ["read"] }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/workload/roles/{issuer}/{name}",
            "/v1/workload/roles/github/nope",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/auth/oidc/providers",
            "/v1/auth/oidc/providers",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/auth/oidc/{provider}/start",
            "/v1/auth/oidc/corp/start",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/auth/oidc/{provider}/callback",
            "/v1/auth/oidc/corp/callback",
            e.clone(),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/auth/oidc/token",
            "/v1/auth/oidc/token",
            json!({ "code": "nope", "code_verifier": "a".repeat(64) }),
            Anon,
            None,
        ),
        case(
            "POST",
            "/v1/users/{name}/passkeys/reset",
            "/v1/users/victim2/passkeys/reset",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/users/{name}/identities",
            "/v1/users/victim2/identities",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/users/{name}/identities",
            "/v1/users/victim2/identities",
            json!({ "provider": "corp", "subject": "someone" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/users/{name}/identities/{id}",
            "/v1/users/victim2/identities/idn_nope",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/auth/login",
            "/v1/auth/login",
            json!({ "username": "carol", "password": super::identity_kit::PW }),
            Anon,
            None,
        ),
        case(
            "GET",
            "/v1/auth/whoami",
            "/v1/auth/whoami",
            e.clone(),
            Nobody,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/auth/password",
            "/v1/auth/password",
            json!({ "current_password": super::identity_kit::PW, "new_password": "short" }),
            Nobody,
            Some(Anon),
        ),
        case(
            "GET",
            "/v1/users",
            "/v1/users",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/users",
            "/v1/users",
            json!({ "username": "newbie", "password": super::identity_kit::PW }),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/users/{name}/disable",
            "/v1/users/victim2/disable",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/users/{name}/enable",
            "/v1/users/victim2/enable",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/users/{name}/offboard",
            "/v1/users/victim3/offboard",
            json!({ "since": 0 }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/users/{name}",
            "/v1/users/victim2",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/roles",
            "/v1/roles",
            e.clone(),
            Nobody,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/roles",
            "/v1/roles",
            json!({ "name": "auditor", "permissions": ["audit.read"] }),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/compliance/report",
            "/v1/compliance/report?format=json",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/alerts",
            "/v1/alerts",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/alerts",
            "/v1/alerts",
            json!({ "url": "https://hooks.example.com/vault", "events": ["sys.seal"] }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/alerts/{id}",
            "/v1/alerts/wh_nope",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/alerts/{id}/deliveries",
            "/v1/alerts/wh_nope/deliveries",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/alerts/{id}/test",
            "/v1/alerts/wh_nope/test",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/access/reviews",
            "/v1/access/reviews",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/access/reviews",
            "/v1/access/reviews",
            json!({ "scope": "scratch/*" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/access/reviews/{id}",
            "/v1/access/reviews/rev_nope",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/access/reviews/{id}/bindings/{binding}",
            "/v1/access/reviews/rev_nope/bindings/b_nope",
            json!({ "decision": "keep" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/access/reviews/{id}/close",
            "/v1/access/reviews/rev_nope/close",
            json!({}),
            Carol,
            Some(Nobody),
        ),
        case(
            "PATCH",
            "/v1/roles/{name}",
            "/v1/roles/auditor",
            json!({ "require_mfa": false }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/roles/{name}",
            "/v1/roles/auditor",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/bindings",
            "/v1/bindings",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/bindings",
            "/v1/bindings",
            json!({ "user": "victim", "role": "reader", "scope": "demo/*" }),
            Root,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/bindings/{id}",
            &format!("/v1/bindings/{bind_id}"),
            e.clone(),
            Root,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/sessions",
            "/v1/sessions?all=true",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/sessions/{id}",
            &format!("/v1/sessions/{victim_sid}"),
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/sessions/revoke",
            "/v1/sessions/revoke",
            json!({ "user": "victim" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/tokens",
            "/v1/tokens?all=true",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/tokens",
            "/v1/tokens",
            json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
            Carol,
            Some(Nobody),
        ),
        case(
            "DELETE",
            "/v1/tokens/{id}",
            &format!("/v1/tokens/{tok_id}"),
            e.clone(),
            Root,
            Some(Nobody),
        ),
        case(
            "GET",
            "/v1/emergency",
            "/v1/emergency",
            e.clone(),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/emergency",
            "/v1/emergency",
            json!({ "reason": "route enumeration test" }),
            Carol,
            Some(Nobody),
        ),
        case(
            "POST",
            "/v1/sys/danger-test-clock",
            "/v1/sys/danger-test-clock",
            json!({ "advance_secs": 0 }),
            Root,
            Some(Carol),
        ),
        case(
            "POST",
            "/v1/auth/logout",
            "/v1/auth/logout",
            e.clone(),
            Fresh,
            Some(Anon),
        ),
        case(
            "POST",
            "/v1/sys/seal",
            "/v1/sys/seal",
            e.clone(),
            Root,
            Some(Carol),
        ),
    ];
    let _ = carol_sid;

    // 1. Every documented route declares its action and has a case.
    let doc = root.get("/v1/openapi.json").json;
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let m = method.to_uppercase();
            let action = op["x-vault-action"].as_str();
            if action.is_none() {
                missing.push(format!("{m} {path}: no x-vault-action"));
            }
            match cases.iter().find(|c| c.method == m && c.template == path) {
                None => missing.push(format!("{m} {path}: no allow/deny case")),
                Some(c) if c.deny.is_none() && action != Some("open") => {
                    missing.push(format!("{m} {path}: no deny case"));
                }
                Some(_) => {}
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");

    let client = |w: Who| -> Client {
        match w {
            Anon => s.anonymous(),
            Root => root.clone(),
            Carol => carol.clone(),
            Nobody => nobody.clone(),
            Fresh => login(&s, "carol"),
        }
    };
    // 2. Deny cases (they change nothing).
    for c in &cases {
        let Some(who) = c.deny else { continue };
        let r = call(&client(who), c.method, &c.path, &c.body);
        let ok = match who {
            Anon => (r.status, r.code()) == (401, "auth.required"),
            // Refused by the permission gate, or by the no-escalation rule.
            _ => r.status == 403 && ["access.denied", "access.escalation"].contains(&r.code()),
        };
        assert!(ok, "deny case {who:?} {} {}: {r:?}", c.method, c.path);
    }
    // 2b. Declared and enforced permissions agree: for every route whose
    // declared action needs a permission (`x-vault-permission`), a caller
    // holding only that permission (on `*`) gets through, and a caller
    // holding every other permission is refused with a 403 naming it.
    let all: Vec<&str> = vault_core::access::Permission::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    user(&root, "probe");
    let mut binding: Option<String> = None;
    let mut hold = |perms: Vec<&str>, tag: &str| {
        if let Some(id) = binding.take() {
            assert_eq!(root.delete(&format!("/v1/bindings/{id}")).status, 204);
        }
        let role = format!("probe-{tag}");
        let _ = root.delete(&format!("/v1/roles/{role}"));
        let r = root.post("/v1/roles", json!({ "name": role, "permissions": perms }));
        assert_eq!(r.status, 201, "{r:?}");
        let b = root.post(
            "/v1/bindings",
            json!({ "user": "probe", "role": role, "scope": "*" }),
        );
        assert_eq!(b.status, 201, "{b:?}");
        binding = b.json["id"].as_str().map(str::to_owned);
        // A change of grants ends the user's sessions: log in again.
        login(&s, "probe")
    };
    let mut checked = 0;
    for perm in &all {
        let routes: Vec<&Case> = cases
            .iter()
            .filter(|c| {
                let op = &doc["paths"][c.template][c.method.to_lowercase()];
                op["x-vault-permission"] == *perm
                    // Sealing would end the test; it has its own cases.
                    && c.template != "/v1/sys/seal"
            })
            .collect();
        if routes.is_empty() {
            continue;
        }
        let probe = hold(
            all.iter().copied().filter(|p| p != perm).collect(),
            &format!("not-{}", perm.replace('.', "-")),
        );
        for c in &routes {
            let r = call(&probe, c.method, &c.path, &c.body);
            assert_eq!(
                r.status, 403,
                "{perm} withheld: {} {}: {r:?}",
                c.method, c.path
            );
            assert!(r.text.contains(perm), "403 must name {perm}: {r:?}");
        }
        let probe = hold(vec![perm], &format!("only-{}", perm.replace('.', "-")));
        for c in &routes {
            let r = call(&probe, c.method, &c.path, &c.body);
            // Past the permission gate, the escalation rule may still
            // refuse the body (a role granting more than the caller holds).
            assert!(
                r.status != 401 && (r.status != 403 || r.code() == "access.escalation"),
                "{perm} alone: {} {}: {r:?}",
                c.method,
                c.path
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} routes checked");

    // 3. Allow cases: the access layer lets them through (the operation
    // itself may still answer 4xx, e.g. 404 for a missing resource).
    for c in &cases {
        let r = call(&client(c.allow), c.method, &c.path, &c.body);
        assert!(
            r.status != 401 && r.status != 403,
            "allow case {:?} {} {}: {r:?}",
            c.allow,
            c.method,
            c.path
        );
    }
}
