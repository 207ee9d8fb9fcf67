//! The HTTP edge of workload identity: the exchange a CI job or pod calls,
//! the issuer list its CLI reads, and the roles administrators manage.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{
    CreateWorkloadRole, CreatedServiceToken, WorkloadIssuerList, WorkloadLogin, WorkloadRole,
    WorkloadRoleList,
};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller};
use super::params::WorkloadRolePath;
use crate::service::Vault;

/// Routes open to anyone (the JWT is the credential).
pub fn open_routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(issuers))
        .routes(routes!(login))
}

/// Routes for administrators.
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(delete_role))
}

/// `GET /v1/auth/workload/issuers`.
#[utoipa::path(
    get,
    path = "/v1/auth/workload/issuers",
    tag = "auth",
    responses(
        (status = 200, description = "The trusted workload issuers and the audiences they accept", body = WorkloadIssuerList)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn issuers(State(v): State<Vault>) -> Json<WorkloadIssuerList> {
    Json(v.workload_issuers())
}

/// `POST /v1/auth/workload/login`.
#[utoipa::path(
    post,
    path = "/v1/auth/workload/login",
    tag = "auth",
    request_body = WorkloadLogin,
    responses(
        (status = 200, description = "A service token with the role's scope, actions and lifetime (shown once)", body = CreatedServiceToken),
        (status = 401, description = "The JWT failed a check; the message ends with the reason code (docs/ci.md)"),
        (status = 502, description = "The issuer's discovery document or keys could not be fetched (`issuer_unreachable`)")
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn login(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<WorkloadLogin>,
) -> Result<Json<CreatedServiceToken>, ApiError> {
    v.workload_login(&ctx, req).await.map(Json).api(&ctx)
}

/// `GET /v1/workload/roles`.
#[utoipa::path(
    get,
    path = "/v1/workload/roles",
    tag = "access",
    responses(
        (status = 200, description = "Every workload role: configured, then made through the API", body = WorkloadRoleList)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn list_roles(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<WorkloadRoleList>, ApiError> {
    v.workload_roles(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/workload/roles`.
#[utoipa::path(
    post,
    path = "/v1/workload/roles",
    tag = "access",
    request_body = CreateWorkloadRole,
    responses(
        (status = 201, description = "Made; you cannot grant what you do not hold on the scope", body = WorkloadRole)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn create_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateWorkloadRole>,
) -> Result<(StatusCode, Json<WorkloadRole>), ApiError> {
    v.create_workload_role(&ctx, req)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `DELETE /v1/workload/roles/{issuer}/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/workload/roles/{issuer}/{name}",
    tag = "access",
    params(WorkloadRolePath),
    responses(
        (status = 204, description = "Deleted; tokens minted under it keep their short lifetime")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn delete_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(WorkloadRolePath { issuer, name }): ApiPath<WorkloadRolePath>,
) -> Result<StatusCode, ApiError> {
    v.delete_workload_role(&ctx, &issuer, &name)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}
