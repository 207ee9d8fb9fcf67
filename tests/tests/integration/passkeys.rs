//! Passkeys: the API's own rules without an authenticator (who may
//! register, whose ceremony it is), and the ceremonies themselves in a real
//! browser (Chromium with a CDP virtual authenticator, `tests/browser/
//! passkeys.mjs`): webauthn-authenticator-rs's SoftPasskey cannot make
//! discoverable credentials, which are what a passkey login needs.

use serde_json::json;

use super::identity_kit::{PW, advance, grant, login, server, user};

#[test]
fn only_a_signed_in_user_registers_and_a_ceremony_is_its_owners() {
    let s = server();
    let admin = s.client();
    // A root or service token has no user to attach a passkey to.
    let r = admin.post("/v1/auth/passkeys/register/start", json!({ "name": "x" }));
    assert_eq!(r.code(), "auth.not_a_session", "{r:?}");
    let anon = s
        .anonymous()
        .post("/v1/auth/passkeys/register/start", json!({ "name": "x" }));
    assert_eq!(anon.status, 401, "{anon:?}");

    user(&admin, "alice");
    user(&admin, "bob");
    let (alice, bob) = (login(&s, "alice"), login(&s, "bob"));
    let start = alice.post("/v1/auth/passkeys/register/start", json!({ "name": "a" }));
    assert_eq!(start.status, 200, "{start:?}");
    assert_eq!(
        start.json["options"]["publicKey"]["authenticatorSelection"]["residentKey"], "required",
        "a passkey must be discoverable: {start:?}"
    );
    // Bob cannot finish Alice's registration, and trying spends it.
    let stolen = bob.post(
        "/v1/auth/passkeys/register/finish",
        json!({ "ceremony_id": start.json["ceremony_id"], "credential": {} }),
    );
    assert_eq!(stolen.code(), "passkey.ceremony_invalid", "{stolen:?}");
    let late = alice.post(
        "/v1/auth/passkeys/register/finish",
        json!({ "ceremony_id": start.json["ceremony_id"], "credential": {} }),
    );
    assert_eq!(late.code(), "passkey.ceremony_invalid", "{late:?}");
    // A ceremony lives 5 minutes.
    let old = alice.post("/v1/auth/passkeys/register/start", json!({ "name": "a" }));
    advance(&s, 301);
    let alice = login(&s, "alice");
    let expired = alice.post(
        "/v1/auth/passkeys/register/finish",
        json!({ "ceremony_id": old.json["ceremony_id"], "credential": {} }),
    );
    assert_eq!(expired.code(), "passkey.ceremony_invalid", "{expired:?}");
    let bad_name = alice.post("/v1/auth/passkeys/register/start", json!({ "name": " " }));
    assert_eq!(bad_name.code(), "passkey.invalid_name", "{bad_name:?}");
    // A sign-in ceremony that does not exist.
    let none = s.anonymous().post(
        "/v1/auth/passkeys/login/finish",
        json!({ "ceremony_id": "nope", "credential": {} }),
    );
    assert_eq!(none.code(), "passkey.ceremony_invalid", "{none:?}");
}

/// Register, list, sign in without a password, a replayed answer refused,
/// a deleted passkey refused: in Chromium with a virtual authenticator.
#[test]
fn passkeys_in_a_real_browser() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    user(&root, "alice");
    grant(&root, "alice", "reader", "payments/*");
    // WebAuthn ids are domain names: the dev server's relying party is
    // localhost on its port.
    let port = s.addr.rsplit(':').next().unwrap_or_default();
    let ui = format!("http://localhost:{port}");
    vault_tests::run_browser_script(
        "passkeys.mjs",
        &[("VAULT_UI", &ui), ("VAULT_USER", "alice"), ("VAULT_PW", PW)],
    );
    // Audited: registered, signed in with it, the refusals with reasons.
    let trail = root.get("/v1/audit?limit=1000").text;
    for want in [
        "passkey.register",
        "method=passkey",
        "reason=wrong_challenge",
        "reason=unknown_credential",
        "passkey.delete",
    ] {
        assert!(trail.contains(want), "{want} not audited");
    }
}
