//! When to rotate a KEK, and which lifecycle moves are allowed.
//!
//! Each data-key wrap is one AES-GCM encryption under the KEK with a random
//! 96-bit nonce. NIST SP 800-38D caps a key at 2^32 such encryptions; the
//! default here rotates at 2^24, 256 times below the cap.

use crate::api::KekState;
use crate::clock::Timestamp;

/// Why a rotation is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationReason {
    /// Asked for by an operator.
    OnDemand,
    /// The active version is older than the policy's maximum age.
    Age,
    /// The active version has made the policy's maximum number of wraps.
    WrapCount,
}

impl RotationReason {
    /// Stable name for audit records and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on_demand",
            Self::Age => "age",
            Self::WrapCount => "wrap_count",
        }
    }
}

/// Automatic rotation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Rotate when the active version is older than this (seconds); `None`: never by age.
    pub max_age_secs: Option<i64>,
    /// Rotate when the active version has wrapped this many data keys.
    pub max_wraps: u64,
}

/// The hard ceiling for `max_wraps`: far below 2^32 random-nonce encryptions.
pub const MAX_WRAPS_CEILING: u64 = 1 << 30;

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            max_age_secs: Some(90 * 24 * 3600),
            max_wraps: 1 << 24,
        }
    }
}

impl RotationPolicy {
    /// Whether the active version (made at `created_at`, with `wrap_count`
    /// wraps so far) must be rotated at `now`. Wrap count wins over age.
    pub fn due(
        &self,
        created_at: Timestamp,
        wrap_count: u64,
        now: Timestamp,
    ) -> Option<RotationReason> {
        if wrap_count >= self.max_wraps.min(MAX_WRAPS_CEILING) {
            return Some(RotationReason::WrapCount);
        }
        match self.max_age_secs {
            Some(max) if now.secs_since(created_at) >= max => Some(RotationReason::Age),
            _ => None,
        }
    }
}

/// A refused lifecycle move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KekLifecycleError {
    /// The active version cannot be retired or destroyed.
    #[error("version {0} is the active key; rotate first")]
    Active(u32),
    /// Data keys still depend on this version.
    #[error("version {version} still wraps {data_keys} data keys; run a rewrap first")]
    InUse {
        /// The version.
        version: u32,
        /// Data keys still wrapped by it.
        data_keys: u64,
    },
    /// Only a retired version can be destroyed.
    #[error("version {0} must be retired before it is destroyed")]
    NotRetired(u32),
    /// Already in that state or past it.
    #[error("version {version} is already {state}")]
    Already {
        /// The version.
        version: u32,
        /// Its state.
        state: &'static str,
    },
}

fn state_name(s: KekState) -> &'static str {
    match s {
        KekState::Active => "active",
        KekState::DecryptOnly => "decrypt-only",
        KekState::Retired => "retired",
        KekState::Destroyed => "destroyed",
    }
}

/// May a version in `state` that still wraps `data_keys` data keys be retired?
pub fn check_retire(
    version: u32,
    state: KekState,
    data_keys: u64,
) -> Result<(), KekLifecycleError> {
    match state {
        KekState::Active => Err(KekLifecycleError::Active(version)),
        KekState::Retired | KekState::Destroyed => Err(KekLifecycleError::Already {
            version,
            state: state_name(state),
        }),
        KekState::DecryptOnly if data_keys > 0 => {
            Err(KekLifecycleError::InUse { version, data_keys })
        }
        KekState::DecryptOnly => Ok(()),
    }
}

/// May a version in `state` that still wraps `data_keys` data keys be destroyed?
pub fn check_destroy(
    version: u32,
    state: KekState,
    data_keys: u64,
) -> Result<(), KekLifecycleError> {
    match state {
        KekState::Active => Err(KekLifecycleError::Active(version)),
        KekState::DecryptOnly => Err(KekLifecycleError::NotRetired(version)),
        KekState::Destroyed => Err(KekLifecycleError::Already {
            version,
            state: "destroyed",
        }),
        KekState::Retired if data_keys > 0 => Err(KekLifecycleError::InUse { version, data_keys }),
        KekState::Retired => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_by_wraps_and_age() {
        let p = RotationPolicy {
            max_age_secs: Some(100),
            max_wraps: 10,
        };
        let t0 = Timestamp::from_millis(0);
        assert_eq!(p.due(t0, 9, t0.plus_secs(99)), None);
        assert_eq!(p.due(t0, 10, t0), Some(RotationReason::WrapCount));
        assert_eq!(p.due(t0, 0, t0.plus_secs(100)), Some(RotationReason::Age));
        let never = RotationPolicy {
            max_age_secs: None,
            max_wraps: u64::MAX,
        };
        assert_eq!(never.due(t0, (1 << 30) - 1, t0.plus_secs(1 << 40)), None);
        assert_eq!(
            never.due(t0, 1 << 30, t0),
            Some(RotationReason::WrapCount),
            "ceiling applies"
        );
        assert!(RotationPolicy::default().max_wraps < (1 << 32) / 100);
    }

    #[test]
    fn lifecycle_moves() {
        assert!(check_retire(1, KekState::Active, 0).is_err());
        assert!(check_retire(1, KekState::DecryptOnly, 3).is_err());
        assert!(check_retire(1, KekState::DecryptOnly, 0).is_ok());
        assert!(check_destroy(1, KekState::DecryptOnly, 0).is_err());
        assert!(check_destroy(1, KekState::Retired, 0).is_ok());
        assert!(check_destroy(1, KekState::Retired, 1).is_err());
        assert!(check_destroy(1, KekState::Destroyed, 0).is_err());
    }
}
