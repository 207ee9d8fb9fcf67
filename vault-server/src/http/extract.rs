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

/// `server.public_url`'s origin, if set (never fails).
pub struct PublicOrigin(pub Option<std::sync::Arc<str>>);

impl<S: Send + Sync> FromRequestParts<S> for PublicOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PublicOrigin(meta(parts).public_origin))
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

/// The presented credential: `Authorization: Bearer`, else `X-Vault-Token`;
/// only when the request has neither header, the browser's session cookie
/// (a cookie request, whose state-changing requests the CSRF guard checks:
/// [`super::browser::is_cookie_request`]). A header that is there but not
/// a usable token (`Authorization: Basic ...`) is no credential: it never
/// lets the cookie through unchecked.
pub fn credential_of(headers: &axum::http::HeaderMap) -> Option<SecretText> {
    if super::browser::is_cookie_request(headers) {
        return super::browser::session_from_cookie(headers);
    }
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

/// Route layer of every route that needs a credential: with none
/// presented, the answer is 401 `auth.required` before any input is read,
/// so a caller without a credential learns nothing of what the route would
/// accept. The frame middleware records the refusal under the route's
/// declared action and the resource its path names ([`AuditAs`]), as the
/// service would have.
pub async fn require_credential(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if credential_of(req.headers()).is_some() {
        return next.run(req).await;
    }
    let (mut parts, _) = req.into_parts();
    let matched = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let params = axum::extract::RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok();
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let m = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_else(RequestMeta::unknown);
    let mut resp = ApiError::new(Error::credential_required(), &m.request_id).into_response();
    if let Some(matched) = matched {
        let action = super::route_access::action_of(req.method().as_str(), matched.as_str());
        let resource = match params.as_ref() {
            Some(p) if p.iter().next().is_some() => {
                p.iter().map(|(_, v)| v).collect::<Vec<_>>().join("/")
            }
            _ => matched.as_str().trim_start_matches("/v1/").to_owned(),
        };
        if let Some(action) = action {
            resp.extensions_mut().insert(AuditAs { action, resource });
        }
    }
    resp
}

/// How the frame middleware records a request refused before its handler
/// ran: the declared action and the resource, instead of method and path.
#[derive(Debug, Clone)]
pub struct AuditAs {
    /// The route's declared action, e.g. `secret.write`.
    pub action: &'static str,
    /// What the path names, e.g. `payments/prod/DB_URL`.
    pub resource: String,
}

/// JSON body: a JSON object (an array or scalar is refused, even where
/// serde would read a struct from a sequence). Malformed JSON answers 400
/// `request.invalid_json`, a missing content type 400
/// `request.content_type`, too large 413.
///
/// JSON has one number type (RFC 8259 section 6), and JSON Schema counts
/// `2.0` as an integer, so an integral number written with a fraction is
/// read as that integer. The body passes through a `serde_json::Value` to
/// do so; the target is read from it by reference and then every string in
/// it is wiped, whether reading succeeded or not, so a secret sent in a
/// body that is refused (an unknown field, a wrong type) is not left in
/// freed memory; `SecretText` wipes its own copy.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let m = meta(&parts);
        let req = Request::from_parts(parts, body);
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rej) => {
                use axum::extract::rejection::JsonRejection as J;
                // Never echo serde's text: it can quote the offending value,
                // and that value may be a secret sent with the wrong type.
                let err = match rej {
                    J::MissingJsonContentType(_) => Error::bad(
                        "request.content_type",
                        "send Content-Type: application/json",
                    ),
                    J::JsonSyntaxError(_) | J::JsonDataError(_) => {
                        Error::bad("request.invalid_json", "the body is not valid JSON")
                    }
                    r if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Error::new(
                        Kind::TooLarge,
                        "request.too_large",
                        "the request body is too large",
                    ),
                    _ => Error::bad("request.invalid_body", "the request body could not be read"),
                };
                return Err(ApiError::new(err, &m.request_id));
            }
        };
        from_json_object(value)
            .map(ApiJson)
            .map_err(|e| ApiError::new(e, &m.request_id))
    }
}

/// Reads `T` from a JSON object body (see [`ApiJson`]).
pub fn from_json_object<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, Error> {
    if !value.is_object() {
        return Err(Error::bad(
            "request.invalid_json",
            "the body must be a JSON object (see /v1/openapi.json)",
        ));
    }
    integral_numbers(&mut value);
    let read = T::deserialize(&value);
    wipe_strings(&mut value);
    read.map_err(|e| {
        Error::bad(
            "request.invalid_json",
            field_problem(&e.to_string()).unwrap_or_else(|| {
                "the body does not match this route's fields (see /v1/openapi.json)".to_owned()
            }),
        )
    })
}

/// Zeroes every string (keys too) of a parsed body.
fn wipe_strings(v: &mut serde_json::Value) {
    use serde_json::Value;
    use zeroize::Zeroize;
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        Value::Object(map) => {
            for (mut k, mut item) in std::mem::take(map) {
                wipe_strings(&mut item);
                k.zeroize();
            }
        }
        _ => {}
    }
}

/// Rewrites every float with no fractional part (and in range) as the
/// integer it equals.
fn integral_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
            {
                // Only where a float is exact: beyond 2^53 a float stands
                // for many integers (RFC 7493 section 2.2), and a number
                // such as -9223372036854775809 must not round into range.
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if (-EXACT..=EXACT).contains(&f) {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
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
    use super::{field_problem, from_json_object};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        version: u64,
        #[serde(default)]
        cas: Option<i64>,
    }

    #[test]
    fn bodies_are_objects_and_integral_floats_are_integers() {
        let ok = |j: &str| from_json_object::<Body>(serde_json::from_str(j).unwrap());
        assert_eq!(
            ok(r#"{"version": 3.0, "cas": -2.0}"#).unwrap(),
            Body {
                version: 3,
                cas: Some(-2)
            }
        );
        assert!(ok(r#"{"version": 3.5}"#).is_err());
        assert!(ok(r#"{"version": 1e300}"#).is_err());
        // Out of range as written, in range only after rounding: refused.
        let below = from_json_object::<serde_json::Map<String, serde_json::Value>>(
            serde_json::from_str(r#"{"t": -9223372036854775809}"#).unwrap(),
        )
        .unwrap();
        assert!(below["t"].is_f64());
        let arr = ok("[3, null]").unwrap_err();
        assert_eq!(arr.code, "request.invalid_json");
        assert!(ok("null").is_err());
        assert!(
            ok(r#"{"version": 1, "CAS": 2}"#)
                .unwrap_err()
                .to_string()
                .contains("`CAS`")
        );
    }

    #[test]
    fn parsed_bodies_are_wiped() {
        // `String::zeroize` zeroes the bytes, then clears: what is left is
        // empty. Objects are emptied, their keys and strings zeroed first.
        let mut v = serde_json::json!(["s3cret", ["x"], { "k": "v" }]);
        super::wipe_strings(&mut v);
        assert_eq!(v, serde_json::json!(["", [""], {}]));
    }

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
