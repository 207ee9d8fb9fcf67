//! The HTTP client: one [`ureq::Agent`], JSON in and out, the server's error
//! shape turned into a [`CliError`] with a hint.
//!
//! The bearer token lives only in a zeroizing buffer here and is never
//! printed. Plain `http://` is accepted only for loopback addresses, so a
//! token is never sent in clear over a network.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{self, Method};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use vault_core::api::ErrorBody;
use vault_core::secret::SecretText;
use zeroize::Zeroizing;

use crate::error::{CliError, CliResult};

/// A connection to one vault server.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    bearer: Option<Zeroizing<String>>,
    cacert: Option<std::path::PathBuf>,
    origins: Origins,
}

/// Where the server address and the CA bundle were set (`--addr`,
/// `VAULT_ADDR`, `` `address` in /path/.vault.toml ``, ...), so a hint can
/// say which setting to change.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Origin of the address.
    pub address: Option<String>,
    /// Origin of the CA bundle, when one is set.
    pub cacert: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.bearer.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Whether `address` may be used with plain HTTP (loopback only).
pub fn is_loopback_http(address: &str) -> bool {
    let Some(rest) = address.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `address` (validated: `https://`, or `http://` on
    /// loopback), trusting `cacert` (PEM) in addition to nothing else when
    /// given, else the built-in web PKI roots.
    pub fn new(
        address: &str,
        cacert: Option<&std::path::Path>,
        token: Option<&SecretText>,
    ) -> CliResult<Self> {
        if !(address.starts_with("https://") || is_loopback_http(address)) {
            let e = if address.starts_with("http://") {
                CliError::new(format!(
                    "refusing plain HTTP to {address}: credentials would cross the network unencrypted"
                ))
                .hint("use https://; plain http:// is allowed only for 127.0.0.1, ::1 and localhost")
            } else {
                CliError::new(format!("server address {address:?} is not an http(s) URL"))
                    .hint("e.g. VAULT_ADDR=https://vault.example.com:8200")
            };
            return Err(e);
        }
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Per-phase timeouts, no global one: with a global timeout ureq
            // resolves names on a helper thread, which costs `vault run`
            // a thread spawn even for `127.0.0.1`.
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_send_request(Some(Duration::from_secs(30)))
            .timeout_send_body(Some(Duration::from_secs(60)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_recv_body(Some(Duration::from_secs(120)))
            .user_agent(concat!("vault-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = cacert {
            let pem = std::fs::read(path).map_err(|e| {
                CliError::new(format!("cannot read CA bundle {}", path.display()))
                    .source(e)
                    .hint("check VAULT_CACERT / --cacert")
            })?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(
                    CliError::new(format!("no certificate found in {}", path.display())).hint(
                        "VAULT_CACERT must name a PEM file with at least one CERTIFICATE block",
                    ),
                );
            }
            cfg = cfg.tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::Specific(Arc::new(certs)))
                    .build(),
            );
        }
        Ok(Self {
            agent: cfg.build().into(),
            base: address.trim_end_matches('/').to_owned(),
            bearer: token.map(|t| Zeroizing::new(format!("Bearer {}", t.expose_secret()))),
            cacert: cacert.map(std::path::Path::to_path_buf),
            origins: Origins::default(),
        })
    }

    /// Records where the address and CA bundle came from, for hints.
    pub fn with_origins(mut self, origins: Origins) -> Self {
        self.origins = origins;
        self
    }

    /// The server address.
    pub fn address(&self) -> &str {
        &self.base
    }

    /// GET `path` and decode JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.call_json(Method::GET, path, None)
    }

    /// `method` `path` with a JSON `body`, decode JSON.
    pub fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        let json = Zeroizing::new(
            serde_json::to_vec(body).map_err(|_| CliError::new("cannot encode the request"))?,
        );
        self.call_json(method, path, Some(&json))
    }

    /// `method` `path` without a body, decode JSON.
    pub fn call<T: DeserializeOwned>(&self, method: Method, path: &str) -> CliResult<T> {
        self.call_json(method, path, None)
    }

    /// `method` `path` with a JSON `body`, expecting no answer body (204).
    pub fn send_empty<B: Serialize>(&self, method: Method, path: &str, body: &B) -> CliResult<()> {
        let json = Zeroizing::new(
            serde_json::to_vec(body).map_err(|_| CliError::new("cannot encode the request"))?,
        );
        let mut resp = self.raw(method, path, Some(&json))?;
        self.check(&mut resp)?;
        Ok(())
    }

    /// `method` `path` without a body, expecting no answer body (204).
    pub fn call_empty(&self, method: Method, path: &str) -> CliResult<()> {
        let mut resp = self.raw(method, path, None)?;
        self.check(&mut resp)?;
        Ok(())
    }

    /// GET `path` and stream the raw answer into `out` (exports).
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> CliResult<u64> {
        let mut resp = self.raw(Method::GET, path, None)?;
        self.check(&mut resp)?;
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut reader, out).map_err(|e| CliError::new("download interrupted").source(e))
    }

    fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> CliResult<T> {
        let mut resp = self.raw(method, path, body)?;
        self.check(&mut resp)?;
        let mut text = Zeroizing::new(String::new());
        resp.body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .reader()
            .read_to_string(&mut text)
            .map_err(|e| CliError::new("cannot read the server's answer").source(e))?;
        serde_json::from_str(&text).map_err(|e| {
            // Only the position: serde_json's message can quote the input,
            // and the input may be a secret.
            CliError::new(format!(
                "unexpected answer from the server to {path} (JSON {:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
            .hint("is VAULT_ADDR a vault server of a matching version?")
        })
    }

    fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> CliResult<http::Response<ureq::Body>> {
        let url = format!("{}{path}", self.base);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        if let Some(b) = &self.bearer {
            req = req.header("authorization", b.as_str());
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.unwrap_or_default())
            .map_err(|e| CliError::new(format!("bad request URL {url}")).source(e))?;
        self.agent.run(req).map_err(|e| self.unreachable(e))
    }

    /// A connection failure in words: TLS failures say what is wrong with
    /// the certificate or protocol and which setting (flag, environment
    /// or `.vault.toml`) to change.
    fn unreachable(&self, e: ureq::Error) -> CliError {
        let addr_from = self.origins.address.as_deref().unwrap_or("VAULT_ADDR");
        let ca_setting = || {
            match (&self.cacert, &self.origins.cacert) {
            (Some(p), Some(from)) => format!("the CA bundle {} (from {from})", p.display()),
            (Some(p), None) => format!("the CA bundle {}", p.display()),
            _ => "the system's trusted CAs (no VAULT_CACERT, --cacert or `cacert` in .vault.toml is set)".to_owned(),
        }
        };
        let diagnosis = diagnose(&e)
            .filter(|d| *d != Diagnosis::TlsServerOverHttp || self.base.starts_with("http://"));
        let (message, hint) = match diagnosis {
            Some(Diagnosis::PlainHttpServer) => (
                format!("{} does not speak TLS: it answered in plain HTTP", self.base),
                format!("the address comes from {addr_from}: use http:// for a dev server on loopback, or give the server server.tls_cert and server.tls_key"),
            ),
            Some(Diagnosis::CaAsLeaf) => (
                format!("{} presents a CA certificate as its own certificate", self.base),
                "the server's tls.cert_file must be a leaf certificate signed by the CA (basicConstraints CA:FALSE), with the CA in the client's bundle: `vault-server check-config` finds this; docs/operations.md shows how to make one".to_owned(),
            ),
            Some(Diagnosis::UnknownIssuer) => (
                format!("the certificate of {} is signed by a CA this client does not trust", self.base),
                match &self.cacert {
                    Some(_) => format!("{} does not hold the CA that signed it: point it at that CA's PEM file", ca_setting()),
                    None => "set VAULT_CACERT (or --cacert, or `cacert` in .vault.toml) to the PEM file of the CA that signed the server's certificate".to_owned(),
                },
            ),
            Some(Diagnosis::WrongName) => (
                format!("the certificate of {} does not name that host", self.base),
                format!("the address comes from {addr_from}: use a name the certificate lists (subjectAltName), or reissue the certificate for this name"),
            ),
            Some(Diagnosis::Expired) => (
                format!("the certificate of {} has expired (or is not valid yet)", self.base),
                "renew the server's certificate, and check the clocks of both machines".to_owned(),
            ),
            Some(Diagnosis::OtherCertificate) => (
                format!("the certificate of {} was refused", self.base),
                format!("checked against {}", ca_setting()),
            ),
            Some(Diagnosis::TlsServerOverHttp) => (
                format!("{} closed the connection: it probably expects TLS", self.base),
                format!("the address comes from {addr_from}: try https://"),
            ),
            None => (
                format!("cannot reach the vault server at {}", self.base),
                format!("is the server running and is the address right? (it comes from {addr_from})"),
            ),
        };
        CliError::new(message).source(e).hint(hint)
    }

    fn check(&self, resp: &mut http::Response<ureq::Body>) -> CliResult<()> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Err(api_error(status, &text))
    }
}

