//! Project, environment and secret handlers. Names are parsed here, once;
//! everything else happens in the service.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use vault_core::api::{
    Bundle, CreateEnvironment, CreateProject, Environment, EnvironmentList, Project, ProjectList,
    Rollback, SecretHistory, SecretList, SecretMeta, SecretValue, TrashList, TrashedSecret,
    WriteSecret,
};
use vault_core::names::ProjectName;

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::params::{EnvPath, ProjectPath, SecretPath};
use crate::service::{Ctx, Error, Vault};

fn project(ctx: &Ctx, p: &str) -> Result<ProjectName, ApiError> {
    ProjectName::parse(p).map_err(Error::from).api(ctx)
}

/// `?version=N`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// Version to read (latest when absent), from 1.
    #[param(minimum = 1)]
    pub version: Option<u64>,
}

/// `GET /v1/projects`.
#[utoipa::path(
    get,
    path = "/v1/projects",
    tag = "secrets",
    responses(
        (status = 200, description = "Projects the caller may see", body = ProjectList)
    ),
    extensions(("x-vault-action" = json!("project.list")))
)]
pub async fn list_projects(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<ProjectList>, ApiError> {
    v.list_projects(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/projects`.
#[utoipa::path(
    post,
    path = "/v1/projects",
    tag = "secrets",
    request_body = CreateProject,
    responses(
        (status = 201, description = "Created", body = Project)
    ),
    extensions(("x-vault-action" = json!("project.create")))
)]
pub async fn create_project(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(body): ApiJson<CreateProject>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let p = project(&ctx, &body.name)?;
    v.create_project(&ctx, &p)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `DELETE /v1/projects/{p}`.
#[utoipa::path(
    delete,
    path = "/v1/projects/{p}",
    tag = "secrets",
    params(ProjectPath),
    responses(
        (status = 204, description = "Deleted: its keys are destroyed (crypto-shred)")
    ),
    extensions(("x-vault-action" = json!("project.delete")))
)]
pub async fn delete_project(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<ProjectPath>,
) -> Result<StatusCode, ApiError> {
    let p = p.parse(&ctx)?;
    v.delete_project(&ctx, &p)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/projects/{p}/environments`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments",
    tag = "secrets",
    params(ProjectPath),
    responses(
        (status = 200, description = "Environments", body = EnvironmentList)
    ),
    extensions(("x-vault-action" = json!("environment.list")))
)]
pub async fn list_environments(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<ProjectPath>,
) -> Result<Json<EnvironmentList>, ApiError> {
    let p = p.parse(&ctx)?;
    v.list_environments(&ctx, &p).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/environments`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/environments",
    tag = "secrets",
    params(ProjectPath),
    request_body = CreateEnvironment,
    responses(
        (status = 201, description = "Created", body = Environment)
    ),
    extensions(("x-vault-action" = json!("environment.create")))
)]
pub async fn create_environment(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<ProjectPath>,
    ApiJson(body): ApiJson<CreateEnvironment>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    let (p, e) = EnvPath {
        p: p.p,
        e: body.name,
    }
    .parse(&ctx)?;
    v.create_environment(&ctx, &p, &e)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `GET .../secrets`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments/{e}/secrets",
    tag = "secrets",
    params(EnvPath),
    responses(
        (status = 200, description = "Secret names (never values)", body = SecretList)
    ),
    extensions(("x-vault-action" = json!("secret.list")))
)]
pub async fn list_secrets(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<EnvPath>,
) -> Result<Json<SecretList>, ApiError> {
    let (p, e) = path.parse(&ctx)?;
    v.list_secrets(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `GET .../bundle`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments/{e}/bundle",
    tag = "secrets",
    params(EnvPath),
    responses(
        (status = 200, description = "Every current value, one round trip", body = Bundle)
    ),
    extensions(("x-vault-action" = json!("secret.read")))
)]
pub async fn bundle(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<EnvPath>,
) -> Result<Json<Bundle>, ApiError> {
    let (p, e) = path.parse(&ctx)?;
    v.bundle(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `GET .../secrets/{name}`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments/{e}/secrets/{name}",
    tag = "secrets",
    params(SecretPath, VersionQuery),
    responses(
        (status = 200, description = "The value", body = SecretValue)
    ),
    extensions(("x-vault-action" = json!("secret.read")))
)]
pub async fn read(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json<SecretValue>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.read_secret(&ctx, &p, &e, &n, q.version)
        .await
        .map(Json)
        .api(&ctx)
}

/// `PUT .../secrets/{name}`.
#[utoipa::path(
    put,
    path = "/v1/projects/{p}/environments/{e}/secrets/{name}",
    tag = "secrets",
    params(SecretPath),
    request_body = WriteSecret,
    responses(
        (status = 200, description = "Written (a new version)", body = SecretMeta)
    ),
    extensions(("x-vault-action" = json!("secret.write")))
)]
pub async fn write(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
    ApiJson(body): ApiJson<WriteSecret>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.write_secret(&ctx, &p, &e, &n, body.value, body.cas)
        .await
        .map(Json)
        .api(&ctx)
}

/// `DELETE .../secrets/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/projects/{p}/environments/{e}/secrets/{name}",
    tag = "secrets",
    params(SecretPath),
    responses(
        (status = 200, description = "Moved to the trash", body = TrashedSecret)
    ),
    extensions(("x-vault-action" = json!("secret.delete")))
)]
pub async fn trash(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
) -> Result<Json<TrashedSecret>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.trash_secret(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `GET .../secrets/{name}/history`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments/{e}/secrets/{name}/history",
    tag = "secrets",
    params(SecretPath),
    responses(
        (status = 200, description = "Versions (never values)", body = SecretHistory)
    ),
    extensions(("x-vault-action" = json!("secret.history")))
)]
pub async fn history(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
) -> Result<Json<SecretHistory>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.history(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `POST .../secrets/{name}/rollback`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/environments/{e}/secrets/{name}/rollback",
    tag = "secrets",
    params(SecretPath),
    request_body = Rollback,
    responses(
        (status = 200, description = "A new version holding the old value", body = SecretMeta)
    ),
    extensions(("x-vault-action" = json!("secret.write")))
)]
pub async fn rollback(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.rollback(&ctx, &p, &e, &n, body.version, body.cas)
        .await
        .map(Json)
        .api(&ctx)
}

/// `GET .../trash`.
#[utoipa::path(
    get,
    path = "/v1/projects/{p}/environments/{e}/trash",
    tag = "secrets",
    params(EnvPath),
    responses(
        (status = 200, description = "Trashed secrets", body = TrashList)
    ),
    extensions(("x-vault-action" = json!("secret.delete")))
)]
pub async fn trash_list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<EnvPath>,
) -> Result<Json<TrashList>, ApiError> {
    let (p, e) = path.parse(&ctx)?;
    v.trash_list(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `POST .../trash/{name}/restore`.
#[utoipa::path(
    post,
    path = "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
    tag = "secrets",
    params(SecretPath),
    responses(
        (status = 200, description = "Restored", body = SecretMeta)
    ),
    extensions(("x-vault-action" = json!("secret.write")))
)]
pub async fn restore(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.restore(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `DELETE .../trash/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/projects/{p}/environments/{e}/trash/{name}",
    tag = "secrets",
    params(SecretPath),
    responses(
        (status = 204, description = "Destroyed for good")
    ),
    extensions(("x-vault-action" = json!("secret.delete")))
)]
pub async fn destroy(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<SecretPath>,
) -> Result<StatusCode, ApiError> {
    let (p, e, n) = path.parse(&ctx)?;
    v.destroy(&ctx, &p, &e, &n)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}
