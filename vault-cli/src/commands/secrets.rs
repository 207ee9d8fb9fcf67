//! `vault secrets ...`: values travel only through stdin, prompts and
//! stdout of `get`/`export`; never through argv or error messages.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use ureq::http::Method;
use vault_core::api::{
    Bundle, Rollback, SecretHistory, SecretList, SecretMeta, SecretValue, TrashList, TrashedSecret,
    WriteSecret,
};
use vault_core::names::{EnvName, ProjectName, SecretName};
use zeroize::Zeroizing;

use crate::cli::{Scope, SecretsCommand};
use crate::client::Client;
use crate::commands::{Ctx, when};
use crate::dotenv;
use crate::error::{CliError, CliResult};
use crate::output::{self, Format, Table};
use crate::prompt::{self, Piped};

struct Env<'a> {
    client: Client,
    project: &'a ProjectName,
    environment: &'a EnvName,
}

impl Env<'_> {
    fn base(&self) -> String {
        format!(
            "/v1/projects/{}/environments/{}",
            self.project, self.environment
        )
    }

    fn secret(&self, name: &SecretName) -> String {
        format!("{}/secrets/{name}", self.base())
    }

    fn scope(&self) -> String {
        format!("{}/{}", self.project, self.environment)
    }
}

fn meta_out(meta: &SecretMeta, format: Format, verb: &str, scope: &str) -> CliResult<u8> {
    if format == Format::Json {
        output::json(meta)?;
    } else {
        output::note(&format!(
            "{verb} {} in {scope}: version {}",
            meta.name, meta.version
        ));
    }
    Ok(0)
}

