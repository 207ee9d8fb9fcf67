//! Server configuration: a TOML file (unknown keys rejected) with
//! `VAULT_<SECTION>_<KEY>` environment overrides, validated once at start.
//!
//! Every key is documented in `docs/configuration.md`; a test there keeps the
//! two in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod identity;
pub mod oidc;
pub mod workload;
pub use identity::IdentityConfig;
pub use oidc::OidcConfig;
pub use workload::WorkloadConfig;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// An environment override names no known key.
    #[error("environment variable {0} names no configuration key")]
    UnknownEnv(String),
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener and TLS.
    pub server: ServerConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Storage.
    pub storage: StorageConfig,
    /// Unattended unseal.
    pub unseal: UnsealConfig,
    /// Audit trail.
    pub audit: AuditConfig,
    /// Secrets.
    pub secrets: SecretsConfig,
    /// Key rotation.
    pub keys: KeysConfig,
    /// Logging.
    pub log: LogConfig,
    /// Users, sessions, throttling, emergency access.
    pub identity: IdentityConfig,
    /// `[[oidc.providers]]`: single sign-on.
    pub oidc: OidcConfig,
    /// `[[workload_identity.issuers]]`: CI and cluster tokens.
    pub workload_identity: WorkloadConfig,
    /// Metrics.
    pub telemetry: TelemetryConfig,
    /// Webhook alerts on critical events.
    pub alerts: AlertsConfig,
}

/// `[alerts]`: where webhook deliveries may go besides public HTTPS
/// endpoints (OWASP SSRF Prevention Cheat Sheet).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Private networks (CIDR, `10.20.0.0/16`) a receiver may be on, e.g.
    /// an internal incident-response service. Link-local and cloud
    /// metadata addresses are refused even inside them.
    pub allowed_networks: Vec<String>,
    /// DANGER, for tests and a receiver on the same machine: allow plain
    /// HTTP to loopback addresses.
    pub danger_allow_loopback: bool,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Serve `/v1/sys/metrics` without a token (for a scraper on a trusted
    /// network); otherwise it needs `metrics.read`.
    pub unauthenticated_metrics: bool,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the database, archives and (dev mode) the key file.
    pub data_dir: PathBuf,
    /// PEM certificate chain; required unless the listener is loopback and `dev` is set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age in seconds.
    pub hsts_max_age_secs: u64,
    /// Serve plain HTTP on a loopback address outside dev mode (tests, or a
    /// TLS-terminating proxy on the same host). Never allowed off loopback.
    pub danger_plain_http_loopback: bool,
    /// Networks of reverse proxies whose `X-Forwarded-For` is believed for
    /// the client address (audit source, throttles, token networks); exempt
    /// from the per-source connection cap. Empty: believe no one.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The origin browsers use to reach the server (`https://vault.example.com`,
    /// scheme, host and port only), when it differs from what requests carry
    /// as their host (a proxy that rewrites `Host`). The pages' same-origin
    /// checks accept it besides the request's own authority.
    pub public_url: Option<String>,
    /// Dev mode (plain HTTP on loopback, self-initializing). Set by `--dev`.
    #[serde(skip)]
    pub dev: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8200)),
            data_dir: PathBuf::from("./vault-data"),
            tls_cert: None,
            tls_key: None,
            hsts_max_age_secs: 31_536_000,
            danger_plain_http_loopback: false,
            trusted_proxies: Vec::new(),
            public_url: None,
            dev: false,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Time allowed to receive a request's headers (and the TLS handshake).
    pub header_read_timeout_secs: u64,
    /// Time allowed for a whole request.
    pub request_timeout_secs: u64,
    /// Concurrent connections; at the cap a connection that has sent no
    /// request yet (else an idle one) is closed to make room, else the new
    /// one is refused.
    pub max_connections: usize,
    /// Concurrent connections from one source address.
    pub max_connections_per_source: usize,
    /// Requests per second each principal (user, service token, root) may
    /// make on this node, on average; 0 turns the quota off.
    pub principal_requests_per_sec: u32,
    /// Requests a principal may make at once above the average.
    pub principal_burst: u32,
    /// A connection with no request in flight and no byte moving for this
    /// long is closed (HTTP/1 keep-alive and HTTP/2).
    pub idle_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 1024,
            max_connections_per_source: 256,
            principal_requests_per_sec: 2000,
            principal_burst: 10_000,
            idle_timeout_secs: 60,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// SQLite file; default `<data_dir>/vault.db`.
    pub path: Option<PathBuf>,
    /// Reader connections.
    pub readers: usize,
    /// `full` (every commit fsynced) or `normal` (WAL, durable at checkpoint).
    pub synchronous: Synchronous,
    /// Most write jobs committed together in one transaction.
    pub max_batch: usize,
    /// Memory for the read caches, MiB (0: off).
    pub read_cache_mib: usize,
    /// Time allowed for `PRAGMA quick_check` at start, seconds (0: skip).
    pub integrity_check_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: None,
            readers: 4,
            synchronous: Synchronous::Full,
            max_batch: 256,
            read_cache_mib: 32,
            integrity_check_secs: 30,
        }
    }
}

