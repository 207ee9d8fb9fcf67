//! `vault operator init|unseal|seal|status`.
//!
//! `init` is the one command that prints secrets (the unseal shares and the
//! root token), exactly once, because nobody else can ever show them again.

use std::io::{IsTerminal, Write};

use ureq::http::Method;
use vault_core::api::{
    GenerateRoot, GeneratedRoot, InitRequest, InitResponse, RootKeyStatus, SealStatus, UnsealMode,
    UnsealRequest,
};
use vault_core::secret::SecretText;

use crate::cli::OperatorCommand;
use crate::commands::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{self, Format, Table};
use crate::prompt::{self, Piped};

/// Runs a `vault operator` command.
pub fn run(cmd: OperatorCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        OperatorCommand::Init {
            shares,
            threshold,
            passphrase,
            key_file,
            output,
        } => {
            let mode = if passphrase {
                let p = prompt::secret("Passphrase", Piped::TrimNewline)?;
                if std::io::stdin().is_terminal() {
                    let again = prompt::secret("Passphrase again", Piped::TrimNewline)?;
                    if again.expose_secret() != p.expose_secret() {
                        return Err(CliError::new("the passphrases differ; nothing was done"));
                    }
                }
                UnsealMode::Passphrase { passphrase: p }
            } else if key_file {
                UnsealMode::KeyFile
            } else {
                if threshold == 0 || shares == 0 || threshold > shares {
                    return Err(CliError::new(format!(
                        "invalid Shamir parameters: {threshold} of {shares}"
                    ))
                    .hint("need 1 <= --threshold <= --shares"));
                }
                UnsealMode::Shamir { shares, threshold }
            };
            let r: InitResponse = client
                .send(Method::POST, "/v1/sys/init", &InitRequest { mode })
                .map_err(|e| e.context("cannot initialize the server"))?;
            if output.format == Format::Json {
                output::json(&r)?;
                return Ok(0);
            }
            let mut out = std::io::stdout().lock();
            for (i, s) in r.shares.iter().enumerate() {
                writeln!(out, "Unseal share {}: {}", i + 1, s.expose_secret())?;
            }
            writeln!(out, "Root token: {}", r.root_token.expose_secret())?;
            out.flush()?;
            output::note(&format!(
                "\nThe server is initialized and sealed. These values are shown ONCE: store them apart.\n\
                 Unseal with `vault operator unseal` ({} share(s) needed).",
                r.threshold
            ));
            Ok(0)
        }
        OperatorCommand::Unseal {
            reset,
            key_file,
            output,
        } => {
            let req = if let Some(path) = key_file {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    CliError::new(format!("cannot read the key file {}: {e}", path.display()))
                })?;
                UnsealRequest {
                    key: Some(text.trim().to_owned().into()),
                    ..UnsealRequest::default()
                }
            } else if reset {
                UnsealRequest {
                    reset: true,
                    ..UnsealRequest::default()
                }
            } else {
                let st: SealStatus = client.get("/v1/sys/seal-status")?;
                if !st.initialized {
                    return Err(CliError::new("the server is not initialized")
                        .hint("run `vault operator init` first"));
                }
                if !st.sealed {
                    output::note("the server is already unsealed");
                    return print_status(&st, output.format);
                }
                if st.mode.as_deref() == Some("key_file") {
                    UnsealRequest::default()
                } else if st.mode.as_deref() == Some("passphrase") {
                    UnsealRequest {
                        passphrase: Some(prompt::secret("Passphrase", Piped::TrimNewline)?),
                        ..UnsealRequest::default()
                    }
                } else {
                    UnsealRequest {
                        share: Some(prompt::secret(
                            &format!("Unseal share ({} of {} given)", st.progress, st.threshold),
                            Piped::TrimNewline,
                        )?),
                        ..UnsealRequest::default()
                    }
                }
            };
            let st: SealStatus = client
                .send(Method::POST, "/v1/sys/unseal", &req)
                .map_err(|e| e.context("unseal failed"))?;
            print_status(&st, output.format)
        }
        OperatorCommand::GenerateRoot {
            ttl,
            key_file,
            output,
        } => {
            let ttl_secs = ttl
                .as_deref()
                .map(crate::commands::identity::parse_duration)
                .transpose()
                .map_err(|e| e.code(crate::error::exit::USAGE))?;
            let st: SealStatus = client.get("/v1/sys/seal-status")?;
            let mut req = GenerateRoot {
                ttl_secs,
                ..GenerateRoot::default()
            };
            match (key_file, st.mode.as_deref()) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        CliError::new(format!("cannot read the key file {}: {e}", path.display()))
                    })?;
                    req.key = Some(text.trim().to_owned().into());
                }
                (None, Some("passphrase")) => {
                    req.passphrase = Some(prompt::secret("Passphrase", Piped::TrimNewline)?);
                }
                (None, Some("key_file")) => {
                    return Err(CliError::new("this vault unseals with a key file")
                        .hint("pass it with --key-file PATH")
                        .code(crate::error::exit::USAGE));
                }
                (None, _) => req.shares = read_shares(st.threshold)?,
            }
            let r: GeneratedRoot = client
                .send(Method::POST, "/v1/sys/generate-root", &req)
                .map_err(|e| e.context("cannot generate a root token"))?;
            if output.format == Format::Json {
                output::json(&r)?;
                return Ok(0);
            }
            println!("Root token: {}", r.root_token.expose_secret());
            output::note(&format!(
                "Shown ONCE. Token id {} ({}). Revoke it when done: vault tokens revoke {}",
                r.token.id,
                r.token.expires_at.map_or_else(
                    || "no expiry".to_owned(),
                    |e| format!("expires {}", e.to_rfc3339())
                ),
                r.token.id
            ));
            Ok(0)
        }
        OperatorCommand::RotateRoot { output } => {
            let r: RootKeyStatus = client
                .call(Method::POST, "/v1/sys/rotate-root")
                .map_err(|e| e.context("cannot rotate the root key"))?;
            if output.format == Format::Json {
                output::json(&r)?;
            } else {
                output::note(&format!(
                    "root key rotated to version {}; {} project key(s) rewrapped",
                    r.version, r.keks_rewrapped
                ));
            }
            Ok(0)
        }
        OperatorCommand::Seal { output } => {
            let st: SealStatus = client.call(Method::POST, "/v1/sys/seal")?;
            print_status(&st, output.format)
        }
        OperatorCommand::Status { output } => {
            let st: SealStatus = client.get("/v1/sys/seal-status")?;
            print_status(&st, output.format)?;
            // As HashiCorp Vault's `vault status`: health checks test the exit code.
            Ok(if st.sealed || !st.initialized { 2 } else { 0 })
        }
    }
}

