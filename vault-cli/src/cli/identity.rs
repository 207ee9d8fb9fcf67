//! Identity commands: `login`, `logout`, `whoami`, `users`, `access`,
//! `sessions`, `tokens`, `emergency`. Passwords come from stdin or a
//! no-echo prompt, never from a flag.

use clap::{Args, Subcommand};

use super::Output;

/// A user name as the server takes it: trimmed, NFKC, lowercase (`Alice`
/// becomes `alice`); an invalid one is a usage error.
fn username(s: &str) -> Result<String, String> {
    vault_core::identity::Username::parse(s)
        .map(|u| u.as_str().to_owned())
        .map_err(|e| e.to_string())
}

/// `vault login`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("browser").args(["oidc", "web"])))]
#[command(after_long_help = "\
The session token is kept in the OS keyring (or a 0600 file, see
VAULT_TOKEN_STORE) for this server address and used by the following
commands. VAULT_TOKEN, when set, wins over it.

With --oidc the login happens in a browser at your identity provider: the
CLI listens on 127.0.0.1, prints (and opens) a URL on the vault server that
starts single sign-on, and receives a one-time code when you are done; only
this CLI can redeem it (PKCE). Nothing secret passes through the terminal.

With --web the same happens through the vault's own sign-in page: a
password and your passkey, a passkey alone, or single sign-on. An account
with a passkey needs it: a password alone gives no session, so use --web.

Examples:
  vault login --username alice                 # prompts, no echo
  printf '%s' \"$PW\" | vault login --username alice --password-stdin
  vault login --oidc                           # the server's only SSO provider
  vault login --oidc corp --no-browser         # print the URL, open it yourself
  vault login --web                            # the sign-in page: passkey, password + passkey, SSO
  vault login --workload github --role deploy  # in CI: the job's identity token (docs/ci.md)")]
pub struct LoginArgs {
    /// Username (password login)
    #[arg(long, short = 'u', value_name = "NAME", value_parser = username,
          required_unless_present_any = ["oidc", "workload", "web"],
          conflicts_with_all = ["oidc", "workload", "web"])]
    pub username: Option<String>,
    /// Read the password from stdin instead of a prompt
    #[arg(long, conflicts_with_all = ["oidc", "web"])]
    pub password_stdin: bool,
    /// Single sign-on in a browser, with PROVIDER (default: the server's only one)
    #[arg(long, value_name = "PROVIDER", num_args = 0..=1, default_missing_value = "",
          conflicts_with = "workload")]
    pub oidc: Option<String>,
    /// Sign in on the vault's own page in a browser (passkeys, password and
    /// passkey, or SSO)
    #[arg(long, conflicts_with_all = ["oidc", "workload"])]
    pub web: bool,
    /// In CI or a pod: trade the job's identity token for a service token
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Port on 127.0.0.1 for the browser to come back to (default: any free one)
    #[arg(long, value_name = "PORT", requires = "browser", value_parser = clap::value_parser!(u16).range(1024..))]
    pub callback_port: Option<u16>,
    /// Do not open a browser; only print the URL
    #[arg(long, requires = "browser")]
    pub no_browser: bool,
    /// Give up after this many seconds without a completed sign-in
    #[arg(long, value_name = "SECS", default_value_t = 300, requires = "browser")]
    pub timeout: u64,
}

/// Workload identity: where the job's identity token comes from and what
/// it is traded for (docs/ci.md).
#[derive(Debug, Clone, Default, Args)]
pub struct WorkloadArgs {
    /// Trade this CI job's or pod's identity token (from ISSUER, as the
    /// server names it) for a short service token
    #[arg(long, value_name = "ISSUER", requires = "role")]
    pub workload: Option<String>,
    /// The workload role to ask for
    #[arg(long, value_name = "ROLE", requires = "workload")]
    pub role: Option<String>,
    /// Read the identity token from this environment variable (GitLab's
    /// `id_tokens:`)
    #[arg(long, value_name = "VAR", conflicts_with = "jwt_file")]
    pub jwt_env: Option<String>,
    /// Read the identity token from this file (default on Kubernetes:
    /// /var/run/secrets/kubernetes.io/serviceaccount/token)
    #[arg(long, value_name = "PATH")]
    pub jwt_file: Option<std::path::PathBuf>,
    /// The audience to ask GitHub Actions for (default: the issuer's first
    /// audience on the server)
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
}

