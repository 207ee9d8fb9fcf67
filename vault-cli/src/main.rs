//! `vault`: the vault's command-line client (see the `vault_cli` library).

fn main() -> std::process::ExitCode {
    vault_cli::main()
}
