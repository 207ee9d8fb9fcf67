//! Passkeys (WebAuthn Level 3, with `webauthn-rs`): a signed-in user
//! registers discoverable passkeys; anyone signs in with one, no username
//! needed. The relying-party id is the host of the server's public origin
//! (in dev mode on loopback: `localhost`, since WebAuthn refuses IP
//! addresses), the origin is that origin.
//!
//! Ceremony state lives only in the database, is taken (deleted) before the
//! answer is verified, so a replayed answer finds nothing, and expires
//! after 5 minutes. Sign counters are stored with compare-and-swap; a
//! counter that goes backwards is refused as `possible_cloned_authenticator`.
//! Every event is audited.

mod assertion;

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use vault_core::api::{
    FinishPasskeyCeremony, PasskeyCeremony, PasskeyInfo, PasskeyList, PasskeyReset,
    RegisteredPasskey, RenamePasskey, StartPasskeyRegistration,
};
use vault_core::audit::Outcome;
use vault_core::crypto::random;
use vault_core::identity::recovery_code;
use vault_core::secret::SecretText;
use webauthn_rs::prelude::{
    Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::service::identity::auth::role_requires_mfa;
use crate::service::identity::{
    guard_admin_target, is_admin, new_id, new_secret, secret_hash, shown, user_not_found, username,
};
use crate::service::{Action, Ctx, Error, Kind, Principal, Result, Vault};
use crate::store::passkeys::{CeremonyRow, PasskeyRow};

/// How long a ceremony may be finished, seconds.
pub const CEREMONY_TTL_SECS: i64 = 300;

/// The relying party, made once the public origin is known (at start, after
/// the listener is bound).
#[derive(Default)]
pub struct PasskeyState {
    webauthn: OnceLock<Webauthn>,
}

impl std::fmt::Debug for PasskeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyState").finish_non_exhaustive()
    }
}

/// The WebAuthn origin for a public origin: itself, except that a loopback
/// IP address becomes `localhost` (WebAuthn RP ids are domains).
pub fn webauthn_origin(public_origin: &str) -> String {
    for scheme in ["http", "https"] {
        for ip in ["127.0.0.1", "[::1]"] {
            if let Some(rest) = public_origin.strip_prefix(&format!("{scheme}://{ip}")) {
                return format!("{scheme}://localhost{rest}");
            }
        }
    }
    public_origin.to_owned()
}

/// The WebAuthn user handle of a user: 16 bytes of SHA-256 of the user id
/// (stable, reveals nothing).
fn user_handle(user_id: &str) -> Uuid {
    let d = Sha256::digest(user_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

/// A user's new recovery codes (shown once; only their hashes are kept).
fn new_recovery_codes() -> Result<Vec<SecretText>> {
    (0..recovery_code::COUNT)
        .map(|_| {
            random::bytes::<10>()
                .map(|b| SecretText::new(recovery_code::encode(&b)))
                .map_err(|e| Error::internal(format!("random: {e}")))
        })
        .collect()
}

/// A passkey's label: 1-64 characters, no control characters.
fn passkey_name(raw: &str) -> Result<String> {
    let name = raw.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::bad(
            "passkey.invalid_name",
            "a passkey's name is 1-64 characters, no control characters",
        ));
    }
    Ok(name)
}

fn refused(code: &'static str, message: &str) -> Error {
    Error::new(Kind::Unauthenticated, code, message)
}

