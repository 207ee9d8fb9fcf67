//! RBAC on a real server: a reader on demo/dev reads there only, listings
//! are filtered, role-name and path-canonicalization attacks never grant
//! access, and escalation through bindings is refused.

use serde_json::json;

use super::identity_kit::{grant, login, member, refused, server, user};

#[test]
fn reader_on_demo_dev_reads_there_only() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.setup("demo", "prod");
    admin.setup("other", "dev");
    admin.write("demo", "dev", "DB_URL", "dev-value");
    admin.write("demo", "prod", "DB_URL", "prod-value");
    let alice = member(&s, "alice", "reader", "demo/dev");

    assert_eq!(
        alice.read("demo", "dev", "DB_URL").json["value"],
        "dev-value"
    );
    let r = alice.get("/v1/projects/demo/environments/dev/secrets");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["secrets"][0]["name"], "DB_URL");
    let r = alice.get("/v1/projects/demo/environments/dev/bundle");
    assert_eq!(r.status, 200, "{r:?}");

    refused(&alice.read("demo", "prod", "DB_URL"), 403, "access.denied");
    refused(
        &alice.get("/v1/projects/demo/environments/prod/secrets"),
        403,
        "access.denied",
    );
    refused(
        &alice.get("/v1/projects/demo/environments/prod/bundle"),
        403,
        "access.denied",
    );
    let w = alice.put(
        "/v1/projects/demo/environments/dev/secrets/DB_URL",
        json!({ "value": "x" }),
    );
    refused(&w, 403, "access.denied");
    refused(
        &alice.delete("/v1/projects/demo/environments/dev/secrets/DB_URL"),
        403,
        "access.denied",
    );
    refused(&alice.get("/v1/audit"), 403, "access.denied");
    refused(&alice.get("/v1/keys"), 403, "access.denied");
    refused(&alice.get("/v1/users"), 403, "access.denied");
    refused(
        &alice.post("/v1/projects", json!({ "name": "mine" })),
        403,
        "access.denied",
    );

    // Listings show only what she may read.
    let projects = alice.get("/v1/projects");
    let names: Vec<&str> = projects.json["projects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["demo"], "{projects:?}");
    let envs = alice.get("/v1/projects/demo/environments");
    let names: Vec<&str> = envs.json["environments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["dev"], "{envs:?}");
    refused(
        &alice.get("/v1/projects/other/environments"),
        403,
        "access.denied",
    );
    // The value never leaks in a refusal.
    assert!(
        !alice
            .read("demo", "prod", "DB_URL")
            .text
            .contains("prod-value")
    );
    // Denials are audited.
    let audit = admin.get("/v1/audit?actor=user:alice");
    let text = audit.text;
    assert!(text.contains("\"denied\""), "{text}");
}

#[test]
fn path_canonicalization_attacks_never_grant_access() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.setup("demo", "prod");
    admin.write("demo", "prod", "K", "prod-secret");
    let alice = member(&s, "alice", "reader", "demo/dev");
    for path in [
        "/v1/projects/demo/environments/dev/../prod/secrets/K",
        "/v1/projects/demo/environments/dev/%2e%2e/prod/secrets/K",
        "/v1/projects/demo/environments/%2e%2e/secrets/K",
        "/v1/projects/demo/environments/dev%2F..%2Fprod/secrets/K",
        "/v1/projects/demo/environments/./prod/secrets/K",
        "/v1/projects/demo//environments/prod/secrets/K",
        "/v1/projects/demo/environments/prod%00/secrets/K",
    ] {
        let r = alice.get(path);
        refused(&r, 400, "request.non_canonical_path");
        assert!(!r.text.contains("prod-secret"));
    }
    for path in [
        "/v1/projects/DEMO/environments/prod/secrets/K",
        "/v1/projects/demo/environments/PROD/secrets/K",
        "/v1/projects/d%D0%B5mo/environments/prod/secrets/K",
        "/v1/projects/%EF%BD%84emo/environments/prod/secrets/K",
        "/v1/projects/demo/environments/prod%20/secrets/K",
    ] {
        let r = alice.get(path);
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(!r.text.contains("prod-secret"));
    }
    // Even root gets 400 for these: they are refused before any decision.
    refused(
        &admin.get("/v1/projects/demo/environments/dev/../prod/secrets/K"),
        400,
        "request.non_canonical_path",
    );
}

