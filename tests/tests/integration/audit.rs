//! The audit trail: who/what/outcome recorded for allowed, denied and failed
//! requests; verification catches edited, deleted and reordered records;
//! export with filters.

use serde_json::Value;
use vault_core::audit::{AuditVerifyingKey, ExportFile, parse_csv, parse_export};
use vault_tests::Server;

fn verify(c: &vault_tests::Client) -> Value {
    let v = c.get("/v1/audit/verify");
    assert_eq!(v.status, 200, "{v:?}");
    v.json
}

#[test]
fn records_allowed_denied_and_failed_requests() {
    let s = Server::dev();
    let c = s.client();
    c.setup("a", "dev");
    c.write("a", "dev", "K", "v");
    let ok = c.read("a", "dev", "K");
    let denied = s.anonymous().read("a", "dev", "K");
    assert_eq!(denied.status, 401);
    let bad_token = c
        .with_token(Some(
            "0123456789abcdef01234567.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ))
        .read("a", "dev", "K");
    assert_eq!(
        (bad_token.status, bad_token.code()),
        (401, "auth.invalid_token")
    );
    let missing = c.read("a", "dev", "NOPE");
    assert_eq!(missing.status, 404);
    let unknown_route = c.get("/v1/nothing/here");
    assert_eq!(unknown_route.code(), "route.not_found");

    let recs = c.get("/v1/audit?limit=1000").json["records"]
        .as_array()
        .unwrap()
        .clone();
    let by_rid = |rid: &Option<String>| {
        recs.iter()
            .find(|r| Some(r["request_id"].as_str().unwrap().to_owned()) == *rid)
            .cloned()
            .unwrap_or_else(|| panic!("no record for {rid:?}"))
    };
    let r = by_rid(&ok.request_id);
    assert_eq!(
        (
            r["action"].as_str(),
            r["resource"].as_str(),
            r["outcome"].as_str()
        ),
        (Some("secret.read"), Some("a/dev/K"), Some("success"))
    );
    assert_eq!(r["actor"], "root");
    assert_eq!(r["source"], "127.0.0.1");
    let tid = r["token_id"].as_str().unwrap();
    assert!(
        s.token.starts_with(tid) && s.token.len() > tid.len() + 10,
        "token id, not the token"
    );
    let r = by_rid(&denied.request_id);
    assert_eq!(
        (
            r["outcome"].as_str(),
            r["detail"].as_str(),
            r["actor"].as_str()
        ),
        (Some("denied"), Some("auth.required"), Some("anonymous"))
    );
    assert_eq!(
        by_rid(&bad_token.request_id)["detail"],
        "auth.invalid_token"
    );
    let r = by_rid(&missing.request_id);
    assert_eq!(
        (r["outcome"].as_str(), r["detail"].as_str()),
        (Some("error"), Some("secret.not_found"))
    );
    let r = by_rid(&unknown_route.request_id);
    assert_eq!(
        (r["action"].as_str(), r["resource"].as_str()),
        (Some("http.get"), Some("/v1/nothing/here"))
    );
    for r in &recs {
        assert!(!r.to_string().contains(&s.token), "token in audit");
        assert!(!r.to_string().contains("\"v\""));
    }
    // Public key.
    let pk = c.get("/v1/audit/public-key");
    assert_eq!(pk.json["algorithm"], "ed25519");
    assert!(pk.json["public_key"].as_str().unwrap().len() >= 43);
}

#[test]
fn verify_catches_edit_delete_reorder() {
    let s = Server::dev();
    let c = s.client();
    c.setup("v", "dev");
    for i in 0..5 {
        c.write("v", "dev", "K", &i.to_string());
    }
    assert_eq!(verify(&c)["ok"], true);
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();

    // Edit.
    let original: String = db
        .query_row("SELECT resource FROM audit_log WHERE seq = 4", [], |r| {
            r.get(0)
        })
        .unwrap();
    db.execute(
        "UPDATE audit_log SET resource = 'v/prod/K' WHERE seq = 4",
        [],
    )
    .unwrap();
    let v = verify(&c);
    assert_eq!(v["ok"], false);
    assert!(v["problem"].as_str().unwrap().contains('4'), "{v}");
    db.execute(
        "UPDATE audit_log SET resource = ?1 WHERE seq = 4",
        [&original],
    )
    .unwrap();
    assert_eq!(verify(&c)["ok"], true);

    // Delete (then put back).
    db.execute_batch("CREATE TEMP TABLE keep AS SELECT * FROM audit_log WHERE seq = 5; DELETE FROM audit_log WHERE seq = 5;").unwrap();
    let v = verify(&c);
    assert_eq!(v["ok"], false, "{v}");
    db.execute_batch("INSERT INTO audit_log SELECT * FROM keep; DROP TABLE keep;")
        .unwrap();
    assert_eq!(verify(&c)["ok"], true);

    // Reorder: swap the contents of records 3 and 4.
    db.execute_batch(
        "UPDATE audit_log SET seq = -3 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -3;",
    )
    .unwrap();
    let v = verify(&c);
    assert_eq!(v["ok"], false, "{v}");
}

fn parse(text: &str) -> ExportFile {
    parse_export(text.as_bytes()).unwrap_or_else(|e| panic!("export does not parse: {e}\n{text}"))
}

#[test]
fn export_filters_and_verifies_offline_with_the_public_key() {
    let s = Server::dev();
    let c = s.client();
    c.setup("e", "dev");
    c.write("e", "dev", "A", "1");
    c.write("e", "dev", "B", "2");
    c.read("e", "dev", "A");
    s.anonymous().read("e", "dev", "A");
    let key = AuditVerifyingKey::from_base64(
        c.get("/v1/audit/public-key").json["public_key"]
            .as_str()
            .unwrap(),
    )
    .unwrap();

    let j = c.get("/v1/audit/export?format=jsonl&action=secret.write");
    assert_eq!(j.status, 200);
    let file = parse(&j.text);
    let recs: Vec<_> = file.records().collect();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r.action == "secret.write"));
    // Left-out records stay as hashes: the filtered file still verifies.
    let rep = file.verify(Some(&key), None);
    assert!(rep.is_ok(), "{}", rep.summary());

    let j = c.get("/v1/audit/export?format=jsonl&actor=anonymous&resource=e/dev");
    let file = parse(&j.text);
    let recs: Vec<_> = file.records().collect();
    assert_eq!(recs.len(), 1, "{}", j.text);
    assert_eq!(recs[0].outcome, vault_core::audit::Outcome::Denied);

    let csv = c.get("/v1/audit/export?format=csv&action=secret.*");
    assert!(csv.content_type.clone().unwrap().starts_with("text/csv"));
    let file = parse_csv(csv.text.as_bytes()).unwrap();
    assert_eq!(file.records().count(), 4, "{}", csv.text);
    assert!(file.verify(Some(&key), None).is_ok());

    // An edited export is caught offline.
    let full = c.get("/v1/audit/export?format=jsonl").text;
    assert!(parse(&full).verify(Some(&key), None).is_ok());
    let edited = full.replacen("\"e/dev/B\"", "\"e/prod/B\"", 1);
    assert_ne!(edited, full);
    assert!(!parse(&edited).verify(Some(&key), None).is_ok());

    let future = c.get("/v1/audit/export?format=jsonl&from=2999-01-01");
    assert_eq!(parse(&future.text).records().count(), 0);
    let bad = c.get("/v1/audit/export?format=xml");
    assert_eq!(bad.code(), "request.invalid_query");
    assert!(
        bad.text.contains("jsonl") && bad.text.contains("csv"),
        "{}",
        bad.text
    );
    // Newest first, and the page before a seq.
    let newest = c.get("/v1/audit?order=newest&limit=3").json;
    let seqs: Vec<u64> = newest["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs[0] > seqs[1] && seqs[1] > seqs[2], "{seqs:?}");
    assert_eq!(newest["next_before"].as_u64(), Some(seqs[2]));
    let older = c
        .get(&format!(
            "/v1/audit?order=newest&limit=2&before={}",
            seqs[2]
        ))
        .json;
    assert_eq!(older["records"][0]["seq"].as_u64(), Some(seqs[2] - 1));
    for bad in ["limit=0", "limit=1001", "after=-1", "order=sideways"] {
        assert_eq!(c.get(&format!("/v1/audit?{bad}")).status, 400, "{bad}");
    }
    let bad = c.get("/v1/audit?from=yesterday");
    assert_eq!(bad.code(), "request.invalid_time");
}

#[test]
fn failed_validation_still_names_the_caller() {
    // Whenever a valid credential was presented, the record names it,
    // wherever the request failed.
    let s = Server::dev();
    let c = s.client();
    c.setup("payments", "prod");
    let weak = c.post(
        "/v1/users",
        serde_json::json!({"username": "bob", "password": "password"}),
    );
    assert_eq!(weak.status, 400, "{weak:?}");
    let empty = c.post("/v1/users", serde_json::json!({}));
    assert_eq!(empty.status, 400, "{empty:?}");
    let bad_name = c.post(
        "/v1/users",
        serde_json::json!({"username": "", "password": "correct horse battery staple 1"}),
    );
    assert_eq!(bad_name.status, 400, "{bad_name:?}");
    let unknown_role = c.post(
        "/v1/bindings",
        serde_json::json!({"user": "nobody", "role": "no-such-role", "scope": "payments/prod"}),
    );
    assert!(unknown_role.status >= 400, "{unknown_role:?}");
    let dotdot = c.get("/v1/projects/payments/environments/dev/../prod/secrets");
    assert_eq!(dotdot.status, 400, "{dotdot:?}");
    let anonymous = s.anonymous().post("/v1/users", serde_json::json!({}));
    let recs = c.get("/v1/audit?limit=1000").json["records"]
        .as_array()
        .unwrap()
        .clone();
    let by_rid = |rid: &Option<String>| {
        recs.iter()
            .find(|r| r["request_id"].as_str() == rid.as_deref())
            .cloned()
            .unwrap_or_else(|| panic!("no record for {rid:?}"))
    };
    for r in [&weak, &empty, &bad_name, &unknown_role, &dotdot] {
        let rec = by_rid(&r.request_id);
        assert_eq!(rec["actor"], "root", "{rec}");
        assert!(rec["token_id"].as_str().is_some(), "{rec}");
        assert_ne!(rec["outcome"], "success", "{rec}");
    }
    assert_eq!(by_rid(&anonymous.request_id)["actor"], "anonymous");
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // A TLS-terminating proxy on the same host: its clients are told apart
    // by X-Forwarded-For, for audit and for throttling.
    let s = vault_tests::Server::dev_with(vault_tests::Options {
        env: vec![(
            "VAULT_SERVER_TRUSTED_PROXIES".into(),
            "[\"127.0.0.1/32\"]".into(),
        )],
        ..Default::default()
    });
    let login = |from: &str, xff: &str| {
        let body = serde_json::json!({"username": "ghost", "password": "wrong wrong wrong"});
        let mut stream = vault_tests::connect_from(from, &s.addr);
        use std::io::{Read, Write};
        let b = body.to_string();
        write!(
            stream,
            "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             X-Forwarded-For: {xff}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    };
    login("127.0.0.1", "198.51.100.1");
    login("127.0.0.2", "198.51.100.2");
    let recs = s.client().get("/v1/audit?action=auth.login&limit=10").json["records"]
        .as_array()
        .unwrap()
        .clone();
    let sources: Vec<&str> = recs.iter().filter_map(|r| r["source"].as_str()).collect();
    assert!(
        sources.contains(&"198.51.100.1"),
        "from the proxy: believed {sources:?}"
    );
    assert!(
        sources.contains(&"127.0.0.2"),
        "from anyone else: ignored {sources:?}"
    );
    assert!(!sources.contains(&"198.51.100.2"), "{sources:?}");
}

#[test]
fn a_filtered_export_from_the_cli_verifies_offline() {
    let s = Server::dev();
    let c = s.client();
    c.setup("f", "dev");
    c.write("f", "dev", "K", "v");
    let _ = c.read("f", "dev", "K");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("reads.jsonl");
    let o = vault_tests::cli::vault(&s)
        .args([
            "audit",
            "export",
            "--action",
            "secret.read",
            "--resource",
            "f/dev",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", vault_tests::cli::stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    let parsed = parse_export(text.as_bytes()).unwrap();
    let shown: Vec<&str> = parsed.records().map(|r| r.action.as_str()).collect();
    assert!(
        !shown.is_empty() && shown.iter().all(|a| *a == "secret.read"),
        "{shown:?}"
    );
    let key = c.get("/v1/audit/public-key").json["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = std::process::Command::new(vault_tests::cli_bin())
        .args(["audit", "verify", "--file"])
        .arg(&file)
        .args(["--public-key", &key])
        .env_remove("VAULT_ADDR")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", vault_tests::cli::stdout(&o));
}
