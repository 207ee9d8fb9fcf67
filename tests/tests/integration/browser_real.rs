//! The pages in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/ui.mjs`, `sso.mjs`; run by `vault_tests::run_browser_script`): sign in, see the home page, revoke another
//! browser's session from the page, a forged cross-origin form changes
//! nothing, sign out. `scripts/test` installs Chromium and the npm package;
//! without them this test fails, since a browser test that skipped would
//! prove nothing.

use super::identity_kit::{PW, grant, server, user};

#[test]
fn the_pages_work_in_a_real_browser() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    user(&root, "alice");
    grant(&root, "alice", "reader", "payments/*");
    // localhost, not 127.0.0.1: the attacker page then sits on the same
    // site (localhost, another port), where SameSite cannot help.
    let port = s.addr.rsplit(':').next().unwrap_or_default();
    let attacker = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shots = tempfile::tempdir().unwrap();
    let ui = format!("http://localhost:{port}");
    let attacker = attacker.to_string();
    let shots_dir = shots.path().to_string_lossy().into_owned();
    vault_tests::run_browser_script(
        "ui.mjs",
        &[
            ("VAULT_UI", &ui),
            ("VAULT_USER", "alice"),
            ("VAULT_PW", PW),
            ("ATTACKER_PORT", &attacker),
            ("SHOTS", &shots_dir),
        ],
    );
    assert!(shots.path().join("home.png").exists());
}

/// Single sign-on through the real IdP in the real browser (`sso.mjs`).
#[test]
fn single_sign_on_in_a_real_browser() {
    let idp = vault_tests::idp::Idp::provider(&["corp"]);
    let s = vault_tests::Server::dev_with(vault_tests::Options {
        env: vec![(
            "VAULT_OIDC_CORP_CLIENT_SECRET".into(),
            "vault-test-secret".into(),
        )],
        config: Some(format!(
            "[[oidc.providers]]\nname = \"corp\"\ndisplay_name = \"Corp SSO\"\n\
             issuer = \"{}\"\nclient_id = \"vault-test\"\n\
             scopes = [\"openid\", \"email\", \"profile\", \"groups\"]\n\
             [[oidc.providers.group_roles]]\ngroup = \"payments-readers\"\n\
             role = \"reader\"\nscope = \"payments/*\"\n",
            idp.issuer
        )),
    });
    s.client().setup("payments", "prod");
    let shots = tempfile::tempdir().unwrap();
    // The address the server is bound to is its public origin in dev mode:
    // the IdP sends the browser back there, where the pre-login cookie is.
    let shots_dir = shots.path().to_string_lossy().into_owned();
    vault_tests::run_browser_script(
        "sso.mjs",
        &[
            ("VAULT_UI", &s.addr),
            ("IDP", &idp.issuer),
            ("SHOTS", &shots_dir),
        ],
    );
    assert!(shots.path().join("sso-home.png").exists());
}
