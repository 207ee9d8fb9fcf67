//! Offline audit verification: an exported file (JSON lines or CSV) and
//! the server's Ed25519 audit public key, no server needed. The chain and
//! checkpoint logic is vault-core's ([`vault_core::audit`]); this module
//! only reads the inputs and turns parse failures into CLI errors.

use vault_core::audit::{AuditVerifyingKey, VerifyReport, parse_export};

use crate::error::{CliError, CliResult};

/// Verifies an exported audit file against `public_key` (standard base64).
pub fn verify(data: &[u8], public_key: &str, shown: &str) -> CliResult<VerifyReport> {
    let key = AuditVerifyingKey::from_base64(public_key.trim()).map_err(|e| {
        CliError::new("the audit public key is not valid")
            .source(e)
            .hint("pass the base64 text from `vault audit verify --print-public-key`, or a file holding it")
    })?;
    let file = parse_export(data).map_err(|e| {
        CliError::new(format!("{shown} is not a vault audit export"))
            .source(e)
            .hint("export it with `vault audit export --format jsonl|csv`")
    })?;
    Ok(file.verify(Some(&key), None))
}
