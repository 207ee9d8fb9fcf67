//! Init → unseal → restart → unseal → data intact; sealed refuses secret
//! routes; dev mode reopens its data dir with a fresh working token.

use serde_json::json;
use vault_tests::{Client, Options, Server};

const PLAIN: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndanger_plain_http_loopback = true\n";

fn config(dir: &std::path::Path) -> String {
    format!("{PLAIN}data_dir = \"{}\"\n", dir.display())
}

#[test]
fn shamir_init_unseal_restart_data_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::with_config(&config(&dir), &dir);
    let anon = s.anonymous();
    let h = anon.get("/v1/sys/health");
    assert_eq!(h.json["initialized"], false);
    assert_eq!(h.json["sealed"], true);

    // Before init, secret routes are refused, saying what to do.
    let r = anon.get("/v1/projects");
    assert_eq!(
        (r.status, r.code()),
        (503, "vault.not_initialized"),
        "{r:?}"
    );
    assert!(r.text.contains("vault operator init"), "{r:?}");

    let init = anon.post(
        "/v1/sys/init",
        json!({"mode": {"type": "shamir", "shares": 3, "threshold": 2}}),
    );
    assert_eq!(init.status, 200, "{init:?}");
    let shares: Vec<String> = init.json["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shares.len(), 3);
    let token = init.json["root_token"].as_str().unwrap().to_owned();
    // A second init is refused.
    let again = anon.post(
        "/v1/sys/init",
        json!({"mode": {"type": "shamir", "shares": 1, "threshold": 1}}),
    );
    assert_eq!(again.status, 409);

    let c = Client::new(&s.addr, Some(&token));
    assert_eq!(c.get("/v1/projects").status, 503, "sealed after init");
    let st = anon.post("/v1/sys/unseal", json!({"share": shares[0]}));
    assert_eq!(st.json["sealed"], true);
    assert_eq!(st.json["progress"], 1);
    let st = anon.post("/v1/sys/unseal", json!({"share": shares[2]}));
    assert_eq!(st.json["sealed"], false, "{st:?}");

    c.setup("demo", "dev");
    c.write("demo", "dev", "DB_URL", "postgres://one");
    c.write("demo", "dev", "DB_URL", "postgres://two");

    // Seal: secret routes answer 503 vault.sealed, health still works.
    assert_eq!(c.post_empty("/v1/sys/seal").status, 200);
    let r = c.read("demo", "dev", "DB_URL");
    assert_eq!((r.status, r.code()), (503, "vault.sealed"));
    assert_eq!(anon.get("/v1/sys/health").json["sealed"], true);

    // Restart: comes up sealed; a wrong share is refused; the right ones unseal.
    assert!(s.stop(), "clean shutdown");
    let s2 = Server::with_config(&config(&dir), &dir);
    let anon = s2.anonymous();
    assert_eq!(anon.get("/v1/sys/health").json["sealed"], true);
    let c = Client::new(&s2.addr, Some(&token));
    assert_eq!(c.read("demo", "dev", "DB_URL").code(), "vault.sealed");
    anon.post("/v1/sys/unseal", json!({"share": shares[1]}));
    let st = anon.post("/v1/sys/unseal", json!({"share": shares[0]}));
    assert_eq!(st.json["sealed"], false, "{st:?}");
    let r = c.read("demo", "dev", "DB_URL");
    assert_eq!(r.json["value"], "postgres://two", "{r:?}");
    assert_eq!(r.json["version"], 2);
    let v1 = c.get("/v1/projects/demo/environments/dev/secrets/DB_URL?version=1");
    assert_eq!(v1.json["value"], "postgres://one");
}