/// An error answer from the server, as the server's `code` and `message`.
#[derive(Debug, thiserror::Error)]
#[error("server answered HTTP {status} {code}{}", request_id.as_deref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine code.
    pub code: String,
    /// Request id.
    pub request_id: Option<String>,
}

/// Turns an error answer into a [`CliError`] with a hint chosen by status
/// and code.
pub fn api_error(status: u16, body: &str) -> CliError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let (code, message, request_id) = match parsed {
        Some(b) => (b.error.code, b.error.message, Some(b.error.request_id)),
        None => (
            "unknown".to_owned(),
            format!("the server answered HTTP {status}"),
            None,
        ),
    };
    let hint = hint_for(status, &code);
    let mut e = CliError::new(message).source(ApiError {
        status,
        code,
        request_id,
    });
    if let Some(h) = hint {
        e = e.hint(h);
    }
    e
}

/// The hint for an error, chosen by its stable code (true for that cause),
/// falling back on the HTTP status only for codes without their own.
fn hint_for(status: u16, code: &str) -> Option<&'static str> {
    let token_from_env = std::env::var_os("VAULT_TOKEN").is_some_and(|v| !v.is_empty());
    Some(match code {
        "vault.sealed" | "sys.sealed" => {
            "the server is sealed: an operator must run `vault operator unseal`"
        }
        "vault.not_initialized" | "sys.not_initialized" => {
            "the server is not initialized: run `vault operator init`"
        }
        "sys.already_initialized" => {
            "the server is already initialized: unseal it with `vault operator unseal`"
        }
        c if c.contains("integrity") => {
            "stored data failed its integrity check (tampering or corruption); nothing was decrypted. Tell your vault operator and quote the request id"
        }
        "secret.cas_mismatch" => {
            "someone wrote a newer version meanwhile: re-read it and retry with the new --cas"
        }
        "secret.in_trash" => {
            "it is in the trash: `vault secrets restore NAME`, or `vault secrets purge NAME --yes` to write it anew"
        }
        "project.exists" | "environment.exists" | "user.exists" | "role.exists"
        | "binding.exists" | "store.conflict" => "it exists already: use it, or pick another name",
        "keys.lifecycle" => {
            "a key version is retired only when no data uses it (`vault keys rewrap`), and destroyed only once retired: see `vault keys status`"
        }
        "auth.invalid_credentials" => "wrong username or password, or the account is disabled",
        "auth.required" => "no token: run `vault login`, or set VAULT_TOKEN",
        "auth.invalid_token" if token_from_env => {
            "VAULT_TOKEN is set but the server does not accept it (revoked or mistyped): fix it, or unset it to use your `vault login` session"
        }
        "auth.invalid_token" => "the stored token is no longer valid: run `vault login`",
        "auth.session_expired" => "your session has ended: run `vault login`",
        "auth.token_expired" => {
            "this token has expired: create a new one (`vault tokens create ...`), or log in"
        }
        "auth.network_not_allowed" => {
            "this service token may only be used from its networks: run from there, or create a token for this network"
        }
        "user.not_found" => "check the name: `vault users list`",
        "token.not_found" => "check the id: `vault tokens list`",
        "role.unknown" | "role.not_found" => "check the role: `vault access roles`",
        "binding.not_found" => "check the id: `vault access list`",
        "session.not_found" => "check the id: `vault sessions list`",
        "access.denied" => {
            "your credential may not do this here: ask an admin for access (see `vault whoami`)"
        }
        "access.escalation" => {
            "you can hand out only what you hold on that scope: ask someone who holds it (see `vault whoami`)"
        }
        "auth.not_a_session" => "log in as a user (`vault login`); this is not for tokens",
        "auth.throttled" | "sys.unseal_throttled" | "request.quota_exceeded" => {
            "too many attempts or requests: wait as the message says, then retry"
        }
        _ => match status {
            401 => "not authenticated: run `vault login` (or set VAULT_TOKEN)",
            403 => "your credential may not do this here: ask an admin for access",
            404 => {
                "check the names: `vault projects list`, `vault envs list -p PROJECT`, `vault secrets list`"
            }
            503 => "the server is unavailable: check `vault operator status`",
            500..=599 => {
                "server error: the operator can find details in the server log by request id"
            }
            _ => return None,
        },
    })
}

