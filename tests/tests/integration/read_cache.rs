//! The read cache never answers from before an acknowledged change: every
//! test reads first (so the cache holds the answer), changes something, and
//! expects the next read to see the change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use vault_tests::{Client, Server, wait_for};

use super::identity_kit::{advance, grant, login, member, refused, server, user};

const S: &str = "/v1/projects/c/environments/dev";

fn hits(c: &Client) -> u64 {
    let m = c.get("/v1/sys/metrics").text;
    m.lines()
        .find_map(|l| l.strip_prefix("vault_read_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads `name` twice (fill, then hit) and returns the value.
fn read_twice(c: &Client, name: &str) -> String {
    let first = c.read("c", "dev", name);
    let second = c.read("c", "dev", name);
    assert_eq!(first.json["value"], second.json["value"], "{second:?}");
    second.json["value"].as_str().unwrap_or("").to_owned()
}

#[test]
fn secret_changes_are_seen_by_the_next_read() {
    let s = Server::dev();
    let c = s.client();
    c.setup("c", "dev");
    c.write("c", "dev", "K", "v1");
    let before = hits(&c);
    assert_eq!(read_twice(&c, "K"), "v1");
    assert!(hits(&c) > before, "the second read is a cache hit");

    // New version, rollback, bundle.
    c.write("c", "dev", "K", "v2");
    assert_eq!(read_twice(&c, "K"), "v2");
    assert_eq!(c.get(&format!("{S}/bundle")).json["secrets"]["K"], "v2");
    c.write("c", "dev", "L", "l1");
    assert_eq!(c.get(&format!("{S}/bundle")).json["secrets"]["L"], "l1");
    let rb = c.post(&format!("{S}/secrets/K/rollback"), json!({"version": 1}));
    assert_eq!(rb.status, 200, "{rb:?}");
    assert_eq!(read_twice(&c, "K"), "v1");

    // Trash, restore.
    assert_eq!(c.delete(&format!("{S}/secrets/K")).status, 200);
    refused_404(&c.read("c", "dev", "K"));
    assert!(
        c.get(&format!("{S}/bundle")).json["secrets"]
            .get("K")
            .is_none()
    );
    assert_eq!(c.post_empty(&format!("{S}/trash/K/restore")).status, 200);
    assert_eq!(read_twice(&c, "K"), "v1");

    // Rotate, rewrap, retire and destroy the old KEK: a cached envelope
    // wrapped under the destroyed KEK would no longer open.
    assert_eq!(c.post_empty("/v1/projects/c/keys/rotate").status, 200);
    let job = c.post("/v1/keys/rewrap", json!({"project": "c"}));
    assert_eq!(job.status, 202, "{job:?}");
    let id = job.json["id"].as_str().unwrap().to_owned();
    wait_for(Duration::from_secs(30), "the rewrap", || {
        (c.get(&format!("/v1/keys/rewrap/{id}")).json["state"] == "done").then_some(())
    });
    assert_eq!(
        c.post_empty("/v1/projects/c/keys/1/retire").json["state"],
        "retired"
    );
    assert_eq!(
        c.post_empty("/v1/projects/c/keys/1/destroy").json["state"],
        "destroyed"
    );
    assert_eq!(read_twice(&c, "K"), "v1");
    assert_eq!(c.get(&format!("{S}/bundle")).json["secrets"]["L"], "l1");
}

fn refused_404(r: &vault_tests::Resp) {
    assert_eq!(r.status, 404, "{r:?}");
}

#[test]
fn credential_changes_are_seen_by_the_next_request() {
    let s = server();
    let admin = s.client();
    admin.setup("c", "dev");
    admin.write("c", "dev", "K", "v");

    // A role taken away, given back; a user disabled. (Emergency grants
    // given to a live session are covered in identity_emergency.)
    let dev = member(&s, "cara", "developer", "c/*");
    assert_eq!(read_twice(&dev, "K"), "v");
    let bindings = admin.get("/v1/bindings").json;
    let bid = bindings["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["user"] == "cara")
        .and_then(|b| b["id"].as_str())
        .unwrap()
        .to_owned();
    assert_eq!(admin.delete(&format!("/v1/bindings/{bid}")).status, 204);
    // A role change ends the user's sessions.
    refused(&dev.read("c", "dev", "K"), 401, "auth.invalid_token");
    let dev = login(&s, "cara");
    refused(&dev.read("c", "dev", "K"), 403, "access.denied");
    refused(&dev.read("c", "dev", "K"), 403, "access.denied");
    grant(&admin, "cara", "developer", "c/*");
    let dev = login(&s, "cara");
    assert_eq!(read_twice(&dev, "K"), "v");
    assert_eq!(admin.post_empty("/v1/users/cara/disable").status, 200);
    refused(&dev.read("c", "dev", "K"), 401, "auth.invalid_token");

    // A session's idle end holds for a cached session too (no change in
    // between: only the clock moves).
    let idle = member(&s, "ida", "reader", "c/*");
    assert_eq!(read_twice(&idle, "K"), "v");
    advance(&s, 30 * 60 + 1);
    refused(&idle.read("c", "dev", "K"), 401, "auth.session_expired");

    // Logout.
    user(&admin, "lou");
    grant(&admin, "lou", "reader", "c/*");
    let lou = login(&s, "lou");
    assert_eq!(read_twice(&lou, "K"), "v");
    assert_eq!(lou.post_empty("/v1/auth/logout").status, 204);
    refused(&lou.read("c", "dev", "K"), 401, "auth.invalid_token");

    // A service token revoked.
    let r = admin.post(
        "/v1/tokens",
        json!({ "name": "ci", "scopes": ["c/dev"], "actions": ["read"], "ttl_secs": 600 }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let ci = s
        .anonymous()
        .with_token(Some(r.json["token"].as_str().unwrap()));
    let tid = r.json["service_token"]["id"].as_str().unwrap();
    assert_eq!(read_twice(&ci, "K"), "v");
    assert_eq!(admin.delete(&format!("/v1/tokens/{tid}")).status, 204);
    refused(&ci.read("c", "dev", "K"), 401, "auth.invalid_token");

    // The root token keeps working; a wrong secret with a cached id does not.
    let root = s.client();
    assert_eq!(read_twice(&root, "K"), "v");
    let token = s.token.clone();
    let (id, secret) = token.split_once('.').unwrap();
    let flipped: String = secret
        .chars()
        .enumerate()
        .map(|(i, ch)| match (i, ch) {
            (0, 'A') => 'B',
            (0, _) => 'A',
            (_, ch) => ch,
        })
        .collect();
    let forged = s.anonymous().with_token(Some(&format!("{id}.{flipped}")));
    refused(&forged.read("c", "dev", "K"), 401, "auth.invalid_token");
}

/// Readers racing a writer never see a version older than one already
/// acknowledged to the writer, and never go backwards.
#[test]
fn concurrent_reads_never_go_back_in_time() {
    let s = Server::dev();
    let c = s.client();
    c.setup("c", "dev");
    c.write("c", "dev", "N", "1");
    let acked = Arc::new(AtomicU64::new(1));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (c, acked, done) = (c.clone(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0;
                while !done.load(Ordering::Acquire) {
                    let floor = acked.load(Ordering::Acquire);
                    let r = c.read("c", "dev", "N");
                    let v = r.json["version"].as_u64().unwrap();
                    assert_eq!(r.json["value"], v.to_string(), "value matches version");
                    assert!(
                        v >= floor,
                        "read version {v} after {floor} was acknowledged"
                    );
                    assert!(v >= last, "went back from {last} to {v}");
                    last = v;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 2..=150u64 {
        assert_eq!(c.write("c", "dev", "N", &i.to_string()), i);
        acked.store(i, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    let reads: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reads > 150, "the readers raced the writer ({reads} reads)");
    assert_eq!(c.read("c", "dev", "N").json["version"], 150);
}
