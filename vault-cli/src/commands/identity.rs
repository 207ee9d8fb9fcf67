//! `vault login`, `logout`, `whoami`, `users`, `access`, `sessions`,
//! `tokens`, `emergency`. Passwords are read from stdin or a no-echo prompt;
//! session and service tokens are printed only where the user asked for
//! them (a created service token, once) and otherwise kept in the token
//! store.

use ureq::http::Method;
use vault_core::api::{
    Binding, BindingList, ChangePassword, CreateBinding, CreateRole, CreateServiceToken,
    CreateUser, CreatedServiceToken, EmergencyGrant, EmergencyList, LoginAnswer, LoginRequest,
    LoginResponse, Offboard, OffboardReport, OpenEmergency, PasskeyReset, RevokeSessions, Revoked,
    RoleInfo, RoleList, ServiceTokenList, SessionList, UpdateRole, User, UserList, WhoAmI,
};
use vault_core::api::{LinkIdentity, SsoIdentity, SsoIdentityList};
use vault_core::clock::{Clock as _, Timestamp};

use crate::cli::{
    AccessCommand, EmergencyCommand, LoginArgs, Output, RolesCommand, SessionsCommand,
    TokensCommand, UsersCommand,
};
use crate::client::Client;
use crate::commands::{Ctx, when};
use crate::error::{CliError, CliResult};
use crate::output::{self, Format, Table};
use crate::prompt::{self, Piped};
use crate::token_store;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parses `90d`, `12h`, `30m`, `45s` into seconds.
pub fn parse_duration(s: &str) -> CliResult<i64> {
    vault_core::clock::parse_duration_secs(s).ok_or_else(|| {
        CliError::new(format!("{s:?} is not a duration"))
            .hint("use a number with a unit: 30s, 15m, 12h, 30d")
            .code(crate::error::exit::USAGE)
    })
}

/// `--since`: a duration back from now, or an RFC 3339 time.
fn parse_since(s: &str) -> CliResult<Timestamp> {
    if let Some(t) = Timestamp::parse_rfc3339(s) {
        return Ok(t);
    }
    let secs = parse_duration(s).map_err(|e| {
        e.hint("use a duration back from now (90d, 12h) or an RFC 3339 time (2026-01-01T00:00:00Z)")
    })?;
    use vault_core::clock::Clock;
    Ok(vault_core::clock::SystemClock.now().plus_secs(-secs))
}

fn read_password(prompt_text: &str) -> CliResult<vault_core::secret::SecretText> {
    let pw = prompt::secret(prompt_text, Piped::TrimNewline)?;
    if pw.is_empty() {
        return Err(CliError::new("empty password"));
    }
    Ok(pw)
}

/// `vault login`.
pub fn login(args: &LoginArgs, ctx: &Ctx) -> CliResult<u8> {
    let settings = ctx.settings(None, None)?;
    let address = settings.address()?.to_owned();
    let anon =
        Client::new(&address, settings.cacert.as_deref(), None)?.with_origins(settings.origins());
    let r: LoginResponse = match &args.username {
        Some(username) if args.oidc.is_none() => {
            let password = read_password(&format!("Password for {username}: "))?;
            let _ = args.password_stdin; // stdin is read whenever it is not a terminal
            let answer: LoginAnswer = anon.send(
                Method::POST,
                "/v1/auth/login",
                &LoginRequest {
                    username: username.clone(),
                    password,
                },
            )?;
            match answer {
                LoginAnswer::Session(s) => s,
                LoginAnswer::SecondFactor(_) => {
                    return Err(CliError::new(format!(
                        "the password is right, but {username} has a passkey: a password alone \
                         gives no session"
                    ))
                    .hint(
                        "run `vault login --web` and confirm with your passkey in the browser \
                         (or use one of your recovery codes there)",
                    ));
                }
            }
        }
        _ if args.workload.workload.is_some() => {
            let (issuer, role) = crate::commands::workload::wanted(&args.workload, &settings)
                .ok_or_else(|| CliError::new("--workload needs --role"))?;
            let t = crate::commands::workload::exchange(&anon, &args.workload, &issuer, &role)?;
            let store = token_store::default_store(&process_env)?;
            store.save(&address, &t.token)?;
            output::note(&format!(
                "logged in as workload {} (service token {}, {} on {}, ends {}); token stored in {}",
                t.service_token.name,
                t.service_token.id,
                t.service_token.actions.join(","),
                t.service_token.scopes.join(","),
                when(t.service_token.expires_at),
                store.describe()
            ));
            return Ok(0);
        }
        _ => crate::commands::sso::browser_login(&anon, &address, args)?,
    };
    let store = token_store::default_store(&process_env)?;
    store.save(&address, &r.token)?;
    output::note(&format!(
        "logged in as {} (session {}, ends by {} or after {} min idle); token stored in {}",
        r.username,
        r.session_id,
        when(r.expires_at),
        r.idle_timeout_secs / 60,
        store.describe()
    ));
    if process_env("VAULT_TOKEN").is_some_and(|t| !t.is_empty()) {
        output::note("note: VAULT_TOKEN is set and takes precedence over the stored login");
    }
    Ok(0)
}