/// What a connection failure was, when it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diagnosis {
    /// `https://` to a server that answered in plain HTTP.
    PlainHttpServer,
    /// `http://` to a server that closed the connection (a TLS listener).
    TlsServerOverHttp,
    /// The server's certificate is a CA certificate.
    CaAsLeaf,
    /// Signed by a CA the client does not trust.
    UnknownIssuer,
    /// Valid, but not for this host name.
    WrongName,
    /// Expired or not yet valid.
    Expired,
    /// Any other certificate problem.
    OtherCertificate,
}

/// The rustls error inside a ureq error, if any (directly, or inside the
/// I/O error a TLS stream reports).
fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

fn diagnose(e: &ureq::Error) -> Option<Diagnosis> {
    use rustls::{CertificateError as C, Error as R, InvalidMessage};
    if let Some(r) = rustls_error(e) {
        return Some(match r {
            R::InvalidMessage(InvalidMessage::InvalidContentType)
            | R::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => {
                Diagnosis::PlainHttpServer
            }
            // BadSignature: the bundle has a CA of the right name but
            // another key (e.g. a CA made again under the same name).
            R::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => Diagnosis::UnknownIssuer,
            R::InvalidCertificate(C::NotValidForName)
            | R::InvalidCertificate(C::NotValidForNameContext { .. }) => Diagnosis::WrongName,
            R::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => Diagnosis::Expired,
            // webpki's CaUsedAsEndEntity reaches rustls as an "other" error.
            R::InvalidCertificate(C::Other(o))
                if format!("{o:?}").contains("CaUsedAsEndEntity") =>
            {
                Diagnosis::CaAsLeaf
            }
            R::InvalidCertificate(_) => Diagnosis::OtherCertificate,
            _ => return None,
        });
    }
    match e {
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            ) =>
        {
            Some(Diagnosis::TlsServerOverHttp)
        }
        ureq::Error::Protocol(_) => Some(Diagnosis::TlsServerOverHttp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8200",
            "http://localhost:1/",
            "http://[::1]:8200",
            "http://127.0.0.2",
        ] {
            assert!(is_loopback_http(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8200",
            "http://vault.example.com",
            "http://localhost.evil.com",
            "https://127.0.0.1",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_http(bad), "{bad}");
        }
        assert!(Client::new("http://vault.example.com", None, None).is_err());
        assert!(Client::new("ftp://x", None, None).is_err());
        assert!(Client::new("https://vault.example.com", None, None).is_ok());
    }

    #[test]
    fn debug_hides_the_token() {
        let t = SecretText::from("tok-canary");
        let c = Client::new("http://127.0.0.1:1", None, Some(&t)).unwrap();
        assert!(!format!("{c:?}").contains("canary"));
    }

    #[test]
    fn error_body_becomes_message_code_and_hint() {
        let body = r#"{"error":{"code":"secret.not_found","message":"no secret DB in demo/dev","request_id":"r-1"}}"#;
        let e = api_error(404, body);
        assert_eq!(e.message(), "no secret DB in demo/dev");
        assert!(e.hint_text().unwrap().contains("vault secrets list"));
        let mut out = Vec::new();
        e.report(&mut out, false);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("HTTP 404 secret.not_found (request id r-1)"),
            "{out}"
        );
        let e = api_error(
            503,
            r#"{"error":{"code":"sys.sealed","message":"sealed","request_id":"r"}}"#,
        );
        assert!(e.hint_text().unwrap().contains("unseal"));
        // Hints follow the code, not the status.
        let hint = |status, code: &str| {
            let body = format!(r#"{{"error":{{"code":"{code}","message":"m","request_id":"r"}}}}"#);
            api_error(status, &body)
                .hint_text()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(hint(409, "secret.cas_mismatch").contains("re-read"));
        assert!(!hint(409, "project.exists").contains("re-read"));
        assert!(hint(409, "secret.in_trash").contains("restore"));
        assert!(hint(409, "keys.lifecycle").contains("rewrap"));
        assert!(hint(409, "sys.already_initialized").contains("unseal"));
        assert!(!hint(401, "auth.invalid_credentials").contains("vault login"));
        assert!(hint(401, "auth.token_expired").contains("create a new one"));
        assert!(hint(404, "user.not_found").contains("vault users list"));
        assert!(hint(404, "token.not_found").contains("vault tokens list"));
        assert!(hint(503, "vault.not_initialized").contains("operator init"));
        let e = api_error(502, "<html>bad gateway</html>");
        assert!(e.message().contains("HTTP 502"));
    }

    #[test]
    fn a_malformed_answer_never_quotes_it() {
        let srv = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = srv.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = srv.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = r#"{"project":"p","environment":"e","secrets":{"K":987654321},"x":"s3cret-canary"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        let c = Client::new(&format!("http://{addr}"), None, None).unwrap();
        let e = c
            .get::<vault_core::api::Bundle>("/v1/projects/p/environments/e/bundle")
            .unwrap_err();
        let mut out = Vec::new();
        e.report(&mut out, false);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("unexpected answer"), "{out}");
        assert!(
            !out.contains("s3cret") && !out.contains("987654321"),
            "{out}"
        );
    }
}