/// SQLite `synchronous` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync on every commit.
    Full,
    /// fsync at WAL checkpoints only.
    Normal,
}

/// `[unseal]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnsealConfig {
    /// Key file written by `init` in key-file mode and read at every start.
    pub key_file: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Days records stay in the database before moving to an archive file.
    pub retention_days: u32,
    /// Seconds between signed checkpoints.
    pub checkpoint_interval_secs: u64,
    /// Seconds between retention sweeps.
    pub retention_interval_secs: u64,
    /// Unseal even when the audit chain since the last signed head is broken
    /// (recorded as a critical `audit.chain_break` event). Only after the
    /// evidence was preserved: see docs/audit.md, "A broken chain".
    pub danger_extend_broken_chain: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 90,
            checkpoint_interval_secs: 300,
            retention_interval_secs: 3600,
            danger_extend_broken_chain: false,
        }
    }
}

/// `[secrets]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Days a deleted secret stays in the trash.
    pub trash_retention_days: u32,
    /// Seconds between trash purges.
    pub purge_interval_secs: u64,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            trash_retention_days: 30,
            purge_interval_secs: 3600,
        }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Rotate a project's KEK after this many days (0: never by age).
    pub rotation_max_age_days: u32,
    /// Rotate a KEK after this many wraps.
    pub rotation_max_wraps: u64,
    /// Seconds between automatic rotation checks.
    pub rotation_check_interval_secs: u64,
    /// Data keys moved per rewrap transaction.
    pub rewrap_batch: usize,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            rotation_max_age_days: 90,
            rotation_max_wraps: 1 << 24,
            rotation_check_interval_secs: 3600,
            rewrap_batch: 2000,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `vault_server=debug`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

const SECTIONS: [&str; 11] = [
    "server",
    "limits",
    "storage",
    "unseal",
    "audit",
    "secrets",
    "keys",
    "log",
    "identity",
    "telemetry",
    "alerts",
];

