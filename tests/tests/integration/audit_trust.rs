//! The audit trail cannot be shortened or rewritten undetected: every commit
//! signs the head, so cutting or re-hashing acknowledged records fails
//! `vault audit verify`; the server refuses to unseal over a broken chain;
//! exports end with a fresh signature and offline verification is strict;
//! a saved head catches a trail cut back even by a holder of the signing key.

use serde_json::{Value, json};
use vault_core::audit::{AuditRecord, ChainHead};
use vault_tests::cli::{stderr, stdout};
use vault_tests::{Client, Server};

const PLAIN: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndanger_plain_http_loopback = true\n";

fn key_file_config(dir: &std::path::Path) -> String {
    format!(
        "{PLAIN}data_dir = \"{}\"\n[unseal]\nkey_file = \"{}\"\n",
        dir.display(),
        dir.with_extension("key").display()
    )
}

/// A key-file server, initialized; its `token` is the root token.
fn key_file_server(dir: &std::path::Path) -> Server {
    let mut s = Server::with_config(&key_file_config(dir), dir);
    let init = s
        .anonymous()
        .post("/v1/sys/init", json!({"mode": {"type": "key_file"}}));
    assert_eq!(init.status, 200, "{init:?}");
    s.token = init.json["root_token"].as_str().unwrap().to_owned();
    s
}

fn restart(mut s: Server, dir: &std::path::Path) -> Server {
    let token = s.token.clone();
    assert!(s.stop());
    let mut s2 = Server::with_config(&key_file_config(dir), dir);
    s2.token = token;
    s2
}

fn some_activity(c: &Client, n: usize) {
    c.setup("p", "dev");
    for i in 0..n {
        c.write("p", "dev", "K", &format!("v{i}"));
    }
}

fn records(c: &Client) -> Vec<AuditRecord> {
    serde_json::from_value(c.get("/v1/audit?limit=1000").json["records"].clone()).unwrap()
}

