//! Test kit: starts the real `vault-server` on a free loopback port over a
//! real SQLite file and drives it over HTTP (and, in `cli_*` tests, through
//! the real `vault` CLI).
//!
//! - [`Server::dev`] starts `vault-server --dev --listen 127.0.0.1:0
//!   --data-dir <dir>`, reads the two `export` lines from its stdout, and
//!   kills the server on drop. Its stderr (the log) goes to a file so tests
//!   can search it.
//! - [`Client`] is a small JSON client over `ureq` that never treats an HTTP
//!   status as an error, so tests assert on status and error codes.
//!
//! Binaries are found next to the test executable's `deps/` directory
//! (`target/<profile>/`); build them first (`cargo build --bins`, which
//! `scripts/test` does), or point `VAULT_SERVER_BIN` / `VAULT_CLI_BIN` at them.

// Test support: failing loudly (panic/expect) is how a kit reports a broken
// fixture, and it may read the real clock to make unique names.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::disallowed_methods
)]

pub mod cli;
pub mod idp;
pub mod receiver;
pub mod ua;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the workspace's binaries are (`target/<profile>/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of a workspace binary, honouring an override variable.
pub fn binary(name: &str, override_var: &str) -> PathBuf {
    if let Ok(p) = std::env::var(override_var) {
        return PathBuf::from(p);
    }
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} not found: build the binaries first (cargo build --bins) or set {override_var}",
        p.display()
    );
    p
}

/// The `vault-server` binary.
pub fn server_bin() -> PathBuf {
    binary("vault-server", "VAULT_SERVER_BIN")
}

/// The `vault` CLI binary.
pub fn cli_bin() -> PathBuf {
    binary("vault", "VAULT_CLI_BIN")
}

/// A running `vault-server`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// The admin token printed at start.
    pub token: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The server's stderr (its log).
    pub log_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// Extra settings for a start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `VAULT_*` environment overrides.
    pub env: Vec<(String, String)>,
    /// A configuration file's text (`--config`), on top of dev mode.
    pub config: Option<String>,
}

impl Server {
    /// A dev-mode server on a fresh data dir.
    pub fn dev() -> Server {
        Self::dev_with(Options::default())
    }

    /// A dev-mode server on a fresh data dir with `opts`.
    pub fn dev_with(opts: Options) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let mut s = Self::dev_in(&data, opts);
        s._tmp = Some(tmp);
        s
    }

    /// A dev-mode server on `data_dir` (reopened if it exists).
    pub fn dev_in(data_dir: &Path, opts: Options) -> Server {
        let log_path = data_dir.with_extension(format!(
            "log.{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new(server_bin());
        cmd.args(["--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("VAULT_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some(text) = &opts.config {
            let path = data_dir.with_extension("toml");
            std::fs::write(&path, text).expect("write config");
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd.spawn().expect("start vault-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addr = None;
        let mut token = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while addr.is_none() || token.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("export VAULT_ADDR=") {
                        addr = Some(a.to_owned());
                    } else if let Some(t) = line.strip_prefix("export VAULT_TOKEN=") {
                        token = Some(t.to_owned());
                    } else {
                        panic!("unexpected stdout line from vault-server: {line:?}");
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("vault-server did not print its address and token; log:\n{log}");
                }
            }
        }
        Server {
            child: Some(child),
            addr: addr.unwrap_or_default(),
            token: token.unwrap_or_default(),
            data_dir: data_dir.to_path_buf(),
            log_path,
            _tmp: None,
        }
    }

    /// A server outside dev mode serving HTTPS with a fresh self-signed
    /// certificate, everything under `dir`; also the certificate's path
    /// (the CA a client must trust). Still to be initialized.
    pub fn https(dir: &Path) -> (Server, PathBuf) {
        let (cert, key) = self_signed_cert(dir);
        let data = dir.join("data");
        let cfg = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            data.display(),
            cert.display(),
            key.display()
        );
        let mut s = Server::with_config(&cfg, &data);
        s.addr = s.addr.replace("http://", "https://");
        (s, cert)
    }

    /// A non-dev server from a config file text (`listen` should be
    /// `127.0.0.1:0`); its address is read from its log. No token is known.
    pub fn with_config(config: &str, data_dir: &Path) -> Server {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let cfg_path = data_dir.join("vault.toml");
        std::fs::write(&cfg_path, config).expect("write config");
        let log_path = data_dir.join(format!("server-{}.log", random_hex(4)));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(server_bin())
            .arg("--config")
            .arg(&cfg_path)
            .env("VAULT_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start vault-server");
        let addr = wait_for(Duration::from_secs(30), "the server to listen", || {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let at = log.find("listening addr=")?;
            let rest = &log[at + "listening addr=".len()..];
            let end = rest.find(char::is_whitespace)?;
            Some(rest[..end].to_owned())
        });
        Server {
            child: Some(child),
            addr: format!("http://{addr}"),
            token: String::new(),
            data_dir: data_dir.to_path_buf(),
            log_path,
            _tmp: None,
        }
    }

    /// A client with the admin token.
    pub fn client(&self) -> Client {
        Client::new(&self.addr, Some(&self.token))
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.addr, None)
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("vault.db")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit; returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match c.try_wait() {
                Ok(Some(st)) => return st.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return false;
                }
            }
        }
    }

    /// Keeps the temporary directory alive past this server (for a restart).
    pub fn take_tmp(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub text: String,
    /// Body as JSON (`Null` if not JSON).
    pub json: Value,
    /// `x-request-id` header.
    pub request_id: Option<String>,
    /// `content-type` header.
    pub content_type: Option<String>,
    /// `retry-after` header.
    pub retry_after: Option<String>,
}

