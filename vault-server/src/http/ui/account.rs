//! The account page (`/ui/account`: passkeys with their names, when added
//! and last used; add, rename, delete) and the second-factor step of a
//! password sign-in (the passkey, or a recovery code instead).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use vault_core::api::{MfaRecovery, RenamePasskey};
use vault_core::secret::SecretText;

use super::{
    CsrfForm, as_browser, error_page, form_action_to, layout, page, refuse_form, retry_after,
    shown_message, signed_in, when,
};
use crate::http::browser::{csrf_token, same_origin, session_from_cookie};
use crate::http::error::status;
use crate::http::extract::{Caller, PublicOrigin};
use crate::service::sso::CliReturn;
use crate::service::{Ctx, Error, Kind, Vault};

/// `GET /ui/account`.
pub async fn page_account(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
) -> Response {
    let ctx = as_browser(ctx, &headers);
    let Some(session) = ctx.credential.clone() else {
        return Redirect::to("/ui/login").into_response();
    };
    let passkeys = match v.passkeys(&ctx).await {
        Ok(l) => l.passkeys,
        Err(e) if e.kind == Kind::Unauthenticated => {
            return Redirect::to("/ui/login?notice=session-ended").into_response();
        }
        Err(e) => return error_page(&e),
    };
    let csrf = csrf_token(&session).unwrap_or_default();
    page(
        StatusCode::OK,
        layout(
            "Account",
            html! {
                section.card {
                    h1 { "Passkeys" }
                    p.muted {
                        "Sign in with your device's screen lock or a security key, no password. \
                         Once you have a passkey, a password sign-in asks for it too."
                    }
                    @if passkeys.is_empty() {
                        p.muted { "No passkeys yet." }
                    } @else {
                        table {
                            thead { tr { th { "Name" } th { "Added" } th { "Last used" } th { "Rename" } th {} } }
                            tbody {
                                @for k in &passkeys {
                                    tr {
                                        td.name { (k.name) }
                                        td { (when(k.created_at)) }
                                        td { (k.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                                        td {
                                            form.inline method="post" action={ "/ui/passkeys/" (k.id) "/rename" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input name="name" type="text" maxlength="64" required
                                                    aria-label="New name" value=(k.name);
                                                button.secondary type="submit" { "Rename" }
                                            }
                                        }
                                        td {
                                            form method="post" action={ "/ui/passkeys/" (k.id) "/delete" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button.danger type="submit" { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    label for="passkey-name" { "New passkey's name" }
                    input #passkey-name type="text" maxlength="64" placeholder="e.g. work laptop";
                    button #passkey-add type="button" data-csrf=(csrf) { "Add a passkey" }
                    p.error #passkey-add-error role="alert" hidden {}
                    div #recovery hidden {
                        h2 { "Your recovery codes" }
                        p {
                            "Each code signs you in once, after your password, if you lose your \
                             passkeys. They are shown only now: print them or keep them in a \
                             password manager."
                        }
                        pre #recovery-codes {}
                        button #recovery-done type="button" { "I have saved them" }
                    }
                }
                p { a href="/ui/" { "Back" } }
            },
        ),
    )
}

/// The rename form.
#[derive(Deserialize)]
pub struct RenameForm {
    csrf: String,
    name: String,
}

/// `POST /ui/passkeys/{id}/rename`.
pub async fn rename_passkey(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    Path(id): Path<String>,
    form: Result<Form<RenameForm>, FormRejection>,
) -> Response {
    let name = form.as_ref().ok().map(|f| f.0.name.clone());
    let csrf = form.map(|f| CsrfForm { csrf: f.0.csrf });
    let Some(name) = name else {
        return refuse_form(&headers, &uri, &public, None)
            .unwrap_or_else(|| Redirect::to("/ui/account").into_response());
    };
    let csrf = csrf.map(Form);
    form_action_to(&headers, &uri, &public, &csrf, "/ui/account", async {
        v.rename_passkey(&as_browser(ctx, &headers), &id, RenamePasskey { name })
            .await
            .map(|_| ())
    })
    .await
}

/// The second step of a password sign-in: the passkey (the page's script
/// answers the challenge), or a recovery code.
pub(super) fn second_factor_page(
    ceremony_id: &str,
    options: &serde_json::Value,
    cli: Option<&CliReturn>,
) -> Response {
    let next = super::cli::next_path(cli);
    page(
        StatusCode::OK,
        layout(
            "Confirm with your passkey",
            html! {
                section.card {
                    h1 { "Confirm with your passkey" }
                    p { "Your password was right. Your account has a passkey: use it to finish signing in." }
                    button #mfa-confirm type="button" data-ceremony=(ceremony_id)
                        data-options=(options.to_string()) data-next=(next) { "Use my passkey" }
                    p.error #mfa-error role="alert" hidden {}
                    details {
                        summary { "Lost your passkey? Use a recovery code" }
                        form method="post" action="/ui/login/recovery" {
                            input type="hidden" name="ceremony_id" value=(ceremony_id);
                            @if let Some(c) = cli {
                                input type="hidden" name="cli_port" value=(c.port);
                                input type="hidden" name="cli_challenge" value=(c.challenge);
                            }
                            label for="recovery_code" { "Recovery code" }
                            input #recovery_code name="recovery_code" type="text"
                                autocomplete="one-time-code" required placeholder="XXXX-XXXX-XXXX-XXXX";
                            button.secondary type="submit" { "Sign in with the code" }
                        }
                    }
                }
            },
        ),
    )
}

/// The recovery-code form.
#[derive(Deserialize)]
pub struct RecoveryForm {
    ceremony_id: String,
    recovery_code: SecretText,
    #[serde(default)]
    cli_port: Option<String>,
    #[serde(default)]
    cli_challenge: Option<String>,
}

/// `POST /ui/login/recovery`: a recovery code instead of the passkey. Like
/// the sign-in form, it must come from this site (no login CSRF).
pub async fn recovery(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    form: Result<Form<RecoveryForm>, FormRejection>,
) -> Response {
    if !same_origin(&headers, &uri, public.0.as_deref()) {
        return error_page(&Error::new(
            Kind::Forbidden,
            "csrf.failed",
            "This form must be sent from this site.",
        ));
    }
    let Ok(Form(f)) = form else {
        return error_page(&Error::bad(
            "auth.recovery_code_invalid",
            "Give a recovery code.",
        ));
    };
    let cli = match super::cli::parse(f.cli_port.as_deref(), f.cli_challenge.as_deref()) {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let previous = session_from_cookie(&headers);
    let ctx = Ctx {
        credential: None,
        ..ctx
    };
    let req = MfaRecovery {
        ceremony_id: f.ceremony_id,
        recovery_code: f.recovery_code,
    };
    match v.mfa_recovery(&ctx, req).await {
        Ok(s) => {
            let next = super::cli::next_path(cli.as_ref());
            signed_in(&v, &ctx, previous, &s.token, &next).await
        }
        Err(e) => {
            let mut r = page(
                status(e.kind),
                layout(
                    "Sign in",
                    html! {
                        section.card {
                            h1 { "That did not work" }
                            p.error role="alert" { (shown_message(&e)) }
                            p { a.button href="/ui/login" { "Sign in again" } }
                        }
                    },
                ),
            );
            retry_after(&mut r, &e);
            r
        }
    }
}
