//! Secrets CRUD, versions, history, rollback, cas, trash, restore, destroy,
//! and input validation.

use serde_json::json;
use vault_tests::Server;

const S: &str = "/v1/projects/app/environments/dev/secrets";

#[test]
fn crud_versions_history_rollback_trash() {
    let s = Server::dev();
    let c = s.client();
    c.setup("app", "dev");
    let multi = "line one\nline two\n\"quoted\" ünïcode";
    assert_eq!(c.write("app", "dev", "DB_URL", "v1"), 1);
    assert_eq!(c.write("app", "dev", "DB_URL", "v2"), 2);
    assert_eq!(c.write("app", "dev", "DB_URL", multi), 3);
    assert_eq!(c.read("app", "dev", "DB_URL").json["value"], multi);
    assert_eq!(c.get(&format!("{S}/DB_URL?version=1")).json["value"], "v1");
    assert_eq!(
        c.get(&format!("{S}/DB_URL?version=9")).code(),
        "secret.version_not_found"
    );

    // List: names and versions, never values.
    c.write("app", "dev", "API_KEY", "k");
    let list = c.get(S);
    assert_eq!(list.status, 200);
    assert!(!list.text.contains("v2") && !list.text.contains("line one"));
    let names: Vec<_> = list.json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["API_KEY", "DB_URL"]);

    // History, newest first, no values.
    let h = c.get(&format!("{S}/DB_URL/history"));
    let versions: Vec<u64> = h.json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    assert!(!h.text.contains("v1\""));
    assert_eq!(h.json["versions"][0]["created_by"], "root");

    // Rollback writes version 1's value as version 4.
    let rb = c.post(&format!("{S}/DB_URL/rollback"), json!({"version": 1}));
    assert_eq!(rb.json["version"], 4, "{rb:?}");
    assert_eq!(c.read("app", "dev", "DB_URL").json["value"], "v1");
    let h = c.get(&format!("{S}/DB_URL/history"));
    assert_eq!(h.json["versions"][0]["kind"], "rollback");
    assert_eq!(h.json["versions"][0]["source_version"], 1);

    // Bundle: every current value in one answer.
    let b = c.get("/v1/projects/app/environments/dev/bundle");
    assert_eq!(b.json["secrets"]["DB_URL"], "v1");
    assert_eq!(b.json["secrets"]["API_KEY"], "k");

    // Soft delete → trash → restore → delete → destroy.
    let d = c.delete(&format!("{S}/API_KEY"));
    assert_eq!(d.status, 200, "{d:?}");
    assert!(
        d.json["purge_after"].as_i64().unwrap()
            > d.json["deleted_at"].as_i64().unwrap() + 29 * 86_400_000
    );
    assert_eq!(c.read("app", "dev", "API_KEY").status, 404);
    assert!(
        c.get("/v1/projects/app/environments/dev/bundle").json["secrets"]
            .get("API_KEY")
            .is_none()
    );
    let trash = c.get("/v1/projects/app/environments/dev/trash");
    assert_eq!(trash.json["secrets"][0]["name"], "API_KEY");
    // Writing a trashed name is refused until restored or destroyed.
    let w = c.put(&format!("{S}/API_KEY"), json!({"value": "x"}));
    assert_eq!((w.status, w.code()), (409, "secret.in_trash"));
    let r = c.post_empty("/v1/projects/app/environments/dev/trash/API_KEY/restore");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(c.read("app", "dev", "API_KEY").json["value"], "k");
    c.delete(&format!("{S}/API_KEY"));
    assert_eq!(
        c.delete("/v1/projects/app/environments/dev/trash/API_KEY")
            .status,
        204
    );
    assert_eq!(
        c.get("/v1/projects/app/environments/dev/trash").json["secrets"],
        json!([])
    );
    assert_eq!(
        c.post_empty("/v1/projects/app/environments/dev/trash/API_KEY/restore")
            .status,
        404
    );
    // The name is free again and starts at version 1.
    assert_eq!(c.write("app", "dev", "API_KEY", "new"), 1);
}

