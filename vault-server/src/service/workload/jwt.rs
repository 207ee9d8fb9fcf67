//! One trusted workload issuer at run time: its key set (from discovery or
//! `jwks_url`; cached, refetched on an unknown key id at most once a minute)
//! and the complete check of a token (RFC 7519 §7.2, RFC 8725) with
//! `jsonwebtoken`: algorithm from the allowlist, signature, `iss`, `aud`,
//! `exp`, `nbf`, `iat` and `max_token_age`.

use std::time::Instant;

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use vault_core::workload::{ALLOWED_ALGS, LEEWAY_SECS, Refusal, check_age};

use crate::config::oidc::issuer_url;
use crate::config::workload::{CheckedRole, WorkloadIssuer};
use crate::service::outbound::{GuardedHttp, refetch};

/// The key cache: the last good set, when the last fetch an unknown key
/// caused began, and when a fetch last failed.
#[derive(Default)]
struct KeyCache {
    good: Option<(JwkSet, Instant)>,
    forced: Option<Instant>,
    failed: Option<Instant>,
}

/// After a failed fetch, no other for this long (a down or slow issuer is
/// not asked again by every request).
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(10);

/// A configured issuer with its roles (from the TOML) and key cache.
pub struct Issuer {
    /// Configuration.
    pub config: WorkloadIssuer,
    /// Its configured roles, checked at start: (name, bound claims, glob, role).
    pub roles: Vec<(
        String,
        std::collections::BTreeMap<String, String>,
        bool,
        CheckedRole,
    )>,
    http: GuardedHttp,
    keys: Mutex<KeyCache>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("name", &self.config.name)
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

/// A verified token: its claims and `exp` (Unix seconds).
pub struct Verified {
    /// Every claim.
    pub claims: Map<String, Value>,
    /// `exp`.
    pub exp: i64,
}

impl Issuer {
    /// An issuer; nothing is fetched until the first exchange.
    pub fn new(config: WorkloadIssuer) -> Result<Self, String> {
        // The host that is called decides whether private addresses may
        // be: the key set's, when it is configured (a cluster's).
        let called = match &config.jwks_url {
            Some(j) => issuer_url(j)?,
            None => issuer_url(&config.issuer)?,
        };
        let ca = match &config.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|e| {
                format!(
                    "workload issuer {:?}: ca_file {}: {e}",
                    config.name,
                    p.display()
                )
            })?),
            None => None,
        };
        let http = GuardedHttp::with_ca(&called, ca.as_deref())?;
        let roles = config
            .roles
            .iter()
            .map(|r| {
                r.checked().map(|c| {
                    (
                        r.name.clone(),
                        r.bound_claims.clone(),
                        r.bound_claims_glob,
                        c,
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config,
            roles,
            http,
            keys: Mutex::new(KeyCache::default()),
        })
    }

    async fn get_json(&self, url: &str) -> Result<Value, Refusal> {
        let req = axum::http::Request::builder()
            .uri(url)
            .header("accept", "application/json")
            .body(Vec::new())
            .map_err(|_| Refusal::IssuerUnreachable)?;
        let resp = self.http.send(req).await.map_err(|e| {
            tracing::warn!(issuer = %self.config.name, error = %e, url, "workload issuer fetch failed");
            Refusal::IssuerUnreachable
        })?;
        if !resp.status().is_success() {
            tracing::warn!(issuer = %self.config.name, status = %resp.status(), url, "workload issuer answered an error");
            return Err(Refusal::IssuerUnreachable);
        }
        serde_json::from_slice(resp.body()).map_err(|_| Refusal::IssuerUnreachable)
    }

    async fn fetch_keys(&self) -> Result<JwkSet, Refusal> {
        let jwks_url = match &self.config.jwks_url {
            Some(u) => u.clone(),
            None => {
                let base = self.config.issuer.trim_end_matches('/');
                let doc = self
                    .get_json(&format!("{base}/.well-known/openid-configuration"))
                    .await?;
                // OIDC Discovery §4.3: the document must name this issuer.
                if doc["issuer"].as_str() != Some(self.config.issuer.as_str()) {
                    tracing::warn!(issuer = %self.config.name, "discovery names another issuer");
                    return Err(Refusal::IssuerUnreachable);
                }
                let uri = doc["jwks_uri"]
                    .as_str()
                    .ok_or(Refusal::IssuerUnreachable)?
                    .to_owned();
                // Keys over plain http could be swapped in transit.
                if self.config.issuer.starts_with("https://") && !uri.starts_with("https://") {
                    tracing::warn!(issuer = %self.config.name, "discovery names a plain-http jwks_uri; refused");
                    return Err(Refusal::IssuerUnreachable);
                }
                uri
            }
        };
        let set = self.get_json(&jwks_url).await?;
        serde_json::from_value(set).map_err(|e| {
            tracing::warn!(issuer = %self.config.name, error = %e, "the issuer's key set does not parse");
            Refusal::IssuerUnreachable
        })
    }

    /// The key set: cached; fetched when missing or an hour old, or for an
    /// unknown key id at most once a minute. A failed fetch is not retried
    /// for 10 seconds, and the last good set is used meanwhile.
    async fn keys(&self, refresh: bool) -> Result<JwkSet, Refusal> {
        let mut cache = self.keys.lock().await;
        if let Some((set, fetched)) = &cache.good
            && !refetch(
                fetched.elapsed(),
                cache.forced.map(|f| f.elapsed()),
                refresh,
            )
        {
            return Ok(set.clone());
        }
        if cache
            .failed
            .is_some_and(|f| f.elapsed() < RETRY_AFTER_FAILURE)
        {
            return cache
                .good
                .as_ref()
                .map(|(s, _)| s.clone())
                .ok_or(Refusal::IssuerUnreachable);
        }
        if refresh {
            cache.forced = Some(Instant::now());
        }
        match self.fetch_keys().await {
            Ok(set) => {
                cache.good = Some((set.clone(), Instant::now()));
                cache.failed = None;
                Ok(set)
            }
            Err(r) => {
                cache.failed = Some(Instant::now());
                cache.good.as_ref().map(|(s, _)| s.clone()).ok_or(r)
            }
        }
    }

    /// Verifies `jwt` completely at `now` (Unix seconds).
    pub async fn verify(&self, jwt: &str, now: i64) -> Result<Verified, Refusal> {
        // The header is read by hand first: `none` and HMAC are refused by
        // name before any key is looked at (RFC 8725 §3.1).
        let header: Value = jwt
            .split('.')
            .next()
            .and_then(|h| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(h)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Refusal::Malformed)?;
        if jwt.split('.').count() != 3 {
            return Err(Refusal::Malformed);
        }
        let alg_name = header["alg"].as_str().unwrap_or_default();
        if !ALLOWED_ALGS.contains(&alg_name) {
            return Err(Refusal::AlgNotAllowed);
        }
        let alg: Algorithm = alg_name.parse().map_err(|_| Refusal::AlgNotAllowed)?;
        // Another issuer's token is named as such before any key is looked
        // up (only for the reason given: the signature is still checked,
        // and `iss` with it, below).
        let claimed_iss = jwt
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .ok_or(Refusal::Malformed)?;
        if claimed_iss["iss"].as_str() != Some(self.config.issuer.as_str()) {
            return Err(Refusal::IssMismatch);
        }
        let kid = header["kid"].as_str().map(str::to_owned);
        // Keys marked for encryption, or for another algorithm, never
        // verify a signature.
        let usable = |k: &jsonwebtoken::jwk::Jwk| {
            k.common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature)
                && k.common
                    .key_algorithm
                    .is_none_or(|a| a.to_string() == alg_name)
        };
        let find = |set: &JwkSet| match &kid {
            Some(k) => set.find(k).filter(|k| usable(k)).cloned(),
            // Without a kid, only an issuer with one key is unambiguous.
            None if set.keys.len() == 1 => set.keys.first().filter(|k| usable(k)).cloned(),
            None => None,
        };
        let jwk = match find(&self.keys(false).await?) {
            Some(k) => k,
            None => find(&self.keys(true).await?).ok_or(Refusal::UnknownKey)?,
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| Refusal::UnknownKey)?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&self.config.audiences);
        v.leeway = LEEWAY_SECS.unsigned_abs();
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &v).map_err(|e| {
            match e.kind() {
                ErrorKind::InvalidSignature => Refusal::BadSignature,
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::ImmatureSignature => Refusal::NotYetValid,
                ErrorKind::InvalidIssuer => Refusal::IssMismatch,
                ErrorKind::InvalidAudience => Refusal::AudMismatch,
                ErrorKind::InvalidAlgorithm => Refusal::AlgNotAllowed,
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => Refusal::AudMismatch,
                ErrorKind::MissingRequiredClaim(c) if c == "exp" => Refusal::Expired,
                ErrorKind::MissingRequiredClaim(c) if c == "iss" => Refusal::IssMismatch,
                // A key that cannot verify this algorithm (an RSA key for an
                // ES256 header) is a signature that does not verify.
                ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidKeyFormat => Refusal::BadSignature,
                _ => Refusal::Malformed,
            }
        })?;
        let claims = data.claims;
        check_age(
            claims.get("iat").and_then(Value::as_i64),
            now,
            self.config.max_age_secs(),
        )?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(Refusal::Expired)?;
        Ok(Verified { claims, exp })
    }
}
