//! The command line, as clap derive types. Every command's long help (`--help`)
//! ends with examples. Secret values are never flags: they come from stdin
//! or a no-echo prompt.
//!
//! Identity commands (`login`, `logout`, `whoami`, `users`, `access`,
//! `sessions`, `tokens`, `emergency`) are in [`identity`]; `login` keeps its
//! token in [`crate::token_store::TokenStore`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vault_core::names::{EnvName, ProjectName, SecretName};

use crate::dotenv::ExportFormat;
use crate::output::Format;

pub mod identity;
pub use identity::{
    AccessCommand, EmergencyCommand, LoginArgs, ReviewCommand, RolesCommand, SessionsCommand,
    TokensCommand, UsersCommand, WorkloadArgs, WorkloadCommand, WorkloadRolesCommand,
};

const MAIN_AFTER: &str = "\
Configuration, highest precedence first:
  flags (--addr, --cacert, -p, -e)
  environment (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_PROJECT, VAULT_ENV)
  .vault.toml in the current directory or the nearest parent (never a secret)

Examples:
  export VAULT_ADDR=https://vault.example.com:8200
  vault secrets set DATABASE_URL -p payments -e dev      # prompts, no echo
  vault run -p payments -e dev -- npm start
  vault secrets export -p payments -e dev --format json

Exit codes: 0 ok, 1 failure, 2 usage error, 3 audit verification failed;
`vault run` exits with its command's status (128+N for signal N, 126 not
executable, 127 not found). See docs/cli.md.";

/// `vault`: the client of a self-hosted secrets vault.
#[derive(Debug, Parser)]
#[command(
    name = "vault",
    version,
    about = "Client of a self-hosted secrets vault: run apps with their secrets, manage secrets, operate the server",
    after_long_help = MAIN_AFTER,
    max_term_width = 100
)]
pub struct Cli {
    /// Server address (overrides VAULT_ADDR and .vault.toml)
    #[arg(long, global = true, value_name = "URL", display_order = 900)]
    pub addr: Option<String>,

    /// PEM file of CA certificates to trust (overrides VAULT_CACERT)
    #[arg(long, global = true, value_name = "FILE", display_order = 901)]
    pub cacert: Option<PathBuf>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command with an environment's secrets in its environment
    Run(RunArgs),
    /// Read and write secrets
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// List and create projects
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// List and create environments of a project
    #[command(subcommand)]
    Envs(EnvsCommand),
    /// Initialize, unseal and seal the server
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Key versions, rotation and rewrapping
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read, export and verify the audit trail
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Log in (password, or single sign-on in a browser); the session token is kept
    Login(LoginArgs),
    /// Log out: revoke the session on the server and forget the token
    Logout,
    /// Change your own password (ends every session of yours, this one too)
    #[command(after_long_help = "\
Prompts for the current and the new password (twice) on a terminal; piped,
reads the current password on the first line of stdin and the new one on the
second. Passwords never go on the command line.

Examples:
  vault password
  printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | vault password")]
    Password,
    /// Who the current token belongs to, and its roles
    Whoami {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Users: create, disable, enable, delete, offboard, link single sign-on identities
    #[command(subcommand)]
    Users(UsersCommand),
    /// Roles and role bindings
    #[command(subcommand)]
    Access(AccessCommand),
    /// List and revoke login sessions
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Service tokens for machines
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Emergency (break-glass) access
    #[command(subcommand)]
    Emergency(EmergencyCommand),
    /// Workload identity: CI jobs and pods without a stored token
    #[command(subcommand)]
    Workload(WorkloadCommand),
    /// Webhook alerts on critical events (signed, retried, logged)
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// HIPAA evidence: the signed compliance report, checked offline
    #[command(subcommand)]
    Compliance(ComplianceCommand),
    /// Print a shell completion script
    #[command(after_long_help = "\
Examples:
  vault completion bash > ~/.local/share/bash-completion/completions/vault
  vault completion zsh > \"${fpath[1]}/_vault\"
  vault completion fish > ~/.config/fish/completions/vault.fish")]
    Completion {
        /// The shell
        shell: Shell,
    },
}

/// Shells `vault completion` supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU bash
    Bash,
    /// Z shell
    Zsh,
    /// fish
    Fish,
}

