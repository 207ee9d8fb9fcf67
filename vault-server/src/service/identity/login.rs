//! Password login and logout, who am I, and changing one's own password.
//! Password hashes run off the async runtime, bounded by a semaphore; unknown
//! users cost a dummy hash, so timing does not tell who exists.

use super::*;
use vault_core::api::LoginAnswer;
use vault_core::session::Factors;

impl Vault {
    pub(super) async fn hash_new_password(&self, pw: SecretText) -> Result<String> {
        let params = self.identity().password_params;
        let _permit = self
            .inner_hashes()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("hash limiter closed"))?;
        tokio::task::spawn_blocking(move || hash_password(&pw, params))
            .await
            .map_err(|e| Error::internal(format!("hash task: {e}")))?
            .map_err(|e| Error::internal(format!("hash: {e}")))
    }

    pub(super) async fn verify_off_runtime(
        &self,
        pw: SecretText,
        phc: Option<String>,
    ) -> Result<bool> {
        let real = phc.is_some();
        let phc = match phc {
            Some(h) => h,
            None => self.dummy_hash().await?,
        };
        let _permit = self
            .inner_hashes()
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("hash limiter closed"))?;
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
            .await
            .map_err(|e| Error::internal(format!("verify task: {e}")))?;
        Ok(ok && real)
    }

    pub(super) async fn dummy_hash(&self) -> Result<String> {
        let params = self.identity().password_params;
        self.identity_state()
            .dummy
            .get_or_try_init(|| async move {
                let b = random::bytes::<16>().map_err(|e| Error::internal(format!("{e}")))?;
                let pw = SecretText::new(hex::encode(b));
                tokio::task::spawn_blocking(move || hash_password(&pw, params))
                    .await
                    .map_err(|e| Error::internal(format!("hash task: {e}")))?
                    .map_err(|e| Error::internal(format!("hash: {e}")))
            })
            .await
            .cloned()
    }

    pub(super) fn inner_hashes(&self) -> Arc<Semaphore> {
        self.identity_state().hashes.clone()
    }

    /// `POST /v1/auth/login`: the same answer, after comparable work, for an
    /// unknown user, a wrong password and a disabled account. Each attempt
    /// is reserved on the account's and the address's throttle before the
    /// password is hashed; a password over 1,024 bytes is refused unhashed.
    ///
    /// A user who has a passkey gets a second-factor challenge instead of a
    /// session (the password attempt is settled; the passkey's is reserved
    /// again when it is answered).
    pub async fn login(&self, ctx: &Ctx, req: LoginRequest) -> Result<LoginAnswer> {
        self.unsealed()?;
        let name = Username::parse(&req.username).ok();
        let shown = name
            .as_ref()
            .map_or_else(|| "(invalid)".to_owned(), ToString::to_string);
        let acct_key = format!("user:{shown}");
        let settings = Arc::new(self.identity().clone());
        let mut entry = self.entry(ctx, None, "auth.login", "auth", Outcome::Denied, None);
        // A name that is no account is not written down: people paste
        // passwords into the username field. A keyed fingerprint still
        // lets a reviewer see the same unknown name tried again.
        let lookup = name.clone();
        let known = match lookup {
            Some(n) => {
                self.store()
                    .read(move |r| Ok(r.user_by_name(n.as_str())?.is_some()))
                    .await?
            }
            None => false,
        };
        entry.actor = if known {
            format!("user:{shown}")
        } else {
            format!(
                "user:unknown-{}",
                self.identity_state().name_fingerprint(&req.username)
            )
        };
        if let Err(e) = check_password_length(&req.password) {
            entry.detail = Some("password.too_long".into());
            self.audit(ctx, entry).await?;
            return Err(password_error(&e));
        }
        let reservation = match self
            .reserve_attempt(vec![
                Counter {
                    key: acct_key.clone(),
                    policy: settings.throttle,
                    what: "account",
                },
                Counter {
                    key: format!("ip:{}", ctx.source),
                    policy: settings.address_throttle(),
                    what: "address",
                },
            ])
            .await
        {
            Ok(r) => r,
            Err(e) => {
                entry.detail = Some(format!("{}: {}", e.code, e.message));
                self.audit(ctx, entry).await?;
                return Err(e);
            }
        };
        let (lookup, s2) = (name.clone(), settings.clone());
        let (user, grants_policy) = self
            .store()
            .read(move |r| {
                let user = match &lookup {
                    Some(n) => r.user_by_name(n.as_str())?,
                    None => None,
                };
                let gp = match &user {
                    Some(u) => Some(resolve(&r.bindings(Some(&u.id))?, &r.roles()?, &s2)),
                    None => None,
                };
                Ok((user, gp))
            })
            .await?;
        let enabled = user.as_ref().filter(|u| u.disabled_at.is_none());
        let phc = user.as_ref().and_then(|u| u.password_hash.clone());
        let rehash = phc
            .as_deref()
            .is_some_and(|h| needs_rehash(h, settings.password_params));
        let presented = rehash.then(|| req.password.clone());
        let verified = self.verify_off_runtime(req.password, phc).await?;
        let Some(u) = enabled.filter(|_| verified).cloned() else {
            let delay = reservation.next_delay_secs();
            entry.detail = Some(if delay > 0 {
                format!("auth.invalid_credentials; auth.throttled: next attempt delayed {delay}s")
            } else {
                "auth.invalid_credentials".to_owned()
            });
            self.audit(ctx, entry).await?;
            return Err(invalid_credentials());
        };
        // Upgrade a hash made with older parameters while the password is at hand.
        let new_hash = match presented {
            Some(pw) => Some(self.hash_new_password(pw).await?),
            None => None,
        };
        let (_, policy) = grants_policy.unwrap_or_else(|| (Vec::new(), settings.session));
        let uid = u.id.clone();
        let mfa = self.second_factor_challenge(&u).await?;
        // With a second factor still to come, the account's failures stay
        // (only this attempt is refunded): a password must not wipe the
        // count of failed passkey answers and recovery codes.
        let clear = if mfa.is_some() {
            String::new()
        } else {
            acct_key
        };
        let settle = move |w: &mut dyn Writer| -> Result<()> {
            if let Some(h) = &new_hash {
                w.set_password_hash(&uid, h)?;
            }
            Vault::settle_success(w, &reservation, &clear)
        };
        if let Some(challenge) = mfa {
            entry.action = "auth.mfa_challenge".into();
            entry.outcome = Outcome::Success;
            entry.detail = Some("method=password; the account's passkey is required".into());
            ctx.audited.store(true, Ordering::Relaxed);
            self.store()
                .write(Some(entry), move |w| settle(w))
                .await??;
            self.metrics().audit_records.inc();
            return Ok(challenge);
        }
        self.open_session(
            ctx,
            &u,
            ("password", Factors::default()),
            policy,
            entry,
            settle,
        )
        .await
        .map(LoginAnswer::Session)
    }

    /// Opens a session for `user`, who proved who they are by `method`
    /// (`oidc`, `passkey`, `password` with a second factor) and `factors`:
    /// the session limits of the roles they hold now, and the `auth.login`
    /// record with `detail`; `also` runs in the same transaction.
    pub(crate) async fn open_session_as<F>(
        &self,
        ctx: &Ctx,
        user: &UserRow,
        method: &str,
        factors: Factors,
        detail: String,
        also: F,
    ) -> Result<LoginResponse>
    where
        F: FnOnce(&mut dyn Writer) -> Result<()> + Send + 'static,
    {
        let settings = Arc::new(self.identity().clone());
        let uid = user.id.clone();
        let policy = self
            .store()
            .read(move |r| Ok(resolve(&r.bindings(Some(&uid))?, &r.roles()?, &settings).1))
            .await?;
        let mut entry = self.entry(
            ctx,
            None,
            "auth.login",
            "auth",
            Outcome::Denied,
            Some(detail),
        );
        entry.actor = format!("user:{}", user.username);
        self.open_session(ctx, user, (method, factors), policy, entry, also)
            .await
    }

    /// Ends every way of proving identity (password, SSO, passkey): stores
    /// a new session for `user`, made by `method` with `factors` (the
    /// second factor and passkey time that roles requiring MFA and step-up
    /// look at), and writes the `auth.login` success record (`entry`) with
    /// it, plus `also` (e.g. clearing a throttle) in the same transaction.
    pub(crate) async fn open_session<F>(
        &self,
        ctx: &Ctx,
        user: &UserRow,
        (method, factors): (&str, Factors),
        policy: vault_core::session::SessionPolicy,
        mut entry: vault_core::audit::AuditEntry,
        also: F,
    ) -> Result<LoginResponse>
    where
        F: FnOnce(&mut dyn Writer) -> Result<()> + Send + 'static,
    {
        let now = self.clock().now();
        let (id, token, hash) =
            Token::generate().map_err(|e| Error::internal(format!("token: {e}")))?;
        let row = SessionRow {
            id: id.as_str().to_owned(),
            hash: hash.to_vec(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            created_at: now,
            last_used_at: now,
            revoked_at: None,
            source: ctx.source.clone(),
            method: method.into(),
            mfa: factors.mfa,
            passkey_at: factors.passkey_at,
        };
        entry.outcome = Outcome::Success;
        entry.token_id = Some(row.id.clone());
        // A caller's own detail (SSO: provider, subject, groups) names the
        // method itself.
        entry.detail = Some(
            entry
                .detail
                .take()
                .unwrap_or_else(|| format!("method={method}")),
        );
        ctx.audited.store(true, Ordering::Relaxed);
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                w.insert_session(&row)?;
                also(w)
            })
            .await??;
        self.metrics().audit_records.inc();
        Ok(LoginResponse {
            token,
            session_id: id.as_str().to_owned(),
            username: user.username.clone(),
            expires_at: now.plus_secs(policy.absolute_secs),
            idle_timeout_secs: policy.idle_secs,
        })
    }

    /// `POST /v1/auth/logout`: revokes the calling session, or the calling
    /// service token (a CI job's, when it is done).
    pub async fn logout(&self, ctx: &Ctx) -> Result<()> {
        let p = self.authorize(ctx, Action::SelfService, "auth").await?;
        if let Principal::Service { token_id, .. } = &p {
            let (id, now) = (token_id.clone(), self.clock().now());
            return self
                .write_as(
                    ctx,
                    Some(&p),
                    "token.revoke",
                    &format!("tokens/{id}"),
                    Some("logout".into()),
                    move |w| {
                        w.revoke_service_token(&id, now)?;
                        Ok(())
                    },
                )
                .await;
        }
        let Principal::User { session_id, .. } = &p else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "a root token cannot log out; revoke it with DELETE /v1/tokens/{id}",
            ));
        };
        let (id, now) = (session_id.clone(), self.clock().now());
        self.write_as(
            ctx,
            Some(&p),
            "session.revoke",
            &format!("sessions/{id}"),
            Some("logout".into()),
            move |w| {
                w.revoke_session(&id, now)?;
                Ok(())
            },
        )
        .await
    }

    /// `GET /v1/auth/whoami`.
    pub async fn whoami(&self, ctx: &Ctx) -> Result<WhoAmI> {
        self.audited(ctx, Action::SelfService, "auth/whoami", |p| async move {
            let grants = |g: &[Grant]| {
                g.iter()
                    .map(|g| GrantInfo {
                        role: g.role.name.clone(),
                        scope: g.scope.to_string(),
                    })
                    .collect::<Vec<_>>()
            };
            Ok(match p {
                Principal::Root { token_id } => WhoAmI {
                    kind: "root".into(),
                    name: "root".into(),
                    id: token_id,
                    session_id: None,
                    login_method: None,
                    grants: vec![GrantInfo {
                        role: "admin".into(),
                        scope: "*/*".into(),
                    }],
                    emergency_until: None,
                    second_factor: None,
                    withheld: Vec::new(),
                },
                Principal::User {
                    user_id,
                    username,
                    session_id,
                    grants: g,
                    emergency_until,
                    factors,
                    withheld,
                    ..
                } => {
                    let sid = session_id.clone();
                    let method = self
                        .store()
                        .read(move |r| Ok(r.session(&sid)?.map(|s| s.method)))
                        .await?;
                    WhoAmI {
                        kind: "user".into(),
                        name: username,
                        id: user_id,
                        session_id: Some(session_id),
                        login_method: method,
                        grants: grants(&g),
                        emergency_until,
                        second_factor: factors.mfa,
                        withheld: withheld
                            .iter()
                            .map(|g| WithheldGrant {
                                role: g.role.name.clone(),
                                scope: g.scope.to_string(),
                                reason: format!(
                                    "role {} requires a second factor and this session's login \
                                     had none: sign in with a passkey (vault login --web), or \
                                     through SSO with MFA",
                                    g.role.name
                                ),
                            })
                            .collect(),
                    }
                }
                Principal::Service {
                    token_id,
                    name,
                    grants: g,
                    ..
                } => WhoAmI {
                    kind: "service_token".into(),
                    name,
                    id: token_id,
                    session_id: None,
                    login_method: None,
                    grants: grants(&g),
                    emergency_until: None,
                    second_factor: None,
                    withheld: Vec::new(),
                },
            })
        })
        .await
    }

    /// `POST /v1/auth/password`: checks the current password, stores the new
    /// one and ends every session of the user.
    pub async fn change_password(&self, ctx: &Ctx, req: ChangePassword) -> Result<()> {
        let p = self
            .authorize(ctx, Action::SelfService, "auth/password")
            .await?;
        let Principal::User {
            user_id,
            username: who,
            ..
        } = &p
        else {
            return Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "only a user session can change its password",
            ));
        };
        let resource = format!("users/{who}");
        let deny = |code: &str| {
            self.entry(
                ctx,
                Some(&p),
                "user.password_change",
                &resource,
                Outcome::Denied,
                Some(code.to_owned()),
            )
        };
        let name = username(who)?;
        // Refuse what cannot be right before any hashing, and check the
        // current password under the account's login throttle: a stolen
        // session must not become a password-guessing oracle.
        if let Err(e) = check_password_length(&req.current_password)
            .and_then(|()| check_password(&req.new_password, &name))
        {
            let e = password_error(&e);
            self.audit(ctx, deny(e.code)).await?;
            return Err(e);
        }
        let acct_key = format!("user:{name}");
        let reservation = match self
            .reserve_attempt(vec![Counter {
                key: acct_key.clone(),
                policy: self.identity().throttle,
                what: "account",
            }])
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.audit(ctx, deny(e.code)).await?;
                return Err(e);
            }
        };
        let uid = user_id.clone();
        let row = self
            .store()
            .read(move |r| r.user_by_id(&uid))
            .await?
            .ok_or_else(|| user_not_found(who))?;
        if !self
            .verify_off_runtime(req.current_password, row.password_hash.clone())
            .await?
        {
            self.audit(ctx, deny("auth.invalid_credentials")).await?;
            return Err(invalid_credentials());
        }
        let hash = self.hash_new_password(req.new_password).await?;
        let (uid, now) = (user_id.clone(), self.clock().now());
        self.write_as(
            ctx,
            Some(&p),
            "user.password_change",
            &resource,
            Some("sessions revoked".into()),
            move |w| {
                w.set_password_hash(&uid, &hash)?;
                w.revoke_sessions(Some(&uid), now)?;
                Vault::settle_success(w, &reservation, &acct_key)
            },
        )
        .await
    }

    // ---- users ----------------------------------------------------------
}
