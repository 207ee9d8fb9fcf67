//! The HTTP edge of the compliance report: `GET /v1/compliance/report`.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiResult;
use super::audit::time;
use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use crate::service::compliance::Format;
use crate::service::{Error, Vault};

/// The report route (`audit.read`).
pub fn routes() -> OpenApiRouter<Vault> {
    OpenApiRouter::new().routes(routes!(report))
}

/// `?from=&to=&format=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Start (inclusive): RFC 3339 or `YYYY-MM-DD` (default: 90 days before `to`).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End (exclusive): RFC 3339 or `YYYY-MM-DD` (default: now).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// `html` (default), `json` or `md`.
    #[param(pattern = "^(html|json|md)$")]
    pub format: Option<String>,
}

/// `GET /v1/compliance/report`.
#[utoipa::path(
    get,
    path = "/v1/compliance/report",
    tag = "audit",
    params(ReportQuery),
    responses(
        (status = 200, description = "The signed report: one line per HIPAA Security Rule safeguard with its status, evidence and audit records", content(
            (String = "text/html"),
            (vault_core::compliance::SignedReportFile = "application/json"),
            (String = "text/markdown")
        ))
    ),
    extensions(("x-vault-action" = json!("audit.read")))
)]
pub async fn report(
    State(v): State<Vault>,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let from = time(&ctx, q.from.as_deref(), "from")?;
    let to = time(&ctx, q.to.as_deref(), "to")?;
    let format = match q.format.as_deref() {
        None => Format::Html,
        Some(f) => Format::parse(f)
            .ok_or_else(|| Error::bad("compliance.invalid_format", "format is html, json or md"))
            .api(&ctx)?,
    };
    let r = v
        .compliance_report(&ctx, from, to, format)
        .await
        .api(&ctx)?;
    let mut resp = r.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.format.content_type()),
    );
    if let Ok(d) = HeaderValue::from_str(&format!(
        "attachment; filename=\"hipaa-report.{}\"",
        r.format.name()
    )) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}
