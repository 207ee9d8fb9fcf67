//! Proving a passkey: passwordless sign-in (a discoverable credential), the
//! second factor after a password, a recovery code instead of it, and
//! step-up for dangerous actions. One check serves all four: the ceremony
//! is taken before anything is verified, the credential must be registered
//! to the user the ceremony expects, the attempt is reserved on the
//! account's and the address's login throttle first (a failed assertion
//! counts like a failed password), and the sign counter is stored with
//! compare-and-swap in the transaction that uses the proof.

use vault_core::api::{
    FinishPasskeyCeremony, LoginAnswer, LoginResponse, MfaChallenge, MfaRecovery, PasskeyCeremony,
};
use vault_core::audit::Outcome;
use vault_core::clock::Timestamp;
use vault_core::identity::recovery_code;
use vault_core::session::Factors;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential,
};

use super::{CEREMONY_TTL_SECS, refused, user_handle, webauthn_reason};
use crate::service::identity::throttle::{Counter, Reservation};
use crate::service::identity::{new_secret, secret_hash};
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::Writer;
use crate::store::identity::UserRow;
use crate::store::passkeys::{CeremonyRow, PasskeyRow};

/// A passkey proven in a ceremony, not yet stored: the transaction that
/// uses it swaps the counter and settles the throttle.
struct Proof {
    passkey: PasskeyRow,
    /// The passkey with its new counter, JSON.
    json: String,
    counter: i64,
    user: UserRow,
    reservation: Reservation,
}

impl Proof {
    /// In the using transaction: the counter, compared and swapped (of two
    /// answers raced with one counter value, one wins), and the throttle
    /// cleared.
    fn commit(self, w: &mut dyn Writer, now: Timestamp) -> Result<()> {
        if !w.swap_passkey_counter(
            &self.passkey.id,
            self.passkey.counter,
            self.counter,
            &self.json,
            now,
        )? {
            return Err(refused(
                "passkey.refused",
                "another sign-in with this passkey happened at the same moment; try again",
            ));
        }
        Vault::settle_success(w, &self.reservation, &account_key(&self.user.username))
    }
}

fn account_key(username: &str) -> String {
    format!("user:{username}")
}

fn ceremony_gone(what: &str) -> Error {
    Error::bad(
        "passkey.ceremony_invalid",
        format!("this {what} is unknown, used or expired (5 minutes): start again"),
    )
}

impl Vault {
    fn account_counters(&self, ctx: &Ctx, username: &str) -> Vec<Counter> {
        let s = self.identity();
        vec![
            Counter {
                key: account_key(username),
                policy: s.throttle,
                what: "account",
            },
            Counter {
                key: format!("ip:{}", ctx.source),
                policy: s.address_throttle(),
                what: "address",
            },
        ]
    }

    /// Audits a refused proof as `action` (by the user, when known).
    async fn refuse_proof(
        &self,
        ctx: &Ctx,
        action: &str,
        user: Option<&str>,
        detail: String,
        err: Error,
    ) -> Error {
        let mut e = self.entry(ctx, None, action, "auth/passkeys", Outcome::Denied, None);
        if let Some(u) = user {
            e.actor = format!("user:{u}");
        }
        e.detail = Some(detail);
        match self.audit(ctx, e).await {
            Ok(()) => err,
            Err(a) => a,
        }
    }