impl Config {
    /// Reads `path` (if any), applies `VAULT_*` overrides from `env`, and
    /// validates. `env` is passed in so tests need not touch the process.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_and_env(&text, env)
    }

    /// Parses TOML text, applies overrides, validates.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let cfg = Self::parse(text, env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text and applies overrides, without validating (the
    /// caller adjusts, e.g. for dev mode, then calls [`Config::validate`]).
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (k, v) in env {
            apply_env(&mut table, &k, &v)?;
        }
        let cfg: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        Ok(cfg)
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.storage
            .path
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("vault.db"))
    }

    /// Checks consistency; called by `load` and again after dev-mode changes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if let Some(u) = &self.server.public_url
            && let Err(why) = public_origin(u)
        {
            return Err(ConfigError::Invalid(format!("server.public_url: {why}")));
        }
        if let Some(bad_net) = self
            .alerts
            .allowed_networks
            .iter()
            .find(|n| vault_core::alerts::parse_network(n).is_none())
        {
            return Err(ConfigError::Invalid(format!(
                "alerts.allowed_networks: {bad_net:?} is not a network (10.20.0.0/16)"
            )));
        }
        if self.limits.max_body_bytes < 1024 {
            return bad("limits.max_body_bytes must be at least 1024");
        }
        if self.limits.max_connections == 0 {
            return bad("limits.max_connections must be at least 1");
        }
        if self.limits.max_connections_per_source == 0 {
            return bad("limits.max_connections_per_source must be at least 1");
        }
        if self.limits.header_read_timeout_secs == 0
            || self.limits.request_timeout_secs == 0
            || self.limits.idle_timeout_secs == 0
        {
            return bad("limits timeouts must be at least 1 second");
        }
        if self.storage.readers == 0 || self.storage.readers > 64 {
            return bad("storage.readers must be 1..=64");
        }
        if self.storage.max_batch == 0 {
            return bad("storage.max_batch must be at least 1");
        }
        if self.storage.read_cache_mib > 16 * 1024 {
            return bad("storage.read_cache_mib must be at most 16384 (16 GiB)");
        }
        if self.keys.rotation_max_wraps == 0 || self.keys.rotation_max_wraps > (1 << 30) {
            return bad(
                "keys.rotation_max_wraps must be 1..=2^30 (NIST SP 800-38D caps random-nonce \
                 AES-GCM at 2^32 encryptions per key; we keep a margin of 4)",
            );
        }
        if self.server.hsts_max_age_secs == 0 && !self.server.dev {
            return bad(
                "server.hsts_max_age_secs = 0 would tell browsers to forget HTTPS for this host; \
                 use at least 86400 (a year, 31536000, is the default)",
            );
        }
        if !self.server.dev
            && let Some(k) = &self.unseal.key_file
            && inside(k, &self.server.data_dir)
        {
            return bad(
                "unseal.key_file is inside server.data_dir: a copy of the data directory would \
                 then unseal itself anywhere; keep the key file elsewhere (another disk, a \
                 secrets mount)",
            );
        }
        if self.alerts.danger_allow_loopback && !self.server.dev {
            return bad(
                "alerts.danger_allow_loopback is for dev mode and tests: a real receiver is an \
                 https:// URL (put an internal one's network in alerts.allowed_networks)",
            );
        }
        if self.keys.rewrap_batch == 0 {
            return bad("keys.rewrap_batch must be at least 1");
        }
        if self.audit.checkpoint_interval_secs == 0
            || self.audit.retention_interval_secs == 0
            || self.secrets.purge_interval_secs == 0
            || self.keys.rotation_check_interval_secs == 0
        {
            return bad("intervals must be at least 1 second");
        }
        if self.audit.retention_days == 0 {
            return bad("audit.retention_days must be at least 1");
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), Some(_)) => {}
            (None, None) => {
                if !self.server.dev && !self.server.danger_plain_http_loopback {
                    return bad(
                        "server.tls_cert and server.tls_key are required (plain HTTP only in --dev mode on loopback)",
                    );
                }
            }
            _ => return bad("set both server.tls_cert and server.tls_key, or neither"),
        }
        if self.server.tls_cert.is_none() && !self.server.listen.ip().is_loopback() {
            return bad("refusing plain HTTP on a non-loopback address; configure TLS");
        }
        self.identity
            .validate(self.server.dev)
            .map_err(ConfigError::Invalid)?;
        self.oidc.validate().map_err(ConfigError::Invalid)?;
        self.workload_identity
            .validate()
            .map_err(ConfigError::Invalid)?;
        if !self.oidc.providers.is_empty() && self.server.public_url.is_none() && !self.server.dev {
            return bad(
                "[[oidc.providers]] needs server.public_url: the IdP sends browsers back to \
                 <public_url>/v1/auth/oidc/<name>/callback, which must be the address people use",
            );
        }
        Ok(())
    }
}

/// Whether `path` is `dir` or below it: both made absolute, resolved
/// through symlinks where they exist, and `..` removed lexically elsewhere.
fn inside(path: &std::path::Path, dir: &std::path::Path) -> bool {
    use std::path::{Component, PathBuf};
    let abs = |p: &std::path::Path| -> PathBuf {
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
        let joined = match std::env::current_dir() {
            Ok(cwd) if p.is_relative() => cwd.join(p),
            _ => p.to_path_buf(),
        };
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    let p = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => abs(parent).join(name),
        _ => abs(path),
    };
    p.starts_with(abs(dir))
}

