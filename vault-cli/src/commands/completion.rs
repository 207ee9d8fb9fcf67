//! `vault completion bash|zsh|fish`.

use clap::CommandFactory;

use crate::cli::{Cli, Shell};
use crate::error::CliResult;

/// Prints the completion script for `shell` on stdout.
pub fn run(shell: Shell) -> CliResult<u8> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    let gen_shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(gen_shell, &mut cmd, "vault", &mut out);
    Ok(0)
}
