//! The service layer: every operation of the vault, with its access check and
//! its audit record. HTTP handlers call only this; nothing here knows HTTP.
//!
//! - [`access`]: principals, actions, the decision.
//! - [`lifecycle`]: init, unseal, seal, root-key rotation.
//! - [`secrets`]: projects, environments, secrets.
//! - [`keys`]: KEK cache, status, rotation, retire/destroy.
//! - [`rewrap`]: the persisted, resumable rewrap job.
//! - [`audit`]: listing, export, verification, checkpoints, retention.
//! - [`cache`]: credential and version caches, invalidated by any change.
//! - [`outbound`]: the guarded HTTP client for calls to IdPs and issuers.
//! - [`passkeys`]: WebAuthn passkeys: registration and passwordless login.
//! - [`sso`]: single sign-on with OpenID Connect.
//! - [`tasks`]: periodic background work.
//! - [`workload`]: workload identity (CI and cluster JWTs for tokens).

pub mod access;
pub mod alerts;
pub mod audit;
pub mod cache;
pub mod compliance;
pub mod error;
pub mod identity;
pub mod keys;
pub mod lifecycle;
pub mod outbound;
pub mod passkeys;
pub mod reviews;
pub mod rewrap;
pub mod root;
pub mod secrets;
pub mod sso;
pub mod tasks;
#[cfg(test)]
mod tests;
pub mod workload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

use vault_core::audit::{AuditEntry, AuditSigningKey, Outcome};
use vault_core::clock::Clock;
use vault_core::crypto::{KeyRing, RootKey, UnsealKey, parse_token, verify_token_hash};
use vault_core::secret::SecretText;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{AuditCode, StoreHandle, Writer};
pub use access::{Action, Ctx, Principal};
pub use error::{Error, Kind, Result};

/// Keys held while unsealed; dropping this wipes them.
pub struct Unsealed {
    /// The root key.
    pub root: RootKey,
    /// The unseal key (kept to re-wrap the root key on rotation).
    pub unseal: UnsealKey,
    /// The audit checkpoint signing key.
    pub audit_key: AuditSigningKey,
    /// The key of the secret head MACs (derived from `audit_key`).
    pub secret_heads: vault_core::audit::SecretHeadKey,
    /// Unwrapped KEKs per project, loaded on first use.
    pub rings: Mutex<HashMap<String, Arc<KeyRing>>>,
}

/// Seal state.
pub enum SealState {
    /// No `init` yet.
    Uninitialized,
    /// Initialized, keys not in memory; Shamir shares given so far.
    Sealed {
        /// Shares collected.
        shares: Vec<SecretText>,
        /// Sealed by an operator (not at start): a key-file vault then needs
        /// the key itself, never the configured file, to unseal.
        manual: bool,
    },
    /// Keys in memory.
    Unsealed(Arc<Unsealed>),
}

/// Settings the service needs, taken from the config once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Data directory (archives live under it).
    pub data_dir: PathBuf,
    /// Key file for unattended unseal.
    pub key_file: Option<PathBuf>,
    /// Trash window.
    pub trash_retention_secs: i64,
    /// Audit retention.
    pub audit_retention_secs: i64,
    /// Unseal over a broken audit chain (recorded as critical).
    pub danger_extend_broken_chain: bool,
    /// Requests per principal (per node); `None`: no quota.
    pub request_quota: Option<vault_core::quota::Quota>,
    /// `/v1/sys/metrics` without a token.
    pub unauthenticated_metrics: bool,
    /// KEK rotation policy.
    pub rotation: vault_core::crypto::RotationPolicy,
    /// Data keys per rewrap transaction.
    pub rewrap_batch: usize,
    /// Memory for the read caches, bytes (0: off).
    pub read_cache_bytes: usize,
    /// Sessions, throttling, password hashing, emergency access.
    pub identity: identity::IdentitySettings,
    /// Single sign-on providers (with their client secrets).
    pub sso: sso::SsoSettings,
    /// Workload identity issuers and their configured roles.
    pub workload: crate::config::WorkloadConfig,
    /// Where webhook deliveries may go.
    pub alerts: crate::config::AlertsConfig,
    /// The TLS certificate served (`None`: plain HTTP), for the compliance
    /// report.
    pub tls_cert: Option<PathBuf>,
    /// HSTS max-age, seconds.
    pub hsts_max_age_secs: u64,
    /// `audit.retention_days` (0: forever).
    pub audit_retention_days: u32,
    /// `emergency_max_secs`.
    pub emergency_max_secs: i64,
}

