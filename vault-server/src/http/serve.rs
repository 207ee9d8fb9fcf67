//! The listener: plain HTTP (dev mode, loopback only) or TLS with rustls,
//! connection admission and deadlines (see [`super::conn`]), HTTP/1.1 and
//! HTTP/2, and graceful shutdown (stop accepting, finish in-flight requests).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::ServiceExt as _;

use super::conn::{ActivityIo, ConnLimits, ConnTable};
use super::middleware::PeerAddr;
use crate::metrics::Metrics;

/// Listener settings.
#[derive(Clone)]
pub struct ServeConfig {
    /// TLS, or `None` for plain HTTP (dev mode on loopback only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connection caps and deadlines.
    pub limits: ConnLimits,
    /// Reverse proxies: exempt from the per-source cap.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

/// Loads a PEM certificate chain and private key.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad TLS certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    refuse_ca_as_leaf(&certs).map_err(|why| format!("{}: {why}", cert.display()))?;
    // The error text never includes key bytes.
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read TLS private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate/key mismatch or unsupported: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Refuses a chain whose first certificate is a CA certificate
/// (basicConstraints CA:TRUE): every TLS client refuses such a server
/// certificate (RFC 5280 section 4.2.1.9; rustls says `CaUsedAsEndEntity`),
/// so the server would start and no client could connect. Checked by
/// building a path with the file's own certificates as trust anchors, the
/// way a client would: a leaf whose CA is not in the file passes unjudged.
fn refuse_ca_as_leaf(chain: &[rustls_pki_types::CertificateDer<'static>]) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier;
    let mut roots = rustls::RootCertStore::empty();
    for c in chain {
        // A certificate that cannot be an anchor only narrows the check.
        let _ = roots.add(c.clone());
    }
    let Some((leaf, rest)) = chain.split_first() else {
        return Ok(());
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
    else {
        return Ok(());
    };
    let name = rustls_pki_types::ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
    match verifier.verify_server_cert(leaf, rest, &name, &[], rustls_pki_types::UnixTime::now()) {
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)))
            if format!("{o:?}").contains("CaUsedAsEndEntity") =>
        {
            Err(
                "the first certificate is a CA certificate (basicConstraints CA:TRUE), which \
                 no TLS client accepts as a server's own; use a leaf certificate signed by \
                 that CA (docs/operations.md, \"TLS\")"
                    .to_owned(),
            )
        }
        _ => Ok(()),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: ServeConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let table = ConnTable::new(cfg.limits, cfg.trusted_proxies.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.limits.first_request_timeout);
    builder.http2().timer(TokioTimer::new());
    let acceptor = cfg.tls.clone().map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Admission first: an excess connection is closed at once instead of
        // waiting in a queue that idle clients could keep full.
        // `::ffff:a.b.c.d` from a dual-stack listener counts as a.b.c.d.
        let admitted = match table.admit(peer.ip().to_canonical()) {
            Ok(a) => a,
            Err(why) => {
                metrics.connections_shed.inc();
                tracing::debug!(peer = %peer, reason = ?why, "connection shed");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        metrics.connections.inc();
        let activity = admitted.activity.clone();
        let svc = app
            .clone()
            .map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
                r.extensions_mut().insert(PeerAddr(peer));
                r
            })
            .map_future(move |fut| {
                let in_flight = activity.request();
                async move {
                    let res = fut.await;
                    drop(in_flight);
                    res
                }
            });
        let hyper_svc = TowerToHyperService::new(svc);
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            metrics.open_connections.fetch_add(1, Ordering::Relaxed);
            let io_activity = admitted.activity.clone();
            let served = async {
                match acceptor {
                    Some(acc) => match acc.accept(stream).await {
                        Ok(tls) => {
                            let io = TokioIo::new(ActivityIo::new(tls, io_activity));
                            let conn = builder.serve_connection_with_upgrades(io, hyper_svc);
                            let _ = watcher.watch(conn.into_owned()).await;
                        }
                        Err(e) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                    },
                    None => {
                        let io = TokioIo::new(ActivityIo::new(stream, io_activity));
                        let conn = builder.serve_connection_with_upgrades(io, hyper_svc);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                }
            };
            tokio::select! {
                () = served => {}
                () = admitted.closing() => {
                    metrics.connections_timed_out.inc();
                    tracing::debug!(peer = %peer, "connection closed: idle, silent or evicted");
                }
            }
            drop(admitted);
            metrics.open_connections.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(listener);
    tracing::info!("stopped accepting; draining in-flight requests");
    if tokio::time::timeout(cfg.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timed out; closing remaining connections");
    }
}

/// True when plain HTTP may be served on `addr` (loopback only).
pub fn plain_http_allowed(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
