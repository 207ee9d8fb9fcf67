//! Single sign-on with OpenID Connect (authorization code flow with PKCE;
//! OpenID Connect Core 1.0, RFC 6749, RFC 7636, RFC 8252 for the CLI).
//!
//! - [`idp`]: one provider: discovery and keys, authorization request, code
//!   exchange, ID token validation.
//! - here: the flow. `start` stores the request (state hash, PKCE verifier,
//!   nonce, the browser's pre-login cookie hash) and sends the browser to
//!   the IdP; `callback` takes the stored request once, checks the browser,
//!   redeems the code, validates the ID token, maps (issuer, sub) to a user,
//!   recomputes the user's SSO bindings from their groups and opens a
//!   session, or hands the CLI a one-time code. Every step is audited, with a
//!   stable reason code when refused; never a code, token or secret.

pub mod idp;

use std::sync::Arc;

use subtle::ConstantTimeEq;
use vault_core::api::{LinkIdentity, LoginResponse, SsoIdentity, SsoIdentityList, SsoProvider};
use vault_core::audit::Outcome;
use vault_core::sso::{
    Refusal, bindings_for, group_allowed, numbered, pkce_verifies, username_base,
};

use self::idp::{Provider, ProviderSettings, Verified};
use crate::config::OidcConfig;
use crate::config::oidc::Provisioning;
use crate::service::identity::auth::{find_role, grants_hold};
use crate::service::identity::{new_id, new_secret, secret_hash, user_not_found, username};
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::identity::UserRow;
use crate::store::sso::{CliCodeRow, FlowRow, IdentityRow};
use vault_core::access::Scope;
use vault_core::session::Factors;

/// How long a started flow may be finished, seconds.
pub const FLOW_TTL_SECS: i64 = 600;
/// How long the CLI's one-time code lives, seconds.
pub const CLI_CODE_TTL_SECS: i64 = 60;
/// Flows in flight at most (a flood of starts cannot fill the disk).
pub const MAX_FLOWS: u64 = 10_000;
/// Flows in flight from one address at most (one client cannot take them
/// all).
pub const MAX_FLOWS_PER_SOURCE: u64 = 50;

/// The configured providers with their secrets, read once at start.
#[derive(Debug, Clone, Default)]
pub struct SsoSettings {
    /// In configuration order.
    pub providers: Vec<ProviderSettings>,
}

impl SsoSettings {
    /// From `[[oidc.providers]]`, reading each client secret with `env`.
    pub fn from_config(
        c: &OidcConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> std::result::Result<Self, String> {
        Ok(Self {
            providers: c
                .providers
                .iter()
                .map(|p| ProviderSettings::from_config(p, env))
                .collect::<std::result::Result<_, _>>()?,
        })
    }
}

/// The providers at run time.
#[derive(Debug, Default)]
pub struct SsoState {
    providers: Vec<Arc<Provider>>,
}

impl SsoState {
    /// Providers for `settings` (nothing is fetched yet).
    pub fn new(settings: &SsoSettings) -> std::result::Result<Self, String> {
        Ok(Self {
            providers: settings
                .providers
                .iter()
                .map(|p| Provider::new(p.clone()).map(Arc::new))
                .collect::<std::result::Result<_, _>>()?,
        })
    }

    fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.providers
            .iter()
            .find(|p| p.settings.name == name)
            .cloned()
    }
}

/// Where the CLI waits for its code: the loopback port and its S256
/// challenge (RFC 8252 §7.3, RFC 7636).
#[derive(Debug, Clone)]
pub struct CliReturn {
    /// Port on 127.0.0.1.
    pub port: u16,
    /// base64url(SHA-256(verifier)).
    pub challenge: String,
}

/// The IdP's answer on the callback URL.
#[derive(Clone, Default)]
pub struct CallbackParams {
    /// `state`.
    pub state: Option<String>,
    /// `code` (never logged).
    pub code: Option<String>,
    /// `error` (RFC 6749 §4.1.2.1).
    pub error: Option<String>,
    /// `iss` (RFC 9207), when the IdP sends it.
    pub iss: Option<String>,
}

