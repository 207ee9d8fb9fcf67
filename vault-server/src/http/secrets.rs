//! Project, environment and secret handlers. Names are parsed here, once;
//! everything else happens in the service.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use vault_core::api::{
    Bundle, CreateEnvironment, CreateProject, Environment, EnvironmentList, Project, ProjectList,
    Rollback, SecretHistory, SecretList, SecretMeta, SecretValue, TrashList, TrashedSecret,
    WriteSecret,
};
use vault_core::names::{EnvName, ProjectName, SecretName};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::service::{Ctx, Error, Vault};

type Pe = (String, String);
type Pen = (String, String, String);

fn pe(ctx: &Ctx, (p, e): &Pe) -> Result<(ProjectName, EnvName), ApiError> {
    let p = ProjectName::parse(p).map_err(Error::from).api(ctx)?;
    let e = EnvName::parse(e).map_err(Error::from).api(ctx)?;
    Ok((p, e))
}

fn pen(ctx: &Ctx, (p, e, n): &Pen) -> Result<(ProjectName, EnvName, SecretName), ApiError> {
    let (p, e) = pe(ctx, &(p.clone(), e.clone()))?;
    let n = SecretName::parse(n).map_err(Error::from).api(ctx)?;
    Ok((p, e, n))
}

fn project(ctx: &Ctx, p: &str) -> Result<ProjectName, ApiError> {
    ProjectName::parse(p).map_err(Error::from).api(ctx)
}

/// `?version=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version to read (latest when absent).
    pub version: Option<u64>,
}

/// `GET /v1/projects`.
pub async fn list_projects(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<ProjectList>, ApiError> {
    v.list_projects(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/projects`.
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
pub async fn delete_project(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let p = project(&ctx, &p)?;
    v.delete_project(&ctx, &p)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/projects/{p}/environments`.
pub async fn list_environments(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<String>,
) -> Result<Json<EnvironmentList>, ApiError> {
    let p = project(&ctx, &p)?;
    v.list_environments(&ctx, &p).await.map(Json).api(&ctx)
}

/// `POST /v1/projects/{p}/environments`.
pub async fn create_environment(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(p): ApiPath<String>,
    ApiJson(body): ApiJson<CreateEnvironment>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    let (p, e) = pe(&ctx, &(p, body.name))?;
    v.create_environment(&ctx, &p, &e)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `GET .../secrets`.
pub async fn list_secrets(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pe>,
) -> Result<Json<SecretList>, ApiError> {
    let (p, e) = pe(&ctx, &path)?;
    v.list_secrets(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `GET .../bundle`.
pub async fn bundle(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pe>,
) -> Result<Json<Bundle>, ApiError> {
    let (p, e) = pe(&ctx, &path)?;
    v.bundle(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `GET .../secrets/{name}`.
pub async fn read(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json<SecretValue>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.read_secret(&ctx, &p, &e, &n, q.version)
        .await
        .map(Json)
        .api(&ctx)
}

/// `PUT .../secrets/{name}`.
pub async fn write(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
    ApiJson(body): ApiJson<WriteSecret>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.write_secret(&ctx, &p, &e, &n, body.value, body.cas)
        .await
        .map(Json)
        .api(&ctx)
}

/// `DELETE .../secrets/{name}`.
pub async fn trash(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
) -> Result<Json<TrashedSecret>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.trash_secret(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `GET .../secrets/{name}/history`.
pub async fn history(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
) -> Result<Json<SecretHistory>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.history(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `POST .../secrets/{name}/rollback`.
pub async fn rollback(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.rollback(&ctx, &p, &e, &n, body.version, body.cas)
        .await
        .map(Json)
        .api(&ctx)
}

/// `GET .../trash`.
pub async fn trash_list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pe>,
) -> Result<Json<TrashList>, ApiError> {
    let (p, e) = pe(&ctx, &path)?;
    v.trash_list(&ctx, &p, &e).await.map(Json).api(&ctx)
}

/// `POST .../trash/{name}/restore`.
pub async fn restore(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
) -> Result<Json<SecretMeta>, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.restore(&ctx, &p, &e, &n).await.map(Json).api(&ctx)
}

/// `DELETE .../trash/{name}`.
pub async fn destroy(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(path): ApiPath<Pen>,
) -> Result<StatusCode, ApiError> {
    let (p, e, n) = pen(&ctx, &path)?;
    v.destroy(&ctx, &p, &e, &n)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}
