//! The HTTP edge (axum): routes, extractors, the error mapping, the frame
//! middleware, the OpenAPI document and the listener (TLS, limits,
//! graceful shutdown). Handlers parse names once and call the service.

pub mod alerts;
pub mod audit;
pub mod browser;
pub mod canonical;
pub mod compliance;
pub mod conn;
pub mod error;
pub mod extract;
pub mod identity;
pub mod keys;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod passkeys;
pub mod reviews;
pub mod route_access;
pub mod secrets;
pub mod serve;
pub mod sso;
pub mod sys;
pub mod ui;
pub mod workload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::error::ApiError;
use self::middleware::{Frame, FrameConfig};
use crate::service::{Ctx, Error, Vault};

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

/// Every route, each described by its handler's `#[utoipa::path]`: the
/// served router and the OpenAPI document are two views of this one value,
/// so a route cannot be served undocumented or documented unserved.
pub fn routes() -> OpenApiRouter<Vault> {
    // Routes a caller without a credential may reach: open ones, and the
    // metrics (whose handler decides, as `telemetry.unauthenticated_metrics`
    // says).
    let without_credential = OpenApiRouter::new()
        .routes(routes!(sys::health))
        .routes(routes!(sys::init))
        .routes(routes!(sys::seal_status))
        .routes(routes!(sys::unseal))
        .routes(routes!(sys::generate_root))
        .routes(routes!(sys::metrics))
        .routes(routes!(openapi::serve))
        .merge(identity::open_routes())
        .merge(sso::open_routes())
        .merge(workload::open_routes())
        .merge(passkeys::open_routes());
    let with_credential = OpenApiRouter::new()
        .routes(routes!(sys::seal))
        .routes(routes!(sys::rotate_root))
        .routes(routes!(secrets::list_projects, secrets::create_project))
        .routes(routes!(secrets::delete_project))
        .routes(routes!(
            secrets::list_environments,
            secrets::create_environment
        ))
        .routes(routes!(secrets::list_secrets))
        .routes(routes!(secrets::bundle))
        .routes(routes!(secrets::read, secrets::write, secrets::trash))
        .routes(routes!(secrets::history))
        .routes(routes!(secrets::rollback))
        .routes(routes!(secrets::trash_list))
        .routes(routes!(secrets::restore))
        .routes(routes!(secrets::destroy))
        .routes(routes!(keys::status))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::retire))
        .routes(routes!(keys::destroy))
        .routes(routes!(keys::start_rewrap))
        .routes(routes!(keys::rewrap_status))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::head))
        .routes(routes!(audit::public_key))
        .merge(identity::routes())
        .merge(sso::routes())
        .merge(workload::routes())
        .merge(passkeys::routes())
        .merge(reviews::routes())
        .merge(alerts::routes())
        .merge(compliance::routes())
        .route_layer(axum::middleware::from_fn(extract::require_credential));
    without_credential.merge(with_credential)
}

/// The application router with every route, limit and the frame middleware.
pub fn router(vault: Vault, max_body_bytes: usize, frame: FrameConfig) -> Router {
    let (api, _) = routes().split_for_parts();
    let api = api
        .route_layer(axum::middleware::from_fn(browser::csrf_guard))
        .merge(ui::router())
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
