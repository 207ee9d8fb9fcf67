//! Access reviews on the pages (`/ui/reviews`): start one, keep or revoke
//! each binding with a note, close it with an attestation. The same service
//! calls as `/v1/access/reviews`, so the same rules (users.manage, not your
//! own binding, step-up) and the same audit records.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use vault_core::api::{CloseReview, DecideReviewItem, StartReview};

use super::{CsrfForm, as_browser, error_page, layout, page, refuse_form, when};
use crate::http::browser::csrf_token;
use crate::http::extract::{Caller, PublicOrigin};
use crate::service::{Kind, Vault};

/// `GET /ui/reviews`.
pub async fn list(State(v): State<Vault>, Caller(ctx): Caller, headers: HeaderMap) -> Response {
    let ctx = as_browser(ctx, &headers);
    let Some(session) = ctx.credential.clone() else {
        return Redirect::to("/ui/login").into_response();
    };
    let l = match v.reviews(&ctx).await {
        Ok(l) => l,
        Err(e) if e.kind == Kind::Unauthenticated => {
            return Redirect::to("/ui/login?notice=session-ended").into_response();
        }
        Err(e) => return error_page(&e),
    };
    let csrf = csrf_token(&session).unwrap_or_default();
    page(
        StatusCode::OK,
        layout(
            "Access reviews",
            html! {
                section.card {
                    h1 { "Access reviews" }
                    @if l.overdue {
                        p.error role="status" {
                            "A review is due: none was closed in the last " (l.cadence_days) " days"
                            @if let Some(t) = l.last_completed_at { " (last closed " (when(t)) ")" }
                            ", or one is past its due date."
                        }
                    } @else {
                        p.muted { "Reviews are due every " (l.cadence_days) " days." }
                    }
                    @if l.reviews.is_empty() {
                        p.muted { "No reviews yet." }
                    } @else {
                        table {
                            thead { tr { th { "Review" } th { "Scope" } th { "Decided" } th { "State" } } }
                            tbody {
                                @for r in &l.reviews {
                                    tr {
                                        td { a href={ "/ui/reviews/" (r.id) } { code { (r.id) } } }
                                        td { code { (r.scope) } }
                                        td { (r.decided) " / " (r.total) }
                                        td {
                                            @if let Some(t) = r.closed_at { "closed " (when(t)) }
                                            @else if r.overdue { span.tag { "overdue" } " due " (when(r.due_at)) }
                                            @else { "open, due " (when(r.due_at)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    h2 { "Start a review" }
                    form method="post" action="/ui/reviews" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="scope" { "Bindings within (project/environment pattern)" }
                        input #scope name="scope" type="text" value="*" maxlength="130";
                        label for="due_days" { "Due in (days)" }
                        input #due_days name="due_days" type="number" min="1" max="365" value="14";
                        button type="submit" { "Start the review" }
                    }
                }
                p { a href="/ui/" { "Back" } }
            },
        ),
    )
}

/// The start form.
#[derive(Deserialize)]
pub struct StartForm {
    csrf: String,
    scope: String,
    due_days: i64,
}

/// `POST /ui/reviews`.
pub async fn start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    form: Result<Form<StartForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| CsrfForm {
        csrf: f.0.csrf.clone(),
    });
    if let Some(r) = refuse_form(&headers, &uri, &public, csrf.as_ref()) {
        return r;
    }
    let Ok(Form(f)) = form else {
        return error_page(&crate::service::Error::bad(
            "review.invalid_form",
            "Give a scope and a number of days.",
        ));
    };
    let req = StartReview {
        scope: Some(f.scope),
        due_secs: Some(f.due_days.saturating_mul(86_400)),
    };
    match v.start_review(&as_browser(ctx, &headers), req).await {
        Ok(r) => Redirect::to(&format!("/ui/reviews/{}", r.id)).into_response(),
        Err(e) => error_page(&e),
    }
}

/// `GET /ui/reviews/{id}`.
pub async fn show(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let ctx = as_browser(ctx, &headers);
    let Some(session) = ctx.credential.clone() else {
        return Redirect::to("/ui/login").into_response();
    };
    let r = match v.review(&ctx, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let csrf = csrf_token(&session).unwrap_or_default();
    let open = r.closed_at.is_none();
    page(
        StatusCode::OK,
        layout(
            "Access review",
            html! {
                section.card {
                    h1 { "Access review " code { (r.id) } }
                    p.muted {
                        "Bindings within " code { (r.scope) } ", started by " (r.created_by) " "
                        (when(r.created_at)) "; " (r.decided) " of " (r.total) " decided. "
                        @if let Some(t) = r.closed_at {
                            "Closed " (when(t)) " by " (r.closed_by.clone().unwrap_or_default()) "."
                        } @else if r.overdue {
                            span.tag { "overdue" } " (due " (when(r.due_at)) ")"
                        } @else {
                            "Due " (when(r.due_at)) "."
                        }
                    }
                    @if let Some(a) = &r.attestation { p { "Attestation: " (a) } }
                    table {
                        thead { tr { th { "User" } th { "Role" } th { "Scope" } th { "Source" } th { "Granted" } th { "Last used" } th { "Decision" } } }
                        tbody {
                            @for i in &r.items {
                                tr {
                                    td { (i.user) }
                                    td { (i.role) }
                                    td { code { (i.scope) } }
                                    td { (i.source) }
                                    td { (when(i.granted_at)) }
                                    td { (i.last_used_at.map(when).unwrap_or_else(|| "never".into())) }
                                    td {
                                        @if let Some(d) = &i.decision {
                                            strong { (d) } " by " (i.decided_by.clone().unwrap_or_default())
                                            @if let Some(n) = &i.note { br; span.muted { (n) } }
                                        } @else if open {
                                            form.inline method="post" action={ "/ui/reviews/" (r.id) "/bindings/" (i.binding_id) } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input name="note" type="text" maxlength="500" placeholder="Note" aria-label="Note";
                                                button.secondary type="submit" name="decision" value="keep" { "Keep" }
                                                button.danger type="submit" name="decision" value="revoke" { "Revoke" }
                                            }
                                        } @else {
                                            "pending"
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if open {
                        h2 { "Close and attest" }
                        form method="post" action={ "/ui/reviews/" (r.id) "/close" } {
                            input type="hidden" name="csrf" value=(csrf);
                            label for="attestation" { "Attestation" }
                            input #attestation name="attestation" type="text" maxlength="500"
                                placeholder="e.g. reviewed with the team leads";
                            button type="submit" { "Close the review" }
                        }
                    }
                }
                p { a href="/ui/reviews" { "All reviews" } }
            },
        ),
    )
}

/// A decision form.
#[derive(Deserialize)]
pub struct DecideForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /ui/reviews/{id}/bindings/{binding}`.
pub async fn decide(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    Path((id, binding)): Path<(String, String)>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| CsrfForm {
        csrf: f.0.csrf.clone(),
    });
    if let Some(r) = refuse_form(&headers, &uri, &public, csrf.as_ref()) {
        return r;
    }
    let Ok(Form(f)) = form else {
        return error_page(&crate::service::Error::bad(
            "review.invalid_decision",
            "Choose keep or revoke.",
        ));
    };
    let req = DecideReviewItem {
        decision: f.decision,
        note: f.note,
    };
    match v
        .decide_review_item(&as_browser(ctx, &headers), &id, &binding, req)
        .await
    {
        Ok(_) => Redirect::to(&format!("/ui/reviews/{id}")).into_response(),
        Err(e) => error_page(&e),
    }
}

/// The close form.
#[derive(Deserialize)]
pub struct CloseForm {
    csrf: String,
    #[serde(default)]
    attestation: Option<String>,
}

/// `POST /ui/reviews/{id}/close`.
pub async fn close(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    public: PublicOrigin,
    Path(id): Path<String>,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Response {
    let csrf = form.as_ref().ok().map(|f| CsrfForm {
        csrf: f.0.csrf.clone(),
    });
    if let Some(r) = refuse_form(&headers, &uri, &public, csrf.as_ref()) {
        return r;
    }
    let attestation = form.ok().and_then(|f| f.0.attestation);
    match v
        .close_review(&as_browser(ctx, &headers), &id, CloseReview { attestation })
        .await
    {
        Ok(_) => Redirect::to(&format!("/ui/reviews/{id}")).into_response(),
        Err(e) => error_page(&e),
    }
}
