//! The browser layer over plain HTTP (the real server, a client that keeps
//! cookies by hand and follows no redirects): the session cookie's
//! attributes, the pages' security headers and escaping, CSRF on every
//! state-changing cookie request, no session fixation, sign-out and
//! revoking another session from the page.

use serde_json::json;
use vault_tests::Server;
use vault_tests::ua::urlencode;

use super::identity_kit::{PW, grant, server, user};

/// An HTTP answer: status, headers we look at, body.
struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    csp: Option<String>,
    frame: Option<String>,
    referrer: Option<String>,
    body: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
    json: Option<serde_json::Value>,
) -> Page {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = if let Some(f) = form {
        req = req.header("content-type", "application/x-www-form-urlencoded");
        f.iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    } else if let Some(j) = json {
        req = req.header("content-type", "application/json");
        j.to_string()
    } else {
        String::new()
    };
    let mut resp = agent().run(req.body(body).unwrap()).unwrap();
    let h = resp.headers();
    let one = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
    let page = Page {
        status: resp.status().as_u16(),
        location: one("location"),
        set_cookie: h
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
        csp: one("content-security-policy"),
        frame: one("x-frame-options"),
        referrer: one("referrer-policy"),
        body: String::new(),
    };
    Page {
        body: resp.body_mut().read_to_string().unwrap_or_default(),
        ..page
    }
}

/// Origin and Sec-Fetch-Site headers of a same-origin form post to `s`.
fn same_origin(s: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("origin", s.addr.clone()),
        ("sec-fetch-site", "same-origin".to_owned()),
    ]
}

fn with<'a>(
    base: &'a [(&'static str, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .collect()
}

/// Signs in through the form; the cookie pair (`__Host-vault_session=...`).
fn sign_in(s: &Server, name: &str) -> String {
    let so = same_origin(s);
    let p = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &with(&so, &[]),
        Some(&[("username", name), ("password", PW)]),
        None,
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/ui/"));
    let c = p
        .set_cookie
        .iter()
        .find(|c| c.starts_with("__Host-vault_session="))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", p.set_cookie));
    c.split(';').next().unwrap().to_owned()
}

/// The CSRF token in the home page's forms.
fn csrf_of(s: &Server, cookie: &str) -> String {
    let home = send(
        "GET",
        &format!("{}/ui/", s.addr),
        &[("cookie", cookie)],
        None,
        None,
    );
    assert_eq!(home.status, 200, "{}", home.body);
    let at = home.body.find("name=\"csrf\" value=\"").unwrap() + 19;
    home.body[at..at + 43].to_owned()
}

#[test]
fn sign_in_sets_a_host_cookie_and_pages_are_locked_down() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    user(&root, "alice");
    grant(&root, "alice", "reader", "payments/*");

    let login = send("GET", &format!("{}/ui/login", s.addr), &[], None, None);
    assert_eq!(login.status, 200);
    assert!(login.csp.unwrap().contains("default-src 'none'"));
    assert_eq!(login.frame.as_deref(), Some("DENY"));
    assert_eq!(login.referrer.as_deref(), Some("no-referrer"));
    assert!(
        login
            .body
            .contains("<form method=\"post\" action=\"/ui/login\"")
    );

    // The cookie: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
    let so = same_origin(&s);
    let p = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &with(&so, &[]),
        Some(&[("username", "alice"), ("password", PW)]),
        None,
    );
    assert_eq!(p.status, 303);
    let c = &p.set_cookie[0];
    for attr in [
        "__Host-vault_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(c.contains(attr), "{c}");
    }
    assert!(!c.to_ascii_lowercase().contains("domain"), "{c}");
    let cookie = c.split(';').next().unwrap().to_owned();

    // The home page names the user, the role and this session.
    let home = send(
        "GET",
        &format!("{}/ui/", s.addr),
        &[("cookie", &cookie)],
        None,
        None,
    );
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("alice") && home.body.contains("reader"),
        "{}",
        home.body
    );
    assert!(home.body.contains("payments/*"));
    assert!(home.body.contains("this browser"));
    // The cookie authenticates API reads too.
    let who = send(
        "GET",
        &format!("{}/v1/auth/whoami", s.addr),
        &[("cookie", &cookie)],
        None,
        None,
    );
    assert_eq!(who.status, 200, "{}", who.body);
    assert!(who.body.contains("\"name\":\"alice\""));
    assert!(
        who.body.contains("\"login_method\":\"password\""),
        "{}",
        who.body
    );
    // Not signed in: the home page sends to the sign-in page.
    let anon = send("GET", &format!("{}/ui/", s.addr), &[], None, None);
    assert_eq!(
        (anon.status, anon.location.as_deref()),
        (303, Some("/ui/login"))
    );

    // What a user types is escaped, never markup.
    let evil = "<script>alert(1)</script>";
    let bad = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &with(&so, &[]),
        Some(&[("username", evil), ("password", "wrong")]),
        None,
    );
    assert!(bad.status == 401 || bad.status == 400, "{}", bad.status);
    assert!(!bad.body.contains(evil), "{}", bad.body);
    assert!(bad.body.contains("&lt;script&gt;"), "{}", bad.body);
    assert!(bad.set_cookie.is_empty());
}

