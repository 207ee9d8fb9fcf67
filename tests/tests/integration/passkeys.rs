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

/// The whole story in Chromium with a virtual authenticator (see
/// `tests/browser/passkeys.mjs`): a role that requires MFA, a passkey added
/// on /ui/account with its recovery codes, passwordless sign-in, password +
/// passkey, step-up before a destroy, a recovery code, `vault login --web`
/// finished by the browser and then `vault run` with that session, the
/// last-passkey rule and the administrators' reset.
#[test]
fn passkeys_in_a_real_browser() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    let secrets = "/v1/projects/payments/environments/prod/secrets";
    for name in ["API_KEY", "OLD_KEY"] {
        let r = root.put(
            &format!("{secrets}/{name}"),
            json!({ "value": "sk_live_1" }),
        );
        assert!(r.status < 300, "{r:?}");
    }
    assert!(root.delete(&format!("{secrets}/OLD_KEY")).status < 300);
    let role = root.post(
        "/v1/roles",
        json!({ "name": "prod-admin", "require_mfa": true,
                "permissions": ["secrets.read", "secrets.list", "secrets.write", "secrets.delete"] }),
    );
    assert_eq!(role.status, 201, "{role:?}");
    user(&root, "alice");
    grant(&root, "alice", "prod-admin", "payments/*");
    // WebAuthn ids are domain names: the dev server's relying party is
    // localhost on its port.
    let port = s.addr.rsplit(':').next().unwrap_or_default();
    let ui = format!("http://localhost:{port}");
    let (out, text) = vault_tests::cli::browser_login(&s, &ui, &["--web"], |url| {
        assert!(url.contains("/ui/login?cli_port="), "{url}");
        vault_tests::run_browser_script(
            "passkeys.mjs",
            &[
                ("VAULT_UI", &ui),
                ("VAULT_USER", "alice"),
                ("VAULT_PW", PW),
                ("VAULT_ROOT", &s.token),
                ("VAULT_SECRET", &format!("{secrets}/API_KEY")),
                (
                    "VAULT_TRASHED",
                    "/v1/projects/payments/environments/prod/trash/OLD_KEY",
                ),
                ("VAULT_CLI_URL", url),
            ],
        );
        String::new()
    });
    assert!(out.status.success(), "{text}");
    assert!(text.contains("logged in as alice"), "{text}");
    // The CLI's session proved the passkey like the browser's did: it
    // holds the role that requires MFA, and `vault run` reads through it.
    let who = vault_tests::cli::as_user(&s, &ui)
        .args(["whoami", "--format", "json"])
        .output()
        .unwrap();
    let who: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(who["second_factor"], "passkey", "{who}");
    let run = vault_tests::cli::as_user(&s, &ui)
        .args(["run", "-p", "payments", "-e", "prod", "--"])
        .args(["sh", "-c", "printf %s \"$API_KEY\""])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "sk_live_1",
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // An administrator's reset ends every session, the CLI's too.
    assert_eq!(
        root.post_empty("/v1/users/alice/passkeys/reset").status,
        200
    );
    let after = vault_tests::cli::as_user(&s, &ui)
        .args(["whoami"])
        .output()
        .unwrap();
    assert!(!after.status.success());
    let trail = root.get("/v1/audit?limit=1000").text;
    for want in [
        "passkey.register",
        "passkey.recovery_codes",
        "passkey.rename",
        "method=passkey",
        "auth.mfa_challenge",
        "method=password mfa=passkey",
        "auth.step_up_required",
        "auth.step_up",
        "mfa=recovery_code",
        "reason=recovery_code_invalid",
        "reason=wrong_challenge",
        "passkey.last_required",
        "auth.cli_code",
        "via=cli_web",
        "user.passkeys_reset",
    ] {
        assert!(trail.contains(want), "{want} not audited");
    }
}
