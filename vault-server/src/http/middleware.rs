//! The frame around every request: request id, source address, the sealed
//! gate, the request timeout, security headers, metrics, and the audit
//! fallback that records any request the service layer did not (bad paths,
//! unknown routes, malformed bodies, sealed refusals).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vault_core::audit::Outcome;

use super::error::{ApiError, ErrorCode};
use super::extract::credential_from;
use crate::service::{Ctx, Error, Vault};

/// The client's address, inserted by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Per-request facts every extractor can read.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Request id (also in `x-request-id`).
    pub request_id: String,
    /// Client address.
    pub source: String,
    /// Set once the request has an audit record.
    pub audited: Arc<AtomicBool>,
    /// `server.public_url`'s origin, if set (see [`super::browser`]).
    pub public_origin: Option<Arc<str>>,
}

impl RequestMeta {
    /// For a request that bypassed the frame (tests).
    pub fn unknown() -> Self {
        Self {
            request_id: "unknown".into(),
            source: "unknown".into(),
            audited: Arc::default(),
            public_origin: None,
        }
    }
}

/// Settings of the frame.
#[derive(Debug, Clone)]
pub struct FrameConfig {
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// `Strict-Transport-Security` value when serving TLS.
    pub hsts: Option<HeaderValue>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// `server.public_url`'s origin.
    pub public_origin: Option<Arc<str>>,
}

/// The client's address: the peer, unless the peer is a trusted proxy; then
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy
/// (each proxy appends the address it saw, so entries to the left of it are
/// whatever the client claimed). An unparsable entry stops the walk at the
/// last address that was believed.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut addr = peer;
    for entry in chain.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(a) => {
                addr = a;
                if !is_trusted(&a) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    addr
}

/// The state of the frame middleware.
#[derive(Clone)]
pub struct Frame {
    /// The vault.
    pub vault: Vault,
    /// Settings.
    pub config: FrameConfig,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Paths served while sealed.
const OPEN_WHILE_SEALED: [&str; 4] = [
    "/v1/sys/health",
    "/v1/sys/seal-status",
    "/v1/sys/init",
    "/v1/sys/unseal",
];

/// Paths not audited: monitoring probes that would drown the trail, and
/// what browsers fetch by themselves (the style sheet, the favicon).
const NOT_AUDITED: [&str; 4] = [
    "/v1/sys/health",
    "/v1/sys/metrics",
    "/ui/style.css",
    "/favicon.ico",
];

fn request_id(req: &Request) -> String {
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        });
    match given {
        Some(s) => s.to_owned(),
        None => fresh_request_id(),
    }
}

/// A random per-process prefix and a counter: unique, cheap (no system call
/// per request), and not guessable across restarts. Not a secret.
fn fresh_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::AtomicU64;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        // Without randomness, ids stay unique within the process.
        let _ = getrandom::fill(&mut b);
        hex::encode(b)
    });
    format!("{prefix}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn outcome_of(status: StatusCode) -> Outcome {
    if status.is_success() || status.is_redirection() {
        Outcome::Success
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Outcome::Denied
    } else {
        Outcome::Error
    }
}

/// The frame middleware.
pub async fn frame(State(f): State<Frame>, mut req: Request, next: Next) -> Response {
    let rid = request_id(&req);
    let source = req.extensions().get::<PeerAddr>().map_or_else(
        || "unknown".to_owned(),
        |p| {
            client_addr(
                p.0.ip().to_canonical(),
                req.headers(),
                &f.config.trusted_proxies,
            )
            .to_string()
        },
    );
    // Kept (unparsed, a reference count) so the fallback record can name
    // who called, wherever the request failed.
    let presented = (
        req.headers().get(header::AUTHORIZATION).cloned(),
        req.headers().get("x-vault-token").cloned(),
        super::browser::is_cookie_request(req.headers())
            .then(|| super::browser::session_from_cookie(req.headers()))
            .flatten(),
    );
    let audited = Arc::new(AtomicBool::new(false));
    let meta = RequestMeta {
        request_id: rid.clone(),
        source: source.clone(),
        audited: audited.clone(),
        public_origin: f.config.public_origin.clone(),
    };
    req.extensions_mut().insert(meta);
    let path = req.uri().path().to_owned();
    let method = req.method().clone();

    let mut resp = if f.vault.sealed() && !OPEN_WHILE_SEALED.contains(&path.as_str()) {
        let err = if f.vault.initialized() {
            Error::sealed()
        } else {
            Error::new(
                crate::service::Kind::Sealed,
                "vault.not_initialized",
                "the vault is not initialized: run `vault operator init`",
            )
        };
        ApiError::new(err, &rid).into_response()
    } else {
        match tokio::time::timeout(f.config.request_timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                Error::new(
                    crate::service::Kind::Sealed,
                    "request.timeout",
                    "the request took too long",
                ),
                &rid,
            )
            .into_response(),
        }
    };

    if !audited.load(Ordering::Relaxed) && !NOT_AUDITED.contains(&path.as_str()) {
        let ctx = Ctx {
            request_id: rid.clone(),
            source,
            credential: credential_from(presented.0.as_ref(), presented.1.as_ref()).or(presented.2),
            audited: audited.clone(),
        };
        // A presented credential that is valid names the caller in the
        // record, even when the request failed before the service looked.
        let caller = match &ctx.credential {
            Some(_) => f.vault.identify(&ctx).await.ok(),
            None => None,
        };
        let code = resp.extensions().get::<ErrorCode>().map(|c| c.0.to_owned());
        let (action, resource) = match resp.extensions().get::<super::extract::AuditAs>() {
            Some(a) => (a.action.to_owned(), a.resource.clone()),
            None => (
                format!("http.{}", method.as_str().to_ascii_lowercase()),
                path.clone(),
            ),
        };
        let entry = f.vault.entry(
            &ctx,
            caller.as_ref(),
            &action,
            &resource,
            outcome_of(resp.status()),
            code,
        );
        if let Err(e) = f.vault.audit(&ctx, entry).await {
            // Fail closed: no audit record, no answer.
            resp = ApiError::new(e, &rid).into_response();
        }
    }

    f.vault.metrics().response(resp.status().as_u16());
    if path.starts_with("/ui") {
        super::ui::page_headers(resp.headers_mut());
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert(REQUEST_ID, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(hsts) = &f.config.hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for x in v {
            h.append("x-forwarded-for", HeaderValue::from_str(x).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "192.0.2.7".parse().unwrap();
        let h = xff(&["198.51.100.1"]);
        assert_eq!(
            client_addr(stranger, &h, &trusted),
            stranger,
            "not a proxy: ignored"
        );
        assert_eq!(client_addr(proxy, &h, &trusted).to_string(), "198.51.100.1");
        // A client's own claim left of the real entry is not believed.
        let h = xff(&["6.6.6.6, 198.51.100.1", "10.1.2.3"]);
        assert_eq!(client_addr(proxy, &h, &trusted).to_string(), "198.51.100.1");
        let h = xff(&["not-an-ip"]);
        assert_eq!(client_addr(proxy, &h, &trusted), proxy);
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_addr(proxy, &xff(&["198.51.100.1"]), &[]), proxy);
    }
}
