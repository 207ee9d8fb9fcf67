//! `[identity]`: session lifetimes (default and per role), login throttling,
//! password hashing limits, emergency access, and the two test-only
//! `danger_*` switches that only dev mode accepts.

use std::collections::BTreeMap;

use serde::Deserialize;
use vault_core::session::{SessionPolicy, ThrottlePolicy};

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Absolute session lifetime, seconds (default 8 h).
    pub session_absolute_secs: i64,
    /// Session idle timeout, seconds (default 30 min).
    pub session_idle_secs: i64,
    /// Per built-in role overrides (custom roles carry their own), e.g.
    /// `[identity.role_sessions.admin] absolute_secs = 3600`. A user's
    /// sessions follow the strictest policy among their roles.
    pub role_sessions: BTreeMap<String, RoleSession>,
    /// Failed logins allowed before delays start.
    pub throttle_free_failures: u32,
    /// First delay, seconds; doubles per further failure.
    pub throttle_base_delay_secs: i64,
    /// Longest delay, seconds.
    pub throttle_max_delay_secs: i64,
    /// Failures are forgotten after this long without one, seconds.
    pub throttle_reset_after_secs: i64,
    /// Password hashes computed at once (a login storm cannot starve the
    /// server; further logins wait).
    pub max_concurrent_hashes: usize,
    /// Default emergency grant duration, seconds (default 1 h).
    pub emergency_default_secs: i64,
    /// Longest emergency grant, seconds (default 4 h).
    pub emergency_max_secs: i64,
    /// The built-in `admin` role requires a second factor (a passkey, or an
    /// SSO login with an `mfa_amr` value): its bindings apply only to such
    /// sessions (default false; HIPAA 45 CFR 164.312(d), NIST SP 800-63B
    /// AAL2).
    pub admin_requires_mfa: bool,
    /// How long a passkey proof covers the most dangerous actions, seconds
    /// (default 300); older, the server answers `auth.step_up_required`.
    pub step_up_secs: i64,
    /// How often an access review must be completed, days (default 90;
    /// 45 CFR 164.308(a)(1)(ii)(D)).
    pub access_review_days: i64,
    /// DANGER, dev mode only: cheap Argon2id parameters so test suites run
    /// fast. Never on a real server (refused outside dev mode).
    pub danger_weak_password_hashing: bool,
    /// DANGER, dev mode only: a manual clock that an admin can advance with
    /// `POST /v1/sys/danger-test-clock` (refused outside dev mode).
    pub danger_test_clock: bool,
}

/// Session lifetimes for one role.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSession {
    /// Absolute lifetime, seconds.
    pub absolute_secs: Option<i64>,
    /// Idle timeout, seconds.
    pub idle_secs: Option<i64>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let s = SessionPolicy::default();
        let t = ThrottlePolicy::default();
        Self {
            session_absolute_secs: s.absolute_secs,
            session_idle_secs: s.idle_secs,
            role_sessions: BTreeMap::new(),
            throttle_free_failures: t.free_failures,
            throttle_base_delay_secs: t.base_delay_secs,
            throttle_max_delay_secs: t.max_delay_secs,
            throttle_reset_after_secs: t.reset_after_secs,
            max_concurrent_hashes: 4,
            emergency_default_secs: 3600,
            emergency_max_secs: 4 * 3600,
            admin_requires_mfa: false,
            step_up_secs: 300,
            access_review_days: 90,
            danger_weak_password_hashing: false,
            danger_test_clock: false,
        }
    }
}

impl IdentityConfig {
    /// The keys, for the documentation check.
    pub const KEYS: &[&str] = &[
        "session_absolute_secs",
        "session_idle_secs",
        "role_sessions",
        "throttle_free_failures",
        "throttle_base_delay_secs",
        "throttle_max_delay_secs",
        "throttle_reset_after_secs",
        "max_concurrent_hashes",
        "emergency_default_secs",
        "emergency_max_secs",
        "admin_requires_mfa",
        "step_up_secs",
        "access_review_days",
        "danger_weak_password_hashing",
        "danger_test_clock",
    ];

    /// The default session policy.
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            absolute_secs: self.session_absolute_secs,
            idle_secs: self.session_idle_secs,
        }
    }

    /// The throttle policy.
    pub fn throttle_policy(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            free_failures: self.throttle_free_failures,
            base_delay_secs: self.throttle_base_delay_secs,
            max_delay_secs: self.throttle_max_delay_secs,
            reset_after_secs: self.throttle_reset_after_secs,
        }
    }

    /// Checks the section; `dev` is whether the server runs in dev mode.
    pub fn validate(&self, dev: bool) -> Result<(), String> {
        let positive = [
            ("session_absolute_secs", self.session_absolute_secs),
            ("session_idle_secs", self.session_idle_secs),
            ("throttle_base_delay_secs", self.throttle_base_delay_secs),
            ("throttle_max_delay_secs", self.throttle_max_delay_secs),
            ("throttle_reset_after_secs", self.throttle_reset_after_secs),
            ("emergency_default_secs", self.emergency_default_secs),
            ("emergency_max_secs", self.emergency_max_secs),
            ("step_up_secs", self.step_up_secs),
            ("access_review_days", self.access_review_days),
        ];
        if let Some((k, _)) = positive.iter().find(|(_, v)| *v <= 0) {
            return Err(format!("identity.{k} must be at least 1"));
        }
        for (role, r) in &self.role_sessions {
            if r.absolute_secs.is_some_and(|v| v <= 0) || r.idle_secs.is_some_and(|v| v <= 0) {
                return Err(format!(
                    "identity.role_sessions.{role}: lifetimes must be at least 1 second"
                ));
            }
        }
        if self.max_concurrent_hashes == 0 {
            return Err("identity.max_concurrent_hashes must be at least 1".into());
        }
        if self.emergency_default_secs > self.emergency_max_secs {
            return Err("identity.emergency_default_secs exceeds emergency_max_secs".into());
        }
        if !dev && (self.danger_weak_password_hashing || self.danger_test_clock) {
            return Err(
                "identity.danger_weak_password_hashing and identity.danger_test_clock are for tests: \
                 only accepted in --dev mode"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn danger_switches_need_dev_mode() {
        let c = IdentityConfig {
            danger_test_clock: true,
            ..IdentityConfig::default()
        };
        assert!(c.validate(false).is_err());
        assert!(c.validate(true).is_ok());
        let c = IdentityConfig {
            danger_weak_password_hashing: true,
            ..IdentityConfig::default()
        };
        assert!(c.validate(false).is_err());
        assert!(IdentityConfig::default().validate(false).is_ok());
    }

    #[test]
    fn per_role_sessions_parse_from_toml() {
        let c: crate::config::Config = toml::from_str(
            "[identity]\nsession_idle_secs = 900\n[identity.role_sessions.admin]\nabsolute_secs = 3600\nidle_secs = 300\n",
        )
        .unwrap();
        assert_eq!(c.identity.session_idle_secs, 900);
        let admin = c.identity.role_sessions["admin"];
        assert_eq!(
            (admin.absolute_secs, admin.idle_secs),
            (Some(3600), Some(300))
        );
        assert!(c.identity.validate(false).is_ok());
        let bad: crate::config::Config =
            toml::from_str("[identity.role_sessions.admin]\nidle_secs = 0\n").unwrap();
        assert!(bad.identity.validate(false).is_err());
    }
}
