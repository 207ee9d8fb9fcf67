//! Single sign-on through real OpenID providers (oidc-provider and, for
//! bad tokens, oauth2-mock-server; tests/idp), the real server and a user
//! agent that keeps cookies and shows every redirect: the whole flow,
//! group-driven bindings, provisioning and links, and every refusal, each
//! audited and none giving a session.

use serde_json::{Value, json};
use vault_tests::idp::Idp;
use vault_tests::ua::{Hop, UserAgent};
use vault_tests::{Options, Server};

/// One `[[oidc.providers]]` block.
struct P<'a> {
    name: &'a str,
    issuer: &'a str,
    client_id: &'a str,
    extra: &'a str,
}

fn config(providers: &[P<'_>]) -> String {
    let mut s = String::new();
    for p in providers {
        s.push_str(&format!(
            "[[oidc.providers]]\nname = \"{}\"\ndisplay_name = \"{} SSO\"\nissuer = \"{}\"\n\
             client_id = \"{}\"\nscopes = [\"openid\", \"email\", \"profile\", \"groups\"]\n{}\n\
             [[oidc.providers.group_roles]]\ngroup = \"payments-readers\"\nrole = \"reader\"\n\
             scope = \"payments/*\"\n",
            p.name, p.name, p.issuer, p.client_id, p.extra
        ));
    }
    s
}

/// A dev server with these providers; every client secret comes from the
/// environment (`vault-test-secret`, what tests/idp registers).
fn server(providers: &[P<'_>]) -> Server {
    let env = providers
        .iter()
        .map(|p| {
            (
                format!(
                    "VAULT_OIDC_{}_CLIENT_SECRET",
                    p.name.to_ascii_uppercase().replace('-', "_")
                ),
                "vault-test-secret".to_owned(),
            )
        })
        .collect();
    Server::dev_with(Options {
        env,
        config: Some(config(providers)),
    })
}

fn corp(idp: &Idp) -> P<'_> {
    P {
        name: "corp",
        issuer: &idp.issuer,
        client_id: "vault-test",
        extra: "",
    }
}

/// Starts a browser login at `provider`; the answer to follow to the IdP.
fn start(s: &Server, ua: &UserAgent, provider: &str, return_to: &str) -> Hop {
    let hop = ua.get(&format!(
        "{}/v1/auth/oidc/{provider}/start?return_to={}",
        s.addr,
        vault_tests::ua::urlencode(return_to)
    ));
    assert_eq!(hop.status, 303, "{hop:?}");
    hop
}

/// A whole browser login as `user`; the callback's answer.
fn login(s: &Server, idp: &Idp, ua: &UserAgent, provider: &str, user: &str, pw: &str) -> Hop {
    let first = start(s, ua, provider, "/ui/");
    let back = ua.login_at_idp(&first, &idp.issuer, user, pw);
    assert!(back.starts_with(&format!("{}/v1/auth/oidc/{provider}/callback?", s.addr)));
    ua.get(&back)
}

/// The session token in a callback's `Set-Cookie`.
fn session_of(hop: &Hop) -> Option<String> {
    hop.set_cookie.iter().find_map(|c| {
        c.strip_prefix("__Host-vault_session=")
            .and_then(|v| v.split(';').next())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// The link of the page that hands a CLI login's code to the loopback
/// listener (the page asks before the browser goes there).
fn handoff_link(hop: &Hop) -> String {
    assert_eq!(hop.status, 200, "{hop:?}");
    assert!(
        hop.body.contains("Finish signing in to the vault CLI"),
        "{}",
        hop.body
    );
    let at = hop
        .body
        .find("href=\"http://127.0.0.1:")
        .expect("link to the CLI")
        + 6;
    let end = hop.body[at..].find('"').unwrap() + at;
    hop.body[at..end].replace("&amp;", "&")
}

fn as_session(s: &Server, hop: &Hop) -> vault_tests::Client {
    assert_eq!(hop.status, 303, "{hop:?}");
    let token = session_of(hop).unwrap_or_else(|| panic!("no session cookie: {hop:?}"));
    s.anonymous().with_token(Some(&token))
}

/// Audit records with `action`, newest last.
fn audit(s: &Server, action: &str) -> Vec<Value> {
    let r = s.client().get("/v1/audit?limit=1000");
    assert_eq!(r.status, 200, "{r:?}");
    r.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["action"] == action)
        .cloned()
        .collect()
}

fn refused_with(s: &Server, hop: &Hop, status: u16, reason: &str) {
    assert_eq!(hop.status, status, "{hop:?}");
    assert!(
        hop.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/html")),
        "{hop:?}"
    );
    assert!(hop.body.contains(reason), "{reason}: {}", hop.body);
    assert!(
        session_of(hop).is_none(),
        "a refusal set a session: {hop:?}"
    );
    let denied = audit(s, "auth.login");
    assert!(
        denied.iter().any(|r| r["outcome"] == "denied"
            && r["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("reason={reason}")))),
        "no audit record for {reason}: {denied:?}"
    );
}

#[test]
fn a_browser_login_reads_what_its_groups_allow_and_loses_a_group_at_the_next_login() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[corp(&idp)]);
    let admin = s.client();
    admin.setup("payments", "prod");
    admin.write("payments", "prod", "DB_URL", "postgres://payments");
    admin.setup("hr", "prod");
    admin.write("hr", "prod", "SALARIES", "secret-hr");

    // The login page offers the provider.
    let page = UserAgent::new().get(&format!("{}/ui/login", s.addr));
    assert!(page.body.contains("Sign in with corp SSO"), "{}", page.body);
    assert!(
        page.body
            .contains("/v1/auth/oidc/corp/start?return_to=/ui/")
    );

    // Started at another loopback name of the server (the README says
    // localhost; dev mode's public origin is 127.0.0.1): sent to the public
    // origin first, where the IdP will return and the cookie must be.
    let port = s.addr.rsplit(':').next().unwrap();
    let elsewhere = UserAgent::new().get(&format!(
        "http://localhost:{port}/v1/auth/oidc/corp/start?return_to=/ui/"
    ));
    assert_eq!(elsewhere.status, 303, "{elsewhere:?}");
    assert_eq!(
        elsewhere.location.as_deref(),
        Some(&*format!(
            "{}/v1/auth/oidc/corp/start?return_to=/ui/",
            s.addr
        ))
    );
    assert!(elsewhere.set_cookie.is_empty());

    let ua = UserAgent::new();
    let first = start(&s, &ua, "corp", "/ui/");
    let to_idp = first.location.clone().unwrap();
    assert!(to_idp.starts_with(&idp.issuer), "{to_idp}");
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
    ] {
        assert!(to_idp.contains(p), "{p} missing from {to_idp}");
    }
    let pre = first
        .set_cookie
        .iter()
        .find(|c| c.starts_with("__Host-vault_sso="))
        .expect("pre-login cookie");
    for attr in [
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=600",
    ] {
        assert!(pre.contains(attr), "{attr} missing: {pre}");
    }
    let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    let done = ua.get(&back);
    assert_eq!(done.location.as_deref(), Some(&*format!("{}/ui/", s.addr)));
    let alice = as_session(&s, &done);

    let who = alice.get("/v1/auth/whoami");
    assert_eq!(who.json["name"], "alice", "{who:?}");
    assert_eq!(who.json["login_method"], "oidc");
    assert_eq!(
        who.json["grants"],
        json!([{ "role": "reader", "scope": "payments/*" }])
    );
    assert_eq!(alice.read("payments", "prod", "DB_URL").status, 200);
    assert_eq!(alice.read("hr", "prod", "SALARIES").status, 403);

    // The binding is marked as SSO's and cannot be edited by hand.
    let b = admin.get("/v1/bindings?user=alice");
    let binding = &b.json["bindings"][0];
    assert_eq!(binding["source"], "sso:corp", "{b:?}");
    let del = admin.delete(&format!("/v1/bindings/{}", binding["id"].as_str().unwrap()));
    assert_eq!(del.status, 409, "{del:?}");
    assert_eq!(del.code(), "binding.managed_by_sso");

    // The home page shows who signed in.
    ua.set_cookie(&s.addr, "__Host-vault_session", &session_of(&done).unwrap());
    let home = ua.get(&format!("{}/ui/", s.addr));
    assert!(home.body.contains("alice"), "{}", home.body);

    let ok = audit(&s, "auth.login");
    let rec = ok.iter().rev().find(|r| r["outcome"] == "success").unwrap();
    let d = rec["detail"].as_str().unwrap();
    for part in [
        "method=oidc",
        "provider=corp",
        "subject=alice",
        "groups=[payments-readers]",
        "bindings_added=[reader@payments/*]",
    ] {
        assert!(d.contains(part), "{part} missing from {d}");
    }
    assert_eq!(audit(&s, "auth.oidc_start").len(), 1);

    // Removed from the group at the IdP: the binding goes at the next login,
    // for every session of the user.
    idp.set_groups("alice", &[]);
    let again = login(&s, &idp, &UserAgent::new(), "corp", "alice", "alice-pw");
    let alice2 = as_session(&s, &again);
    assert_eq!(alice2.read("payments", "prod", "DB_URL").status, 403);
    assert_eq!(alice.read("payments", "prod", "DB_URL").status, 403);
    assert_eq!(
        admin.get("/v1/bindings?user=alice").json["bindings"],
        json!([])
    );
    let last = audit(&s, "auth.login");
    let d = last.last().unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(d.contains("bindings_removed=[reader@payments/*]"), "{d}");
}

#[test]
fn refused_callbacks_give_no_session_and_are_audited() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[corp(&idp)]);
    let cb = format!("{}/v1/auth/oidc/corp/callback", s.addr);

    // Missing and wrong state.
    refused_with(&s, &UserAgent::new().get(&cb), 400, "state_mismatch");
    refused_with(
        &s,
        &UserAgent::new().get(&format!("{cb}?state=forged&code=x")),
        400,
        "state_mismatch",
    );

    // A callback finished by another browser (no pre-login cookie) fails,
    // and the flow is spent: the right browser cannot use it afterwards.
    let ua = UserAgent::new();
    let first = start(&s, &ua, "corp", "/ui/");
    let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    refused_with(&s, &UserAgent::new().get(&back), 400, "browser_mismatch");
    refused_with(&s, &ua.get(&back), 400, "state_mismatch");

    // A forged pre-login cookie is another browser too.
    let ua = UserAgent::new();
    let first = start(&s, &ua, "corp", "/ui/");
    let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    let thief = UserAgent::new();
    thief.set_cookie(&s.addr, "__Host-vault_sso", &"A".repeat(43));
    refused_with(&s, &thief.get(&back), 400, "browser_mismatch");

    // Reused state: a finished callback replayed.
    let ua = UserAgent::new();
    let first = start(&s, &ua, "corp", "/ui/");
    let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    let ok = ua.get(&back);
    assert!(session_of(&ok).is_some(), "{ok:?}");
    refused_with(&s, &ua.get(&back), 400, "state_mismatch");

    // A replayed code: a fresh flow (new state) with the spent code.
    let code = back
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let first = start(&s, &ua, "corp", "/ui/");
    let fresh = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    let state = fresh
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap();
    refused_with(
        &s,
        &ua.get(&format!("{cb}?code={code}&state={state}")),
        400,
        "code_exchange_failed",
    );

    // The IdP said no.
    let first = start(&s, &ua, "corp", "/ui/");
    let state = first
        .location
        .as_deref()
        .unwrap()
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .unwrap()
        .to_owned();
    refused_with(
        &s,
        &ua.get(&format!("{cb}?error=access_denied&state={state}")),
        400,
        "idp_error",
    );

    // An unknown provider is a page too.
    let none = UserAgent::new().get(&format!("{}/v1/auth/oidc/nope/start", s.addr));
    assert_eq!(none.status, 404, "{none:?}");
    assert!(none.body.contains("unknown_provider"));
}

