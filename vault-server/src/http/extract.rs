//! Extractors: the ONE authentication extractor ([`Caller`]) and JSON, path
//! and query extractors whose rejections use the API's error shape.
//!
//! [`Caller`] only collects the credential; the service layer verifies it
//! against the database and decides, so no handler can skip either step.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use vault_core::secret::SecretText;

use super::error::ApiError;
use super::middleware::RequestMeta;
use crate::service::{Ctx, Error, Kind};

fn meta(parts: &Parts) -> RequestMeta {
    parts
        .extensions
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_else(RequestMeta::unknown)
}

/// The caller of a request: request id, source address, and the presented
/// credential (`Authorization: Bearer`, or `X-Vault-Token` for Vault clients).
pub struct Caller(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let m = meta(parts);
        Ok(Caller(Ctx {
            request_id: m.request_id,
            source: m.source,
            credential: credential_of(&parts.headers),
            audited: m.audited,
        }))
    }
}

/// An unknown or missing field named in serde's message, said without
/// anything else of it (serde can quote a value; a field *name* that looks
/// like a plain identifier is safe to repeat, anything else is not).
fn field_problem(serde_text: &str) -> Option<String> {
    let named = |marker: &str| {
        let rest = &serde_text[serde_text.find(marker)? + marker.len()..];
        let name = &rest[..rest.find('`')?];
        (!name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
        .then(|| name.to_owned())
    };
    if let Some(f) = named("unknown field `") {
        return Some(format!(
            "the body has an unknown field `{f}` (misspelled?); see /v1/openapi.json"
        ));
    }
    named("missing field `").map(|f| format!("the body lacks the field `{f}`"))
}

/// The presented credential: `Authorization: Bearer`, else `X-Vault-Token`.
pub fn credential_of(headers: &axum::http::HeaderMap) -> Option<SecretText> {
    credential_from(
        headers.get(axum::http::header::AUTHORIZATION),
        headers.get("x-vault-token"),
    )
}

/// [`credential_of`] from the two header values (kept cheaply, unparsed, by
/// a caller that may need the credential later).
pub fn credential_from(
    authorization: Option<&axum::http::HeaderValue>,
    vault_token: Option<&axum::http::HeaderValue>,
) -> Option<SecretText> {
    let bearer = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| SecretText::from(t.trim()));
    bearer.or_else(|| {
        vault_token
            .and_then(|v| v.to_str().ok())
            .map(|t| SecretText::from(t.trim()))
    })
}

/// JSON body; malformed JSON answers 400 `request.invalid_json`, too large 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let m = meta(&parts);
        let req = Request::from_parts(parts, body);
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => {
                use axum::extract::rejection::JsonRejection as J;
                // Never echo serde's text: it can quote the offending value,
                // and that value may be a secret sent with the wrong type.
                let err = match rej {
                    J::MissingJsonContentType(_) => Error::bad(
                        "request.content_type",
                        "send Content-Type: application/json",
                    ),
                    J::JsonSyntaxError(_) => {
                        Error::bad("request.invalid_json", "the body is not valid JSON")
                    }
                    J::JsonDataError(e) => Error::bad(
                        "request.invalid_json",
                        field_problem(&e.body_text()).unwrap_or_else(|| {
                            "the body does not match this route's fields (see /v1/openapi.json)"
                                .to_owned()
                        }),
                    ),
                    r if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Error::new(
                        Kind::TooLarge,
                        "request.too_large",
                        "the request body is too large",
                    ),
                    _ => Error::bad("request.invalid_body", "the request body could not be read"),
                };
                Err(ApiError::new(err, &m.request_id))
            }
        }
    }
}

/// Path parameters; a malformed one answers 400 `request.invalid_path`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let m = meta(parts);
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r| {
                ApiError::new(
                    Error::bad("request.invalid_path", r.body_text()),
                    &m.request_id,
                )
            })
    }
}

/// Query parameters; malformed ones answer 400 `request.invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let m = meta(parts);
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r| {
                ApiError::new(
                    Error::bad("request.invalid_query", r.body_text()),
                    &m.request_id,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::field_problem;

    #[test]
    fn field_problems_name_fields_never_values() {
        let unknown = field_problem(
            "Failed to deserialize: unknown field `CAS`, expected `value` or `cas` at line 1 column 24",
        );
        assert_eq!(
            unknown.as_deref(),
            Some("the body has an unknown field `CAS` (misspelled?); see /v1/openapi.json")
        );
        assert!(
            field_problem("missing field `value` at line 1")
                .unwrap()
                .contains("`value`")
        );
        // Anything that is not a plain name is not repeated.
        assert_eq!(field_problem("unknown field `ghp_x y`, expected"), None);
        assert_eq!(
            field_problem("invalid type: string \"s3cret\", expected u64"),
            None
        );
    }
}
