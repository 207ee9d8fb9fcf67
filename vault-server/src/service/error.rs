//! The service layer's one error type. Each error carries a stable machine
//! code and a kind; the HTTP edge maps the kind to a status in one place.

use vault_core::audit::Outcome;

use crate::store::{AuditCode, StoreError};

/// What sort of failure (decides the HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Malformed or invalid input (400).
    BadRequest,
    /// No or bad credentials (401).
    Unauthenticated,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// No such resource (404).
    NotFound,
    /// State conflict, e.g. a stale `cas` (409).
    Conflict,
    /// Body too large (413).
    TooLarge,
    /// Too many attempts or requests: wait (429, with `Retry-After`).
    Throttled,
    /// Sealed or not initialized (503).
    Sealed,
    /// A server this one depends on (an identity provider, a workload
    /// issuer) could not be reached or answered nonsense (502).
    Upstream,
    /// Stored data failed authentication (500, distinct code).
    Integrity,
    /// Anything else (500, no detail shown).
    Internal,
}

/// A service error: stable code + message safe to show (+ hidden detail).
#[derive(Debug, Clone)]
pub struct Error {
    /// Kind.
    pub kind: Kind,
    /// Stable code, e.g. `secret.not_found`.
    pub code: &'static str,
    /// Message for the caller (never a secret; replaced on 5xx).
    pub message: String,
    /// For [`Kind::Throttled`]: seconds until a retry may succeed, sent as
    /// `Retry-After` (RFC 9110 10.2.3).
    pub retry_after_secs: Option<u64>,
}

/// Service result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 429 with `Retry-After: secs` (at least 1).
    pub fn throttled(code: &'static str, message: impl Into<String>, secs: i64) -> Self {
        Self {
            retry_after_secs: Some(u64::try_from(secs.max(1)).unwrap_or(1)),
            ..Self::new(Kind::Throttled, code, message)
        }
    }

    /// 400.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, code, message)
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    /// 500; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        Self::new(Kind::Internal, "internal", "internal error")
    }

    /// 503 sealed.
    pub fn sealed() -> Self {
        Self::new(
            Kind::Sealed,
            "vault.sealed",
            "the vault is sealed; unseal it first",
        )
    }

    /// Integrity failure of a stored ciphertext.
    pub fn integrity() -> Self {
        Self::new(
            Kind::Integrity,
            "secret.integrity_error",
            "a stored ciphertext failed its integrity check; the event was recorded",
        )
    }

    /// Refused by access control, naming what was missing: the permission
    /// and the scope the caller asked about (a global permission says so).
    /// It names only what the caller sent, so it reveals nothing about
    /// whether the resource exists.
    pub fn forbidden_needing(action: crate::service::Action, resource: &str) -> Self {
        let message = match action.permission() {
            Some(perm) if perm.is_global() => {
                format!("this needs {} (a global permission)", perm.as_str())
            }
            Some(perm) => {
                let scope = resource.strip_suffix("/*").unwrap_or(resource);
                let scope = scope.split('/').take(2).collect::<Vec<_>>().join("/");
                format!("this needs {} on {scope}", perm.as_str())
            }
            None => "you may not do this to this resource".to_owned(),
        };
        Self::new(Kind::Forbidden, "access.denied", message)
    }

    /// Refused by access control.
    pub fn forbidden() -> Self {
        Self::new(
            Kind::Forbidden,
            "access.denied",
            "you may not do this to this resource",
        )
    }
}

impl Error {
    /// No credential was presented where one is needed (401
    /// `auth.required`).
    pub fn credential_required() -> Self {
        Self::new(
            Kind::Unauthenticated,
            "auth.required",
            "a token is required (Authorization: Bearer <token>)",
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Self::conflict("store.conflict", "the resource already exists")
            }
            other => Self::internal(other),
        }
    }
}

impl From<vault_core::names::NameError> for Error {
    fn from(e: vault_core::names::NameError) -> Self {
        Self::bad("request.invalid_name", e.to_string())
    }
}

impl AuditCode for Error {
    fn audit_code(&self) -> &str {
        self.code
    }

    fn audit_outcome(&self) -> Outcome {
        match self.kind {
            Kind::Unauthenticated | Kind::Forbidden | Kind::Throttled => Outcome::Denied,
            _ => Outcome::Error,
        }
    }
}
