//! The HTTP edge of single sign-on: the routes a browser follows (start,
//! callback: redirects and HTML error pages), the CLI's code exchange, the
//! provider list, and the administrators' identity links.
//!
//! The pre-login cookie `__Host-vault_sso` (`Secure; HttpOnly;
//! SameSite=Lax; Path=/; Max-Age=600`) binds a flow to the browser that
//! started it: `Lax` so that it comes back on the IdP's top-level redirect.
//! The provider is read from the path as text (a name that is no configured
//! provider gets the 404 page), so that every answer of the browser routes is
//! a page.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{
    ErrorBody, LinkIdentity, LoginResponse, SsoCodeExchange, SsoIdentity, SsoIdentityList,
    SsoProviderList,
};
use vault_core::sso::{Refusal, is_pkce_challenge, safe_return_to};

use super::ApiResult;
use super::browser::{cookie_value, session_from_cookie, set_session_cookie};
use super::error::{ApiError, status};
use super::extract::{ApiJson, ApiPath, Caller, PublicOrigin};
use super::params::{ProviderPath, UserIdentityPath, UserPath};
use super::ui;
use crate::service::sso::{
    CallbackParams, CliReturn, Finish, SsoFailure, is_browser_secret, new_browser_secret,
};
use crate::service::{Ctx, Vault};

/// The pre-login cookie.
pub const PRELOGIN_COOKIE: &str = "__Host-vault_sso";

/// Routes open to anyone (the flow itself is the credential).
pub fn open_routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(providers))
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(token))
}

/// Routes for administrators.
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(list_identities, link_identity))
        .routes(routes!(unlink_identity))
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