// Hand-written: the code never reaches a log.
impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A finished login.
pub enum Finish {
    /// A browser login: set the session cookie and go to `return_to`.
    Browser {
        /// The new session.
        session: LoginResponse,
        /// Same-origin path.
        return_to: String,
    },
    /// A CLI login: send the browser to the CLI's loopback listener.
    Cli {
        /// `http://127.0.0.1:PORT/callback?code=...&state=...`.
        redirect: String,
        /// The CLI's port (shown on the confirmation page).
        port: u16,
    },
}

/// Why a flow failed.
#[derive(Debug)]
pub enum SsoFailure {
    /// Refused, with its reason; `cli_redirect` tells a waiting CLI.
    Refused {
        /// Reason.
        refusal: Refusal,
        /// `http://127.0.0.1:PORT/callback?error=CODE` when the CLI started it.
        cli_redirect: Option<String>,
    },
    /// Sealed, storage or another server error.
    Error(Error),
}

impl From<Error> for SsoFailure {
    fn from(e: Error) -> Self {
        Self::Error(e)
    }
}

fn refused(refusal: Refusal) -> SsoFailure {
    SsoFailure::Refused {
        refusal,
        cli_redirect: None,
    }
}

/// A new pre-login cookie value (32 random bytes, base64url).
pub fn new_browser_secret() -> Result<String> {
    new_secret()
}

