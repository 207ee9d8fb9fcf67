//! A webhook receiver for the alert tests: a plain HTTP/1.1 listener on
//! 127.0.0.1 that records each request (headers, body) and answers with the
//! next scripted status (then 200). A redirect answer carries a `Location`.

// Test support: a broken fixture should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub body: String,
}

/// A running receiver (it stops with the test process).
#[derive(Debug, Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts one; `script` is the status of each answer in turn (then 200).
    /// A 3xx answer sends `Location: http://169.254.169.254/latest`.
    pub fn start(script: &[u16]) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", l.local_addr().expect("addr"));
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.to_vec()));
        let g = got.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = BufReader::new(c.try_clone().expect("clone"));
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                let mut headers = BTreeMap::new();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                let _ = r.read_exact(&mut body);
                g.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let status = {
                    let mut s = script.lock().unwrap();
                    if s.is_empty() { 200 } else { s.remove(0) }
                };
                let extra = if (300..400).contains(&status) {
                    "Location: http://169.254.169.254/latest\r\n"
                } else {
                    ""
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { base, got }
    }

    /// What arrived so far.
    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (15 s at most).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.requests();
            if got.len() >= n || Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