#[test]
fn passphrase_mode_and_wrong_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::with_config(&config(&dir), &dir);
    let anon = s.anonymous();
    let short = anon.post(
        "/v1/sys/init",
        json!({"mode": {"type": "passphrase", "passphrase": "short"}}),
    );
    assert_eq!(short.status, 400);
    // Long enough but easy to guess: the user-password strength rules apply,
    // and the message talks about the passphrase.
    let weak = anon.post(
        "/v1/sys/init",
        json!({"mode": {"type": "passphrase", "passphrase": "passwordpassword"}}),
    );
    assert_eq!(
        (weak.status, weak.code()),
        (400, "sys.weak_passphrase"),
        "{weak:?}"
    );
    let msg = weak.json["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("passphrase") && !msg.contains("share"),
        "{msg}"
    );
    let init = anon.post(
        "/v1/sys/init",
        json!({"mode": {"type": "passphrase", "passphrase": "correct horse battery staple"}}),
    );
    assert_eq!(init.status, 200, "{init:?}");
    let token = init.json["root_token"].as_str().unwrap().to_owned();
    // Three wrong guesses are answered; then every attempt, even the right
    // passphrase, must wait (1 s, doubling), so guessing stays slow. Sent
    // all at once, the guesses are taken one at a time: no burst gets past.
    let codes: Vec<(u16, String)> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let r = anon.post(
                        "/v1/sys/unseal",
                        json!({"passphrase": "wrong horse battery staple"}),
                    );
                    (r.status, r.code().to_owned())
                })
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let failed = codes
        .iter()
        .filter(|c| **c == (400, "sys.unseal_failed".to_owned()))
        .count();
    let throttled = codes
        .iter()
        .filter(|c| **c == (429, "sys.unseal_throttled".to_owned()))
        .count();
    assert_eq!((failed, throttled), (3, 3), "{codes:?}");
    let right = json!({"passphrase": "correct horse battery staple"});
    let early = anon.post("/v1/sys/unseal", right.clone());
    assert_eq!(
        (early.status, early.code()),
        (429, "sys.unseal_throttled"),
        "{early:?}"
    );
    assert_eq!(anon.get("/v1/sys/seal-status").json["sealed"], true);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let ok = anon.post("/v1/sys/unseal", right);
    assert_eq!(ok.json["sealed"], false, "{ok:?}");
    let audit = Client::new(&s.addr, Some(&token)).get("/v1/audit?action=sys.unseal&limit=20");
    assert!(
        audit.text.contains("sys.unseal_throttled"),
        "{}",
        audit.text
    );
    let c = Client::new(&s.addr, Some(&token));
    c.setup("pp", "prod");
    c.write("pp", "prod", "K", "v");
    assert!(s.stop());
    let s2 = Server::with_config(&config(&dir), &dir);
    s2.anonymous().post(
        "/v1/sys/unseal",
        json!({"passphrase": "correct horse battery staple"}),
    );
    let c = Client::new(&s2.addr, Some(&token));
    assert_eq!(c.read("pp", "prod", "K").json["value"], "v");
}

#[test]
fn key_file_mode_unseals_itself_on_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cfg = format!(
        "{}\n[unseal]\nkey_file = \"{}\"\n",
        config(&dir),
        tmp.path().join("unseal.key").display()
    );
    let mut s = Server::with_config(&cfg, &dir);
    let init = s
        .anonymous()
        .post("/v1/sys/init", json!({"mode": {"type": "key_file"}}));
    assert_eq!(init.status, 200, "{init:?}");
    let token = init.json["root_token"].as_str().unwrap().to_owned();
    let c = Client::new(&s.addr, Some(&token));
    c.setup("kf", "dev");
    c.write("kf", "dev", "A", "1");
    assert!(s.stop());
    let s2 = Server::with_config(&cfg, &dir);
    assert_eq!(s2.anonymous().get("/v1/sys/health").json["sealed"], false);
    assert_eq!(
        Client::new(&s2.addr, Some(&token))
            .read("kf", "dev", "A")
            .json["value"],
        "1"
    );
}

#[test]
fn dev_mode_reopens_data_with_a_working_token() {
    let mut s = Server::dev();
    let c = s.client();
    c.setup("demo", "dev");
    c.write("demo", "dev", "API_KEY", "first");
    let dir = s.data_dir.clone();
    let tmp = s.take_tmp();
    assert!(s.stop());
    let s2 = Server::dev_in(&dir, Options::default());
    assert_eq!(s2.token, s.token, "one dev root token across restarts");
    let r = s2.client().read("demo", "dev", "API_KEY");
    assert_eq!(r.json["value"], "first", "{r:?}");
    drop(s2);
    drop(tmp);
}

