//! Identity and access handlers: login, logout, whoami, passwords, users,
//! roles, bindings, sessions, service tokens, emergency access, and the
//! dev-mode test clock. Each handler only parses and calls the service,
//! which authenticates, decides and audits.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use vault_core::api::{
    AdvanceTestClock, Binding, BindingList, ChangePassword, CreateBinding, CreateRole,
    CreateServiceToken, CreateUser, CreatedServiceToken, EmergencyGrant, EmergencyList,
    LoginRequest, LoginResponse, Offboard, OffboardReport, OpenEmergency, RevokeSessions, Revoked,
    RoleInfo, RoleList, ServiceTokenList, SessionList, TestClock, User, UserList, WhoAmI,
};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::service::Vault;

/// The identity routes: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/auth/whoami"),
    ("POST", "/v1/auth/password"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("DELETE", "/v1/users/{name}"),
    ("POST", "/v1/users/{name}/disable"),
    ("POST", "/v1/users/{name}/enable"),
    ("POST", "/v1/users/{name}/offboard"),
    ("GET", "/v1/roles"),
    ("POST", "/v1/roles"),
    ("DELETE", "/v1/roles/{name}"),
    ("GET", "/v1/bindings"),
    ("POST", "/v1/bindings"),
    ("DELETE", "/v1/bindings/{id}"),
    ("GET", "/v1/sessions"),
    ("DELETE", "/v1/sessions/{id}"),
    ("POST", "/v1/sessions/revoke"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{id}"),
    ("GET", "/v1/emergency"),
    ("POST", "/v1/emergency"),
    ("DELETE", "/v1/emergency/{id}"),
    ("POST", "/v1/sys/danger-test-clock"),
];

/// OpenAPI operations of these routes (see [`super::openapi`]).
pub const OPS: &[super::openapi::Op] = &[
    (
        "POST",
        "/v1/auth/login",
        "Log in with a password (open)",
        Some("LoginRequest"),
        Some("LoginResponse"),
        200,
    ),
    (
        "POST",
        "/v1/auth/logout",
        "Revoke the calling session",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/auth/whoami",
        "The caller and its grants",
        None,
        Some("WhoAmI"),
        200,
    ),
    (
        "POST",
        "/v1/auth/password",
        "Change one's password (ends every session)",
        Some("ChangePassword"),
        None,
        204,
    ),
    (
        "GET",
        "/v1/users",
        "List users (users.manage)",
        None,
        Some("UserList"),
        200,
    ),
    (
        "POST",
        "/v1/users",
        "Create a user (users.manage)",
        Some("CreateUser"),
        Some("User"),
        201,
    ),
    (
        "DELETE",
        "/v1/users/{name}",
        "Delete a user (users.manage)",
        None,
        None,
        204,
    ),
    (
        "POST",
        "/v1/users/{name}/disable",
        "Disable a user; ends their sessions",
        None,
        Some("User"),
        200,
    ),
    (
        "POST",
        "/v1/users/{name}/enable",
        "Enable a user",
        None,
        Some("User"),
        200,
    ),
    (
        "POST",
        "/v1/users/{name}/offboard",
        "Disable, revoke everything, list secrets read",
        Some("Offboard"),
        Some("OffboardReport"),
        200,
    ),
    (
        "GET",
        "/v1/roles",
        "Built-in and custom roles",
        None,
        Some("RoleList"),
        200,
    ),
    (
        "POST",
        "/v1/roles",
        "Create a custom role (users.manage)",
        Some("CreateRole"),
        Some("RoleInfo"),
        201,
    ),
    (
        "DELETE",
        "/v1/roles/{name}",
        "Delete a custom role (users.manage)",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/bindings",
        "List role bindings (?user=NAME)",
        None,
        Some("BindingList"),
        200,
    ),
    (
        "POST",
        "/v1/bindings",
        "Grant a role on a scope (users.manage)",
        Some("CreateBinding"),
        Some("Binding"),
        201,
    ),
    (
        "DELETE",
        "/v1/bindings/{id}",
        "Remove a binding (users.manage)",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/sessions",
        "Own sessions; ?user=NAME or ?all=true with sessions.manage",
        None,
        Some("SessionList"),
        200,
    ),
    (
        "DELETE",
        "/v1/sessions/{id}",
        "Revoke a session (own, or sessions.manage)",
        None,
        None,
        204,
    ),
    (
        "POST",
        "/v1/sessions/revoke",
        "Revoke a user's or everyone's sessions (sessions.manage)",
        Some("RevokeSessions"),
        Some("Revoked"),
        200,
    ),
    (
        "GET",
        "/v1/tokens",
        "Own service tokens; ?all=true with sessions.manage",
        None,
        Some("ServiceTokenList"),
        200,
    ),
    (
        "POST",
        "/v1/tokens",
        "Create a scoped, expiring service token (shown once)",
        Some("CreateServiceToken"),
        Some("CreatedServiceToken"),
        201,
    ),
    (
        "DELETE",
        "/v1/tokens/{id}",
        "Revoke a service token (own, or sessions.manage) or a root token (root, or sessions.manage)",
        None,
        None,
        204,
    ),
    (
        "GET",
        "/v1/emergency",
        "Emergency grants (audit.read)",
        None,
        Some("EmergencyList"),
        200,
    ),
    (
        "POST",
        "/v1/emergency",
        "Open a time-boxed emergency grant (emergency.access)",
        Some("OpenEmergency"),
        Some("EmergencyGrant"),
        201,
    ),
    (
        "DELETE",
        "/v1/emergency/{id}",
        "End an emergency grant early (its holder, or users.manage)",
        None,
        None,
        204,
    ),
    (
        "POST",
        "/v1/sys/danger-test-clock",
        "DEV/TEST ONLY: advance the manual clock (sys.manage)",
        Some("AdvanceTestClock"),
        Some("TestClock"),
        200,
    ),
];

/// OpenAPI schemas of the identity wire types.
pub const SCHEMAS: &[(&str, &[(&str, &str)])] = &[
    (
        "LoginRequest",
        &[("username", "string"), ("password", "string")],
    ),
    (
        "LoginResponse",
        &[
            ("token", "string"),
            ("session_id", "string"),
            ("username", "string"),
            ("expires_at", "integer"),
            ("idle_timeout_secs", "integer"),
        ],
    ),
    ("GrantInfo", &[("role", "string"), ("scope", "string")]),
    (
        "WhoAmI",
        &[
            ("kind", "string"),
            ("name", "string"),
            ("id", "string"),
            ("session_id", "string"),
            ("grants", "[]GrantInfo"),
            ("emergency_until", "integer"),
        ],
    ),
    (
        "ChangePassword",
        &[("current_password", "string"), ("new_password", "string")],
    ),
    (
        "CreateUser",
        &[("username", "string"), ("password", "string")],
    ),
    (
        "User",
        &[
            ("id", "string"),
            ("username", "string"),
            ("disabled", "boolean"),
            ("created_at", "integer"),
        ],
    ),
    ("UserList", &[("users", "[]User")]),
    ("Offboard", &[("since", "integer"), ("until", "integer")]),
    (
        "ReadItem",
        &[
            ("resource", "string"),
            ("reads", "integer"),
            ("last_read_at", "integer"),
        ],
    ),
    (
        "OffboardReport",
        &[
            ("user", "User"),
            ("sessions_revoked", "integer"),
            ("tokens_revoked", "integer"),
            ("bindings_removed", "integer"),
            ("secrets_read", "[]ReadItem"),
        ],
    ),
    (
        "RoleInfo",
        &[
            ("name", "string"),
            ("permissions", "[]string"),
            ("builtin", "boolean"),
            ("session_absolute_secs", "integer"),
            ("session_idle_secs", "integer"),
        ],
    ),
    ("RoleList", &[("roles", "[]RoleInfo")]),
    (
        "CreateRole",
        &[
            ("name", "string"),
            ("permissions", "[]string"),
            ("session_absolute_secs", "integer"),
            ("session_idle_secs", "integer"),
        ],
    ),
    (
        "Binding",
        &[
            ("id", "string"),
            ("user", "string"),
            ("role", "string"),
            ("scope", "string"),
            ("created_at", "integer"),
        ],
    ),
    ("BindingList", &[("bindings", "[]Binding")]),
    (
        "CreateBinding",
        &[
            ("user", "string"),
            ("role", "string"),
            ("scope", "string"),
            ("allow_future", "boolean"),
        ],
    ),
    (
        "Session",
        &[
            ("id", "string"),
            ("user", "string"),
            ("created_at", "integer"),
            ("last_used_at", "integer"),
            ("expires_at", "integer"),
            ("source", "string"),
            ("current", "boolean"),
        ],
    ),
    ("SessionList", &[("sessions", "[]Session")]),
    ("RevokeSessions", &[("user", "string"), ("all", "boolean")]),
    ("Revoked", &[("revoked", "integer")]),
    (
        "CreateServiceToken",
        &[
            ("name", "string"),
            ("scopes", "[]string"),
            ("actions", "[]string"),
            ("ttl_secs", "integer"),
            ("networks", "[]string"),
        ],
    ),
    (
        "ServiceToken",
        &[
            ("id", "string"),
            ("name", "string"),
            ("created_by", "string"),
            ("scopes", "[]string"),
            ("actions", "[]string"),
            ("networks", "[]string"),
            ("created_at", "integer"),
            ("expires_at", "integer"),
            ("last_used_at", "integer"),
            ("revoked_at", "integer"),
        ],
    ),
    (
        "CreatedServiceToken",
        &[("token", "string"), ("service_token", "ServiceToken")],
    ),
    (
        "ServiceTokenList",
        &[("tokens", "[]ServiceToken"), ("root_tokens", "[]RootToken")],
    ),
    (
        "OpenEmergency",
        &[("reason", "string"), ("ttl_secs", "integer")],
    ),
    (
        "EmergencyGrant",
        &[
            ("id", "string"),
            ("user", "string"),
            ("reason", "string"),
            ("created_at", "integer"),
            ("expires_at", "integer"),
            ("active", "boolean"),
        ],
    ),
    ("EmergencyList", &[("grants", "[]EmergencyGrant")]),
    ("AdvanceTestClock", &[("advance_secs", "integer")]),
    ("TestClock", &[("now", "integer")]),
];

/// The identity routes.
pub fn router() -> Router<Vault> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/whoami", get(whoami))
        .route("/v1/auth/password", post(change_password))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{name}", delete(delete_user))
        .route("/v1/users/{name}/disable", post(disable_user))
        .route("/v1/users/{name}/enable", post(enable_user))
        .route("/v1/users/{name}/offboard", post(offboard))
        .route("/v1/roles", get(list_roles).post(create_role))
        .route("/v1/roles/{name}", delete(delete_role))
        .route("/v1/bindings", get(list_bindings).post(create_binding))
        .route("/v1/bindings/{id}", delete(delete_binding))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}", delete(revoke_session))
        .route("/v1/sessions/revoke", post(revoke_sessions))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(revoke_token))
        .route("/v1/emergency", get(list_emergency).post(open_emergency))
        .route("/v1/emergency/{id}", delete(end_emergency))
        .route("/v1/sys/danger-test-clock", post(advance_test_clock))
}

