//! The guarded HTTP client for every call the server makes out: to OIDC
//! identity providers (discovery, JWKS, token, userinfo), to workload
//! identity issuers (discovery, JWKS), and to webhook receivers (alerts,
//! under their own address policy). Every call has a 10-second deadline
//! and a 1 MiB answer cap, follows no redirect, and connects only to addresses
//! [`vault_core::sso::outbound_allowed`] permits: never link-local or cloud
//! metadata addresses, private ranges only when the issuer itself is on one
//! (OWASP SSRF Prevention Cheat Sheet).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use vault_core::alerts::WebhookPolicy;
use vault_core::sso::{is_private, outbound_allowed};

/// How long a discovery document or key set is trusted before it is
/// fetched again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// Least time between two key fetches caused by unknown key ids.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// Whether to fetch discovery and keys again: the copy is `age` old (over
/// [`KEYS_TTL`]: yes), or a token names an unknown key (`refresh`) and no
/// such fetch ran in the last minute (`since_forced`), so tokens with
/// made-up key ids cannot make the server call the issuer at will.
pub fn refetch(age: Duration, since_forced: Option<Duration>, refresh: bool) -> bool {
    age >= KEYS_TTL || (refresh && since_forced.is_none_or(|f| f >= REFRESH_EVERY))
}

/// Deadline of one outbound call, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read, bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Why an outbound call failed. Messages name the host and the cause, never
/// a request body (which may hold a code or a client secret).
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The address is not one the server may call.
    #[error("refused to connect to {0}: link-local, metadata or private address")]
    Refused(String),
    /// No answer in time.
    #[error("no answer within {}s", TIMEOUT.as_secs())]
    Timeout,
    /// The answer was larger than [`MAX_BODY_BYTES`].
    #[error("answer larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Connection or protocol failure.
    #[error("{0}")]
    Transport(String),
}

/// What a client may connect to.
#[derive(Clone)]
enum Reach {
    /// An IdP or issuer: `private` records whether the issuer's own host is
    /// loopback or private (then the provider's other endpoints may be too).
    Issuer {
        host: String,
        private: Arc<AtomicBool>,
    },
    /// Webhook receivers: the operator's policy ([`WebhookPolicy`]).
    Webhooks(Arc<WebhookPolicy>),
}

impl Reach {
    /// Whether `host` (as named in the URL) may be reached at `ip`.
    fn allows(&self, host: &str, ip: IpAddr) -> bool {
        match self {
            Reach::Issuer {
                host: issuer,
                private,
            } => {
                let allow_private =
                    host.eq_ignore_ascii_case(issuer) || private.load(Ordering::Relaxed);
                outbound_allowed(ip, allow_private)
            }
            Reach::Webhooks(policy) => policy.allows(ip),
        }
    }
}

/// A client bound to one issuer, or to the webhook policy.
#[derive(Clone)]
pub struct GuardedHttp {
    client: reqwest::Client,
    reach: Reach,
}

impl std::fmt::Debug for GuardedHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.reach {
            Reach::Issuer { host, .. } => host.as_str(),
            Reach::Webhooks(_) => "webhooks",
        };
        f.debug_struct("GuardedHttp")
            .field("reach", &what)
            .finish_non_exhaustive()
    }
}

