//! Exec mode (the default): the `vault` process becomes the command, so
//! signals, terminal job control and the exit status are native and no
//! parent stays behind. Also the tiny re-exec shim the supervisor starts its
//! child through, which arms "die when the CLI dies" before the real exec.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::process::Signal;

use crate::error::{CliError, exit};
use crate::run::status;

/// `argv[1]` that turns `vault` into the supervisor's child shim.
pub const SHIM_ARG: &str = "__vault-run-child";

/// What to run: a program and its arguments, passed verbatim.
#[derive(Debug, Clone)]
pub struct Target {
    /// Program (looked up in the child's `PATH` when it has no `/`).
    pub program: OsString,
    /// Arguments, verbatim.
    pub args: Vec<OsString>,
}

/// Builds the command with exactly `env` as its environment.
pub fn command(target: &Target, env: &[(OsString, OsString)]) -> Command {
    let mut cmd = Command::new(&target.program);
    cmd.args(&target.args).env_clear().envs(env.iter().cloned());
    cmd
}

/// Replaces this process with `target`. Returns only on failure, with the
/// shell-style exit code (127 not found, 126 not executable).
pub fn exec(target: &Target, env: &[(OsString, OsString)]) -> CliError {
    let e = command(target, env).exec();
    exec_error_env(&target.program, e, env.iter().cloned())
}

/// `E2BIG`: the kernel refused the environment (with the arguments) as too
/// large. Says how large it is against the limits, never a value.
fn too_big(
    program: &str,
    e: std::io::Error,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    code: u8,
) -> CliError {
    let (mut total, mut count, mut largest) = (0usize, 0usize, (0usize, String::new()));
    for (k, v) in env {
        let n = k.len() + v.len() + 2;
        total += n;
        count += 1;
        if n > largest.0 {
            largest = (n, k.to_string_lossy().into_owned());
        }
    }
    // Linux: one string at most 32 pages (MAX_ARG_STRLEN, 128 KiB); all of
    // them together at most a quarter of the stack limit (ARG_MAX).
    let arg_max = rustix::process::getrlimit(rustix::process::Resource::Stack)
        .current
        .map_or(2 * 1024 * 1024, |stack| {
            usize::try_from(stack / 4).unwrap_or(usize::MAX)
        });
    CliError::new(format!(
        "cannot start {program}: the environment is too large for the kernel \
         ({total} bytes in {count} variables; the largest, {}, is {} bytes; limits: {} bytes \
         for one variable, about {arg_max} for all arguments and variables)",
        largest.1, largest.0, 128 * 1024
    ))
    .source(e)
    .hint("pass fewer secrets with --only NAME,...; keep large values (certificates, keys) in files and pass their paths")
    .code(code)
}

/// The error for a command that could not be executed (with this
/// process's environment; see [`exec_error_env`]).
pub fn exec_error(program: &std::ffi::OsStr, e: std::io::Error) -> CliError {
    exec_error_env(program, e, std::env::vars_os())
}

/// The error for a command that could not be executed with `env`.
pub fn exec_error_env(
    program: &std::ffi::OsStr,
    e: std::io::Error,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> CliError {
    let code = status::from_spawn_error(&e);
    let shown = program.to_string_lossy();
    if e.raw_os_error() == Some(rustix::io::Errno::TOOBIG.raw_os_error()) {
        return too_big(&shown, e, env, code);
    }
    let (msg, hint) = if code == exit::NOT_FOUND {
        (
            format!("command not found: {shown}"),
            "check the spelling and PATH; use --command \"...\" to run a shell command line",
        )
    } else {
        (
            format!("cannot execute {shown}"),
            "check that it is an executable file (chmod +x) with a valid interpreter line",
        )
    };
    CliError::new(msg).source(e).hint(hint).code(code)
}

/// The shim: `vault __vault-run-child <parent-pid> <tty|-> -- PROGRAM ARGS...`.
/// Asks the kernel to SIGKILL this process when its parent dies, checks the
/// parent is still the supervisor (it may have died before the request),
/// with `tty` waits until its process group owns the terminal, then execs
/// PROGRAM. The death signal survives exec.
pub fn shim(mut args: impl Iterator<Item = OsString>) -> CliError {
    let parent = args
        .next()
        .and_then(|p| p.to_str().and_then(|p| p.parse::<i32>().ok()));
    let tty = args
        .next()
        .is_some_and(|t| t == crate::run::supervise::TTY_ARG);
    let sep = args.next();
    let (Some(parent), Some(true), Some(program)) = (parent, sep.map(|s| s == "--"), args.next())
    else {
        return CliError::new("internal: malformed child shim invocation").code(exit::USAGE);
    };
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        return CliError::new("cannot arm the parent-death signal").source(e);
    }
    if rustix::process::getppid()
        .map(rustix::process::Pid::as_raw_nonzero)
        .map(|p| p.get())
        != Some(parent)
    {
        return CliError::new("the supervising vault process is gone; not starting the command");
    }
    if tty {
        crate::run::supervise::wait_for_terminal();
    }
    let rest: Vec<OsString> = args.collect();
    let e = Command::new(&program).args(&rest).exec();
    exec_error(&program, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_shim_calls_are_refused() {
        for args in [
            &[][..],
            &["123"][..],
            &["x", "-", "--", "true"][..],
            &["1", "-", "true"][..],
        ] {
            let e = shim(args.iter().map(OsString::from));
            assert_eq!(e.exit_code(), exit::USAGE, "{args:?}");
        }
        // A parent that is not ours: refused before any exec.
        let e = shim(["1", "-", "--", "true"].iter().map(OsString::from));
        assert!(e.message().contains("supervising vault process is gone"));
    }

    #[test]
    fn exec_errors_map_to_shell_codes() {
        let e = exec_error(
            std::ffi::OsStr::new("nope"),
            std::io::Error::from_raw_os_error(2),
        );
        assert_eq!(
            (e.exit_code(), e.message()),
            (127, "command not found: nope")
        );
        let e = exec_error(
            std::ffi::OsStr::new("./x"),
            std::io::Error::from_raw_os_error(13),
        );
        assert_eq!(e.exit_code(), 126);
    }
}
