//! The HTTP edge of webhook alerts: subscriptions, their delivery log, and a
//! test delivery. Each handler parses and calls the service.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{AlertDeliveryList, AlertList, CreateAlert, CreatedAlert};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller};
use super::params::IdPath;
use crate::service::Vault;

/// The alert routes (`audit.read` to look, `users.manage` to change).
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(deliveries))
        .routes(routes!(test))
}

/// `GET /v1/alerts`.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "audit",
    responses(
        (status = 200, description = "Subscriptions, and every event there is", body = AlertList)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<AlertList>, ApiError> {
    v.alerts(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/alerts`.
#[utoipa::path(
    post,
    path = "/v1/alerts",
    tag = "audit",
    request_body = CreateAlert,
    responses(
        (status = 201, description = "The subscription and its signing secret (shown once)", body = CreatedAlert)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn create(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateAlert>,
) -> Result<(StatusCode, Json<CreatedAlert>), ApiError> {
    v.create_alert(&ctx, req)
        .await
        .map(|a| (StatusCode::CREATED, Json(a)))
        .api(&ctx)
}

/// `DELETE /v1/alerts/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/alerts/{id}",
    tag = "audit",
    params(IdPath),
    responses(
        (status = 204, description = "Deleted, with its delivery log")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn delete(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.delete_alert(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/alerts/{id}/deliveries`.
#[utoipa::path(
    get,
    path = "/v1/alerts/{id}/deliveries",
    tag = "audit",
    params(IdPath),
    responses(
        (status = 200, description = "The delivery log, newest first", body = AlertDeliveryList)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn deliveries(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<AlertDeliveryList>, ApiError> {
    v.alert_deliveries(&ctx, &id).await.map(Json).api(&ctx)
}

/// `POST /v1/alerts/{id}/test`.
#[utoipa::path(
    post,
    path = "/v1/alerts/{id}/test",
    tag = "audit",
    params(IdPath),
    responses(
        (status = 202, description = "An alert.test event is recorded; it is delivered within seconds")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn test(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.test_alert(&ctx, &id)
        .await
        .map(|()| StatusCode::ACCEPTED)
        .api(&ctx)
}