fn info(p: &PasskeyRow) -> PasskeyInfo {
    PasskeyInfo {
        id: p.id.clone(),
        name: p.name.clone(),
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

impl Vault {
    /// Sets the relying party from the public origin; the first call wins.
    pub fn set_passkey_origin(&self, public_origin: &str) -> std::result::Result<(), String> {
        let origin = webauthn_origin(public_origin);
        let url = Url::parse(&origin).map_err(|e| format!("passkey origin {origin}: {e}"))?;
        let rp_id = url
            .host_str()
            .ok_or_else(|| format!("passkey origin {origin} has no host"))?
            .to_owned();
        let w = WebauthnBuilder::new(&rp_id, &url)
            .and_then(|b| b.rp_name("vault").build())
            .map_err(|e| format!("passkeys: relying party {rp_id}: {e}"))?;
        let _ = self.passkey_state().webauthn.set(w);
        Ok(())
    }

    fn webauthn(&self) -> Result<&Webauthn> {
        self.passkey_state().webauthn.get().ok_or_else(|| {
            Error::new(
                Kind::Sealed,
                "passkey.unavailable",
                "passkeys need server.public_url with a domain name (WebAuthn does not accept \
                 IP addresses); see docs/passkeys.md",
            )
        })
    }

    async fn audit_passkey(
        &self,
        ctx: &Ctx,
        p: Option<&Principal>,
        action: &str,
        outcome: Outcome,
        detail: String,
    ) -> Result<()> {
        let e = self.entry(ctx, p, action, "auth/passkeys", outcome, Some(detail));
        self.audit(ctx, e).await
    }

    async fn new_ceremony(&self, row: CeremonyRow) -> Result<()> {
        let now = self.clock().now();
        self.store()
            .write(None, move |w| -> Result<()> {
                Ok(w.insert_ceremony(&row, now)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))?
    }

    /// Takes a ceremony of one of `kinds` (deleted before anything is
    /// verified, whatever its kind: a ceremony id is tried once).
    async fn take_ceremony(&self, id: &str, kinds: &[&str]) -> Result<Option<CeremonyRow>> {
        let hash = secret_hash(id);
        let now = self.clock().now();
        let row = self
            .store()
            .write(None, move |w| -> Result<Option<CeremonyRow>> {
                Ok(w.take_ceremony(&hash)?)
            })
            .await
            .map_err(|e| Error::internal(format!("write failed: {e}")))??;
        Ok(row.filter(|c| kinds.contains(&c.kind.as_str()) && c.expires_at > now))
    }

    fn user_of(p: &Principal) -> Result<(String, String)> {
        match p {
            Principal::User {
                user_id, username, ..
            } => Ok((user_id.clone(), username.clone())),
            _ => Err(Error::new(
                Kind::Forbidden,
                "auth.not_a_session",
                "passkeys belong to users: sign in as one",
            )),
        }
    }

    /// `POST /v1/auth/passkeys/register/start`: options for a discoverable
    /// credential with user verification (`residentKey: required`).
    pub async fn passkey_register_start(
        &self,
        ctx: &Ctx,
        req: StartPasskeyRegistration,
    ) -> Result<PasskeyCeremony> {
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let (user_id, username) = Self::user_of(&p)?;
        let name = passkey_name(&req.name)?;
        let uid = user_id.clone();
        let existing = self.store().read(move |r| r.passkeys(Some(&uid))).await?;
        let exclude = existing
            .iter()
            .filter_map(|k| serde_json::from_str::<Passkey>(&k.passkey).ok())
            .map(|k| k.cred_id().clone())
            .collect::<Vec<_>>();
        let (ccr, state) = self
            .webauthn()?
            .start_passkey_registration(user_handle(&user_id), &username, &username, Some(exclude))
            .map_err(|e| Error::internal(format!("webauthn: {e}")))?;
        // webauthn-rs asks for a non-discoverable credential by default; a
        // passkey that signs in without a username must be discoverable
        // (the answer is checked against the state, which does not care).
        let mut options =
            serde_json::to_value(&ccr).map_err(|e| Error::internal(format!("{e}")))?;
        if let Some(sel) = options
            .get_mut("publicKey")
            .and_then(|p| p.get_mut("authenticatorSelection"))
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        let id = new_secret()?;
        self.new_ceremony(CeremonyRow {
            id_hash: secret_hash(&id),
            kind: "register".into(),
            user_id: Some(user_id),
            name: Some(name),
            session_id: None,
            state: serde_json::to_string(&state)
                .map_err(|e| Error::internal(format!("state: {e}")))?,
            expires_at: self.clock().now().plus_secs(CEREMONY_TTL_SECS),
        })
        .await?;
        Ok(PasskeyCeremony {
            ceremony_id: id,
            options,
        })
    }

    /// `POST /v1/auth/passkeys/register/finish`: verifies and stores the
    /// passkey for the caller.
    pub async fn passkey_register_finish(
        &self,
        ctx: &Ctx,
        req: FinishPasskeyCeremony,
    ) -> Result<RegisteredPasskey> {
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let (user_id, _) = Self::user_of(&p)?;
        let ceremony = self.take_ceremony(&req.ceremony_id, &["register"]).await?;
        let Some(c) = ceremony.filter(|c| c.user_id.as_deref() == Some(user_id.as_str())) else {
            self.audit_passkey(
                ctx,
                Some(&p),
                "passkey.register",
                Outcome::Denied,
                "reason=ceremony_unknown".into(),
            )
            .await?;
            return Err(Error::bad(
                "passkey.ceremony_invalid",
                "this registration is unknown, used or expired (5 minutes): start again",
            ));
        };
        let state: PasskeyRegistration =
            serde_json::from_str(&c.state).map_err(|e| Error::internal(format!("state: {e}")))?;
        let cred: RegisterPublicKeyCredential = serde_json::from_value(req.credential)
            .map_err(|_| Error::bad("passkey.invalid_credential", "not a WebAuthn registration"))?;
        let passkey = match self.webauthn()?.finish_passkey_registration(&cred, &state) {
            Ok(k) => k,
            Err(e) => {
                self.audit_passkey(
                    ctx,
                    Some(&p),
                    "passkey.register",
                    Outcome::Denied,
                    format!("reason={}", webauthn_reason(&e)),
                )
                .await?;
                return Err(Error::bad(
                    "passkey.registration_refused",
                    format!(
                        "the authenticator's answer was refused ({})",
                        webauthn_reason(&e)
                    ),
                ));
            }
        };
        let row = PasskeyRow {
            id: new_id("pk_")?,
            user_id: user_id.clone(),
            username: String::new(),
            name: c.name.unwrap_or_default(),
            credential_id: passkey.cred_id().to_vec(),
            passkey: serde_json::to_string(&passkey)
                .map_err(|e| Error::internal(format!("passkey: {e}")))?,
            counter: 0,
            created_at: self.clock().now(),
            last_used_at: None,
        };
        let out = info(&row);
        // Recovery codes come with the first passkey (none yet, and no
        // unused codes): made here, kept only if the transaction says so.
        let codes = new_recovery_codes()?;
        let hashes: Vec<Vec<u8>> = codes
            .iter()
            .map(|c| secret_hash(&recovery_code::normalize(c.expose_secret())))
            .collect();
        let (uid, now) = (user_id.clone(), self.clock().now());
        let session = match &p {
            Principal::User { session_id, .. } => session_id.clone(),
            _ => String::new(),
        };
        let detail = Some(format!("passkey={} name={:?}", row.id, row.name));
        let first = self
            .write_as(
                ctx,
                Some(&p),
                "passkey.register",
                "auth/passkeys",
                detail,
                move |w| {
                    let first =
                        w.passkeys(Some(&uid))?.is_empty() && w.recovery_codes_left(&uid)? == 0;
                    if !w.insert_passkey(&row)? {
                        return Err(Error::conflict(
                            "passkey.exists",
                            "this authenticator's credential is registered already",
                        ));
                    }
                    if first {
                        w.replace_recovery_codes(&uid, &hashes, now)?;
                    }
                    // Making it proved the passkey (with user verification)
                    // in this session, now.
                    w.set_session_passkey_at(&session, now)?;
                    Ok(first)
                },
            )
            .await?;
        if first {
            let e = self.entry(
                ctx,
                Some(&p),
                "passkey.recovery_codes",
                "auth/passkeys",
                Outcome::Success,
                Some(format!("{} one-time codes issued", codes.len())),
            );
            self.audit(ctx, e).await?;
        }
        Ok(RegisteredPasskey {
            passkey: out,
            recovery_codes: first.then_some(codes),
        })
    }

    /// `GET /v1/auth/passkeys`: the caller's passkeys.
    pub async fn passkeys(&self, ctx: &Ctx) -> Result<PasskeyList> {
        self.audited(ctx, Action::SelfService, "auth/passkeys", |p| async move {
            let (uid, _) = Self::user_of(&p)?;
            let rows = self.store().read(move |r| r.passkeys(Some(&uid))).await?;
            Ok(PasskeyList {
                passkeys: rows.iter().map(info).collect(),
            })
        })
        .await
    }

    /// `DELETE /v1/auth/passkeys/{id}`: removes one of the caller's passkeys.
    pub async fn delete_passkey(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let (uid, _) = Self::user_of(&p)?;
        let id = id.to_owned();
        let detail = format!("passkey={id}");
        let settings = self.identity().clone();
        let res = self
            .write_as(
                ctx,
                Some(&p),
                "passkey.delete",
                "auth/passkeys",
                Some(detail.clone()),
                move |w| {
                    if !w.delete_passkey(&uid, &id)? {
                        return Err(Error::not_found(
                            "passkey.not_found",
                            "no such passkey of yours",
                        ));
                    }
                    // In the same transaction: the last passkey of someone
                    // who holds a role that requires one stays (an admin
                    // can reset it).
                    if w.passkeys(Some(&uid))?.is_empty() {
                        let roles = w.roles()?;
                        if let Some(b) = w
                            .bindings(Some(&uid))?
                            .into_iter()
                            .find(|b| role_requires_mfa(&b.role, &roles, &settings))
                        {
                            return Err(Error::conflict(
                                "passkey.last_required",
                                format!(
                                    "this is your last passkey and your role {} requires a \
                                     second factor: add another passkey first, or ask an \
                                     administrator to reset your passkeys",
                                    b.role
                                ),
                            ));
                        }
                    }
                    Ok(())
                },
            )
            .await;
        if let Err(e) = &res
            && e.code == "passkey.last_required"
        {
            let entry = self.entry(
                ctx,
                Some(&p),
                "passkey.delete",
                "auth/passkeys",
                Outcome::Denied,
                Some(format!("{detail}; {}", e.code)),
            );
            self.audit(ctx, entry).await?;
        }
        res
    }

    /// `PATCH /v1/auth/passkeys/{id}`: renames one of the caller's passkeys.
    pub async fn rename_passkey(
        &self,
        ctx: &Ctx,
        id: &str,
        req: RenamePasskey,
    ) -> Result<PasskeyInfo> {
        let p = self
            .authorize_sensitive(ctx, Action::SelfService, "auth/passkeys")
            .await?;
        let (uid, _) = Self::user_of(&p)?;
        let name = passkey_name(&req.name)?;
        let id = id.to_owned();
        let detail = Some(format!("passkey={id} name={name:?}"));
        self.write_as(
            ctx,
            Some(&p),
            "passkey.rename",
            "auth/passkeys",
            detail,
            move |w| {
                if !w.rename_passkey(&uid, &id, &name)? {
                    return Err(Error::not_found(
                        "passkey.not_found",
                        "no such passkey of yours",
                    ));
                }
                w.passkeys(Some(&uid))?
                    .iter()
                    .find(|k| k.id == id)
                    .map(info)
                    .ok_or_else(|| Error::internal("renamed passkey vanished"))
            },
        )
        .await
    }

    /// `POST /v1/users/{name}/passkeys/reset`: an administrator removes a
    /// user's passkeys and recovery codes (a lost device) and ends the
    /// user's sessions; the next registration issues new codes.
    pub async fn reset_passkeys(&self, ctx: &Ctx, user: &str) -> Result<PasskeyReset> {
        let resource = format!("users/{}", shown(user));
        let p = self
            .authorize_sensitive(ctx, Action::UsersManage, &resource)
            .await?;
        let name = username(user)?.as_str().to_owned();
        let now = self.clock().now();
        let who = user.to_owned();
        let admin = is_admin(&p);
        self.write_as(
            ctx,
            Some(&p),
            "user.passkeys_reset",
            &resource,
            Some("passkeys and recovery codes removed; sessions revoked".into()),
            move |w| {
                let u = w.user_by_name(&name)?.ok_or_else(|| user_not_found(&who))?;
                // An administrator's second factor is reset by an
                // administrator only (as with disabling one).
                guard_admin_target(w, admin, &u.id)?;
                let passkeys_removed = w.reset_passkeys(&u.id)?;
                let sessions_revoked = w.revoke_sessions(Some(&u.id), now)?;
                Ok(PasskeyReset {
                    passkeys_removed,
                    sessions_revoked,
                })
            },
        )
        .await
    }
}

/// A stable reason code for a refused WebAuthn answer.
fn webauthn_reason(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::InvalidRPOrigin => "wrong_origin",
        WebauthnError::InvalidRPIDHash => "wrong_rp_id",
        WebauthnError::MismatchedChallenge => "wrong_challenge",
        WebauthnError::CredentialPossibleCompromise => "possible_cloned_authenticator",
        WebauthnError::UserNotVerified | WebauthnError::UserNotPresent => "user_not_verified",
        WebauthnError::InvalidClientDataType => "wrong_ceremony_type",
        _ => "invalid_answer",
    }
}
