//! # vault-cli
//!
//! The `vault` command-line client, as a library so its parts are testable
//! (the binary is a one-line `main`). It talks to `vault-server` over HTTP
//! only and never links it. The hot path is `vault run`: parse flags,
//! resolve settings, one HTTP request, exec. See `docs/cli.md`.
//!
//! - [`cli`]: the clap command line; [`commands`]: one module per group;
//! - [`config`]: flags > environment > `.vault.toml`;
//! - [`client`]: HTTP; [`token_store`]: where a login token is kept;
//! - [`run`]: `vault run` (environment, exec, supervision, exit statuses);
//! - [`dotenv`], [`output`], [`prompt`], [`error`]: formats, tables, input,
//!   errors with hints and exit codes.

pub mod audit_offline;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod dotenv;
pub mod error;
pub mod output;
pub mod prompt;
pub mod run;
pub mod token_store;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::error::{CliError, CliResult, exit};

/// The whole program: parse, dispatch, print any error, return the exit code.
pub fn main() -> ExitCode {
    let mut args = std::env::args_os();
    // The supervisor's child shim: no clap, no config, straight to exec.
    if args.nth(1).is_some_and(|a| a == run::exec::SHIM_ARG) {
        let e = run::exec::shim(args);
        return fail(&e);
    }
    let rest: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if rest.first().is_some_and(|a| a == "run")
        && let Some(fast) = rest.get(1..).and_then(cli::RunOnly::parse_fast)
    {
        return match run_fast(fast) {
            Ok(code) => ExitCode::from(code),
            Err(e) => fail(&e),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    // `vault ... | head`: the reader has what it wanted; say nothing.
    if e.is_broken_pipe() {
        return ExitCode::from(exit::OK);
    }
    let mut err = std::io::stderr().lock();
    e.report(&mut err, output::stderr_color());
    ExitCode::from(e.exit_code())
}

fn run_fast(fast: cli::RunOnly) -> CliResult<u8> {
    dispatch(Cli {
        addr: fast.addr,
        cacert: fast.cacert,
        command: Command::Run(fast.run),
    })
}

fn dispatch(cli: Cli) -> CliResult<u8> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new("cannot read the current directory").source(e))?;
    let ctx = Ctx {
        addr: cli.addr,
        cacert: cli.cacert,
        cwd,
    };
    match cli.command {
        Command::Run(args) => {
            let settings =
                ctx.settings(args.scope.project.as_ref(), args.scope.environment.as_ref())?;
            // In CI: the job's identity token for a short token, kept in this
            // process only. A VAULT_TOKEN or a stored login wins over the
            // `.vault.toml` default, never over --workload.
            let explicit = args.workload.workload.is_some();
            let workload = commands::workload::wanted(&args.workload, &settings)
                .filter(|_| explicit || !ctx.has_credential(&settings));
            let client = match workload {
                Some((issuer, role)) => {
                    let anon = ctx.anonymous(&settings)?;
                    let t = commands::workload::exchange(&anon, &args.workload, &issuer, &role)?;
                    ctx.with_token(&settings, &t.token)?
                }
                None => ctx.client(&settings)?,
            };
            run::run(args, &settings, &client)
        }
        Command::Secrets(c) => commands::secrets::run(c, &ctx),
        Command::Projects(c) => commands::admin::projects(c, &ctx),
        Command::Envs(c) => commands::admin::envs(c, &ctx),
        Command::Operator(c) => commands::operator::run(c, &ctx),
        Command::Keys(c) => commands::keys::run(c, &ctx),
        Command::Audit(c) => commands::audit::run(c, &ctx),
        Command::Login(a) => commands::identity::login(&a, &ctx),
        Command::Logout => commands::identity::logout(&ctx),
        Command::Password => commands::identity::password(&ctx),
        Command::Whoami { output } => commands::identity::whoami(output, &ctx),
        Command::Users(c) => commands::identity::users(c, &ctx),
        Command::Access(c) => commands::identity::access(c, &ctx),
        Command::Sessions(c) => commands::identity::sessions(c, &ctx),
        Command::Tokens(c) => commands::identity::tokens(c, &ctx),
        Command::Workload(c) => commands::workload::run(c, &ctx),
        Command::Alerts(c) => commands::alerts::run(c, &ctx),
        Command::Compliance(c) => commands::compliance::run(c, &ctx),
        Command::Emergency(c) => commands::identity::emergency(c, &ctx),
        Command::Completion { shell } => commands::completion::run(shell),
    }
}
