//! Init, unseal, seal and root-key rotation.
//!
//! The unseal key protects the root key; it comes from Shamir shares, a
//! passphrase (Argon2id, run off the async runtime) or a key file. While
//! sealed nothing secret is in memory; sealing drops (and so wipes) the root
//! key, the unseal key, the audit signing key and every cached KEK.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use subtle::ConstantTimeEq as _;
use vault_core::api::{InitResponse, RootKeyStatus, SealStatus, UnsealMode, UnsealRequest};
use vault_core::audit::{AuditSigningKey, Outcome};
use vault_core::crypto::{
    PassphraseParams, RootKey, UnsealKey, WrappedKek, WrappedRootKey, derive_unseal_key,
    encode_key_file, inspect_share, parse_key_file, shamir_combine, shamir_split,
};
use vault_core::identity::{Username, check_password, check_password_length};
use vault_core::names::ProjectName;
use vault_core::secret::SecretText;
use vault_core::session::ThrottlePolicy;

use super::{Action, Ctx, Error, Kind, Result, SealState, Unsealed, Vault};
use crate::store::SealConfigRow;

/// Label under which the audit signing key is wrapped by the root key.
pub const AUDIT_KEY_LABEL: &str = "audit-signing-key";
/// Label of the published audit verifying key.
pub const AUDIT_PUBLIC_LABEL: &str = "audit-public-key";

/// Label of the marker that every secret's head MAC has been filled (set at
/// init, or by the first unseal after the upgrade that added head MACs);
/// from then on a missing MAC is an integrity failure.
pub const SECRET_HEADS_LABEL: &str = "secret-head-macs";

/// Label of the public commitments to the Shamir shares made at init.
pub const SHARE_COMMITMENTS_LABEL: &str = "unseal-share-commitments";

/// Unseal throttle per source address: 3 free failures, then 1 s doubling to
/// 5 minutes; forgotten after an hour without a failure.
pub const UNSEAL_THROTTLE: ThrottlePolicy = ThrottlePolicy {
    free_failures: 3,
    base_delay_secs: 1,
    max_delay_secs: 300,
    reset_after_secs: 3600,
};

/// A wrong key, in the words of the vault's unseal mode.
pub(crate) fn unseal_failed_for(mode: &str) -> Error {
    let what = match mode {
        "shamir" => "the shares given do not rebuild this vault's key; the count starts again",
        "passphrase" => "wrong passphrase",
        _ => "the key file does not match this vault",
    };
    Error::bad("sys.unseal_failed", format!("unseal failed: {what}"))
}

/// Writes a file readable by its owner only; refuses to overwrite unless
/// `replace` (then the old file is replaced atomically by a rename).
pub(crate) fn write_private(path: &Path, text: &SecretText, replace: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let target = if replace {
        path.with_extension("new")
    } else {
        path.to_path_buf()
    };
    if replace {
        let _ = std::fs::remove_file(&target);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)?;
    f.write_all(text.expose_secret().as_bytes())?;
    f.sync_all()?;
    if replace {
        std::fs::rename(&target, path)?;
    }
    Ok(())
}

impl Vault {
    /// `GET /v1/sys/seal-status`.
    pub async fn seal_status(&self) -> Result<SealStatus> {
        let cfg = self.store().read(|r| r.seal_config()).await?;
        let progress = match &*self
            .inner
            .state
            .read()
            .map_err(|_| Error::internal("poisoned"))?
        {
            SealState::Sealed { shares, .. } => u8::try_from(shares.len()).unwrap_or(u8::MAX),
            _ => 0,
        };
        Ok(SealStatus {
            initialized: cfg.is_some(),
            sealed: self.sealed(),
            mode: cfg.as_ref().map(|c| c.mode.clone()),
            threshold: cfg.as_ref().map_or(0, |c| c.threshold),
            progress,
        })
    }

    /// `POST /v1/sys/init`. Open to anyone while uninitialized (as in every
    /// vault); audited. Key-file mode unseals at once.
    pub async fn init(&self, ctx: &Ctx, mode: UnsealMode) -> Result<InitResponse> {
        let res = self.init_inner(ctx, mode).await;
        if let Err(e) = &res {
            let entry = self.entry(
                ctx,
                None,
                "sys.init",
                "sys",
                outcome_of(e),
                Some(e.code.into()),
            );
            self.audit(ctx, entry).await?;
        }
        res
    }