/// `vault logout`.
pub fn logout(ctx: &Ctx) -> CliResult<u8> {
    let settings = ctx.settings(None, None)?;
    let address = settings.address()?.to_owned();
    let store = token_store::default_store(&process_env)?;
    let client = ctx.client(&settings)?;
    match client.call_empty(Method::POST, "/v1/auth/logout") {
        Ok(()) => {}
        // Already ended (expired or revoked): forgetting it is all that is left.
        Err(e) if status_of(&e) == Some(401) => {}
        Err(e) => return Err(e),
    }
    let had = store.delete(&address)?;
    output::note(&if had {
        format!(
            "logged out; session revoked and token removed from {}",
            store.describe()
        )
    } else {
        "session revoked (no stored token for this server)".to_owned()
    });
    Ok(0)
}

/// The HTTP status behind an API error, if it is one.
pub(crate) fn status_of(e: &CliError) -> Option<u16> {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<crate::client::ApiError>())
        .map(|a| a.status)
}

/// `vault whoami`.
pub fn whoami(out: Output, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    let w: WhoAmI = client.get("/v1/auth/whoami")?;
    if out.format == Format::Json {
        return output::json(&w).map(|()| 0);
    }
    println!("{} ({})", w.name, w.kind);
    let factor = w
        .second_factor
        .as_deref()
        .map(|f| format!(" + {f}"))
        .unwrap_or_default();
    match (&w.session_id, &w.login_method) {
        (Some(s), Some(m)) => println!("session {s} (signed in with {m}{factor})"),
        (Some(s), None) => println!("session {s}"),
        _ => {}
    }
    for g in &w.grants {
        println!("  {} on {}", g.role, g.scope);
    }
    for g in &w.withheld {
        println!(
            "  not in this session: {} on {} ({})",
            g.role, g.scope, g.reason
        );
    }
    if let Some(t) = w.emergency_until {
        println!("EMERGENCY ACCESS until {}", when(t));
    }
    Ok(0)
}

fn user_table(users: &[User]) -> CliResult<()> {
    let mut t = Table::new(&["USER", "ID", "STATE", "CREATED"]);
    for u in users {
        let state = if u.disabled { "disabled" } else { "active" };
        t.row(vec![
            u.username.clone(),
            u.id.clone(),
            state.into(),
            when(u.created_at),
        ]);
    }
    t.print("no users (create one with `vault users create NAME`)")
}

