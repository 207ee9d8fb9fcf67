//! Emergency (break-glass) access and offboarding.

use serde_json::json;

use super::identity_kit::{advance, login, member, refused, server};

#[test]
fn emergency_grant_is_critical_visible_and_ends_by_itself() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "prod");
    admin.write("demo", "prod", "K", "prod-v");
    let doc = member(&s, "drew", "break-glass", "*");
    let officer = member(&s, "olga", "security-officer", "*");
    refused(&doc.read("demo", "prod", "K"), 403, "access.denied");
    refused(
        &doc.post("/v1/emergency", json!({ "reason": "short" })),
        400,
        "emergency.invalid_reason",
    );
    // Without the right, nobody can open one.
    let reader = member(&s, "rita", "reader", "demo/prod");
    refused(
        &reader.post(
            "/v1/emergency",
            json!({ "reason": "patient in ER needs record" }),
        ),
        403,
        "access.denied",
    );
    let r = doc.post(
        "/v1/emergency",
        json!({ "reason": "patient in ER, on-call DBA unreachable" }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.json["expires_at"].as_i64().unwrap() - r.json["created_at"].as_i64().unwrap(),
        3600 * 1000
    );
    assert_eq!(doc.read("demo", "prod", "K").json["value"], "prod-v");
    // Still no write, and no token minted from the emergency grant.
    refused(
        &doc.put(
            "/v1/projects/demo/environments/prod/secrets/K",
            json!({ "value": "x" }),
        ),
        403,
        "access.denied",
    );
    refused(
        &doc.post(
            "/v1/tokens",
            json!({ "scopes": ["demo/prod"], "actions": ["read"] }),
        ),
        403,
        "access.escalation",
    );
    // Visible to security officers, with the reason; critical in the audit.
    let list = officer.get("/v1/emergency");
    assert_eq!(list.json["grants"][0]["active"], true, "{list:?}");
    assert_eq!(list.json["grants"][0]["user"], "drew");
    refused(&doc.get("/v1/emergency"), 403, "access.denied");
    let audit = officer.get("/v1/audit?action=emergency.open").text;
    assert!(audit.contains("severity=critical"), "{audit}");
    assert!(audit.contains("on-call DBA unreachable"), "{audit}");
    // Ends by itself (keep the session alive across the hour).
    advance(&s, 1799);
    assert_eq!(doc.read("demo", "prod", "K").status, 200);
    advance(&s, 1799);
    assert_eq!(doc.read("demo", "prod", "K").status, 200);
    advance(&s, 2);
    refused(&doc.read("demo", "prod", "K"), 403, "access.denied");
    let officer = login(&s, "olga");
    assert_eq!(
        officer.get("/v1/emergency").json["grants"][0]["active"],
        false
    );
}

#[test]
fn offboarding_revokes_everything_and_lists_what_was_read() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.setup("demo", "prod");
    admin.write("demo", "dev", "A", "1");
    admin.write("demo", "dev", "B", "2");
    admin.write("demo", "prod", "C", "3");
    let since = admin.get("/v1/auth/whoami");
    assert_eq!(since.status, 200);
    let alice = member(&s, "alice", "developer", "demo/*");
    let other = login(&s, "alice");
    assert_eq!(alice.read("demo", "dev", "A").status, 200);
    assert_eq!(alice.read("demo", "dev", "A").status, 200);
    assert_eq!(alice.read("demo", "prod", "C").status, 200);
    let t = alice.post(
        "/v1/tokens",
        json!({ "scopes": ["demo/dev"], "actions": ["read"] }),
    );
    let ci = s.anonymous().with_token(t.json["token"].as_str());
    assert_eq!(
        ci.get("/v1/projects/demo/environments/dev/bundle").status,
        200
    );
    // Not counted: a refused read, and someone else's read.
    admin.write("demo", "dev", "Z", "z");
    let r = admin.post("/v1/users/alice/offboard", json!({ "since": 0 }));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["user"]["disabled"], true);
    assert_eq!(r.json["sessions_revoked"], 2);
    assert_eq!(r.json["tokens_revoked"], 1);
    let read: Vec<(String, u64)> = r.json["secrets_read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["resource"].as_str().unwrap().to_owned(),
                i["reads"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("demo/dev".to_owned(), 1),
            ("demo/dev/A".to_owned(), 2),
            ("demo/prod/C".to_owned(), 1)
        ],
        "{r:?}"
    );
    refused(&alice.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(&other.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(&ci.read("demo", "dev", "A"), 401, "auth.invalid_token");
    let audit = admin.get("/v1/audit?action=user.offboard*").text;
    assert!(audit.contains("tokens_revoked=1"), "{audit}");
}

#[test]
fn a_grant_ends_early_and_marks_what_was_done_under_it() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "prod");
    admin.write("demo", "prod", "K", "prod-v");
    let doc = member(&s, "drew", "break-glass", "*");
    let other = member(&s, "ella", "break-glass", "*");
    let g = doc.post(
        "/v1/emergency",
        json!({ "reason": "patient in ER, on-call DBA unreachable" }),
    );
    assert_eq!(g.status, 201, "{g:?}");
    let id = g.json["id"].as_str().unwrap().to_owned();
    let read = doc.read("demo", "prod", "K");
    assert_eq!(read.json["value"], "prod-v");
    // Only its holder or an administrator may end it.
    refused(
        &other.delete(&format!("/v1/emergency/{id}")),
        403,
        "access.denied",
    );
    assert_eq!(doc.delete(&format!("/v1/emergency/{id}")).status, 204);
    refused(&doc.read("demo", "prod", "K"), 403, "access.denied");
    refused(
        &doc.delete(&format!("/v1/emergency/{id}")),
        409,
        "emergency.not_active",
    );
    let recs = admin.get("/v1/audit?limit=1000").json["records"]
        .as_array()
        .unwrap()
        .clone();
    let of = |rid: &Option<String>| {
        recs.iter()
            .find(|r| r["request_id"].as_str() == rid.as_deref())
            .unwrap()
            .clone()
    };
    let r = of(&read.request_id);
    assert_eq!(r["action"], "secret.read");
    assert!(
        r["detail"]
            .as_str()
            .unwrap_or("")
            .contains("under emergency access"),
        "{r}"
    );
    assert!(recs.iter().any(|r| r["action"] == "emergency.end"));
    // A second grant, ended by an administrator.
    let g2 = doc.post(
        "/v1/emergency",
        json!({ "reason": "second incident, still no DBA on call" }),
    );
    let id2 = g2.json["id"].as_str().unwrap();
    assert_eq!(admin.delete(&format!("/v1/emergency/{id2}")).status, 204);
}
