//! `vault completion bash|zsh|fish`.

use std::io::Write as _;

use clap::CommandFactory;

use crate::cli::{Cli, Shell};
use crate::error::CliResult;

/// Prints the completion script for `shell` on stdout. Written from a
/// buffer: `clap_complete` panics on a write error, and a reader that stops
/// early (`| head`) is a normal end, not a crash.
pub fn run(shell: Shell) -> CliResult<u8> {
    let mut cmd = Cli::command();
    let gen_shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(gen_shell, &mut cmd, "vault", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}