/// `vault workload ...`.
#[derive(Debug, Subcommand)]
pub enum WorkloadCommand {
    /// Workload roles: which CI jobs or pods get which token
    #[command(subcommand)]
    Roles(WorkloadRolesCommand),
}

/// `vault workload roles ...`.
#[derive(Debug, Subcommand)]
pub enum WorkloadRolesCommand {
    /// List roles (configured in the server's TOML, then made here)
    List {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Make a role; you cannot grant what you do not hold on the scope
    #[command(after_long_help = "\
Bind at least the claims that say which job this is: for GitHub the
repository AND the ref (or environment); the repository alone lets every
branch and every pull request of it in.

Examples:
  vault workload roles create --issuer github --name deploy-payments-prod \\
    --claim repository=acme/payments --claim ref=refs/heads/main \\
    --claim environment=production --scope payments/prod --actions read --ttl 15m
  vault workload roles create --issuer k8s --name billing \\
    --claim sub=system:serviceaccount:billing:api --scope billing/prod --actions read")]
    Create {
        /// A workload issuer configured on the server
        #[arg(long)]
        issuer: String,
        /// Role name
        #[arg(long)]
        name: String,
        /// A claim the token must carry: NAME=VALUE (repeat)
        #[arg(long = "claim", value_name = "NAME=VALUE", required = true)]
        claims: Vec<String>,
        /// `*` in claim values matches any run of characters
        #[arg(long)]
        glob: bool,
        /// PROJECT/ENV of the minted tokens
        #[arg(long)]
        scope: String,
        /// Their actions (comma-separated): read, list, write, delete
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// Their lifetime (default 15m, at most 1h)
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Delete a role made here (tokens minted under it run out by themselves)
    Delete {
        /// Issuer name
        issuer: String,
        /// Role name
        name: String,
    },
}

/// `vault users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (password from stdin or a prompt)
    #[command(after_long_help = "\
Examples:
  vault users create alice                      # prompts, no echo
  printf '%s' \"$PW\" | vault users create alice --password-stdin")]
    Create {
        /// Username (normalized: lowercase, ASCII)
        #[arg(value_parser = username)]
        name: String,
        /// Read the password from stdin instead of a prompt
        #[arg(long)]
        password_stdin: bool,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List users
    List {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Disable a user (ends their sessions at once)
    Disable {
        /// Username
        #[arg(value_parser = username)]
        name: String,
    },
    /// Enable a disabled user
    Enable {
        /// Username
        #[arg(value_parser = username)]
        name: String,
    },
    /// Remove a user's passkeys and recovery codes (a lost device); ends
    /// their sessions. They sign in with their password and add a new one
    ResetPasskeys {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Delete a user (their sessions and bindings go; tokens they made are revoked)
    Delete {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Link a user to their identity at a single sign-on provider
    #[command(
        name = "link-sso",
        after_long_help = "\
The identity is (the provider's issuer, SUBJECT): SUBJECT is the user's
`sub` claim at the provider, exactly as its ID tokens carry it (often an
opaque id, not the email). Once linked, that identity signs in as NAME.
Needed when the provider has `provisioning = \"existing\"`.

Examples:
  vault users link-sso alice --provider corp --subject 00u1abcd2EFGH
  vault users identities alice
  vault users unlink-sso alice idn_0123abcd..."
    )]
    LinkSso {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// A configured provider (see `vault login --oidc` or the sign-in page)
        #[arg(long)]
        provider: String,
        /// The user's `sub` at that provider
        #[arg(long)]
        subject: String,
    },
    /// Remove one of a user's single sign-on identities (by id, see `identities`)
    #[command(name = "unlink-sso")]
    UnlinkSso {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// Identity id
        id: String,
    },
    /// List a user's single sign-on identities
    Identities {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Disable a user, revoke everything they hold, list the secrets they read
    #[command(after_long_help = "\
Prints the secrets the user (or their service tokens) read in the period:
rotate these.

Examples:
  vault users offboard alice --since 90d
  vault users offboard alice --since 2026-01-01T00:00:00Z --format json")]
    Offboard {
        /// Username
        #[arg(value_parser = username)]
        name: String,
        /// Start of the period: a duration back from now (90d, 12h) or an RFC 3339 time
        #[arg(long, value_name = "WHEN")]
        since: String,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
}

/// `vault access ...`.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Access reviews: keep or revoke every binding in a scope, then attest
    /// (HIPAA 164.308(a)(1)(ii)(D), (a)(4); docs/hipaa.md)
    #[command(after_long_help = "\
Examples:
  vault access review start --scope 'payments/*' --due 14d
  vault access review list
  vault access review show rev_...
  vault access review decide rev_... b_... keep --note 'on call for payments'
  vault access review decide rev_... b_... revoke --note 'left the team'
  vault access review close rev_... --note 'reviewed with the payments lead'")]
    Review {
        /// What to do
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Grant a role on a scope to a user (ends their sessions)
    #[command(after_long_help = "\
Examples:
  vault access grant --user alice --role reader --scope demo/dev
  vault access grant --user bob --role developer --scope 'payments/*'
  vault access grant --user olga --role security-officer --scope '*'")]
    Grant {
        /// Username
        #[arg(long, value_parser = username)]
        user: String,
        /// Role (see `vault access roles`)
        #[arg(long)]
        role: String,
        /// PROJECT/ENV pattern (`*` for either side)
        #[arg(long)]
        scope: String,
        /// Grant on a project or environment that does not exist yet
        /// (otherwise refused, so a typo cannot wait silently)
        #[arg(long)]
        allow_future: bool,
    },
    /// Remove a binding (by id, see `vault access list`)
    Revoke {
        /// Binding id
        id: String,
    },
    /// List bindings
    List {
        /// Only this user's
        #[arg(long, value_parser = username)]
        user: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List roles and their actions; create or delete custom roles
    #[command(after_long_help = "\
Examples:
  vault access roles
  vault access roles create deployer --actions read,list,write --session-idle 15m
  vault access roles create prod-reader --actions read,list --require-mfa
  vault access roles update prod-reader --require-mfa false
  vault access roles delete deployer --yes")]
    Roles {
        /// Create or delete (none: list)
        #[command(subcommand)]
        command: Option<RolesCommand>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
}

/// `vault access roles create|delete`.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Create a custom role (you must hold every action you put in it)
    Create {
        /// Name: lowercase letters, digits and `-`
        name: String,
        /// Actions, comma-separated (`read`, `secrets.write`, `audit.read`, ...)
        #[arg(
            long,
            visible_alias = "permissions",
            value_delimiter = ',',
            required = true
        )]
        actions: Vec<String>,
        /// Longest session of its holders (e.g. 8h)
        #[arg(long, value_name = "DURATION")]
        session_absolute: Option<String>,
        /// Idle timeout of its holders' sessions (e.g. 15m)
        #[arg(long, value_name = "DURATION")]
        session_idle: Option<String>,
        /// Its bindings apply only to sessions whose login included a second
        /// factor (a passkey, or SSO with MFA)
        #[arg(long)]
        require_mfa: bool,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Change a custom role: whether it requires a second factor
    Update {
        /// Name
        name: String,
        /// true: bindings apply only to sessions with a second factor
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, required = true)]
        require_mfa: bool,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Delete a custom role: its bindings go, its holders' sessions end
    Delete {
        /// Name
        name: String,
        /// Confirm
        #[arg(long)]
        yes: bool,
    },
}

/// `vault sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List your sessions (or a user's / everyone's with sessions.manage)
    List {
        /// A user's sessions
        #[arg(long, conflicts_with = "all", value_parser = username)]
        user: Option<String>,
        /// Everyone's sessions
        #[arg(long)]
        all: bool,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Revoke one session, all of a user's, or everyone's
    #[command(after_long_help = "\
Examples:
  vault sessions revoke 3f2a...          # one session (yours, or any as an admin)
  vault sessions revoke --user alice     # all of alice's
  vault sessions revoke --all            # everyone's")]
    Revoke {
        /// Session id
        #[arg(required_unless_present_any = ["user", "all"], conflicts_with_all = ["user", "all"])]
        id: Option<String>,
        /// Every session of this user
        #[arg(long, conflicts_with = "all", value_parser = username)]
        user: Option<String>,
        /// Every session of every user
        #[arg(long)]
        all: bool,
    },
}

/// `vault tokens ...`.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a scoped, expiring service token (printed once)
    #[command(after_long_help = "\
The token is printed once on stdout; store it in your CI's secret store.

Examples:
  vault tokens create --scope demo/dev --actions read --ttl 1h
  vault tokens create --scope 'payments/*' --actions read,list --ttl 30d \\
      --network 10.0.0.0/8 --name deploy --format json")]
    Create {
        /// PROJECT/ENV pattern (repeatable)
        #[arg(long = "scope", required = true, value_name = "P/E")]
        scopes: Vec<String>,
        /// Actions: read, list, write, delete (comma-separated)
        #[arg(long, value_delimiter = ',', default_value = "read")]
        actions: Vec<String>,
        /// Lifetime: 30m, 12h, 30d (default 30d, at most 365d)
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Allowed source network, CIDR (repeatable)
        #[arg(long = "network", value_name = "CIDR")]
        networks: Vec<String>,
        /// A label
        #[arg(long)]
        name: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List your service tokens (`--all`: everyone's)
    List {
        /// Everyone's (sessions.manage)
        #[arg(long)]
        all: bool,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a service token
    Revoke {
        /// Token id (the part before the dot)
        id: String,
    },
}

/// `vault emergency ...`.
#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// Open a time-boxed emergency (break-glass) grant: read every secret
    #[command(after_long_help = "\
Needs the break-glass role. Recorded as a critical audit event with your
reason; visible to security officers; ends by itself.

Examples:
  vault emergency open --reason 'INC-4711: DB down, on-call unreachable'
  vault emergency open --reason '...' --ttl 30m")]
    Open {
        /// Why (recorded in the audit trail)
        #[arg(long)]
        reason: String,
        /// Duration (default 1h)
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List emergency grants (audit.read)
    List {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
}

/// `vault access review ...`.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Start a review of every binding within a scope
    Start {
        /// Bindings within this pattern (default `*`: all)
        #[arg(long, value_name = "P/E")]
        scope: Option<String>,
        /// Due in (default 14d)
        #[arg(long, value_name = "DURATION")]
        due: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// List reviews, and whether one is due
    List {
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Show a review's bindings, their last use and the decisions so far
    Show {
        /// Review id
        id: String,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
    /// Keep or revoke one binding (revoke removes it at once); not your own
    Decide {
        /// Review id
        id: String,
        /// Binding id (as `show` lists it)
        binding: String,
        /// keep or revoke
        #[arg(value_parser = ["keep", "revoke"])]
        decision: String,
        /// Why
        #[arg(long)]
        note: Option<String>,
    },
    /// Close a review once every binding is decided: you attest to it
    Close {
        /// Review id
        id: String,
        /// Your attestation
        #[arg(long)]
        note: Option<String>,
        /// Output format.
        #[command(flatten)]
        output: Output,
    },
}