/// Where secrets live: `-p PROJECT -e ENV`.
#[derive(Debug, Clone, Default, Args)]
pub struct Scope {
    /// Project (overrides VAULT_PROJECT and .vault.toml)
    #[arg(short = 'p', long, value_name = "PROJECT")]
    pub project: Option<ProjectName>,
    /// Environment (overrides VAULT_ENV and .vault.toml)
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: Option<EnvName>,
}

/// `--format table|json`.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Output {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `vault run ...` parsed on its own: the fast path of the hot command.
/// Building the whole command tree costs about 0.4 ms, a tenth of `vault
/// run`'s budget; this parser builds only `run`'s arguments. Any failure
/// (including `--help`) falls back to [`Cli`], so messages are identical.
#[derive(Debug, Parser)]
#[command(name = "vault run", disable_help_flag = true)]
pub struct RunOnly {
    /// `--addr`, as on [`Cli`].
    #[arg(long, value_name = "URL")]
    pub addr: Option<String>,
    /// `--cacert`, as on [`Cli`].
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// The `run` arguments.
    #[command(flatten)]
    pub run: RunArgs,
}

impl RunOnly {
    /// Parses `args` (everything after `vault run`); `None` when the full
    /// parser must handle them (errors, help).
    pub fn parse_fast(args: &[OsString]) -> Option<Self> {
        if args.iter().any(|a| a == "-h" || a == "--help") {
            return None;
        }
        let argv = std::iter::once(OsString::from("vault run")).chain(args.iter().cloned());
        Self::try_parse_from(argv).ok()
    }
}

const RUN_AFTER: &str = "\
The secrets are fetched in one request and put in the command's environment;
they override inherited variables unless --preserve-env says otherwise.
VAULT_TOKEN and the vault's other credential variables are removed. Arguments
reach the command exactly as given: no shell is involved unless --command is
used. Anything that can fail (unknown project or environment, access denied,
integrity error, a name listed in `required` of .vault.toml missing) stops
the run before the command starts, with exit code 1.

By default `vault` replaces itself with the command (exec): signals and the
exit status are the command's own. With --supervise, `vault` stays as the
parent: the command runs in its own process group, each terminating signal
sent to `vault` is forwarded to it exactly once, it is killed if `vault`
dies, and `vault` exits with its status (128+N for signal N).

Examples:
  vault run -p payments -e dev -- npm start
  vault run -- ./server --port 8080          # project/env from .vault.toml
  vault run --only DATABASE_URL -- psql \"$DATABASE_URL\"   # $ expands in YOUR shell first
  vault run --command 'echo \"$DATABASE_URL\" | wc -c'      # a shell line, expanded in the child
  vault run --preserve-env=PORT,HOST -- ./server
  vault run --supervise -- ./worker";

/// `vault run`.
#[derive(Debug, Args)]
#[command(after_long_help = RUN_AFTER)]
pub struct RunArgs {
    /// Where the secrets come from.
    #[command(flatten)]
    pub scope: Scope,

    /// Keep inherited variables over secrets of the same name: all of them,
    /// or only the comma-separated NAMES
    #[arg(
        long,
        value_name = "NAMES",
        num_args = 0..=1,
        require_equals = true,
        value_delimiter = ','
    )]
    pub preserve_env: Option<Vec<String>>,

    /// Inject only these secrets (comma-separated); a missing one is an error
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Option<Vec<SecretName>>,

    /// Run this command line with /bin/sh -c instead of CMD ARGS
    #[arg(long, value_name = "LINE", conflicts_with = "cmd")]
    pub command: Option<String>,

    /// In CI or a pod: trade the job's identity token for a short token
    /// first (kept in this process only)
    #[command(flatten)]
    pub workload: WorkloadArgs,

    /// Stay resident as the command's parent (own process group, signals
    /// forwarded once, no orphan) instead of exec
    #[arg(long)]
    pub supervise: bool,

    /// The command and its arguments, passed verbatim
    #[arg(
        value_name = "CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(OsString),
        required_unless_present = "command"
    )]
    pub cmd: Vec<OsString>,
}