impl Settings {
    /// From the config.
    pub fn from_config(c: &Config) -> Self {
        Self {
            data_dir: c.server.data_dir.clone(),
            key_file: c.unseal.key_file.clone(),
            trash_retention_secs: i64::from(c.secrets.trash_retention_days) * 86_400,
            audit_retention_secs: i64::from(c.audit.retention_days) * 86_400,
            danger_extend_broken_chain: c.audit.danger_extend_broken_chain,
            request_quota: (c.limits.principal_requests_per_sec > 0).then(|| {
                vault_core::quota::Quota {
                    rate_per_sec: c.limits.principal_requests_per_sec,
                    burst: c.limits.principal_burst.max(1),
                }
            }),
            unauthenticated_metrics: c.telemetry.unauthenticated_metrics,
            rotation: vault_core::crypto::RotationPolicy {
                max_age_secs: (c.keys.rotation_max_age_days > 0)
                    .then(|| i64::from(c.keys.rotation_max_age_days) * 86_400),
                max_wraps: c.keys.rotation_max_wraps,
            },
            rewrap_batch: c.keys.rewrap_batch,
            read_cache_bytes: c.storage.read_cache_mib.saturating_mul(1 << 20),
            identity: identity::IdentitySettings::from_config(&c.identity, None),
            // Secrets are read at start (app.rs), not here.
            sso: sso::SsoSettings::default(),
            workload: c.workload_identity.clone(),
            alerts: c.alerts.clone(),
            tls_cert: c.server.tls_cert.clone(),
            hsts_max_age_secs: c.server.hsts_max_age_secs,
            audit_retention_days: c.audit.retention_days,
            emergency_max_secs: c.identity.emergency_max_secs,
        }
    }
}

/// The vault: state, storage, clock. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    settings: Settings,
    state: RwLock<SealState>,
    metrics: Arc<Metrics>,
    rewrap_running: Mutex<std::collections::HashSet<String>>,
    /// Failed unseal attempts per source address and when the last one
    /// failed; an attempt is reserved (counted) here before it runs.
    unseal_failures: Mutex<std::collections::HashMap<String, (u32, vault_core::clock::Timestamp)>>,
    /// Unseal attempts run one at a time (each may run Argon2id).
    unseal_turn: tokio::sync::Mutex<()>,
    /// Request quota buckets by principal, and when each was last used.
    quotas: Mutex<HashMap<String, (vault_core::quota::Bucket, vault_core::clock::Timestamp)>>,
    identity: identity::IdentityState,
    /// `settings.identity`, shared with the reader threads without a copy
    /// per request.
    identity_settings: Arc<identity::IdentitySettings>,
    /// Read caches, shared with the reader threads.
    cache: Arc<cache::ReadCache>,
    /// Single sign-on providers.
    sso: sso::SsoState,
    /// Workload identity issuers.
    workload: workload::WorkloadState,
    /// The passkey relying party.
    passkeys: passkeys::PasskeyState,
    /// Webhook deliveries.
    alerts: alerts::AlertState,
}

