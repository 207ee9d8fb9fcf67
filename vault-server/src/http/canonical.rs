//! Refuses request paths that are not in canonical form before routing, so
//! no access decision ever sees one: relative segments (`.`, `..`, also
//! percent-encoded), empty segments (`//`; outside `/v1/` one trailing `/`
//! is allowed, as in `/ui/`), encoded separators (`%2F`,
//! `%5C`), encoded NUL and control characters. Names inside segments are
//! then parsed by the handlers (`vault_core::names`), which refuse case
//! variants and look-alikes.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::middleware::RequestMeta;
use crate::service::Error;

/// Why `path` is not canonical, if it is not.
pub fn problem(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix('/')?;
    // Outside the API, one trailing slash names a page (`/ui/`), not an
    // empty segment; `//` anywhere still is one.
    let rest = match rest.starts_with("v1/") {
        true => rest,
        false => rest.strip_suffix('/').unwrap_or(rest),
    };
    if rest.is_empty() {
        return None;
    }
    for seg in rest.split('/') {
        if !seg.contains('%') {
            // The common case, checked without allocating.
            if let Some(why) = plain_problem(seg) {
                return Some(why);
            }
            continue;
        }
        let lower = seg.to_ascii_lowercase();
        let decoded_dots = lower.replace("%2e", ".");
        if seg.is_empty() {
            return Some("empty path segment");
        }
        if decoded_dots == "." || decoded_dots == ".." {
            return Some("relative path segment");
        }
        if ["%2f", "%5c", "%00", "%25"]
            .iter()
            .any(|e| lower.contains(e))
            || seg.contains('\\')
        {
            return Some("encoded separator or escape");
        }
        if seg.chars().any(char::is_control) {
            return Some("control character");
        }
        // Percent-encoded control characters.
        let bytes = lower.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'%' && bytes.get(i + 1).is_some_and(|c| *c == b'0' || *c == b'1') {
                return Some("encoded control character");
            }
            if *b == b'%' && bytes.get(i + 1..i + 3) == Some(b"7f") {
                return Some("encoded control character");
            }
        }
    }
    None
}

/// [`problem`] for a segment without any percent escape.
fn plain_problem(seg: &str) -> Option<&'static str> {
    if seg.is_empty() {
        Some("empty path segment")
    } else if seg == "." || seg == ".." {
        Some("relative path segment")
    } else if seg.contains('\\') {
        Some("encoded separator or escape")
    } else if seg.chars().any(char::is_control) {
        Some("control character")
    } else {
        None
    }
}

/// The middleware.
pub async fn reject_non_canonical(req: Request, next: Next) -> Response {
    if let Some(why) = problem(req.uri().path()) {
        let rid = req
            .extensions()
            .get::<RequestMeta>()
            .map(|m| m.request_id.clone())
            .unwrap_or_default();
        return ApiError::new(
            Error::bad(
                "request.non_canonical_path",
                format!("the request path is not canonical: {why}"),
            ),
            &rid,
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn refuses_non_canonical_paths() {
        for bad in [
            "/v1/projects/demo/environments/dev/../prod/secrets",
            "/v1/projects/demo/environments/%2e%2e/secrets",
            "/v1/projects/demo/environments/%2E%2e/secrets",
            "/v1/projects/demo/environments/./secrets",
            "/v1/projects/demo//environments",
            "/v1/projects/demo/environments/dev%2F..%2Fprod/secrets",
            "/v1/projects/demo%5cprod",
            "/v1/projects/demo%00",
            "/v1/projects/demo%0a",
            "/v1/projects/demo%252e%252e",
            "/v1/projects/demo/",
            "/v1/projects/demo\\prod",
            "/v1/projects/de\u{7f}mo",
            "/v1/projects/..",
            "/ui//",
            "/ui/..",
        ] {
            assert!(problem(bad).is_some(), "{bad}");
        }
        for good in [
            "/",
            "/v1/projects",
            "/v1/projects/demo/environments/dev/secrets/API_KEY",
            "/v1/projects/my.app/environments/dev",
            "/ui/",
        ] {
            assert_eq!(problem(good), None, "{good}");
        }
    }
}