/// `?user=NAME&all=true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoQuery {
    /// A user.
    pub user: Option<String>,
    /// Everyone.
    #[serde(default)]
    pub all: bool,
}

/// `POST /v1/auth/login`.
pub async fn login(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    v.login(&ctx, req).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/logout`.
pub async fn logout(State(v): State<Vault>, Caller(ctx): Caller) -> Result<StatusCode, ApiError> {
    v.logout(&ctx)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/auth/whoami`.
pub async fn whoami(State(v): State<Vault>, Caller(ctx): Caller) -> Result<Json<WhoAmI>, ApiError> {
    v.whoami(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/auth/password`.
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
pub async fn list_users(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<UserList>, ApiError> {
    v.list_users(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/users`.
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
pub async fn delete_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.delete_user(&ctx, &name)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/users/{name}/disable`.
pub async fn disable_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<User>, ApiError> {
    v.set_user_enabled(&ctx, &name, false)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/users/{name}/enable`.
pub async fn enable_user(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<User>, ApiError> {
    v.set_user_enabled(&ctx, &name, true)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/users/{name}/offboard`.
pub async fn offboard(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<Offboard>,
) -> Result<Json<OffboardReport>, ApiError> {
    v.offboard(&ctx, &name, req).await.map(Json).api(&ctx)
}

/// `GET /v1/roles`.
pub async fn list_roles(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<RoleList>, ApiError> {
    v.list_roles(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/roles`.
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

/// `DELETE /v1/roles/{name}`.
pub async fn delete_role(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.delete_role(&ctx, &name)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/bindings`.
pub async fn list_bindings(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<WhoQuery>,
) -> Result<Json<BindingList>, ApiError> {
    v.list_bindings(&ctx, q.user).await.map(Json).api(&ctx)
}

/// `POST /v1/bindings`.
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
pub async fn delete_binding(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.delete_binding(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/sessions`.
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
pub async fn revoke_session(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.revoke_session(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/sessions/revoke`.
pub async fn revoke_sessions(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<RevokeSessions>,
) -> Result<Json<Revoked>, ApiError> {
    v.revoke_sessions(&ctx, req).await.map(Json).api(&ctx)
}

/// `GET /v1/tokens`.
pub async fn list_tokens(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<WhoQuery>,
) -> Result<Json<ServiceTokenList>, ApiError> {
    v.list_tokens(&ctx, q.all).await.map(Json).api(&ctx)
}

/// `POST /v1/tokens`.
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
pub async fn revoke_token(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.revoke_token(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `GET /v1/emergency`.
pub async fn list_emergency(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<EmergencyList>, ApiError> {
    v.list_emergency(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/emergency`.
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
pub async fn end_emergency(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    v.end_emergency(&ctx, &id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .api(&ctx)
}

/// `POST /v1/sys/danger-test-clock`.
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
