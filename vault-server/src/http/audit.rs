//! Audit handlers: list, export, verify, public key.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vault_core::api::{AuditPage, AuditPublicKey, AuditVerifyReport};
use vault_core::clock::Timestamp;

use super::ApiResult;
use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::service::audit::ExportFormat;
use crate::service::{Ctx, Error, Vault};
use crate::store::AuditFilter;

/// Query of `/v1/audit` and `/v1/audit/export`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// From (RFC 3339 or date), inclusive.
    pub from: Option<String>,
    /// To (RFC 3339 or date), exclusive.
    pub to: Option<String>,
    /// Actor.
    pub actor: Option<String>,
    /// Action (`secret.*` for a prefix).
    pub action: Option<String>,
    /// Resource prefix.
    pub resource: Option<String>,
    /// After this seq.
    pub after: Option<u64>,
    /// Page size.
    pub limit: Option<u64>,
    /// Export format: `jsonl` (default) or `csv`.
    pub format: Option<String>,
}

fn time(ctx: &Ctx, s: Option<&str>, what: &str) -> Result<Option<Timestamp>, ApiError> {
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

fn filter(ctx: &Ctx, q: &AuditQuery) -> Result<AuditFilter, ApiError> {
    Ok(AuditFilter {
        from: time(ctx, q.from.as_deref(), "from")?,
        to: time(ctx, q.to.as_deref(), "to")?,
        actor: q.actor.clone(),
        action: q.action.clone(),
        resource: q.resource.clone(),
        after: q.after,
        limit: q.limit,
    })
}

/// `GET /v1/audit`.
pub async fn list(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let f = filter(&ctx, &q)?;
    v.audit_page(&ctx, f).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/export?format=jsonl|csv`.
pub async fn export(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None | Some("jsonl") => ExportFormat::Jsonl,
        Some("csv") => ExportFormat::Csv,
        Some(_) => {
            return Err(ApiError::new(
                Error::bad("request.invalid_format", "format must be jsonl or csv"),
                &ctx.request_id,
            ));
        }
    };
    let f = filter(&ctx, &q)?;
    let body = v.audit_export(&ctx, f, format).await.api(&ctx)?;
    let ctype = match format {
        ExportFormat::Jsonl => "application/x-ndjson",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

/// `GET /v1/audit/verify`.
pub async fn verify(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<AuditVerifyReport>, ApiError> {
    v.audit_verify(&ctx).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/public-key`.
pub async fn public_key(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<AuditPublicKey>, ApiError> {
    v.audit_public_key(&ctx).await.map(Json).api(&ctx)
}
