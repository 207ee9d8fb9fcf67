//! Service tokens: scoped, expiring, shown once, stored as a hash,
//! revocable, optionally bound to source networks, last use recorded.

use serde_json::json;

use super::identity_kit::{advance, member, refused, server};

#[test]
fn service_token_scope_expiry_network_and_revocation() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.setup("demo", "prod");
    admin.write("demo", "dev", "K", "dev-v");
    admin.write("demo", "prod", "K", "prod-v");
    let dev = member(&s, "dora", "developer", "demo/*");
    let r = dev.post(
        "/v1/tokens",
        json!({ "name": "ci", "scopes": ["demo/dev"], "actions": ["read", "list"], "ttl_secs": 3600 }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let token = r.json["token"].as_str().unwrap().to_owned();
    let id = r.json["service_token"]["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&id));
    let ci = s.anonymous().with_token(Some(&token));
    assert_eq!(ci.read("demo", "dev", "K").json["value"], "dev-v");
    assert_eq!(
        ci.get("/v1/projects/demo/environments/dev/bundle").status,
        200
    );
    // Outside its scope or actions.
    refused(&ci.read("demo", "prod", "K"), 403, "access.denied");
    refused(
        &ci.put(
            "/v1/projects/demo/environments/dev/secrets/K",
            json!({ "value": "x" }),
        ),
        403,
        "access.denied",
    );
    refused(&ci.get("/v1/users"), 403, "access.denied");
    refused(
        &ci.post(
            "/v1/tokens",
            json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
        ),
        403,
        "access.denied",
    );
    // Listed (never with its secret), with its last use.
    let list = dev.get("/v1/tokens");
    assert!(!list.text.contains(&token[25..]), "{list:?}");
    assert!(
        list.json["tokens"][0]["last_used_at"].is_number(),
        "{list:?}"
    );
    // Expiry.
    advance(&s, 3601);
    refused(&ci.read("demo", "dev", "K"), 401, "auth.token_expired");
    let dev = super::identity_kit::login(&s, "dora");

    // Limits on creation.
    for (body, code) in [
        (
            json!({ "scopes": ["demo/dev"], "actions": ["read"], "ttl_secs": 366 * 86400 }),
            "token.invalid_ttl",
        ),
        (
            json!({ "scopes": [], "actions": ["read"] }),
            "token.invalid_scope",
        ),
        (
            json!({ "scopes": ["demo/../prod"], "actions": ["read"] }),
            "access.invalid_scope",
        ),
        (
            json!({ "scopes": ["demo/dev"], "actions": ["fly"] }),
            "token.invalid_action",
        ),
        (
            json!({ "scopes": ["demo/dev"], "actions": ["read"], "networks": ["10.0.0.1/8"] }),
            "token.invalid_network",
        ),
    ] {
        refused(&dev.post("/v1/tokens", body), 400, code);
    }
    // Default expiry is 30 days.
    let r = dev.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
    );
    let (c, e) = (
        r.json["service_token"]["created_at"].as_i64().unwrap(),
        r.json["service_token"]["expires_at"].as_i64().unwrap(),
    );
    assert_eq!(e - c, 30 * 86_400 * 1000);
    let t2 = s.anonymous().with_token(r.json["token"].as_str());
    assert_eq!(t2.read("demo", "dev", "K").status, 200);
    // Revocation takes effect on the next request.
    let id2 = r.json["service_token"]["id"].as_str().unwrap();
    assert_eq!(dev.delete(&format!("/v1/tokens/{id2}")).status, 204);
    refused(&t2.read("demo", "dev", "K"), 401, "auth.invalid_token");

    // Source networks: loopback allowed, elsewhere refused.
    let here = admin.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"], "networks": ["127.0.0.0/8"] }),
    );
    let there = admin.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"], "networks": ["10.0.0.0/8"] }),
    );
    let here = s.anonymous().with_token(here.json["token"].as_str());
    let there = s.anonymous().with_token(there.json["token"].as_str());
    assert_eq!(here.read("demo", "dev", "K").status, 200);
    refused(
        &there.read("demo", "dev", "K"),
        403,
        "auth.network_not_allowed",
    );

    let audit = admin.get("/v1/audit?action=token.*").text;
    assert!(audit.contains("token.create") && audit.contains("token.revoke"));
    assert!(!audit.contains(&token[25..]));
}

#[test]
fn a_token_never_outlives_its_creators_rights() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.write("demo", "dev", "K", "v");
    let dev = member(&s, "dora", "developer", "demo/dev");
    let r = dev.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read", "write"] }),
    );
    let ci = s.anonymous().with_token(r.json["token"].as_str());
    assert_eq!(ci.read("demo", "dev", "K").status, 200);
    // Her role shrinks to reader: the token loses write, keeps read.
    let bid = admin.get("/v1/bindings?user=dora").json["bindings"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(admin.delete(&format!("/v1/bindings/{bid}")).status, 204);
    refused(&ci.read("demo", "dev", "K"), 403, "access.denied");
    super::identity_kit::grant(&admin, "dora", "reader", "demo/dev");
    assert_eq!(ci.read("demo", "dev", "K").status, 200);
    refused(
        &ci.put(
            "/v1/projects/demo/environments/dev/secrets/K",
            json!({ "value": "x" }),
        ),
        403,
        "access.denied",
    );
    // Disabled creator: the token stops.
    assert_eq!(admin.post_empty("/v1/users/dora/disable").status, 200);
    refused(&ci.read("demo", "dev", "K"), 401, "auth.invalid_token");
}