#[test]
fn cookie_requests_that_change_state_need_the_csrf_token_and_this_origin() {
    let s = server();
    let root = s.client();
    user(&root, "alice");
    grant(&root, "alice", "admin", "*");
    let cookie = sign_in(&s, "alice");
    let csrf = csrf_of(&s, &cookie);
    let url = format!("{}/v1/projects", s.addr);
    let so = same_origin(&s);
    let body = || Some(json!({ "name": "made" }));

    // Cookie alone: refused before the handler.
    let r = send(
        "POST",
        &url,
        &with(&so, &[("cookie", &cookie)]),
        None,
        body(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("csrf.failed"));
    // Token, but from another origin (another port is the same site, not the same origin).
    let other = [
        ("origin", "http://127.0.0.1:9"),
        ("cookie", cookie.as_str()),
        ("x-vault-csrf", csrf.as_str()),
    ];
    let r = send("POST", &url, &other, None, body());
    assert!(r.body.contains("csrf.failed"), "{}", r.body);
    let r = send(
        "POST",
        &url,
        &[
            ("sec-fetch-site", "same-site"),
            ("cookie", &cookie),
            ("x-vault-csrf", &csrf),
        ],
        None,
        body(),
    );
    assert!(r.body.contains("csrf.failed"), "{}", r.body);
    // Another session's token.
    let other_cookie = sign_in(&s, "alice");
    let other_csrf = csrf_of(&s, &other_cookie);
    let r = send(
        "POST",
        &url,
        &with(&so, &[("cookie", &cookie), ("x-vault-csrf", &other_csrf)]),
        None,
        body(),
    );
    assert!(r.body.contains("csrf.failed"), "{}", r.body);
    assert_eq!(
        root.get("/v1/projects").json["projects"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // All three: through.
    let r = send(
        "POST",
        &url,
        &with(&so, &[("cookie", &cookie), ("x-vault-csrf", &csrf)]),
        None,
        body(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Bearer requests are not cookie requests: no token needed.
    assert_eq!(
        root.post("/v1/projects", json!({ "name": "made2" })).status,
        201
    );
    // A header that is not a token never lets the cookie through unchecked
    // (a browser behind an HTTP-auth proxy adds `Authorization: Basic`).
    for h in ["Basic YWxpY2U6cHc=", "Negotiate abc", ""] {
        let r = send(
            "POST",
            &format!("{}/v1/sys/seal", s.addr),
            &[("cookie", cookie.as_str()), ("authorization", h)],
            None,
            None,
        );
        assert_eq!(r.status, 401, "{h:?}: {}", r.body);
    }
    assert_eq!(root.get("/v1/sys/seal-status").json["sealed"], false);
    // A form post with neither Origin nor Sec-Fetch-Site is no evidence.
    let r = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &[],
        Some(&[("username", "alice"), ("password", PW)]),
        None,
    );
    assert_eq!(r.status, 403);

    // Forms: sign-out without the token, or from elsewhere, changes nothing.
    let logout = format!("{}/ui/logout", s.addr);
    let r = send(
        "POST",
        &logout,
        &with(&so, &[("cookie", &cookie)]),
        Some(&[("csrf", "nope")]),
        None,
    );
    assert_eq!(r.status, 403);
    let r = send(
        "POST",
        &logout,
        &[("origin", "http://127.0.0.1:9"), ("cookie", &cookie)],
        Some(&[("csrf", &csrf)]),
        None,
    );
    assert_eq!(r.status, 403);
    let who = |c: &str| {
        send(
            "GET",
            &format!("{}/v1/auth/whoami", s.addr),
            &[("cookie", c)],
            None,
            None,
        )
        .status
    };
    assert_eq!(who(&cookie), 200);
    // With it: signed out, the cookie cleared, the session dead.
    let r = send(
        "POST",
        &logout,
        &with(&so, &[("cookie", &cookie)]),
        Some(&[("csrf", &csrf)]),
        None,
    );
    assert_eq!(
        (r.status, r.location.as_deref()),
        (303, Some("/ui/login?notice=signed-out"))
    );
    let said = send(
        "GET",
        &format!("{}/ui/login?notice=signed-out", s.addr),
        &[],
        None,
        None,
    );
    assert!(said.body.contains("You signed out."), "{}", said.body);
    // The notice is a fixed text chosen by a code, never text from the URL.
    let evil = send(
        "GET",
        &format!("{}/ui/login?notice=%3Cb%3Ehi", s.addr),
        &[],
        None,
        None,
    );
    assert!(
        !evil.body.contains("<b>")
            && !evil.body.contains("&lt;b&gt;")
            && !evil.body.contains(">hi")
            && !evil.body.contains("class=\"notice\""),
        "{}",
        evil.body
    );
    assert!(r.set_cookie[0].contains("Max-Age=0"));
    assert_eq!(who(&cookie), 401);
    // Sign-in from another origin (login CSRF) is refused too.
    let r = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &[("origin", "http://127.0.0.1:9")],
        Some(&[("username", "alice"), ("password", PW)]),
        None,
    );
    assert_eq!(r.status, 403);
    assert!(r.set_cookie.is_empty());
}

#[test]
fn a_new_session_at_every_sign_in_and_revoking_from_the_page() {
    let s = server();
    let root = s.client();
    user(&root, "alice");
    let a = sign_in(&s, "alice");
    // Signing in while holding a cookie still makes a new session (no fixation).
    let so = same_origin(&s);
    let p = send(
        "POST",
        &format!("{}/ui/login", s.addr),
        &with(&so, &[("cookie", &a)]),
        Some(&[("username", "alice"), ("password", PW)]),
        None,
    );
    let b = p.set_cookie[0].split(';').next().unwrap().to_owned();
    assert_ne!(a, b);
    let who = |c: &str| {
        send(
            "GET",
            &format!("{}/v1/auth/whoami", s.addr),
            &[("cookie", c)],
            None,
            None,
        )
    };
    // ... and the session the old cookie named is over.
    assert_eq!(who(&a).status, 401);
    let a = sign_in(&s, "alice");
    let b_id = serde_json::from_str::<serde_json::Value>(&who(&b).body).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // From browser A's page, revoke browser B's session: B is out at once.
    let csrf = csrf_of(&s, &a);
    let home = send(
        "GET",
        &format!("{}/ui/", s.addr),
        &[("cookie", &a)],
        None,
        None,
    );
    assert!(
        home.body.contains(&format!("/ui/sessions/{b_id}/revoke")),
        "{}",
        home.body
    );
    let r = send(
        "POST",
        &format!("{}/ui/sessions/{b_id}/revoke", s.addr),
        &with(&so, &[("cookie", &a)]),
        Some(&[("csrf", &csrf)]),
        None,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(who(&b).status, 401);
    assert_eq!(who(&a).status, 200);
    // B's home page sends it to sign in, clearing the dead cookie.
    let home = send(
        "GET",
        &format!("{}/ui/", s.addr),
        &[("cookie", &b)],
        None,
        None,
    );
    assert_eq!(
        (home.status, home.location.as_deref()),
        (303, Some("/ui/login?notice=session-ended"))
    );
    assert!(home.set_cookie[0].contains("Max-Age=0"));
    // The root and unknown pages answer pages, not JSON; the favicon is quiet.
    let root_page = send("GET", &format!("{}/", s.addr), &[], None, None);
    assert_eq!(
        (root_page.status, root_page.location.as_deref()),
        (303, Some("/ui/"))
    );
    let missing = send("GET", &format!("{}/ui/nope", s.addr), &[], None, None);
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("There is no such page."),
        "{}",
        missing.body
    );
    assert!(missing.csp.is_some());
    assert_eq!(
        send("GET", &format!("{}/favicon.ico", s.addr), &[], None, None).status,
        204
    );
}

/// Behind a proxy that rewrites `Host`, `server.public_url` names the
/// origin browsers use; forms from it are accepted, from elsewhere not. An
/// invalid one stops the server at start.
#[test]
fn public_url_is_the_origin_behind_a_proxy() {
    let s = vault_tests::Server::dev_with(vault_tests::Options {
        env: vec![
            (
                "VAULT_IDENTITY_DANGER_WEAK_PASSWORD_HASHING".into(),
                "true".into(),
            ),
            (
                "VAULT_SERVER_PUBLIC_URL".into(),
                "http://localhost:9999".into(),
            ),
        ],
        ..Default::default()
    });
    user(&s.client(), "alice");
    let post = |origin: &str| {
        send(
            "POST",
            &format!("{}/ui/login", s.addr),
            &[("origin", origin)],
            Some(&[("username", "alice"), ("password", PW)]),
            None,
        )
    };
    assert_eq!(post("http://localhost:9999").status, 303);
    assert_eq!(post("http://localhost:9998").status, 403);
    assert_eq!(post(&s.addr).status, 303);

    let out = std::process::Command::new(vault_tests::server_bin())
        .args(["check-config"])
        .env("VAULT_SERVER_PUBLIC_URL", "http://vault.example.com")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server.public_url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The canary sweep over the browser paths: a password signed in through
/// the form (and pasted into the username field), the session cookie's
/// token and the CSRF token never reach the log, the database files or
/// the audit export.
#[test]
fn browser_secrets_never_leak() {
    let pw = format!("CANARY-{}-pw", vault_tests::random_hex(16));
    let mut s = server();
    let root = s.client();
    let r = root.post("/v1/users", json!({ "username": "carl", "password": pw }));
    assert_eq!(r.status, 201, "{r:?}");
    let so = same_origin(&s);
    let login = |name: &str, password: &str| {
        send(
            "POST",
            &format!("{}/ui/login", s.addr),
            &with(&so, &[]),
            Some(&[("username", name), ("password", password)]),
            None,
        )
    };
    // The password pasted as the username, then a real sign-in.
    assert_eq!(login(&pw, "x").status, 401);
    let p = login("carl", &pw);
    assert_eq!(p.status, 303);
    let cookie = p.set_cookie[0].split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let secret = token.split('.').nth(1).unwrap().to_owned();
    let csrf = csrf_of(&s, &cookie);
    // A refused cookie request, a page with an error, sign-out.
    let r = send(
        "POST",
        &format!("{}/v1/projects", s.addr),
        &with(&so, &[("cookie", &cookie)]),
        None,
        Some(json!({ "name": "x" })),
    );
    assert_eq!(r.status, 403);
    assert!(!r.body.contains(&secret) && !r.body.contains(&csrf));
    let r = send(
        "POST",
        &format!("{}/ui/logout", s.addr),
        &with(&so, &[("cookie", &cookie)]),
        Some(&[("csrf", &csrf)]),
        None,
    );
    assert_eq!(r.status, 303);

    let export = root.get("/v1/audit/export?format=jsonl").text;
    for (what, needle) in [
        ("password", &pw),
        ("session secret", &secret),
        ("CSRF token", &csrf),
    ] {
        assert!(
            !export.contains(needle.as_str()),
            "{what} in the audit export"
        );
    }
    let (dir, log) = (s.data_dir.clone(), s.log_path.clone());
    assert!(s.stop());
    let mut files = vec![log];
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (what, needle) in [
            ("password", &pw),
            ("session secret", &secret),
            ("CSRF token", &csrf),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{what} found in {}",
                f.display()
            );
        }
    }
    assert!(files.len() >= 2);
}

/// Access reviews on the pages: start one, revoke a binding with a note,
/// close it; a form without the CSRF token changes nothing.
#[test]
fn an_access_review_on_the_pages() {
    let s = server();
    let root = s.client();
    root.setup("payments", "prod");
    for (u, role, scope) in [
        ("rita", "security-officer", "*"),
        ("alice", "reader", "payments/*"),
        ("bob", "developer", "payments/prod"),
    ] {
        user(&root, u);
        grant(&root, u, role, scope);
    }
    let cookie = sign_in(&s, "rita");
    let csrf = csrf_of(&s, &cookie);
    let so = same_origin(&s);
    let post = |path: &str, form: &[(&str, &str)]| {
        send(
            "POST",
            &format!("{}{path}", s.addr),
            &with(&so, &[("cookie", &cookie)]),
            Some(form),
            None,
        )
    };
    let forged = post(
        "/ui/reviews",
        &[("csrf", "nope"), ("scope", "*"), ("due_days", "14")],
    );
    assert!(forged.body.contains("csrf.failed"), "{}", forged.body);
    let started = post(
        "/ui/reviews",
        &[("csrf", &csrf), ("scope", "payments/*"), ("due_days", "14")],
    );
    assert_eq!(started.status, 303, "{}", started.body);
    let at = started.location.unwrap();
    assert!(at.starts_with("/ui/reviews/rev_"), "{at}");
    let get = |path: &str| {
        send(
            "GET",
            &format!("{}{path}", s.addr),
            &[("cookie", &cookie)],
            None,
            None,
        )
    };
    let page = get(&at);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice") && page.body.contains("bob"));
    // Bob's binding id, from the review (the page's form action).
    let id = at.trim_start_matches("/ui/reviews/");
    let review = root.get(&format!("/v1/access/reviews/{id}"));
    let bob_binding = review.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["user"] == "bob")
        .unwrap()["binding_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice_binding = review.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["user"] == "alice")
        .unwrap()["binding_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(page.body.contains(&format!("/bindings/{bob_binding}")));
    let r = post(
        &format!("{at}/bindings/{bob_binding}"),
        &[
            ("csrf", &csrf),
            ("decision", "revoke"),
            ("note", "left the team"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &format!("{at}/bindings/{alice_binding}"),
        &[("csrf", &csrf), ("decision", "keep"), ("note", "")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(
        &format!("{at}/close"),
        &[("csrf", &csrf), ("attestation", "reviewed with the lead")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get(&at);
    assert!(
        page.body.contains("left the team") && page.body.contains("Closed"),
        "{}",
        page.body
    );
    assert!(page.body.contains("reviewed with the lead"));
    let bob = root.get("/v1/bindings?user=bob");
    assert!(bob.json["bindings"].as_array().unwrap().is_empty());
    let list = get("/ui/reviews");
    assert!(list.body.contains(id), "{}", list.body);
}