    /// Checks the answer to ceremony `c` (taken already): `login` takes a
    /// discoverable credential of anyone, `mfa` and `step_up` only one of
    /// the ceremony's user. `method` names the login in refusal records.
    async fn prove(
        &self,
        ctx: &Ctx,
        c: CeremonyRow,
        credential: serde_json::Value,
        action: &str,
        method: &str,
    ) -> Result<Proof> {
        let cred: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| Error::bad("passkey.invalid_credential", "not a WebAuthn assertion"))?;
        let w = self.webauthn()?;
        let deny = |reason: &str| format!("{method} reason={reason}");
        let (cred_id, handle) = if c.kind == "login" {
            match w.identify_discoverable_authentication(&cred) {
                Ok((h, id)) => (id.to_vec(), Some(h)),
                Err(_) => {
                    let e = refused("passkey.refused", "the passkey's answer names no user");
                    return Err(self
                        .refuse_proof(ctx, action, None, deny("no_user_handle"), e)
                        .await);
                }
            }
        } else {
            (cred.get_credential_id().to_vec(), None)
        };
        let row = self
            .store()
            .read(move |r| r.passkey_by_credential(&cred_id))
            .await?;
        // The credential must be registered, and to the user the ceremony
        // (or, for a discoverable one, the answer's user handle) names.
        let expected = c.user_id.clone();
        let Some(row) = row.filter(|r| match (&handle, &expected) {
            (Some(h), _) => user_handle(&r.user_id) == *h,
            (None, Some(uid)) => r.user_id == *uid,
            (None, None) => false,
        }) else {
            let e = refused(
                "passkey.refused",
                "this passkey is not registered here for this account (deleted, another \
                 account's, or another site's)",
            );
            let who = match &expected {
                Some(uid) => {
                    let uid = uid.clone();
                    self.store()
                        .read(move |r| r.user_by_id(&uid))
                        .await?
                        .map(|u| u.username)
                }
                None => None,
            };
            return Err(self
                .refuse_proof(ctx, action, who.as_deref(), deny("unknown_credential"), e)
                .await);
        };
        let who = row.username.clone();
        let reservation = match self.reserve_attempt(self.account_counters(ctx, &who)).await {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("{method} {}", e.code);
                return Err(self.refuse_proof(ctx, action, Some(&who), detail, e).await);
            }
        };
        let mut passkey: Passkey = serde_json::from_str(&row.passkey)
            .map_err(|e| Error::internal(format!("passkey: {e}")))?;
        let verified = if c.kind == "login" {
            let state: DiscoverableAuthentication = serde_json::from_str(&c.state)
                .map_err(|e| Error::internal(format!("state: {e}")))?;
            w.finish_discoverable_authentication_v2(&cred, state, &passkey)
        } else {
            let state: PasskeyAuthentication = serde_json::from_str(&c.state)
                .map_err(|e| Error::internal(format!("state: {e}")))?;
            w.finish_passkey_authentication(&cred, &state)
        };
        let result = match verified {
            Ok(r) => r,
            Err(e) => {
                let reason = webauthn_reason(&e);
                let err = refused(
                    "passkey.refused",
                    &format!("the passkey's answer was refused ({reason})"),
                );
                let detail = format!("{method} passkey={} reason={reason}", row.id);
                return Err(self
                    .refuse_proof(ctx, action, Some(&who), detail, err)
                    .await);
            }
        };
        // webauthn-rs compares the counter with the one in the ceremony's
        // state; the stored one may have moved on since (another sign-in),
        // so compare with it too. A counter that is always 0 is normal.
        let counter = i64::from(result.counter());
        if (counter != 0 || row.counter != 0) && counter <= row.counter {
            let err = refused(
                "passkey.refused",
                "the passkey's answer was refused (possible_cloned_authenticator)",
            );
            let detail = format!(
                "{method} passkey={} reason=possible_cloned_authenticator",
                row.id
            );
            return Err(self
                .refuse_proof(ctx, action, Some(&who), detail, err)
                .await);
        }
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey)
            .map_err(|e| Error::internal(format!("passkey: {e}")))?;
        let uid = row.user_id.clone();
        let user = self
            .store()
            .read(move |r| r.user_by_id(&uid))
            .await?
            .filter(|u| u.disabled_at.is_none());
        let Some(user) = user else {
            let e = refused("passkey.refused", "this account is disabled");
            return Err(self
                .refuse_proof(ctx, action, Some(&who), deny("user_disabled"), e)
                .await);
        };
        Ok(Proof {
            passkey: row,
            json,
            counter,
            user,
            reservation,
        })
    }

    /// A ceremony for the passkeys of `user_id` (second factor or step-up).
    async fn bound_ceremony(
        &self,
        kind: &str,
        user_id: &str,
        session_id: Option<String>,
    ) -> Result<Option<PasskeyCeremony>> {
        let uid = user_id.to_owned();
        let rows = self.store().read(move |r| r.passkeys(Some(&uid))).await?;
        let keys = rows
            .iter()
            .filter_map(|k| serde_json::from_str::<Passkey>(&k.passkey).ok())
            .collect::<Vec<_>>();
        if keys.is_empty() {
            return Ok(None);
        }
        let (rcr, state) = self
            .webauthn()?
            .start_passkey_authentication(&keys)
            .map_err(|e| Error::internal(format!("webauthn: {e}")))?;
        let id = new_secret()?;
        self.new_ceremony(CeremonyRow {
            id_hash: secret_hash(&id),
            kind: kind.into(),
            user_id: Some(user_id.to_owned()),
            name: None,
            session_id,
            state: serde_json::to_string(&state)
                .map_err(|e| Error::internal(format!("state: {e}")))?,
            expires_at: self.clock().now().plus_secs(CEREMONY_TTL_SECS),
        })
        .await?;
        Ok(Some(PasskeyCeremony {
            ceremony_id: id,
            options: serde_json::to_value(&rcr).map_err(|e| Error::internal(format!("{e}")))?,
        }))
    }

    /// After a correct password: the second-factor challenge for a user
    /// who has a passkey, or `None` (the password is enough).
    pub(crate) async fn second_factor_challenge(
        &self,
        user: &UserRow,
    ) -> Result<Option<LoginAnswer>> {
        Ok(self.bound_ceremony("mfa", &user.id, None).await?.map(|c| {
            LoginAnswer::SecondFactor(MfaChallenge {
                mfa_required: true,
                ceremony_id: c.ceremony_id,
                options: c.options,
            })
        }))
    }

    /// `POST /v1/auth/passkeys/login/start`: options for a discoverable
    /// credential (no username).
    pub async fn passkey_login_start(&self, _ctx: &Ctx) -> Result<PasskeyCeremony> {
        self.unsealed()?;
        let (rcr, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| Error::internal(format!("webauthn: {e}")))?;
        let id = new_secret()?;
        self.new_ceremony(CeremonyRow {
            id_hash: secret_hash(&id),
            kind: "login".into(),
            user_id: None,
            name: None,
            session_id: None,
            state: serde_json::to_string(&state)
                .map_err(|e| Error::internal(format!("state: {e}")))?,
            expires_at: self.clock().now().plus_secs(CEREMONY_TTL_SECS),
        })
        .await?;
        Ok(PasskeyCeremony {
            ceremony_id: id,
            options: serde_json::to_value(&rcr).map_err(|e| Error::internal(format!("{e}")))?,
        })
    }

    /// `POST /v1/auth/passkeys/login/finish`: a session for the passkey's
    /// owner, passwordless (a `login` ceremony) or as the second factor
    /// after a password (the `mfa` ceremony of the password login).
    pub async fn passkey_login_finish(
        &self,
        ctx: &Ctx,
        req: FinishPasskeyCeremony,
    ) -> Result<LoginResponse> {
        self.unsealed()?;
        let Some(c) = self
            .take_ceremony(&req.ceremony_id, &["login", "mfa"])
            .await?
        else {
            let e = ceremony_gone("sign-in");
            return Err(self
                .refuse_proof(
                    ctx,
                    "auth.login",
                    None,
                    "method=passkey reason=ceremony_unknown".into(),
                    e,
                )
                .await);
        };
        let (method, note) = if c.kind == "mfa" {
            ("password", "method=password mfa=passkey")
        } else {
            ("passkey", "method=passkey")
        };
        let proof = self
            .prove(ctx, c, req.credential, "auth.login", note)
            .await?;
        let now = self.clock().now();
        let user = proof.user.clone();
        let detail = format!("{note} passkey={}", proof.passkey.id);
        self.open_session_as(
            ctx,
            &user,
            method,
            Factors::passkey(now),
            detail,
            move |w| proof.commit(w, now),
        )
        .await
    }

    /// `POST /v1/auth/mfa/recovery`: a recovery code instead of the passkey,
    /// once, after the password. The ceremony is spent by the attempt.
    pub async fn mfa_recovery(&self, ctx: &Ctx, req: MfaRecovery) -> Result<LoginResponse> {
        self.unsealed()?;
        let note = "method=password mfa=recovery_code";
        let Some(c) = self.take_ceremony(&req.ceremony_id, &["mfa"]).await? else {
            let e = ceremony_gone("sign-in");
            let detail = format!("{note} reason=ceremony_unknown");
            return Err(self.refuse_proof(ctx, "auth.login", None, detail, e).await);
        };
        let uid = c.user_id.clone().unwrap_or_default();
        let user = self
            .store()
            .read(move |r| r.user_by_id(&uid))
            .await?
            .filter(|u| u.disabled_at.is_none());
        let Some(user) = user else {
            let e = refused("passkey.refused", "this account is disabled");
            let detail = format!("{note} reason=user_disabled");
            return Err(self.refuse_proof(ctx, "auth.login", None, detail, e).await);
        };
        let who = user.username.clone();
        let reservation = match self.reserve_attempt(self.account_counters(ctx, &who)).await {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("{note} {}", e.code);
                return Err(self
                    .refuse_proof(ctx, "auth.login", Some(&who), detail, e)
                    .await);
            }
        };
        let hash = secret_hash(&recovery_code::normalize(req.recovery_code.expose_secret()));
        let (uid, now) = (user.id.clone(), self.clock().now());
        let used = self
            .store()
            .write(None, move |w| -> Result<Option<u64>> {
                if !w.use_recovery_code(&uid, &hash, now)? {
                    return Ok(None);
                }
                Ok(Some(w.recovery_codes_left(&uid)?))
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        let Some(left) = used else {
            let e = Error::new(
                Kind::Unauthenticated,
                "auth.recovery_code_invalid",
                "this recovery code is wrong or used already; sign in again with your password \
                 and try another code",
            );
            let detail = format!("{note} reason=recovery_code_invalid");
            return Err(self
                .refuse_proof(ctx, "auth.login", Some(&who), detail, e)
                .await);
        };
        // A recovery code is a second factor proved now: within the step-up
        // window the session may register a new passkey (the way back in).
        let factors = Factors {
            mfa: Some("recovery_code".into()),
            passkey_at: Some(now),
        };
        let detail = format!("{note} recovery_codes_left={left}");
        self.open_session_as(ctx, &user, "password", factors, detail, move |w| {
            Vault::settle_success(w, &reservation, &account_key(&who))
        })
        .await
    }

    /// `POST /v1/auth/passkeys/step-up/start`: a passkey check for the
    /// calling session (before a dangerous action).
    pub async fn step_up_start(&self, ctx: &Ctx) -> Result<PasskeyCeremony> {
        let p = self
            .authorize(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let Principal::User {
            user_id,
            session_id,
            ..
        } = &p
        else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "step-up is for user sessions; service tokens are scoped instead",
            ));
        };
        self.bound_ceremony("step_up", user_id, Some(session_id.clone()))
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "passkey.none",
                    "you have no passkey to confirm with: add one on /ui/account",
                )
            })
    }

    /// `POST /v1/auth/passkeys/step-up/finish`: the calling session has
    /// proved a passkey now.
    pub async fn step_up_finish(&self, ctx: &Ctx, req: FinishPasskeyCeremony) -> Result<()> {
        let p = self
            .authorize(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let session = match &p {
            Principal::User { session_id, .. } => session_id.clone(),
            _ => String::new(),
        };
        let c = self
            .take_ceremony(&req.ceremony_id, &["step_up"])
            .await?
            .filter(|c| !session.is_empty() && c.session_id.as_deref() == Some(&session));
        let Some(c) = c else {
            let e = self.entry(
                ctx,
                Some(&p),
                "auth.step_up",
                "auth/passkeys",
                Outcome::Denied,
                Some("reason=ceremony_unknown".into()),
            );
            self.audit(ctx, e).await?;
            return Err(ceremony_gone("passkey check"));
        };
        let proof = self
            .prove(ctx, c, req.credential, "auth.step_up", "step_up")
            .await?;
        let now = self.clock().now();
        let detail = Some(format!("passkey={}", proof.passkey.id));
        self.write_as(
            ctx,
            Some(&p),
            "auth.step_up",
            "auth/passkeys",
            detail,
            move |w| {
                proof.commit(w, now)?;
                if !w.set_session_passkey_at(&session, now)? {
                    return Err(Error::new(
                        Kind::Unauthenticated,
                        "auth.session_expired",
                        "the session has ended; sign in again",
                    ));
                }
                Ok(())
            },
        )
        .await
    }
}