/// `vault users ...`.
pub fn users(cmd: UsersCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        UsersCommand::Create {
            name,
            password_stdin: _,
            output: out,
        } => {
            let password = read_password(&format!("Password for {name}: "))?;
            let u: User = client.send(
                Method::POST,
                "/v1/users",
                &CreateUser {
                    username: name,
                    password,
                },
            )?;
            if out.format == Format::Json {
                return output::json(&u).map(|()| 0);
            }
            output::note(&format!("created user {} ({})", u.username, u.id));
        }
        UsersCommand::List { output: out } => {
            let l: UserList = client.get("/v1/users")?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            user_table(&l.users)?;
        }
        UsersCommand::LinkSso {
            name,
            provider,
            subject,
        } => {
            let i: SsoIdentity = client.send(
                Method::POST,
                &format!("/v1/users/{}/identities", enc(&name)),
                &LinkIdentity { provider, subject },
            )?;
            output::note(&format!(
                "linked {} to subject {} at {} ({}); id {}",
                i.user, i.subject, i.provider, i.issuer, i.id
            ));
        }
        UsersCommand::UnlinkSso { name, id } => {
            client.call_empty(
                Method::DELETE,
                &format!("/v1/users/{}/identities/{}", enc(&name), enc(&id)),
            )?;
            output::note(&format!(
                "unlinked {id} from {name} (bindings from that provider removed)"
            ));
        }
        UsersCommand::Identities { name, output: out } => {
            let l: SsoIdentityList = client.get(&format!("/v1/users/{}/identities", enc(&name)))?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["ID", "PROVIDER", "ISSUER", "SUBJECT", "EMAIL", "LAST LOGIN"]);
            for i in &l.identities {
                t.row(vec![
                    i.id.clone(),
                    i.provider.clone(),
                    i.issuer.clone(),
                    i.subject.clone(),
                    i.email.clone().unwrap_or_default(),
                    i.last_login_at.map(when).unwrap_or_else(|| "never".into()),
                ]);
            }
            t.print(&format!(
                "no single sign-on identities for {name} (link one with `vault users link-sso`)"
            ))?;
        }
        UsersCommand::Disable { name } => {
            let u: User =
                client.call(Method::POST, &format!("/v1/users/{}/disable", enc(&name)))?;
            output::note(&format!("disabled {} (sessions ended)", u.username));
        }
        UsersCommand::Enable { name } => {
            let u: User = client.call(Method::POST, &format!("/v1/users/{}/enable", enc(&name)))?;
            output::note(&format!("enabled {}", u.username));
        }
        UsersCommand::ResetPasskeys { name, yes } => {
            if !yes
                && !prompt::confirm(&format!(
                    "remove every passkey and recovery code of {name} and end their sessions?"
                ))
            {
                return Err(CliError::new("not confirmed; nothing removed")
                    .hint("pass --yes to reset without a prompt"));
            }
            let r: PasskeyReset = client.call(
                Method::POST,
                &format!("/v1/users/{}/passkeys/reset", enc(&name)),
            )?;
            output::note(&format!(
                "removed {} passkey(s) and the recovery codes of {name}; {} session(s) ended. \
                 They sign in with their password and add a passkey on /ui/account",
                r.passkeys_removed, r.sessions_revoked
            ));
        }
        UsersCommand::Delete { name, yes } => {
            if !yes && !prompt::confirm(&format!("Delete user {name}?")) {
                return Err(CliError::new("not confirmed; nothing deleted")
                    .hint("pass --yes to delete without a prompt"));
            }
            client.call_empty(Method::DELETE, &format!("/v1/users/{}", enc(&name)))?;
            output::note(&format!("deleted user {name}"));
        }
        UsersCommand::Offboard {
            name,
            since,
            output: out,
        } => {
            let r: OffboardReport = client.send(
                Method::POST,
                &format!("/v1/users/{}/offboard", enc(&name)),
                &Offboard {
                    since: parse_since(&since)?,
                    until: None,
                },
            )?;
            if out.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&format!(
                "offboarded {}: disabled, {} sessions and {} service tokens revoked, {} bindings removed",
                r.user.username, r.sessions_revoked, r.tokens_revoked, r.bindings_removed
            ));
            let mut t = Table::new(&["ROTATE", "READS", "LAST READ"]);
            for i in &r.secrets_read {
                t.row(vec![
                    i.resource.clone(),
                    i.reads.to_string(),
                    when(i.last_read_at),
                ]);
            }
            t.print("no secrets read in that period")?;
        }
    }
    Ok(0)
}

