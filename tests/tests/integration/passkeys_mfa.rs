//! Passkeys as a second factor, through the real server over HTTP with
//! webauthn-authenticator-rs's in-process `SoftPasskey` (RECIPES.md 4): it
//! makes non-discoverable credentials only, so its registrations ask for
//! no resident key (the server does not check that part of the answer; the
//! browser test covers discoverable sign-in). Everything after the
//! registration is a real ceremony: the second factor after a password,
//! replay, wrong origin and RP id, a counter that goes backwards, another
//! user's credential, a raced answer, roles that require MFA, step-up,
//! recovery codes, the last-passkey rule and the administrators' reset.

use std::sync::{Arc, Barrier};

use serde_json::{Value, json};
use vault_tests::{Client, Server};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::identity_kit::{PW, advance, grant, login, login_resp, refused, server, user};

/// The relying party's origin: the dev server's port on `localhost`.
pub(super) fn origin(s: &Server) -> Url {
    let port = s.addr.rsplit(':').next().unwrap_or_default();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

/// Registers a passkey for the session `c` with `key`; the answer.
pub(super) fn register(s: &Server, c: &Client, key: &mut SoftPasskey, name: &str) -> Value {
    let start = c.post("/v1/auth/passkeys/register/start", json!({ "name": name }));
    assert_eq!(start.status, 200, "{start:?}");
    let mut options = start.json["options"].clone();
    // SoftPasskey cannot make a discoverable credential (see above).
    let sel = &mut options["publicKey"]["authenticatorSelection"];
    sel["residentKey"] = json!("discouraged");
    sel["requireResidentKey"] = json!(false);
    let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let cred = key.do_registration(origin(s), ccr).expect("registration");
    let done = c.post(
        "/v1/auth/passkeys/register/finish",
        json!({ "ceremony_id": start.json["ceremony_id"], "credential": cred }),
    );
    assert_eq!(done.status, 201, "{done:?}");
    done.json
}

/// A password login that must ask for the second factor: its challenge.
pub(super) fn challenge(s: &Server, name: &str) -> (String, RequestChallengeResponse) {
    let r = login_resp(s, name, PW);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["mfa_required"], true, "{r:?}");
    assert!(r.json.get("token").is_none(), "no session yet: {r:?}");
    let id = r.json["ceremony_id"].as_str().unwrap().to_owned();
    (
        id,
        serde_json::from_value(r.json["options"].clone()).unwrap(),
    )
}

pub(super) fn answer(s: &Server, key: &mut SoftPasskey, rcr: RequestChallengeResponse) -> Value {
    json!(key.do_authentication(origin(s), rcr).expect("assertion"))
}

pub(super) fn finish(s: &Server, ceremony: &str, credential: &Value) -> vault_tests::Resp {
    s.anonymous().post(
        "/v1/auth/passkeys/login/finish",
        json!({ "ceremony_id": ceremony, "credential": credential }),
    )
}

pub(super) fn session(s: &Server, r: &vault_tests::Resp) -> Client {
    assert_eq!(r.status, 200, "{r:?}");
    s.anonymous().with_token(r.json["token"].as_str())
}