/// `vault secrets ...`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Write a new version of a secret (value from stdin or a no-echo prompt)
    #[command(after_long_help = "\
The value is read from stdin when it is not a terminal (one trailing newline
is removed unless --raw), else typed at a prompt that does not echo. It is
never taken from the command line.

Examples:
  vault secrets set DATABASE_URL -p payments -e dev
  printf %s \"$VALUE\" | vault secrets set API_KEY -p payments -e dev
  vault secrets set TLS_KEY --raw -p payments -e prod < key.pem
  vault secrets set API_KEY --cas 3 -p payments -e dev    # only if current is v3")]
    Set {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name (an environment variable name)
        name: SecretName,
        /// Write only if the current version is this one (0: only if absent)
        #[arg(long, value_name = "VERSION")]
        cas: Option<u64>,
        /// Keep stdin byte for byte (no trailing newline removed)
        #[arg(long)]
        raw: bool,
        /// Accept an empty value (refused by default: usually a missing pipe)
        #[arg(long)]
        allow_empty: bool,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Print a secret's value (raw, for scripts)
    #[command(after_long_help = "\
Prints the value exactly, with no trailing newline added unless stdout is a
terminal. With --format json, prints the version, author and value as JSON.

Examples:
  vault secrets get DATABASE_URL -p payments -e dev
  vault secrets get DATABASE_URL --version 2 -p payments -e dev")]
    Get {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// An older version
        #[arg(long)]
        version: Option<u64>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// List secret names (never values)
    #[command(
        after_long_help = "Examples:\n  vault secrets list -p payments -e dev\n  vault secrets list --format json"
    )]
    List {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Show a secret's versions (no values)
    History {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Make an old version's value current again (as a new version)
    #[command(
        after_long_help = "Examples:\n  vault secrets rollback API_KEY --to 2 -p payments -e dev"
    )]
    Rollback {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// The version to copy
        #[arg(long = "to", value_name = "VERSION")]
        to: u64,
        /// Only if the current version is this one
        #[arg(long, value_name = "VERSION")]
        cas: Option<u64>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Move a secret to the trash (restorable until purged)
    Delete {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Bring a secret back from the trash
    Restore {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// List the trash of an environment
    Trash {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Destroy a trashed secret for good
    Purge {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Secret name
        name: SecretName,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Write every entry of a .env file as a secret
    #[command(after_long_help = "\
Reads NAME=value lines: `#` comments, an optional `export ` prefix, 'single'
(literal) and \"double\" (\\n \\t \\\" \\\\ \\$ escapes) quotes, values spanning
lines inside quotes. Nothing is expanded. The whole file is checked before
anything is written.

Examples:
  vault secrets import .env -p payments -e dev
  vault secrets import - -p payments -e dev < .env")]
    Import {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// The .env file (`-` for stdin)
        file: PathBuf,
        /// Only write names that do not exist yet
        #[arg(long)]
        skip_existing: bool,
        /// When the file defines a name twice: which line wins (otherwise
        /// the import is refused, naming both lines)
        #[arg(long, value_enum, value_name = "WHICH")]
        on_duplicate: Option<Duplicate>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Print every secret of an environment (dotenv, JSON, shell or Docker env file)
    #[command(after_long_help = "\
Examples:
  vault secrets export -p payments -e dev > .env.local     # dotenv
  vault secrets export --format json -p payments -e dev
  eval \"$(vault secrets export --format shell -p payments -e dev)\"
  vault secrets export --format docker -o app.env -p payments -e dev && docker run --env-file app.env IMAGE
  vault secrets export -o secrets.env -p payments -e dev   # file created 0600")]
    Export {
        /// Where.
        #[command(flatten)]
        scope: Scope,
        /// Output format
        #[arg(long, value_enum, default_value_t = ExportFormat::Dotenv)]
        format: ExportFormat,
        /// Write to this file (created with mode 0600) instead of stdout
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `vault projects ...`.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List the projects you may see
    List {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Create a project
    Create {
        /// Project name (lowercase letters, digits, '-', '_')
        name: ProjectName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Delete a project and crypto-shred its keys (irreversible)
    Delete {
        /// Project name
        name: ProjectName,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
}

/// `vault envs ...`.
#[derive(Debug, Subcommand)]
pub enum EnvsCommand {
    /// List the environments of a project
    List {
        /// Project (overrides VAULT_PROJECT and .vault.toml)
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Create an environment in a project
    Create {
        /// Project (overrides VAULT_PROJECT and .vault.toml)
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Environment name
        name: EnvName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Copy an environment into a new one (values re-encrypted under fresh data keys)
    #[command(after_long_help = "\
Creates TO and writes every current value of FROM into it; the server
encrypts each under a fresh data key. Needs secrets.read on FROM,
projects.manage on the project and secrets.write on TO. TO must not exist.

Examples:
  vault envs clone -p payments dev staging")]
    Clone {
        /// Project (overrides VAULT_PROJECT and .vault.toml)
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// The environment to copy
        from: EnvName,
        /// The new environment
        to: EnvName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Compare the secret names of two environments (never values)
    #[command(after_long_help = "\
Examples:
  vault envs diff -p payments dev prod
  vault envs diff -p payments dev prod --format json")]
    Diff {
        /// Project (overrides VAULT_PROJECT and .vault.toml)
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// One environment
        a: EnvName,
        /// The other
        b: EnvName,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
}

/// The audit filters shared by `vault audit list` and `export`.
#[derive(Debug, Clone, Args)]
pub struct AuditFilterArgs {
    /// From this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Before this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Only this actor (e.g. user:alice, service:ID)
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (`secret.*` for a prefix)
    #[arg(long)]
    pub action: Option<String>,
    /// Only this resource or resource prefix (e.g. payments/prod)
    #[arg(long)]
    pub resource: Option<String>,
}

/// `vault keys rewrap status`.
#[derive(Debug, Subcommand)]
pub enum RewrapCommand {
    /// Show a rewrap job (started with --detach, or by someone else)
    Status {
        /// The job id
        id: String,
        /// Follow it with a progress bar until it ends
        #[arg(long)]
        follow: bool,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
}

/// Which definition of a name defined twice in an imported file wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Duplicate {
    /// The first line that defines it.
    First,
    /// The last line that defines it.
    Last,
}

/// `vault operator ...`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Initialize a new server: create the root key and its unseal shares
    #[command(after_long_help = "\
Prints the unseal shares (or nothing, for passphrase and key-file modes) and
a root token ONCE. Store them apart, e.g. one share per operator.

Examples:
  vault operator init                       # 5 shares, any 3 unseal
  vault operator init --shares 1 --threshold 1
  vault operator init --passphrase          # prompts; or pipe it on stdin
  vault operator init --key-file            # unattended restarts")]
    Init {
        /// Number of Shamir shares (1..=255)
        #[arg(long, default_value_t = 5, conflicts_with_all = ["passphrase", "key_file"])]
        shares: u8,
        /// Shares needed to unseal (1..=shares; 1 of 1 suits a team of one)
        #[arg(long, default_value_t = 3, conflicts_with_all = ["passphrase", "key_file"])]
        threshold: u8,
        /// Protect the root key with a passphrase (read from stdin or a prompt)
        #[arg(long, conflicts_with = "key_file")]
        passphrase: bool,
        /// Protect it with the server's configured key file
        #[arg(long)]
        key_file: bool,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Give one unseal share (or the passphrase), read from stdin or a prompt
    #[command(after_long_help = "\
Each share is checked when given: a mistyped, truncated or foreign share is
refused at once, and a share given twice is named as such. Failed attempts are
throttled per source address (3 free, then 1 s doubling to 5 min).

Examples:
  vault operator unseal                 # prompts for a share, no echo
  vault operator unseal < share.txt
  vault operator unseal --reset         # forget the shares given so far
  vault operator unseal --key-file /etc/vault/unseal.key   # after a manual seal")]
    Unseal {
        /// Forget the shares given so far
        #[arg(long)]
        reset: bool,
        /// Key-file mode: send this key file's contents (needed after
        /// `vault operator seal`; a restart reads the configured file itself)
        #[arg(long, value_name = "PATH", conflicts_with = "reset")]
        key_file: Option<std::path::PathBuf>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Make a new root token, proving you hold the unseal key material
    #[command(after_long_help = "\
For when no root token is left (they can and should be revoked after setup:
`vault tokens revoke ID`). Needs a threshold of unseal shares (prompted one
by one, or one per line on stdin), the passphrase, or the key file; no token.
Wrong material counts as a failed unseal attempt (throttled per address).
The new token is printed once.

Examples:
  vault operator generate-root --ttl 1h
  cat share1 share2 share3 | vault operator generate-root --ttl 30m
  vault operator generate-root --key-file /etc/vault/unseal.key")]
    GenerateRoot {
        /// Lifetime of the new token (e.g. 30m, 12h; at most 30d); none: no expiry
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Key-file mode: prove with this key file
        #[arg(long, value_name = "PATH")]
        key_file: Option<std::path::PathBuf>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Rotate the root key: rewrap every project key under a new one
    #[command(after_long_help = "\
The cost grows with the number of keys, not of secrets. The unseal shares,
passphrase or key file stay the same.

Examples:
  vault operator rotate-root
  vault operator rotate-root --format json")]
    RotateRoot {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Seal the server: drop the root key from memory
    Seal {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Show whether the server is initialized and sealed (exit 2 when sealed)
    #[command(after_long_help = "\
Exit status: 0 unsealed, 2 sealed or not initialized, 1 cannot tell (the
server cannot be reached), so scripts and health checks can test it:
  vault operator status >/dev/null || echo sealed")]
    Status {
        /// Output.
        #[command(flatten)]
        output: Output,
    },
}

/// `vault keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show every key version and how much data it still protects
    Status {
        /// Only this project
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Make a new key version for a project (new writes use it)
    Rotate {
        /// Project (overrides VAULT_PROJECT and .vault.toml)
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Move every data key onto the newest key versions, with progress
    #[command(after_long_help = "\
Starts a rewrap job on the server and follows it with a progress bar until it
ends (the job keeps running if you press Ctrl-C; --detach returns at once).

Examples:
  vault keys rewrap
  vault keys rewrap -p payments
  vault keys rewrap --detach --format json
  vault keys rewrap status JOB_ID --follow")]
    #[command(args_conflicts_with_subcommands = true)]
    Rewrap {
        /// A job started earlier (none: start one)
        #[command(subcommand)]
        command: Option<RewrapCommand>,
        /// Only this project
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Start the job and return without following it
        #[arg(long)]
        detach: bool,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Retire a key version that no longer wraps any data key
    Retire {
        /// Project
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Key version
        version: u32,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Destroy a retired key version's material (irreversible)
    Destroy {
        /// Project
        #[arg(short = 'p', long, value_name = "PROJECT")]
        project: Option<ProjectName>,
        /// Key version
        version: u32,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
}

/// Audit export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// One JSON record per line
    Jsonl,
    /// Comma-separated values with a header
    Csv,
}

/// `vault audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit records, oldest first (or newest first, or the tail)
    #[command(after_long_help = "\
Examples:
  vault audit list --tail 20                    # the 20 latest, in order
  vault audit list --newest-first --action 'secret.*'
  vault audit list --actor user:alice --from 2026-11-01
  vault audit list --action secret.read --resource payments/prod --format json
  vault audit list --after 1200 --limit 100     # the next page
  vault audit list --newest-first --before 880  # the next page, newest first")]
    List {
        /// Which records.
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// Start after this sequence number
        #[arg(long, value_name = "SEQ", conflicts_with_all = ["before", "tail"])]
        after: Option<u64>,
        /// Only records before this sequence number
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// Newest first (the page after `--before SEQ`, if given)
        #[arg(long, conflicts_with = "tail")]
        newest_first: bool,
        /// The latest N records, oldest of them first (like `tail`)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        tail: Option<u32>,
        /// At most this many records (1 to 1000)
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Export the audit trail as JSON lines or CSV
    #[command(after_long_help = "\
Records outside the filters stay in the file as content hashes only, so a
filtered export still verifies offline with the public key.

Examples:
  vault audit export --format jsonl -o audit.jsonl
  vault audit export --format csv > audit.csv
  vault audit export --from 2026-11-01 --to 2026-12-01 --actor user:alice -o alice.jsonl")]
    Export {
        /// File format
        #[arg(long, value_enum, default_value_t = AuditFormat::Jsonl)]
        format: AuditFormat,
        /// Which records (the others stay as content hashes).
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// Write to this file instead of stdout
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Verify the hash chain and signed checkpoints (online, or offline on a file)
    #[command(after_long_help = "\
Online, the server verifies its own trail. Offline, an exported file is
checked with only the server's audit public key (from
`vault audit verify --print-public-key` or GET /v1/audit/public-key), so an
auditor needs no access to the vault. Exit code 3 when tampering is found,
or when a file is not covered to its end by a signature (unverified).

Every commit signs the chain's head, so cutting or rewriting acknowledged
records is caught. Someone holding the signing key could still cut the trail
back and re-sign it: save a head now and then (`vault audit head -o FILE`,
e.g. from cron, kept where the vault's operators cannot write), and check the
trail still contains it with --against.

Examples:
  vault audit verify
  vault audit verify --against heads/2026-11-30.json
  vault audit verify --file audit.jsonl --public-key audit.pub")]
    Verify {
        /// An exported file to verify offline (JSON lines or CSV)
        #[arg(long, value_name = "FILE", requires = "public_key")]
        file: Option<PathBuf>,
        /// The server's audit public key: a file, or the base64 text
        #[arg(long, value_name = "KEY", requires = "file")]
        public_key: Option<String>,
        /// Print the server's audit public key and exit
        #[arg(long, conflicts_with_all = ["file", "public_key"])]
        print_public_key: bool,
        /// A head saved earlier with `vault audit head`: the live trail must
        /// still contain it unchanged
        #[arg(long, value_name = "HEAD_FILE", conflicts_with_all = ["file", "print_public_key"])]
        against: Option<PathBuf>,
        /// Output.
        #[command(flatten)]
        output: Output,
    },
    /// Print the signed head of the audit chain (save it for `verify --against`)
    #[command(after_long_help = "\
The head is a signed statement \"record N has hash H\". Kept outside the
vault's reach (an auditor's store, a write-once bucket), it later proves that
the trail was not cut back past N, even by someone with the signing key.

Examples:
  vault audit head -o \"heads/$(date +%F).json\"
  vault audit verify --against heads/2026-11-30.json")]
    Head {
        /// Write to this file instead of stdout
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_keeps_argv_verbatim_after_the_command() {
        let cli = Cli::try_parse_from([
            "vault",
            "run",
            "-p",
            "demo",
            "--",
            "prog",
            "-p",
            "",
            "a b",
            "$X",
            "--supervise",
        ])
        .unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert!(!r.supervise);
        let args: Vec<_> = r.cmd.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["prog", "-p", "", "a b", "$X", "--supervise"]);
        // Without `--`, everything from the first positional on is the command.
        let cli = Cli::try_parse_from(["vault", "run", "ls", "-la"]).unwrap();
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert_eq!(r.cmd, ["ls", "-la"]);
    }

    #[test]
    fn the_run_fast_path_parses_like_the_full_parser() {
        let cases: &[&[&str]] = &[
            &[
                "-p", "demo", "-e", "dev", "--", "sh", "-c", "echo $X", "a b", "",
            ],
            &[
                "--addr",
                "http://127.0.0.1:1",
                "--cacert",
                "/ca.pem",
                "ls",
                "-la",
                "--addr",
            ],
            &["--preserve-env", "--only", "A,B", "--supervise", "--", "x"],
            &["--preserve-env=A", "--command", "echo hi"],
            &["-e", "dev", "prog", "-p", "not-ours", "--", "--"],
            &["--unknown-flag-is-the-command", "x"],
        ];
        for case in cases {
            let args: Vec<OsString> = case.iter().map(OsString::from).collect();
            let fast = RunOnly::parse_fast(&args).expect("fast path parses");
            let mut full_argv = vec![OsString::from("vault"), OsString::from("run")];
            full_argv.extend(args.iter().cloned());
            let full = Cli::try_parse_from(full_argv).unwrap();
            let Command::Run(run) = full.command else {
                panic!("not run")
            };
            assert_eq!(format!("{:?}", fast.run), format!("{run:?}"), "{case:?}");
            assert_eq!(
                (fast.addr, fast.cacert),
                (full.addr, full.cacert),
                "{case:?}"
            );
        }
        // Whatever the fast path refuses goes to the full parser.
        for bad in [
            &[][..],
            &["-p", "Bad", "--", "x"][..],
            &["--help"][..],
            &["-h"][..],
        ] {
            let args: Vec<OsString> = bad.iter().map(OsString::from).collect();
            assert!(RunOnly::parse_fast(&args).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn preserve_env_forms() {
        let parse = |args: &[&str]| {
            let mut v = vec!["vault", "run"];
            v.extend_from_slice(args);
            v.extend_from_slice(&["--", "true"]);
            match Cli::try_parse_from(v).unwrap().command {
                Command::Run(r) => r.preserve_env,
                _ => None,
            }
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--preserve-env"]), Some(vec![]));
        assert_eq!(
            parse(&["--preserve-env=A,B"]),
            Some(vec!["A".to_owned(), "B".to_owned()])
        );
    }
}

/// `vault alerts ...`.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Subscribe a receiver to events; prints its signing secret once
    #[command(after_long_help = "\
Deliveries are HTTP POSTs signed the Standard Webhooks way: headers
webhook-id, webhook-timestamp and webhook-signature (v1,<base64
HMAC-SHA256 of id.timestamp.body> under the whsec_ secret). Failed ones are
tried again after 10 s, 1 min, 5 min, 30 min and 2 h. See docs/hipaa.md.

Examples:
  vault alerts add --url https://hooks.example.com/vault \\
      --events emergency.open,secret.integrity_failure,audit.chain_broken,auth.throttled
  vault alerts list
  vault alerts test wh_...
  vault alerts deliveries wh_...
  vault alerts remove wh_...")]
    Add {
        /// The receiver (https://)
        #[arg(long)]
        url: String,
        /// Events, comma-separated (`vault alerts list` shows them all)
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List subscriptions and every event there is
    List {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Remove a subscription (and its delivery log)
    Remove {
        /// Subscription id
        id: String,
    },
    /// Show a subscription's delivery log
    Deliveries {
        /// Subscription id
        id: String,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Send a test event to a subscription's receiver
    Test {
        /// Subscription id
        id: String,
    },
}

/// `vault compliance ...`.
#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// The signed HIPAA Security Rule report for a period (docs/hipaa.md)
    #[command(after_long_help = "\
One line per safeguard of 45 CFR 164.308, 164.310, 164.312 and 164.316
with its status (met / needs attention / not met / not applicable), the
evidence behind it and the audit records that support it. The audit chain
is verified as part of it. The file is signed with the vault's audit key.

Examples:
  vault compliance report -o report.html                     # last 90 days
  vault compliance report --from 2026-01-01 --to 2026-04-01 --format md -o q1.md
  vault compliance report --format json | jq '.report.summary'")]
    Report {
        /// Start (RFC 3339 or YYYY-MM-DD; default: 90 days before --to)
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// End, exclusive (default: now)
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// html (one self-contained page to open and print), json or md
        #[arg(long, value_parser = ["html", "json", "md"], default_value = "html")]
        format: String,
        /// Write to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Check a report file's signature offline: was it edited?
    #[command(after_long_help = "\
Examples:
  vault audit verify --print-public-key > vault.pub     # once, from the server
  vault compliance verify report.html --public-key vault.pub")]
    Verify {
        /// The report file (html, md or json)
        file: std::path::PathBuf,
        /// The audit public key: base64, or a file holding it
        #[arg(long, value_name = "KEY")]
        public_key: String,
    },
}