/// Whether `s` has the shape of a pre-login cookie value.
pub fn is_browser_secret(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn redirect_uri(origin: &str, provider: &str) -> String {
    format!("{origin}/v1/auth/oidc/{provider}/callback")
}

fn cli_url(port: u16, query: &str) -> String {
    format!("http://127.0.0.1:{port}/callback?{query}")
}

impl Vault {
    fn sso(&self) -> &SsoState {
        self.sso_state()
    }

    /// `GET /v1/auth/oidc/providers`: the configured providers.
    pub fn sso_providers(&self) -> Vec<SsoProvider> {
        self.sso()
            .providers
            .iter()
            .map(|p| SsoProvider {
                name: p.settings.name.clone(),
                display_name: p.settings.label.clone(),
                start_url: format!("/v1/auth/oidc/{}/start", p.settings.name),
            })
            .collect()
    }

    async fn audit_sso(
        &self,
        ctx: &Ctx,
        action: &str,
        provider: &str,
        outcome: Outcome,
        detail: String,
    ) -> Result<()> {
        let e = self.entry(
            ctx,
            None,
            action,
            &format!("auth/oidc/{provider}"),
            outcome,
            Some(detail),
        );
        self.audit(ctx, e).await
    }

    async fn refuse_sso(
        &self,
        ctx: &Ctx,
        provider: &str,
        refusal: Refusal,
        cli: Option<(u16, &str)>,
    ) -> SsoFailure {
        self.refuse_sso_for(ctx, provider, refusal, cli, None).await
    }

    /// A refusal after the ID token was validated: the record names the
    /// subject and groups, so an administrator can link or admit them.
    async fn refuse_sso_for(
        &self,
        ctx: &Ctx,
        provider: &str,
        refusal: Refusal,
        cli: Option<(u16, &str)>,
        who: Option<&Verified>,
    ) -> SsoFailure {
        let mut detail = format!("method=oidc provider={provider} reason={}", refusal.code());
        if let Some(v) = who {
            detail.push_str(&format!(" subject={:?} groups={:?}", v.subject, v.groups));
        }
        if let Err(e) = self
            .audit_sso(ctx, "auth.login", provider, Outcome::Denied, detail)
            .await
        {
            return SsoFailure::Error(e);
        }
        SsoFailure::Refused {
            refusal,
            cli_redirect: cli
                .map(|(p, state)| cli_url(p, &format!("error={}&state={state}", refusal.code()))),
        }
    }

    /// `GET /v1/auth/oidc/{provider}/start`: stores a new flow bound to the
    /// browser whose pre-login cookie is `browser_secret`, and answers the
    /// IdP's authorization URL. `origin` is this server's public origin.
    pub async fn sso_start(
        &self,
        ctx: &Ctx,
        provider: &str,
        origin: &str,
        return_to: &str,
        cli: Option<CliReturn>,
        browser_secret: &str,
    ) -> std::result::Result<String, SsoFailure> {
        self.unsealed()?;
        let Some(p) = self.sso().get(provider) else {
            return Err(refused(Refusal::UnknownProvider));
        };
        let req = match p.authorization(&redirect_uri(origin, provider)).await {
            Ok(r) => r,
            Err(r) => {
                let back = cli.as_ref().map(|c| (c.port, c.challenge.as_str()));
                return Err(self.refuse_sso(ctx, provider, r, back).await);
            }
        };
        let now = self.clock().now();
        let row = FlowRow {
            state_hash: secret_hash(&req.state),
            provider: provider.to_owned(),
            browser_hash: secret_hash(browser_secret),
            pkce_verifier: req.verifier,
            nonce: req.nonce,
            return_to: return_to.to_owned(),
            source: ctx.source.clone(),
            cli_port: cli.as_ref().map(|c| c.port),
            cli_challenge: cli.map(|c| c.challenge),
            created_at: now,
            expires_at: now.plus_secs(FLOW_TTL_SECS),
        };
        let detail = format!(
            "method=oidc provider={provider} for={}",
            if row.cli_port.is_some() {
                "cli"
            } else {
                "browser"
            }
        );
        let entry = self.entry(
            ctx,
            None,
            "auth.oidc_start",
            &format!("auth/oidc/{provider}"),
            Outcome::Success,
            Some(detail),
        );
        ctx.audited
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                if !w.insert_oidc_flow(&row, now)? {
                    return Err(Error::throttled(
                        "auth.sso_busy",
                        "too many single sign-ons in progress (from this address, or in all); \
                         try again in a few minutes",
                        60,
                    ));
                }
                Ok(())
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        Ok(req.url)
    }

    /// `GET /v1/auth/oidc/{provider}/callback`: finishes a flow once. The
    /// browser must present the pre-login cookie of the browser that
    /// started it (`browser_secret`).
    pub async fn sso_callback(
        &self,
        ctx: &Ctx,
        provider: &str,
        origin: &str,
        params: CallbackParams,
        browser_secret: Option<&str>,
    ) -> std::result::Result<Finish, SsoFailure> {
        self.unsealed()?;
        let Some(p) = self.sso().get(provider) else {
            return Err(refused(Refusal::UnknownProvider));
        };
        let Some(state) = params.state.as_deref().filter(|s| s.len() <= 512) else {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::StateMismatch, None)
                .await);
        };
        // Taken before anything else: a state is good for one try.
        let hash = secret_hash(state);
        let flow = self
            .store()
            .write(None, move |w| -> Result<Option<FlowRow>> {
                Ok(w.take_oidc_flow(&hash)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        let now = self.clock().now();
        let Some(flow) = flow.filter(|f| f.provider == provider && f.expires_at > now) else {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::StateMismatch, None)
                .await);
        };
        let cli_back = flow.cli_port.zip(flow.cli_challenge.clone());
        let port = cli_back.as_ref().map(|(p, c)| (*p, c.as_str()));
        let same_browser = browser_secret.is_some_and(|b| {
            bool::from(
                secret_hash(b)
                    .as_slice()
                    .ct_eq(flow.browser_hash.as_slice()),
            )
        });
        if !same_browser {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::BrowserMismatch, port)
                .await);
        }
        if params.error.is_some() {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::IdpError, port)
                .await);
        }
        // RFC 9207: an `iss` that is not this provider's is a mix-up.
        if params
            .iss
            .as_deref()
            .is_some_and(|i| i != p.settings.issuer)
        {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::IdTokenInvalid, port)
                .await);
        }
        let Some(code) = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 4096)
        else {
            return Err(self
                .refuse_sso(ctx, provider, Refusal::IdpError, port)
                .await);
        };
        let verified = match p
            .redeem(
                &redirect_uri(origin, provider),
                code,
                &flow.pkce_verifier,
                &flow.nonce,
                now.as_millis() / 1000,
            )
            .await
        {
            Ok(v) => v,
            Err(r) => return Err(self.refuse_sso(ctx, provider, r, port).await),
        };
        if !group_allowed(&verified.groups, &p.settings.allowed_groups) {
            return Err(self
                .refuse_sso_for(
                    ctx,
                    provider,
                    Refusal::GroupNotAllowed,
                    port,
                    Some(&verified),
                )
                .await);
        }
        let (user, detail) = match self.sso_user(ctx, &p, &verified).await? {
            Ok(u) => u,
            Err(r) => {
                return Err(self
                    .refuse_sso_for(ctx, provider, r, port, Some(&verified))
                    .await);
            }
        };
        // An IdP that says it checked a second factor (RFC 8176 `amr`, one
        // of the provider's `mfa_amr` values) makes this an MFA login.
        let factors = Factors {
            mfa: verified.mfa_amr.as_ref().map(|a| format!("amr:{a}")),
            passkey_at: None,
        };
        let detail = match &factors.mfa {
            Some(m) => format!("{detail} mfa={m}"),
            None => detail,
        };
        match (flow.cli_port, flow.cli_challenge) {
            (Some(port), Some(challenge)) => {
                // The CLI knows its challenge; a page that is not this flow
                // does not, so it cannot feed the CLI a code or an error.
                let cli_state = challenge.clone();
                let code = new_secret()?;
                let row = CliCodeRow {
                    code_hash: secret_hash(&code),
                    user_id: user.id.clone(),
                    provider: provider.to_owned(),
                    challenge,
                    expires_at: now.plus_secs(CLI_CODE_TTL_SECS),
                    method: "oidc".into(),
                    mfa: factors.mfa,
                    passkey_at: None,
                };
                let entry = self.entry(
                    ctx,
                    None,
                    "auth.oidc_cli_code",
                    &format!("users/{}", user.username),
                    Outcome::Success,
                    Some(format!("{detail}; one-time code for the CLI")),
                );
                ctx.audited
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self.store()
                    .write(Some(entry), move |w| -> Result<()> {
                        Ok(w.insert_cli_code(&row, now)?)
                    })
                    .await
                    .map_err(|e| Error::internal(format!("write failed: {e}")))??;
                Ok(Finish::Cli {
                    redirect: cli_url(port, &format!("code={code}&state={cli_state}")),
                    port,
                })
            }
            _ => {
                let session = self
                    .open_session_as(ctx, &user, "oidc", factors, detail, |_| Ok(()))
                    .await?;
                Ok(Finish::Browser {
                    session,
                    return_to: flow.return_to,
                })
            }
        }
    }

    /// The user behind a verified identity: linked, or created when the
    /// provider provisions automatically; their SSO bindings made to match
    /// their groups. All in one transaction, so two first logins of the same
    /// person make one user. The inner `Err` is a refusal.
    async fn sso_user(
        &self,
        ctx: &Ctx,
        p: &Provider,
        v: &Verified,
    ) -> Result<std::result::Result<(UserRow, String), Refusal>> {
        let s = &p.settings;
        let (issuer, provider, provisioning) = (s.issuer.clone(), s.name.clone(), s.provisioning);
        let rules = s.group_roles.clone();
        let v2 = v.clone();
        let now = self.clock().now();
        let ids = (0..rules.len().max(1))
            .map(|_| new_id("b"))
            .collect::<Result<Vec<_>>>()?;
        let (user_id, identity_id) = (new_id("u")?, new_id("idn_")?);
        let source = format!("sso:{provider}");
        let outcome = self
            .store()
            .write(None, move |w| {
                let linked = w.identity_by_subject(&issuer, &v2.subject)?;
                let (user, created) = match linked {
                    Some(l) => match w.user_by_id(&l.user_id)? {
                        Some(u) => (u, false),
                        None => return Ok(Err(Refusal::NotProvisioned)),
                    },
                    None if provisioning == Provisioning::Existing => {
                        return Ok(Err(Refusal::NotProvisioned));
                    }
                    None => {
                        let base =
                            username_base(v2.preferred_username.as_deref(), v2.email.as_deref());
                        let mut name = None;
                        for n in 1..=1000 {
                            let candidate = numbered(&base, n);
                            if w.user_by_name(candidate.as_str())?.is_none() {
                                name = Some(candidate);
                                break;
                            }
                        }
                        let Some(name) = name else {
                            return Err(Error::conflict(
                                "user.exists",
                                "no free username for this identity",
                            ));
                        };
                        let u = UserRow {
                            id: user_id,
                            username: name.as_str().to_owned(),
                            password_hash: None,
                            created_at: now,
                            disabled_at: None,
                        };
                        w.insert_user(&u)?;
                        w.insert_identity(&IdentityRow {
                            id: identity_id.clone(),
                            issuer: issuer.clone(),
                            subject: v2.subject.clone(),
                            user_id: u.id.clone(),
                            username: u.username.clone(),
                            provider: provider.clone(),
                            email: v2.email.clone(),
                            created_at: now,
                            last_login_at: None,
                        })?;
                        (u, true)
                    }
                };
                if user.disabled_at.is_some() {
                    return Ok(Err(Refusal::UserDisabled));
                }
                if let Some(l) = w.identity_by_subject(&issuer, &v2.subject)? {
                    w.touch_identity(&l.id, v2.email.as_deref(), now)?;
                }
                // Roles that do not exist (a custom role not made yet) give
                // nothing rather than a binding that grants nothing.
                let custom = w.roles()?;
                let wanted: Vec<(String, String, String)> = bindings_for(&v2.groups, &rules)
                    .into_iter()
                    // A role with global actions counts only on `*`, as a
                    // manual grant would.
                    .filter(|(role, scope)| {
                        if find_role(role, &custom).is_none() {
                            tracing::warn!(
                                role = %role,
                                "an SSO group_roles rule names a role that does not exist; it gives nothing"
                            );
                        }
                        find_role(role, &custom).is_some_and(|r| {
                            !r.permissions.iter().any(|p| p.is_global())
                                || Scope::parse(scope).is_ok_and(|s| s.is_all())
                        })
                    })
                    .zip(ids)
                    .map(|((role, scope), id)| (id, role, scope))
                    .collect();
                let (added, removed) = w.set_source_bindings(&user.id, &source, &wanted, now)?;
                Ok(Ok((user, created, added, removed)))
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        let (user, created, added, removed) = match outcome {
            Ok(x) => x,
            Err(r) => return Ok(Err(r)),
        };
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(r, s)| format!("{r}@{s}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let detail = format!(
            "method=oidc provider={} issuer={} subject={} groups=[{}] bindings_added=[{}] \
             bindings_removed=[{}]{}",
            s.name,
            s.issuer,
            v.subject,
            v.groups.join(","),
            pairs(&added),
            pairs(&removed),
            if created { " user_created" } else { "" }
        );
        if created {
            self.audit_user_created(ctx, &user, &s.name).await?;
        }
        Ok(Ok((user, detail)))
    }

    async fn audit_user_created(&self, ctx: &Ctx, user: &UserRow, provider: &str) -> Result<()> {
        let e = self.entry(
            ctx,
            None,
            "user.create",
            &format!("users/{}", user.username),
            Outcome::Success,
            Some(format!("provisioned at first SSO login via {provider}")),
        );
        self.audit(ctx, e).await
    }

    /// `POST /v1/auth/oidc/token`: the CLI trades its one-time code and PKCE
    /// verifier for a session (single use, within 60 seconds). The code
    /// comes from an SSO login, or from any browser sign-in handed to
    /// `vault login --web` ([`Vault::cli_web_code`]).
    pub async fn sso_redeem_cli(
        &self,
        ctx: &Ctx,
        code: &str,
        verifier: &str,
    ) -> Result<LoginResponse> {
        self.unsealed()?;
        let hash = secret_hash(code);
        let taken = self
            .store()
            .write(None, move |w| -> Result<Option<CliCodeRow>> {
                Ok(w.take_cli_code(&hash)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        let now = self.clock().now();
        let invalid = || {
            // RFC 6749 §5.2: a bad grant is 400 `invalid_grant`.
            Error::new(
                Kind::BadRequest,
                "auth.sso_code_invalid",
                Refusal::CliCodeInvalid.explanation(),
            )
        };
        let Some(row) =
            taken.filter(|r| r.expires_at > now && pkce_verifies(verifier, &r.challenge))
        else {
            let e = self.entry(
                ctx,
                None,
                "auth.login",
                "auth",
                Outcome::Denied,
                Some(format!(
                    "method=oidc reason={}",
                    Refusal::CliCodeInvalid.code()
                )),
            );
            self.audit(ctx, e).await?;
            return Err(invalid());
        };
        let uid = row.user_id.clone();
        let user = self
            .store()
            .read(move |r| r.user_by_id(&uid))
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or_else(invalid)?;
        // The CLI's session proved what the browser's sign-in proved.
        let mut detail = if row.method == "oidc" {
            format!("method=oidc provider={} via=cli", row.provider)
        } else {
            format!("method={} via=cli_web", row.method)
        };
        if let Some(m) = &row.mfa {
            detail.push_str(&format!(" mfa={m}"));
        }
        let factors = Factors {
            mfa: row.mfa,
            passkey_at: row.passkey_at,
        };
        self.open_session_as(ctx, &user, &row.method, factors, detail, |_| Ok(()))
            .await
    }

    /// Hands the browser's sign-in to `vault login --web`: a one-time code
    /// (60 s, bound to the CLI's PKCE challenge) for a new session that
    /// proved what the browser's did (method, second factor, passkey time),
    /// and the loopback URL that carries it (with the challenge as `state`).
    /// The page asks before the browser goes there.
    ///
    /// Only right after a sign-in (the browser's session is younger than
    /// `identity.step_up_secs`, or proved its second factor that recently):
    /// a stolen cookie cannot mint fresh CLI sessions forever.
    pub async fn cli_web_code(&self, ctx: &Ctx, cli: &CliReturn) -> Result<String> {
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "auth/cli")
            .await?;
        let Principal::User {
            user_id,
            username,
            session_id,
            ..
        } = &p
        else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "only a signed-in browser can hand its sign-in to the CLI",
            ));
        };
        if cli.port < 1024 || !vault_core::sso::is_pkce_challenge(&cli.challenge) {
            return Err(Error::bad(
                "auth.cli_request_invalid",
                "cli_port must be 1024-65535 and cli_challenge a 43-character S256 challenge",
            ));
        }
        let sid = session_id.clone();
        let session = self
            .store()
            .read(move |r| r.session(&sid))
            .await?
            .ok_or_else(|| Error::internal("the calling session vanished"))?;
        let now = self.clock().now();
        let window = self.identity().step_up_secs;
        let fresh =
            |t: vault_core::clock::Timestamp| now.as_millis() <= t.plus_secs(window).as_millis();
        if !(fresh(session.created_at) || session.passkey_at.is_some_and(fresh)) {
            let e = Error::new(
                Kind::Unauthenticated,
                "auth.cli_handoff_stale",
                format!(
                    "the hand-off to the CLI follows a fresh sign-in: sign out and sign in \
                     again (this browser signed in over {window} s ago)"
                ),
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "auth.cli_code", "auth/cli", e)
                .await);
        }
        let code = new_secret()?;
        let row = CliCodeRow {
            code_hash: secret_hash(&code),
            user_id: user_id.clone(),
            provider: "web".into(),
            challenge: cli.challenge.clone(),
            expires_at: now.plus_secs(CLI_CODE_TTL_SECS),
            method: session.method,
            mfa: session.mfa,
            passkey_at: session.passkey_at,
        };
        self.write_as(
            ctx,
            Some(&p),
            "auth.cli_code",
            &format!("users/{username}"),
            Some(format!(
                "one-time code for vault login --web on port {}",
                cli.port
            )),
            move |w| Ok(w.insert_cli_code(&row, now)?),
        )
        .await?;
        Ok(cli_url(
            cli.port,
            &format!("code={code}&state={}", cli.challenge),
        ))
    }

    // ---- links (administrators) -------------------------------------------

    /// `GET /v1/users/{name}/identities`.
    pub async fn identities(&self, ctx: &Ctx, user: &str) -> Result<SsoIdentityList> {
        let resource = format!("users/{user}");
        let name = username(user)?.as_str().to_owned();
        self.audited(ctx, Action::UsersManage, &resource, |_| async move {
            let rows = self
                .store()
                .read(move |r| match r.user_by_name(&name)? {
                    Some(u) => Ok(Some(r.identities(Some(&u.id))?)),
                    None => Ok(None),
                })
                .await?
                .ok_or_else(|| user_not_found(user))?;
            Ok(SsoIdentityList {
                identities: rows.into_iter().map(identity_info).collect(),
            })
        })
        .await
    }

    /// `POST /v1/users/{name}/identities`: links (provider's issuer, subject)
    /// to the user; 409 when that identity is linked already.
    pub async fn link_identity(
        &self,
        ctx: &Ctx,
        user: &str,
        req: LinkIdentity,
    ) -> Result<SsoIdentity> {
        let resource = format!("users/{user}");
        username(user)?;
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let Some(provider) = self.sso().get(&req.provider) else {
            let err = Error::bad(
                "sso.unknown_provider",
                format!(
                    "no provider {:?} is configured; see [[oidc.providers]] in the server's \
                     configuration",
                    req.provider
                ),
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "user.link_sso", &resource, err)
                .await);
        };
        if req.subject.is_empty() || req.subject.len() > 255 {
            let err = Error::bad(
                "sso.invalid_subject",
                "the subject must be 1-255 characters",
            );
            return Err(self
                .audit_refusal(ctx, Some(&p), "user.link_sso", &resource, err)
                .await);
        }
        let row = IdentityRow {
            id: new_id("idn_")?,
            issuer: provider.settings.issuer.clone(),
            subject: req.subject.clone(),
            user_id: String::new(),
            username: user.to_owned(),
            provider: provider.settings.name.clone(),
            email: None,
            created_at: self.clock().now(),
            last_login_at: None,
        };
        let detail = Some(format!("provider={} subject={}", row.provider, row.subject));
        let name = user.to_owned();
        let caller = p.clone();
        self.write_as(
            ctx,
            Some(&p),
            "user.link_sso",
            &resource,
            detail,
            move |w| {
                let u = w
                    .user_by_name(&name)?
                    .ok_or_else(|| Error::not_found("user.not_found", format!("no user {name}")))?;
                // Whoever owns the identity signs in as this user: the
                // caller must hold everything the user holds (checked in the
                // same transaction as the change).
                may_become(w, &caller, &u.id)?;
                if let Some(l) = w.identity_by_subject(&row.issuer, &row.subject)? {
                    return Err(Error::conflict(
                        "sso.identity_linked",
                        format!(
                            "that identity is linked to {} already; unlink it first",
                            l.username
                        ),
                    ));
                }
                let row = IdentityRow {
                    user_id: u.id,
                    ..row
                };
                w.insert_identity(&row)?;
                Ok(identity_info(row))
            },
        )
        .await
    }

    /// `DELETE /v1/users/{name}/identities/{id}`: unlinks one identity; the
    /// user's SSO bindings from that provider go with it.
    pub async fn unlink_identity(&self, ctx: &Ctx, user: &str, id: &str) -> Result<()> {
        let resource = format!("users/{user}");
        username(user)?;
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let (name, id, now) = (user.to_owned(), id.to_owned(), self.clock().now());
        let detail = Some(format!("identity={id}; sessions revoked"));
        let caller = p.clone();
        self.write_as(
            ctx,
            Some(&p),
            "user.unlink_sso",
            &resource,
            detail,
            move |w| {
                let u = w
                    .user_by_name(&name)?
                    .ok_or_else(|| Error::not_found("user.not_found", format!("no user {name}")))?;
                // Whoever owns the identity signs in as this user: the
                // caller must hold everything the user holds (checked in the
                // same transaction as the change).
                may_become(w, &caller, &u.id)?;
                let found = w
                    .identities(Some(&u.id))?
                    .into_iter()
                    .find(|i| i.id == id)
                    .ok_or_else(|| {
                        Error::not_found("sso.identity_not_found", "no such identity for this user")
                    })?;
                w.delete_identity(&found.id)?;
                w.set_source_bindings(&u.id, &format!("sso:{}", found.provider), &[], now)?;
                // An identity is unlinked to shut it out: its sessions go too.
                w.revoke_sessions(Some(&u.id), now)?;
                Ok(())
            },
        )
        .await
    }
}

