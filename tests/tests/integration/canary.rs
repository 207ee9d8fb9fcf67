//! A random canary value never appears in the database files, the server's
//! log, or the audit export; nor does the admin token appear in the log.

use serde_json::json;
use vault_tests::{Server, random_hex};

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn canary_never_leaks() {
    let canary = format!("CANARY-{}", random_hex(16));
    let mut s = Server::dev();
    let c = s.client();
    c.setup("c", "dev");
    c.write("c", "dev", "CANARY", &canary);
    c.write("c", "dev", "CANARY", &format!("{canary}-v2"));
    assert_eq!(
        c.read("c", "dev", "CANARY").json["value"],
        format!("{canary}-v2")
    );
    c.get("/v1/projects/c/environments/dev/bundle");
    c.post(
        "/v1/projects/c/environments/dev/secrets/CANARY/rollback",
        json!({"version": 1}),
    );
    c.get("/v1/projects/c/environments/dev/secrets/CANARY/history");
    c.delete("/v1/projects/c/environments/dev/secrets/CANARY");
    c.post_empty("/v1/projects/c/environments/dev/trash/CANARY/restore");
    // Malformed requests carrying the canary.
    c.put_raw(
        "/v1/projects/c/environments/dev/secrets/CANARY",
        "application/json",
        format!("{{\"value\": \"{canary}\", \"bogus\": [").as_bytes(),
    );
    c.put(
        "/v1/projects/c/environments/dev/secrets/1BAD",
        json!({"value": canary}),
    );

    for format in ["jsonl", "csv"] {
        let e = c.get(&format!("/v1/audit/export?format={format}"));
        assert_eq!(e.status, 200);
        assert!(
            !e.text.contains(&canary),
            "canary in the {format} audit export"
        );
        assert!(!e.text.contains(&s.token));
    }
    let dir = s.data_dir.clone();
    let log_path = s.log_path.clone();
    assert!(s.stop());
    let mut checked = 0;
    for f in files_under(&dir).into_iter().chain([log_path]) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "canary found in {}",
            f.display()
        );
        checked += 1;
    }
    assert!(checked >= 2);
    let log = std::fs::read_to_string(&s.log_path).unwrap();
    assert!(!log.contains(&s.token), "the admin token is in the log");
    assert!(!log.contains(s.token.split('.').nth(1).unwrap()));
}
