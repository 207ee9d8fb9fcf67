//! Login and password-change throttles, kept in the database (so every node
//! sees one count; the unseal throttle is per node, in memory, see
//! `service::lifecycle`): an attempt is reserved, counted as a failure, in one writer
//! transaction *before* the password hash it guards, so requests in flight
//! can never exceed the free budget (OWASP ASVS 2.2.1). A success clears the
//! account's count and refunds its reservation on the address's count.

use vault_core::clock::Timestamp;
use vault_core::session::ThrottlePolicy;

use crate::service::{Error, Result, Vault};

/// One counter to reserve on: its key (`user:NAME`, `ip:ADDR`) and policy.
#[derive(Debug, Clone)]
pub struct Counter {
    /// The throttle key.
    pub key: String,
    /// Its policy.
    pub policy: ThrottlePolicy,
    /// What it counts, for the refusal's message: "account" or "address".
    pub what: &'static str,
}

/// A granted reservation: the failure counts now stored, by counter.
#[derive(Debug)]
pub struct Reservation {
    /// The counters and the failure count each holds with this attempt.
    pub counts: Vec<(Counter, u32)>,
}

impl Reservation {
    /// The delay the account counter now imposes on the next attempt, seconds.
    pub fn next_delay_secs(&self) -> i64 {
        self.counts
            .iter()
            .map(|(c, n)| c.policy.delay_secs(*n))
            .max()
            .unwrap_or(0)
    }
}

impl Vault {
    /// Reserves one attempt on every counter at once, or none: `auth.throttled`
    /// (429 with `Retry-After`) when any counter says wait.
    pub(crate) async fn reserve_attempt(&self, counters: Vec<Counter>) -> Result<Reservation> {
        let now = self.clock().now();
        let granted = self
            .store()
            .write(
                None,
                move |w| -> Result<Result<Reservation, (i64, &'static str)>> {
                    let mut next: Vec<(Counter, (u32, Timestamp))> = Vec::new();
                    let mut refused: Option<(i64, &'static str)> = None;
                    for c in counters {
                        match c.policy.reserve(w.throttle(&c.key)?, now) {
                            Ok(state) => next.push((c, state)),
                            Err(wait) if refused.is_none_or(|(w0, _)| wait > w0) => {
                                refused = Some((wait, c.what));
                            }
                            Err(_) => {}
                        }
                    }
                    if let Some(r) = refused {
                        return Ok(Err(r));
                    }
                    for (c, state) in &next {
                        w.set_throttle(&c.key, Some(*state))?;
                    }
                    Ok(Ok(Reservation {
                        counts: next.into_iter().map(|(c, s)| (c, s.0)).collect(),
                    }))
                },
            )
            .await??;
        granted.map_err(|(secs, what)| {
            Error::throttled(
                "auth.throttled",
                format!(
                    "too many failed attempts for this {what}; retry in {secs} second{}",
                    if secs == 1 { "" } else { "s" }
                ),
                secs,
            )
        })
    }

    /// After a success: clears `clear` and gives the reservation back on the
    /// others (one failure fewer), in the writer transaction `w`.
    pub(crate) fn settle_success(
        w: &mut dyn crate::store::Writer,
        reservation: &Reservation,
        clear: &str,
    ) -> Result<()> {
        for (c, _) in &reservation.counts {
            if c.key == clear {
                w.set_throttle(&c.key, None)?;
            } else if let Some((n, t)) = w.throttle(&c.key)? {
                w.set_throttle(&c.key, (n > 1).then_some((n - 1, t)))?;
            }
        }
        Ok(())
    }
}