impl Resp {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

/// A JSON client for one server.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base`, with an optional bearer token.
    pub fn new(base: &str, token: Option<&str>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(64)
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            agent,
        }
    }

    /// The same client with another token.
    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.expect("HTTP request failed");
        let status = r.status().as_u16();
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("x-request-id");
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let text = r
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            text,
            json,
            request_id,
            content_type,
            retry_after,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn auth<B>(&self, rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => rb.header("Authorization", format!("Bearer {t}")),
            None => rb,
        }
    }

    /// GET.
    pub fn get(&self, path: &str) -> Resp {
        Self::finish(self.auth(self.agent.get(self.url(path))).call())
    }

    /// DELETE.
    pub fn delete(&self, path: &str) -> Resp {
        Self::finish(self.auth(self.agent.delete(self.url(path))).call())
    }

    /// POST with a JSON body.
    pub fn post(&self, path: &str, body: Value) -> Resp {
        Self::finish(self.auth(self.agent.post(self.url(path))).send_json(body))
    }

    /// POST without a body.
    pub fn post_empty(&self, path: &str) -> Resp {
        Self::finish(self.auth(self.agent.post(self.url(path))).send_empty())
    }

    /// `method` (GET, DELETE, PUT, POST, PATCH) on `path`, with `body` when
    /// the method takes one.
    pub fn request(&self, method: &str, path: &str, body: Value) -> Resp {
        match method {
            "GET" => self.get(path),
            "DELETE" => self.delete(path),
            "PUT" => self.put(path, body),
            "POST" => self.post(path, body),
            "PATCH" => self.patch(path, body),
            m => panic!("method {m}"),
        }
    }

    /// PATCH with a JSON body.
    pub fn patch(&self, path: &str, body: Value) -> Resp {
        Self::finish(self.auth(self.agent.patch(self.url(path))).send_json(body))
    }

    /// PUT with a JSON body.
    pub fn put(&self, path: &str, body: Value) -> Resp {
        Self::finish(self.auth(self.agent.put(self.url(path))).send_json(body))
    }

    /// PUT with a raw body and content type.
    pub fn put_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        Self::finish(
            self.auth(self.agent.put(self.url(path)))
                .header("content-type", content_type)
                .send(body),
        )
    }

    /// Creates a project and an environment (ignores "exists").
    pub fn setup(&self, project: &str, env: &str) {
        let r = self.post("/v1/projects", serde_json::json!({ "name": project }));
        assert!(r.status == 201 || r.status == 409, "{r:?}");
        let r = self.post(
            &format!("/v1/projects/{project}/environments"),
            serde_json::json!({ "name": env }),
        );
        assert!(r.status == 201 || r.status == 409, "{r:?}");
    }

    /// Writes a secret and returns its new version.
    pub fn write(&self, p: &str, e: &str, name: &str, value: &str) -> u64 {
        let r = self.put(
            &format!("/v1/projects/{p}/environments/{e}/secrets/{name}"),
            serde_json::json!({ "value": value }),
        );
        assert_eq!(r.status, 200, "{r:?}");
        r.json["version"].as_u64().unwrap_or(0)
    }

    /// Reads a secret's current value.
    pub fn read(&self, p: &str, e: &str, name: &str) -> Resp {
        self.get(&format!("/v1/projects/{p}/environments/{e}/secrets/{name}"))
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A random hex string (for canaries and unique names).
pub fn random_hex(bytes: usize) -> String {
    let mut s = String::new();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ u64::from(std::process::id()).rotate_left(32);
    // /dev/urandom when available, a time-seeded xorshift otherwise.
    let mut buf = vec![0u8; bytes];
    let urandom = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    if urandom.is_err() {
        for b in &mut buf {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
    }
    for b in buf {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A self-signed certificate for `127.0.0.1` (P-256, one day) made with the
/// `openssl` command, written as `cert.pem` and `key.pem` into `dir`.
/// Panics (failing the test) if openssl is missing: `scripts/test`
/// installs it, and a TLS test that silently skipped would prove nothing.
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    openssl_cert(dir.join("cert.pem"), dir.join("key.pem"), false)
}

/// A CA certificate (basicConstraints CA:TRUE, as a bare `openssl req
/// -x509` makes) for `127.0.0.1`, written as `ca.pem` and `ca.key` into
/// `dir`: what an operator mistakenly serves as the server's certificate.
pub fn ca_cert(dir: &Path) -> (PathBuf, PathBuf) {
    openssl_cert(dir.join("ca.pem"), dir.join("ca.key"), true)
}

fn openssl_cert(cert: PathBuf, key: PathBuf, ca: bool) -> (PathBuf, PathBuf) {
    let constraints = format!(
        "basicConstraints=critical,CA:{}",
        if ca { "TRUE" } else { "FALSE" }
    );
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext"])
        .arg(constraints)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for the TLS tests (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Sends one raw HTTP/1.1 request to `server` (`http://127.0.0.1:PORT`) from
/// the loopback address `source` (any 127.0.0.0/8 address works on Linux,
/// so a test can play several clients), and returns the status and body.
pub fn http_from(
    source: &str,
    server: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = connect_from(source, server);
    let host = server.trim_start_matches("http://");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("send request");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |b| b.1).to_owned();
    (status, body)
}

/// A TCP connection to `server` (`http://127.0.0.1:PORT`) from the loopback
/// address `source`.
pub fn connect_from(source: &str, server: &str) -> std::net::TcpStream {
    let target: std::net::SocketAddr = server
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .expect("server address");
    let local: std::net::SocketAddr = format!("{source}:0").parse().expect("source address");
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&local.into()).expect("bind source address");
    sock.connect_timeout(&target.into(), Duration::from_secs(5))
        .expect("connect");
    let stream: std::net::TcpStream = sock.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
}

/// Runs `tests/browser/SCRIPT` (a playwright-core script driving Debian's
/// Chromium) with `env`, and asserts it passed every check: exit 0 and no
/// `FAIL` line. `scripts/test` installs Chromium and the npm package;
/// without them this fails, since a browser test that skipped would prove
/// nothing.
pub fn run_browser_script(script: &str, env: &[(&str, &str)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "needs Chromium and tests/browser/node_modules: run scripts/test (it installs both)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(&dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run node");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("FAIL"), "{log}");
}