#[test]
fn return_to_is_only_ever_a_path_of_this_site() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[corp(&idp)]);
    for (asked, landed) in [
        ("https://evil.example", "/ui/"),
        ("//evil.example", "/ui/"),
        ("/\\evil.example", "/ui/"),
        ("https:evil.example", "/ui/"),
        ("/ui/?tab=sessions", "/ui/?tab=sessions"),
    ] {
        let ua = UserAgent::new();
        let first = start(&s, &ua, "corp", asked);
        let back = ua.login_at_idp(&first, &idp.issuer, "bob", "bob-pw");
        let done = ua.get(&back);
        assert_eq!(
            done.location.as_deref(),
            Some(&*format!("{}{landed}", s.addr)),
            "{asked}"
        );
        assert!(session_of(&done).is_some(), "{asked}: the login goes on");
    }
}

#[test]
fn tampered_id_tokens_are_refused() {
    let mock = Idp::mock();
    let names = ["good", "aud", "nonce", "iss", "exp", "sig"];
    let ids: Vec<String> = names
        .iter()
        .map(|n| {
            if *n == "good" {
                "fine".to_owned()
            } else {
                format!("tamper-{n}")
            }
        })
        .collect();
    let providers: Vec<P<'_>> = names
        .iter()
        .zip(&ids)
        .map(|(n, id)| P {
            name: n,
            issuer: &mock.issuer,
            client_id: id,
            extra: "",
        })
        .collect();
    let s = server(&providers);
    for (name, reason) in [
        ("aud", "id_token_invalid"),
        ("nonce", "nonce_mismatch"),
        ("iss", "id_token_invalid"),
        ("exp", "id_token_invalid"),
        ("sig", "id_token_invalid"),
    ] {
        let ua = UserAgent::new();
        let first = start(&s, &ua, name, "/ui/");
        // The mock has no login page: straight back with a code.
        let at_idp = ua.get(first.location.as_deref().unwrap());
        let back = at_idp.location.clone().expect("mock redirect");
        refused_with(&s, &ua.get(&back), 400, reason);
    }
    // The same mock with an untampered token logs in: the refusals above
    // are the defects, not the setup.
    let ua = UserAgent::new();
    let first = start(&s, &ua, "good", "/ui/");
    let back = ua.get(first.location.as_deref().unwrap()).location.unwrap();
    let done = ua.get(&back);
    let who = as_session(&s, &done).get("/v1/auth/whoami");
    assert_eq!(who.json["login_method"], "oidc", "{who:?}");
}