/// Runs a `vault secrets` command.
pub fn run(cmd: SecretsCommand, ctx: &Ctx) -> CliResult<u8> {
    let scope: Scope = match &cmd {
        SecretsCommand::Set { scope, .. }
        | SecretsCommand::Get { scope, .. }
        | SecretsCommand::List { scope, .. }
        | SecretsCommand::History { scope, .. }
        | SecretsCommand::Rollback { scope, .. }
        | SecretsCommand::Delete { scope, .. }
        | SecretsCommand::Restore { scope, .. }
        | SecretsCommand::Trash { scope, .. }
        | SecretsCommand::Purge { scope, .. }
        | SecretsCommand::Import { scope, .. }
        | SecretsCommand::Export { scope, .. } => scope.clone(),
    };
    let settings = ctx.settings(scope.project.as_ref(), scope.environment.as_ref())?;
    let project = settings.project()?;
    let environment = settings.environment()?;
    let env = Env {
        client: ctx.client(&settings)?,
        project,
        environment,
    };
    match cmd {
        SecretsCommand::Set {
            name,
            cas,
            raw,
            allow_empty,
            output,
            ..
        } => {
            let value = prompt::secret(
                &format!("Value for {name} in {}", env.scope()),
                if raw {
                    Piped::Exact
                } else {
                    Piped::TrimNewline
                },
            )?;
            if value.is_empty() && !allow_empty {
                return Err(CliError::new(format!(
                    "the value for {name} is empty; nothing was written"
                ))
                .hint("pipe the value in (printf %s \"$VALUE\" | vault secrets set ...) or pass --allow-empty"));
            }
            let meta: SecretMeta = env
                .client
                .send(Method::PUT, &env.secret(&name), &WriteSecret { value, cas })
                .map_err(|e| e.context(format!("cannot write {name} in {}", env.scope())))?;
            meta_out(&meta, output.format, "wrote", &env.scope())
        }
        SecretsCommand::Get {
            name,
            version,
            output,
            ..
        } => {
            let path = match version {
                Some(v) => format!("{}?version={v}", env.secret(&name)),
                None => env.secret(&name),
            };
            let s: SecretValue = env
                .client
                .get(&path)
                .map_err(|e| e.context(format!("cannot read {name} in {}", env.scope())))?;
            if output.format == Format::Json {
                output::json(&s)?;
                return Ok(0);
            }
            let mut out = std::io::stdout().lock();
            let v = s.value.expose_secret();
            out.write_all(v.as_bytes())?;
            if out.is_terminal() && !v.ends_with('\n') {
                out.write_all(b"\n")?;
            }
            out.flush()?;
            Ok(0)
        }
        SecretsCommand::List { output, .. } => {
            let list: SecretList = env.client.get(&format!("{}/secrets", env.base()))?;
            if output.format == Format::Json {
                output::json(&list)?;
                return Ok(0);
            }
            let mut t = Table::new(&["NAME", "VERSION", "UPDATED"]);
            for s in &list.secrets {
                t.row(vec![
                    s.name.clone(),
                    s.version.to_string(),
                    when(s.updated_at),
                ]);
            }
            t.print(&format!("no secrets in {}", env.scope()))?;
            Ok(0)
        }
        SecretsCommand::History { name, output, .. } => {
            let h: SecretHistory = env.client.get(&format!("{}/history", env.secret(&name)))?;
            if output.format == Format::Json {
                output::json(&h)?;
                return Ok(0);
            }
            let mut t = Table::new(&["VERSION", "KIND", "CREATED", "BY"]);
            for v in &h.versions {
                let kind = match v.source_version {
                    Some(src) => format!("{} (of v{src})", v.kind),
                    None => v.kind.clone(),
                };
                t.row(vec![
                    v.version.to_string(),
                    kind,
                    when(v.created_at),
                    v.created_by.clone(),
                ]);
            }
            t.print(&format!("no versions of {name}"))?;
            Ok(0)
        }
        SecretsCommand::Rollback {
            name,
            to,
            cas,
            output,
            ..
        } => {
            let meta: SecretMeta = env.client.send(
                Method::POST,
                &format!("{}/rollback", env.secret(&name)),
                &Rollback { version: to, cas },
            )?;
            meta_out(
                &meta,
                output.format,
                &format!("rolled back to v{to}:"),
                &env.scope(),
            )
        }
        SecretsCommand::Delete { name, output, .. } => {
            let t: TrashedSecret = env.client.call(Method::DELETE, &env.secret(&name))?;
            if output.format == Format::Json {
                output::json(&t)?;
            } else {
                output::note(&format!(
                    "moved {} (v{}) to the trash of {}; restorable until {} with `vault secrets restore {}`",
                    t.name,
                    t.version,
                    env.scope(),
                    when(t.purge_after),
                    t.name
                ));
            }
            Ok(0)
        }
        SecretsCommand::Restore { name, output, .. } => {
            let meta: SecretMeta = env.client.call(
                Method::POST,
                &format!("{}/trash/{name}/restore", env.base()),
            )?;
            meta_out(&meta, output.format, "restored", &env.scope())
        }
        SecretsCommand::Trash { output, .. } => {
            let list: TrashList = env.client.get(&format!("{}/trash", env.base()))?;
            if output.format == Format::Json {
                output::json(&list)?;
                return Ok(0);
            }
            let mut t = Table::new(&["NAME", "VERSION", "DELETED", "PURGE AFTER"]);
            for s in &list.secrets {
                t.row(vec![
                    s.name.clone(),
                    s.version.to_string(),
                    when(s.deleted_at),
                    when(s.purge_after),
                ]);
            }
            t.print(&format!("the trash of {} is empty", env.scope()))?;
            Ok(0)
        }
        SecretsCommand::Purge { name, yes, .. } => {
            if !yes
                && !prompt::confirm(&format!(
                    "Destroy {name} in {} for good? It cannot be restored.",
                    env.scope()
                ))
            {
                return Err(CliError::new("not confirmed; nothing destroyed")
                    .hint("pass --yes to purge without a prompt"));
            }
            env.client
                .call_empty(Method::DELETE, &format!("{}/trash/{name}", env.base()))?;
            output::note(&format!("destroyed {name} in {}", env.scope()));
            Ok(0)
        }
        SecretsCommand::Import {
            file,
            skip_existing,
            on_duplicate,
            output,
            ..
        } => import(&env, &file, skip_existing, on_duplicate, output.format),
        SecretsCommand::Export { format, output, .. } => {
            let b: Bundle = env.client.get(&crate::run::bundle_path(
                project.as_str(),
                environment.as_str(),
            ))?;
            let text = Zeroizing::new(
                dotenv::render(b.secrets.iter().map(|(k, v)| (k.as_str(), v)), format).map_err(
                    |e| {
                        CliError::new(e.to_string())
                            .hint("use --format dotenv or json, or pass the value as a file")
                    },
                )?,
            );
            match output {
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
                Some(path) => {
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&path)
                        .map_err(|e| {
                            CliError::new(format!("cannot write {}", path.display())).source(e)
                        })?;
                    f.write_all(text.as_bytes())?;
                    output::note(&format!(
                        "wrote {} secrets of {} to {}",
                        b.secrets.len(),
                        env.scope(),
                        path.display()
                    ));
                }
            }
            Ok(0)
        }
    }
}

