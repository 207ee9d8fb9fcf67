//! Load benchmark (issue 3), in one run on loopback only:
//!
//! 1. authenticated read of one secret, 64 connections;
//! 2. bulk read (bundle) of an environment of 20 secrets, 64 connections;
//! 3. (1) again while one of the 64 connections keeps writing another
//!    secret (each write commit empties the read cache);
//! 4. baseline: a plain axum handler returning the same bytes as (1) from
//!    memory, 64 connections;
//! 5. rewrap of 100,000 secret versions after a KEK rotation.
//!
//! It starts the real `vault-server --dev` (audit durable: `synchronous =
//! full`, every read audited before it is answered) and drives it with a
//! minimal keep-alive HTTP/1.1 client, so client overhead stays small.
//!
//! With `BENCH_REPORT=N` it runs only scenario 6 instead: the compliance
//! report over N audit records (made by audited reads), against a full
//! export of the same records, with the server's peak memory.
//!
//! `cargo bench -p vault-server --bench load` (env: `BENCH_SECS` per
//! scenario, default 5; `BENCH_REWRAP` versions, default 100000;
//! `BENCH_COMPARE=/path/to/vault-server` for an A/B of scenarios 1 and 3
//! against another build in the same run, see `compare`). The server
//! inherits the environment: `VAULT_STORAGE_READ_CACHE_MIB=0` measures the
//! path without the read cache (every read on a reader connection).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_docs
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const CONNS: usize = 64;

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// One blocking request on a fresh connection (setup only).
fn request(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

struct Result {
    name: &'static str,
    requests: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes: usize,
    writes: u64,
}

impl Result {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
}

/// A keep-alive `PUT` of `value` to a secret path.
fn put_request(path: &str, token: &str, value: &str) -> String {
    let body = format!(r#"{{"value":"{value}"}}"#);
    format!(
        "PUT {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one response, asserting 200; answers its body length.
async fn read_ok_response<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut String,
    body: &mut Vec<u8>,
    what: &str,
) -> usize {
    let mut len = 0usize;
    line.clear();
    r.read_line(line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{what}: {line}");
    loop {
        line.clear();
        r.read_line(line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    body.resize(len, 0);
    r.read_exact(body).await.unwrap();
    len
}

/// 64 keep-alive connections hammering `path` for `secs`. With `writes`,
/// one of them instead keeps writing a new version of that secret (its
/// requests are counted in `Result::writes`, not in the latencies).
async fn load(
    name: &'static str,
    addr: SocketAddr,
    token: &str,
    path: &str,
    secs: u64,
    writes: Option<&str>,
) -> Result {
    let get =
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
    let put = writes.map(|w| put_request(w, token, "changing"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..CONNS {
        let writer = i == 0 && put.is_some();
        let req = if writer {
            put.clone().unwrap_or_default()
        } else {
            get.clone()
        };
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (r, mut w) = stream.into_split();
            let mut r = tokio::io::BufReader::new(r);
            let mut lat = Vec::with_capacity(100_000);
            let mut line = String::new();
            let mut body = Vec::new();
            let mut size = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                w.write_all(req.as_bytes()).await.unwrap();
                size = read_ok_response(&mut r, &mut line, &mut body, name).await;
                lat.push(t.elapsed());
            }
            (lat, size, writer)
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut bytes = 0;
    let mut writes = 0;
    for t in tasks {
        let (lat, size, writer) = t.await.unwrap();
        if writer {
            writes = lat.len() as u64;
        } else {
            all.extend(lat);
            bytes = size;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Result {
        name,
        requests: all.len() as u64,
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        bytes,
        writes,
    }
}

/// A dev server of `bin` on a fresh data dir: the child, its address and
/// root token, and the directory (dropped with the run).
fn start_server(bin: &str) -> (std::process::Child, SocketAddr, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    // Builds from before the quota (c574ba4 and older) do not know its
    // setting: `BENCH_COMPARE_BEFORE_QUOTA=1` leaves it out for them.
    let knows_quota = bin == env!("CARGO_BIN_EXE_vault-server")
        || std::env::var("BENCH_COMPARE_BEFORE_QUOTA").is_err();
    if knows_quota {
        // One root token drives the whole load: no per-principal quota by
        // default; `BENCH_PRINCIPAL_QUOTA=1000000000` measures the quota's
        // own cost (a limit never reached).
        let quota = std::env::var("BENCH_PRINCIPAL_QUOTA").unwrap_or_else(|_| "0".into());
        cmd.env("VAULT_LIMITS_PRINCIPAL_REQUESTS_PER_SEC", quota)
            .env("VAULT_LIMITS_PRINCIPAL_BURST", "1000000000");
    }
    let mut child = cmd
        .args(["--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("VAULT_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr_line = lines.next().unwrap().unwrap();
    let token_line = lines.next().unwrap().unwrap();
    let addr: SocketAddr = addr_line
        .trim_start_matches("export VAULT_ADDR=http://")
        .parse()
        .unwrap();
    let token = token_line
        .trim_start_matches("export VAULT_TOKEN=")
        .to_owned();
    (child, addr, token, dir)
}

/// The project, environment and 20 secrets every scenario reads.
fn seed(addr: SocketAddr, token: &str, value: &str) {
    assert_eq!(
        request(addr, token, "POST", "/v1/projects", r#"{"name":"bench"}"#).0,
        201
    );
    assert_eq!(
        request(
            addr,
            token,
            "POST",
            "/v1/projects/bench/environments",
            r#"{"name":"prod"}"#
        )
        .0,
        201
    );
    for i in 0..20 {
        let (st, _) = request(
            addr,
            token,
            "PUT",
            &format!("/v1/projects/bench/environments/prod/secrets/SECRET_{i:02}"),
            &format!(r#"{{"value":"{value}"}}"#),
        );
        assert_eq!(st, 200);
    }
}

/// `BENCH_COMPARE=/path/to/other/vault-server`: the single-read and
/// read-beside-a-writer scenarios against this build and the other one,
/// alternating in ABBA order, `BENCH_ROUNDS` times (default 3), each on a
/// fresh server;
/// prints each round and the ratio of the medians. Same machine, same run,
/// so the noise of the day cancels out.
fn compare(other: &str, secs: u64) {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let one_path = "/v1/projects/bench/environments/prod/secrets/SECRET_00";
    let bins = [
        ("this build", env!("CARGO_BIN_EXE_vault-server")),
        ("compared", other),
    ];
    // [bin][scenario] -> req/s of each round
    let mut rps = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for round in 0..rounds {
        // ABBA order: neither build always runs first (warm caches, clock).
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for b in order {
            let (label, bin) = bins[b];
            let (mut child, addr, token, _dir) = start_server(bin);
            seed(addr, &token, &"x".repeat(64));
            let single = client.block_on(load("single read", addr, &token, one_path, secs, None));
            let mixed = client.block_on(load(
                "single read + 1 writer",
                addr,
                &token,
                one_path,
                secs,
                Some("/v1/projects/bench/environments/prod/secrets/CHANGING"),
            ));
            println!(
                "round {round} {label:<11} single {:>8.0} req/s (p99 {:.2} ms)   read+writer {:>8.0} req/s (p99 {:.2} ms, {:.0} writes/s)",
                single.rps(),
                single.p99_ms,
                mixed.rps(),
                mixed.p99_ms,
                mixed.writes as f64 / mixed.secs
            );
            rps[b][0].push(single.rps());
            rps[b][1].push(mixed.rps());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (i, name) in ["single read", "single read + 1 writer"].iter().enumerate() {
        let this = median(&mut rps[0][i]);
        let them = median(&mut rps[1][i]);
        println!(
            "{name:<24} median: this build {this:.0} req/s, compared {them:.0} req/s, ratio {:.3}",
            this / them
        );
    }
}

/// Peak resident memory of `pid` since the last reset, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes of a `GET` answer, read and dropped as they come (an export of a
/// million records need not sit in the client's memory).
fn download_len(addr: SocketAddr, token: &str, path: &str) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0;
    loop {
        let got = s.read(&mut buf).unwrap();
        if got == 0 {
            return n;
        }
        n += got;
    }
}

/// The newest audit seq.
fn audit_head(addr: SocketAddr, token: &str) -> u64 {
    let (_, body) = request(addr, token, "GET", "/v1/audit?order=newest&limit=1", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["records"][0]["seq"].as_u64().unwrap_or(0)
}

/// Scenario 6 (issue 14): the compliance report over `n` audit records.
/// The records are made by real audited reads; then, in the same run, the
/// baseline (a full JSON-lines export of the same records, the cheapest
/// pass over the trail) and the HTML report are timed, with the server's
/// peak resident memory during each (`VmHWM`, reset before each).
fn report(n: u64) {
    let (mut child, addr, token, _dir) = start_server(env!("CARGO_BIN_EXE_vault-server"));
    let value = "x".repeat(64);
    seed(addr, &token, &value);
    let one_path = "/v1/projects/bench/environments/prod/secrets/SECRET_00";
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fill = Instant::now();
    while audit_head(addr, &token) < n {
        client.block_on(load("fill", addr, &token, one_path, 5, None));
    }
    let records = audit_head(addr, &token);
    println!(
        "made {records} audit records in {:.0} s",
        fill.elapsed().as_secs_f64()
    );
    let pid = child.id();
    // The report first: the server's peak so far is the fill's, and the
    // peak after it shows whether the report went above that (a reset of
    // the peak through /proc is tried too; containers may not allow it).
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let before_mib = peak_rss_kib(pid) as f64 / 1024.0;
    let t = Instant::now();
    let (status, html) = request(
        addr,
        &token,
        "GET",
        "/v1/compliance/report?format=html&from=2000-01-01",
        "",
    );
    let report_secs = t.elapsed().as_secs_f64();
    let report_mib = peak_rss_kib(pid) as f64 / 1024.0;
    assert_eq!(
        status,
        200,
        "report: {}",
        html.chars().take(300).collect::<String>()
    );
    let t = Instant::now();
    let export_len = download_len(addr, &token, "/v1/audit/export?format=jsonl");
    let export_secs = t.elapsed().as_secs_f64();
    let export_mib = peak_rss_kib(pid) as f64 / 1024.0;
    println!("server peak RSS before the report: {before_mib:.0} MiB");
    println!(
        "| scenario | records | seconds | server peak RSS (MiB) |\n|---|---|---|---|\n\
         | baseline: JSON-lines export ({} MiB) | {records} | {export_secs:.2} | {export_mib:.0} |\n\
         | compliance report (HTML, {} KiB) | {records} | {report_secs:.2} | {report_mib:.0} |",
        export_len / (1 << 20),
        html.len() / 1024
    );
    println!(
        "report / export: {:.2}x the time; targets: < 10 s, < 300 MiB",
        report_secs / export_secs.max(1e-9)
    );
    let _ = child.kill();
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    if let Ok(other) = std::env::var("BENCH_COMPARE") {
        compare(&other, secs);
        return;
    }
    if let Ok(n) = std::env::var("BENCH_REPORT") {
        report(n.parse().unwrap_or(1_000_000));
        return;
    }
    let rewrap_n: usize = std::env::var("BENCH_REWRAP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (mut child, addr, token, _dir) = start_server(env!("CARGO_BIN_EXE_vault-server"));
    let value = "x".repeat(64);
    seed(addr, &token, &value);
    let one_path = "/v1/projects/bench/environments/prod/secrets/SECRET_00";
    let (_, one_body) = request(addr, &token, "GET", one_path, "");

    // Baseline: plain axum returning the same bytes, in this process.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let baseline_addr = rt.block_on(async {
        let body = one_body.clone();
        let app = axum::Router::new().route(
            "/same",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        a
    });

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pid = child.id();
    let c0 = cpu_secs(pid);
    let single = client.block_on(load(
        "single secret read",
        addr,
        &token,
        one_path,
        secs,
        None,
    ));
    let c1 = cpu_secs(pid);
    let bundle = client.block_on(load(
        "bundle of 20 secrets",
        addr,
        &token,
        "/v1/projects/bench/environments/prod/bundle",
        secs,
        None,
    ));
    let c2 = cpu_secs(pid);
    // Every write commit empties the read cache: reads next to a steady
    // writer show the cost of going back to the database.
    let mixed = client.block_on(load(
        "single read + 1 writer",
        addr,
        &token,
        one_path,
        secs,
        Some("/v1/projects/bench/environments/prod/secrets/CHANGING"),
    ));
    let baseline = client.block_on(load(
        "plain axum baseline",
        baseline_addr,
        &token,
        "/same",
        secs,
        None,
    ));
    drop(rt);

    println!("\n== HTTP, {CONNS} connections, {secs} s each, loopback ==");
    println!(
        "{:<24} {:>10} {:>9} {:>9} {:>8} {:>10}",
        "scenario", "req/s", "p50 ms", "p99 ms", "bytes", "vs base"
    );
    for r in [&single, &bundle, &mixed, &baseline] {
        println!(
            "{:<24} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>9.1}%",
            r.name,
            r.rps(),
            r.p50_ms,
            r.p99_ms,
            r.bytes,
            100.0 * r.rps() / baseline.rps()
        );
    }

    println!(
        "server CPU per request: single {:.0} us, bundle {:.0} us (user+sys of vault-server)",
        (c1 - c0) * 1e6 / single.requests as f64,
        (c2 - c1) * 1e6 / bundle.requests as f64
    );
    println!(
        "the writer of \"single read + 1 writer\" wrote {:.0} versions/s, each audited",
        mixed.writes as f64 / mixed.secs
    );

    // Rewrap: fill to `rewrap_n` versions with 64 writers, rotate, rewrap.
    let t = Instant::now();
    let per = rewrap_n.div_ceil(CONNS);
    assert_eq!(
        request(
            addr,
            &token,
            "POST",
            "/v1/projects/bench/environments",
            r#"{"name":"load"}"#
        )
        .0,
        201
    );
    client.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CONNS {
            let token = token.clone();
            let value = value.clone();
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (r, mut w) = stream.into_split();
                let mut r = tokio::io::BufReader::new(r);
                let mut line = String::new();
                let mut body = Vec::new();
                for i in 0..per {
                    // 100 names per writer, many versions each.
                    let path = format!(
                        "/v1/projects/bench/environments/load/secrets/W{c}_{}",
                        i % 100
                    );
                    let req = put_request(&path, &token, &value);
                    w.write_all(req.as_bytes()).await.unwrap();
                    read_ok_response(&mut r, &mut line, &mut body, "fill").await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let fill = t.elapsed();
    let total = per * CONNS + 20;
    assert_eq!(
        request(addr, &token, "POST", "/v1/projects/bench/keys/rotate", "").0,
        200
    );
    let t = Instant::now();
    let (st, job) = request(
        addr,
        &token,
        "POST",
        "/v1/keys/rewrap",
        r#"{"project":"bench"}"#,
    );
    assert_eq!(st, 202, "{job}");
    let id = job
        .split("\"id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    loop {
        let (_, j) = request(addr, &token, "GET", &format!("/v1/keys/rewrap/{id}"), "");
        if j.contains("\"state\":\"done\"") {
            println!("\n== rewrap ==\n{j}");
            break;
        }
        assert!(!j.contains("failed"), "{j}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rewrap = t.elapsed();
    println!(
        "filled {total} versions in {:.1} s ({:.0} writes/s, 64 writers, each write audited)",
        fill.as_secs_f64(),
        (total - 20) as f64 / fill.as_secs_f64()
    );
    println!(
        "rewrap of {total} secret versions: {:.2} s ({:.0} versions/s)",
        rewrap.as_secs_f64(),
        total as f64 / rewrap.as_secs_f64()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
