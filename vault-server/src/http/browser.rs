//! The browser layer: the session cookie, and the checks that keep a
//! cookie-carrying request from being forged by another site (CSRF).
//!
//! A browser session is the same server-side session a password login
//! makes; the cookie only carries its token. Rules (OWASP ASVS V3.4, the
//! OWASP CSRF Prevention Cheat Sheet):
//!
//! - `__Host-vault_session`: `Secure; HttpOnly; SameSite=Lax; Path=/`, no
//!   `Domain` (the `__Host-` prefix makes browsers enforce the last three).
//!   Browsers treat `http://localhost` and `http://127.0.0.1` as secure
//!   contexts, so dev mode uses the same cookie.
//! - A request authenticated by the cookie that changes state must come
//!   from this origin: `Sec-Fetch-Site`, when sent, is `same-origin`;
//!   `Origin`, when sent, is this server's; and it carries the session's
//!   CSRF token (header `X-Vault-CSRF` for the API, form field `csrf` for
//!   pages). The token is HMAC-SHA256 of a fixed label under the session
//!   token, so it is bound to the session and useless without the cookie,
//!   which another site cannot read. Compared in constant time.
//! - Requests with `Authorization` or `X-Vault-Token` are not cookie
//!   requests and are unaffected.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use vault_core::secret::SecretText;

use super::error::ApiError;
use super::middleware::RequestMeta;
use crate::service::{Error, Kind};

/// The session cookie's name (RFC 6265bis `__Host-` prefix).
pub const SESSION_COOKIE: &str = "__Host-vault_session";

/// Header carrying the CSRF token on API requests made with the cookie.
pub const CSRF_HEADER: &str = "x-vault-csrf";

/// Whether the request is a cookie request: it carries neither
/// `Authorization` nor `X-Vault-Token`, so the session cookie (if any) is
/// its credential. The one rule the credential extractor, the audit
/// fallback, the CSRF guard and the pages share.
pub fn is_cookie_request(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-vault-token")
}

/// The value of the cookie `name` in the `Cookie` headers, if any.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// The session token from the `Cookie` header, if any.
pub fn session_from_cookie(headers: &HeaderMap) -> Option<SecretText> {
    cookie_value(headers, SESSION_COOKIE)
        .filter(|t| !t.is_empty())
        .map(SecretText::new)
}

/// `Set-Cookie` for a new session (a session cookie: the server-side
/// session ends it, by idle or absolute timeout).
pub fn set_session_cookie(token: &SecretText) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Secure; HttpOnly; SameSite=Lax; Path=/",
        token.expose_secret()
    ))
    .ok()
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-vault_session=; Secure; HttpOnly; SameSite=Lax; Path=/; Max-Age=0",
    )
}

/// The CSRF token of a session: base64url(HMAC-SHA256(session token,
/// "vault csrf v1")), 43 characters. `None` only if HMAC refused the key,
/// which it never does (any key length is valid).
pub fn csrf_token(session: &SecretText) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(session.expose_secret().as_bytes()).ok()?;
    mac.update(b"vault csrf v1");
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Whether `presented` is the CSRF token of `session` (constant time).
pub fn csrf_matches(session: &SecretText, presented: &str) -> bool {
    csrf_token(session).is_some_and(|expected| {
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    })
}

/// Whether a sign-in request that sets the session cookie may: a browser
/// says where it comes from (`Sec-Fetch-Site`, `Origin`), and another site
/// must not sign a visitor in (login CSRF); a client that is no browser
/// sends neither and is not a cookie's victim.
pub fn sign_in_allowed(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    public_origin: Option<&str>,
) -> bool {
    let from_browser =
        headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN);
    !from_browser || same_origin(headers, uri, public_origin)
}

/// Whether the request says it comes from this origin. Browsers send
/// `Sec-Fetch-Site` (which no script can set): it must be `same-origin`.
/// Our pages send `Referrer-Policy: no-referrer`, under which a browser's
/// form posts carry `Origin: null`, so with `Sec-Fetch-Site` present a
/// `null` origin is no evidence either way; a named `Origin` must still be
/// this server. Without `Sec-Fetch-Site` (older browsers), a named
/// `Origin` must be sent and be this server: a request with neither is
/// refused. This server is the request's authority (`Host`, or HTTP/2's
/// `:authority`, which arrives in the URI), or `server.public_url`
/// (`public_origin`) behind a proxy that rewrites `Host`.
pub fn same_origin(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    public_origin: Option<&str>,
) -> bool {
    let authority = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    });
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("?"));
    let origin_is_us = |o: &str| {
        let named = o.split_once("://").map(|(_, rest)| rest);
        let is_authority = matches!((named, authority.as_deref()), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        is_authority || public_origin.is_some_and(|p| p.eq_ignore_ascii_case(o))
    };
    match headers.get("sec-fetch-site") {
        Some(site) => {
            site.as_bytes() == b"same-origin"
                && origin.is_none_or(|o| o == "null" || origin_is_us(o))
        }
        None => origin.is_some_and(origin_is_us),
    }
}