fn import(
    env: &Env<'_>,
    file: &std::path::Path,
    skip_existing: bool,
    on_duplicate: Option<crate::cli::Duplicate>,
    format: Format,
) -> CliResult<u8> {
    let mut text = Zeroizing::new(String::new());
    let shown = file.display().to_string();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::new("cannot read stdin").source(e))?;
    } else {
        std::fs::File::open(file)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| CliError::new(format!("cannot read {shown}")).source(e))?;
    }
    // Parse everything first: a bad line writes nothing.
    let entries = dotenv::parse(&text).map_err(|e| {
        CliError::new(format!(
            "{shown} is not a valid .env file; nothing was imported"
        ))
        .source(e)
        .hint("see `vault secrets import --help` for the accepted syntax")
    })?;
    let (entries, overridden) = settle_duplicates(entries, on_duplicate, &shown)?;
    // Values as they are now, so an unchanged one is not written again (a
    // caller who may not read them just writes everything).
    let current: std::collections::BTreeMap<String, vault_core::secret::SecretText> = env
        .client
        .get::<Bundle>(&crate::run::bundle_path(
            env.project.as_str(),
            env.environment.as_str(),
        ))
        .map(|b| b.secrets)
        .unwrap_or_default();
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    let mut unchanged = Vec::new();
    for entry in entries {
        if current
            .get(entry.name.as_str())
            .is_some_and(|v| v.expose_secret() == entry.value.expose_secret())
        {
            unchanged.push(entry.name.to_string());
            continue;
        }
        let body = WriteSecret {
            value: entry.value,
            cas: skip_existing.then_some(0),
        };
        match env
            .client
            .send::<_, SecretMeta>(Method::PUT, &env.secret(&entry.name), &body)
        {
            Ok(meta) => written.push(meta),
            Err(e) if skip_existing && is_conflict(&e) => {
                skipped.push(entry.name.to_string());
            }
            Err(e) => {
                return Err(e.context(format!(
                    "import stopped at {} after writing {} secret(s) to {}",
                    entry.name,
                    written.len(),
                    env.scope()
                )));
            }
        }
    }
    if format == Format::Json {
        output::json(&serde_json::json!({
            "written": written,
            "skipped": skipped,
            "unchanged": unchanged,
            "duplicates_overridden": overridden,
        }))?;
    } else {
        let list = |what: &str, names: &[String]| {
            if names.is_empty() {
                String::new()
            } else {
                format!("; {what}: {}", names.join(", "))
            }
        };
        output::note(&format!(
            "imported {} secret(s) into {}{}{}{}",
            written.len(),
            env.scope(),
            list("unchanged (not written again)", &unchanged),
            list("skipped existing", &skipped),
            list("defined twice, other line ignored", &overridden),
        ));
    }
    Ok(0)
}

/// Refuses a file that defines a name twice, naming both lines, unless
/// `which` says which line wins; the entries to import and the names whose
/// other definition was ignored.
fn settle_duplicates(
    entries: Vec<dotenv::Entry>,
    which: Option<crate::cli::Duplicate>,
    shown: &str,
) -> CliResult<(Vec<dotenv::Entry>, Vec<String>)> {
    use crate::cli::Duplicate;
    let mut first_line: std::collections::HashMap<String, usize> = Default::default();
    let mut keep: Vec<dotenv::Entry> = Vec::with_capacity(entries.len());
    let mut overridden = Vec::new();
    for e in entries {
        let name = e.name.to_string();
        match (first_line.get(&name).copied(), which) {
            (None, _) => {
                first_line.insert(name, e.line);
                keep.push(e);
            }
            (Some(first), None) => {
                return Err(CliError::new(format!(
                    "{shown} defines {name} twice (line {first} and line {}); nothing was imported",
                    e.line
                ))
                .hint("keep one of them, or pass --on-duplicate first|last")
                .code(crate::error::exit::USAGE));
            }
            (Some(_), Some(Duplicate::First)) => overridden.push(name),
            (Some(_), Some(Duplicate::Last)) => {
                keep.retain(|k| k.name.as_str() != name);
                overridden.push(name);
                keep.push(e);
            }
        }
    }
    Ok((keep, overridden))
}

fn is_conflict(e: &CliError) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(api) = s.downcast_ref::<crate::client::ApiError>() {
            return api.status == 409 || api.status == 412;
        }
        src = s.source();
    }
    false
}
