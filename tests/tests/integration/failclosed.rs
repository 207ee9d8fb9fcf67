//! Fail closed: a change whose audit record cannot be written is not made
//! and the request fails; unrelated requests keep working (no stall).
//! Also the limits: header read timeout and connection cap.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use vault_tests::{Options, Server};

#[test]
fn a_change_without_its_audit_record_is_not_made() {
    let s = Server::dev();
    let c = s.client();
    c.setup("fc", "dev");
    c.write("fc", "dev", "KEEP", "before");
    c.write("fc", "dev", "OTHER", "other");
    // Make the database refuse audit records of writes to KEEP.
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute_batch(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit_log
         WHEN NEW.resource = 'fc/dev/KEEP' AND NEW.action = 'secret.write'
         BEGIN SELECT RAISE(ABORT, 'audit refused'); END;",
    )
    .unwrap();
    let w = c.put(
        "/v1/projects/fc/environments/dev/secrets/KEEP",
        json!({"value": "after"}),
    );
    assert_eq!((w.status, w.code()), (500, "internal"), "{w:?}");
    assert!(!w.text.contains("audit refused"), "no internal detail");
    // Other requests, also concurrent writes, are not held up.
    assert_eq!(c.write("fc", "dev", "OTHER", "other2"), 2);
    db.execute_batch("DROP TRIGGER no_audit;").unwrap();
    let r = c.read("fc", "dev", "KEEP");
    assert_eq!(
        (r.json["value"].as_str(), r.json["version"].as_u64()),
        (Some("before"), Some(1))
    );
    assert_eq!(c.get("/v1/audit/verify").json["ok"], true);
}

#[test]
fn slow_headers_are_cut_off_and_connections_capped() {
    let s = Server::dev_with(Options {
        env: vec![
            ("VAULT_LIMITS_HEADER_READ_TIMEOUT_SECS".into(), "1".into()),
            ("VAULT_LIMITS_MAX_CONNECTIONS".into(), "2".into()),
        ],
        ..Default::default()
    });
    let addr = s.addr.trim_start_matches("http://").to_owned();
    // Slowloris: half a request line, then silence.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "not cut off: {:?}",
        t.elapsed()
    );

    // Two silent connections hold both slots; a third is served at once,
    // because the oldest silent one is closed to make room (nothing queues).
    let mut a = TcpStream::connect(&addr).unwrap();
    let b = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(&addr).unwrap();
    third
        .write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut out = String::new();
    third.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    a.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert_eq!(
        a.read(&mut [0u8; 1]).unwrap_or(0),
        0,
        "the oldest was closed"
    );
    drop(b);
}
