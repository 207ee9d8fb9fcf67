//! Access reviews (HIPAA 164.308(a)(1)(ii)(D), (a)(4)) through the real
//! server and CLI: a snapshot of the bindings in a scope with each one's
//! last use from the audit trail, keep or revoke (revoking takes effect at
//! once), nobody reviews their own binding, closing attests, a review past
//! due is flagged, and everything is audited.

use serde_json::json;

use super::identity_kit::{advance, grant, login, refused, server, user};

#[test]
fn a_review_keeps_or_revokes_each_binding_and_is_attested() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    root.setup("demo", "dev");
    let secret = "/v1/projects/payments/environments/prod/secrets/API_KEY";
    assert!(root.put(secret, json!({ "value": "v1" })).status < 300);
    for (u, role, scope) in [
        ("rita", "security-officer", "*"),
        ("alice", "reader", "payments/*"),
        ("bob", "developer", "payments/prod"),
        ("carl", "reader", "demo/dev"),
    ] {
        user(&root, u);
        grant(&root, u, role, scope);
    }
    let alice = login(&s, "alice");
    assert_eq!(alice.get(secret).status, 200);
    let bob = login(&s, "bob");
    let rita = login(&s, "rita");

    // Nothing reviewed yet: a review is due.
    let list = rita.get("/v1/access/reviews");
    assert_eq!(list.json["overdue"], true, "{list:?}");
    assert_eq!(list.json["cadence_days"], 90);

    let r = rita.post(
        "/v1/access/reviews",
        json!({ "scope": "payments/*", "due_secs": 14 * 86_400 }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().unwrap().to_owned();
    let items = r.json["items"].as_array().unwrap().clone();
    let users: Vec<&str> = items.iter().map(|i| i["user"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        ["alice", "bob"],
        "only bindings within payments/*: {r:?}"
    );
    let item = |u: &str| items.iter().find(|i| i["user"] == u).unwrap().clone();
    assert!(
        item("alice")["last_used_at"].is_number(),
        "alice read: {r:?}"
    );
    assert!(
        item("bob")["last_used_at"].is_null(),
        "bob never used it: {r:?}"
    );
    assert_eq!(item("bob")["source"], "manual");
    let bid = |u: &str| item(u)["binding_id"].as_str().unwrap().to_owned();

    let decide = |b: &str, d: &str| {
        rita.post(
            &format!("/v1/access/reviews/{id}/bindings/{b}"),
            json!({ "decision": d, "note": "quarterly review" }),
        )
    };
    refused(
        &rita.post(&format!("/v1/access/reviews/{id}/close"), json!({})),
        409,
        "review.incomplete",
    );
    let kept = decide(&bid("alice"), "keep");
    assert_eq!(kept.json["decision"], "keep", "{kept:?}");
    assert_eq!(kept.json["decided_by"], "user:rita");
    let revoked = decide(&bid("bob"), "revoke");
    assert_eq!(revoked.status, 200, "{revoked:?}");
    // At once: the binding is gone and bob's session ended.
    refused(&bob.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    let left = root.get("/v1/bindings?user=bob");
    assert!(
        left.json["bindings"].as_array().unwrap().is_empty(),
        "{left:?}"
    );
    refused(&decide(&bid("alice"), "revoke"), 409, "review.decided");
    refused(&decide("b_nope", "keep"), 404, "review.binding_not_found");
    refused(
        &decide(&bid("alice"), "maybe"),
        400,
        "review.invalid_decision",
    );

    let closed = rita.post(
        &format!("/v1/access/reviews/{id}/close"),
        json!({ "attestation": "reviewed with the payments lead" }),
    );
    assert_eq!(closed.status, 200, "{closed:?}");
    assert_eq!(closed.json["closed_by"], "user:rita");
    assert_eq!(closed.json["decided"], 2);
    refused(&decide(&bid("alice"), "keep"), 409, "review.closed");

    // A review that includes the reviewer's own binding: another reviewer
    // must decide it.
    let all = rita.post("/v1/access/reviews", json!({ "due_secs": 3600 }));
    let all_id = all.json["id"].as_str().unwrap().to_owned();
    let own = all.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["user"] == "rita")
        .unwrap()["binding_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &rita.post(
            &format!("/v1/access/reviews/{all_id}/bindings/{own}"),
            json!({ "decision": "keep" }),
        ),
        403,
        "review.own_binding",
    );
    // Done this quarter, but the second review is now past due.
    let list = rita.get("/v1/access/reviews");
    assert!(list.json["last_completed_at"].is_number());
    assert_eq!(list.json["overdue"], false, "{list:?}");
    advance(&s, 3601);
    let rita = login(&s, "rita");
    let list = rita.get("/v1/access/reviews");
    assert_eq!(list.json["overdue"], true, "{list:?}");
    assert_eq!(list.json["reviews"][0]["overdue"], true, "{list:?}");

    // The CLI shows the same.
    let out = vault_tests::cli::vault(&s)
        .args(["access", "review", "show", &id])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("closed") && text.contains("revoke") && text.contains("never"),
        "{text}"
    );

    let trail = root.get("/v1/audit?limit=1000").text;
    for want in [
        "access_review.start",
        "decision=keep",
        "decision=revoke",
        "access_review.close",
        "review.own_binding",
    ] {
        assert!(trail.contains(want), "{want} not audited");
    }
}
