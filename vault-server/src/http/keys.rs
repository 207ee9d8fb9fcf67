//! Key management handlers: status, rotation, retire/destroy, rewrap.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use vault_core::api::{KekVersionStatus, KeyStatus, RewrapJob, StartRewrap};
use vault_core::names::ProjectName;

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiPath, Caller};
use crate::service::{Error, Vault};

/// `GET /v1/keys`.
pub async fn status(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<KeyStatus>, ApiError> {
    v.key_status(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/keys/rotate`.
pub async fn rotate(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<String>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = ProjectName::parse(&p).map_err(Error::from).api(&ctx)?;
    v.rotate_kek(&ctx, &p).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/keys/{version}/retire`.
pub async fn retire(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath((p, version)): ApiPath<(String, u32)>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = ProjectName::parse(&p).map_err(Error::from).api(&ctx)?;
    v.kek_lifecycle(&ctx, &p, version, false)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/projects/{p}/keys/{version}/destroy`.
pub async fn destroy(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath((p, version)): ApiPath<(String, u32)>,
) -> Result<Json<KekVersionStatus>, ApiError> {
    let p = ProjectName::parse(&p).map_err(Error::from).api(&ctx)?;
    v.kek_lifecycle(&ctx, &p, version, true)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/keys/rewrap` (202: runs in the background).
pub async fn start_rewrap(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<RewrapJob>), ApiError> {
    // The body is optional: empty means every project.
    let req: StartRewrap = if body.iter().all(u8::is_ascii_whitespace) {
        StartRewrap::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| {
                Error::bad(
                    "request.invalid_json",
                    "expected {\"project\": \"name\"} or no body",
                )
            })
            .api(&ctx)?
    };
    v.start_rewrap(&ctx, req)
        .await
        .map(|j| (StatusCode::ACCEPTED, Json(j)))
        .api(&ctx)
}

/// `GET /v1/keys/rewrap/{id}`.
pub async fn rewrap_status(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RewrapJob>, ApiError> {
    v.rewrap_status(&ctx, &id).await.map(Json).api(&ctx)
}
