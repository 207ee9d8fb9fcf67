//! The one place that maps service errors to HTTP: status, stable code, and
//! the `{"error":{"code","message","request_id"}}` body. 5xx bodies never
//! carry detail (it went to the log where the error was made).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vault_core::api::{ErrorBody, ErrorDetail};

use crate::service::{Error, Kind};

/// The stable code of an error response, for the audit fallback and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// An error on its way out, with the request id it belongs to.
#[derive(Debug)]
pub struct ApiError {
    /// The error.
    pub error: Error,
    /// The request id.
    pub request_id: String,
}

impl ApiError {
    /// Pairs an error with its request id.
    pub fn new(error: Error, request_id: &str) -> Self {
        Self {
            error,
            request_id: request_id.to_owned(),
        }
    }
}

/// Status for a kind.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        Kind::Sealed => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Upstream => StatusCode::BAD_GATEWAY,
        Kind::Integrity | Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status(self.error.kind);
        // Internal errors say nothing more; integrity errors keep their fixed text.
        let message = if self.error.kind == Kind::Internal {
            "internal error".to_owned()
        } else {
            self.error.message
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.error.code.to_owned(),
                message,
                request_id: self.request_id,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.error.retry_after_secs {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp.extensions_mut().insert(ErrorCode(self.error.code));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_hide_detail() {
        let e = Error::new(Kind::Internal, "internal", "disk on fire at /var/lib");
        let resp = ApiError::new(e, "rid-1").into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let s = String::from_utf8(body.to_vec()).unwrap();
        assert!(!s.contains("disk"), "{s}");
        assert!(s.contains("\"request_id\":\"rid-1\""), "{s}");
    }

    #[test]
    fn throttled_answers_say_when_to_retry() {
        let resp =
            ApiError::new(Error::throttled("auth.throttled", "wait", 7), "r").into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "7");
    }

    #[test]
    fn kinds_map_to_statuses() {
        assert_eq!(status(Kind::Conflict), StatusCode::CONFLICT);
        assert_eq!(status(Kind::Sealed), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(Kind::Unauthenticated), StatusCode::UNAUTHORIZED);
    }
}
