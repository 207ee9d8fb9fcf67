//! Root tokens are credentials like any other: listed, revocable, optionally
//! expiring; `generate-root` makes one only for the holders of the unseal key
//! material; dev mode keeps one across restarts instead of adding one each.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::json;
use vault_tests::cli::{stderr, stdout};
use vault_tests::{Client, Options, Server};

use super::identity_kit::{refused, server};

fn dev_key(s: &Server) -> String {
    std::fs::read_to_string(s.data_dir.join("unseal.key"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn root_tokens_are_listed_expire_and_can_be_revoked() {
    let s = server();
    let root = s.client();
    let listed = root.get("/v1/tokens");
    let roots = listed.json["root_tokens"].as_array().unwrap().clone();
    assert_eq!(roots.len(), 1, "{listed:?}");
    assert_eq!(roots[0]["origin"], "init");
    assert!(!listed.text.contains(&s.token), "never the token itself");

    // Anyone can try; only the key material makes a token.
    let wrong = s.anonymous().post(
        "/v1/sys/generate-root",
        json!({"key": "vault-unseal-key-v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    );
    refused(&wrong, 400, "sys.unseal_failed");
    let generated = s.anonymous().post(
        "/v1/sys/generate-root",
        json!({"key": dev_key(&s), "ttl_secs": 600}),
    );
    assert_eq!(generated.status, 200, "{generated:?}");
    let new_token = generated.json["root_token"].as_str().unwrap().to_owned();
    let new_id = generated.json["token"]["id"].as_str().unwrap().to_owned();
    let fresh = Client::new(&s.addr, Some(&new_token));
    assert_eq!(fresh.get("/v1/auth/whoami").json["kind"], "root");

    // A third, without expiry, to drive the test clock.
    let clock = Client::new(&s.addr, Some(&generate(&s)));
    // The first root token is revoked with the new one: gone at once.
    let old_id = roots[0]["id"].as_str().unwrap();
    let r = fresh.delete(&format!("/v1/tokens/{old_id}"));
    assert_eq!(r.status, 204, "{r:?}");
    refused(&root.get("/v1/projects"), 401, "auth.invalid_token");

    // The new one expires with its TTL.
    let r = clock.post("/v1/sys/danger-test-clock", json!({ "advance_secs": 601 }));
    assert_eq!(r.status, 200, "{r:?}");
    refused(&fresh.get("/v1/projects"), 401, "auth.token_expired");
    let audit = clock.get("/v1/audit?action=sys.generate_root");
    assert!(audit.text.contains(&new_id), "{audit:?}");
    assert!(audit.text.contains("sys.unseal_failed"), "{audit:?}");
}

fn generate(s: &Server) -> String {
    let r = s
        .anonymous()
        .post("/v1/sys/generate-root", json!({"key": dev_key(s)}));
    assert_eq!(r.status, 200, "{r:?}");
    r.json["root_token"].as_str().unwrap().to_owned()
}

#[test]
fn a_ttl_out_of_range_is_refused() {
    let s = Server::dev();
    for ttl in [0, 59, 31 * 86_400] {
        let r = s.anonymous().post(
            "/v1/sys/generate-root",
            json!({"key": dev_key(&s), "ttl_secs": ttl}),
        );
        refused(&r, 400, "token.invalid_ttl");
    }
}

#[test]
fn dev_mode_keeps_one_root_token_across_restarts() {
    let mut s = Server::dev();
    let dir = s.data_dir.clone();
    let tmp = s.take_tmp();
    let mode = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(dir.join("dev-root-token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode, 0o600);
    assert!(s.stop());
    let mut s2 = Server::dev_in(&dir, Options::default());
    assert_eq!(s2.token, s.token, "the same token");
    assert!(s2.stop());
    // If the saved one was revoked, a new one replaces it, and no other
    // root token stays valid.
    let s3 = Server::dev_in(&dir, Options::default());
    let other = generate(&s3);
    let r = s3.client().delete(&format!(
        "/v1/tokens/{}",
        s3.token.split('.').next().unwrap()
    ));
    assert_eq!(r.status, 204, "{r:?}");
    let mut s3 = s3;
    assert!(s3.stop());
    let s4 = Server::dev_in(&dir, Options::default());
    assert_ne!(s4.token, s.token);
    assert_eq!(s4.client().get("/v1/projects").status, 200);
    let r = Client::new(&s4.addr, Some(&other)).get("/v1/projects");
    assert_eq!(r.status, 401, "older root tokens are revoked: {r:?}");
    let live: Vec<_> = s4.client().get("/v1/tokens").json["root_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["revoked_at"].is_null())
        .cloned()
        .collect();
    assert_eq!(live.len(), 1, "{live:?}");
    drop(s4);
    drop(tmp);
}

#[test]
fn generate_root_through_the_cli_with_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndanger_plain_http_loopback = true\ndata_dir = \"{}\"\n",
        dir.display()
    );
    let mut s = Server::with_config(&config, &dir);
    let init = s.anonymous().post(
        "/v1/sys/init",
        json!({"mode": {"type": "shamir", "shares": 3, "threshold": 2}}),
    );
    let shares: Vec<String> = init.json["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for sh in &shares[..2] {
        s.anonymous().post("/v1/sys/unseal", json!({ "share": sh }));
    }
    s.token = String::new();
    let run_generate = |input: &str| {
        let mut child = vault_tests::cli::vault(&s)
            .args([
                "operator",
                "generate-root",
                "--ttl",
                "1h",
                "--format",
                "json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let o = run_generate(&format!("{}\n", shares[0]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("needs 2"), "{}", stderr(&o));
    let o = run_generate(&format!("{}\n{}\n", shares[1], shares[2]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let token = out["root_token"].as_str().unwrap();
    assert!(out["token"]["expires_at"].is_number(), "{out}");
    assert_eq!(
        Client::new(&s.addr, Some(token))
            .get("/v1/auth/whoami")
            .json["kind"],
        "root"
    );
    assert!(!stderr(&o).contains(&shares[1]));
}
