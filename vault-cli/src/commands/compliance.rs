//! `vault compliance report|verify`: the signed HIPAA report, fetched from
//! the server, and its signature checked offline.

use std::io::Write as _;

use vault_core::audit::AuditVerifyingKey;
use vault_core::compliance::{VerifyError, verify_file};

use crate::cli::ComplianceCommand;
use crate::commands::Ctx;
use crate::commands::audit::encode_query;
use crate::error::{CliError, CliResult, exit};
use crate::output;

/// Runs a compliance command.
pub fn run(cmd: ComplianceCommand, ctx: &Ctx) -> CliResult<u8> {
    match cmd {
        ComplianceCommand::Report {
            from,
            to,
            format,
            output: file,
        } => {
            let (_, client) = ctx.connect(None, None)?;
            let mut q = vec![format!("format={format}")];
            if let Some(f) = from {
                q.push(format!("from={}", encode_query(&f)));
            }
            if let Some(t) = to {
                q.push(format!("to={}", encode_query(&t)));
            }
            let path = format!("/v1/compliance/report?{}", q.join("&"));
            match file {
                None => {
                    let mut out = std::io::stdout().lock();
                    client.download(&path, &mut out)?;
                    out.flush()?;
                }
                Some(f) => {
                    let mut w = std::fs::File::create(&f).map_err(|e| {
                        CliError::new(format!("cannot create {}", f.display())).source(e)
                    })?;
                    let n = client.download(&path, &mut w)?;
                    w.sync_all()?;
                    output::note(&format!(
                        "wrote the signed report ({n} bytes) to {}; check it with `vault \
                         compliance verify {} --public-key KEY`",
                        f.display(),
                        f.display()
                    ));
                }
            }
            Ok(0)
        }
        ComplianceCommand::Verify { file, public_key } => {
            let key_text =
                std::fs::read_to_string(&public_key).unwrap_or_else(|_| public_key.clone());
            let key = AuditVerifyingKey::from_base64(key_text.trim()).map_err(|e| {
                CliError::new("the audit public key is not valid")
                    .source(e)
                    .hint("pass the base64 text from `vault audit verify --print-public-key`, or a file holding it")
                    .code(exit::USAGE)
            })?;
            let data = std::fs::read(&file)
                .map_err(|e| CliError::new(format!("cannot read {}", file.display())).source(e))?;
            match verify_file(&data, &key) {
                Ok(sig) => {
                    println!(
                        "ok: {} is intact, signed by audit key {} (content SHA-256 {})",
                        file.display(),
                        sig.key_id,
                        sig.content_sha256
                    );
                    Ok(0)
                }
                Err(e) => {
                    let hint = match &e {
                        VerifyError::WrongKey { .. } => {
                            "get the public key of the server that made the report (`vault audit verify --print-public-key`)"
                        }
                        VerifyError::NoSignature => {
                            "a report straight from `vault compliance report` ends with its signature line"
                        }
                        VerifyError::Changed | VerifyError::BadSignature => {
                            "do not trust this copy: get the report again from the server"
                        }
                    };
                    Err(CliError::new(format!("{}: {e}", file.display()))
                        .hint(hint)
                        .code(exit::VERIFY_FAILED))
                }
            }
        }
    }
}
