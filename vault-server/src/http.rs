//! The HTTP edge (axum): routes, extractors, the error mapping, the frame
//! middleware, the OpenAPI document and the listener (TLS, limits,
//! graceful shutdown). Handlers parse names once and call the service.

pub mod audit;
pub mod canonical;
pub mod conn;
pub mod error;
pub mod extract;
pub mod identity;
pub mod keys;
pub mod middleware;
pub mod openapi;
pub mod route_access;
pub mod secrets;
pub mod serve;
pub mod sys;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use self::error::ApiError;
use self::middleware::{Frame, FrameConfig};
use crate::service::{Ctx, Error, Vault};

/// Every route: (method, path), with [`identity::ROUTES`]. The OpenAPI
/// document and the route test are built from these tables, so a route
/// cannot be served undocumented.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/sys/health"),
    ("POST", "/v1/sys/init"),
    ("GET", "/v1/sys/seal-status"),
    ("POST", "/v1/sys/unseal"),
    ("POST", "/v1/sys/seal"),
    ("POST", "/v1/sys/generate-root"),
    ("POST", "/v1/sys/rotate-root"),
    ("GET", "/v1/sys/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/projects"),
    ("POST", "/v1/projects"),
    ("DELETE", "/v1/projects/{p}"),
    ("GET", "/v1/projects/{p}/environments"),
    ("POST", "/v1/projects/{p}/environments"),
    ("GET", "/v1/projects/{p}/environments/{e}/secrets"),
    ("GET", "/v1/projects/{p}/environments/{e}/bundle"),
    ("GET", "/v1/projects/{p}/environments/{e}/secrets/{name}"),
    ("PUT", "/v1/projects/{p}/environments/{e}/secrets/{name}"),
    ("DELETE", "/v1/projects/{p}/environments/{e}/secrets/{name}"),
    (
        "GET",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/history",
    ),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/secrets/{name}/rollback",
    ),
    ("GET", "/v1/projects/{p}/environments/{e}/trash"),
    (
        "POST",
        "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
    ),
    ("DELETE", "/v1/projects/{p}/environments/{e}/trash/{name}"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/projects/{p}/keys/rotate"),
    ("POST", "/v1/projects/{p}/keys/{version}/retire"),
    ("POST", "/v1/projects/{p}/keys/{version}/destroy"),
    ("POST", "/v1/keys/rewrap"),
    ("GET", "/v1/keys/rewrap/{id}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/audit/export"),
    ("GET", "/v1/audit/verify"),
    ("GET", "/v1/audit/head"),
    ("GET", "/v1/audit/public-key"),
];

/// Converts service results for handlers.
pub trait ApiResult<T> {
    /// Attaches the request id to an error.
    fn api(self, ctx: &Ctx) -> Result<T, ApiError>;
}

impl<T> ApiResult<T> for Result<T, Error> {
    fn api(self, ctx: &Ctx) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::new(e, &ctx.request_id))
    }
}

/// The application router with every route, limit and the frame middleware.
pub fn router(vault: Vault, max_body_bytes: usize, frame: FrameConfig) -> Router {
    const SECRET: &str = "/v1/projects/{p}/environments/{e}/secrets/{name}";
    let api = Router::new()
        .route("/v1/sys/health", get(sys::health))
        .route("/v1/sys/init", post(sys::init))
        .route("/v1/sys/seal-status", get(sys::seal_status))
        .route("/v1/sys/unseal", post(sys::unseal))
        .route("/v1/sys/seal", post(sys::seal))
        .route("/v1/sys/generate-root", post(sys::generate_root))
        .route("/v1/sys/rotate-root", post(sys::rotate_root))
        .route("/v1/sys/metrics", get(sys::metrics))
        .route("/v1/openapi.json", get(openapi::serve))
        .route(
            "/v1/projects",
            get(secrets::list_projects).post(secrets::create_project),
        )
        .route(
            "/v1/projects/{p}",
            axum::routing::delete(secrets::delete_project),
        )
        .route(
            "/v1/projects/{p}/environments",
            get(secrets::list_environments).post(secrets::create_environment),
        )
        .route(
            "/v1/projects/{p}/environments/{e}/secrets",
            get(secrets::list_secrets),
        )
        .route(
            "/v1/projects/{p}/environments/{e}/bundle",
            get(secrets::bundle),
        )
        .route(
            SECRET,
            get(secrets::read)
                .put(secrets::write)
                .delete(secrets::trash),
        )
        .route(&format!("{SECRET}/history"), get(secrets::history))
        .route(&format!("{SECRET}/rollback"), post(secrets::rollback))
        .route(
            "/v1/projects/{p}/environments/{e}/trash",
            get(secrets::trash_list),
        )
        .route(
            "/v1/projects/{p}/environments/{e}/trash/{name}/restore",
            post(secrets::restore),
        )
        .route(
            "/v1/projects/{p}/environments/{e}/trash/{name}",
            axum::routing::delete(secrets::destroy),
        )
        .route("/v1/keys", get(keys::status))
        .route("/v1/projects/{p}/keys/rotate", post(keys::rotate))
        .route("/v1/projects/{p}/keys/{version}/retire", post(keys::retire))
        .route(
            "/v1/projects/{p}/keys/{version}/destroy",
            post(keys::destroy),
        )
        .route("/v1/keys/rewrap", post(keys::start_rewrap))
        .route("/v1/keys/rewrap/{id}", get(keys::rewrap_status))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/audit/head", get(audit::head))
        .route("/v1/audit/public-key", get(audit::public_key))
        .merge(identity::router())
        .fallback(sys::not_found)
        .method_not_allowed_fallback(sys::method_not_allowed);
    api.layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(canonical::reject_non_canonical))
        .layer(axum::middleware::from_fn_with_state(
            Frame {
                vault: vault.clone(),
                config: frame,
            },
            middleware::frame,
        ))
        .with_state(vault)
}