/// An ID token whose `amr` holds one of the provider's `mfa_amr` values
/// makes an MFA session: it holds a role that requires a second factor,
/// which the same user's login without it does not.
#[test]
fn an_idp_that_says_it_checked_a_second_factor_makes_an_mfa_session() {
    let mock = Idp::mock();
    let providers = [
        P {
            name: "strong",
            issuer: &mock.issuer,
            client_id: "mfa",
            extra: "mfa_amr = [\"hwk\", \"otp\"]",
        },
        P {
            name: "plain",
            issuer: &mock.issuer,
            client_id: "fine",
            extra: "mfa_amr = [\"hwk\"]",
        },
    ];
    let s = server(&providers);
    let root = s.client();
    let sso_login = |provider: &str| {
        let ua = UserAgent::new();
        let first = start(&s, &ua, provider, "/ui/");
        let back = ua.get(first.location.as_deref().unwrap()).location.unwrap();
        as_session(&s, &ua.get(&back))
    };
    // The first login provisions the user; then an administrator binds a
    // role that requires MFA.
    let first = sso_login("plain");
    let name = first.get("/v1/auth/whoami").json["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = root.post(
        "/v1/roles",
        json!({ "name": "lister", "permissions": ["secrets.list"], "require_mfa": true }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let b = root.post(
        "/v1/bindings",
        json!({ "user": name, "role": "lister", "scope": "*" }),
    );
    assert_eq!(b.status, 201, "{b:?}");
    let strong = sso_login("strong").get("/v1/auth/whoami");
    assert_eq!(strong.json["second_factor"], "amr:hwk", "{strong:?}");
    assert_eq!(strong.json["grants"][0]["role"], "lister", "{strong:?}");
    let plain = sso_login("plain").get("/v1/auth/whoami");
    assert!(plain.json["second_factor"].is_null(), "{plain:?}");
    assert_eq!(plain.json["withheld"][0]["role"], "lister", "{plain:?}");
    assert!(
        audit(&s, "auth.login")
            .iter()
            .any(|r| r["detail"].as_str().unwrap_or("").contains("mfa=amr:hwk"))
    );
}

#[test]
fn an_idp_that_is_down_fails_closed_quickly_and_password_logins_go_on() {
    // Port 1 on loopback: nothing listens; the connection is refused.
    let s = server(&[P {
        name: "down",
        issuer: "http://127.0.0.1:1",
        client_id: "vault-test",
        extra: "",
    }]);
    let t = std::time::Instant::now();
    let hop = UserAgent::new().get(&format!("{}/v1/auth/oidc/down/start", s.addr));
    assert!(t.elapsed() < std::time::Duration::from_secs(12));
    assert_eq!(hop.status, 502, "{hop:?}");
    assert!(hop.body.contains("idp_unreachable"));
    assert!(!audit(&s, "auth.login").is_empty());
    assert_eq!(s.client().get("/v1/auth/whoami").status, 200);
}

#[test]
fn identities_are_issuer_and_subject_never_email() {
    let one = Idp::provider(&["corp"]);
    let two = Idp::provider(&["second"]);
    let s = server(&[
        corp(&one),
        P {
            name: "second",
            issuer: &two.issuer,
            client_id: "vault-test",
            extra: "",
        },
    ]);
    let a = as_session(
        &s,
        &login(&s, &one, &UserAgent::new(), "corp", "alice", "alice-pw"),
    );
    let b = as_session(
        &s,
        &login(&s, &two, &UserAgent::new(), "second", "alice", "alice-pw"),
    );
    let (wa, wb) = (a.get("/v1/auth/whoami"), b.get("/v1/auth/whoami"));
    assert_eq!(wa.json["name"], "alice");
    assert_eq!(
        wb.json["name"], "alice-2",
        "same email, other issuer: {wb:?}"
    );
    assert_ne!(wa.json["id"], wb.json["id"]);
    let ids = s.client().get("/v1/users/alice-2/identities");
    assert_eq!(ids.json["identities"][0]["issuer"], two.issuer.as_str());
    assert_eq!(ids.json["identities"][0]["email"], "alice@example.test");
}

#[test]
fn existing_provisioning_needs_a_link_and_allowed_groups_keep_others_out() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[P {
        name: "corp",
        issuer: &idp.issuer,
        client_id: "vault-test",
        extra: "provisioning = \"existing\"\nallowed_groups = [\"payments-readers\", \"staff\"]",
    }]);
    let admin = s.client();
    // Not in an allowed group.
    let ua = UserAgent::new();
    refused_with(
        &s,
        &login(&s, &idp, &ua, "corp", "bob", "bob-pw"),
        400,
        "group_not_allowed",
    );
    idp.set_groups("bob", &["staff"]);
    // Allowed, but nobody linked bob's identity to a user.
    refused_with(
        &s,
        &login(&s, &idp, &UserAgent::new(), "corp", "bob", "bob-pw"),
        400,
        "not_provisioned",
    );
    // The refusal's record names the subject to link.
    let last = audit(&s, "auth.login");
    let d = last.last().unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(d.contains("subject=\"bob\" groups=[\"staff\"]"), "{d}");
    assert_eq!(
        admin
            .post(
                "/v1/users",
                json!({ "username": "robert", "password": "correct horse battery staple 42" })
            )
            .status,
        201
    );
    let link = admin.post(
        "/v1/users/robert/identities",
        json!({ "provider": "corp", "subject": "bob" }),
    );
    assert_eq!(link.status, 201, "{link:?}");
    let again = admin.post(
        "/v1/users/robert/identities",
        json!({ "provider": "corp", "subject": "bob" }),
    );
    assert_eq!(again.code(), "sso.identity_linked", "{again:?}");
    let unknown = admin.post(
        "/v1/users/robert/identities",
        json!({ "provider": "nope", "subject": "bob" }),
    );
    assert_eq!(unknown.code(), "sso.unknown_provider", "{unknown:?}");
    let robert = as_session(
        &s,
        &login(&s, &idp, &UserAgent::new(), "corp", "bob", "bob-pw"),
    );
    assert_eq!(robert.get("/v1/auth/whoami").json["name"], "robert");
    // Linking decides who signs in as a user: someone with users.manage but
    // less than the target holds (a security officer: no secret values)
    // can neither link nor unlink the identity of a user who reads secrets.
    admin.setup("payments", "prod");
    let b = admin.post(
        "/v1/bindings",
        json!({ "user": "robert", "role": "reader", "scope": "payments/*" }),
    );
    assert_eq!(b.status, 201, "{b:?}");
    let pw = "correct horse battery staple 42";
    admin.post("/v1/users", json!({ "username": "olga", "password": pw }));
    admin.post(
        "/v1/bindings",
        json!({ "user": "olga", "role": "security-officer", "scope": "*" }),
    );
    let olga = s.anonymous().post(
        "/v1/auth/login",
        json!({ "username": "olga", "password": pw }),
    );
    let olga = s.anonymous().with_token(olga.json["token"].as_str());
    let steal = olga.post(
        "/v1/users/robert/identities",
        json!({ "provider": "corp", "subject": "olga-at-idp" }),
    );
    assert_eq!(steal.status, 403, "{steal:?}");
    assert_eq!(steal.code(), "access.escalation");
    assert!(steal.text.contains("secrets.read"), "{steal:?}");
    let id = link.json["id"].as_str().unwrap();
    let unlink = olga.delete(&format!("/v1/users/robert/identities/{id}"));
    assert_eq!(unlink.status, 403, "{unlink:?}");
    // The binding change ended robert's session; sign in again.
    let robert = as_session(
        &s,
        &login(&s, &idp, &UserAgent::new(), "corp", "bob", "bob-pw"),
    );
    // Unlinked: refused again, and the identity's sessions are over.
    assert_eq!(
        admin
            .delete(&format!("/v1/users/robert/identities/{id}"))
            .status,
        204
    );
    assert_eq!(robert.get("/v1/auth/whoami").status, 401);
    refused_with(
        &s,
        &login(&s, &idp, &UserAgent::new(), "corp", "bob", "bob-pw"),
        400,
        "not_provisioned",
    );
    // A disabled user cannot sign in through SSO either.
    admin.post(
        "/v1/users/robert/identities",
        json!({ "provider": "corp", "subject": "bob" }),
    );
    assert_eq!(admin.post_empty("/v1/users/robert/disable").status, 200);
    refused_with(
        &s,
        &login(&s, &idp, &UserAgent::new(), "corp", "bob", "bob-pw"),
        400,
        "user_disabled",
    );
}