#[test]
fn role_name_and_scope_attacks_never_grant_access() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "prod");
    user(&admin, "mallory");
    for (role, scope) in [
        ("Admin", "*"),
        ("admin ", "*"),
        ("аdmin", "*"), // Cyrillic a
        ("ａｄｍｉｎ", "*"),
        ("reader", "DEMO/prod"),
        ("reader", "demo/../prod"),
        ("reader", "demo/%2e%2e"),
        ("reader", "demo/prod/x"),
        ("reader", "demo"),
        ("reader", ""),
    ] {
        let r = admin.post(
            "/v1/bindings",
            json!({ "user": "mallory", "role": role, "scope": scope }),
        );
        assert_eq!(r.status, 400, "{role:?} {scope:?}: {r:?}");
    }
    // Custom roles cannot shadow built-ins or use odd names.
    for name in ["admin", "Admin", "аdmin", "a/b", ""] {
        let r = admin.post(
            "/v1/roles",
            json!({ "name": name, "permissions": ["secrets.read"] }),
        );
        assert!(r.status == 400 || r.status == 409, "{name:?}: {r:?}");
    }
    // Look-alike usernames cannot be created next to an existing one: a
    // spelling that normalizes to it is refused as not normalized, the
    // name itself as taken.
    for (name, code) in [
        ("MALLORY", "user.invalid_name"),
        ("ｍallory", "user.invalid_name"),
        ("mallory", "user.exists"),
    ] {
        let r = admin.post(
            "/v1/users",
            json!({ "username": name, "password": super::identity_kit::PW }),
        );
        assert_eq!(r.code(), code, "{name:?}: {r:?}");
    }
    let r = admin.post(
        "/v1/users",
        json!({ "username": "mаllory", "password": super::identity_kit::PW }),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let m = login(&s, "mallory");
    refused(&m.read("demo", "prod", "K"), 403, "access.denied");
    assert_eq!(m.get("/v1/auth/whoami").json["grants"], json!([]));
}

#[test]
fn no_escalation_through_bindings_or_tokens() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "prod");
    let officer = member(&s, "olga", "security-officer", "*");
    user(&admin, "bob");
    // An officer manages users but cannot hand out rights she lacks.
    refused(
        &officer.post(
            "/v1/bindings",
            json!({ "user": "olga", "role": "admin", "scope": "*" }),
        ),
        403,
        "access.escalation",
    );
    refused(
        &officer.post(
            "/v1/bindings",
            json!({ "user": "bob", "role": "reader", "scope": "demo/prod" }),
        ),
        403,
        "access.escalation",
    );
    // Officers never read values.
    refused(&officer.read("demo", "prod", "K"), 403, "access.denied");
    assert_eq!(officer.get("/v1/audit").status, 200);
    // A developer on demo/dev cannot mint a token for demo/prod or for more actions.
    admin.setup("demo", "dev");
    let dev = member(&s, "dora", "reader", "demo/dev");
    refused(
        &dev.post(
            "/v1/tokens",
            json!({ "scopes": ["demo/prod"], "actions": ["read"] }),
        ),
        403,
        "access.escalation",
    );
    refused(
        &dev.post(
            "/v1/tokens",
            json!({ "scopes": ["demo/dev"], "actions": ["write"] }),
        ),
        403,
        "access.escalation",
    );
    refused(
        &dev.post(
            "/v1/tokens",
            json!({ "scopes": ["demo/*"], "actions": ["read"] }),
        ),
        403,
        "access.escalation",
    );
    let named = dev.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["write"] }),
    );
    assert!(
        named.text.contains("secrets.write") && named.text.contains("demo/dev"),
        "{named:?}"
    );
    let ok = dev.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
    );
    assert_eq!(ok.status, 201, "{ok:?}");
    // Global rights can never be put in a token.
    let r = admin.post(
        "/v1/tokens",
        json!({ "scopes": ["*"], "actions": ["audit.read"] }),
    );
    refused(&r, 400, "token.invalid_action");
    // Admin rights are re-checked in the database on every request.
    let a2 = member(&s, "ann", "admin", "*");
    assert_eq!(a2.get("/v1/users").status, 200);
    let bid = admin.get("/v1/bindings?user=ann").json["bindings"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(admin.delete(&format!("/v1/bindings/{bid}")).status, 204);
    // Role change ended her session; a fresh login has no admin rights.
    refused(&a2.get("/v1/users"), 401, "auth.invalid_token");
    let a3 = login(&s, "ann");
    refused(&a3.get("/v1/users"), 403, "access.denied");
    let _ = grant;
}