/// Path segments typed by users go through the server's canonical-name
/// checks; only characters that would change the URL are escaped here.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `vault password`: the current and the new password, from a no-echo
/// prompt (the new one twice) or two lines of stdin.
pub fn password(ctx: &Ctx) -> CliResult<u8> {
    use std::io::IsTerminal as _;
    let (current, new) = if std::io::stdin().is_terminal() {
        let current = prompt::secret("Current password", Piped::TrimNewline)?;
        let new = prompt::secret("New password", Piped::TrimNewline)?;
        let again = prompt::secret("New password again", Piped::TrimNewline)?;
        if again.expose_secret() != new.expose_secret() {
            return Err(CliError::new(
                "the new passwords differ; nothing was changed",
            ));
        }
        (current, new)
    } else {
        let both = prompt::secret("", Piped::Exact)?;
        let mut lines = both.expose_secret().lines();
        match (lines.next(), lines.next()) {
            (Some(c), Some(n)) => (
                vault_core::secret::SecretText::from(c),
                vault_core::secret::SecretText::from(n),
            ),
            _ => {
                return Err(CliError::new(
                    "stdin must hold the current password on one line and the new one on the next",
                )
                .code(crate::error::exit::USAGE));
            }
        }
    };
    let (_, client) = ctx.connect(None, None)?;
    client.send_empty(
        Method::POST,
        "/v1/auth/password",
        &ChangePassword {
            current_password: current,
            new_password: new,
        },
    )?;
    output::note("password changed; every session of yours has ended: run `vault login`");
    Ok(0)
}

/// `vault access ...`.
pub fn access(cmd: AccessCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        AccessCommand::Review { command } => {
            return crate::commands::reviews::run(command, &client);
        }
        AccessCommand::Grant {
            user,
            role,
            scope,
            allow_future,
        } => {
            let b: Binding = client.send(
                Method::POST,
                "/v1/bindings",
                &CreateBinding {
                    user,
                    role,
                    scope,
                    allow_future,
                },
            )?;
            output::note(&format!(
                "granted {} on {} to {} (binding {}; their sessions ended)",
                b.role, b.scope, b.user, b.id
            ));
        }
        AccessCommand::Revoke { id } => {
            client.call_empty(Method::DELETE, &format!("/v1/bindings/{}", enc(&id)))?;
            output::note(&format!("removed binding {id}"));
        }
        AccessCommand::List { user, output: out } => {
            let path = match &user {
                Some(u) => format!("/v1/bindings?user={}", enc(u)),
                None => "/v1/bindings".to_owned(),
            };
            let l: BindingList = client.get(&path)?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["ID", "USER", "ROLE", "SCOPE", "SOURCE", "CREATED"]);
            for b in &l.bindings {
                t.row(vec![
                    b.id.clone(),
                    b.user.clone(),
                    b.role.clone(),
                    b.scope.clone(),
                    b.source.clone(),
                    when(b.created_at),
                ]);
            }
            t.print("no bindings (grant one with `vault access grant`)")?;
        }
        AccessCommand::Roles {
            command:
                Some(RolesCommand::Create {
                    name,
                    actions,
                    session_absolute,
                    session_idle,
                    require_mfa,
                    output: out,
                }),
            ..
        } => {
            let req = CreateRole {
                name,
                permissions: actions,
                session_absolute_secs: session_absolute
                    .as_deref()
                    .map(parse_duration)
                    .transpose()?,
                session_idle_secs: session_idle.as_deref().map(parse_duration).transpose()?,
                require_mfa,
            };
            let r: RoleInfo = client.send(Method::POST, "/v1/roles", &req)?;
            if out.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&format!(
                "created role {} ({}{}); grant it with `vault access grant --role {}`",
                r.name,
                r.permissions.join(", "),
                if r.require_mfa {
                    "; requires a second factor"
                } else {
                    ""
                },
                r.name
            ));
        }
        AccessCommand::Roles {
            command:
                Some(RolesCommand::Update {
                    name,
                    require_mfa,
                    output: out,
                }),
            ..
        } => {
            let r: RoleInfo = client.send(
                Method::PATCH,
                &format!("/v1/roles/{}", enc(&name)),
                &UpdateRole { require_mfa },
            )?;
            if out.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            output::note(&if r.require_mfa {
                format!(
                    "role {} now requires a second factor: sessions without one do not hold it",
                    r.name
                )
            } else {
                format!("role {} no longer requires a second factor", r.name)
            });
        }
        AccessCommand::Roles {
            command: Some(RolesCommand::Delete { name, yes }),
            ..
        } => {
            if !yes
                && !prompt::confirm(&format!(
                    "delete role {name} and end its holders' sessions?"
                ))
            {
                return Err(CliError::new("not deleted")
                    .hint("pass --yes to confirm")
                    .code(crate::error::exit::USAGE));
            }
            client.call_empty(Method::DELETE, &format!("/v1/roles/{}", enc(&name)))?;
            output::note(&format!("deleted role {name}; its bindings are gone"));
        }
        AccessCommand::Roles {
            command: None,
            output: out,
        } => {
            let l: RoleList = client.get("/v1/roles")?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["ROLE", "KIND", "MFA", "ACTIONS"]);
            for r in &l.roles {
                let kind = if r.builtin { "built-in" } else { "custom" };
                let mfa = if r.require_mfa { "required" } else { "-" };
                t.row(vec![
                    r.name.clone(),
                    kind.into(),
                    mfa.into(),
                    r.permissions.join(", "),
                ]);
            }
            t.print("no roles")?;
        }
    }
    Ok(0)
}

