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

/// Starts a dev server on `dir` that must refuse to start; its stderr.
fn refused_start(dir: &std::path::Path) -> String {
    let out = std::process::Command::new(vault_tests::server_bin())
        .args(["--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started");
    String::from_utf8_lossy(&out.stderr).into_owned()
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

#[test]
fn a_flipped_bit_in_a_wrapped_kek_is_an_integrity_error() {
    let s = Server::dev();
    let c = s.client();
    c.setup("k", "dev");
    c.write("k", "dev", "A", "alpha");
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let mut wrapped: Vec<u8> = db
        .query_row("SELECT wrapped FROM keks LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let mid = wrapped.len() / 2;
    wrapped[mid] ^= 0x01;
    db.execute("UPDATE keks SET wrapped = ?1", [wrapped])
        .unwrap();
    // Seal and unseal so the key ring is read again from the database.
    assert_eq!(c.post_empty("/v1/sys/seal").status, 200);
    let key = std::fs::read_to_string(s.data_dir.join("unseal.key")).unwrap();
    let st = s
        .anonymous()
        .post("/v1/sys/unseal", serde_json::json!({ "key": key.trim() }));
    assert_eq!(st.json["sealed"], false, "{st:?}");
    let r = c.read("k", "dev", "A");
    assert_eq!(
        (r.status, r.code()),
        (500, "secret.integrity_error"),
        "{r:?}"
    );
    assert!(!r.text.contains("alpha"));
    let audit = c.get("/v1/audit?action=keys.integrity_failure").text;
    assert!(audit.contains("critical"), "{audit}");
    let m = c.get("/v1/sys/metrics").text;
    assert!(!m.contains("vault_integrity_failures_total 0"), "{m}");
}

#[test]
fn a_database_with_damaged_pages_is_refused_at_start() {
    let mut s = Server::dev();
    let c = s.client();
    c.setup("q", "dev");
    for i in 0..50 {
        c.write("q", "dev", &format!("K{i}"), &"v".repeat(200));
    }
    let dir = s.data_dir.clone();
    let tmp = s.take_tmp();
    assert!(s.stop());
    let db = dir.join("vault.db");
    // Move everything from the WAL into the database file first.
    rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 4, "{pages} pages");
    // Scribble over the middle of every page after the first two.
    for p in 2..pages {
        let at = p * 4096 + 1000;
        bytes[at..at + 500].fill(0xA5);
    }
    std::fs::write(&db, bytes).unwrap();
    let err = refused_start(&dir);
    assert!(
        err.contains("quick_check") || err.contains("damaged"),
        "{err}"
    );
    assert!(err.contains("backup"), "{err}");
    drop(tmp);
}

#[test]
fn deleting_a_project_leaves_no_copy_of_its_keys_on_disk() {
    let s = Server::dev();
    let c = s.client();
    c.setup("gone", "dev");
    c.write("gone", "dev", "A", "alpha");
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    let wrapped: Vec<u8> = db
        .query_row(
            "SELECT k.wrapped FROM keks k JOIN projects p ON p.id = k.project_id WHERE p.name = 'gone'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(db);
    let contains = |hay: &[u8]| hay.windows(wrapped.len()).any(|w| w == wrapped.as_slice());
    assert_eq!(c.delete("/v1/projects/gone").status, 204);
    for f in ["vault.db", "vault.db-wal"] {
        let bytes = std::fs::read(s.data_dir.join(f)).unwrap_or_default();
        assert!(!contains(&bytes), "the wrapped KEK is still in {f}");
    }
}

#[test]
fn an_older_version_put_back_as_current_is_an_integrity_error() {
    let s = Server::dev();
    let c = s.client();
    c.setup("r", "dev");
    c.write("r", "dev", "DB_PASS", "old-password");
    c.write("r", "dev", "DB_PASS", "new-password");
    c.write("r", "dev", "OTHER", "fine");
    assert_eq!(c.read("r", "dev", "DB_PASS").json["value"], "new-password");
    // Offline (here: beside the server), the newest version row is deleted
    // and the secret pointed back at version 1, a genuine ciphertext.
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute_batch(
        "DELETE FROM secret_versions WHERE version = 2 AND secret_id = (SELECT id FROM secrets WHERE name = 'DB_PASS');
         UPDATE secrets SET current_version = 1 WHERE name = 'DB_PASS';",
    )
    .unwrap();
    // A write commit empties the read cache, as any change would.
    c.write("r", "dev", "OTHER", "still fine");
    let r = c.read("r", "dev", "DB_PASS");
    assert_eq!(
        (r.status, r.code()),
        (500, "secret.integrity_error"),
        "{r:?}"
    );
    assert!(!r.text.contains("old-password"));
    let b = c.get("/v1/projects/r/environments/dev/bundle");
    assert_eq!(b.code(), "secret.integrity_error", "{b:?}");
    // An explicit old version is still readable: it is genuine history.
    let v1 = c.get("/v1/projects/r/environments/dev/secrets/DB_PASS?version=1");
    assert_eq!(v1.json["value"], "old-password", "{v1:?}");
    // A removed MAC is no way around it.
    db.execute(
        "UPDATE secrets SET head_mac = NULL WHERE name = 'OTHER'",
        [],
    )
    .unwrap();
    c.write("r", "dev", "THIRD", "x");
    assert_eq!(c.read("r", "dev", "OTHER").code(), "secret.integrity_error");
    let audit = c.get("/v1/audit?action=secret.integrity_failure").text;
    assert!(audit.contains("not the one last written"), "{audit}");
}

#[test]
fn secrets_written_before_head_macs_get_one_at_the_first_unseal() {
    // A database from before head MACs: no MACs and no marker.
    let mut s = Server::dev();
    let c = s.client();
    c.setup("u", "dev");
    c.write("u", "dev", "A", "alpha");
    let dir = s.data_dir.clone();
    let tmp = s.take_tmp();
    assert!(s.stop());
    let db = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    db.execute_batch(
        "UPDATE secrets SET head_mac = NULL;
         DELETE FROM system_values WHERE label = 'secret-head-macs';",
    )
    .unwrap();
    drop(db);
    let s = Server::dev_in(&dir, vault_tests::Options::default());
    assert_eq!(s.client().read("u", "dev", "A").json["value"], "alpha");
    drop(s);
    drop(tmp);
}

#[test]
fn removing_the_head_mac_marker_does_not_launder_a_rollback() {
    let mut s = Server::dev();
    let c = s.client();
    c.setup("m", "dev");
    c.write("m", "dev", "A", "one");
    c.write("m", "dev", "A", "two");
    let dir = s.data_dir.clone();
    let tmp = s.take_tmp();
    assert!(s.stop());
    let db = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    db.execute_batch(
        "DELETE FROM secret_versions WHERE version = 2;
         UPDATE secrets SET current_version = 1;
         DELETE FROM system_values WHERE label = 'secret-head-macs';",
    )
    .unwrap();
    drop(db);
    // Dev mode unseals at start: it refuses to recompute, so it does not start.
    let err = refused_start(&dir);
    assert!(err.contains("head MACs"), "{err}");
    drop(tmp);
}
