//! Time, injected.
//!
//! Nothing else in the workspace reads the system clock (`clippy.toml` bans
//! it); code takes a [`Clock`] so tests can fix and advance time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch, UTC.
/// (The default is the epoch, for fact structs filled field by field.)
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

// On the wire: an integer of milliseconds since the Unix epoch.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .description(Some("Milliseconds since the Unix epoch, UTC"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl Timestamp {
    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This time plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Whole seconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn secs_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0) / 1000
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T14:28:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            ),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Parses RFC 3339 (`2026-11-22T14:28:00Z`, any offset) or a plain date
    /// (`2026-11-22`, midnight UTC).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        use time::format_description::well_known::Rfc3339;
        if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
            return i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
                .ok()
                .map(Self);
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        let d = time::Date::parse(s, &fmt).ok()?;
        let t = d.midnight().assume_utc();
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place allowed to read the clock
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(millis)
    }
}

/// A clock that tests (and the server's test mode) set and advance by hand.
/// Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.0
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_millis(1_795_357_680_123);
        let s = t.to_rfc3339();
        assert_eq!(s, "2026-11-22T14:28:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&s), Some(t));
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-22"),
            Some(Timestamp::from_millis(1_795_305_600_000))
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn manual_clock_advances_for_all_clones() {
        let c = ManualClock::new(Timestamp::from_millis(0));
        let c2 = c.clone();
        c.advance_secs(90);
        assert_eq!(c2.now().as_millis(), 90_000);
    }
}

/// Parses a duration written `30s`, `15m`, `12h` or `30d` into seconds
/// (positive, no overflow); `None` otherwise.
pub fn parse_duration_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.len().checked_sub(1)?;
    if !s.is_char_boundary(split) {
        return None;
    }
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration_secs;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("15m"), Some(900));
        assert_eq!(parse_duration_secs(" 2h "), Some(7200));
        assert_eq!(parse_duration_secs("30d"), Some(2_592_000));
        for bad in [
            "",
            "m",
            "0m",
            "-1m",
            "15",
            "15x",
            "1.5h",
            "9223372036854775807d",
            "1é",
        ] {
            assert_eq!(parse_duration_secs(bad), None, "{bad}");
        }
    }
}
