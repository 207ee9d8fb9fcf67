//! Root tokens: made at init, by `generate-root` (which needs the unseal key
//! material: a threshold of shares, the passphrase or the key file) and in
//! dev mode. Like every credential they can expire, are listed and can be
//! revoked; revoking every one of them is a recommended hardening step,
//! since `generate-root` makes a new one when it is needed.

use std::path::Path;

use vault_core::api::{GenerateRoot, GeneratedRoot, RootToken};
use vault_core::audit::Outcome;
use vault_core::clock::Timestamp;
use vault_core::crypto::{Token, UnsealKey, WrappedRootKey, parse_key_file, shamir_combine};
use vault_core::secret::SecretText;

use super::{Ctx, Error, Result, Vault};
use crate::store::TokenRow;

/// Longest TTL of a generated root token: 30 days.
pub const ROOT_TTL_MAX_SECS: i64 = 30 * 86_400;

/// Dev mode keeps its one root token here (mode 0600), so restarts reuse it.
pub const DEV_TOKEN_FILE: &str = "dev-root-token";

/// A new root token: the row to store and the text to show once.
pub(crate) fn mint(
    origin: &str,
    now: Timestamp,
    ttl_secs: Option<i64>,
) -> Result<(TokenRow, SecretText)> {
    let (id, text, hash) = Token::generate().map_err(Error::internal)?;
    Ok((
        TokenRow {
            id: id.as_str().to_owned(),
            hash: hash.to_vec(),
            kind: "root".into(),
            origin: origin.into(),
            created_at: now,
            expires_at: ttl_secs.map(|t| now.plus_secs(t)),
            revoked_at: None,
        },
        text,
    ))
}

/// The wire view of a root token row (never its hash).
pub(crate) fn wire(t: &TokenRow) -> RootToken {
    RootToken {
        id: t.id.clone(),
        origin: t.origin.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    }
}

impl Vault {
    /// `POST /v1/sys/generate-root`: a new root token for whoever proves
    /// they hold the unseal key material (no other credential needed, as
    /// with unseal). Throttled per source address with unseal attempts, and
    /// audited either way.
    pub async fn generate_root(&self, ctx: &Ctx, req: GenerateRoot) -> Result<GeneratedRoot> {
        let res = match self.reserve_unseal(&ctx.source) {
            Err(e) => Err(e),
            Ok(()) => {
                let res = {
                    let _turn = self.inner.unseal_turn.lock().await;
                    self.generate_root_inner(req).await
                };
                // A wrong proof counts like a wrong unseal; anything else is given back.
                match &res {
                    Err(e) if e.code == "sys.unseal_failed" => {}
                    _ => self.refund_unseal(&ctx.source),
                }
                res
            }
        };
        let (outcome, detail, token_id) = match &res {
            Ok((row, _)) => (
                Outcome::Success,
                Some(match row.expires_at {
                    Some(e) => format!("root token, expires {}", e.to_rfc3339()),
                    None => "root token, no expiry".to_owned(),
                }),
                Some(row.id.clone()),
            ),
            Err(e) => {
                tracing::warn!(source = %ctx.source, code = e.code, "generate-root refused");
                (
                    super::lifecycle::outcome_of(e),
                    Some(e.code.to_owned()),
                    None,
                )
            }
        };
        let mut entry = self.entry(
            ctx,
            None,
            "sys.generate_root",
            "tokens/root",
            outcome,
            detail,
        );
        entry.token_id = token_id;
        match res {
            Ok((row, text)) => {
                let view = wire(&row);
                let now = self.clock().now();
                ctx.audited
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self.store()
                    .write(Some(entry), move |w| -> Result<()> {
                        w.insert_token(&row, now)?;
                        Ok(())
                    })
                    .await??;
                Ok(GeneratedRoot {
                    root_token: text,
                    token: view,
                })
            }
            Err(e) => {
                self.audit(ctx, entry).await?;
                Err(e)
            }
        }
    }

    async fn generate_root_inner(&self, req: GenerateRoot) -> Result<(TokenRow, SecretText)> {
        if let Some(t) = req.ttl_secs
            && !(60..=ROOT_TTL_MAX_SECS).contains(&t)
        {
            return Err(Error::bad(
                "token.invalid_ttl",
                format!("a root token's TTL must be 60 s to {ROOT_TTL_MAX_SECS} s (30 days)"),
            ));
        }
        let cfg = self.seal_config_or_refuse().await?;
        let failed = || super::lifecycle::unseal_failed_for(&cfg.mode);
        let key: UnsealKey = match cfg.mode.as_str() {
            "shamir" => {
                if req.shares.len() < usize::from(cfg.threshold) {
                    return Err(Error::bad(
                        "sys.shares_required",
                        format!(
                            "generating a root token needs {} unseal shares; {} given",
                            cfg.threshold,
                            req.shares.len()
                        ),
                    ));
                }
                shamir_combine(&req.shares).map_err(|_| failed())?
            }
            "passphrase" => Self::key_from_passphrase(&cfg, req.passphrase).await?,
            _ => {
                let text = req.key.ok_or_else(|| {
                    Error::bad(
                        "sys.key_required",
                        "this vault unseals with a key file: send its contents as `key`",
                    )
                })?;
                parse_key_file(text.expose_secret()).map_err(|_| failed())?
            }
        };
        // The proof: this key opens the stored root key.
        let wrapped =
            WrappedRootKey::from_bytes(cfg.wrapped_root.clone()).map_err(Error::internal)?;
        key.unwrap_root(&wrapped).map_err(|_| failed())?;
        mint("generate-root", self.clock().now(), req.ttl_secs)
    }

    /// Dev mode keeps one root token across restarts: the one saved in the
    /// data directory if it still works, else a new one (and every other
    /// root token is revoked, so restarts never pile up valid tokens).
    pub(crate) async fn dev_root_token(&self, data_dir: &Path) -> Result<SecretText> {
        let path = data_dir.join(DEV_TOKEN_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let text = SecretText::new(text.trim().to_owned());
            let ctx = Ctx {
                credential: Some(text.clone()),
                ..Ctx::system("dev")
            };
            if matches!(
                self.authenticate(&ctx).await,
                Ok(super::Principal::Root { .. })
            ) {
                return Ok(text);
            }
        }
        let now = self.clock().now();
        let (row, text) = mint("dev", now, None)?;
        let keep = row.id.clone();
        let ctx = Ctx::system("dev");
        let entry = self.entry(
            &ctx,
            None,
            "token.create",
            "tokens/root",
            Outcome::Success,
            Some("dev mode; older root tokens revoked".into()),
        );
        self.store()
            .write(Some(entry), move |w| -> Result<()> {
                for t in w.root_tokens()? {
                    if t.id != keep && t.revoked_at.is_none() {
                        w.revoke_root_token(&t.id, now)?;
                    }
                }
                w.insert_token(&row, now)?;
                Ok(())
            })
            .await??;
        super::lifecycle::write_private(&path, &text, true)
            .map_err(|e| Error::internal(format!("write {}: {e}", path.display())))?;
        Ok(text)
    }
}
