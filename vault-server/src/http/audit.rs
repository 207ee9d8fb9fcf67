//! Audit handlers: list, export, verify, public key.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use vault_core::api::{AuditPage, AuditPublicKey, AuditVerifyReport};
use vault_core::audit::{ChainHash, ChainHead, Checkpoint};
use vault_core::clock::Timestamp;

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::service::audit::ExportFormat;
use crate::service::{Ctx, Error, Vault};
use crate::store::AuditFilter;

/// Query of `/v1/audit` and `/v1/audit/export`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// From this time, inclusive: RFC 3339 (or a date, `YYYY-MM-DD`).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before this time: RFC 3339 (or a date, `YYYY-MM-DD`).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Actor.
    pub actor: Option<String>,
    /// Action (`secret.*` for a prefix).
    pub action: Option<String>,
    /// Resource prefix.
    pub resource: Option<String>,
    /// Only records after this seq.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Only records before this seq.
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// `oldest` first (default) or `newest` first (list only).
    pub order: Option<Order>,
    /// Page size (list only): 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Export format (export only): `jsonl` (default) or `csv`.
    pub format: Option<Format>,
}

/// Order of `GET /v1/audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Oldest (smallest seq) first.
    Oldest,
    /// Newest (largest seq) first: the tail of the trail.
    Newest,
}

/// Format of `GET /v1/audit/export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

/// An optional time bound of a query: RFC 3339 or `YYYY-MM-DD`.
pub(super) fn time(ctx: &Ctx, s: Option<&str>, what: &str) -> Result<Option<Timestamp>, ApiError> {
    s.map(|s| {
        Timestamp::parse_rfc3339(s).ok_or_else(|| {
            Error::bad(
                "request.invalid_time",
                format!("`{what}` must be RFC 3339 or YYYY-MM-DD"),
            )
        })
    })
    .transpose()
    .api(ctx)
}

/// A sequence number bound: 0 or more.
fn seq(ctx: &Ctx, v: Option<i64>, what: &str) -> Result<Option<u64>, ApiError> {
    v.map(|v| {
        u64::try_from(v).map_err(|_| {
            Error::bad(
                "request.invalid_query",
                format!("`{what}` must be 0 or more"),
            )
        })
    })
    .transpose()
    .api(ctx)
}

fn filter(ctx: &Ctx, q: &AuditQuery) -> Result<AuditFilter, ApiError> {
    if q.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        return Err(ApiError::new(
            Error::bad("request.invalid_query", "`limit` must be 1 to 1000"),
            &ctx.request_id,
        ));
    }
    Ok(AuditFilter {
        from: time(ctx, q.from.as_deref(), "from")?,
        to: time(ctx, q.to.as_deref(), "to")?,
        actor: q.actor.clone(),
        action: q.action.clone(),
        resource: q.resource.clone(),
        after: seq(ctx, q.after, "after")?,
        before: seq(ctx, q.before, "before")?,
        newest_first: q.order == Some(Order::Newest),
        limit: q.limit,
    })
}

/// `GET /v1/audit`.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of records", body = AuditPage)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let f = filter(&ctx, &q)?;
    v.audit_page(&ctx, f).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/export?format=jsonl|csv`.
#[utoipa::path(
    get,
    path = "/v1/audit/export",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "The records, one JSON object per line (jsonl) or CSV with a header", content(
            (String = "application/x-ndjson"),
            (String = "text/csv")
        ))
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn export(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format {
        None | Some(Format::Jsonl) => ExportFormat::Jsonl,
        Some(Format::Csv) => ExportFormat::Csv,
    };
    let f = filter(&ctx, &q)?;
    let body = v.audit_export(&ctx, f, format).await.api(&ctx)?;
    let ctype = match format {
        ExportFormat::Jsonl => "application/x-ndjson",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

/// Query of `/v1/audit/verify`: an optional head saved earlier (by an
/// auditor or a cron job from `GET /v1/audit/head`) that the chain must
/// still contain.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Seq of the saved head (give with `against_hash`).
    pub against_seq: Option<u64>,
    /// Hash of record `against_seq` (64 lowercase hex digits).
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub against_hash: Option<String>,
}

/// `GET /v1/audit/verify[?against_seq=N&against_hash=H]`.
#[utoipa::path(
    get,
    path = "/v1/audit/verify",
    tag = "audit",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The verification report", body = AuditVerifyReport)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn verify(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Json<AuditVerifyReport>, ApiError> {
    let against = match (q.against_seq, q.against_hash.as_deref()) {
        (None, None) => None,
        (Some(seq), Some(h)) => Some(ChainHead::new(
            seq,
            ChainHash::from_hex(h)
                .map_err(|_| {
                    Error::bad(
                        "request.invalid_hash",
                        "`against_hash` must be 64 lowercase hex digits",
                    )
                })
                .api(&ctx)?,
        )),
        _ => {
            return Err(ApiError::new(
                Error::bad(
                    "request.invalid_query",
                    "give both `against_seq` and `against_hash`, or neither",
                ),
                &ctx.request_id,
            ));
        }
    };
    v.audit_verify(&ctx, against).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/head`: the signed head of the chain, to save and check
/// later with `against_seq`/`against_hash`.
#[utoipa::path(
    get,
    path = "/v1/audit/head",
    tag = "audit",
    responses(
        (status = 200, description = "The signed head of the chain", body = Checkpoint)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn head(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<Checkpoint>, ApiError> {
    v.audit_signed_head(&ctx).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/public-key`.
#[utoipa::path(
    get,
    path = "/v1/audit/public-key",
    tag = "audit",
    responses(
        (status = 200, description = "The checkpoint verification key", body = AuditPublicKey)
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn public_key(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<AuditPublicKey>, ApiError> {
    v.audit_public_key(&ctx).await.map(Json).api(&ctx)
}
