//! Identity and access handlers: login, logout, whoami, passwords, users,
//! roles, bindings, sessions, service tokens, emergency access, and the
//! dev-mode test clock. Each handler only parses and calls the service,
//! which authenticates, decides and audits.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{
    AdvanceTestClock, Binding, BindingList, ChangePassword, CreateBinding, CreateRole,
    CreateServiceToken, CreateUser, CreatedServiceToken, EmergencyGrant, EmergencyList,
    LoginAnswer, LoginRequest, LoginResponse, MfaRecovery, Offboard, OffboardReport, OpenEmergency,
    RevokeSessions, Revoked, RoleInfo, RoleList, ServiceTokenList, SessionList, TestClock,
    UpdateRole, User, UserList, WhoAmI,
};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::params::{IdPath, RolePath, UserPath};
use crate::service::Vault;

/// The identity routes open to a caller without a credential.
pub fn open_routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(mfa_recovery))
}

/// The identity routes that need a credential.
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(whoami))
        .routes(routes!(change_password))
        .routes(routes!(list_users, create_user))
        .routes(routes!(delete_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(offboard))
        .routes(routes!(list_roles, create_role))
        .routes(routes!(delete_role, update_role))
        .routes(routes!(list_bindings, create_binding))
        .routes(routes!(delete_binding))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_sessions))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_emergency, open_emergency))
        .routes(routes!(end_emergency))
        .routes(routes!(advance_test_clock))
}

/// `?user=NAME&all=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WhoQuery {
    /// A user.
    #[param(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub user: Option<String>,
    /// Everyone.
    #[serde(default)]
    pub all: bool,
}

/// `?user=NAME`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only this user's.
    #[param(pattern = "^[a-z0-9][a-z0-9._-]*$", min_length = 1, max_length = 64)]
    pub user: Option<String>,
}

/// `?all=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AllQuery {
    /// Everyone's (needs `sessions.manage`), not only the caller's.
    #[serde(default)]
    pub all: bool,
}

/// `POST /v1/auth/login`.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A session; or, for an account with a passkey, `mfa_required` and a challenge for it (no session yet)", body = LoginAnswer)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn login(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginAnswer>, ApiError> {
    v.login(&ctx, req).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/mfa/recovery`.
#[utoipa::path(
    post,
    path = "/v1/auth/mfa/recovery",
    tag = "auth",
    request_body = MfaRecovery,
    responses(
        (status = 200, description = "A session (the recovery code is spent)", body = LoginResponse)
    ),
    extensions(("x-vault-action" = json!("open")))
)]
pub async fn mfa_recovery(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<MfaRecovery>,
) -> Result<Json<LoginResponse>, ApiError> {
    v.mfa_recovery(&ctx, req).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/logout`.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session is ended")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn logout(State(v): State<Vault>, Caller(ctx): Caller) -> Result<StatusCode, ApiError> {
    v.logout(&ctx)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/auth/whoami`.
#[utoipa::path(
    get,
    path = "/v1/auth/whoami",
    tag = "auth",
    responses(
        (status = 200, description = "The caller and its grants", body = WhoAmI)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn whoami(State(v): State<Vault>, Caller(ctx): Caller) -> Result<Json<WhoAmI>, ApiError> {
    v.whoami(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/password`.
