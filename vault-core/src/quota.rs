//! Request quotas: a token bucket per principal, so that one client cannot
//! starve the others. Pure logic; the caller keeps the buckets and passes
//! the time in.

use crate::clock::Timestamp;

/// A quota: `rate_per_sec` requests per second on average, bursts of up to
/// `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Refill rate, requests per second (at least 1).
    pub rate_per_sec: u32,
    /// Bucket size, requests (at least 1).
    pub burst: u32,
}

/// One principal's bucket: tokens left (in thousandths, so slow rates
/// refill smoothly) as of a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    milli_tokens: u64,
    at: Timestamp,
}

impl Quota {
    /// A full bucket at `now`.
    pub fn fresh(&self, now: Timestamp) -> Bucket {
        Bucket {
            milli_tokens: u64::from(self.burst.max(1)) * 1000,
            at: now,
        }
    }

    /// Takes one request from `bucket` at `now`: the bucket afterwards, or
    /// `Err(seconds until one request fits)` (at least 1, for `Retry-After`).
    pub fn take(&self, bucket: Bucket, now: Timestamp) -> Result<Bucket, i64> {
        let rate = u64::from(self.rate_per_sec.max(1));
        let cap = u64::from(self.burst.max(1)) * 1000;
        let elapsed_ms = u64::try_from(now.as_millis() - bucket.at.as_millis()).unwrap_or(0);
        let refill = elapsed_ms.saturating_mul(rate);
        let tokens = bucket.milli_tokens.saturating_add(refill).min(cap);
        if tokens >= 1000 {
            return Ok(Bucket {
                milli_tokens: tokens - 1000,
                at: now,
            });
        }
        let missing_ms = (1000 - tokens).div_ceil(rate);
        Err(i64::try_from(missing_ms.div_ceil(1000))
            .unwrap_or(i64::MAX)
            .max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_the_rate() {
        let q = Quota {
            rate_per_sec: 2,
            burst: 3,
        };
        let t0 = Timestamp::from_millis(10_000);
        let mut b = q.fresh(t0);
        for _ in 0..3 {
            b = q.take(b, t0).unwrap();
        }
        assert_eq!(q.take(b, t0), Err(1));
        // Half a second refills one request at 2/s.
        let b = q.take(b, Timestamp::from_millis(10_500)).unwrap();
        assert!(q.take(b, Timestamp::from_millis(10_500)).is_err());
        // A long pause refills only up to the burst.
        let mut b = q.take(b, t0.plus_secs(3600)).unwrap();
        for _ in 0..2 {
            b = q.take(b, t0.plus_secs(3600)).unwrap();
        }
        assert!(q.take(b, t0.plus_secs(3600)).is_err());
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let q = Quota {
            rate_per_sec: 1,
            burst: 1,
        };
        let t0 = Timestamp::from_millis(10_000);
        let b = q.take(q.fresh(t0), t0).unwrap();
        assert!(q.take(b, Timestamp::from_millis(5_000)).is_err());
    }
}
