//! One configured identity provider at run time: its discovery document and
//! signing keys (cached; refreshed on an unknown key id at most once a
//! minute), the authorization request, the code exchange and the complete
//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7).

use std::time::Instant;

use openidconnect::core::{
    CoreClient, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthType, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IdToken, IdTokenVerifier,
    IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use vault_core::secret::SecretText;
use vault_core::sso::{GroupRole, Refusal, groups_from_claim};

use crate::config::oidc::{OidcProvider, Provisioning, TokenAuthMethod, issuer_url};
use crate::service::outbound::{GuardedHttp, error_chain, refetch};

/// Claims beyond the standard ones (where the groups are).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for ExtraClaims {}

type VaultIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A provider's settings, with its client secret.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// Name in URLs.
    pub name: String,
    /// Button text.
    pub label: String,
    /// Issuer, as configured (compared exactly with `iss`).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret (never printed).
    pub client_secret: SecretText,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Claim with the groups.
    pub groups_claim: String,
    /// Groups allowed to sign in (empty: all).
    pub allowed_groups: Vec<String>,
    /// Whether first logins create users.
    pub provisioning: Provisioning,
    /// Token endpoint authentication.
    pub auth_method: TokenAuthMethod,
    /// Group-to-role rules.
    pub group_roles: Vec<GroupRole>,
    /// Extra CA certificates (PEM) to trust for this IdP.
    pub ca_pem: Option<Vec<u8>>,
    /// `amr` values that count as a second factor.
    pub mfa_amr: Vec<String>,
}

impl ProviderSettings {
    /// From the config, reading the secret with `env`.
    pub fn from_config(
        p: &OidcProvider,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        Ok(Self {
            name: p.name.clone(),
            label: p.label().to_owned(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret: p.client_secret(env)?,
            scopes: p.scopes.clone(),
            groups_claim: p.groups_claim.clone(),
            allowed_groups: p.allowed_groups.clone(),
            provisioning: p.provisioning,
            auth_method: p.token_auth_method,
            group_roles: p
                .group_roles
                .iter()
                .map(|g| GroupRole {
                    group: g.group.clone(),
                    role: g.role.clone(),
                    scope: g.scope.clone(),
                })
                .collect(),
            ca_pem: match &p.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    format!(
                        "oidc provider {:?}: cannot read ca_file {}: {e}",
                        p.name,
                        path.display()
                    )
                })?),
                None => None,
            },
            mfa_amr: p.mfa_amr.clone(),
        })
    }
}

/// What a validated login tells us.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `sub`.
    pub subject: String,
    /// `email` (display only).
    pub email: Option<String>,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// Group names from the configured claim.
    pub groups: Vec<String>,
    /// Whether the ID token carried the groups claim at all.
    pub groups_in_id_token: bool,
    /// The `amr` value (RFC 8176) that showed a second factor, when one of
    /// the provider's `mfa_amr` values is in the ID token.
    pub mfa_amr: Option<String>,
}

/// An authorization request to send the browser to.
pub struct AuthRequest {
    /// The IdP's authorization URL with every parameter.
    pub url: String,
    /// `state` (its hash is stored).
    pub state: String,
    /// The PKCE verifier (stored).
    pub verifier: String,
    /// The nonce (stored).
    pub nonce: String,
}

struct Cached {
    meta: CoreProviderMetadata,
    fetched: Instant,
    /// The last fetch an unknown key id caused.
    forced: Option<Instant>,
}

/// Leeway for `iat` in the future (clock skew), seconds.
const IAT_LEEWAY_SECS: i64 = 60;