fn first(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The page of a failed sign-in: what went wrong and what to do (fixed
/// texts; nothing from the request is echoed), and the stable code.
fn failed_page(code: StatusCode, message: &str, reason: Option<&str>) -> Response {
    ui::page(
        code,
        ui::layout(
            "Sign-in failed",
            html! {
                section.card {
                    h1 { "Single sign-on failed" }
                    p.error role="alert" { (message) }
                    @if let Some(r) = reason { p { "Reason code: " code { (r) } } }
                    p { a href="/ui/login" { "Back to sign in" } }
                }
            },
        ),
    )
}

fn failure_page(f: SsoFailure) -> Response {
    match f {
        SsoFailure::Refused {
            cli_redirect: Some(to),
            ..
        } => see_other(&to),
        SsoFailure::Refused { refusal, .. } => {
            let code = match refusal {
                Refusal::UnknownProvider => StatusCode::NOT_FOUND,
                Refusal::IdpUnreachable => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            failed_page(code, refusal.explanation(), Some(refusal.code()))
        }
        SsoFailure::Error(e) => failed_page(status(e.kind), ui::shown_message(&e), Some(e.code)),
    }
}

fn see_other(to: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /v1/auth/oidc/providers`.
#[utoipa::path(
    get,
    path = "/v1/auth/oidc/providers",
    tag = "auth",
    responses(
        (status = 200, description = "The configured single sign-on providers", body = SsoProviderList)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn providers(State(v): State<Vault>) -> Json<SsoProviderList> {
    Json(SsoProviderList {
        providers: v.sso_providers(),
    })
}

/// `?return_to=/ui/&cli_port=PORT&cli_challenge=S256` (documentation only:
/// the handler reads the raw query so that any refusal is a page).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to go after login: a path under `/ui/` (anything else: `/ui/`).
    pub return_to: Option<String>,
    /// `vault login --oidc`: the CLI's loopback port on 127.0.0.1.
    #[param(minimum = 1024, maximum = 65535)]
    pub cli_port: Option<u16>,
    /// `vault login --oidc`: base64url(SHA-256(verifier)) of the CLI's PKCE
    /// verifier (RFC 7636 S256).
    #[param(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub cli_challenge: Option<String>,
}

/// `GET /v1/auth/oidc/{provider}/start`: to the IdP.
#[utoipa::path(
    get,
    path = "/v1/auth/oidc/{provider}/start",
    tag = "auth",
    params(ProviderPath, StartQuery),
    responses(
        (status = 303, description = "To the IdP's authorization endpoint (code flow, PKCE S256, state, nonce); sets the pre-login cookie"),
        (status = 400, description = "A bad CLI port or challenge (an HTML page); a request path that is not canonical (JSON, before routing)", content(
            (String = "text/html"),
            (ErrorBody = "application/json")
        )),
        (status = 404, description = "No such provider (an HTML page)", content_type = "text/html", body = String),
        (status = 502, description = "The IdP could not be reached (an HTML page)", content_type = "text/html", body = String),
        (status = 503, description = "Sealed (an HTML page)", content_type = "text/html", body = String)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    Path(provider): Path<String>,
    PublicOrigin(origin): PublicOrigin,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let origin = origin.unwrap_or_default();
    // The flow must start where it ends: the IdP sends the browser back to
    // the public origin, and the pre-login cookie is per host. A start on
    // another name of this server (`localhost` for `127.0.0.1`) goes there
    // first.
    if let Some(to) = elsewhere(&headers, &origin, &provider, raw.as_deref()) {
        return see_other(&to);
    }
    let q = query_pairs(raw.as_deref());
    let return_to = safe_return_to(first(&q, "return_to").as_deref()).to_owned();
    let cli = match (first(&q, "cli_port"), first(&q, "cli_challenge")) {
        (None, None) => None,
        (Some(port), Some(challenge)) => match port.parse::<u16>() {
            Ok(port) if port >= 1024 && is_pkce_challenge(&challenge) => {
                Some(CliReturn { port, challenge })
            }
            _ => return bad_cli_request(),
        },
        _ => return bad_cli_request(),
    };
    let browser = match cookie_value(&headers, PRELOGIN_COOKIE).filter(|c| is_browser_secret(c)) {
        Some(c) => c,
        None => match new_browser_secret() {
            Ok(c) => c,
            Err(e) => return failure_page(SsoFailure::Error(e)),
        },
    };
    match v
        .sso_start(&ctx, &provider, &origin, &return_to, cli, &browser)
        .await
    {
        Ok(url) => {
            let mut r = see_other(&url);
            if let Ok(c) = HeaderValue::from_str(&format!(
                "{PRELOGIN_COOKIE}={browser}; Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=600"
            )) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r
        }
        Err(f) => failure_page(f),
    }
}

/// The start URL on the public origin, when this request came in on
/// another host name and the provider name is one a URL can carry as is.
fn elsewhere(
    headers: &HeaderMap,
    origin: &str,
    provider: &str,
    query: Option<&str>,
) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let public_host = origin.split_once("://").map(|(_, h)| h)?;
    let plain = !provider.is_empty()
        && provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    // Only between loopback names of one port (dev mode's `localhost` and
    // `127.0.0.1`): behind a proxy that rewrites Host, the host never
    // matches, and a redirect would loop.
    let split = |h: &str| {
        let (name, port) = h.rsplit_once(':').unwrap_or((h, ""));
        let loopback = matches!(
            name.to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "[::1]"
        );
        (loopback, port.to_owned(), name.to_ascii_lowercase())
    };
    let (req_lo, req_port, req_name) = split(host);
    let (pub_lo, pub_port, pub_name) = split(public_host);
    if !(req_lo && pub_lo && req_port == pub_port && req_name != pub_name && plain) {
        return None;
    }
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!("{origin}/v1/auth/oidc/{provider}/start{q}"))
}

fn bad_cli_request() -> Response {
    failed_page(
        StatusCode::BAD_REQUEST,
        "cli_port must be 1024-65535 and cli_challenge a 43-character S256 challenge, both or \
         neither. Run vault login --oidc again.",
        None,
    )
}

/// `?state=...&code=...` or `?state=...&error=...` from the IdP
/// (documentation only; read raw).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The `state` the flow was started with.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The IdP's error (RFC 6749 §4.1.2.1).
    pub error: Option<String>,
    /// The issuer (RFC 9207), when the IdP sends it.
    pub iss: Option<String>,
}

/// `GET /v1/auth/oidc/{provider}/callback`: back from the IdP.
#[utoipa::path(
    get,
    path = "/v1/auth/oidc/{provider}/callback",
    tag = "auth",
    params(ProviderPath, CallbackQuery),
    responses(
        (status = 303, description = "Signed in: to `return_to` with the session cookie"),
        (status = 200, description = "A CLI login: a page that asks before it hands the one-time code to the CLI's loopback listener", content_type = "text/html", body = String),
        (status = 400, description = "Refused; the page names the reason code (docs/sso.md); a request path that is not canonical (JSON, before routing)", content(
            (String = "text/html"),
            (ErrorBody = "application/json")
        )),
        (status = 404, description = "No such provider (an HTML page)", content_type = "text/html", body = String),
        (status = 502, description = "The IdP could not be reached (an HTML page)", content_type = "text/html", body = String),
        (status = 503, description = "Sealed (an HTML page)", content_type = "text/html", body = String)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn callback(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    Path(provider): Path<String>,
    PublicOrigin(origin): PublicOrigin,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let params = CallbackParams {
        state: first(&q, "state"),
        code: first(&q, "code"),
        error: first(&q, "error"),
        iss: first(&q, "iss"),
    };
    let browser = cookie_value(&headers, PRELOGIN_COOKIE);
    // A login always makes a new session (no fixation); the one the old
    // cookie named is ended once the new one exists.
    let previous = session_from_cookie(&headers);
    let ctx = Ctx {
        credential: None,
        ..ctx
    };
    let origin = origin.unwrap_or_default();
    match v
        .sso_callback(&ctx, &provider, &origin, params, browser.as_deref())
        .await
    {
        Ok(Finish::Browser { session, return_to }) => {
            if previous.is_some() {
                let old = Ctx {
                    credential: previous,
                    ..ctx.clone()
                };
                // Already ended, or another user's: nothing to do.
                let _ = v.logout(&old).await;
            }
            let mut r = see_other(&return_to);
            if let Some(c) = set_session_cookie(&session.token) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            r
        }
        Ok(Finish::Cli { redirect, port }) => cli_handoff(&redirect, port),
        Err(f) => failure_page(f),
    }
}

/// The last step of a CLI login: a page on this site that names the port
/// and asks before the browser carries the one-time code to it. A link
/// someone else made (with their own CLI port) then cannot hand a signed-in
/// person's code to a local listener without the person seeing it.
fn cli_handoff(redirect: &str, port: u16) -> Response {
    let mut r = ui::page(
        StatusCode::OK,
        ui::layout(
            "Finish signing in",
            html! {
                section.card {
                    h1 { "Finish signing in to the vault CLI" }
                    p {
                        "You signed in at your identity provider. The last step hands the \
                         session to the " code { "vault" } " command waiting on port "
                        strong { (port) } " of this computer."
                    }
                    p.muted {
                        "Continue only if you ran " code { "vault login --oidc" } " yourself just \
                         now. If you did not, close this tab: nothing is signed in."
                    }
                    a.button.secondary #continue href=(redirect) { "Continue to the vault CLI" }
                }
            },
        ),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /v1/auth/oidc/token`: the CLI's one-time code for a session.
#[utoipa::path(
    post,
    path = "/v1/auth/oidc/token",
    tag = "auth",
    request_body = SsoCodeExchange,
    responses(
        (status = 200, description = "A session", body = LoginResponse)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn token(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<SsoCodeExchange>,
) -> Result<Json<LoginResponse>, ApiError> {
    v.sso_redeem_cli(
        &ctx,
        req.code.expose_secret(),
        req.code_verifier.expose_secret(),
    )
    .await
    .map(Json)
    .api(&ctx)
}

/// `GET /v1/users/{name}/identities`.
#[utoipa::path(
    get,
    path = "/v1/users/{name}/identities",
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, description = "The user's identities at IdPs", body = SsoIdentityList)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn list_identities(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
) -> Result<Json<SsoIdentityList>, ApiError> {
    v.identities(&ctx, &name).await.map(Json).api(&ctx)
}

/// `POST /v1/users/{name}/identities`.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/identities",
    tag = "users",
    params(UserPath),
    request_body = LinkIdentity,
    responses(
        (status = 201, description = "Linked: that identity now signs in as this user", body = SsoIdentity)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn link_identity(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
    ApiJson(req): ApiJson<LinkIdentity>,
) -> Result<(StatusCode, Json<SsoIdentity>), ApiError> {
    v.link_identity(&ctx, &name, req)
        .await
        .map(|i| (StatusCode::CREATED, Json(i)))
        .api(&ctx)
}

/// `DELETE /v1/users/{name}/identities/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/users/{name}/identities/{id}",
    tag = "users",
    params(UserIdentityPath),
    responses(
        (status = 204, description = "Unlinked; the user's bindings from that provider are removed")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn unlink_identity(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserIdentityPath { name, id }): ApiPath<UserIdentityPath>,
) -> Result<StatusCode, ApiError> {
    v.unlink_identity(&ctx, &name, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}