#[test]
fn no_escalation_through_custom_roles_and_admins_are_guarded() {
    let s = server();
    let admin = s.client();
    // A security officer manages users but holds no secret permission: it
    // cannot mint a role that reads secrets, and so cannot grant one.
    let officer = member(&s, "olga", "security-officer", "*");
    let r = officer.post(
        "/v1/roles",
        json!({ "name": "sneaky", "permissions": ["secrets.read"] }),
    );
    refused(&r, 403, "access.escalation");
    let r = officer.post(
        "/v1/roles",
        json!({ "name": "auditor", "permissions": ["audit.read"] }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    // Only an administrator may disable or delete an administrator.
    user(&admin, "ada");
    grant(&admin, "ada", "admin", "*");
    refused(
        &officer.post_empty("/v1/users/ada/disable"),
        403,
        "access.admin_target",
    );
    refused(&officer.delete("/v1/users/ada"), 403, "access.admin_target");
    // Nor by removing the admin's binding first.
    let ada_binding = admin.get("/v1/bindings?user=ada").json["bindings"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &officer.delete(&format!("/v1/bindings/{ada_binding}")),
        403,
        "access.admin_target",
    );
    assert_eq!(admin.post_empty("/v1/users/ada/disable").status, 200);
    let audit = admin.get("/v1/audit?action=role.create").text;
    assert!(audit.contains("access.escalation"), "{audit}");
}

#[test]
fn a_grant_on_a_scope_that_does_not_exist_is_refused() {
    let s = server();
    let admin = s.client();
    admin.setup("payments", "prod");
    user(&admin, "bob");
    // `prd` for `prod`: refused, and nothing waits for `prd` to appear.
    let r = admin.post(
        "/v1/bindings",
        json!({ "user": "bob", "role": "developer", "scope": "payments/prd" }),
    );
    refused(&r, 400, "access.unknown_scope");
    assert!(r.text.contains("payments/prd"), "{r:?}");
    let r = admin.post(
        "/v1/bindings",
        json!({ "user": "bob", "role": "developer", "scope": "paymnts/*" }),
    );
    refused(&r, 400, "access.unknown_scope");
    assert!(
        admin.get("/v1/bindings?user=bob").json["bindings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Patterns, existing scopes, and an explicit allow_future are fine.
    for (scope, future) in [
        ("*/prod", false),
        ("payments/prod", false),
        ("payments/staging", true),
    ] {
        let r = admin.post(
            "/v1/bindings",
            json!({ "user": "bob", "role": "reader", "scope": scope, "allow_future": future }),
        );
        assert_eq!(r.status, 201, "{scope}: {r:?}");
    }
    // The CLI says so too.
    let o = vault_tests::cli::run(
        &s,
        &[
            "access",
            "grant",
            "--user",
            "bob",
            "--role",
            "developer",
            "--scope",
            "payments/prd",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        vault_tests::cli::stderr(&o).contains("allow-future"),
        "{}",
        vault_tests::cli::stderr(&o)
    );
}

#[test]
fn a_refusal_names_what_is_missing() {
    let s = server();
    let admin = s.client();
    admin.setup("payments", "prod");
    let rita = member(&s, "rita", "reader", "payments/prod");
    let r = rita.put(
        "/v1/projects/payments/environments/prod/secrets/K",
        json!({ "value": "x" }),
    );
    refused(&r, 403, "access.denied");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secrets.write on payments/prod"),
        "{r:?}"
    );
    let r = rita.get("/v1/users");
    refused(&r, 403, "access.denied");
    assert!(
        r.text.contains("users.manage (a global permission)"),
        "{r:?}"
    );
    // The same answer whether the target exists or not.
    let a = rita.put(
        "/v1/projects/nope/environments/x/secrets/K",
        json!({ "value": "x" }),
    );
    refused(&a, 403, "access.denied");
    assert!(a.text.contains("secrets.write on nope/x"), "{a:?}");
}
