//! `vault keys status|rotate|rewrap|retire|destroy`. `rewrap` follows the
//! server's job with a progress bar (hidden when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ureq::http::Method;
use vault_core::api::{KekState, KekVersionStatus, KeyStatus, RewrapJob, StartRewrap};

use crate::cli::{KeysCommand, RewrapCommand};
use crate::commands::{Ctx, when};
use crate::error::{CliError, CliResult};
use crate::output::{self, Format, Table};
use crate::prompt;

fn state(s: KekState) -> &'static str {
    match s {
        KekState::Active => "active",
        KekState::DecryptOnly => "decrypt-only",
        KekState::Retired => "retired",
        KekState::Destroyed => "destroyed",
    }
}

fn print_kek(k: &KekVersionStatus, format: Format, verb: &str) -> CliResult<u8> {
    if format == Format::Json {
        output::json(k)?;
    } else {
        output::note(&format!(
            "{verb} key version {} of {} ({})",
            k.version,
            k.project,
            state(k.state)
        ));
    }
    Ok(0)
}

/// Runs a `vault keys` command.
pub fn run(cmd: KeysCommand, ctx: &Ctx) -> CliResult<u8> {
    match cmd {
        KeysCommand::Status { project, output } => {
            let (_, client) = ctx.connect(None, None)?;
            let mut st: KeyStatus = client.get("/v1/keys")?;
            if let Some(p) = &project {
                st.keks.retain(|k| k.project == p.as_str());
            }
            if output.format == Format::Json {
                output::json(&st)?;
                return Ok(0);
            }
            println!("root key version {}", st.root_version);
            let mut t = Table::new(&[
                "PROJECT",
                "VERSION",
                "STATE",
                "CREATED",
                "WRAPS",
                "DATA KEYS",
            ]);
            for k in &st.keks {
                t.row(vec![
                    k.project.clone(),
                    k.version.to_string(),
                    state(k.state).into(),
                    when(k.created_at),
                    k.wrap_count.to_string(),
                    k.data_keys.to_string(),
                ]);
            }
            t.print("no project keys yet")?;
            Ok(0)
        }
        KeysCommand::Rotate { project, output } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let k: KekVersionStatus =
                client.call(Method::POST, &format!("/v1/projects/{p}/keys/rotate"))?;
            print_kek(&k, output.format, "new active")
        }
        KeysCommand::Retire {
            project,
            version,
            output,
        } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            let k: KekVersionStatus = client.call(
                Method::POST,
                &format!("/v1/projects/{p}/keys/{version}/retire"),
            )?;
            print_kek(&k, output.format, "retired")
        }
        KeysCommand::Destroy {
            project,
            version,
            yes,
            output,
        } => {
            let (s, client) = ctx.connect(project.as_ref(), None)?;
            let p = s.project()?;
            if !yes
                && !prompt::confirm(&format!(
                    "Destroy key version {version} of {p}? Anything still wrapped by it becomes unreadable."
                ))
            {
                return Err(CliError::new("not confirmed; nothing destroyed")
                    .hint("pass --yes to destroy without a prompt"));
            }
            let k: KekVersionStatus = client.call(
                Method::POST,
                &format!("/v1/projects/{p}/keys/{version}/destroy"),
            )?;
            print_kek(&k, output.format, "destroyed")
        }
        KeysCommand::Rewrap {
            command: Some(RewrapCommand::Status { id, follow, output }),
            ..
        } => {
            let (_, client) = ctx.connect(None, None)?;
            let mut job: RewrapJob = client.get(&format!(
                "/v1/keys/rewrap/{}",
                crate::commands::audit::encode_query(&id)
            ))?;
            if follow {
                job = follow_job(&client, job)?;
            }
            report_job(&job, output.format, false)
        }
        KeysCommand::Rewrap {
            command: None,
            project,
            detach,
            output,
        } => {
            let (_, client) = ctx.connect(None, None)?;
            let mut job: RewrapJob = client.send(
                Method::POST,
                "/v1/keys/rewrap",
                &StartRewrap {
                    project: project.map(|p| p.to_string()),
                },
            )?;
            if !detach {
                job = follow_job(&client, job)?;
            }
            report_job(&job, output.format, detach)
        }
    }
}

/// Follows a running job with a progress bar until it ends.
fn follow_job(client: &crate::client::Client, mut job: RewrapJob) -> CliResult<RewrapJob> {
    let bar = ProgressBar::new(job.total.max(1));
    bar.set_style(
        ProgressStyle::with_template("rewrap {bar:40} {pos}/{len} data keys ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    while job.state == "running" {
        bar.set_length(job.total.max(1));
        bar.set_position(job.done);
        std::thread::sleep(Duration::from_millis(250));
        job = client.get(&format!(
            "/v1/keys/rewrap/{}",
            crate::commands::audit::encode_query(&job.id)
        ))?;
    }
    bar.set_position(job.done);
    bar.finish_and_clear();
    Ok(job)
}

/// Prints a job; a failed one is an error (exit 1).
fn report_job(job: &RewrapJob, format: Format, detached: bool) -> CliResult<u8> {
    if format == Format::Json {
        output::json(job)?;
    } else if detached {
        output::note(&format!(
            "rewrap job {} started ({} data keys); follow it with `vault keys rewrap status {} --follow`",
            job.id, job.total, job.id
        ));
    } else {
        output::note(&format!(
            "rewrap job {} {}: {}/{} data keys moved",
            job.id, job.state, job.done, job.total
        ));
    }
    if job.state == "failed" {
        return Err(CliError::new(format!(
            "rewrap job {} failed: {}",
            job.id,
            job.error.as_deref().unwrap_or("no reason given")
        ))
        .hint("it is resumable: run `vault keys rewrap` again"));
    }
    Ok(0)
}