/// A provider at run time.
pub struct Provider {
    /// Settings.
    pub settings: ProviderSettings,
    issuer: IssuerUrl,
    http: GuardedHttp,
    cache: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.settings.name)
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider; nothing is fetched until the first login.
    pub fn new(settings: ProviderSettings) -> Result<Self, String> {
        let url = issuer_url(&settings.issuer)?;
        let http = GuardedHttp::with_ca(&url, settings.ca_pem.as_deref())
            .map_err(|e| format!("oidc provider {:?}: {e}", settings.name))?;
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| e.to_string())?;
        Ok(Self {
            settings,
            issuer,
            http,
            cache: Mutex::new(None),
        })
    }

    /// The discovery document and keys: cached, fetched when missing or
    /// older than an hour, or (with `refresh`) when the cached copy is over
    /// a minute old. An IdP that cannot be reached gives
    /// [`Refusal::IdpUnreachable`] within the outbound deadline.
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, Refusal> {
        let mut cache = self.cache.lock().await;
        let mut forced = None;
        if let Some(c) = cache.as_ref() {
            let since_forced = c.forced.map(|f| f.elapsed());
            if !refetch(c.fetched.elapsed(), since_forced, refresh) {
                return Ok(c.meta.clone());
            }
            forced = c.forced;
        }
        match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
            Ok(meta) if !self.endpoints_secure(&meta) => {
                tracing::warn!(
                    provider = %self.settings.name,
                    "discovery names a plain-http endpoint for an https issuer; refused"
                );
                Err(Refusal::IdpUnreachable)
            }
            Ok(meta) => {
                let now = Instant::now();
                *cache = Some(Cached {
                    meta: meta.clone(),
                    fetched: now,
                    forced: if refresh { Some(now) } else { forced },
                });
                Ok(meta)
            }
            Err(e) => {
                tracing::warn!(
                    provider = %self.settings.name,
                    error = %error_chain(&e),
                    "OIDC discovery failed (issuer reachable? issuer exactly as the IdP writes it? CA trusted?)"
                );
                Err(Refusal::IdpUnreachable)
            }
        }
    }

    /// Whether every endpoint the discovery document names is `https`
    /// (plain `http` only when the issuer itself is, on loopback): the
    /// client secret, the code and the keys must not travel in clear.
    fn endpoints_secure(&self, meta: &CoreProviderMetadata) -> bool {
        if self.settings.issuer.starts_with("http://") {
            return true;
        }
        let mut urls = vec![
            meta.authorization_endpoint().url().scheme().to_owned(),
            meta.jwks_uri().url().scheme().to_owned(),
        ];
        if let Some(t) = meta.token_endpoint() {
            urls.push(t.url().scheme().to_owned());
        }
        if let Some(u) = meta.userinfo_endpoint() {
            urls.push(u.url().scheme().to_owned());
        }
        urls.iter().all(|s| s == "https")
    }

    fn client(
        &self,
        meta: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Refusal,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| Refusal::IdpError)?;
        Ok(CoreClient::from_provider_metadata(
            meta,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(match self.settings.auth_method {
            TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
            TokenAuthMethod::ClientSecretPost => AuthType::RequestBody,
        }))
    }

    /// A new authorization request (code flow, PKCE S256, state, nonce).
    pub async fn authorization(&self, redirect_uri: &str) -> Result<AuthRequest, Refusal> {
        let meta = self.metadata(false).await?;
        let client = self.client(meta, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in self.settings.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Ok(AuthRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Redeems `code` with `verifier` and validates the ID token against
    /// `nonce`; `now_secs` is the server's time (Unix seconds) for `iat`.
    pub async fn redeem(
        &self,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
        now_secs: i64,
    ) -> Result<Verified, Refusal> {
        let meta = self.metadata(false).await?;
        let client = self.client(meta.clone(), redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| Refusal::CodeExchangeFailed)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                let unreachable = matches!(e, RequestTokenError::Request(_));
                // A token answer that does not parse may quote its tokens in
                // the parser's message: only the kind is logged then.
                let why = match &e {
                    RequestTokenError::Parse(..) => e.to_string(),
                    _ => error_chain(&e),
                };
                tracing::warn!(provider = %self.settings.name, error = %why, "OIDC code exchange failed");
                if unreachable {
                    Refusal::IdpUnreachable
                } else {
                    Refusal::CodeExchangeFailed
                }
            })?;
        let raw = token
            .id_token()
            .map(ToString::to_string)
            .ok_or(Refusal::IdTokenInvalid)?;
        let id_token: VaultIdToken = raw.parse().map_err(|_| Refusal::IdTokenInvalid)?;
        let claims = match self.verify(&id_token, &meta, nonce, now_secs) {
            Err(Refusal::IdTokenInvalid) if self.unknown_key(&id_token, &meta, nonce, now_secs) => {
                // The IdP may have rotated its keys: fetch them again (at
                // most once a minute) and try once more.
                let fresh = self.metadata(true).await?;
                self.verify(&id_token, &fresh, nonce, now_secs)?
            }
            other => other?,
        };
        let mut verified = claims;
        // Groups not in the ID token: the IdP may give them at userinfo.
        if !verified.groups_in_id_token && meta.userinfo_endpoint().is_some() {
            verified.groups = self
                .userinfo_groups(&client, token.access_token(), &verified.subject)
                .await?;
        }
        Ok(verified)
    }

    fn verifier(
        &self,
        meta: &CoreProviderMetadata,
        now_secs: i64,
    ) -> IdTokenVerifier<'static, CoreJsonWebKey> {
        // Only asymmetric algorithms the IdP says it uses: never `none`, and
        // never an HMAC keyed with the client secret.
        let algs: Vec<CoreJwsSigningAlgorithm> = meta
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| {
                !matches!(
                    a,
                    CoreJwsSigningAlgorithm::None
                        | CoreJwsSigningAlgorithm::HmacSha256
                        | CoreJwsSigningAlgorithm::HmacSha384
                        | CoreJwsSigningAlgorithm::HmacSha512
                )
            })
            .cloned()
            .collect();
        let keys: JsonWebKeySet<CoreJsonWebKey> = meta.jwks().clone();
        IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            self.issuer.clone(),
            keys,
        )
        .set_allowed_algs(algs)
        .set_issue_time_verifier_fn(move |iat| {
            if iat.timestamp() > now_secs + IAT_LEEWAY_SECS {
                Err(format!(
                    "issued in the future ({}s ahead)",
                    iat.timestamp() - now_secs
                ))
            } else {
                Ok(())
            }
        })
    }

    fn verify(
        &self,
        id_token: &VaultIdToken,
        meta: &CoreProviderMetadata,
        nonce: &str,
        now_secs: i64,
    ) -> Result<Verified, Refusal> {
        let verifier = self.verifier(meta, now_secs);
        let nonce = Nonce::new(nonce.to_owned());
        let claims = id_token.claims(&verifier, &nonce).map_err(|e| {
            tracing::info!(provider = %self.settings.name, error = %e, "ID token refused");
            match e {
                ClaimsVerificationError::InvalidNonce(_) => Refusal::NonceMismatch,
                _ => Refusal::IdTokenInvalid,
            }
        })?;
        // OIDC Core §3.1.3.7 steps 4-5: several audiences need an `azp`,
        // and an `azp` must be us.
        let azp = claims.authorized_party().map(|a| a.as_str().to_owned());
        let several = claims.audiences().len() > 1;
        if azp.as_deref().is_some_and(|a| a != self.settings.client_id)
            || (several && azp.is_none())
        {
            tracing::info!(provider = %self.settings.name, "ID token refused: azp");
            return Err(Refusal::IdTokenInvalid);
        }
        let extra = &claims.additional_claims().claims;
        // OIDC Core §2: `sub` is at most 255 ASCII characters.
        if claims.subject().as_str().len() > 255 {
            return Err(Refusal::IdTokenInvalid);
        }
        Ok(Verified {
            subject: claims.subject().as_str().to_owned(),
            email: claims
                .email()
                .map(|e| e.as_str().chars().take(254).collect()),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            groups: groups_from_claim(extra.get(&self.settings.groups_claim)),
            groups_in_id_token: extra.contains_key(&self.settings.groups_claim),
            mfa_amr: claims.auth_method_refs().and_then(|amr| {
                amr.iter()
                    .map(|a| a.as_str())
                    .find(|a| self.settings.mfa_amr.iter().any(|m| m == a))
                    .map(str::to_owned)
            }),
        })
    }

    /// Whether verification failed only because no key matched the token's
    /// key id (the IdP may have rotated its keys).
    fn unknown_key(
        &self,
        id_token: &VaultIdToken,
        meta: &CoreProviderMetadata,
        nonce: &str,
        now_secs: i64,
    ) -> bool {
        let verifier = self.verifier(meta, now_secs);
        matches!(
            id_token.claims(&verifier, &Nonce::new(nonce.to_owned())),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        )
    }

    async fn userinfo_groups(
        &self,
        client: &CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        access: &AccessToken,
        subject: &str,
    ) -> Result<Vec<String>, Refusal> {
        let req = client
            .user_info(
                access.clone(),
                Some(openidconnect::SubjectIdentifier::new(subject.to_owned())),
            )
            .map_err(|_| Refusal::IdpError)?;
        let info: openidconnect::UserInfoClaims<ExtraClaims, CoreGenderClaim> =
            req.request_async(&self.http).await.map_err(|e| {
                tracing::warn!(provider = %self.settings.name, error = %error_chain(&e), "OIDC userinfo failed");
                match e {
                    openidconnect::UserInfoError::Request(_) => Refusal::IdpUnreachable,
                    _ => Refusal::UserinfoInvalid,
                }
            })?;
        Ok(groups_from_claim(
            info.additional_claims()
                .claims
                .get(&self.settings.groups_claim),
        ))
    }
}
