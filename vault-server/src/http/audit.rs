//! Audit handlers: list, export, verify, public key.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
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

/// Query of `/v1/audit/verify`: an optional head saved earlier (by an
/// auditor or a cron job from `GET /v1/audit/head`) that the chain must
/// still contain.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Seq of the saved head.
    pub against_seq: Option<u64>,
    /// Hash of record `against_seq` (64 hex digits).
    pub against_hash: Option<String>,
}

/// `GET /v1/audit/verify[?against_seq=N&against_hash=H]`.
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
pub async fn head(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<Checkpoint>, ApiError> {
    v.audit_signed_head(&ctx).await.map(Json).api(&ctx)
}

/// `GET /v1/audit/public-key`.
pub async fn public_key(
    State(v): State<Vault>,
    Caller(ctx): Caller,
) -> Result<Json<AuditPublicKey>, ApiError> {
    v.audit_public_key(&ctx).await.map(Json).api(&ctx)
}
