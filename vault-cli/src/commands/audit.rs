//! `vault audit list|export|verify`.

use std::fmt::Write as _;
use std::io::Write as _;

use vault_core::api::{AuditPage, AuditPublicKey, AuditVerifyReport};
use vault_core::audit::{Checkpoint, ProblemKind};
use vault_core::clock::Timestamp;

use crate::cli::{AuditCommand, AuditFilterArgs, AuditFormat};
use crate::commands::{Ctx, when};
use crate::error::{CliError, CliResult, exit};
use crate::output::{self, Format, Table};

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode_query(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

fn time_arg(flag: &str, v: Option<String>) -> CliResult<Option<Timestamp>> {
    v.map(|t| {
        Timestamp::parse_rfc3339(&t).ok_or_else(|| {
            CliError::new(format!("--{flag} {t:?} is not a time"))
                .hint("use RFC 3339 (2026-11-22T14:28:00Z) or a date (2026-11-22)")
                .code(exit::USAGE)
        })
    })
    .transpose()
}

/// The query parameters of the filters (times checked and normalized).
fn filter_query(f: AuditFilterArgs) -> CliResult<Vec<String>> {
    let from = time_arg("from", f.from)?.map(|t| t.to_rfc3339());
    let to = time_arg("to", f.to)?.map(|t| t.to_rfc3339());
    Ok([
        ("from", from),
        ("to", to),
        ("actor", f.actor),
        ("action", f.action),
        ("resource", f.resource),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode_query(&v))))
    .collect())
}

/// Runs a `vault audit` command.
pub fn run(cmd: AuditCommand, ctx: &Ctx) -> CliResult<u8> {
    match cmd {
        AuditCommand::List {
            filter,
            after,
            before,
            newest_first,
            tail,
            limit,
            output,
        } => {
            let mut query = vec![format!("limit={}", tail.unwrap_or(limit))];
            query.extend(filter_query(filter)?);
            if let Some(a) = after {
                query.push(format!("after={a}"));
            }
            if let Some(b) = before {
                query.push(format!("before={b}"));
            }
            if newest_first || tail.is_some() {
                query.push("order=newest".to_owned());
            }
            let (_, client) = ctx.connect(None, None)?;
            let mut page: AuditPage = client.get(&format!("/v1/audit?{}", query.join("&")))?;
            if tail.is_some() {
                // The latest N, shown in the order they happened.
                page.records.reverse();
                page.next_before = None;
            }
            if output.format == Format::Json {
                output::json(&page)?;
                return Ok(0);
            }
            let mut t = Table::new(&[
                "SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "SOURCE",
            ]);
            for r in &page.records {
                t.row(vec![
                    r.seq.to_string(),
                    when(r.time),
                    r.actor.clone(),
                    r.action.clone(),
                    r.resource.clone(),
                    format!("{:?}", r.outcome).to_lowercase(),
                    r.source.clone(),
                ]);
            }
            t.print("no audit records match")?;
            if let Some(next) = page.next_after {
                output::note(&format!("more: --after {next}"));
            }
            if let Some(next) = page.next_before {
                output::note(&format!("more: --newest-first --before {next}"));
            }
            Ok(0)
        }
        AuditCommand::Export {
            format,
            filter,
            output,
        } => {
            let (_, client) = ctx.connect(None, None)?;
            let f = match format {
                AuditFormat::Jsonl => "jsonl",
                AuditFormat::Csv => "csv",
            };
            let mut query = vec![format!("format={f}")];
            query.extend(filter_query(filter)?);
            let path = format!("/v1/audit/export?{}", query.join("&"));
            match output {
                None => {
                    let mut out = std::io::stdout().lock();
                    client.download(&path, &mut out)?;
                    out.flush()?;
                }
                Some(file) => {
                    let mut w = std::fs::File::create(&file).map_err(|e| {
                        CliError::new(format!("cannot create {}", file.display())).source(e)
                    })?;
                    let n = client.download(&path, &mut w)?;
                    w.sync_all()?;
                    output::note(&format!("wrote {n} bytes to {}", file.display()));
                }
            }
            Ok(0)
        }
        AuditCommand::Head { output } => {
            let (_, client) = ctx.connect(None, None)?;
            let head: Checkpoint = client.get("/v1/audit/head")?;
            let text = serde_json::to_string_pretty(&head)
                .map_err(|e| CliError::new("cannot encode the head").source(e))?
                + "\n";
            match output {
                None => print!("{text}"),
                Some(file) => {
                    std::fs::write(&file, text).map_err(|e| {
                        CliError::new(format!("cannot write {}", file.display())).source(e)
                    })?;
                    output::note(&format!(
                        "saved the head at seq {} to {}",
                        head.seq,
                        file.display()
                    ));
                }
            }
            Ok(0)
        }
        AuditCommand::Verify {
            file,
            public_key,
            print_public_key,
            against,
            output,
        } => {
            if let (Some(file), Some(key)) = (file, public_key) {
                return verify_offline(&file, &key, output.format);
            }
            let (_, client) = ctx.connect(None, None)?;
            if print_public_key {
                let k: AuditPublicKey = client.get("/v1/audit/public-key")?;
                if output.format == Format::Json {
                    output::json(&k)?;
                } else {
                    println!("{}", k.public_key);
                }
                return Ok(0);
            }
            let path = match against {
                None => "/v1/audit/verify".to_owned(),
                Some(f) => {
                    let text = std::fs::read_to_string(&f).map_err(|e| {
                        CliError::new(format!("cannot read {}", f.display())).source(e)
                    })?;
                    let head: Checkpoint = serde_json::from_str(&text).map_err(|e| {
                        CliError::new(format!("{} is not a saved audit head", f.display()))
                            .source(e)
                            .hint("save one with `vault audit head -o FILE`")
                            .code(exit::USAGE)
                    })?;
                    format!(
                        "/v1/audit/verify?against_seq={}&against_hash={}",
                        head.seq,
                        encode_query(&head.hash)
                    )
                }
            };
            let r: AuditVerifyReport = client.get(&path)?;
            report(&r, output.format, "the server's audit trail")
        }
    }
}

