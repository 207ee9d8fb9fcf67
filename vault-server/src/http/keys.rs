//! Key management handlers: status, rotation, retire/destroy, rewrap.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vault_core::api::{KekVersionStatus, KeyStatus, RewrapJob, StartRewrap};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiPath, Caller, from_json_object};
use super::params::{IdPath, KekPath, ProjectPath};
use crate::service::{Error, Vault};

/// `GET /v1/keys`.
#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "keys",
    responses(
        (status = 200, description = "Every project key and its versions", body = KeyStatus)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn status(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<KeyStatus>, ApiError> {
    v.key_status(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/keys/rotate`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/keys/rotate",
    tag = "keys",
    params(ProjectPath),
    responses(
        (status = 200, description = "The new key version", body = KekVersionStatus)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn rotate(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<ProjectPath>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = p.parse(&ctx)?;
    v.rotate_kek(&ctx, &p).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/keys/{version}/retire`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/keys/{version}/retire",
    tag = "keys",
    params(KekPath),
    responses(
        (status = 200, description = "Retired: decrypts, never encrypts", body = KekVersionStatus)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn retire(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(KekPath { p, version }): ApiPath<KekPath>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = ProjectPath { p }.parse(&ctx)?;
    v.kek_lifecycle(&ctx, &p, version, false)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/projects/{p}/keys/{version}/destroy`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/keys/{version}/destroy",
    tag = "keys",
    params(KekPath),
    responses(
        (status = 200, description = "Destroyed: data under it is gone", body = KekVersionStatus)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn destroy(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(KekPath { p, version }): ApiPath<KekPath>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = ProjectPath { p }.parse(&ctx)?;
    v.kek_lifecycle(&ctx, &p, version, true)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/keys/rewrap` (202: runs in the background).
#[utoipa::path(
    post,
    path = "/v1/keys/rewrap",
    tag = "keys",
    request_body = Option<StartRewrap>,
    responses(
        (status = 202, description = "Started in the background", body = RewrapJob)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn start_rewrap(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RewrapJob>), ApiError> {
    // The body is optional: none (or `null`) means every project.
    let req: StartRewrap = if body.iter().all(u8::is_ascii_whitespace) {
        StartRewrap::default()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Null) => StartRewrap::default(),
            Ok(v) => from_json_object(v).api(&ctx)?,
            Err(_) => {
                return Err(ApiError::new(
                    Error::bad("request.invalid_json", "the body is not valid JSON"),
                    &ctx.request_id,
                ));
            }
        }
    };
    v.start_rewrap(&ctx, req)
        .await
        .map(|j| (StatusCode::ACCEPTED, Json(j)))
        .api(&ctx)
}

/// `GET /v1/keys/rewrap/{id}`.
#[utoipa::path(
    get,
    path = "/v1/keys/rewrap/{id}",
    tag = "keys",
    params(IdPath),
    responses(
        (status = 200, description = "The job", body = RewrapJob)
    ),
    extensions(("x-vault-action" = json!("keys.manage")))
)]
pub async fn rewrap_status(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<RewrapJob>, ApiError> {
    v.rewrap_status(&ctx, &id).await.map(Json).api(&ctx)
}
