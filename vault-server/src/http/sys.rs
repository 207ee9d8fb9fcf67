//! `/v1/sys/*` handlers: health, init, seal status, unseal, seal, root
//! rotation, metrics; and the fallbacks for unknown routes and methods.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vault_core::api::{
    GenerateRoot, GeneratedRoot, Health, InitRequest, InitResponse, RootKeyStatus, SealStatus,
    UnsealRequest,
};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, Caller};
use crate::service::{Error, Kind, Vault};

/// `GET /v1/sys/health`.
#[utoipa::path(
    get,
    path = "/v1/sys/health",
    tag = "sys",
    responses(
        (status = 200, description = "Always served, also when sealed", body = Health)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn health(State(v): State<Vault>) -> Json<Health> {
    Json(Health {
        initialized: v.initialized(),
        sealed: v.sealed(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// `POST /v1/sys/init`.
#[utoipa::path(
    post,
    path = "/v1/sys/init",
    tag = "sys",
    request_body = InitRequest,
    responses(
        (status = 200, description = "Initialized; the response holds the only copy of the unseal material and the root token", body = InitResponse)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn init(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<InitRequest>,
) -> Result<Json<InitResponse>, ApiError> {
    v.init(&ctx, req.mode).await.map(Json).api(&ctx)
}

/// `GET /v1/sys/seal-status`.
#[utoipa::path(
    get,
    path = "/v1/sys/seal-status",
    tag = "sys",
    responses(
        (status = 200, description = "Seal status", body = SealStatus)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn seal_status(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<SealStatus>, ApiError> {
    let s = v.seal_status().await.api(&ctx)?;
    // Public like health; recorded so probing is visible.
    let entry = v.entry(
        &ctx,
        None,
        "sys.seal_status",
        "sys",
        vault_core::audit::Outcome::Success,
        None,
    );
    v.audit(&ctx, entry).await.api(&ctx)?;
    Ok(Json(s))
}

/// `POST /v1/sys/unseal`.
#[utoipa::path(
    post,
    path = "/v1/sys/unseal",
    tag = "sys",
    request_body = UnsealRequest,
    responses(
        (status = 200, description = "Share or passphrase accepted", body = SealStatus)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn unseal(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<UnsealRequest>,
) -> Result<Json<SealStatus>, ApiError> {
    v.unseal(&ctx, req).await.map(Json).api(&ctx)
}

/// `POST /v1/sys/generate-root`.
#[utoipa::path(
    post,
    path = "/v1/sys/generate-root",
    tag = "sys",
    request_body = GenerateRoot,
    responses(
        (status = 200, description = "A new root token, for the holders of the unseal key material", body = GeneratedRoot)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn generate_root(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<GenerateRoot>,
) -> Result<Json<GeneratedRoot>, ApiError> {
    v.generate_root(&ctx, req).await.map(Json).api(&ctx)
}

/// `POST /v1/sys/seal`.
#[utoipa::path(
    post,
    path = "/v1/sys/seal",
    tag = "sys",
    responses(
        (status = 200, description = "Sealed: keys wiped from memory", body = SealStatus)
    ),
    extensions(("x-vault-action" = json!("sys.seal")))
)]
pub async fn seal(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<SealStatus>, ApiError> {
    v.seal(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/sys/rotate-root`.
#[utoipa::path(
    post,
    path = "/v1/sys/rotate-root",
    tag = "sys",
    responses(
        (status = 200, description = "Root key rotated", body = RootKeyStatus)
    ),
    extensions(("x-vault-action" = json!("sys.rotate_root")))
)]
pub async fn rotate_root(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<RootKeyStatus>, ApiError> {
    v.rotate_root(&ctx).await.map(Json).api(&ctx)
}

/// `GET /v1/sys/metrics` (Prometheus text): needs `metrics.read` unless
/// `telemetry.unauthenticated_metrics` is set.
#[utoipa::path(
    get,
    path = "/v1/sys/metrics",
    tag = "sys",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")
    ),
    extensions(("x-vault-action" = json!("sys.metrics")))
)]
pub async fn metrics(State(v): State<Vault>, Caller(ctx): Caller) -> Response {
    if let Err(e) = v.may_read_metrics(&ctx).await {
        return ApiError::new(e, &ctx.request_id).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        v.metrics().render(),
    )
        .into_response()
}

/// Unknown route.
pub async fn not_found(Caller(ctx): Caller) -> ApiError {
    ApiError::new(
        Error::not_found("route.not_found", "no such route (see /v1/openapi.json)"),
        &ctx.request_id,
    )
}

/// Known route, wrong method.
pub async fn method_not_allowed(Caller(ctx): Caller) -> Response {
    let mut r = ApiError::new(
        Error::new(
            Kind::BadRequest,
            "route.method_not_allowed",
            "method not allowed on this route",
        ),
        &ctx.request_id,
    )
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