#[test]
fn client_secret_post_and_a_secret_file_work_and_secrets_never_leak() {
    let idp = Idp::provider(&["corp"]);
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("corp.secret");
    std::fs::write(&secret_file, "vault-post-secret\n").unwrap();
    let cfg = config(&[P {
        name: "corp",
        issuer: &idp.issuer,
        client_id: "vault-post",
        extra: &format!(
            "token_auth_method = \"client_secret_post\"\nclient_secret_file = \"{}\"",
            secret_file.display()
        ),
    }]);
    let s = Server::dev_with(Options {
        env: vec![],
        config: Some(cfg),
    });
    let ua = UserAgent::new();
    let first = start(&s, &ua, "corp", "/ui/");
    let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
    let done = ua.get(&back);
    let token = session_of(&done).expect("logged in");
    let code = back
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let pre = ua.cookie(&s.addr, "__Host-vault_sso").unwrap();
    let export = s.client().get("/v1/audit/export?format=jsonl");
    assert_eq!(export.status, 200);
    let db = std::fs::read(s.db_path()).unwrap();
    let wal = std::fs::read(s.data_dir.join("vault.db-wal")).unwrap_or_default();
    for (what, canary) in [
        ("client secret", "vault-post-secret"),
        ("authorization code", code.as_str()),
        ("session token", token.as_str()),
        ("pre-login cookie", pre.as_str()),
    ] {
        assert!(!s.log().contains(canary), "{what} in the log");
        assert!(!export.text.contains(canary), "{what} in the audit trail");
        for (file, bytes) in [("db", &db), ("wal", &wal)] {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{what} in the {file}"
            );
        }
    }
}

