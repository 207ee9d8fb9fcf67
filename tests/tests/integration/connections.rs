//! Idle connections cannot hold the server hostage: silent TCP, an HTTP/2
//! preface with nothing after it, idle keep-alive and idle TLS sessions are
//! closed on time, one source cannot take every slot, and a normal client is
//! served at once meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use vault_tests::{Options, Server, connect_from};

fn tight_server() -> Server {
    Server::dev_with(Options {
        env: vec![
            ("VAULT_LIMITS_MAX_CONNECTIONS".into(), "16".into()),
            ("VAULT_LIMITS_MAX_CONNECTIONS_PER_SOURCE".into(), "4".into()),
            ("VAULT_LIMITS_HEADER_READ_TIMEOUT_SECS".into(), "2".into()),
            ("VAULT_LIMITS_IDLE_TIMEOUT_SECS".into(), "2".into()),
        ],
        ..Default::default()
    })
}

/// Reads until the server closes the connection; how long that took.
fn time_to_close(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(start.elapsed());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn idle_connections_cannot_lock_out_clients() {
    let s = tight_server();
    let mut idle = Vec::new();
    // Silent TCP from 8 addresses, 2 each.
    for i in 0..8 {
        for _ in 0..2 {
            idle.push(connect_from(&format!("127.0.0.{}", 10 + i), &s.addr));
        }
    }
    // HTTP/2 prior knowledge: the preface and an empty SETTINGS, then nothing.
    for i in 0..4 {
        let mut c = connect_from(&format!("127.0.0.{}", 30 + i), &s.addr);
        c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
            .unwrap();
        idle.push(c);
    }
    // One keep-alive request each, then silence.
    for i in 0..4 {
        let mut c = connect_from(&format!("127.0.0.{}", 40 + i), &s.addr);
        let host = s.addr.trim_start_matches("http://");
        write!(c, "GET /v1/sys/health HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        assert!(c.read(&mut buf).unwrap() > 0);
        idle.push(c);
    }
    assert_eq!(idle.len(), 24, "more idle connections than the cap of 16");
    // A normal client is served within a second.
    let start = Instant::now();
    let r = s.anonymous().get("/v1/sys/health");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // Every idle connection is closed within the configured 2 s (+ slack).
    let waits: Vec<_> = std::thread::scope(|scope| {
        let all: Vec<_> = idle
            .into_iter()
            .map(|c| scope.spawn(move || time_to_close(c, Duration::from_secs(4))))
            .collect();
        all.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(waits.iter().all(Option::is_some), "{waits:?}");
    let metrics = s.client().get("/v1/sys/metrics").text;
    assert!(
        metrics.contains("vault_connections_timed_out_total"),
        "{metrics}"
    );
}

#[test]
fn one_source_holds_at_most_its_share() {
    let s = tight_server();
    let mine: Vec<_> = (0..4).map(|_| connect_from("127.0.0.7", &s.addr)).collect();
    // The fifth from the same address is closed at once, not queued.
    let fifth = connect_from("127.0.0.7", &s.addr);
    let closed = time_to_close(fifth, Duration::from_millis(1500));
    assert!(
        closed.is_some_and(|d| d < Duration::from_millis(500)),
        "{closed:?}"
    );
    // Others are unaffected.
    assert_eq!(s.anonymous().get("/v1/sys/health").status, 200);
    drop(mine);
}

#[test]
fn idle_tls_sessions_are_closed() {
    // A real TLS client (openssl s_client) completes the handshake, then
    // sends nothing; the server closes it after the first-request deadline.
    let tmp = tempfile::tempdir().unwrap();
    let (cert, _key) = vault_tests::self_signed_cert(tmp.path());
    let data = tmp.path().join("data");
    let cfg = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
         [limits]\nheader_read_timeout_secs = 2\nidle_timeout_secs = 2\n",
        data.display(),
        cert.display(),
        tmp.path().join("key.pem").display()
    );
    let s = Server::with_config(&cfg, &data);
    let addr = s.addr.trim_start_matches("http://").to_owned();
    let mut client = std::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let ended = vault_tests::cli::wait_until(Duration::from_secs(6), || {
        client.try_wait().unwrap().is_some()
    });
    let _ = client.kill();
    assert!(ended, "the idle TLS session was never closed");
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
}