/// `vault sessions ...`.
pub fn sessions(cmd: SessionsCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        SessionsCommand::List {
            user,
            all,
            output: out,
        } => {
            let path = match (&user, all) {
                (Some(u), _) => format!("/v1/sessions?user={}", enc(u)),
                (None, true) => "/v1/sessions?all=true".to_owned(),
                (None, false) => "/v1/sessions".to_owned(),
            };
            let l: SessionList = client.get(&path)?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["SESSION", "USER", "SINCE", "LAST USED", "ENDS", "FROM", ""]);
            for s in &l.sessions {
                t.row(vec![
                    s.id.clone(),
                    s.user.clone(),
                    when(s.created_at),
                    when(s.last_used_at),
                    when(s.expires_at),
                    s.source.clone(),
                    if s.current {
                        "(this one)".into()
                    } else {
                        String::new()
                    },
                ]);
            }
            t.print("no live sessions")?;
        }
        SessionsCommand::Revoke { id, user, all } => {
            if let Some(id) = id {
                client.call_empty(Method::DELETE, &format!("/v1/sessions/{}", enc(&id)))?;
                output::note(&format!("revoked session {id}"));
            } else {
                let r: Revoked = client.send(
                    Method::POST,
                    "/v1/sessions/revoke",
                    &RevokeSessions { user, all },
                )?;
                output::note(&format!("revoked {} sessions", r.revoked));
            }
        }
    }
    Ok(0)
}