fn shares_of(init: &vault_tests::Resp) -> Vec<String> {
    init.json["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn shamir_server(dir: &std::path::Path, shares: u8, threshold: u8) -> (Server, Vec<String>) {
    let s = Server::with_config(&config(dir), dir);
    let init = s.anonymous().post(
        "/v1/sys/init",
        json!({"mode": {"type": "shamir", "shares": shares, "threshold": threshold}}),
    );
    assert_eq!(init.status, 200, "{init:?}");
    let shares = shares_of(&init);
    (s, shares)
}

#[test]
fn bad_and_repeated_shares_are_refused_on_submission() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, shares) = shamir_server(&tmp.path().join("a"), 3, 2);
    // A well-formed share of another vault with the same threshold.
    let (_other, foreign) = shamir_server(&tmp.path().join("b"), 3, 2);
    let anon = s.anonymous();
    let truncated = &shares[0][..shares[0].len() - 6];
    let mut flipped = shares[0].clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    // Each from its own address: bad shares count as failed attempts.
    for (i, bad) in ["hello", truncated, &flipped, &foreign[0]]
        .iter()
        .enumerate()
    {
        let body = json!({ "share": bad }).to_string();
        let source = format!("127.0.0.{}", i + 2);
        let (status, text) =
            vault_tests::http_from(&source, &s.addr, "POST", "/v1/sys/unseal", &body);
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("sys.invalid_share"), "{text}");
        assert!(!text.contains(*bad), "the share is never echoed");
        // Nothing was counted toward the threshold.
        let st = anon.get("/v1/sys/seal-status");
        assert_eq!(st.json["progress"], 0, "{st:?}");
    }
    let st = anon.post("/v1/sys/unseal", json!({ "share": shares[1] }));
    assert_eq!(st.json["progress"], 1, "{st:?}");
    let again = anon.post("/v1/sys/unseal", json!({ "share": shares[1] }));
    assert_eq!(
        (again.status, again.code()),
        (409, "sys.share_already_given"),
        "{again:?}"
    );
    assert!(
        again.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 of 2")
    );
    let st = anon.post("/v1/sys/unseal", json!({ "share": shares[2] }));
    assert_eq!(st.json["sealed"], false, "{st:?}");
}

#[test]
fn strangers_cannot_keep_the_vault_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = Server::with_config(&config(&dir), &dir);
    let init = s.anonymous().post(
        "/v1/sys/init",
        json!({"mode": {"type": "passphrase", "passphrase": "correct horse battery staple"}}),
    );
    assert_eq!(init.status, 200, "{init:?}");
    // Five wrong attempts from a stranger's address: that address waits...
    let wrong = json!({"passphrase": "wrong horse battery staple"}).to_string();
    let codes: Vec<u16> = (0..5)
        .map(|_| vault_tests::http_from("127.0.0.9", &s.addr, "POST", "/v1/sys/unseal", &wrong).0)
        .collect();
    assert_eq!(codes, [400, 400, 400, 429, 429]);
    // ...but the operators, elsewhere, unseal at once.
    let right = json!({"passphrase": "correct horse battery staple"}).to_string();
    let (status, body) =
        vault_tests::http_from("127.0.0.1", &s.addr, "POST", "/v1/sys/unseal", &right);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sealed\":false"), "{body}");
    let log = s.log();
    assert!(
        log.contains("WARN") && log.contains("unseal attempt refused"),
        "{log}"
    );
    assert!(!log.contains("wrong horse"), "no passphrase in the log");
}

#[test]
fn a_manual_seal_in_key_file_mode_needs_the_key() {
    let s = Server::dev();
    let c = s.client();
    assert_eq!(c.post_empty("/v1/sys/seal").status, 200);
    // Anyone could call this: it must not undo an emergency seal.
    let r = s.anonymous().post("/v1/sys/unseal", json!({}));
    assert_eq!((r.status, r.code()), (400, "sys.key_required"), "{r:?}");
    assert_eq!(s.anonymous().get("/v1/sys/health").json["sealed"], true);
    let r = s
        .anonymous()
        .post("/v1/sys/unseal", json!({"key": "vault-unseal-key-v1.AAAA"}));
    assert_eq!((r.status, r.code()), (400, "sys.unseal_failed"), "{r:?}");
    let key = std::fs::read_to_string(s.data_dir.join("unseal.key")).unwrap();
    let r = s
        .anonymous()
        .post("/v1/sys/unseal", json!({"key": key.trim()}));
    assert_eq!(r.json["sealed"], false, "{r:?}");
}

#[test]
fn data_files_are_private_and_wider_ones_are_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let s = Server::dev();
    assert_eq!(mode(&s.data_dir), 0o700);
    assert_eq!(mode(&s.db_path()), 0o600);
    assert_eq!(mode(&s.data_dir.join("unseal.key")), 0o600);
    let wal = s.data_dir.join("vault.db-wal");
    assert_eq!(mode(&wal), 0o600);
    // A data directory someone made world-readable is reported at start.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = Server::dev_in(&dir, Options::default());
    let log = s.log();
    assert!(log.contains("WARN") && log.contains("mode 755"), "{log}");
}