fn report(r: &AuditVerifyReport, format: Format, what: &str) -> CliResult<u8> {
    if format == Format::Json {
        output::json(r)?;
    } else if r.ok {
        println!(
            "ok: {what} verifies ({} records, {} signed checkpoints)",
            r.records, r.checkpoints
        );
    }
    if r.ok {
        return Ok(0);
    }
    Err(CliError::new(format!(
        "{what} does NOT verify: {}",
        r.problem.as_deref().unwrap_or("no detail")
    ))
    .hint("records were deleted, inserted, reordered or edited; keep this evidence and tell your security officer")
    .code(exit::VERIFY_FAILED))
}

fn verify_offline(file: &std::path::Path, key: &str, format: Format) -> CliResult<u8> {
    let key_text = std::fs::read_to_string(key).unwrap_or_else(|_| key.to_owned());
    let data = std::fs::read(file)
        .map_err(|e| CliError::new(format!("cannot read {}", file.display())).source(e))?;
    let shown = file.display().to_string();
    let r = crate::audit_offline::verify(&data, &key_text, &shown)?;
    if format == Format::Json {
        output::json(&r)?;
    } else {
        println!("{shown}: {}", r.summary());
        if let Some((from, to)) = r.unprotected_tail() {
            output::note(&format!(
                "note: records {from}..={to} come after the last signed checkpoint; only the hash chain protects them"
            ));
        }
    }
    if r.is_ok() {
        return Ok(0);
    }
    // The hint must fit the cause: a wrong key says nothing about tampering.
    let hint = match r.first_problem().map(|p| &p.kind) {
        Some(ProblemKind::WrongKey { .. }) => {
            "wrong key: get the key of the server that wrote this file (`vault audit verify --print-public-key`) and verify again"
        }
        Some(ProblemKind::Unsigned { .. }) => {
            "no signature covers the end of this file: it was cut short or rewritten, or made by an old release; export it again from the server"
        }
        _ => {
            "records were deleted, inserted, reordered or edited; keep this evidence and tell your security officer"
        }
    };
    Err(CliError::new(format!("{shown} does NOT verify"))
        .hint(hint)
        .code(exit::VERIFY_FAILED))
}
