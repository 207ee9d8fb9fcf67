//! Server-rendered pages under `/ui/`: sign in with a password, see who you
//! are, your roles and your sessions (revoke any of them), sign out. No
//! JavaScript; every page is sent with a strict Content-Security-Policy,
//! `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`. Text from
//! users and the server is escaped by `maud`.
//!
//! The pages call the same service operations as the API, so they are
//! authenticated, decided and audited the same way. Forms that change
//! state carry the session's CSRF token and must come from this origin
//! ([`super::browser`]); the sign-in form must come from this origin too
//! (no login CSRF).

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use vault_core::api::{LoginAnswer, LoginRequest};
use vault_core::secret::SecretText;

use super::browser::{
    clear_session_cookie, csrf_matches, csrf_token, same_origin, session_from_cookie,
    set_session_cookie,
};
use super::error::status;
use super::extract::{Caller, PublicOrigin};
use crate::service::sso::CliReturn;
use crate::service::{Ctx, Error, Kind, Vault};

mod account;
mod cli;
mod reviews;

/// The `/ui/` routes.
pub fn router() -> Router<Vault> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(home))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/login/recovery", post(account::recovery))
        .route("/ui/account", get(account::page_account))
        .route("/ui/passkeys/{id}/rename", post(account::rename_passkey))
        .route("/ui/cli", get(cli::handoff_page).post(cli::handoff))
        .route("/ui/reviews", get(reviews::list).post(reviews::start))
        .route("/ui/reviews/{id}", get(reviews::show))
        .route("/ui/reviews/{id}/bindings/{binding}", post(reviews::decide))
        .route("/ui/reviews/{id}/close", post(reviews::close))
        .route("/ui/logout", post(logout))
        .route("/ui/sessions/{id}/revoke", post(revoke_session))
        .route("/ui/passkeys/{id}/delete", post(delete_passkey))
        .route("/ui/passkeys.js", get(script))
        .route("/ui/style.css", get(style))
        .route("/ui/{*rest}", get(not_found_page))
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// Any other `GET /ui/...`: a page, not JSON.
async fn not_found_page() -> Response {
    error_page(&Error::not_found("ui.not_found", "There is no such page."))
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   script-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The security headers of every answer under `/ui` (the frame middleware
/// adds them, so answers made elsewhere, such as a sealed server's 503,
/// carry them too).
pub fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A page answer.
pub(super) fn page(status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body).into_response();
    page_headers(r.headers_mut());
    r
}

/// The request's context with the session cookie as its credential: the
/// pages act as the browser's session, whatever else the request carries.
pub(super) fn as_browser(ctx: Ctx, headers: &HeaderMap) -> Ctx {
    Ctx {
        credential: session_from_cookie(headers),
        ..ctx
    }
}

/// A page: header, then `content`.
pub(super) fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · vault" }
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/passkeys.js" defer {}
            }
            body {
                header { span.brand { "vault" } }
                main { (content) }
            }
        }
    }
}

/// What the sign-in page says after a redirect (`?notice=`): fixed texts
/// only, never anything from the URL.
fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "signed-out" => Some("You signed out."),
        "session-ended" => Some(
            "Your session has ended (timed out, revoked, or signed out elsewhere). Sign in again.",
        ),
        _ => None,
    }
}

/// `?notice=CODE`, and `?cli_port=P&cli_challenge=C` when `vault login
/// --web` opened the page.
#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    cli_port: Option<String>,
    #[serde(default)]
    cli_challenge: Option<String>,
}

fn login_form(v: &Vault, error: Option<&str>, username: &str, cli: Option<&CliReturn>) -> Markup {
    login_form_with(v, error, None, username, cli)
}