/// `vault tokens ...`.
pub fn tokens(cmd: TokensCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        TokensCommand::Create {
            scopes,
            actions,
            ttl,
            networks,
            name,
            output: out,
        } => {
            let ttl_secs = ttl.as_deref().map(parse_duration).transpose()?;
            let r: CreatedServiceToken = client.send(
                Method::POST,
                "/v1/tokens",
                &CreateServiceToken {
                    name,
                    scopes,
                    actions,
                    ttl_secs,
                    networks,
                },
            )?;
            if out.format == Format::Json {
                return output::json(&r).map(|()| 0);
            }
            println!("{}", r.token.expose_secret());
            output::note(&format!(
                "service token {} for {} ({}), expires {}; shown once, store it now",
                r.service_token.id,
                r.service_token.scopes.join(", "),
                r.service_token.actions.join(", "),
                when(r.service_token.expires_at)
            ));
        }
        TokensCommand::List { all, output: out } => {
            let l: ServiceTokenList = client.get(if all {
                "/v1/tokens?all=true"
            } else {
                "/v1/tokens"
            })?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&[
                "ID",
                "NAME",
                "SCOPES",
                "ACTIONS",
                "EXPIRES",
                "LAST USED",
                "STATE",
            ]);
            let now = vault_core::clock::SystemClock.now();
            for k in &l.tokens {
                t.row(vec![
                    k.id.clone(),
                    k.name.clone(),
                    k.scopes.join(","),
                    k.actions.join(","),
                    when(k.expires_at),
                    k.last_used_at.map_or_else(|| "never".into(), when),
                    token_state(k.revoked_at, Some(k.expires_at), now).into(),
                ]);
            }
            t.print("no service tokens (create one with `vault tokens create`)")?;
            if !l.root_tokens.is_empty() {
                println!();
                let mut t = Table::new(&["ROOT TOKEN ID", "ORIGIN", "CREATED", "EXPIRES", "STATE"]);
                for k in &l.root_tokens {
                    t.row(vec![
                        k.id.clone(),
                        k.origin.clone(),
                        when(k.created_at),
                        k.expires_at.map_or_else(|| "never".into(), when),
                        token_state(k.revoked_at, k.expires_at, now).into(),
                    ]);
                }
                t.print("")?;
            }
        }
        TokensCommand::Revoke { id } => {
            client.call_empty(Method::DELETE, &format!("/v1/tokens/{}", enc(&id)))?;
            output::note(&format!("revoked token {id}"));
        }
    }
    Ok(0)
}

/// `revoked`, `expired` or `active`, as of `now`.
fn token_state(
    revoked: Option<Timestamp>,
    expires: Option<Timestamp>,
    now: Timestamp,
) -> &'static str {
    if revoked.is_some() {
        "revoked"
    } else if expires.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    }
}

/// `vault emergency ...`.
pub fn emergency(cmd: EmergencyCommand, ctx: &Ctx) -> CliResult<u8> {
    let (_, client) = ctx.connect(None, None)?;
    match cmd {
        EmergencyCommand::Open {
            reason,
            ttl,
            output: out,
        } => {
            let ttl_secs = ttl.as_deref().map(parse_duration).transpose()?;
            let g: EmergencyGrant = client.send(
                Method::POST,
                "/v1/emergency",
                &OpenEmergency { reason, ttl_secs },
            )?;
            if out.format == Format::Json {
                return output::json(&g).map(|()| 0);
            }
            output::note(&format!(
                "EMERGENCY ACCESS open until {} (grant {}); recorded as a critical audit event",
                when(g.expires_at),
                g.id
            ));
        }
        EmergencyCommand::List { output: out } => {
            let l: EmergencyList = client.get("/v1/emergency")?;
            if out.format == Format::Json {
                return output::json(&l).map(|()| 0);
            }
            let mut t = Table::new(&["ID", "USER", "OPENED", "ENDS", "STATE", "REASON"]);
            for g in &l.grants {
                t.row(vec![
                    g.id.clone(),
                    g.user.clone(),
                    when(g.created_at),
                    when(g.expires_at),
                    if g.active {
                        "ACTIVE".into()
                    } else {
                        "ended".into()
                    },
                    g.reason.clone(),
                ]);
            }
            t.print("no emergency grants")?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("15m").unwrap(), 900);
        for bad in ["", "h", "0h", "-1h", "1y", "1.5h", "99999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_since("2026-01-01T00:00:00Z").is_ok());
        assert!(parse_since("90d").is_ok());
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(enc("alice"), "alice");
        assert_eq!(enc("a/../b"), "a%2F..%2Fb");
    }
}
