//! Shared helpers of the identity tests: a dev server with cheap password
//! hashing and the manual test clock, users, bindings, logins.

use serde_json::{Value, json};
use vault_tests::{Client, Options, Resp, Server};

/// A strong enough password for tests (zxcvbn >= 3).
pub const PW: &str = "correct horse battery staple 42";

/// A dev server with `danger_weak_password_hashing` and `danger_test_clock`.
pub fn server() -> Server {
    Server::dev_with(Options {
        env: vec![
            (
                "VAULT_IDENTITY_DANGER_WEAK_PASSWORD_HASHING".into(),
                "true".into(),
            ),
            ("VAULT_IDENTITY_DANGER_TEST_CLOCK".into(), "true".into()),
        ],
        ..Default::default()
    })
}

/// Creates a user with [`PW`].
pub fn user(admin: &Client, name: &str) {
    let r = admin.post("/v1/users", json!({ "username": name, "password": PW }));
    assert_eq!(r.status, 201, "{r:?}");
}

/// Binds `role` on `scope` to `name`.
pub fn grant(admin: &Client, name: &str, role: &str, scope: &str) -> Value {
    let r = admin.post(
        "/v1/bindings",
        json!({ "user": name, "role": role, "scope": scope }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    r.json
}

/// Logs in; the raw response.
pub fn login_resp(s: &Server, name: &str, pw: &str) -> Resp {
    s.anonymous().post(
        "/v1/auth/login",
        json!({ "username": name, "password": pw }),
    )
}

/// Logs in and returns a client holding the session token.
pub fn login(s: &Server, name: &str) -> Client {
    let r = login_resp(s, name, PW);
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.json["token"].as_str().unwrap().to_owned();
    s.anonymous().with_token(Some(&token))
}

/// A user with `role` on `scope`, logged in.
pub fn member(s: &Server, name: &str, role: &str, scope: &str) -> Client {
    let admin = s.client();
    user(&admin, name);
    grant(&admin, name, role, scope);
    login(s, name)
}

/// Moves the server's clock forward.
pub fn advance(s: &Server, secs: i64) {
    let r = s
        .client()
        .post("/v1/sys/danger-test-clock", json!({ "advance_secs": secs }));
    assert_eq!(r.status, 200, "{r:?}");
}

/// Asserts an error status and code.
#[track_caller]
pub fn refused(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{r:?}");
}