impl Vault {
    /// A vault over `store`; reads whether it is initialized.
    pub async fn open(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let initialized = store.read(|r| r.seal_config()).await?.is_some();
        let state = if initialized {
            SealState::Sealed {
                shares: Vec::new(),
                manual: false,
            }
        } else {
            SealState::Uninitialized
        };
        metrics.set_sealed(true);
        let identity = identity::IdentityState::new(&settings.identity);
        let sso = sso::SsoState::new(&settings.sso).map_err(Error::internal)?;
        let workload = workload::WorkloadState::new(&settings.workload).map_err(Error::internal)?;
        let alerts = alerts::AlertState::new(&settings.alerts).map_err(Error::internal)?;
        let identity_settings = Arc::new(settings.identity.clone());
        let cache = Arc::new(cache::ReadCache::new(
            store.0.changes(),
            settings.read_cache_bytes,
            metrics.clone(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                settings,
                state: RwLock::new(state),
                metrics,
                rewrap_running: Mutex::default(),
                unseal_failures: Mutex::default(),
                unseal_turn: tokio::sync::Mutex::new(()),
                quotas: Mutex::default(),
                identity,
                identity_settings,
                cache,
                sso,
                workload,
                passkeys: passkeys::PasskeyState::default(),
                alerts,
            }),
        })
    }

    /// Storage.
    pub fn store(&self) -> &StoreHandle {
        &self.inner.store
    }

    /// Clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// Settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The read caches.
    pub fn cache(&self) -> &Arc<cache::ReadCache> {
        &self.inner.cache
    }

    /// Whether init has run.
    pub fn initialized(&self) -> bool {
        self.inner
            .state
            .read()
            .map(|s| !matches!(*s, SealState::Uninitialized))
            .unwrap_or(false)
    }

    /// Whether sealed (also true before init).
    pub fn sealed(&self) -> bool {
        self.unsealed().is_err()
    }

    /// The unsealed keys, or `vault.sealed`.
    pub fn unsealed(&self) -> Result<Arc<Unsealed>> {
        match &*self
            .inner
            .state
            .read()
            .map_err(|_| Error::internal("poisoned"))?
        {
            SealState::Unsealed(u) => Ok(u.clone()),
            _ => Err(Error::sealed()),
        }
    }

    /// An audit entry for this request.
    pub fn entry(
        &self,
        ctx: &Ctx,
        principal: Option<&Principal>,
        action: &str,
        resource: &str,
        outcome: Outcome,
        detail: Option<String>,
    ) -> AuditEntry {
        // Everything done while a break-glass grant is open is marked, so
        // the trail shows exactly what was done under it.
        let now = self.inner.clock.now();
        let detail = match principal {
            Some(Principal::User {
                emergency_until: Some(until),
                ..
            }) if *until > now => Some(match detail {
                Some(d) => format!("under emergency access; {d}"),
                None => "under emergency access".to_owned(),
            }),
            _ => detail,
        };
        AuditEntry {
            time: now,
            request_id: ctx.request_id.clone(),
            actor: principal.map_or_else(|| "anonymous".to_owned(), Principal::actor),
            token_id: principal.and_then(Principal::token_id),
            action: action.to_owned(),
            resource: resource.to_owned(),
            outcome,
            source: ctx.source.clone(),
            detail,
        }
    }

    /// Appends an audit record on its own and waits until it is durable.
    /// Fails closed: if it cannot be written the request fails.
    pub async fn audit(&self, ctx: &Ctx, entry: AuditEntry) -> Result<()> {
        ctx.audited.store(true, Ordering::Relaxed);
        self.inner
            .store
            .audit(entry)
            .await
            .map_err(|e| Error::internal(format!("audit append failed: {e}")))?;
        self.inner.metrics.audit_records.inc();
        Ok(())
    }

    /// Who is calling: verifies the credential against the database, or
    /// against the cache of what the database accepted since its last
    /// change (so revocation is still immediate).
    pub async fn authenticate(&self, ctx: &Ctx) -> Result<Principal> {
        let p = match self.cached_principal(ctx) {
            Some(p) => p,
            None => {
                let cred = ctx.credential.clone();
                let auth = self.auth_input(ctx);
                self.inner
                    .store
                    .read(move |r| Ok(check_token(r, cred.as_ref(), &auth)))
                    .await??
            }
        };
        self.touch(&p).await?;
        Ok(p)
    }

    /// Who a credential belongs to, for naming the caller in a record of a
    /// request that failed before the service saw it: like
    /// [`Vault::authenticate`] but without touching the session (a failed
    /// request must not keep a session alive).
    pub async fn identify(&self, ctx: &Ctx) -> Result<Principal> {
        if let Some(p) = self.cached_principal(ctx) {
            return Ok(p);
        }
        let cred = ctx.credential.clone();
        let auth = self.auth_input(ctx);
        self.inner
            .store
            .read(move |r| Ok(check_token(r, cred.as_ref(), &auth)))
            .await?
    }

    /// A credential the database accepted since the last change, still valid.
    fn cached_principal(&self, ctx: &Ctx) -> Option<Principal> {
        self.inner
            .cache
            .principal(ctx.credential.as_ref(), &ctx.source, self.inner.clock.now())
    }

    /// What a credential check needs besides the credential.
    fn auth_input(&self, ctx: &Ctx) -> AuthInput {
        AuthInput {
            now: self.inner.clock.now(),
            source: ctx.source.clone(),
            settings: self.inner.identity_settings.clone(),
            cache: self.inner.cache.clone(),
        }
    }

    /// Single sign-on providers.
    pub(crate) fn sso_state(&self) -> &sso::SsoState {
        &self.inner.sso
    }

    /// Workload identity issuers.
    pub(crate) fn workload_state(&self) -> &workload::WorkloadState {
        &self.inner.workload
    }

    /// The passkey relying party.
    pub(crate) fn alert_state(&self) -> &alerts::AlertState {
        &self.inner.alerts
    }

    pub(crate) fn passkey_state(&self) -> &passkeys::PasskeyState {
        &self.inner.passkeys
    }

    /// Identity runtime state (hash limiter, dummy hash).
    pub(crate) fn identity_state(&self) -> &identity::IdentityState {
        &self.inner.identity
    }

    /// Whether the caller may read the metrics (`metrics.read`, or anyone
    /// with `telemetry.unauthenticated_metrics`). Refusals are audited;
    /// allowed scrapes are not (they would drown the trail).
    pub async fn may_read_metrics(&self, ctx: &Ctx) -> Result<()> {
        if self.inner.settings.unauthenticated_metrics {
            return Ok(());
        }
        self.authorize(ctx, Action::MetricsRead, "sys/metrics")
            .await
            .map(|_| ())
    }

    /// Takes one request from the caller's quota (per node, per principal:
    /// a user, a service token, or root), or refuses with
    /// `request.quota_exceeded` (429, `Retry-After`).
    fn take_quota(&self, p: &Principal) -> Result<()> {
        let Some(q) = self.inner.settings.request_quota else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let key = p.actor();
        let mut book = self
            .inner
            .quotas
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        if book.len() > 10_000 {
            // Forget buckets that have refilled completely (idle callers).
            let full_after = i64::from(q.burst / q.rate_per_sec.max(1)) + 1;
            book.retain(|_, b| now.secs_since(b.1) < full_after);
        }
        let bucket = book.get(&key).map_or_else(|| q.fresh(now), |b| b.0);
        match q.take(bucket, now) {
            Ok(b) => {
                book.insert(key, (b, now));
                Ok(())
            }
            Err(wait) => Err(Error::throttled(
                "request.quota_exceeded",
                format!(
                    "this caller exceeded its request quota ({} per second); retry in {wait} s",
                    q.rate_per_sec
                ),
                wait,
            )),
        }
    }

    /// Audits a refusal of `action` on `resource` as denied, naming the
    /// caller when known, with the error's code; returns the error to answer
    /// (or, failing closed, the audit failure).
    pub(crate) async fn audit_refusal(
        &self,
        ctx: &Ctx,
        p: Option<&Principal>,
        action: &str,
        resource: &str,
        err: Error,
    ) -> Error {
        let entry = self.entry(
            ctx,
            p,
            action,
            resource,
            Outcome::Denied,
            Some(err.code.to_owned()),
        );
        match self.audit(ctx, entry).await {
            Ok(()) => err,
            Err(audit_failed) => audit_failed,
        }
    }

    /// Authenticates and decides. A refusal is audited here (as denied) and
    /// returned; an allowed call is audited by the operation itself.
    pub async fn authorize(&self, ctx: &Ctx, action: Action, resource: &str) -> Result<Principal> {
        match self.authenticate(ctx).await {
            Ok(p) if access::allowed(&p, action, resource) => match self.take_quota(&p) {
                Ok(()) => Ok(p),
                Err(e) => Err(self
                    .audit_refusal(ctx, Some(&p), action.as_str(), resource, e)
                    .await),
            },
            auth => Err(self.deny(ctx, auth, action, resource).await),
        }
    }

    /// [`Vault::authorize`] for the most dangerous actions (destroy, delete a
    /// project, emergency access, users, roles, bindings, root rotation): a
    /// user session must also have proved a passkey within
    /// `identity.step_up_secs`, or the answer is 401 `auth.step_up_required`
    /// (audited). Service tokens are exempt: they are scoped instead.
    pub async fn authorize_sensitive(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: &str,
    ) -> Result<Principal> {
        let p = self.authorize(ctx, action, resource).await?;
        self.step_up(ctx, &p, action.as_str(), resource).await?;
        Ok(p)
    }

    /// Refuses a dangerous `action` by a session whose passkey proof is
    /// older than `identity.step_up_secs` (see [`Vault::authorize_sensitive`]).
    pub(crate) async fn step_up(
        &self,
        ctx: &Ctx,
        p: &Principal,
        action: &str,
        resource: &str,
    ) -> Result<()> {
        let Principal::User {
            factors,
            has_passkey,
            ..
        } = p
        else {
            return Ok(());
        };
        let secs = self.inner.identity_settings.step_up_secs;
        if !factors.needs_step_up(*has_passkey, self.inner.clock.now(), secs) {
            return Ok(());
        }
        let e = Error::new(
            Kind::Unauthenticated,
            "auth.step_up_required",
            format!(
                "this action needs your passkey again (the last check in this session is over \
                 {secs} s old): confirm with POST /v1/auth/passkeys/step-up/start and /finish \
                 (the pages ask for it), or sign in again with `vault login --web`"
            ),
        );
        Err(self.audit_refusal(ctx, Some(p), action, resource, e).await)
    }

    /// Audits a refusal (unauthenticated, or authenticated but not allowed)
    /// and returns the error to answer; a failed audit answers that instead.
    async fn deny(
        &self,
        ctx: &Ctx,
        auth: Result<Principal>,
        action: Action,
        resource: &str,
    ) -> Error {
        let (p, err) = match auth {
            Ok(p) => (Some(p), Error::forbidden_needing(action, resource)),
            Err(e) => (None, e),
        };
        self.audit_refusal(ctx, p.as_ref(), action.as_str(), resource, err)
            .await
    }

    /// Runs a read-only operation: decide, run, audit the outcome (durably),
    /// answer. `op` runs only when allowed.
    pub async fn audited<T, F, Fut>(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: &str,
        op: F,
    ) -> Result<T>
    where
        F: FnOnce(Principal) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let p = self.authorize(ctx, action, resource).await?;
        let res = op(p.clone()).await;
        let (outcome, detail) = match &res {
            Ok(_) => (Outcome::Success, None),
            Err(e) => (e.audit_outcome(), Some(e.code.to_owned())),
        };
        let entry = self.entry(ctx, Some(&p), action.as_str(), resource, outcome, detail);
        self.audit(ctx, entry).await?;
        res
    }

    /// Like [`Vault::audited`], for the hot read paths: the token check, the
    /// decision and `read` run in ONE hop to a reader connection (`read`
    /// only when allowed); `op` then works on what was read (decryption).
    /// A caller whose credential is cached is decided without a reader, and
    /// when `cached` has the data too, no reader is used at all.
    pub async fn audited_read<R, T, C, F, G, Fut>(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: &str,
        cached: C,
        read: F,
        op: G,
    ) -> Result<T>
    where
        R: Send + 'static,
        C: FnOnce() -> Option<R>,
        F: FnOnce(&dyn crate::store::Reader) -> Result<R> + Send + 'static,
        G: FnOnce(Principal, R) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let (auth, data) = match self.cached_principal(ctx) {
            // Known caller: the decision is pure, only the data may need
            // a reader (or not even that).
            Some(p) if access::allowed(&p, action, resource) => {
                let data = match cached() {
                    Some(d) => Ok(d),
                    None => self.inner.store.read(move |r| Ok(read(r))).await?,
                };
                (Ok(p), Some(data))
            }
            Some(p) => (Ok(p), None),
            None => {
                let cred = ctx.credential.clone();
                let auth_in = self.auth_input(ctx);
                let res = resource.to_owned();
                self.inner
                    .store
                    .read(move |r| {
                        let auth = check_token(r, cred.as_ref(), &auth_in);
                        let data = match &auth {
                            Ok(p) if access::allowed(p, action, &res) => Some(read(r)),
                            _ => None,
                        };
                        Ok((auth, data))
                    })
                    .await?
            }
        };
        let (p, data) = match (auth, data) {
            (Ok(p), Some(d)) => {
                if let Err(e) = self.take_quota(&p) {
                    return Err(self
                        .audit_refusal(ctx, Some(&p), action.as_str(), resource, e)
                        .await);
                }
                self.touch(&p).await?;
                (p, d)
            }
            (auth, _) => return Err(self.deny(ctx, auth, action, resource).await),
        };
        let res = match data {
            Ok(d) => op(p.clone(), d).await,
            Err(e) => Err(e),
        };
        let (outcome, detail) = match &res {
            Ok(_) => (Outcome::Success, None),
            Err(e) => (e.audit_outcome(), Some(e.code.to_owned())),
        };
        let entry = self.entry(ctx, Some(&p), action.as_str(), resource, outcome, detail);
        self.audit(ctx, entry).await?;
        res
    }

    /// Runs a change in the writer: decide, then run `f` in the writer's
    /// transaction with its audit record (committed together, or neither).
    pub async fn audited_write<T, F>(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: &str,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Writer, &Principal) -> Result<T> + Send + 'static,
    {
        self.audited_write_as(ctx, action, resource, false, f).await
    }

    /// [`Vault::audited_write`], with a step-up check first when
    /// `sensitive` (see [`Vault::authorize_sensitive`]).
    pub async fn audited_write_as<T, F>(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: &str,
        sensitive: bool,
        f: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Writer, &Principal) -> Result<T> + Send + 'static,
    {
        let p = if sensitive {
            self.authorize_sensitive(ctx, action, resource).await?
        } else {
            self.authorize(ctx, action, resource).await?
        };
        let entry = self.entry(
            ctx,
            Some(&p),
            action.as_str(),
            resource,
            Outcome::Success,
            None,
        );
        ctx.audited.store(true, Ordering::Relaxed);
        let res = self
            .inner
            .store
            .write(Some(entry), move |w| f(w, &p))
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))?;
        self.inner.metrics.audit_records.inc();
        res
    }
}

