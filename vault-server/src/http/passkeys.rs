//! The HTTP edge of passkeys: registration (signed in), passwordless login
//! (open: the assertion is the credential), listing and deleting one's own.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{
    FinishPasskeyCeremony, LoginResponse, PasskeyCeremony, PasskeyInfo, PasskeyList, PasskeyReset,
    RegisteredPasskey, RenamePasskey, StartPasskeyRegistration,
};

use super::ApiResult;
use super::browser::{set_session_cookie, sign_in_allowed};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller, PublicOrigin};
use super::params::{IdPath, UserPath};
use crate::service::Vault;

/// Routes open to anyone.
pub fn open_routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
}

/// Routes for a signed-in user (and the administrators' reset).
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(register_start))
        .routes(routes!(register_finish))
        .routes(routes!(list))
        .routes(routes!(delete, rename))
        .routes(routes!(step_up_start))
        .routes(routes!(step_up_finish))
        .routes(routes!(reset))
}

/// `POST /v1/auth/passkeys/register/start`.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/register/start",
    tag = "auth",
    request_body = StartPasskeyRegistration,
    responses(
        (status = 200, description = "Creation options for a discoverable credential with user verification", body = PasskeyCeremony)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn register_start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<StartPasskeyRegistration>,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    v.passkey_register_start(&ctx, req)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/auth/passkeys/register/finish`.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/register/finish",
    tag = "auth",
    request_body = FinishPasskeyCeremony,
    responses(
        (status = 201, description = "The passkey is registered; the first time, with the account's 10 recovery codes (shown once)", body = RegisteredPasskey)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn register_finish(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<FinishPasskeyCeremony>,
) -> Result<(StatusCode, Json<RegisteredPasskey>), ApiError> {
    v.passkey_register_finish(&ctx, req)
        .await
        .map(|p| (StatusCode::CREATED, Json(p)))
        .api(&ctx)
}

/// `POST /v1/auth/passkeys/login/start`.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/login/start",
    tag = "auth",
    responses(
        (status = 200, description = "Request options for a discoverable credential (no username)", body = PasskeyCeremony)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn login_start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    v.passkey_login_start(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/passkeys/login/finish`: a session, also as the browser
/// session cookie.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/login/finish",
    tag = "auth",
    request_body = FinishPasskeyCeremony,
    responses(
        (status = 200, description = "A session (and the session cookie)", body = LoginResponse)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn login_finish(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    headers: HeaderMap,
    uri: Uri,
    PublicOrigin(origin): PublicOrigin,
    ApiJson(req): ApiJson<FinishPasskeyCeremony>,
) -> Result<Response, ApiError> {
    if !sign_in_allowed(&headers, &uri, origin.as_deref()) {
        return Err(ApiError::new(
            crate::service::Error::new(
                crate::service::Kind::Forbidden,
                "csrf.failed",
                "a passkey sign-in must come from this site's pages",
            ),
            &ctx.request_id,
        ));
    }
    let s = v.passkey_login_finish(&ctx, req).await.api(&ctx)?;
    let cookie = set_session_cookie(&s.token);
    let mut r = Json(s).into_response();
    if let Some(c) = cookie {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// `GET /v1/auth/passkeys`.
#[utoipa::path(
    get,
    path = "/v1/auth/passkeys",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's passkeys", body = PasskeyList)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<PasskeyList>, ApiError> {
    v.passkeys(&ctx).await.map(Json).api(&ctx)
}

/// `DELETE /v1/auth/passkeys/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/auth/passkeys/{id}",
    tag = "auth",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn delete(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.delete_passkey(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `PATCH /v1/auth/passkeys/{id}`.
#[utoipa::path(
    patch,
    path = "/v1/auth/passkeys/{id}",
    tag = "auth",
    params(IdPath),
    request_body = RenamePasskey,
    responses(
        (status = 200, description = "Renamed", body = PasskeyInfo)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn rename(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(req): ApiJson<RenamePasskey>,
) -> Result<Json<PasskeyInfo>, ApiError> {
    v.rename_passkey(&ctx, &id, req).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/passkeys/step-up/start`.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/step-up/start",
    tag = "auth",
    responses(
        (status = 200, description = "Request options naming the caller's passkeys", body = PasskeyCeremony)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn step_up_start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<PasskeyCeremony>, ApiError> {
    v.step_up_start(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/passkeys/step-up/finish`.
#[utoipa::path(
    post,
    path = "/v1/auth/passkeys/step-up/finish",
    tag = "auth",
    request_body = FinishPasskeyCeremony,
    responses(
        (status = 204, description = "The session proved a passkey now: dangerous actions are allowed for `identity.step_up_secs`")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn step_up_finish(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<FinishPasskeyCeremony>,
) -> Result<StatusCode, ApiError> {
    v.step_up_finish(&ctx, req)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/users/{name}/passkeys/reset`.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/passkeys/reset",
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, description = "The user's passkeys and recovery codes are removed and their sessions ended", body = PasskeyReset)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn reset(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
) -> Result<Json<PasskeyReset>, ApiError> {
    v.reset_passkeys(&ctx, &name).await.map(Json).api(&ctx)
}