/// A request that may change state.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_refused() -> Error {
    Error::new(
        Kind::Forbidden,
        "csrf.failed",
        "a request authenticated by the session cookie must come from this site's pages \
         and carry the session's CSRF token (X-Vault-CSRF)",
    )
}

/// Layer of the API routes: a state-changing request that carries only the
/// session cookie (no `Authorization` or `X-Vault-Token`) must pass the CSRF
/// checks, else 403 `csrf.failed` before the handler runs.
pub async fn csrf_guard(req: Request, next: Next) -> Response {
    let headers = req.headers();
    // Signing in does not act on the session a cookie may still name (an
    // expired one, on the sign-in page); the sign-in route checks the
    // origin itself (no login CSRF).
    let signing_in = req.uri().path().starts_with("/v1/auth/passkeys/login/");
    if !is_unsafe(req.method()) || !is_cookie_request(headers) || signing_in {
        return next.run(req).await;
    }
    let Some(session) = session_from_cookie(headers) else {
        return next.run(req).await;
    };
    let token_ok = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| csrf_matches(&session, t));
    let public = req
        .extensions()
        .get::<RequestMeta>()
        .and_then(|m| m.public_origin.clone());
    if same_origin(headers, req.uri(), public.as_deref()) && token_ok {
        return next.run(req).await;
    }
    let m = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_else(RequestMeta::unknown);
    ApiError::new(csrf_refused(), &m.request_id).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others_and_never_empty() {
        let h = headers(&[("cookie", "a=1; __Host-vault_session=abc.def ; b=2")]);
        assert_eq!(session_from_cookie(&h).unwrap().expose_secret(), "abc.def");
        assert!(session_from_cookie(&headers(&[("cookie", "__Host-vault_session=")])).is_none());
        assert!(session_from_cookie(&headers(&[("cookie", "vault_session=x")])).is_none());
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let a = SecretText::from("s1.secret");
        let b = SecretText::from("s2.secret");
        let t = csrf_token(&a).unwrap();
        assert_eq!(t.len(), 43);
        assert!(csrf_matches(&a, &t));
        assert!(!csrf_matches(&b, &t));
        assert!(!csrf_matches(&a, ""));
        assert!(!t.contains("secret"));
    }

    fn same(h: &HeaderMap) -> bool {
        same_origin(h, &axum::http::Uri::from_static("/ui/login"), None)
    }

    #[test]
    fn origin_checks() {
        let ok = headers(&[
            ("host", "localhost:8200"),
            ("origin", "http://localhost:8200"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(same(&ok));
        // Neither Sec-Fetch-Site nor Origin: no evidence, refused.
        assert!(!same(&headers(&[("host", "localhost:8200")])));
        let old_browser = headers(&[
            ("host", "localhost:8200"),
            ("origin", "http://localhost:8200"),
        ]);
        assert!(same(&old_browser));
        // HTTP/2: no Host header, the authority is in the URI.
        let h2 = headers(&[
            ("origin", "https://vault.example:8200"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(same_origin(
            &h2,
            &axum::http::Uri::from_static("https://vault.example:8200/ui/login"),
            None
        ));
        assert!(!same_origin(
            &h2,
            &axum::http::Uri::from_static("https://other.example/ui/login"),
            None
        ));
        // Behind a proxy that rewrites Host: server.public_url is us too.
        let proxied = headers(&[
            ("host", "10.0.0.5:8200"),
            ("origin", "https://vault.example.com"),
            ("sec-fetch-site", "same-origin"),
        ]);
        let uri = axum::http::Uri::from_static("/ui/login");
        assert!(!same_origin(&proxied, &uri, None));
        assert!(same_origin(
            &proxied,
            &uri,
            Some("https://vault.example.com")
        ));
        assert!(!same_origin(
            &proxied,
            &uri,
            Some("https://other.example.com")
        ));
        let other_port = headers(&[
            ("host", "localhost:8200"),
            ("origin", "http://localhost:9999"),
        ]);
        assert!(!same(&other_port));
        let same_site = headers(&[("host", "localhost:8200"), ("sec-fetch-site", "same-site")]);
        assert!(!same(&same_site));
        assert!(!same(&headers(&[("host", "a"), ("origin", "null")])));
        // A browser's form post under `Referrer-Policy: no-referrer`.
        let no_referrer = headers(&[
            ("host", "localhost:8200"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(same(&no_referrer));
        let cross = headers(&[
            ("host", "localhost:8200"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(!same(&cross));
    }
}
