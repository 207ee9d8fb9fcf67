//! Session timing and login throttling as pure functions of the clock.
//!
//! A session has an absolute lifetime (from login) and an idle timeout (from
//! its last authenticated use); both are enforced by the server on every
//! request. Login throttling grows the delay with consecutive failures, per
//! account and per source address.

use crate::clock::Timestamp;

/// Session lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Absolute lifetime from login (default 8 h).
    pub absolute_secs: i64,
    /// Idle timeout from the last authenticated request (default 30 min).
    pub idle_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            absolute_secs: 8 * 3600,
            idle_secs: 30 * 60,
        }
    }
}

/// Why a session is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Past its absolute lifetime.
    Expired,
    /// Unused for longer than the idle timeout.
    Idle,
}

impl SessionPolicy {
    /// The stricter of two policies (e.g. the user's roles' policies).
    pub fn strictest(self, other: SessionPolicy) -> SessionPolicy {
        SessionPolicy {
            absolute_secs: self.absolute_secs.min(other.absolute_secs),
            idle_secs: self.idle_secs.min(other.idle_secs),
        }
    }

    /// Whether a session made at `created` and last used at `last_used` is
    /// still valid at `now`.
    pub fn check(
        &self,
        created: Timestamp,
        last_used: Timestamp,
        now: Timestamp,
    ) -> Result<(), SessionEnd> {
        if now.as_millis() >= created.plus_secs(self.absolute_secs).as_millis() {
            return Err(SessionEnd::Expired);
        }
        if now.as_millis() >= last_used.plus_secs(self.idle_secs).as_millis() {
            return Err(SessionEnd::Idle);
        }
        Ok(())
    }

    /// When the session ends if it is not used again.
    pub fn ends_at(&self, created: Timestamp, last_used: Timestamp) -> Timestamp {
        let abs = created.plus_secs(self.absolute_secs);
        let idle = last_used.plus_secs(self.idle_secs);
        if abs < idle { abs } else { idle }
    }
}

/// Growing delays after failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// First delay, seconds; doubles with each further failure.
    pub base_delay_secs: i64,
    /// Longest delay, seconds.
    pub max_delay_secs: i64,
    /// Failures are forgotten after this long without one, seconds.
    pub reset_after_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay_secs: 1,
            max_delay_secs: 15 * 60,
            reset_after_secs: 3600,
        }
    }
}

impl ThrottlePolicy {
    /// Delay imposed after `failures` consecutive failures: none for the
    /// first `free_failures`, then `base_delay_secs` doubling per further
    /// failure, at most `max_delay_secs`. With the defaults, three failures
    /// are free and the fourth attempt waits 1 s.
    pub fn delay_secs(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let exp = (failures - self.free_failures).min(40);
        self.base_delay_secs
            .saturating_mul(1i64 << exp)
            .min(self.max_delay_secs)
    }

    /// Whether a login attempt at `now` must wait, given `failures` so far and
    /// the time of the last one; `Some(seconds left)` if so.
    pub fn wait(&self, failures: u32, last_failure: Timestamp, now: Timestamp) -> Option<i64> {
        if now.secs_since(last_failure) >= self.reset_after_secs {
            return None;
        }
        let until = last_failure.plus_secs(self.delay_secs(failures));
        let left = (until.as_millis() - now.as_millis() + 999) / 1000;
        (left > 0).then_some(left)
    }

    /// Reserves one attempt at `now`, before the (expensive) check it guards:
    /// `Err(seconds to wait)` when the attempt must wait, else the state to
    /// store, which already counts this attempt as a failure. Reserving and
    /// storing in one atomic step bounds the attempts in flight to the free
    /// budget (OWASP ASVS 2.2.1); a success afterwards clears or refunds it.
    pub fn reserve(
        &self,
        state: Option<(u32, Timestamp)>,
        now: Timestamp,
    ) -> Result<(u32, Timestamp), i64> {
        if let Some(wait) = state.and_then(|(f, t)| self.wait(f, t, now)) {
            return Err(wait);
        }
        Ok((
            self.next_failures(state.map_or(0, |s| s.0), state.map(|s| s.1), now),
            now,
        ))
    }