#[utoipa::path(
    post,
    path = "/v1/auth/password",
    tag = "auth",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed; other sessions are ended")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn change_password(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    v.change_password(&ctx, req)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/users`.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    responses(
        (status = 200, description = "Users", body = UserList)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn list_users(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<UserList>, ApiError> {
    v.list_users(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/users`.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = User)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn create_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    v.create_user(&ctx, req)
        .await
        .map(|u| (StatusCode::CREATED, Json(u)))
        .api(&ctx)
}

/// `DELETE /v1/users/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/users/{name}",
    tag = "users",
    params(UserPath),
    responses(
        (status = 204, description = "Deleted")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn delete_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
) -> Result<StatusCode, ApiError> {
    v.delete_user(&ctx, &name)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/users/{name}/disable`.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/disable",
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, description = "Disabled; sessions and tokens revoked", body = User)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn disable_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
) -> Result<Json<User>, ApiError> {
    v.set_user_enabled(&ctx, &name, false)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/users/{name}/enable`.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/enable",
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, description = "Enabled", body = User)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn enable_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
) -> Result<Json<User>, ApiError> {
    v.set_user_enabled(&ctx, &name, true)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/users/{name}/offboard`.
#[utoipa::path(
    post,
    path = "/v1/users/{name}/offboard",
    tag = "users",
    params(UserPath),
    request_body = Offboard,
    responses(
        (status = 200, description = "Offboarded: what they could read", body = OffboardReport)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn offboard(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(UserPath { name }): ApiPath<UserPath>,
    ApiJson(req): ApiJson<Offboard>,
) -> Result<Json<OffboardReport>, ApiError> {
    v.offboard(&ctx, &name, req).await.map(Json).api(&ctx)
}

/// `GET /v1/roles`.
#[utoipa::path(
    get,
    path = "/v1/roles",
    tag = "access",
    responses(
        (status = 200, description = "Built-in and custom roles", body = RoleList)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn list_roles(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<RoleList>, ApiError> {
    v.list_roles(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/roles`.
#[utoipa::path(
    post,
    path = "/v1/roles",
    tag = "access",
    request_body = CreateRole,
    responses(
        (status = 201, description = "Created", body = RoleInfo)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn create_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateRole>,
) -> Result<(StatusCode, Json<RoleInfo>), ApiError> {
    v.create_role(&ctx, req)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `PATCH /v1/roles/{name}`.
#[utoipa::path(
    patch,
    path = "/v1/roles/{name}",
    tag = "access",
    params(RolePath),
    request_body = UpdateRole,
    responses(
        (status = 200, description = "The role as it is now", body = RoleInfo)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn update_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(RolePath { name }): ApiPath<RolePath>,
    ApiJson(req): ApiJson<UpdateRole>,
) -> Result<Json<RoleInfo>, ApiError> {
    v.update_role(&ctx, &name, req).await.map(Json).api(&ctx)
}

/// `DELETE /v1/roles/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/roles/{name}",
    tag = "access",
    params(RolePath),
    responses(
        (status = 204, description = "Deleted")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn delete_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(RolePath { name }): ApiPath<RolePath>,
) -> Result<StatusCode, ApiError> {
    v.delete_role(&ctx, &name)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/bindings`.
#[utoipa::path(
    get,
    path = "/v1/bindings",
    tag = "access",
    params(UserQuery),
    responses(
        (status = 200, description = "Role bindings", body = BindingList)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn list_bindings(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<BindingList>, ApiError> {
    v.list_bindings(&ctx, q.user).await.map(Json).api(&ctx)
}

/// `POST /v1/bindings`.
#[utoipa::path(
    post,
    path = "/v1/bindings",
    tag = "access",
    request_body = CreateBinding,
    responses(
        (status = 201, description = "Granted", body = Binding)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn create_binding(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateBinding>,
) -> Result<(StatusCode, Json<Binding>), ApiError> {
    v.create_binding(&ctx, req)
        .await
        .map(|b| (StatusCode::CREATED, Json(b)))
        .api(&ctx)
}

/// `DELETE /v1/bindings/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/bindings/{id}",
    tag = "access",
    params(IdPath),
    responses(
        (status = 204, description = "Revoked")
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn delete_binding(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.delete_binding(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/sessions`.
#[utoipa::path(
    get,
    path = "/v1/sessions",
    tag = "sessions",
    params(WhoQuery),
    responses(
        (status = 200, description = "Sessions (own, or anyone's with sessions.manage)", body = SessionList)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn list_sessions(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<WhoQuery>,
) -> Result<Json<SessionList>, ApiError> {
    v.list_sessions(&ctx, q.user, q.all)
        .await
        .map(Json)
        .api(&ctx)
}

/// `DELETE /v1/sessions/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/sessions/{id}",
    tag = "sessions",
    params(IdPath),
    responses(
        (status = 204, description = "Revoked")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn revoke_session(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.revoke_session(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/sessions/revoke`.
#[utoipa::path(
    post,
    path = "/v1/sessions/revoke",
    tag = "sessions",
    request_body = RevokeSessions,
    responses(
        (status = 200, description = "How many were revoked", body = Revoked)
    ),
    extensions(("x-vault-action" = json!("sessions.manage")))
)]
pub async fn revoke_sessions(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<RevokeSessions>,
) -> Result<Json<Revoked>, ApiError> {
    v.revoke_sessions(&ctx, req).await.map(Json).api(&ctx)
}

/// `GET /v1/tokens`.
#[utoipa::path(
    get,
    path = "/v1/tokens",
    tag = "tokens",
    params(AllQuery),
    responses(
        (status = 200, description = "Service tokens (never the secrets)", body = ServiceTokenList)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn list_tokens(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AllQuery>,
) -> Result<Json<ServiceTokenList>, ApiError> {
    v.list_tokens(&ctx, q.all).await.map(Json).api(&ctx)
}

/// `POST /v1/tokens`.
#[utoipa::path(
    post,
    path = "/v1/tokens",
    tag = "tokens",
    request_body = CreateServiceToken,
    responses(
        (status = 201, description = "Created; the token is shown only here", body = CreatedServiceToken)
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn create_token(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateServiceToken>,
) -> Result<(StatusCode, Json<CreatedServiceToken>), ApiError> {
    v.create_token(&ctx, req)
        .await
        .map(|t| (StatusCode::CREATED, Json(t)))
        .api(&ctx)
}

/// `DELETE /v1/tokens/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/tokens/{id}",
    tag = "tokens",
    params(IdPath),
    responses(
        (status = 204, description = "Revoked")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn revoke_token(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.revoke_token(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/emergency`.
#[utoipa::path(
    get,
    path = "/v1/emergency",
    tag = "emergency",
    responses(
        (status = 200, description = "Emergency grants", body = EmergencyList)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn list_emergency(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<EmergencyList>, ApiError> {
    v.list_emergency(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/emergency`.
#[utoipa::path(
    post,
    path = "/v1/emergency",
    tag = "emergency",
    request_body = OpenEmergency,
    responses(
        (status = 201, description = "Opened, time-boxed, audited", body = EmergencyGrant)
    ),
    extensions(("x-vault-action" = json!("emergency.open")))
)]
pub async fn open_emergency(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<OpenEmergency>,
) -> Result<(StatusCode, Json<EmergencyGrant>), ApiError> {
    v.open_emergency(&ctx, req)
        .await
        .map(|g| (StatusCode::CREATED, Json(g)))
        .api(&ctx)
}

/// `DELETE /v1/emergency/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/emergency/{id}",
    tag = "emergency",
    params(IdPath),
    responses(
        (status = 204, description = "Ended")
    ),
    extensions(("x-vault-action" = json!("self")))
)]
pub async fn end_emergency(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    v.end_emergency(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/sys/danger-test-clock`.
#[utoipa::path(
    post,
    path = "/v1/sys/danger-test-clock",
    tag = "sys",
    request_body = AdvanceTestClock,
    responses(
        (status = 200, description = "The dev-mode clock moved on", body = TestClock)
    ),
    extensions(("x-vault-action" = json!("sys.danger_test_clock")))
)]
pub async fn advance_test_clock(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<AdvanceTestClock>,
) -> Result<Json<TestClock>, ApiError> {
    v.advance_test_clock(&ctx, req.advance_secs)
        .await
        .map(Json)
        .api(&ctx)
}