    async fn init_inner(&self, ctx: &Ctx, mode: UnsealMode) -> Result<InitResponse> {
        if self.initialized() {
            return Err(Error::conflict(
                "sys.already_initialized",
                "the vault is already initialized",
            ));
        }
        let now = self.clock().now();
        let root = RootKey::generate(1).map_err(Error::internal)?;
        let (unseal, mode_name, shares_n, threshold, params, shares) = match mode {
            UnsealMode::Shamir { shares, threshold } => {
                let key = UnsealKey::generate().map_err(Error::internal)?;
                let texts = shamir_split(&key, shares, threshold)
                    .map_err(|e| Error::bad("sys.invalid_shares", e.to_string()))?;
                (key, "shamir", shares, threshold, None, texts)
            }
            UnsealMode::Passphrase { passphrase } => {
                // The same strength rules as user passwords: this one
                // protects everything.
                let purpose = Username::parse("vault-unseal").map_err(Error::internal)?;
                check_password(&passphrase, &purpose).map_err(|e| {
                    let why = e.to_string().replace("password", "passphrase");
                    Error::bad("sys.weak_passphrase", format!("unseal {why}"))
                })?;
                let params = PassphraseParams::generate().map_err(Error::internal)?;
                let p2 = params.clone();
                let key = tokio::task::spawn_blocking(move || derive_unseal_key(&passphrase, &p2))
                    .await
                    .map_err(Error::internal)?
                    .map_err(|e| Error::bad("sys.invalid_passphrase", e.to_string()))?;
                let json = serde_json::to_string(&params).map_err(Error::internal)?;
                (key, "passphrase", 1, 1, Some(json), Vec::new())
            }
            UnsealMode::KeyFile => {
                let Some(path) = self.settings().key_file.clone() else {
                    return Err(Error::bad(
                        "sys.no_key_file",
                        "key-file mode needs `unseal.key_file` in the server configuration",
                    ));
                };
                let key = UnsealKey::generate().map_err(Error::internal)?;
                if path.exists() {
                    return Err(Error::conflict(
                        "sys.key_file_exists",
                        "the configured unseal key file already exists; refusing to overwrite it",
                    ));
                }
                let text = encode_key_file(&key);
                write_private(&path, &text, false)
                    .map_err(|e| Error::internal(format!("write key file: {e}")))?;
                (key, "key_file", 1, 1, None, Vec::new())
            }
        };
        let commitments: Vec<u8> = shares
            .iter()
            .map(|t| inspect_share(t).map(|i| i.commitment))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Error::internal)?
            .concat();
        let wrapped_root = unseal.wrap_root(&root).map_err(Error::internal)?;
        let audit_key = AuditSigningKey::generate().map_err(Error::internal)?;
        let audit_wrapped = root
            .wrap_system_secret(AUDIT_KEY_LABEL, &audit_key_bytes(&audit_key))
            .map_err(Error::internal)?;
        let audit_public = audit_key.verifying_key().as_bytes().to_vec();
        let (token, token_text) = super::root::mint("init", now, None)?;
        let cfg = SealConfigRow {
            mode: mode_name.into(),
            shares: shares_n,
            threshold,
            passphrase_params: params,
            wrapped_root: wrapped_root.as_bytes().to_vec(),
            root_version: root.version(),
            created_at: now,
        };
        let entry = self.entry(
            ctx,
            None,
            "sys.init",
            "sys",
            Outcome::Success,
            Some(mode_name.into()),
        );
        ctx.audited
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                if w.seal_config()?.is_some() {
                    return Err(Error::conflict(
                        "sys.already_initialized",
                        "the vault is already initialized",
                    ));
                }
                w.put_seal_config(&cfg)?;
                w.put_system_secret(AUDIT_KEY_LABEL, &audit_wrapped)?;
                w.put_system_value(AUDIT_PUBLIC_LABEL, &audit_public)?;
                w.put_system_value(SECRET_HEADS_LABEL, b"v1")?;
                if !commitments.is_empty() {
                    w.put_system_value(SHARE_COMMITMENTS_LABEL, &commitments)?;
                }
                w.insert_token(&token, now)?;
                Ok(())
            })
            .await
            .map_err(Error::internal)??;
        {
            let mut st = self
                .inner
                .state
                .write()
                .map_err(|_| Error::internal("poisoned"))?;
            *st = SealState::Sealed {
                shares: Vec::new(),
                manual: false,
            };
        }
        tracing::info!(mode = mode_name, "vault initialized");
        if mode_name == "key_file" {
            self.finish_unseal(unseal, root, audit_key)?;
        }
        Ok(InitResponse {
            shares,
            threshold,
            root_token: token_text,
        })
    }

    /// `POST /v1/sys/unseal`. Open to anyone (the shares are the credential);
    /// audited, and failures also logged at WARN. Each attempt is reserved on
    /// its source address's throttle before it runs (3 free failures, then
    /// 1 s doubling to 5 min), so strangers cannot lock out the operators;
    /// attempts run one at a time.
    pub async fn unseal(&self, ctx: &Ctx, req: UnsealRequest) -> Result<SealStatus> {
        let res = match self.reserve_unseal(&ctx.source) {
            Err(e) => Err(e),
            Ok(()) => {
                let res = {
                    let _turn = self.inner.unseal_turn.lock().await;
                    self.unseal_inner(req).await
                };
                self.settle_unseal(&ctx.source, &res);
                res
            }
        };
        let (outcome, detail) = match &res {
            Ok(s) if s.sealed => (
                Outcome::Success,
                Some(format!("progress {}/{}", s.progress, s.threshold)),
            ),
            Ok(_) => (Outcome::Success, Some("unsealed".into())),
            Err(e) => {
                tracing::warn!(source = %ctx.source, code = e.code, "unseal attempt refused");
                (outcome_of(e), Some(e.code.into()))
            }
        };
        let entry = self.entry(ctx, None, "sys.unseal", "sys", outcome, detail);
        self.audit(ctx, entry).await?;
        res
    }

    /// Counts one attempt from `source` as a failure before it runs, or
    /// refuses it with `sys.unseal_throttled` while that source must wait.
    pub(crate) fn reserve_unseal(&self, source: &str) -> Result<()> {
        let now = self.clock().now();
        let mut book = self
            .inner
            .unseal_failures
            .lock()
            .map_err(|_| Error::internal("poisoned"))?;
        // Forget quiet sources so the map stays small.
        if book.len() > 4096 {
            book.retain(|_, (_, t)| now.secs_since(*t) < UNSEAL_THROTTLE.reset_after_secs);
        }
        match UNSEAL_THROTTLE.reserve(book.get(source).copied(), now) {
            Ok(state) => {
                book.insert(source.to_owned(), state);
                Ok(())
            }
            Err(wait) => Err(Error::throttled(
                "sys.unseal_throttled",
                format!("too many failed unseal attempts from this address; try again in {wait} s"),
                wait,
            )),
        }
    }

    /// Keeps the reservation for a wrong key or share; clears the source's
    /// count on success; gives it back for anything else (progress, a
    /// repeated share, a missing field).
    fn settle_unseal(&self, source: &str, res: &Result<SealStatus>) {
        match res {
            Err(e) if matches!(e.code, "sys.unseal_failed" | "sys.invalid_share") => {}
            Ok(s) if !s.sealed => {
                if let Ok(mut book) = self.inner.unseal_failures.lock() {
                    book.remove(source);
                }
            }
            _ => self.refund_unseal(source),
        }
    }

    /// Gives back one reserved attempt of `source`.
    pub(crate) fn refund_unseal(&self, source: &str) {
        if let Ok(mut book) = self.inner.unseal_failures.lock()
            && let Some((n, _)) = book.get_mut(source)
        {
            *n = n.saturating_sub(1);
        }
    }

    /// The seal configuration, or `sys.not_initialized`.
    pub(crate) async fn seal_config_or_refuse(&self) -> Result<SealConfigRow> {
        self.store()
            .read(|r| r.seal_config())
            .await?
            .ok_or_else(|| {
                Error::bad(
                    "sys.not_initialized",
                    "the vault is not initialized: run `vault operator init`",
                )
            })
    }

    /// The unseal key a passphrase gives with the stored Argon2id parameters
    /// (run off the async runtime); a wrong one is `sys.unseal_failed`.
    pub(crate) async fn key_from_passphrase(
        cfg: &SealConfigRow,
        pass: Option<SecretText>,
    ) -> Result<UnsealKey> {
        let pass = pass.ok_or_else(|| {
            Error::bad(
                "sys.passphrase_required",
                "this vault unseals with a passphrase: send `passphrase`",
            )
        })?;
        check_password_length(&pass).map_err(|_| unseal_failed_for("passphrase"))?;
        let params: PassphraseParams =
            serde_json::from_str(cfg.passphrase_params.as_deref().unwrap_or(""))
                .map_err(|e| Error::internal(format!("stored passphrase params: {e}")))?;
        tokio::task::spawn_blocking(move || derive_unseal_key(&pass, &params))
            .await
            .map_err(Error::internal)?
            .map_err(|_| unseal_failed_for("passphrase"))
    }

    async fn unseal_inner(&self, req: UnsealRequest) -> Result<SealStatus> {
        let cfg = self.seal_config_or_refuse().await?;
        if !self.sealed() {
            return self.seal_status().await;
        }
        let key = match cfg.mode.as_str() {
            "shamir" => match self.take_share(&req, &cfg).await? {
                None => return self.seal_status().await,
                Some(s) => shamir_combine(&s).map_err(|_| unseal_failed_for("shamir"))?,
            },
            "passphrase" => Self::key_from_passphrase(&cfg, req.passphrase).await?,
            _ => match req.key {
                Some(text) => parse_key_file(text.expose_secret())
                    .map_err(|_| unseal_failed_for("key_file"))?,
                None if self.manually_sealed() => {
                    return Err(Error::bad(
                        "sys.key_required",
                        "this vault was sealed by an operator: send the unseal key file's \
                         contents as `key` (`vault operator unseal --key-file PATH`), or restart \
                         the server",
                    ));
                }
                None => self.read_key_file()?,
            },
        };
        self.unseal_with(key, &cfg).await?;
        self.seal_status().await
    }

    fn manually_sealed(&self) -> bool {
        self.inner
            .state
            .read()
            .is_ok_and(|st| matches!(*st, SealState::Sealed { manual: true, .. }))
    }

    /// Checks one submitted share (format, checksum, the threshold it
    /// declares, and the commitment stored at init) and adds it; the shares
    /// once the threshold is reached.
    async fn take_share(
        &self,
        req: &UnsealRequest,
        cfg: &SealConfigRow,
    ) -> Result<Option<Vec<SecretText>>> {
        let commitments = self
            .store()
            .read(|r| r.system_value(SHARE_COMMITMENTS_LABEL))
            .await?;
        let info = match &req.share {
            Some(s) => {
                let info =
                    inspect_share(s).map_err(|e| Error::bad("sys.invalid_share", e.to_string()))?;
                if info.threshold != cfg.threshold {
                    return Err(Error::bad(
                        "sys.invalid_share",
                        "this share belongs to another split (its threshold differs)",
                    ));
                }
                if commitments.as_ref().is_some_and(|c| {
                    !c.chunks_exact(32)
                        .any(|k| bool::from(k.ct_eq(&info.commitment)))
                }) {
                    return Err(Error::bad(
                        "sys.invalid_share",
                        "this share is not one of this vault's shares",
                    ));
                }
                Some(info)
            }
            None if req.reset => None,
            None => {
                return Err(Error::bad(
                    "sys.share_required",
                    "this vault unseals with Shamir shares: send `share`",
                ));
            }
        };
        let mut st = self
            .inner
            .state
            .write()
            .map_err(|_| Error::internal("poisoned"))?;
        let SealState::Sealed { shares, .. } = &mut *st else {
            return Err(Error::internal("unexpected seal state"));
        };
        if req.reset {
            shares.clear();
        }
        let (Some(info), Some(text)) = (info, &req.share) else {
            return Ok(None);
        };
        let given = shares
            .iter()
            .filter_map(|s| inspect_share(s).ok())
            .any(|s| s.id == info.id);
        if given {
            return Err(Error::conflict(
                "sys.share_already_given",
                format!(
                    "this share was already given ({} of {} so far); bring another one",
                    shares.len(),
                    cfg.threshold
                ),
            ));
        }
        shares.push(text.clone());
        if shares.len() < usize::from(cfg.threshold) {
            Ok(None)
        } else {
            Ok(Some(std::mem::take(shares)))
        }
    }

    fn read_key_file(&self) -> Result<UnsealKey> {
        let path =
            self.settings().key_file.clone().ok_or_else(|| {
                Error::bad("sys.no_key_file", "no `unseal.key_file` is configured")
            })?;
        let text = SecretText::new(std::fs::read_to_string(&path).map_err(|e| {
            Error::bad(
                "sys.key_file_unreadable",
                format!("cannot read the key file: {e}"),
            )
        })?);
        parse_key_file(text.expose_secret()).map_err(|_| unseal_failed_for("key_file"))
    }

    /// Once, after the upgrade that added secret head MACs: computes the MAC
    /// of every existing secret's current version and sets the marker, in
    /// one transaction.
    async fn fill_secret_heads(&self, heads: vault_core::audit::SecretHeadKey) -> Result<()> {
        let done = self
            .store()
            .read(|r| r.system_value(SECRET_HEADS_LABEL))
            .await?
            .is_some();
        if done {
            return Ok(());
        }
        let ctx = Ctx::system("upgrade");
        tracing::warn!("filling the head MAC of every existing secret (once, after an upgrade)");
        let entry = self.entry(
            &ctx,
            None,
            "secret.head_macs",
            "secrets",
            Outcome::Success,
            Some("severity=critical filled the head MAC of every existing secret; expected once, after the upgrade to head MACs".into()),
        );
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                // Some MACs but no marker is not an upgrade: someone removed
                // the marker. Recomputing would bless whatever is stored now.
                if w.secret_heads_with_mac()? > 0 {
                    return Err(Error::new(
                        Kind::Integrity,
                        "secret.head_macs_tampered",
                        "the marker of filled secret head MACs is missing while MACs exist; \
                         refusing to recompute them",
                    ));
                }
                for h in w.secret_heads()? {
                    let tag = heads.tag(&h.project, &h.environment, &h.name, h.version);
                    w.set_head_mac(h.id, &tag)?;
                }
                w.put_system_value(SECRET_HEADS_LABEL, b"v1")?;
                Ok(())
            })
            .await??;
        Ok(())
    }

    /// At start: unseal from the configured key file if there is one.
    pub async fn auto_unseal(&self) -> Result<bool> {
        let Some(cfg) = self.store().read(|r| r.seal_config()).await? else {
            return Ok(false);
        };
        if self
            .settings()
            .key_file
            .as_ref()
            .is_none_or(|p| !p.exists())
        {
            return Ok(false);
        }
        let key = self.read_key_file()?;
        self.unseal_with(key, &cfg).await?;
        Ok(true)
    }

    async fn unseal_with(&self, key: UnsealKey, cfg: &SealConfigRow) -> Result<()> {
        let wrapped =
            WrappedRootKey::from_bytes(cfg.wrapped_root.clone()).map_err(Error::internal)?;
        let root = key
            .unwrap_root(&wrapped)
            .map_err(|_| unseal_failed_for(&cfg.mode))?;
        let audit_wrapped = self
            .store()
            .read(|r| r.system_secret(AUDIT_KEY_LABEL))
            .await?
            .ok_or_else(|| Error::internal("audit signing key missing"))?;
        let audit_bytes = root
            .unwrap_system_secret(AUDIT_KEY_LABEL, &audit_wrapped)
            .map_err(|e| Error::internal(format!("audit signing key: {e}")))?;
        let audit_key = AuditSigningKey::from_seed_bytes(audit_bytes.expose_secret())
            .map_err(|e| Error::internal(format!("audit signing key: {e}")))?;
        // Never sign over a trail cut or rewritten while the keys were away.
        let broken = self.audit_tail_problem(&audit_key).await?;
        if let Some(problem) = &broken {
            tracing::error!(%problem, "CRITICAL: the audit chain is broken since its last signed head");
            if !self.settings().danger_extend_broken_chain {
                return Err(Error::new(
                    Kind::Integrity,
                    "audit.chain_broken",
                    format!(
                        "the audit trail is broken ({problem}); the server will not extend it. \
                         Preserve the database for investigation, then see docs/audit.md, \
                         \"A broken chain\""
                    ),
                ));
            }
        }
        // Before the keys are installed: a refusal leaves the vault sealed.
        self.fill_secret_heads(audit_key.secret_head_key()).await?;
        self.finish_unseal(key, root, audit_key)?;
        let anchored = match broken {
            Some(problem) => {
                let entry = self.entry(
                    &Ctx::system("unseal"),
                    None,
                    "audit.chain_break",
                    "audit",
                    Outcome::Error,
                    Some(format!("critical: extended a broken chain ({problem})")),
                );
                self.audit(&Ctx::system("unseal"), entry).await?;
                // The operator chose to go on: sign from here (the record
                // above says so), or every later checkpoint would refuse.
                self.sign_checkpoint_unverified().await
            }
            // Records appended while sealed get their signature now.
            None => self.checkpoint().await,
        };
        if let Err(e) = anchored {
            tracing::warn!(code = e.code, "no checkpoint at unseal");
        }
        self.resume_rewrap_jobs().await;
        Ok(())
    }

    fn finish_unseal(
        &self,
        unseal: UnsealKey,
        root: RootKey,
        audit_key: AuditSigningKey,
    ) -> Result<()> {
        self.install_unsealed(unseal, root, audit_key)?;
        self.metrics().set_sealed(false);
        tracing::info!("vault unsealed");
        Ok(())
    }

    /// Makes these keys the unsealed state (and the audit head signer's);
    /// the KEK cache starts empty and fills as projects are used.
    fn install_unsealed(
        &self,
        unseal: UnsealKey,
        root: RootKey,
        audit_key: AuditSigningKey,
    ) -> Result<Arc<Unsealed>> {
        let mut st = self
            .inner
            .state
            .write()
            .map_err(|_| Error::internal("poisoned"))?;
        let unsealed = Arc::new(Unsealed {
            root,
            unseal,
            secret_heads: audit_key.secret_head_key(),
            audit_key,
            rings: Default::default(),
        });
        *st = SealState::Unsealed(unsealed.clone());
        // Replaced, not added: one sealer, of the current keys.
        self.store()
            .0
            .set_head_sealer(Some(Arc::new(super::audit::UnsealedSealer {
                key: unsealed.audit_key.head_mac_key(),
            })));
        Ok(unsealed)
    }

    /// `POST /v1/sys/seal`: wipes every key from memory.
    pub async fn seal(&self, ctx: &Ctx) -> Result<SealStatus> {
        let p = self.authorize(ctx, Action::SysSeal, "sys").await?;
        self.unsealed()?;
        let entry = self.entry(
            ctx,
            Some(&p),
            Action::SysSeal.as_str(),
            "sys",
            Outcome::Success,
            None,
        );
        self.audit(ctx, entry).await?;
        // Sign the head into the checkpoint history while the key is here;
        // sealing must never depend on it (an emergency seal always works).
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(code = e.code, "no checkpoint at seal");
        }
        self.seal_now(true)?;
        self.seal_status().await
    }

    /// Drops the keys; `manual` when an operator asked (not at shutdown).
    pub fn seal_now(&self, manual: bool) -> Result<()> {
        let mut st = self
            .inner
            .state
            .write()
            .map_err(|_| Error::internal("poisoned"))?;
        if matches!(*st, SealState::Unsealed(_)) {
            self.store().0.set_head_sealer(None);
            *st = SealState::Sealed {
                shares: Vec::new(),
                manual,
            };
            self.cache().clear();
            self.metrics().set_sealed(true);
            tracing::info!("vault sealed");
        }
        Ok(())
    }

    /// `POST /v1/sys/rotate-root`: a new root key; rewraps every KEK and
    /// system secret (cost grows with keys, not secrets).
    pub async fn rotate_root(&self, ctx: &Ctx) -> Result<RootKeyStatus> {
        let u = self.unsealed()?;
        let old_version = u.root.version();
        let new_root = RootKey::generate(old_version + 1).map_err(Error::internal)?;
        let wrapped_root = u.unseal.wrap_root(&new_root).map_err(Error::internal)?;
        let new_root = Arc::new(new_root);
        let nr = new_root.clone();
        let u2 = u.clone();
        let count = self
            .audited_write_as(ctx, Action::SysRotateRoot, "sys/root", true, move |w, _| {
                let mut cfg = w
                    .seal_config()?
                    .ok_or_else(|| Error::internal("no seal config"))?;
                let mut n = 0u64;
                for p in w.projects()? {
                    let name = ProjectName::parse(&p.name).map_err(Error::internal)?;
                    for k in w.keks(p.id)? {
                        let Some(bytes) = k.wrapped else { continue };
                        let wk = WrappedKek::from_bytes(bytes).map_err(Error::internal)?;
                        let kek = u2
                            .root
                            .unwrap_kek(&name, k.version, &wk)
                            .map_err(Error::internal)?;
                        let again = nr.wrap_kek(&kek).map_err(Error::internal)?;
                        w.set_kek_wrapped(p.id, k.version, again.as_bytes())?;
                        n += 1;
                    }
                }
                let audit_wrapped = w
                    .system_secret(AUDIT_KEY_LABEL)?
                    .ok_or_else(|| Error::internal("audit key missing"))?;
                let audit_bytes = u2
                    .root
                    .unwrap_system_secret(AUDIT_KEY_LABEL, &audit_wrapped)
                    .map_err(Error::internal)?;
                let again = nr
                    .wrap_system_secret(AUDIT_KEY_LABEL, &audit_bytes)
                    .map_err(Error::internal)?;
                w.put_system_secret(AUDIT_KEY_LABEL, &again)?;
                cfg.wrapped_root = wrapped_root.as_bytes().to_vec();
                cfg.root_version = nr.version();
                w.put_seal_config(&cfg)?;
                Ok(n)
            })
            .await?;
        // Swap the in-memory root key. The KEKs themselves are unchanged; the
        // cache is rebuilt from their new wraps as projects are used.
        let audit_key = AuditSigningKey::from_seed_bytes(u.audit_key.expose_secret())
            .map_err(Error::internal)?;
        let unseal = clone_unseal(&u.unseal)?;
        let root =
            Arc::try_unwrap(new_root).map_err(|_| Error::internal("root key still shared"))?;
        self.install_unsealed(unseal, root, audit_key)?;
        Ok(RootKeyStatus {
            version: old_version + 1,
            keks_rewrapped: count,
        })
    }

    /// Dev mode: initialize in key-file mode if needed, unseal, and hand back
    /// the dev root token: the same one across restarts (kept, mode 0600, in
    /// the data directory beside the dev key file).
    pub async fn dev_bootstrap(&self) -> Result<SecretText> {
        let ctx = Ctx::system("dev");
        let path = self.settings().data_dir.join(super::root::DEV_TOKEN_FILE);
        if !self.initialized() {
            let out = self.init(&ctx, UnsealMode::KeyFile).await?;
            write_private(&path, &out.root_token, true)
                .map_err(|e| Error::internal(format!("write {}: {e}", path.display())))?;
            return Ok(out.root_token);
        }
        if self.sealed() {
            self.auto_unseal().await?;
        }
        let dir = self.settings().data_dir.clone();
        self.dev_root_token(&dir).await
    }
}

/// The audit outcome of a refused sys request.
pub(crate) fn outcome_of(e: &Error) -> Outcome {
    match e.kind {
        Kind::Unauthenticated | Kind::Forbidden => Outcome::Denied,
        _ => Outcome::Error,
    }
}

/// A copy of the unseal key through its key-file encoding (the type has no
/// `Clone` on purpose; the copy is wiped on drop like the original).
fn clone_unseal(k: &UnsealKey) -> Result<UnsealKey> {
    parse_key_file(encode_key_file(k).expose_secret()).map_err(Error::internal)
}

/// The audit signing key's seed, as secret bytes for wrapping.
fn audit_key_bytes(k: &AuditSigningKey) -> vault_core::secret::SecretBytes {
    vault_core::secret::SecretBytes::new(k.expose_secret().to_vec())
}