fn login_form_with(
    v: &Vault,
    error: Option<&str>,
    notice: Option<&str>,
    username: &str,
    cli: Option<&CliReturn>,
) -> Markup {
    let providers = v.sso_providers();
    let next = cli::next_path(cli);
    layout(
        "Sign in",
        html! {
            section.card {
                h1 { "Sign in" }
                @if let Some(n) = notice {
                    p.notice role="status" { (n) }
                }
                @if let Some(e) = error {
                    p.error role="alert" { (e) }
                }
                @if let Some(c) = cli {
                    p.notice role="status" {
                        "Signing in for the " code { "vault" } " command waiting on port "
                        strong { (c.port) } " of this computer."
                    }
                }
                form method="post" action="/ui/login" {
                    @if let Some(c) = cli {
                        input type="hidden" name="cli_port" value=(c.port);
                        input type="hidden" name="cli_challenge" value=(c.challenge);
                    }
                    label for="username" { "Username" }
                    input #username name="username" type="text" autocomplete="username"
                        required value=(username);
                    label for="password" { "Password" }
                    input #password name="password" type="password"
                        autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
                div.sso {
                    p.divider { span { "or" } }
                    button.secondary #passkey-login type="button" data-next=(next) { "Sign in with a passkey" }
                    p.error #passkey-error role="alert" hidden {}
                }
                @if !providers.is_empty() {
                    div.sso {
                        p.divider { span { "or" } }
                        @for p in &providers {
                            @if let Some(c) = cli {
                                // The SSO flow hands the sign-in to the CLI itself.
                                a.button.secondary href={ (p.start_url) "?cli_port=" (c.port) "&cli_challenge=" (c.challenge) } {
                                    "Sign in with " (p.display_name)
                                }
                            } @else {
                                a.button.secondary href={ (p.start_url) "?return_to=/ui/" } {
                                    "Sign in with " (p.display_name)
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/login`: the sign-in page (signed in already: the home page).
pub async fn login_page(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    query: Result<axum::extract::Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let ctx = as_browser(ctx, &headers);
    let q = query.map(|q| q.0).unwrap_or_default();
    let cli = match cli::parse(q.cli_port.as_deref(), q.cli_challenge.as_deref()) {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    if ctx.credential.is_some() && v.whoami(&ctx).await.is_ok() {
        return Redirect::to(&cli::next_path(cli.as_ref())).into_response();
    }
    let notice = q.notice.and_then(|c| notice_text(&c));
    page(
        StatusCode::OK,
        login_form_with(&v, None, notice, "", cli.as_ref()),
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: SecretText,
    #[serde(default)]
    cli_port: Option<String>,
    #[serde(default)]
    cli_challenge: Option<String>,
}

/// `POST /ui/login`: a new session in the cookie, then the home page.
pub async fn login(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !same_origin(&headers, &uri, public.0.as_deref()) {
        return page(
            StatusCode::FORBIDDEN,
            login_form(&v, Some("This form must be sent from this site."), "", None),
        );
    }
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            login_form(&v, Some("Give a username and a password."), "", None),
        );
    };
    let cli = match cli::parse(form.cli_port.as_deref(), form.cli_challenge.as_deref()) {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let next = cli::next_path(cli.as_ref());
    let username = form.username.clone();
    // A fresh session id at every login, whatever cookie came in (no
    // session fixation): the credential of this request is not used; the
    // session the old cookie named is ended once the new one exists.
    let previous = session_from_cookie(&headers);
    let ctx = Ctx {
        credential: None,
        ..ctx
    };
    match v
        .login(
            &ctx,
            LoginRequest {
                username: form.username,
                password: form.password,
            },
        )
        .await
    {
        Ok(LoginAnswer::Session(r)) => signed_in(&v, &ctx, previous, &r.token, &next).await,
        Ok(LoginAnswer::SecondFactor(c)) => {
            account::second_factor_page(&c.ceremony_id, &c.options, cli.as_ref())
        }
        Err(e) => {
            let mut r = page(
                status(e.kind),
                login_form(&v, Some(shown_message(&e)), &username, cli.as_ref()),
            );
            retry_after(&mut r, &e);
            r
        }
    }
}

/// After a sign-in from a page: the session the old cookie named is ended,
/// the new one set, and the browser sent on to `next`.
pub(super) async fn signed_in(
    v: &Vault,
    ctx: &Ctx,
    previous: Option<SecretText>,
    token: &SecretText,
    next: &str,
) -> Response {
    if previous.is_some() {
        let old = Ctx {
            credential: previous,
            ..ctx.clone()
        };
        // Already ended, or another user's: nothing to do.
        let _ = v.logout(&old).await;
    }
    let mut resp = Redirect::to(next).into_response();
    if let Some(c) = set_session_cookie(token) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /ui/`: who you are, your roles, your sessions.
pub async fn home(State(v): State<Vault>, Caller(ctx): Caller, headers: HeaderMap) -> Response {
    let ctx = as_browser(ctx, &headers);
    let Some(session) = ctx.credential.clone() else {
        return Redirect::to("/ui/login").into_response();
    };
    let me = match v.whoami(&ctx).await {
        Ok(me) => me,
        Err(e) if e.kind == Kind::Unauthenticated => {
            let mut r = Redirect::to("/ui/login?notice=session-ended").into_response();
            r.headers_mut()
                .insert(header::SET_COOKIE, clear_session_cookie());
            return r;
        }
        Err(e) => return error_page(&e),
    };
    let sessions = match v.list_sessions(&ctx, None, false).await {
        Ok(s) => s.sessions,
        Err(_) => Vec::new(),
    };
    let is_user = me.kind == "user";
    let csrf = csrf_token(&session).unwrap_or_default();
    let body = layout(
        "Home",
        html! {
            section.card {
                h1 { "Signed in as " span.who { (me.name) } }
                p.muted {
                    "Kind: " (me.kind)
                    @if let Some(m) = &me.login_method { " · signed in with " (m) }
                    @if let Some(f) = &me.second_factor { " + " (f) }
                }
                @if is_user {
                    p {
                        a href="/ui/account" { "Account and passkeys" }
                        " · " a href="/ui/reviews" { "Access reviews" }
                    }
                }
                form method="post" action="/ui/logout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { "Sign out" }
                }
            }
            section.card {
                h2 { "Roles" }
                @if me.grants.is_empty() {
                    p.muted { "No roles: ask an administrator for access." }
                } @else {
                    table {
                        thead { tr { th { "Role" } th { "Scope" } } }
                        tbody {
                            @for g in &me.grants {
                                tr { td { (g.role) } td { code { (g.scope) } } }
                            }
                        }
                    }
                }
            }
            @if !me.withheld.is_empty() {
                section.card {
                    h2 { "Roles this session does not have" }
                    p.muted { "They require a second factor, and this sign-in had none." }
                    table {
                        thead { tr { th { "Role" } th { "Scope" } } }
                        tbody {
                            @for g in &me.withheld {
                                tr { td { (g.role) } td { code { (g.scope) } } }
                            }
                        }
                    }
                    p { "Sign out and sign in with a passkey to use them. " a href="/ui/account" { "Add a passkey" } " if you have none." }
                }
            }
            section.card {
                h2 { "Sessions" }
                table {
                    thead { tr { th { "Session" } th { "From" } th { "Signed in" } th title="Idle or absolute limit, whichever comes first" { "Ends by" } th {} } }
                    tbody {
                        @for s in &sessions {
                            tr.current[s.current] {
                                td { code { (s.id) } @if s.current { " " span.tag { "this browser" } } }
                                td { (s.source) }
                                td { (when(s.created_at)) }
                                td { (when(s.expires_at)) }
                                td {
                                    form method="post" action={ "/ui/sessions/" (s.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    page(StatusCode::OK, body)
}

/// `2026-12-01 14:28 UTC`.
pub(super) fn when(t: vault_core::clock::Timestamp) -> String {
    let iso = t.to_rfc3339();
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm} UTC"),
        _ => iso,
    }
}

/// A form that changes state: only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    pub(super) csrf: String,
}

/// The CSRF checks of a state-changing form: the answer that refuses it,
/// or `None` when it passes.
pub(super) fn refuse_form(
    headers: &HeaderMap,
    uri: &Uri,
    public: &PublicOrigin,
    form: Option<&CsrfForm>,
) -> Option<Response> {
    let session = session_from_cookie(headers);
    match (session, form) {
        (Some(s), Some(f))
            if same_origin(headers, uri, public.0.as_deref()) && csrf_matches(&s, &f.csrf) =>
        {
            None
        }
        (None, _) => Some(Redirect::to("/ui/login").into_response()),
        _ => Some(error_page(&Error::new(
            Kind::Forbidden,
            "csrf.failed",
            "This form must be sent from this site's own page. Reload the page and try again.",
        ))),
    }
}

/// `POST /ui/logout`.
pub async fn logout(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Some(r) = refuse_form(&headers, &uri, &public, form.as_ref().ok().map(|f| &f.0)) {
        return r;
    }
    let ctx = as_browser(ctx, &headers);
    // Ended or not, the browser forgets it.
    let _ = v.logout(&ctx).await;
    let mut r = Redirect::to("/ui/login?notice=signed-out").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    r
}

/// `POST /ui/sessions/{id}/revoke`.
pub async fn revoke_session(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    form_action(&headers, &uri, &public, &form, async {
        v.revoke_session(&as_browser(ctx, &headers), &id).await
    })
    .await
}

/// A state-changing form of the home page: refused unless it passes the
/// CSRF checks, then `act`, then back to `/ui/` (or an error page).
async fn form_action(
    headers: &HeaderMap,
    uri: &Uri,
    public: &PublicOrigin,
    form: &Result<Form<CsrfForm>, FormRejection>,
    act: impl std::future::Future<Output = Result<(), Error>>,
) -> Response {
    form_action_to(headers, uri, public, form, "/ui/", act).await
}

/// [`form_action`], back to `back`.
pub(super) async fn form_action_to(
    headers: &HeaderMap,
    uri: &Uri,
    public: &PublicOrigin,
    form: &Result<Form<CsrfForm>, FormRejection>,
    back: &str,
    act: impl std::future::Future<Output = Result<(), Error>>,
) -> Response {
    if let Some(r) = refuse_form(headers, uri, public, form.as_ref().ok().map(|f| &f.0)) {
        return r;
    }
    match act.await {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => error_page(&e),
    }
}

/// `POST /ui/passkeys/{id}/delete`: a form of the home page.
pub async fn delete_passkey(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    form_action_to(&headers, &uri, &public, &form, "/ui/account", async {
        v.delete_passkey(&as_browser(ctx, &headers), &id).await
    })
    .await
}

/// `GET /ui/passkeys.js`: the pages' only script.
pub async fn script() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("ui/passkeys.js"),
    )
        .into_response();
    page_headers(r.headers_mut());
    r
}

/// What a page may say of an error: its message, except for internal and
/// integrity errors, whose detail stays in the server log.
pub(super) fn shown_message(e: &Error) -> &str {
    match e.kind {
        Kind::Internal | Kind::Integrity => "Something went wrong on the server.",
        _ => e.message.as_str(),
    }
}

/// `Retry-After` (RFC 9110 section 10.2.3) of a throttled answer.
pub(super) fn retry_after(r: &mut Response, e: &Error) {
    if let Some(v) = e
        .retry_after_secs
        .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

pub(super) fn error_page(e: &Error) -> Response {
    let message = shown_message(e);
    let mut r = page(
        status(e.kind),
        layout(
            "Error",
            html! {
                section.card {
                    h1 { "That did not work" }
                    p.error role="alert" { (message) }
                    p.muted { "Code: " code { (e.code) } }
                    p { a href="/ui/" { "Back" } }
                }
            },
        ),
    );
    retry_after(&mut r, e);
    r
}

/// `GET /ui/style.css`.
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("ui/style.css"),
    )
        .into_response()
}