fn verify_cli(s: &Server, extra: &[&str]) -> std::process::Output {
    vault_tests::cli::vault(s)
        .args(["audit", "verify"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn cutting_the_tail_is_caught_and_blocks_unseal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = key_file_server(&dir);
    some_activity(&s.client(), 8);
    assert_eq!(verify_cli(&s, &[]).status.code(), Some(0));
    // An attacker with the database cuts the last 5 records.
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.execute(
        "DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) - 5 FROM audit_log)",
        [],
    )
    .unwrap();
    let o = verify_cli(&s, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stderr(&o).contains("removed"), "{}", stderr(&o));
    // Offline, with the server stopped: it will not extend the broken chain.
    drop(db);
    let s = restart(s, &dir);
    assert_eq!(
        s.anonymous().get("/v1/sys/health").json["sealed"],
        true,
        "{}",
        s.log()
    );
    let log = s.log();
    assert!(
        log.contains("CRITICAL") && log.contains("audit chain"),
        "{log}"
    );
    let key = std::fs::read_to_string(dir.with_extension("key")).unwrap();
    let r = s
        .anonymous()
        .post("/v1/sys/unseal", json!({ "key": key.trim() }));
    assert_eq!((r.status, r.code()), (500, "audit.chain_broken"), "{r:?}");
    assert_eq!(s.anonymous().get("/v1/sys/health").json["sealed"], true);
}

#[test]
fn rewriting_records_and_their_hashes_is_caught() {
    // The chain is unkeyed: a forger can recompute every hash after an
    // edit. The head signed with each commit no longer matches.
    let s = Server::dev();
    let c = s.client();
    some_activity(&c, 6);
    let recs = records(&c);
    let k = recs.len() - 3;
    let mut head = ChainHead::after(&recs[k - 1]).unwrap();
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    for (i, r) in recs[k..].iter().enumerate() {
        let mut e = r.entry();
        if i == 0 {
            e.actor = "user:somebody-else".into();
        }
        let forged = head.append(e);
        db.execute(
            "UPDATE audit_log SET actor = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                forged.actor,
                forged.prev_hash,
                forged.hash,
                forged.seq as i64
            ],
        )
        .unwrap();
    }
    let o = verify_cli(&s, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn exports_end_signed_and_offline_verification_is_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::dev();
    let c = s.client();
    some_activity(&c, 4);
    let export = c.get("/v1/audit/export?format=jsonl").text;
    let key = c.get("/v1/audit/public-key").json["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_file = write_file(tmp.path(), "audit.pub", &key);
    let offline = |text: &str, key: &str| {
        let f = write_file(tmp.path(), "audit.jsonl", text);
        let o = std::process::Command::new(vault_tests::cli_bin())
            .args(["audit", "verify", "--file", &f, "--public-key", key])
            .env_remove("VAULT_ADDR")
            .output()
            .unwrap();
        (o.status.code(), stdout(&o) + &stderr(&o))
    };
    let (code, out) = offline(&export, &key_file);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("note: records"), "fully covered: {out}");

    // Cut short: the last record and the signed head after it are gone.
    let lines: Vec<&str> = export.lines().collect();
    let cut = lines[..lines.len() - 2].join("\n") + "\n";
    let (code, out) = offline(&cut, &key_file);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("not covered by any signed checkpoint"),
        "{out}"
    );

    // No signed checkpoint at all: never "ok".
    let unsigned: String = export
        .lines()
        .filter(|l| !l.contains("\"signature\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, out) = offline(&unsigned, &key_file);
    assert_eq!(code, Some(3), "{out}");
    assert!(!out.starts_with("ok"), "{out}");

    // Another server's key: said to be the wrong key, not tampering.
    let other = Server::dev();
    let other_key = other.client().get("/v1/audit/public-key").json["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out) = offline(&export, &other_key);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("wrong key"), "{out}");
    assert!(!out.contains("records were deleted"), "{out}");
}

#[test]
fn a_saved_head_catches_a_trail_cut_back_and_resigned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = key_file_server(&dir);
    let c = s.client();
    some_activity(&c, 3);
    // A seal and unseal sign checkpoints into the history.
    assert_eq!(c.post_empty("/v1/sys/seal").status, 200);
    let key = std::fs::read_to_string(dir.with_extension("key")).unwrap();
    let r = s
        .anonymous()
        .post("/v1/sys/unseal", json!({ "key": key.trim() }));
    assert_eq!(r.json["sealed"], false, "{r:?}");
    some_activity(&c, 1);
    // What an insider copies now: the head as stored with its MAC.
    let old_head: Vec<u8> = rusqlite::Connection::open(s.db_path())
        .unwrap()
        .query_row(
            "SELECT value FROM system_values WHERE label = 'audit-head-mac'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let m = serde_json::from_slice::<Value>(&old_head).unwrap()["seq"]
        .as_i64()
        .unwrap();
    some_activity(&c, 4);
    // The auditor saves a head.
    let head_file = tmp.path().join("head.json");
    let o = vault_tests::cli::vault(&s)
        .args(["audit", "head", "-o"])
        .arg(&head_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&head_file).unwrap()).unwrap();
    let saved_seq = saved["seq"].as_i64().unwrap();
    some_activity(&c, 2);
    let s = restart(s, &dir);
    let token = s.token.clone();
    let mut s = s;
    assert!(s.stop());
    // An insider cuts the trail back to that head and replays the copy;
    // every signature and MAC left in the database is genuine.
    let db = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    assert!(m < saved_seq);
    db.execute("DELETE FROM audit_log WHERE seq > ?1", [m])
        .unwrap();
    db.execute("DELETE FROM audit_checkpoints WHERE seq > ?1", [m])
        .unwrap();
    db.execute(
        "UPDATE system_values SET value = ?1 WHERE label = 'audit-head-mac'",
        [old_head],
    )
    .unwrap();
    drop(db);
    let mut s = Server::with_config(&key_file_config(&dir), &dir);
    s.token = token;
    assert_eq!(s.anonymous().get("/v1/sys/health").json["sealed"], false);
    // The trail is consistent in itself...
    let o = verify_cli(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // ...but no longer holds the head the auditor saved.
    let o = verify_cli(&s, &["--against", head_file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("removed from the end"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_emergency_seal_works_even_over_a_broken_chain() {
    let s = Server::dev();
    let c = s.client();
    some_activity(&c, 3);
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.execute(
        "UPDATE audit_log SET actor = 'user:nobody' WHERE seq = (SELECT MAX(seq) FROM audit_log)",
        [],
    )
    .unwrap();
    let r = c.post_empty("/v1/sys/seal");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(s.anonymous().get("/v1/sys/health").json["sealed"], true);
}

#[test]
fn extending_a_broken_chain_knowingly_resumes_signing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let s = key_file_server(&dir);
    some_activity(&s.client(), 5);
    let mut s = s;
    let token = s.token.clone();
    assert!(s.stop());
    let db = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    // The last record, which the checkpoint of the clean stop covers.
    db.execute(
        "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
        [],
    )
    .unwrap();
    drop(db);
    let cfg = format!(
        "{}[audit]\ndanger_extend_broken_chain = true\n",
        key_file_config(&dir)
    );
    let mut s = Server::with_config(&cfg, &dir);
    s.token = token;
    assert_eq!(s.anonymous().get("/v1/sys/health").json["sealed"], false);
    let c = s.client();
    let breaks = c.get("/v1/audit?action=audit.chain_break").text;
    assert!(breaks.contains("critical"), "{breaks}");
    // Signing goes on from there: a head can be saved, the vault sealed.
    assert_eq!(c.get("/v1/audit/head").status, 200);
    // The break stays on record for verification.
    assert_eq!(verify_cli(&s, &[]).status.code(), Some(3));
    assert_eq!(c.post_empty("/v1/sys/seal").status, 200);
}
