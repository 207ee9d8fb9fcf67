//! Tampered or moved ciphertexts answer an integrity error and leave a
//! critical audit event; never another row's plaintext.

use vault_tests::Server;

fn version_row(db: &rusqlite::Connection, name: &str) -> (i64, Vec<u8>) {
    db.query_row(
        "SELECT v.id, v.envelope FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ?1 ORDER BY v.version DESC LIMIT 1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn flipped_and_moved_ciphertexts_are_integrity_errors() {
    let s = Server::dev();
    let c = s.client();
    c.setup("t", "dev");
    c.write("t", "dev", "FLIP", "flip-me");
    c.write("t", "dev", "SOURCE", "source-plaintext");
    c.write("t", "dev", "TARGET", "target-plaintext");
    c.write("t", "dev", "OK", "untouched");

    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    // Flip one byte in each region of the envelope: header, wrapped key, value.
    let (id, env) = version_row(&db, "FLIP");
    for pos in [env.len() / 2, env.len() - 1] {
        let mut bad = env.clone();
        bad[pos] ^= 0x01;
        db.execute(
            "UPDATE secret_versions SET envelope = ?2 WHERE id = ?1",
            rusqlite::params![id, bad],
        )
        .unwrap();
        let r = c.read("t", "dev", "FLIP");
        assert_eq!(
            (r.status, r.code()),
            (500, "secret.integrity_error"),
            "byte {pos}: {r:?}"
        );
        assert!(!r.text.contains("flip-me"));
    }
    // Move SOURCE's ciphertext into TARGET's row.
    let (_, source_env) = version_row(&db, "SOURCE");
    let (target_id, _) = version_row(&db, "TARGET");
    db.execute(
        "UPDATE secret_versions SET envelope = ?2 WHERE id = ?1",
        rusqlite::params![target_id, source_env],
    )
    .unwrap();
    let r = c.read("t", "dev", "TARGET");
    assert_eq!(
        (r.status, r.code()),
        (500, "secret.integrity_error"),
        "{r:?}"
    );
    assert!(!r.text.contains("source-plaintext") && !r.text.contains("target-plaintext"));
    // The bundle fails closed too rather than returning partial data.
    let b = c.get("/v1/projects/t/environments/dev/bundle");
    assert_eq!(b.code(), "secret.integrity_error");
    assert!(!b.text.contains("untouched"));
    // Other secrets are fine.
    assert_eq!(c.read("t", "dev", "OK").json["value"], "untouched");

    let audit = c.get("/v1/audit?action=secret.integrity_failure");
    let recs = audit.json["records"].as_array().unwrap();
    assert!(recs.len() >= 3, "{audit:?}");
    assert!(
        recs.iter()
            .any(|r| r["resource"].as_str().unwrap().starts_with("t/dev/TARGET"))
    );
    assert!(
        recs.iter()
            .all(|r| r["outcome"] == "error" && r["detail"].as_str().unwrap().contains("critical"))
    );
    let reads = c.get("/v1/audit?action=secret.read&resource=t/dev/TARGET");
    assert!(
        reads.json["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["detail"] == "secret.integrity_error")
    );
    assert!(s.log().contains("CRITICAL"));
}
