//! The identity commands through the real CLI: users, access grants, login
//! (token stored in the 0600 file store), whoami, sessions, service tokens,
//! logout, and the token precedence (VAULT_TOKEN over the stored login).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use vault_tests::Server;
use vault_tests::cli::{run, seed, stderr, stdout, vault};

use super::identity_kit::{PW, server};

/// `vault` as a logged-in user would run it: no VAULT_TOKEN, the file store.
fn as_user(s: &Server) -> Command {
    let mut c = vault(s);
    c.env_remove("VAULT_TOKEN").env("VAULT_TOKEN_STORE", "file");
    c
}

fn with_stdin(mut c: Command, input: &str) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn login_whoami_tokens_sessions_logout() {
    let s = server();
    seed(&s, "demo", "dev", &[("K", "dev-value")]);
    seed(&s, "demo", "prod", &[("K", "prod-value")]);

    let mut c = vault(&s);
    c.args(["users", "create", "alice", "--password-stdin"]);
    let o = with_stdin(c, &format!("{PW}\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &s,
        &[
            "access",
            "grant",
            "--user",
            "alice",
            "--role",
            "developer",
            "--scope",
            "demo/dev",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&s, &["access", "list", "--format", "json"]);
    assert!(stdout(&o).contains("\"developer\""), "{}", stdout(&o));
    let o = run(&s, &["users", "list"]);
    assert!(stdout(&o).contains("alice"), "{}", stdout(&o));

    // Wrong password: a clear error, nothing stored.
    let mut c = as_user(&s);
    c.args(["login", "--username", "alice", "--password-stdin"]);
    let o = with_stdin(c, "not the password\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid username or password"),
        "{}",
        stderr(&o)
    );

    let mut c = as_user(&s);
    c.args(["login", "--username", "alice", "--password-stdin"]);
    let o = with_stdin(c, &format!("{PW}\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("logged in as alice") && err.contains("tokens.json"),
        "{err}"
    );
    assert!(!err.contains(PW) && stdout(&o).is_empty());
    let store = s.data_dir.with_extension("xdg").join("vault/tokens.json");
    assert!(store.exists());

    // The stored login is used by later commands.
    let o = as_user(&s).args(["whoami"]).output().unwrap();
    assert!(
        stdout(&o).contains("alice (user)"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("(signed in with password)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("developer on demo/dev"),
        "{}",
        stdout(&o)
    );
    let o = as_user(&s)
        .args(["secrets", "get", "K", "-p", "demo", "-e", "dev"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("dev-value"), "{}", stderr(&o));
    let o = as_user(&s)
        .args(["secrets", "get", "K", "-p", "demo", "-e", "prod"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!stdout(&o).contains("prod-value"));
    // VAULT_TOKEN wins over the stored login.
    let o = as_user(&s)
        .env("VAULT_TOKEN", &s.token)
        .args(["whoami"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("root (root)"), "{}", stdout(&o));

    let o = as_user(&s).args(["sessions", "list"]).output().unwrap();
    assert!(stdout(&o).contains("(this one)"), "{}", stdout(&o));

    // A service token, printed once; JSON too.
    let o = as_user(&s)
        .args([
            "tokens",
            "create",
            "--scope",
            "demo/dev",
            "--actions",
            "read",
            "--ttl",
            "1h",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    assert!(token.contains('.'));
    let o = Command::new(vault_tests::cli_bin())
        .env_clear()
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &token)
        .env("HOME", s.data_dir.with_extension("home"))
        .args(["secrets", "get", "K", "-p", "demo", "-e", "dev"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("dev-value"), "{}", stderr(&o));
    let o = as_user(&s)
        .args([
            "tokens",
            "create",
            "--scope",
            "demo/dev",
            "--actions",
            "read",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["token"].as_str().unwrap().contains('.'));
    let id = v["service_token"]["id"].as_str().unwrap().to_owned();
    let o = as_user(&s).args(["tokens", "list"]).output().unwrap();
    assert!(stdout(&o).contains(&id), "{}", stdout(&o));
    assert!(!stdout(&o).contains(&token));
    let o = as_user(&s)
        .args(["tokens", "revoke", &id])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Too broad: refused with the server's code.
    let o = as_user(&s)
        .args([
            "tokens",
            "create",
            "--scope",
            "demo/prod",
            "--actions",
            "read",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("access.escalation") && stderr(&o).contains("secrets.read"),
        "{}",
        stderr(&o)
    );

    // Logout revokes on the server and forgets the token.
    let before = std::fs::read_to_string(&store).unwrap();
    let o = as_user(&s).args(["logout"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("logged out"), "{}", stderr(&o));
    let after = std::fs::read_to_string(&store).unwrap_or_default();
    assert_ne!(before, after);
    let o = as_user(&s).args(["whoami"]).output().unwrap();
    assert!(!o.status.success());
    // The revoked session token itself is refused by the server.
    let old: serde_json::Value = serde_json::from_str(&before).unwrap();
    let old_token = old["tokens"]
        .as_object()
        .and_then(|m| m.values().find_map(|v| v.as_str().map(str::to_owned)))
        .unwrap();
    let r = s
        .anonymous()
        .with_token(Some(&old_token))
        .get("/v1/auth/whoami");
    assert_eq!(r.status, 401, "{r:?}");

    // Admin-side session commands.
    let mut c = as_user(&s);
    c.args(["login", "--username", "alice", "--password-stdin"]);
    assert!(with_stdin(c, PW).status.success());
    let o = run(&s, &["sessions", "list", "--user", "alice"]);
    assert!(stdout(&o).contains("alice"), "{}", stdout(&o));
    let o = run(&s, &["sessions", "revoke", "--user", "alice"]);
    assert!(stderr(&o).contains("revoked 1 sessions"), "{}", stderr(&o));
    let o = as_user(&s).args(["whoami"]).output().unwrap();
    assert!(!o.status.success());
    // Logging out of a session that already ended still forgets the token.
    let o = as_user(&s).args(["logout"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let left = std::fs::read_to_string(&store).unwrap_or_default();
    assert!(!left.contains(&s.addr), "{left}");

    let o = run(&s, &["users", "offboard", "alice", "--since", "1d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("demo/dev/K"), "{}", stdout(&o));
}

#[test]
fn roles_password_and_root_rotation_from_the_cli() {
    let s = server();
    let root = s.client();
    root.setup("app", "dev");
    // Custom roles: create (with session limits) and delete.
    let o = run(
        &s,
        &[
            "access",
            "roles",
            "create",
            "deployer",
            "--actions",
            "read,list,write",
            "--session-idle",
            "15m",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let role: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(role["session_idle_secs"], 900, "{role}");
    let o = vault_tests::cli::run(&s, &["access", "roles"]);
    assert!(stdout(&o).contains("deployer"), "{}", stdout(&o));
    let o = vault_tests::cli::run(&s, &["access", "roles", "delete", "deployer", "--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!root.get("/v1/roles").text.contains("deployer"));
    // Changing one's own password, from two lines of stdin.
    super::identity_kit::user(&root, "pat");
    let pat = super::identity_kit::login_resp(&s, "pat", PW);
    let pat_token = pat.json["token"].as_str().unwrap().to_owned();
    let mut child = vault_tests::cli::vault(&s)
        .env("VAULT_TOKEN", &pat_token)
        .arg("password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{PW}\nan entirely new horse battery 9"
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("battery"));
    assert_eq!(
        super::identity_kit::login_resp(&s, "pat", "an entirely new horse battery 9").status,
        200
    );
    // Rotating the root key.
    let before = root.get("/v1/keys").json["root_version"].as_u64().unwrap();
    let o = vault_tests::cli::run(&s, &["operator", "rotate-root", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["version"].as_u64(), Some(before + 1), "{r}");
}
