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

/// The CLI as a user would run it against `addr` (the server's, or
/// `http://localhost:PORT` for passkeys): no `VAULT_TOKEN`, the login kept
/// in a file store.
pub fn as_user(server: &Server, addr: &str) -> Command {
    let mut c = vault(server);
    c.env_remove("VAULT_TOKEN")
        .env("VAULT_TOKEN_STORE", "file")
        .env("VAULT_ADDR", addr);
    c
}

/// Runs `vault login FLAGS --no-browser` against `addr`, reads the URL it
/// prints, and hands it to `browse` (which plays the browser and returns
/// the URL the server finally sent it to). The CLI's output, and all it
/// printed with that URL.
pub fn browser_login(
    server: &Server,
    addr: &str,
    flags: &[&str],
    browse: impl FnOnce(&str) -> String,
) -> (std::process::Output, String) {
    use std::io::{BufRead, BufReader};
    let mut c = as_user(server, addr);
    c.arg("login")
        .args(flags)
        .arg("--no-browser")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn vault login");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap_or(0) > 0,
            "no URL printed: {seen}"
        );
        seen.push_str(&line);
        if let Some(u) = line.trim().strip_prefix(&format!("{addr}/")) {
            break format!("{addr}/{u}");
        }
    };
    let landed = browse(&url);
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    let out = child.wait_with_output().expect("vault login");
    (out, format!("{seen}{rest}{landed}"))
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

/// Every live descendant of `pid`, children before grandchildren.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = children_of(pid);
    let mut i = 0;
    while i < out.len() {
        let more = children_of(out[i]);
        out.extend(more);
        i += 1;
    }
    out
}

/// A program on a pseudo-terminal (util-linux `script`), driven like a
/// keyboard: send keys, wait for output, and a hard deadline, so a program
/// that stops or hangs fails the test instead of hanging it. Dropping it
/// kills what is left.
pub struct Terminal {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    deadline: Instant,
}

impl Terminal {
    /// Runs `command` (a shell command line) under `shell` on a new
    /// terminal, with the server's address and token in the environment.
    /// The whole session must end within `limit`.
    pub fn start(server: &Server, shell: &str, command: &str, limit: Duration) -> Terminal {
        assert!(
            Command::new("script").arg("--version").output().is_ok(),
            "util-linux `script` is needed for the terminal tests (scripts/test installs it)"
        );
        let mut c = Command::new("script");
        vault_env(&mut c, server);
        let mut child = c
            .env("SHELL", shell)
            .args(["-q", "-e", "-c", command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start script");
        let stdin = child.stdin.take();
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let reader = child.stdout.take().map(|mut out| {
            let sink = output.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("screen").extend_from_slice(&buf[..n]);
                }
            })
        });
        Terminal {
            child,
            stdin,
            output,
            reader,
            deadline: Instant::now() + limit,
        }
    }

    /// `script`'s process id (the terminal session is its child's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `keys`.
    pub fn send(&mut self, keys: &[u8]) {
        let stdin = self.stdin.as_mut().expect("terminal input already closed");
        std::io::Write::write_all(stdin, keys).expect("write to the terminal");
        std::io::Write::flush(stdin).expect("flush the terminal");
    }

    /// Everything the terminal has shown so far.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("screen")).into_owned()
    }

    /// Waits until `f` holds, failing with the screen at the deadline.
    pub fn wait_for(&mut self, what: &str, mut f: impl FnMut(&Terminal) -> bool) {
        while !f(self) {
            if Instant::now() > self.deadline {
                let screen = self.output();
                self.kill_all();
                panic!("terminal: timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the screen shows `text`.
    pub fn wait_for_text(&mut self, text: &str) {
        self.wait_for(&format!("{text:?} on the screen"), |t| {
            t.output().contains(text)
        });
    }

    /// Closes the keyboard and waits for the session to end: its exit code
    /// and the whole screen.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        loop {
            if let Some(st) = self.child.try_wait().expect("wait for script") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return (st.code().unwrap_or(-1), self.output());
            }
            if Instant::now() > self.deadline {
                let screen = self.output();
                self.kill_all();
                panic!("terminal: the session did not end in time; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill_all(&mut self) {
        for p in descendants(self.child.id()).into_iter().rev() {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill_all();
        }
    }
}