/// Password + passkey; a session that holds a role requiring MFA, which a
/// password-only session does not; replay, counter regression, wrong
/// origin and RP id, another user's credential, a raced answer.
#[test]
fn a_passkey_is_the_second_factor_and_its_answers_are_checked() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    let put = root.put(
        "/v1/projects/payments/environments/prod/secrets/API_KEY",
        json!({ "value": "sk_live_1" }),
    );
    assert!(put.status < 300, "{put:?}");
    let role = root.post(
        "/v1/roles",
        json!({ "name": "prod-reader", "permissions": ["secrets.read", "secrets.list"],
                "require_mfa": true }),
    );
    assert_eq!(role.status, 201, "{role:?}");
    assert_eq!(role.json["require_mfa"], true);
    user(&root, "alice");
    user(&root, "bob");
    grant(&root, "alice", "prod-reader", "payments/*");
    let read = "/v1/projects/payments/environments/prod/secrets/API_KEY";

    // Before any passkey: the password gives a session, without the role.
    let pw_only = login(&s, "alice");
    let who = pw_only.get("/v1/auth/whoami");
    assert_eq!(who.json["withheld"][0]["role"], "prod-reader", "{who:?}");
    assert!(who.json["grants"].as_array().unwrap().is_empty(), "{who:?}");
    refused(&pw_only.get(read), 403, "access.denied");

    let mut key = SoftPasskey::new(true);
    let reg = register(&s, &pw_only, &mut key, "laptop");
    let codes = reg["recovery_codes"].as_array().expect("first time: codes");
    assert_eq!(codes.len(), 10, "{reg:?}");
    // The second registration brings no new codes.
    let mut spare = SoftPasskey::new(true);
    let second = register(&s, &pw_only, &mut spare, "spare");
    assert!(second.get("recovery_codes").is_none(), "{second:?}");

    // Now a password alone gives no session: a challenge for the passkey.
    let (c1, o1) = challenge(&s, "alice");
    let a1 = answer(&s, &mut key, o1);
    let (c2, o2) = challenge(&s, "alice");
    let a2 = answer(&s, &mut key, o2);
    let alice = session(&s, &finish(&s, &c2, &a2));
    let who = alice.get("/v1/auth/whoami");
    assert_eq!(who.json["second_factor"], "passkey", "{who:?}");
    assert_eq!(who.json["login_method"], "password", "{who:?}");
    assert_eq!(alice.get(read).json["value"], "sk_live_1");
    // The older answer (counter 1 after 2): a cloned authenticator.
    let back = finish(&s, &c1, &a1);
    refused(&back, 401, "passkey.refused");
    assert!(
        back.text.contains("possible_cloned_authenticator"),
        "{back:?}"
    );
    // A replay: the ceremony is gone.
    refused(&finish(&s, &c2, &a2), 400, "passkey.ceremony_invalid");
    // An answer for one ceremony does not fit another (its challenge).
    let (c3, _) = challenge(&s, "alice");
    let (_, o4) = challenge(&s, "alice");
    let a4 = answer(&s, &mut key, o4);
    let wrong = finish(&s, &c3, &a4);
    assert!(wrong.text.contains("wrong_challenge"), "{wrong:?}");

    // A phishing site's origin.
    let (c5, o5) = challenge(&s, "alice");
    let evil = key
        .perform_auth(
            Url::parse("http://evil.localhost:1").unwrap(),
            o5.public_key,
            10_000,
        )
        .unwrap();
    let r = finish(&s, &c5, &json!(evil));
    assert!(r.text.contains("wrong_origin"), "{r:?}");
    // Three failed answers: the account waits, like after three wrong
    // passwords (the server's clock stands still), even with the right
    // password; the passwords given in between did not reset the count.
    refused(&login_resp(&s, "alice", PW), 429, "auth.throttled");
    advance(&s, 3601);
    let (c6, o6) = challenge(&s, "alice");
    let mut pk = o6.public_key;
    pk.rp_id = "evil.example".into();
    let other_rp = key.perform_auth(origin(&s), pk, 10_000).unwrap();
    let r = finish(&s, &c6, &json!(other_rp));
    assert!(r.text.contains("wrong_rp_id"), "{r:?}");

    // A deleted passkey: its answer (made while it was registered) finds
    // nothing.
    let (cd, od) = challenge(&s, "alice");
    let ad = answer(&s, &mut spare, od);
    let fresh = session(&s, &{
        let (c, o) = challenge(&s, "alice");
        let a = answer(&s, &mut key, o);
        finish(&s, &c, &a)
    });
    let spare_id = fresh.get("/v1/auth/passkeys").json["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "spare")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        fresh
            .delete(&format!("/v1/auth/passkeys/{spare_id}"))
            .status,
        204
    );
    let gone = finish(&s, &cd, &ad);
    refused(&gone, 401, "passkey.refused");
    assert!(gone.text.contains("not registered here"), "{gone:?}");

    // Bob's passkey answering Alice's challenge.
    let bob_pw = login(&s, "bob");
    let mut bobs = SoftPasskey::new(true);
    register(&s, &bob_pw, &mut bobs, "bob's");
    let (_, ob) = challenge(&s, "bob");
    let ab = answer(&s, &mut bobs, ob);
    let (ca, _) = challenge(&s, "alice");
    let r = finish(&s, &ca, &ab);
    refused(&r, 401, "passkey.refused");
    assert!(
        r.text.contains("not registered here for this account"),
        "{r:?}"
    );

    // One answer raced from 8 threads: one session.
    let (cr, or) = challenge(&s, "alice");
    let ar = answer(&s, &mut key, or);
    let gate = Arc::new(Barrier::new(8));
    let wins = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (gate, ar, cr, s) = (gate.clone(), ar.clone(), cr.clone(), &s);
                sc.spawn(move || {
                    gate.wait();
                    finish(s, &cr, &ar).status
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|st| *st == 200)
            .count()
    });
    assert_eq!(wins, 1, "one answer, one session");

    // Audited, with reasons.
    let trail = root.get("/v1/audit?limit=1000").text;
    for want in [
        "auth.mfa_challenge",
        "method=password mfa=passkey",
        "reason=possible_cloned_authenticator",
        "reason=wrong_origin",
        "reason=wrong_rp_id",
        "reason=unknown_credential",
        "passkey.recovery_codes",
    ] {
        assert!(trail.contains(want), "{want} not audited");
    }
    for code in codes {
        assert!(
            !trail.contains(code.as_str().unwrap()),
            "a recovery code in the trail"
        );
    }
}