/// Resolves once and hands reqwest only the addresses that passed, so the
/// connection is made to a checked address (no second lookup to rebind).
struct GuardedResolver {
    reach: Reach,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let reach = self.reach.clone();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Reach::Issuer {
                host: issuer,
                private,
            } = &reach
                && host.eq_ignore_ascii_case(issuer)
                && !found.is_empty()
                && found.iter().all(|a| is_private(a.ip()))
            {
                private.store(true, Ordering::Relaxed);
            }
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| reach.allows(&host, a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(OutboundError::Refused(host)) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl GuardedHttp {
    /// A client for the provider whose issuer is `issuer`.
    pub fn new(issuer: &url::Url) -> Result<Self, String> {
        Self::with_ca(issuer, None)
    }

    /// A client for `issuer` (the host whose network decides whether
    /// private addresses may be called) that also trusts the CA
    /// certificates in `ca_pem` (a cluster's own CA).
    pub fn with_ca(issuer: &url::Url, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let issuer_host = issuer
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let literal_private = issuer_host.parse::<IpAddr>().is_ok_and(is_private)
            || issuer_host.eq_ignore_ascii_case("localhost");
        let reach = Reach::Issuer {
            host: issuer_host,
            private: Arc::new(AtomicBool::new(literal_private)),
        };
        Self::build(reach, ca_pem)
    }

    /// A client for webhook deliveries under `policy`.
    pub fn for_webhooks(policy: WebhookPolicy) -> Result<Self, String> {
        Self::build(Reach::Webhooks(Arc::new(policy)), None)
    }

    fn build(reach: Reach, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("CA file: {e}"))?;
            if certs.is_empty() {
                return Err("CA file: no certificate in it".into());
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would resolve and connect in
            // our place, past the address checks.
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .dns_resolver(Arc::new(GuardedResolver {
                reach: reach.clone(),
            }))
            .user_agent(concat!("vault-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { client, reach })
    }

    /// One request: address checks, deadline, size cap, no redirects.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        let url = url::Url::parse(&request.uri().to_string())
            .map_err(|e| OutboundError::Transport(format!("bad URL: {e}")))?;
        let host = url.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        // The resolver is not asked about address literals: check them here.
        if let Ok(ip) = bare.parse::<IpAddr>()
            && !self.reach.allows(bare, ip)
        {
            return Err(OutboundError::Refused(bare.to_owned()));
        }
        let req = reqwest::Request::try_from(request)
            .map_err(|e| OutboundError::Transport(format!("request: {e}")))?;
        let work = async {
            let mut resp = self.client.execute(req).await.map_err(classify)?;
            let mut out = axum::http::Response::builder().status(resp.status());
            if let Some(h) = out.headers_mut() {
                *h = std::mem::take(resp.headers_mut());
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(OutboundError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            out.body(body)
                .map_err(|e| OutboundError::Transport(format!("response: {e}")))
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| OutboundError::Timeout)?
    }
}

fn classify(e: reqwest::Error) -> OutboundError {
    if e.is_timeout() {
        return OutboundError::Timeout;
    }
    // The resolver's refusal arrives wrapped; find it.
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = src {
        if let Some(OutboundError::Refused(h)) = s.downcast_ref::<OutboundError>() {
            return OutboundError::Refused(h.clone());
        }
        src = s.source();
    }
    // Without the URL (it is ours), with every cause: "connection
    // refused" or "invalid peer certificate: UnknownIssuer" is what an
    // operator needs to read in the log.
    OutboundError::Transport(error_chain(&e.without_url()))
}

/// `e` and its sources, joined with `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

impl<'c> AsyncHttpClient<'c> for GuardedHttp {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn request(url: &str) -> HttpRequest {
        axum::http::Request::builder()
            .uri(url)
            .body(Vec::new())
            .unwrap_or_default()
    }

    /// A one-shot HTTP server on loopback answering `answer` to the first
    /// connection; its URL.
    fn serve_once(answer: Vec<u8>) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let _ = c.write_all(&answer);
            }
        });
        format!("http://{addr}/x")
    }

    #[tokio::test]
    async fn metadata_and_link_local_addresses_are_never_called() {
        let public =
            GuardedHttp::new(&url::Url::parse("https://idp.example.com").unwrap()).unwrap();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0.0.0.0:80/",
            // Private addresses, for an issuer that is not on one.
            "http://127.0.0.1:1/",
            "http://10.0.0.1/",
        ] {
            let e = public.send(request(url)).await.unwrap_err();
            assert!(matches!(e, OutboundError::Refused(_)), "{url}: {e}");
        }
        // A name that resolves to a private address is refused the same way.
        let e = public
            .send(request("http://localhost:1/"))
            .await
            .unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e}");
        // An issuer on loopback may call loopback, never metadata.
        let local = GuardedHttp::new(&url::Url::parse("http://127.0.0.1:9").unwrap()).unwrap();
        let e = local
            .send(request("http://169.254.169.254/"))
            .await
            .unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e}");
    }

    #[tokio::test]
    async fn answers_are_capped_and_redirects_not_followed() {
        let local = GuardedHttp::new(&url::Url::parse("http://127.0.0.1:9").unwrap()).unwrap();
        let big = [
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                MAX_BODY_BYTES + 1
            )
            .into_bytes(),
            vec![b'a'; MAX_BODY_BYTES + 1],
        ]
        .concat();
        let e = local.send(request(&serve_once(big))).await.unwrap_err();
        assert!(matches!(e, OutboundError::TooLarge), "{e}");
        let redirect =
            b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n";
        let r = local
            .send(request(&serve_once(redirect.to_vec())))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
    }

    #[test]
    fn keys_are_fetched_again_hourly_or_for_an_unknown_key_at_most_once_a_minute() {
        let s = Duration::from_secs;
        assert!(!refetch(s(10), None, false));
        assert!(refetch(s(3600), None, false));
        // An unknown key id: fetched at once the first time...
        assert!(refetch(s(1), None, true));
        // ...then not again within the minute, however many tokens ask.
        assert!(!refetch(s(1), Some(s(30)), true));
        assert!(refetch(s(90), Some(s(60)), true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_idp_times_out() {
        // Accepts, never answers.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", l.local_addr().unwrap());
        let local = GuardedHttp::new(&url::Url::parse("http://127.0.0.1:9").unwrap()).unwrap();
        let e = local.send(request(&url)).await.unwrap_err();
        assert!(matches!(e, OutboundError::Timeout), "{e}");
        drop(l);
    }
}
