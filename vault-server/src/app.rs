//! Start-up and shutdown: hardening, config, logging, storage, the vault,
//! dev-mode bootstrap, background tasks, the listener, and a clean stop on
//! SIGTERM/SIGINT (stop accepting, finish requests, flush the audit queue).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::net::TcpListener;
use vault_core::clock::{Clock, SystemClock};

use crate::config::{Config, LogFormat};
use crate::http::conn::ConnLimits;
use crate::http::middleware::FrameConfig;
use crate::http::serve::{ServeConfig, load_tls, plain_http_allowed, serve};
use crate::metrics::Metrics;
use crate::service::tasks::{Intervals, spawn_all};
use crate::service::{Settings, Vault};
use crate::store::{Storage, StoreHandle, sqlite};

/// Command-line choices that shape the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--dev`.
    pub dev: bool,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// Loads and validates the configuration for `opts`, applying dev-mode
/// defaults. The returned temp dir (dev mode without `--data-dir`) must live
/// as long as the server.
pub fn load_config(opts: &Options) -> Result<(Config, Option<tempfile::TempDir>), String> {
    let text = match &opts.config {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read config file {}: {e}", p.display()))?,
        None => String::new(),
    };
    let mut cfg = Config::parse(&text, std::env::vars()).map_err(|e| e.to_string())?;
    if let Some(l) = opts.listen {
        cfg.server.listen = l;
    }
    if let Some(d) = &opts.data_dir {
        cfg.server.data_dir = d.clone();
    }
    let mut temp = None;
    if opts.dev {
        cfg.server.dev = true;
        cfg.server.tls_cert = None;
        cfg.server.tls_key = None;
        if opts.data_dir.is_none() {
            let t = tempfile::Builder::new()
                .prefix("vault-dev-")
                .tempdir()
                .map_err(|e| format!("cannot make a temporary data dir: {e}"))?;
            cfg.server.data_dir = t.path().to_path_buf();
            temp = Some(t);
        }
        if cfg.unseal.key_file.is_none() {
            cfg.unseal.key_file = Some(cfg.server.data_dir.join("unseal.key"));
        }
        if !plain_http_allowed(&cfg.server.listen) {
            return Err(format!(
                "dev mode serves plain HTTP and listens on loopback only; {} is not loopback",
                cfg.server.listen
            ));
        }
    }
    cfg.validate().map_err(|e| e.to_string())?;
    Ok((cfg, temp))
}

