//! The HTTP edge of access reviews: start, list, show, decide, close. Each
//! handler parses and calls the service, which decides and audits.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vault_core::api::{
    AccessReview, CloseReview, DecideReviewItem, ReviewItem, ReviewList, StartReview,
};

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Caller};
use super::params::{IdPath, ReviewItemPath};
use crate::service::Vault;

/// The review routes (a credential with `users.manage`).
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(show))
        .routes(routes!(decide))
        .routes(routes!(close))
}

/// `GET /v1/access/reviews`.
#[utoipa::path(
    get,
    path = "/v1/access/reviews",
    tag = "access",
    responses(
        (status = 200, description = "Every review, newest first, and whether one is due", body = ReviewList)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<ReviewList>, ApiError> {
    v.reviews(&ctx).await.map(Json).api(&ctx)
}

/// `POST /v1/access/reviews`.
#[utoipa::path(
    post,
    path = "/v1/access/reviews",
    tag = "access",
    request_body = StartReview,
    responses(
        (status = 201, description = "The review, with every binding in its scope and its last use", body = AccessReview)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn start(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<StartReview>,
) -> Result<(StatusCode, Json<AccessReview>), ApiError> {
    v.start_review(&ctx, req)
        .await
        .map(|r| (StatusCode::CREATED, Json(r)))
        .api(&ctx)
}

/// `GET /v1/access/reviews/{id}`.
#[utoipa::path(
    get,
    path = "/v1/access/reviews/{id}",
    tag = "access",
    params(IdPath),
    responses(
        (status = 200, description = "The review and its bindings", body = AccessReview)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn show(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<AccessReview>, ApiError> {
    v.review(&ctx, &id).await.map(Json).api(&ctx)
}

/// `POST /v1/access/reviews/{id}/bindings/{binding}`.
#[utoipa::path(
    post,
    path = "/v1/access/reviews/{id}/bindings/{binding}",
    tag = "access",
    params(ReviewItemPath),
    request_body = DecideReviewItem,
    responses(
        (status = 200, description = "Decided (revoke: the binding is gone and its holder's sessions ended)", body = ReviewItem)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn decide(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(ReviewItemPath { id, binding }): ApiPath<ReviewItemPath>,
    ApiJson(req): ApiJson<DecideReviewItem>,
) -> Result<Json<ReviewItem>, ApiError> {
    v.decide_review_item(&ctx, &id, &binding, req)
        .await
        .map(Json)
        .api(&ctx)
}

/// `POST /v1/access/reviews/{id}/close`.
#[utoipa::path(
    post,
    path = "/v1/access/reviews/{id}/close",
    tag = "access",
    params(IdPath),
    request_body = CloseReview,
    responses(
        (status = 200, description = "Closed: who attested to what", body = AccessReview)
    ),
    extensions(("x-vault-action" = json!("users.manage")))
)]
pub async fn close(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(req): ApiJson<CloseReview>,
) -> Result<Json<AccessReview>, ApiError> {
    v.close_review(&ctx, &id, req).await.map(Json).api(&ctx)
}