/// Refuses (403 `access.escalation`) unless `caller` holds every
/// permission the user `user_id` holds, on every scope they hold it: linking
/// or unlinking an identity decides who signs in as that user.
fn may_become(w: &dyn crate::store::Writer, caller: &Principal, user_id: &str) -> Result<()> {
    let Some(held) = caller.grants() else {
        return Ok(()); // root
    };
    let custom = w.roles()?;
    for b in w.bindings(Some(user_id))? {
        let (Some(role), Ok(scope)) = (find_role(&b.role, &custom), Scope::parse(&b.scope)) else {
            continue;
        };
        if let Some(p) = role
            .permissions
            .iter()
            .find(|p| !grants_hold(held, **p, &scope))
        {
            return Err(Error::new(
                Kind::Forbidden,
                "access.escalation",
                format!(
                    "you cannot link or unlink this user's sign-in: they hold {} on {} and you \
                     do not",
                    p.as_str(),
                    b.scope
                ),
            ));
        }
    }
    Ok(())
}

fn identity_info(r: IdentityRow) -> SsoIdentity {
    SsoIdentity {
        id: r.id,
        user: r.username,
        provider: r.provider,
        issuer: r.issuer,
        subject: r.subject,
        email: r.email,
        created_at: r.created_at,
        last_login_at: r.last_login_at,
    }
}
