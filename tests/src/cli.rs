//! CLI test helpers on top of the kit's [`crate::Server`]: a `vault`
//! command pointed at a server, seeding, and `/proc` probes for the process
//! tests of `vault run` (children, states, command lines).

// Test support: a broken fixture should stop the test loudly.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Server;

/// A `vault` command for `server`: `VAULT_ADDR`/`VAULT_TOKEN` set, no other
/// inherited `VAULT_*`, no colour, a private config dir.
pub fn vault(server: &Server) -> Command {
    let mut c = Command::new(crate::cli_bin());
    vault_env(&mut c, server);
    c
}

/// Gives `c` the environment of [`vault`] (for wrappers such as `script`).
pub fn vault_env(c: &mut Command, server: &Server) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("VAULT_") {
            c.env_remove(k);
        }
    }
    c.env("VAULT_ADDR", &server.addr)
        .env("VAULT_TOKEN", &server.token)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", server.data_dir.with_extension("xdg"))
        .stdin(Stdio::null());
}

/// Runs `vault ARGS` against `server` and returns its output.
pub fn run(server: &Server, args: &[&str]) -> Output {
    vault(server).args(args).output().expect("run vault")
}

/// Creates `project`/`env` and writes `secrets` over HTTP.
pub fn seed(server: &Server, project: &str, env: &str, secrets: &[(&str, &str)]) {
    let c = server.client();
    c.setup(project, env);
    for (name, value) in secrets {
        c.write(project, env, name, value);
    }
}

/// Text of stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Text of stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The children of `pid` (from `/proc/*/stat`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((_, ppid)) = proc_state(p)
            && ppid == pid
        {
            out.push(p);
        }
    }
    out
}

/// `(state, ppid)` of a process from `/proc/PID/stat`, `None` once it is gone.
pub fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let mut it = after.split_whitespace();
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True when `pid` no longer runs (gone, or a zombie nobody reaped: PID 1
/// in a container may not reap).
pub fn is_dead(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some(('Z' | 'X', _)))
}

/// Waits until `f` is true or `timeout` passes; returns the last answer.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/proc/PID/cmdline` as text (NULs shown as spaces).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Writes `text` to `dir/.vault.toml`.
pub fn write_vault_toml(dir: &Path, text: &str) {
    std::fs::write(dir.join(".vault.toml"), text).expect("write .vault.toml");
}

/// Sends `signal` (e.g. `"TERM"`) to `target` (a pid, or `-PGID`) with kill(1).
pub fn kill(signal: &str, target: &str) {
    let st = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target)
        .status()
        .expect("kill");
    assert!(st.success(), "kill -{signal} {target} failed");
}
