//! The dev-mode test clock (tests only: `--dev` with
//! `identity.danger_test_clock`).

use super::*;

impl Vault {
    /// `POST /v1/sys/danger-test-clock`: moves the manual clock forward.
    /// Needs `sys.manage`, and exists only in dev mode with the test clock.
    pub async fn advance_test_clock(&self, ctx: &Ctx, secs: i64) -> Result<TestClock> {
        let p = self
            .authorize(ctx, Action::SysTestClock, "sys/clock")
            .await?;
        let Some(clock) = self.identity().test_clock.clone() else {
            return Err(Error::not_found(
                "dev.test_clock_disabled",
                "the test clock exists only with --dev and identity.danger_test_clock",
            ));
        };
        if !(0..=10 * 365 * 86_400).contains(&secs) {
            return Err(Error::bad("dev.invalid_advance", "advance by 0..=10 years"));
        }
        clock.advance_secs(secs);
        let entry = self.entry(
            ctx,
            Some(&p),
            "sys.danger_test_clock",
            "sys/clock",
            Outcome::Success,
            Some(format!("advanced {secs}s")),
        );
        self.audit(ctx, entry).await?;
        Ok(TestClock { now: clock.now() })
    }
}
