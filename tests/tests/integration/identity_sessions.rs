//! Sessions: every request checks the database, so revocation, disabling,
//! password and role changes take effect on the very next request; idle and
//! absolute timeouts run on the server's (test) clock.

use serde_json::json;

use super::identity_kit::{PW, advance, login, login_resp, member, refused, server, user};

#[test]
fn revocation_refuses_the_very_next_request() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    admin.write("demo", "dev", "K", "v");
    let a1 = member(&s, "alice", "reader", "demo/dev");
    let a2 = login(&s, "alice");
    assert_eq!(a1.read("demo", "dev", "K").status, 200);
    assert_eq!(a2.read("demo", "dev", "K").status, 200);

    // Her own list shows both, marks the current one.
    let list = a1.get("/v1/sessions");
    let sessions = list.json["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{list:?}");
    assert_eq!(sessions.iter().filter(|x| x["current"] == true).count(), 1);
    assert!(!list.text.contains("\"token\""), "{list:?}");

    // Admin revokes all of alice's sessions: the next request of each fails.
    let r = admin.post("/v1/sessions/revoke", json!({ "user": "alice" }));
    assert_eq!(r.json["revoked"], 2, "{r:?}");
    refused(&a1.read("demo", "dev", "K"), 401, "auth.invalid_token");
    refused(&a2.get("/v1/auth/whoami"), 401, "auth.invalid_token");

    // One session by id; a user may revoke their own, not someone else's.
    let b = member(&s, "bob", "reader", "demo/dev");
    let a3 = login(&s, "alice");
    let bob_sid = b.get("/v1/auth/whoami").json["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &a3.delete(&format!("/v1/sessions/{bob_sid}")),
        403,
        "access.denied",
    );
    assert_eq!(b.get("/v1/auth/whoami").status, 200);
    assert_eq!(admin.delete(&format!("/v1/sessions/{bob_sid}")).status, 204);
    refused(&b.get("/v1/auth/whoami"), 401, "auth.invalid_token");

    // Logout revokes on the server.
    assert_eq!(a3.post_empty("/v1/auth/logout").status, 204);
    refused(&a3.get("/v1/auth/whoami"), 401, "auth.invalid_token");

    // Everyone's sessions.
    let c1 = login(&s, "alice");
    let c2 = login(&s, "bob");
    let r = admin.post("/v1/sessions/revoke", json!({ "all": true }));
    assert_eq!(r.status, 200);
    refused(&c1.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(&c2.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    // The root token is not a session: it keeps working.
    assert_eq!(admin.get("/v1/auth/whoami").json["kind"], "root");

    let audit = admin.get("/v1/audit?action=session.*").text;
    assert!(audit.contains("session.revoke_all"), "{audit}");
    assert!(audit.contains("\"session.revoke\""), "{audit}");
}

#[test]
fn disable_password_change_and_role_change_end_sessions() {
    let s = server();
    let admin = s.client();
    admin.setup("demo", "dev");
    let a = member(&s, "alice", "reader", "demo/dev");
    assert_eq!(admin.post_empty("/v1/users/alice/disable").status, 200);
    refused(&a.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(
        &login_resp(&s, "alice", PW),
        401,
        "auth.invalid_credentials",
    );
    assert_eq!(admin.post_empty("/v1/users/alice/enable").status, 200);
    let a = login(&s, "alice");
    let other = login(&s, "alice");

    let weak = a.post(
        "/v1/auth/password",
        json!({ "current_password": PW, "new_password": "password1234" }),
    );
    refused(&weak, 400, "password.too_weak");
    let wrong = a.post(
        "/v1/auth/password",
        json!({ "current_password": "not my password at all", "new_password": "a brand new long passphrase 7" }),
    );
    refused(&wrong, 401, "auth.invalid_credentials");
    let ok = a.post(
        "/v1/auth/password",
        json!({ "current_password": PW, "new_password": "a brand new long passphrase 7" }),
    );
    assert_eq!(ok.status, 204, "{ok:?}");
    refused(&a.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(&other.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    refused(
        &login_resp(&s, "alice", PW),
        401,
        "auth.invalid_credentials",
    );
    let a = {
        let r = login_resp(&s, "alice", "a brand new long passphrase 7");
        assert_eq!(r.status, 200, "{r:?}");
        s.anonymous().with_token(r.json["token"].as_str())
    };
    // A role change ends the session too.
    let r = admin.post(
        "/v1/bindings",
        json!({ "user": "alice", "role": "developer", "scope": "demo/dev" }),
    );
    assert_eq!(r.status, 201);
    refused(&a.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    // No password, hash or token in the audit trail.
    let audit = admin.get("/v1/audit?limit=1000").text;
    for needle in [PW, "a brand new long passphrase", "$argon2"] {
        assert!(!audit.contains(needle), "audit leaks {needle}");
    }
}

#[test]
fn idle_and_absolute_timeouts() {
    let s = server();
    let admin = s.client();
    user(&admin, "alice");
    // Idle: 30 minutes without an authenticated request ends it.
    let a = login(&s, "alice");
    advance(&s, 29 * 60);
    assert_eq!(a.get("/v1/auth/whoami").status, 200);
    // That request extended the idle timer.
    advance(&s, 29 * 60);
    assert_eq!(a.get("/v1/auth/whoami").status, 200);
    // Unauthenticated traffic does not extend anything.
    advance(&s, 20 * 60);
    let _ = s.anonymous().get("/v1/auth/whoami");
    advance(&s, 11 * 60);
    refused(&a.get("/v1/auth/whoami"), 401, "auth.session_expired");

    // Absolute: 8 hours after login, however active.
    let b = login(&s, "alice");
    for _ in 0..16 {
        advance(&s, 29 * 60);
        assert_eq!(b.get("/v1/auth/whoami").status, 200);
    }
    advance(&s, 29 * 60);
    refused(&b.get("/v1/auth/whoami"), 401, "auth.session_expired");

    // Per-role lifetimes: a custom role with a 5-minute idle timeout.
    let r = admin.post(
        "/v1/roles",
        json!({ "name": "short-lived", "permissions": ["secrets.list"], "session_idle_secs": 300 }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    admin.post(
        "/v1/bindings",
        json!({ "user": "alice", "role": "short-lived", "scope": "*/dev" }),
    );
    let c = login(&s, "alice");
    advance(&s, 301);
    refused(&c.get("/v1/auth/whoami"), 401, "auth.session_expired");
}

#[test]
fn test_clock_is_admin_and_dev_only() {
    let s = server();
    let a = member(&s, "alice", "developer", "*");
    refused(
        &a.post("/v1/sys/danger-test-clock", json!({ "advance_secs": 1 })),
        403,
        "access.denied",
    );
    // A dev server without the test clock answers 404.
    let plain = vault_tests::Server::dev();
    refused(
        &plain
            .client()
            .post("/v1/sys/danger-test-clock", json!({ "advance_secs": 1 })),
        404,
        "dev.test_clock_disabled",
    );
}