/// Sets up logging to stderr. Values and tokens are never logged anywhere.
pub fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match cfg.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the server until SIGTERM/SIGINT.
pub async fn run(opts: Options) -> Result<(), String> {
    let problems = crate::hardening::harden();
    let (cfg, _temp) = load_config(&opts)?;
    // Secrets the configuration points to are read before anything is
    // written: a missing client secret stops the start with nothing created.
    let sso = crate::service::sso::SsoSettings::from_config(&cfg.oidc, &|k| std::env::var(k).ok())?;
    init_logging(&cfg);
    for p in problems {
        tracing::warn!("{p}");
    }
    std::fs::create_dir_all(&cfg.server.data_dir).map_err(|e| {
        format!(
            "cannot create data dir {}: {e}",
            cfg.server.data_dir.display()
        )
    })?;
    let db = cfg.db_path();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let key_file = cfg.unseal.key_file.clone().unwrap_or_default();
    for w in crate::hardening::wider_than_private(&[&cfg.server.data_dir, &db, &wal, &key_file]) {
        tracing::warn!("{w}");
    }

    let sqlite = sqlite::open(
        &cfg.db_path(),
        cfg.storage.readers,
        cfg.storage.synchronous,
        cfg.storage.max_batch,
        Duration::from_secs(cfg.storage.integrity_check_secs),
    )
    .map_err(|e| format!("cannot open the database {}: {e}", cfg.db_path().display()))?;
    let storage: Arc<dyn Storage> = Arc::new(sqlite);
    let store = StoreHandle(storage.clone());
    let metrics = Arc::new(Metrics::default());
    // Dev mode only (config validation refuses it elsewhere): a manual clock
    // that tests advance through `POST /v1/sys/danger-test-clock`.
    let test_clock = cfg
        .identity
        .danger_test_clock
        .then(|| vault_core::clock::ManualClock::new(SystemClock.now()));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let mut settings = Settings::from_config(&cfg);
    settings.identity =
        crate::service::identity::IdentitySettings::from_config(&cfg.identity, test_clock);
    settings.sso = sso;
    let vault = Vault::open(store, clock, settings, metrics.clone())
        .await
        .map_err(|e| e.to_string())?;

    let dev_token = if cfg.server.dev {
        Some(
            vault
                .dev_bootstrap()
                .await
                .map_err(|e| format!("dev mode start failed: {e}"))?,
        )
    } else {
        match vault.auto_unseal().await {
            Ok(true) => tracing::info!("unsealed from the configured key file"),
            Ok(false) => tracing::info!("started sealed"),
            Err(e) => {
                tracing::error!(error = %e, "unseal from the key file failed; staying sealed")
            }
        }
        None
    };

    let tls = match (&cfg.server.tls_cert, &cfg.server.tls_key) {
        (Some(c), Some(k)) => Some(load_tls(c, k)?),
        _ => None,
    };
    if tls.is_none() && !plain_http_allowed(&cfg.server.listen) {
        return Err("refusing plain HTTP on a non-loopback address".into());
    }
    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.server.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listener address: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let shutdown = shutdown_signal();
    tracing::info!(%addr, scheme, "listening");

    if let Some(token) = dev_token {
        // Exactly two lines on stdout, then serve. The token goes to stdout
        // only (never the log), as the dev-mode contract says.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "export VAULT_ADDR=http://{addr}");
        let _ = writeln!(out, "export VAULT_TOKEN={}", token.expose_secret());
        let _ = out.flush();
    }

    let hsts = tls.as_ref().and_then(|_| {
        HeaderValue::from_str(&format!(
            "max-age={}; includeSubDomains",
            cfg.server.hsts_max_age_secs
        ))
        .ok()
    });
    let public = cfg
        .server
        .public_url
        .as_deref()
        .and_then(|u| crate::config::public_origin(u).ok())
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    // Passkeys need a domain name; without one the rest of the server runs.
    if let Err(e) = vault.set_passkey_origin(&public) {
        tracing::warn!("passkeys are off: {e}");
    }
    let app = crate::http::router(
        vault.clone(),
        cfg.limits.max_body_bytes,
        FrameConfig {
            request_timeout: Duration::from_secs(cfg.limits.request_timeout_secs),
            hsts,
            trusted_proxies: Arc::new(cfg.server.trusted_proxies.clone()),
            // Validated at load; an invalid one never gets here. Without
            // one (dev mode), the origin is the address actually bound.
            public_origin: Some(Arc::from(public)),
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    spawn_all(&vault, Intervals::from_config(&cfg), stop_rx);

    serve(
        listener,
        app,
        ServeConfig {
            tls,
            limits: ConnLimits {
                max_connections: cfg.limits.max_connections,
                max_per_source: cfg.limits.max_connections_per_source,
                first_request_timeout: Duration::from_secs(cfg.limits.header_read_timeout_secs),
                idle_timeout: Duration::from_secs(cfg.limits.idle_timeout_secs),
            },
            trusted_proxies: cfg.server.trusted_proxies.clone(),
            drain_timeout: Duration::from_secs(cfg.limits.request_timeout_secs),
        },
        metrics,
        shutdown,
    )
    .await;

    let _ = stop_tx.send(true);
    // Sign the final head into the checkpoint history (a clean stop).
    if !vault.sealed()
        && let Err(e) = vault.checkpoint().await
    {
        tracing::warn!(error = %e, "final audit checkpoint failed");
    }
    // Flush: the writer commits everything queued, then stops.
    tokio::task::spawn_blocking(move || storage.close())
        .await
        .map_err(|e| format!("shutdown: {e}"))?;
    let _ = vault.seal_now(false);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves at SIGTERM or SIGINT. The handlers are installed when this is
/// called (not when first polled), so a signal that arrives as soon as the
/// server says it is listening still gets a clean stop.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = i.recv() => tracing::info!("SIGINT: shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
