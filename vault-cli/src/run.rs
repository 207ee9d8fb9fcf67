//! `vault run`: fetch an environment's secrets in one round trip, put them
//! in a command's environment, and run it: exec by default, supervised with
//! `--supervise`. Everything that can fail does so before the command
//! starts (fail closed).

pub mod env;
pub mod exec;
pub mod status;
pub mod supervise;

use std::collections::BTreeMap;
use std::ffi::OsString;

use vault_core::api::Bundle;
use vault_core::secret::SecretText;

use crate::cli::RunArgs;
use crate::client::Client;
use crate::config::Settings;
use crate::error::{CliError, CliResult};
use exec::Target;

/// The URL path of an environment's bundle.
pub fn bundle_path(project: &str, environment: &str) -> String {
    format!("/v1/projects/{project}/environments/{environment}/bundle")
}

/// Runs `vault run`; returns the exit code (in supervised mode) or does not
/// return (exec mode) unless something failed.
pub fn run(args: RunArgs, settings: &Settings, client: &Client) -> CliResult<u8> {
    let target = match (&args.command, args.cmd.split_first()) {
        (Some(line), _) => Target {
            program: OsString::from("/bin/sh"),
            args: vec![OsString::from("-c"), OsString::from(line)],
        },
        (None, Some((program, rest))) => Target {
            program: program.clone(),
            args: rest.to_vec(),
        },
        (None, None) => {
            return Err(CliError::new("no command given")
                .hint("vault run -- CMD [ARGS...]  or  vault run --command \"CMD LINE\"")
                .code(crate::error::exit::USAGE));
        }
    };
    let sources = settings.sources()?;
    let scope = sources
        .iter()
        .map(|s| format!("{}/{}", s.project, s.environment))
        .collect::<Vec<_>>()
        .join(", ");
    let mut bundles: Vec<(crate::config::Source, BTreeMap<String, SecretText>)> =
        Vec::with_capacity(sources.len());
    for source in sources {
        let b: Bundle = client
            .get(&bundle_path(
                source.project.as_str(),
                source.environment.as_str(),
            ))
            .map_err(|e| {
                e.context(format!(
                    "cannot fetch the secrets of {}/{}; the command was not started",
                    source.project, source.environment
                ))
            })?;
        bundles.push((source, b.secrets));
    }
    let secrets = env::merge(bundles, settings.merge)?;
    let opts = env::Options {
        preserve: env::Preserve::from_flag(args.preserve_env.as_deref()),
        only: args.only.clone(),
        required: settings.required.clone(),
        required_from: settings.file.as_ref().map(|f| f.display().to_string()),
        scope,
    };
    let child_env = env::child_env(std::env::vars_os(), &secrets, &opts)?;
    drop(secrets);
    if args.supervise {
        supervise::run(&target, &child_env)
    } else {
        Err(exec::exec(&target, &child_env))
    }
}