#[test]
fn cas_refuses_stale_writes() {
    let s = Server::dev();
    let c = s.client();
    c.setup("app", "dev");
    let w = c.put(&format!("{S}/X"), json!({"value": "a", "cas": 0}));
    assert_eq!(w.json["version"], 1, "cas 0 creates");
    let w = c.put(&format!("{S}/X"), json!({"value": "b", "cas": 0}));
    assert_eq!((w.status, w.code()), (409, "secret.cas_mismatch"));
    let w = c.put(&format!("{S}/X"), json!({"value": "b", "cas": 1}));
    assert_eq!(w.json["version"], 2);
    let w = c.put(&format!("{S}/X"), json!({"value": "c", "cas": 1}));
    assert_eq!(w.status, 409);
    assert_eq!(c.read("app", "dev", "X").json["value"], "b");
    let rb = c.post(&format!("{S}/X/rollback"), json!({"version": 1, "cas": 1}));
    assert_eq!(rb.status, 409);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let s = Server::dev();
    let c = s.client();
    c.setup("app", "dev");
    for bad in ["1ABC", "A-B", "A.B"] {
        let r = c.put(&format!("{S}/{bad}"), json!({"value": "x"}));
        assert_eq!(
            (r.status, r.code()),
            (400, "request.invalid_name"),
            "{bad}: {r:?}"
        );
    }
    for bad in ["DEMO", "a%2e%2e", "..", "%2e%2e"] {
        let r = c.get(&format!("/v1/projects/{bad}/environments"));
        assert!(r.status == 400 || r.status == 404, "{bad}: {r:?}");
        assert_ne!(r.status, 200);
    }
    let big = "x".repeat(64 * 1024 + 1);
    let r = c.put(&format!("{S}/BIG"), json!({"value": big}));
    assert_eq!((r.status, r.code()), (400, "secret.value_too_large"));
    let huge = "x".repeat(300 * 1024);
    let r = c.put(&format!("{S}/BIG"), json!({"value": huge}));
    assert_eq!((r.status, r.code()), (413, "request.too_large"));
    let r = c.put_raw(
        &format!("{S}/BAD"),
        "application/json",
        b"{\"value\": 12345678}",
    );
    assert_eq!((r.status, r.code()), (400, "request.invalid_json"));
    assert!(
        !r.text.contains("12345678"),
        "the error must not echo the value"
    );
    let r = c.put_raw(&format!("{S}/BAD"), "text/plain", b"{}");
    assert_eq!(r.status, 400);
    assert_eq!(c.get(S).json["secrets"], json!([]));
    // Unknown project / environment.
    assert_eq!(
        c.get("/v1/projects/nope/environments/dev/secrets").code(),
        "project.not_found"
    );
    assert_eq!(
        c.get("/v1/projects/app/environments/nope/secrets").code(),
        "environment.not_found"
    );
    // Duplicate project.
    assert_eq!(
        c.post("/v1/projects", json!({"name": "app"})).code(),
        "project.exists"
    );
}

#[test]
fn project_delete_crypto_shreds() {
    let s = Server::dev();
    let c = s.client();
    c.setup("gone", "dev");
    c.write("gone", "dev", "K", "v");
    assert_eq!(c.delete("/v1/projects/gone").status, 204);
    assert_eq!(c.read("gone", "dev", "K").code(), "project.not_found");
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    let keks: i64 = db
        .query_row("SELECT COUNT(*) FROM keks", [], |r| r.get(0))
        .unwrap();
    let versions: i64 = db
        .query_row("SELECT COUNT(*) FROM secret_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!((keks, versions), (0, 0));
}

#[test]
fn values_that_cannot_be_delivered_and_unknown_fields_are_refused() {
    use std::io::Write as _;
    let s = Server::dev();
    let c = s.client();
    c.setup("strict", "dev");
    c.write("strict", "dev", "K", "one");
    let path = "/v1/projects/strict/environments/dev/secrets/K";
    // A NUL byte could never reach a process environment: refused at write.
    let r = c.put(path, json!({ "value": "abc\u{0}def" }));
    assert_eq!((r.status, r.code()), (400, "secret.invalid_value"), "{r:?}");
    // Through the CLI, from stdin, the same.
    let mut child = vault_tests::cli::vault(&s)
        .args(["secrets", "set", "-p", "strict", "-e", "dev", "BIN"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"abc\0def").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("NUL"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A misspelled field is an error, not an unchecked write.
    let r = c.put(path, json!({ "value": "two", "CAS": 3 }));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.text.contains("CAS"), "names the field: {r:?}");
    let now = c.read("strict", "dev", "K");
    assert_eq!(
        (now.json["version"].as_u64(), now.json["value"].as_str()),
        (Some(1), Some("one"))
    );
    assert_eq!(c.read("strict", "dev", "BIN").status, 404);
}

#[test]
fn rollback_needs_only_what_its_route_declares() {
    use super::identity_kit::{grant, login, server, user};
    let s = server();
    let root = s.client();
    root.setup("rb", "dev");
    root.write("rb", "dev", "K", "one");
    root.write("rb", "dev", "K", "two");
    let r = root.post(
        "/v1/roles",
        json!({ "name": "writer-only", "permissions": ["secrets.write"] }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    user(&root, "wes");
    grant(&root, "wes", "writer-only", "rb/dev");
    let wes = login(&s, "wes");
    let r = wes.post(
        "/v1/projects/rb/environments/dev/secrets/K/rollback",
        json!({ "version": 1 }),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!r.text.contains("one"), "the old value is never shown");
    assert_eq!(root.read("rb", "dev", "K").json["value"], "one");
    // Reading stays refused.
    assert_eq!(wes.read("rb", "dev", "K").status, 403);
}