/// The origin in `server.public_url`: `scheme://host[:port]`, lowercase,
/// without a trailing slash. `https`, or `http` on a loopback host only
/// (RFC 6454 origins; a path, query or user part is refused).
pub fn public_origin(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("give scheme, host and port, e.g. https://vault.example.com")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', ' '])
        || authority.chars().any(char::is_control)
    {
        return Err("only scheme, host and port: no path, query or user".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme.as_str() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("plain http is allowed only on a loopback host".into()),
        _ => return Err("the scheme must be https".into()),
    }
    Ok(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn apply_env(table: &mut toml::Table, key: &str, value: &str) -> Result<(), ConfigError> {
    let Some(rest) = key.strip_prefix("VAULT_") else {
        return Ok(());
    };
    let lower = rest.to_ascii_lowercase();
    let Some((section, field)) = SECTIONS.iter().find_map(|s| {
        lower
            .strip_prefix(s)
            .and_then(|r| r.strip_prefix('_'))
            .map(|f| (*s, f.to_owned()))
    }) else {
        // VAULT_ADDR, VAULT_TOKEN and friends belong to the CLI.
        return Ok(());
    };
    if field.is_empty() {
        return Err(ConfigError::UnknownEnv(key.to_owned()));
    }
    // A TOML array (`["10.0.0.0/8"]`) for list settings; else a number, a
    // boolean, or a string.
    let array = value
        .trim_start()
        .starts_with('[')
        .then(|| toml::from_str::<toml::Table>(&format!("v = {value}")).ok())
        .flatten()
        .and_then(|mut t| t.remove("v"));
    let parsed = match array {
        Some(a) => a,
        None => value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| value.parse::<bool>().map(toml::Value::Boolean))
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
    };
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => {
            t.insert(field, parsed);
            Ok(())
        }
        _ => Err(ConfigError::Parse(format!("[{section}] is not a table"))),
    }
}

/// Every documented key as `section.key`, for the docs test.
pub fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    let add = |keys: &mut Vec<String>, s: &str, names: &[&str]| {
        keys.extend(names.iter().map(|n| format!("{s}.{n}")));
    };
    add(&mut keys, "identity", IdentityConfig::KEYS);
    add(&mut keys, "oidc.providers", OidcConfig::PROVIDER_KEYS);
    add(
        &mut keys,
        "oidc.providers.group_roles",
        &["group", "role", "scope"],
    );
    add(
        &mut keys,
        "server",
        &[
            "listen",
            "data_dir",
            "tls_cert",
            "tls_key",
            "hsts_max_age_secs",
            "danger_plain_http_loopback",
            "trusted_proxies",
            "public_url",
        ],
    );
    add(
        &mut keys,
        "limits",
        &[
            "max_body_bytes",
            "header_read_timeout_secs",
            "request_timeout_secs",
            "max_connections",
            "max_connections_per_source",
            "principal_requests_per_sec",
            "principal_burst",
            "idle_timeout_secs",
        ],
    );
    add(
        &mut keys,
        "storage",
        &[
            "path",
            "readers",
            "synchronous",
            "max_batch",
            "read_cache_mib",
            "integrity_check_secs",
        ],
    );
    add(&mut keys, "unseal", &["key_file"]);
    add(
        &mut keys,
        "audit",
        &[
            "retention_days",
            "checkpoint_interval_secs",
            "retention_interval_secs",
            "danger_extend_broken_chain",
        ],
    );
    add(
        &mut keys,
        "secrets",
        &["trash_retention_days", "purge_interval_secs"],
    );
    add(
        &mut keys,
        "keys",
        &[
            "rotation_max_age_days",
            "rotation_max_wraps",
            "rotation_check_interval_secs",
            "rewrap_batch",
        ],
    );
    add(&mut keys, "log", &["level", "format"]);
    add(&mut keys, "telemetry", &["unauthenticated_metrics"]);
    add(
        &mut keys,
        "alerts",
        &["allowed_networks", "danger_allow_loopback"],
    );
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS: &str = "[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";

    #[test]
    fn defaults_need_tls() {
        assert!(Config::from_toml_and_env("", []).is_err());
        let c = Config::from_toml_and_env(TLS, []).unwrap();
        assert_eq!(c.limits.max_connections, 1024);
        assert_eq!(c.audit.retention_days, 90);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = Config::from_toml_and_env(&format!("{TLS}typo = 1\n"), []).unwrap_err();
        assert!(e.to_string().contains("typo"), "{e}");
        let e = Config::from_toml_and_env(&format!("{TLS}[nope]\nx=1\n"), []).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn public_url_is_an_origin() {
        assert_eq!(
            public_origin("https://Vault.Example.com/").unwrap(),
            "https://vault.example.com"
        );
        assert_eq!(
            public_origin("http://localhost:8200").unwrap(),
            "http://localhost:8200"
        );
        for bad in [
            "vault.example.com",
            "http://vault.example.com",
            "https://vault.example.com/ui",
            "https://u@vault.example.com",
            "ftp://x",
            "https://",
        ] {
            assert!(public_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_overrides_and_ignores_cli_vars() {
        let env = [
            ("VAULT_LIMITS_MAX_CONNECTIONS".to_owned(), "7".to_owned()),
            (
                "VAULT_SERVER_LISTEN".to_owned(),
                "127.0.0.1:9999".to_owned(),
            ),
            ("VAULT_ADDR".to_owned(), "http://x".to_owned()),
            ("VAULT_TOKEN".to_owned(), "t".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let c = Config::from_toml_and_env(TLS, env).unwrap();
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.server.listen.port(), 9999);
        let env = [("VAULT_LIMITS_NOPE".to_owned(), "1".to_owned())];
        assert!(Config::from_toml_and_env(TLS, env).is_err());
    }

    #[test]
    fn refuses_settings_that_weaken_what_the_docs_promise() {
        let with = |extra: &str| Config::from_toml_and_env(&format!("{TLS}{extra}"), []);
        let e = with("hsts_max_age_secs = 0\n").unwrap_err();
        assert!(e.to_string().contains("hsts_max_age_secs"), "{e}");
        let e = with("[keys]\nrotation_max_wraps = 1073741825\n").unwrap_err();
        assert!(e.to_string().contains("2^30"), "{e}");
        assert!(with("[keys]\nrotation_max_wraps = 1073741824\n").is_ok());
        let e = with(
            "data_dir = \"/srv/vault\"\n[unseal]\nkey_file = \"/srv/vault/keys/unseal.key\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("inside server.data_dir"), "{e}");
        assert!(
            with("data_dir = \"/srv/vault\"\n[unseal]\nkey_file = \"/etc/vault/unseal.key\"\n")
                .is_ok()
        );
        let e = with("data_dir = \"d\"\n[unseal]\nkey_file = \"x/../d/k\"\n").unwrap_err();
        assert!(e.to_string().contains("inside"), "{e}");
    }

    #[test]
    fn refuses_plain_http_off_loopback() {
        let mut c = Config::default();
        c.server.dev = true;
        c.validate().unwrap();
        c.server.listen = "0.0.0.0:8200".parse().unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn sso_outside_dev_mode_needs_the_public_url() {
        let sso = "[[oidc.providers]]\nname = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"v\"\n";
        let e = Config::from_toml_and_env(&format!("{TLS}{sso}"), []).unwrap_err();
        assert!(e.to_string().contains("server.public_url"), "{e}");
        let with = format!("{TLS}public_url = \"https://vault.example.com\"\n{sso}");
        Config::from_toml_and_env(&with, []).unwrap();
    }

    #[test]
    fn docs_list_every_key() {
        let doc = include_str!("../../docs/configuration.md");
        for k in known_keys() {
            assert!(
                doc.contains(&format!("`{k}`")),
                "docs/configuration.md misses `{k}`"
            );
        }
    }
}