/// `threshold` shares: prompted one by one on a terminal, else one per line
/// of stdin.
fn read_shares(threshold: u8) -> CliResult<Vec<SecretText>> {
    if std::io::stdin().is_terminal() {
        return (1..=threshold)
            .map(|i| {
                prompt::secret(
                    &format!("Unseal share {i} of {threshold}"),
                    Piped::TrimNewline,
                )
            })
            .collect();
    }
    let all = prompt::secret("", Piped::Exact)?;
    let shares: Vec<SecretText> = all
        .expose_secret()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| SecretText::new(l.to_owned()))
        .collect();
    if shares.len() < usize::from(threshold) {
        return Err(CliError::new(format!(
            "{} share(s) on stdin; this vault needs {threshold}",
            shares.len()
        ))
        .hint("give one share per line"));
    }
    Ok(shares)
}

fn print_status(st: &SealStatus, format: Format) -> CliResult<u8> {
    if format == Format::Json {
        output::json(st)?;
        return Ok(0);
    }
    let mut t = Table::new(&["KEY", "VALUE"]);
    t.row(vec!["initialized".into(), st.initialized.to_string()]);
    t.row(vec!["sealed".into(), st.sealed.to_string()]);
    t.row(vec![
        "mode".into(),
        st.mode.clone().unwrap_or_else(|| "-".into()),
    ]);
    t.row(vec![
        "unseal progress".into(),
        format!("{}/{}", st.progress, st.threshold),
    ]);
    t.print("")?;
    Ok(0)
}