/// `vault` as a person at a terminal: no VAULT_TOKEN, the file store.
fn as_user(s: &Server) -> std::process::Command {
    vault_tests::cli::as_user(s, &s.addr)
}

/// `vault login --oidc ARGS --no-browser`, with `browse` playing the browser.
fn cli_login(
    s: &Server,
    args: &[&str],
    browse: impl FnOnce(&str) -> String,
) -> (std::process::Output, String) {
    let mut flags = vec!["--oidc"];
    flags.extend_from_slice(args);
    vault_tests::cli::browser_login(s, &s.addr, &flags, browse)
}

#[test]
fn vault_login_oidc_through_the_real_cli() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[corp(&idp)]);
    let (out, text) = cli_login(&s, &[], |url| {
        assert!(url.contains("/v1/auth/oidc/corp/start?cli_port="), "{url}");
        let ua = UserAgent::new();
        let first = ua.get(url);
        assert_eq!(first.status, 303, "{first:?}");
        let back = ua.login_at_idp(&first, &idp.issuer, "alice", "alice-pw");
        let to_cli = ua.get(&back);
        assert!(
            session_of(&to_cli).is_none(),
            "no cookie session for a CLI flow"
        );
        let loopback = handoff_link(&to_cli);
        assert!(loopback.starts_with("http://127.0.0.1:"), "{loopback}");
        // A page that is not this flow (no state) is turned away, and the
        // CLI goes on waiting.
        let port_url = loopback.split("/callback").next().unwrap().to_owned();
        let forged = ua.get(&format!("{port_url}/callback?code=forged"));
        assert_eq!(forged.status, 400, "{forged:?}");
        let page = ua.get(&loopback);
        assert!(page.body.contains("You can close this tab"), "{page:?}");
        // The code is single-use: the CLI redeemed it already.
        let code = loopback
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let again = s.anonymous().post(
            "/v1/auth/oidc/token",
            json!({ "code": code, "code_verifier": "a".repeat(64) }),
        );
        assert_eq!(again.status, 400, "{again:?}");
        assert_eq!(again.code(), "auth.sso_code_invalid");
        loopback
    });
    assert!(out.status.success(), "{text}");
    assert!(text.contains("logged in as alice"), "{text}");
    let who = as_user(&s)
        .args(["whoami", "--format", "json"])
        .output()
        .unwrap();
    let who: Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(who["login_method"], "oidc", "{who}");
    assert_eq!(who["name"], "alice");
}