    /// The failure count to store after one more failure at `now`.
    pub fn next_failures(
        &self,
        failures: u32,
        last_failure: Option<Timestamp>,
        now: Timestamp,
    ) -> u32 {
        match last_failure {
            Some(t) if now.secs_since(t) < self.reset_after_secs => failures.saturating_add(1),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_idle() {
        let p = SessionPolicy {
            absolute_secs: 100,
            idle_secs: 10,
        };
        let t0 = Timestamp::from_millis(1_000_000);
        assert_eq!(p.check(t0, t0, t0.plus_secs(9)), Ok(()));
        assert_eq!(p.check(t0, t0, t0.plus_secs(10)), Err(SessionEnd::Idle));
        assert_eq!(p.check(t0, t0.plus_secs(95), t0.plus_secs(99)), Ok(()));
        assert_eq!(
            p.check(t0, t0.plus_secs(95), t0.plus_secs(100)),
            Err(SessionEnd::Expired)
        );
        assert_eq!(p.ends_at(t0, t0.plus_secs(95)), t0.plus_secs(100));
        let strict = p.strictest(SessionPolicy {
            absolute_secs: 50,
            idle_secs: 60,
        });
        assert_eq!(
            strict,
            SessionPolicy {
                absolute_secs: 50,
                idle_secs: 10
            }
        );
    }

    #[test]
    fn throttle_grows_and_resets() {
        let p = ThrottlePolicy::default();
        let d: Vec<i64> = (0..8).map(|f| p.delay_secs(f)).collect();
        assert_eq!(d, vec![0, 0, 0, 1, 2, 4, 8, 16], "three free failures");
        assert_eq!(p.delay_secs(1000), 900);
        let t = Timestamp::from_millis(0);
        assert_eq!(p.wait(2, t, t), None);
        assert_eq!(p.wait(3, t, t), Some(1), "the fourth attempt waits");
        assert_eq!(p.wait(5, t, t), Some(4));
        assert_eq!(p.wait(5, t, t.plus_secs(4)), None);
        assert_eq!(
            p.wait(1000, t, t.plus_secs(3600)),
            None,
            "forgotten after an hour"
        );
        assert_eq!(p.next_failures(5, Some(t), t.plus_secs(10)), 6);
        assert_eq!(p.next_failures(5, Some(t), t.plus_secs(3600)), 1);
        assert_eq!(p.next_failures(0, None, t), 1);
    }

    #[test]
    fn reservations_stop_at_the_free_budget() {
        let p = ThrottlePolicy::default();
        let now = Timestamp::from_millis(5_000);
        let mut state = None;
        let mut granted = 0;
        for _ in 0..60 {
            if let Ok(s) = p.reserve(state, now) {
                state = Some(s);
                granted += 1;
            }
        }
        assert_eq!(granted, 3);
        assert_eq!(p.reserve(state, now), Err(1));
        assert!(p.reserve(state, now.plus_secs(1)).is_ok());
    }
}

/// What a session proved besides its first factor (NIST SP 800-63B §4.2:
/// two distinct factors make AAL2; a passkey with user verification is a
/// multi-factor authenticator by itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Factors {
    /// The second factor of the login: `passkey`, `recovery_code`, or
    /// `amr:<value>` for an SSO login whose ID token said so; `None`: the
    /// login had one factor.
    pub mfa: Option<String>,
    /// The last time the session freshly proved its second factor: a
    /// passkey at login or a step-up, or a recovery code at login.
    pub passkey_at: Option<Timestamp>,
}

impl Factors {
    /// A login with a passkey at `now`.
    pub fn passkey(now: Timestamp) -> Self {
        Self {
            mfa: Some("passkey".into()),
            passkey_at: Some(now),
        }
    }

    /// Whether the login included a second factor.
    pub fn is_mfa(&self) -> bool {
        self.mfa.is_some()
    }

    /// Whether a dangerous action at `now` needs the passkey again: the
    /// user has a passkey, and this session proved none within
    /// `step_up_secs` (OWASP ASVS 4.0 V3.7.1: re-authentication before
    /// sensitive changes). A user with no passkey cannot step up, and is
    /// not asked to (roles that require a second factor keep such users
    /// out instead).
    pub fn needs_step_up(&self, has_passkey: bool, now: Timestamp, step_up_secs: i64) -> bool {
        has_passkey
            && self
                .passkey_at
                .is_none_or(|at| now.as_millis() > at.plus_secs(step_up_secs).as_millis())
    }
}

#[cfg(test)]
mod factor_tests {
    use super::*;

    #[test]
    fn step_up_is_needed_only_with_a_passkey_and_an_old_proof() {
        let t = Timestamp::from_millis(1_000_000);
        let fresh = Factors::passkey(t);
        assert!(!fresh.needs_step_up(true, t.plus_secs(300), 300));
        assert!(fresh.needs_step_up(true, t.plus_secs(301), 300));
        assert!(Factors::default().needs_step_up(true, t, 300));
        assert!(!Factors::default().needs_step_up(false, t, 300));
        assert!(fresh.is_mfa() && !Factors::default().is_mfa());
    }
}