/// The request's time, address and identity settings, for [`check_token`].
struct AuthInput {
    now: vault_core::clock::Timestamp,
    source: String,
    settings: Arc<identity::IdentitySettings>,
    cache: Arc<cache::ReadCache>,
}

/// Verifies a presented token against its stored hash (constant time): the
/// root token here, sessions and service tokens in [`identity::auth`].
fn check_token(
    r: &dyn crate::store::Reader,
    cred: Option<&SecretText>,
    auth: &AuthInput,
) -> Result<Principal> {
    let Some(cred) = cred else {
        return Err(Error::credential_required());
    };
    let invalid = || Error::new(Kind::Unauthenticated, "auth.invalid_token", "invalid token");
    let (id, secret) = parse_token(cred.expose_secret()).map_err(|_| invalid())?;
    // Read before the checks: what they read is at least this new.
    let generation = auth.cache.generation();
    let (principal, valid_until) = match r.token(id.as_str())? {
        None => identity::auth::check_credential(
            r,
            &id,
            &secret,
            auth.now,
            &auth.source,
            &auth.settings,
        )?,
        Some(row) => {
            if row.revoked_at.is_some() || !verify_token_hash(&secret, &row.hash) {
                return Err(invalid());
            }
            if row.expires_at.is_some_and(|e| e <= auth.now) {
                return Err(Error::new(
                    Kind::Unauthenticated,
                    "auth.token_expired",
                    "the root token has expired",
                ));
            }
            match row.kind.as_str() {
                "root" => (Principal::Root { token_id: row.id }, row.expires_at),
                _ => return Err(invalid()),
            }
        }
    };
    auth.cache
        .put_principal(cred, &auth.source, &principal, valid_until, generation);
    Ok(principal)
}