#[test]
fn the_cli_reports_a_refusal_and_needs_a_known_provider() {
    let idp = Idp::provider(&["corp"]);
    let s = server(&[P {
        name: "corp",
        issuer: &idp.issuer,
        client_id: "vault-test",
        extra: "allowed_groups = [\"admins\"]",
    }]);
    let (out, text) = cli_login(&s, &["corp"], |url| {
        let ua = UserAgent::new();
        let first = ua.get(url);
        let back = ua.login_at_idp(&first, &idp.issuer, "bob", "bob-pw");
        let to_cli = ua.get(&back);
        let loopback = to_cli.location.clone().expect("redirect to the CLI");
        assert!(loopback.contains("error=group_not_allowed"), "{loopback}");
        ua.get(&loopback);
        loopback
    });
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("group_not_allowed"), "{text}");
    assert!(text.contains("none of the groups"), "{text}");

    let wrong = as_user(&s)
        .args(["login", "--oidc", "nope", "--no-browser"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    let e = String::from_utf8_lossy(&wrong.stderr);
    assert!(e.contains("the server has: corp"), "{e}");
}

#[test]
fn check_config_reads_the_secret_without_showing_it_and_notes_loopback_http() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vault.toml");
    let check = |issuer: &str, secret: Option<&str>| {
        std::fs::write(
            &cfg,
            format!(
                "[[oidc.providers]]\nname = \"corp-eu\"\nissuer = \"{issuer}\"\nclient_id = \"v\"\n\
                 [[oidc.providers.group_roles]]\ngroup = \"g\"\nrole = \"raeder\"\nscope = \"a/b\"\n"
            ),
        )
        .unwrap();
        let mut c = std::process::Command::new(vault_tests::server_bin());
        c.args(["--dev", "check-config", "--config"]).arg(&cfg);
        c.env_remove("VAULT_OIDC_CORP_EU_CLIENT_SECRET");
        if let Some(s) = secret {
            c.env("VAULT_OIDC_CORP_EU_CLIENT_SECRET", s);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, text) = check("http://127.0.0.1:9400", Some("hunter2-canary"));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("plain-HTTP issuer"), "{text}");
    // A role that is not built in may be a custom one: a note, not an error.
    assert!(text.contains("\"raeder\", which is not built in"), "{text}");
    assert!(!text.contains("hunter2-canary"), "{text}");
    let (code, text) = check("http://127.0.0.1:9400", Some("x"));
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check("http://127.0.0.1:9400", None);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("VAULT_OIDC_CORP_EU_CLIENT_SECRET"), "{text}");
    let (code, text) = check("http://idp.example.com", Some("x"));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("only on a loopback address"), "{text}");
}
