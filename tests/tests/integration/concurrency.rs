//! 64 concurrent writers increment one counter with cas: no update is lost.

use serde_json::json;
use vault_tests::Server;

#[test]
fn sixty_four_cas_writers_lose_no_update() {
    const WRITERS: u64 = 64;
    const EACH: u64 = 3;
    let s = Server::dev();
    let c = s.client();
    c.setup("race", "dev");
    c.write("race", "dev", "COUNTER", "0");
    let path = "/v1/projects/race/environments/dev/secrets/COUNTER";
    let threads: Vec<_> = (0..WRITERS)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut conflicts = 0u64;
                let mut done = 0;
                while done < EACH {
                    let cur = c.get(path);
                    assert_eq!(cur.status, 200, "{cur:?}");
                    let version = cur.json["version"].as_u64().unwrap();
                    let n: u64 = cur.json["value"].as_str().unwrap().parse().unwrap();
                    let w = c.put(path, json!({"value": (n + 1).to_string(), "cas": version}));
                    match w.status {
                        200 => done += 1,
                        409 => conflicts += 1,
                        other => panic!("unexpected {other}: {w:?}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let r = c.get(path);
    assert_eq!(
        r.json["value"],
        (WRITERS * EACH).to_string(),
        "lost updates"
    );
    assert_eq!(r.json["version"], 1 + WRITERS * EACH);
    assert!(conflicts > 0, "the test should have raced");
    let h = c.get(&format!("{path}/history"));
    assert_eq!(
        h.json["versions"].as_array().unwrap().len() as u64,
        1 + WRITERS * EACH
    );
    // Every write and every refused write is in a verifying audit chain.
    let v = c.get("/v1/audit/verify");
    assert_eq!(v.json["ok"], true, "{v:?}");
}