/// Step-up before dangerous actions, recovery codes, the last passkey of
/// someone whose role requires one, and the administrators' reset.
#[test]
fn step_up_recovery_codes_and_reset() {
    let s = server();
    let root = s.client();
    user(&root, "ops");
    grant(&root, "ops", "admin", "*");
    let pw = login(&s, "ops");
    let mut key = SoftPasskey::new(true);
    let reg = register(&s, &pw, &mut key, "laptop");
    let codes: Vec<String> = reg["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // The CLI's password login says a passkey is needed, and how.
    let mut cli = vault_tests::cli::as_user(&s, &s.addr);
    cli.args(["login", "--username", "ops", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cli.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), PW.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("has a passkey") && err.contains("vault login --web"),
        "{err}"
    );
    let (c, o) = challenge(&s, "ops");
    let a = answer(&s, &mut key, o);
    let ops = session(&s, &finish(&s, &c, &a));
    // Within identity.step_up_secs of the passkey: allowed.
    let r = ops.post(
        "/v1/roles",
        json!({ "name": "r1", "permissions": ["secrets.list"] }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    advance(&s, 301);
    let r = ops.post(
        "/v1/roles",
        json!({ "name": "r2", "permissions": ["secrets.list"] }),
    );
    refused(&r, 401, "auth.step_up_required");
    // Not dangerous: still fine.
    assert_eq!(ops.get("/v1/roles").status, 200);
    // Step up with the passkey, then it goes through.
    let st = ops.post("/v1/auth/passkeys/step-up/start", json!({}));
    assert_eq!(st.status, 200, "{st:?}");
    let rcr: RequestChallengeResponse = serde_json::from_value(st.json["options"].clone()).unwrap();
    let cred = key.do_authentication(origin(&s), rcr).unwrap();
    let done = ops.post(
        "/v1/auth/passkeys/step-up/finish",
        json!({ "ceremony_id": st.json["ceremony_id"], "credential": cred }),
    );
    assert_eq!(done.status, 204, "{done:?}");
    let r = ops.post(
        "/v1/roles",
        json!({ "name": "r2", "permissions": ["secrets.list"] }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    // Another session's step-up ceremony is not this one's.
    let other = session(&s, &{
        let (c, o) = challenge(&s, "ops");
        let a = answer(&s, &mut key, o);
        finish(&s, &c, &a)
    });
    let st2 = other.post("/v1/auth/passkeys/step-up/start", json!({}));
    let rcr: RequestChallengeResponse =
        serde_json::from_value(st2.json["options"].clone()).unwrap();
    let cred = key.do_authentication(origin(&s), rcr).unwrap();
    let stolen = ops.post(
        "/v1/auth/passkeys/step-up/finish",
        json!({ "ceremony_id": st2.json["ceremony_id"], "credential": cred }),
    );
    refused(&stolen, 400, "passkey.ceremony_invalid");
    // A service token is scoped instead: no step-up.
    assert_eq!(
        root.post(
            "/v1/roles",
            json!({ "name": "r3", "permissions": ["secrets.list"] })
        )
        .status,
        201
    );

    // Rename.
    let list = ops.get("/v1/auth/passkeys");
    let id = list.json["passkeys"][0]["id"].as_str().unwrap().to_owned();
    let r = ops.patch(
        &format!("/v1/auth/passkeys/{id}"),
        json!({ "name": "work laptop" }),
    );
    assert_eq!(r.json["name"], "work laptop", "{r:?}");
    refused(
        &ops.patch(&format!("/v1/auth/passkeys/{id}"), json!({ "name": "" })),
        400,
        "passkey.invalid_name",
    );

    // The last passkey of someone whose role requires MFA stays.
    let mfa_role = root.post(
        "/v1/roles",
        json!({ "name": "ops-mfa", "permissions": ["secrets.list"], "require_mfa": true }),
    );
    assert_eq!(mfa_role.status, 201, "{mfa_role:?}");
    grant(&root, "ops", "ops-mfa", "*");
    let ops = session(&s, &{
        let (c, o) = challenge(&s, "ops");
        let a = answer(&s, &mut key, o);
        finish(&s, &c, &a)
    });
    let r = ops.delete(&format!("/v1/auth/passkeys/{id}"));
    refused(&r, 409, "passkey.last_required");
    assert_eq!(
        ops.get("/v1/auth/passkeys").json["passkeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A recovery code instead of the passkey, once.
    let (c, _) = challenge(&s, "ops");
    let typed = codes[0].to_lowercase().replace('-', " ");
    let rec = s.anonymous().post(
        "/v1/auth/mfa/recovery",
        json!({ "ceremony_id": c, "recovery_code": typed }),
    );
    let by_code = session(&s, &rec);
    assert_eq!(
        by_code.get("/v1/auth/whoami").json["second_factor"],
        "recovery_code"
    );
    let (c, _) = challenge(&s, "ops");
    let again = s.anonymous().post(
        "/v1/auth/mfa/recovery",
        json!({ "ceremony_id": c, "recovery_code": codes[0] }),
    );
    refused(&again, 401, "auth.recovery_code_invalid");

    // The administrators' reset: passkeys and codes gone, sessions ended.
    let reset = root.post_empty("/v1/users/ops/passkeys/reset");
    assert_eq!(reset.status, 200, "{reset:?}");
    assert_eq!(reset.json["passkeys_removed"], 1);
    refused(&ops.get("/v1/auth/whoami"), 401, "auth.invalid_token");
    // The password alone gives a session again (without the MFA role).
    let after = login(&s, "ops");
    let who = after.get("/v1/auth/whoami");
    assert!(
        who.json["withheld"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["role"] == "ops-mfa"),
        "{who:?}"
    );
    let trail = root.get("/v1/audit?limit=1000").text;
    for want in [
        "auth.step_up_required",
        "auth.step_up",
        "passkey.rename",
        "passkey.last_required",
        "mfa=recovery_code",
        "reason=recovery_code_invalid",
        "user.passkeys_reset",
    ] {
        assert!(trail.contains(want), "{want} not audited");
    }
    for code in &codes {
        assert!(
            !trail.contains(code.as_str()),
            "a recovery code in the trail"
        );
    }
}

/// `identity.admin_requires_mfa`: the built-in admin role follows it.
#[test]
fn admin_can_be_made_to_require_a_second_factor() {
    let s = Server::dev_with(vault_tests::Options {
        env: vec![
            (
                "VAULT_IDENTITY_DANGER_WEAK_PASSWORD_HASHING".into(),
                "true".into(),
            ),
            ("VAULT_IDENTITY_ADMIN_REQUIRES_MFA".into(), "true".into()),
        ],
        ..Default::default()
    });
    let root = s.client();
    user(&root, "ana");
    grant(&root, "ana", "admin", "*");
    let roles = root.get("/v1/roles");
    let admin = roles.json["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .cloned()
        .unwrap();
    assert_eq!(admin["require_mfa"], true);
    refused(
        &root.patch("/v1/roles/admin", json!({ "require_mfa": false })),
        409,
        "role.builtin",
    );
    let pw = login(&s, "ana");
    refused(&pw.get("/v1/users"), 403, "access.denied");
    let mut key = SoftPasskey::new(true);
    register(&s, &pw, &mut key, "phone");
    let (c, o) = challenge(&s, "ana");
    let a = answer(&s, &mut key, o);
    let ana = session(&s, &finish(&s, &c, &a));
    assert_eq!(ana.get("/v1/users").status, 200);
}
