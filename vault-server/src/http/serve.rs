//! The listener: plain HTTP (dev mode, loopback only) or TLS with rustls,
//! a connection cap, a header/handshake read timeout, HTTP/1.1 and HTTP/2,
//! and graceful shutdown (stop accepting, finish in-flight requests).

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
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::ServiceExt as _;

use super::middleware::PeerAddr;
use crate::metrics::Metrics;

/// Listener settings.
#[derive(Clone)]
pub struct ServeConfig {
    /// TLS, or `None` for plain HTTP (dev mode on loopback only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Time to finish the TLS handshake and to receive request headers.
    pub header_read_timeout: Duration,
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

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: ServeConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(cfg.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout);
    let acceptor = cfg.tls.clone().map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        // Waiting for a permit first means excess clients queue in the kernel backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
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
        let _ = stream.set_nodelay(true);
        metrics.connections.inc();
        let svc =
            app.clone()
                .map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
                    r.extensions_mut().insert(PeerAddr(peer));
                    r
                });
        let hyper_svc = TowerToHyperService::new(svc);
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let timeout = cfg.header_read_timeout;
        let watcher = graceful.watcher();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _permit = permit;
            metrics.open_connections.fetch_add(1, Ordering::Relaxed);
            match acceptor {
                Some(acc) => match tokio::time::timeout(timeout, acc.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), hyper_svc)
                            .into_owned();
                        let _ = watcher.watch(conn).await;
                    }
                    Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                },
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), hyper_svc)
                        .into_owned();
                    let _ = watcher.watch(conn).await;
                }
            }
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
