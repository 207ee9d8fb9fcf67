//! `vault login --web`: the CLI opens `/ui/login?cli_port=P&cli_challenge=C`;
//! whatever way the person signs in (password and passkey, passkey alone,
//! SSO), the browser ends on `/ui/cli`, which asks before it hands a
//! one-time code (bound to the CLI's PKCE challenge) to the CLI's loopback
//! listener. The CLI trades the code at `POST /v1/auth/oidc/token` for a
//! session of its own that proved what the browser's did.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::{CsrfForm, as_browser, error_page, layout, page, refuse_form};
use crate::http::browser::csrf_token;
use crate::http::extract::{Caller, PublicOrigin};
use crate::service::sso::CliReturn;
use crate::service::{Error, Vault};

/// The CLI's parameters, both or neither: a port of 1024-65535 on
/// 127.0.0.1 and a 43-character S256 challenge (RFC 7636 §4.2).
pub(super) fn parse(
    port: Option<&str>,
    challenge: Option<&str>,
) -> Result<Option<CliReturn>, Error> {
    match (port, challenge) {
        (None, None) => Ok(None),
        (Some(p), Some(c)) => match p.parse::<u16>() {
            Ok(port) if port >= 1024 && vault_core::sso::is_pkce_challenge(c) => {
                Ok(Some(CliReturn {
                    port,
                    challenge: c.to_owned(),
                }))
            }
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

fn invalid() -> Error {
    Error::bad(
        "auth.cli_request_invalid",
        "cli_port must be 1024-65535 and cli_challenge a 43-character S256 challenge, both or \
         neither: run `vault login --web` again",
    )
}

/// Where a sign-in from the pages goes next: home, or the CLI hand-off.
pub(super) fn next_path(cli: Option<&CliReturn>) -> String {
    match cli {
        Some(c) => format!("/ui/cli?cli_port={}&cli_challenge={}", c.port, c.challenge),
        None => "/ui/".into(),
    }
}

/// `?cli_port=P&cli_challenge=C`.
#[derive(Deserialize)]
pub struct CliQuery {
    cli_port: Option<String>,
    cli_challenge: Option<String>,
}

/// `GET /ui/cli`: signed in, a page that names the port and asks; not
/// signed in, the sign-in page for the CLI.
pub async fn handoff_page(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    query: Result<Query<CliQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error_page(&invalid());
    };
    let cli = match parse(q.cli_port.as_deref(), q.cli_challenge.as_deref()) {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(&invalid()),
        Err(e) => return error_page(&e),
    };
    let ctx = as_browser(ctx, &headers);
    let me = match &ctx.credential {
        Some(_) => v.whoami(&ctx).await.ok(),
        None => None,
    };
    let (Some(me), Some(session)) = (me, ctx.credential.as_ref()) else {
        return Redirect::to(&format!(
            "/ui/login?cli_port={}&cli_challenge={}",
            cli.port, cli.challenge
        ))
        .into_response();
    };
    let csrf = csrf_token(session).unwrap_or_default();
    page(
        StatusCode::OK,
        layout(
            "Sign in the vault CLI",
            html! {
                section.card {
                    h1 { "Sign in the vault CLI" }
                    p {
                        "You are signed in as " strong { (me.name) } ". The last step hands \
                         a sign-in like this one to the " code { "vault" } " command waiting on \
                         port " strong { (cli.port) } " of this computer."
                    }
                    p.muted {
                        "Continue only if you ran " code { "vault login --web" } " yourself just \
                         now. If you did not, close this tab: nothing is handed over."
                    }
                    form method="post" action="/ui/cli" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="cli_port" value=(cli.port);
                        input type="hidden" name="cli_challenge" value=(cli.challenge);
                        button #continue type="submit" { "Continue to the vault CLI" }
                    }
                }
            },
        ),
    )
}

/// The hand-off form.
#[derive(Deserialize)]
pub struct HandoffForm {
    csrf: String,
    cli_port: String,
    cli_challenge: String,
}

/// `POST /ui/cli`: the one-time code, then on to the CLI's listener. The
/// pages' CSP allows forms to post only to this site, redirects included,
/// so the last hop is a link (followed at once by a refresh).
pub async fn handoff(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    form: Result<Form<HandoffForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| CsrfForm {
        csrf: f.0.csrf.clone(),
    });
    if let Some(r) = refuse_form(&headers, &uri, &public, csrf.as_ref()) {
        return r;
    }
    let Ok(Form(f)) = form else {
        return error_page(&invalid());
    };
    let cli = match parse(Some(&f.cli_port), Some(&f.cli_challenge)) {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(&invalid()),
        Err(e) => return error_page(&e),
    };
    let ctx = as_browser(ctx, &headers);
    let to = match v.cli_web_code(&ctx, &cli).await {
        Ok(to) => to,
        Err(e) => return error_page(&e),
    };
    page(
        StatusCode::OK,
        layout(
            "Signed in",
            html! {
                meta http-equiv="refresh" content={ "0;url=" (to) };
                section.card {
                    h1 { "Handing over to the vault CLI" }
                    p { "If nothing happens, " a #to-cli href=(to) { "continue to the vault CLI" } "." }
                    p.muted { "You can close this tab once the command says you are signed in." }
                }
            },
        ),
    )
}
