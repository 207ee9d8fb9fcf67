//! `vault run` against the real server through the real CLI: values and
//! argv reach the child intact, exit statuses pass through, signals are
//! forwarded exactly once in supervised mode, no orphan, no credential or
//! secret where it must not be.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use vault_tests::Server;
use vault_tests::cli::{
    Terminal, children_of, cmdline, descendants, is_dead, kill, proc_state, run, seed, stderr,
    stdout, vault, wait_until,
};

const TRICKY: &str = "a b  'single' \"double\" $HOME `x` \\n\nsecond line\ttab é ☃ ";

fn server_with_secrets() -> Server {
    let s = Server::dev();
    seed(
        &s,
        "demo",
        "dev",
        &[("TRICKY", TRICKY), ("API_KEY", "k-canary-9f3e")],
    );
    s
}

#[test]
fn secret_reaches_the_child_byte_for_byte_in_both_modes() {
    let s = server_with_secrets();
    for mode in [None, Some("--supervise")] {
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.extend(["--", "sh", "-c", "printf %s \"$TRICKY\""]);
        let o = run(&s, &args);
        assert!(o.status.success(), "{mode:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), TRICKY, "{mode:?}");
    }
}

#[test]
fn argv_is_passed_verbatim() {
    let s = server_with_secrets();
    let argv = [
        "a b",
        "",
        "'q'",
        "\"dq\"",
        "$HOME",
        "*",
        "--supervise",
        "-p",
        "x\ny",
    ];
    for mode in [None, Some("--supervise")] {
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.extend([
            "--",
            "sh",
            "-c",
            "for a in \"$@\"; do printf '<%s>' \"$a\"; done",
            "sh",
        ]);
        args.extend(argv);
        let o = run(&s, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let want: String = argv.iter().map(|a| format!("<{a}>")).collect();
        assert_eq!(stdout(&o), want, "{mode:?}");
    }
}

#[test]
fn command_flag_uses_a_shell() {
    let s = server_with_secrets();
    let o = run(
        &s,
        &[
            "run",
            "-p",
            "demo",
            "-e",
            "dev",
            "--command",
            "printf %s \"$API_KEY\" | wc -c",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "13");
}

#[test]
fn exit_codes_pass_through() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    let not_exec = dir.path().join("not-executable.sh");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    for mode in [None, Some("--supervise")] {
        for (script, want) in [
            ("exit 0", 0),
            ("exit 1", 1),
            ("exit 42", 42),
            ("kill -TERM $$", 143),
            ("kill -KILL $$", 137),
        ] {
            let mut args = vec!["run", "-p", "demo", "-e", "dev"];
            args.extend(mode);
            args.extend(["--", "sh", "-c", script]);
            let o = run(&s, &args);
            // In exec mode `vault` is the child, so a signal death is a real
            // one (a shell reports it as 128+N); supervised, it is a code.
            let code = o
                .status
                .code()
                .or_else(|| o.status.signal().map(|sig| 128 + sig));
            assert_eq!(code, Some(want), "{mode:?} {script}: {}", stderr(&o));
            if mode.is_some() {
                assert!(
                    o.status.code().is_some(),
                    "supervised: a code, not a signal"
                );
            }
        }
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.extend(["--", "no-such-command-xyz"]);
        let o = run(&s, &args);
        assert_eq!(o.status.code(), Some(127), "{mode:?}");
        assert!(stderr(&o).contains("command not found: no-such-command-xyz"));

        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.push("--");
        args.push(not_exec.to_str().unwrap());
        let o = run(&s, &args);
        assert_eq!(o.status.code(), Some(126), "{mode:?}: {}", stderr(&o));
    }
}

#[test]
fn vault_credentials_do_not_reach_the_child() {
    let s = server_with_secrets();
    for mode in [None, Some("--supervise")] {
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.extend([
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s' \"${VAULT_TOKEN-absent}\" \"${VAULT_SERVICE_TOKEN-absent}\" \"${VAULT_ADDR:+addr}\"",
        ]);
        let o = vault(&s)
            .args(&args)
            .env("VAULT_SERVICE_TOKEN", "other-cred")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "absent|absent|addr", "{mode:?}");
    }
}

#[test]
fn secrets_override_inherited_unless_preserved() {
    let s = server_with_secrets();
    let show = |extra: &[&str]| {
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(extra);
        args.extend(["--", "sh", "-c", "printf %s \"$API_KEY\""]);
        stdout(
            &vault(&s)
                .args(&args)
                .env("API_KEY", "inherited")
                .output()
                .unwrap(),
        )
    };
    assert_eq!(show(&[]), "k-canary-9f3e");
    assert_eq!(show(&["--preserve-env"]), "inherited");
    assert_eq!(show(&["--preserve-env=API_KEY"]), "inherited");
    assert_eq!(show(&["--preserve-env=OTHER"]), "k-canary-9f3e");
    let o = run(
        &s,
        &[
            "run",
            "-p",
            "demo",
            "-e",
            "dev",
            "--only",
            "API_KEY",
            "--",
            "sh",
            "-c",
            "printf %s \"${TRICKY-none}\"",
        ],
    );
    assert_eq!(stdout(&o), "none");
}

#[test]
fn unknown_scope_fails_closed_before_the_child_starts() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let touch = format!("touch {}", marker.display());
    for (p, e) in [("nope", "dev"), ("demo", "nope")] {
        let o = run(&s, &["run", "-p", p, "-e", e, "--", "sh", "-c", &touch]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("cannot fetch the secrets of {p}/{e}")),
            "{err}"
        );
        assert!(err.contains("hint:"), "{err}");
        assert!(!marker.exists());
    }
    // A bad token is refused the same way, and never echoed.
    let o = vault(&s)
        .args(["run", "-p", "demo", "-e", "dev", "--", "sh", "-c", &touch])
        .env("VAULT_TOKEN", "bogus-token-canary")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("bogus-token-canary"));
    assert!(!marker.exists());
}

/// A supervised `sh` child that logs every TERM/INT it gets and exits 0
/// after three, or 9 after ~30 s.
fn counting_child(
    s: &Server,
    log: &std::path::Path,
    ready: &std::path::Path,
) -> std::process::Child {
    let script = format!(
        "n=0; trap 'echo TERM >> {log}; n=$((n+1))' TERM; trap 'echo INT >> {log}; n=$((n+1))' INT; \
         touch {ready}; i=0; while [ $n -lt 3 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; \
         [ $n -ge 3 ] && exit 0; exit 9",
        log = log.display(),
        ready = ready.display()
    );
    let mut cmd = vault(s);
    cmd.args([
        "run",
        "-p",
        "demo",
        "-e",
        "dev",
        "--supervise",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    // The CLI leads its own group, like a job started by a shell.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().unwrap()
}

#[test]
fn supervised_signals_reach_the_child_exactly_once() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("signals");
    let ready = dir.path().join("ready");
    let mut cli = counting_child(&s, &log, &ready);
    assert!(
        wait_until(Duration::from_secs(10), || ready.exists()),
        "child never started"
    );
    let pid = cli.id().to_string();
    let logged = |want: &str| {
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l == want)
        })
    };
    // Each signal is sent once the previous one has been handled, so two
    // TERMs can never merge into one pending signal: any extra or missing
    // line is the CLI's doing.
    kill("TERM", &pid);
    assert!(logged("TERM\n"));
    kill("INT", &pid);
    assert!(logged("TERM\nINT\n"));
    // What a terminal does: the signal goes to the CLI's whole process group.
    kill("TERM", &format!("-{pid}"));
    let st = cli.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(got, "TERM\nINT\nTERM\n");
    assert_eq!(st.code(), Some(0));
}

/// `vault run --supervise -- sleep SECS`, once its child runs: the CLI,
/// its pid and the child's pid.
fn supervised_sleep(s: &Server, secs: &str) -> (std::process::Child, u32, u32) {
    let cli = vault(s)
        .args([
            "run",
            "-p",
            "demo",
            "-e",
            "dev",
            "--supervise",
            "--",
            "sleep",
            secs,
        ])
        .spawn()
        .unwrap();
    let pid = cli.id();
    let want = format!("sleep {secs}");
    let mut child = 0;
    assert!(wait_until(Duration::from_secs(10), || {
        child = children_of(pid)
            .into_iter()
            .find(|c| cmdline(*c).starts_with(&want))
            .unwrap_or(0);
        child != 0
    }));
    (cli, pid, child)
}

#[test]
fn sigkill_of_a_supervised_cli_leaves_no_child() {
    let s = server_with_secrets();
    let (mut cli, pid, child) = supervised_sleep(&s, "300");
    kill("KILL", &pid.to_string());
    let _ = cli.wait();
    assert!(
        wait_until(Duration::from_secs(5), || is_dead(child)),
        "child {child} still running: {:?}",
        proc_state(child)
    );
}

#[test]
fn no_secret_in_any_command_line() {
    let s = server_with_secrets();
    // Supervised: both the CLI and the child exist.
    let (mut cli, pid, child) = supervised_sleep(&s, "30");
    for p in [pid, child] {
        let line = cmdline(p);
        assert!(
            !line.contains("k-canary-9f3e") && !line.contains("second line"),
            "{line}"
        );
        assert!(!line.contains(&s.token), "token in argv: {line}");
    }
    // The child does have it in its environment (that is the point).
    let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains("API_KEY=k-canary-9f3e"));
    kill("TERM", &pid.to_string());
    assert_eq!(cli.wait().unwrap().code(), Some(143));

    // Exec mode: the process is the child.
    let mut cli = vault(&s)
        .args(["run", "-p", "demo", "-e", "dev", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = cli.id();
    assert!(wait_until(Duration::from_secs(10), || cmdline(pid)
        .starts_with("sleep 30")));
    assert!(!cmdline(pid).contains("k-canary"));
    let _ = cli.kill();
    let _ = cli.wait();
}

#[test]
fn no_secret_in_cli_output_or_errors() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    vault_tests::cli::write_vault_toml(dir.path(), "required = [\"MISSING_ONE\"]\n");
    let o = vault(&s)
        .current_dir(dir.path())
        .args(["run", "-p", "demo", "-e", "dev", "--", "true"])
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !all.contains("k-canary") && !all.contains("second line"),
        "{all}"
    );
    let o = run(&s, &["secrets", "list", "-p", "demo", "-e", "dev"]);
    assert!(!stdout(&o).contains("k-canary"));
    let _ = Command::new("true");
}

#[test]
fn integrity_error_fails_closed_before_the_child_starts() {
    let s = server_with_secrets();
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let (id, mut env): (i64, Vec<u8>) = db
        .query_row(
            "SELECT v.id, v.envelope FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
             WHERE s.name = 'API_KEY' ORDER BY v.version DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let last = env.len() - 1;
    env[last] ^= 0x01;
    db.execute(
        "UPDATE secret_versions SET envelope = ?2 WHERE id = ?1",
        rusqlite::params![id, env],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    for mode in [None, Some("--supervise")] {
        let mut args = vec!["run", "-p", "demo", "-e", "dev"];
        args.extend(mode);
        args.extend(["--", "touch", marker.to_str().unwrap()]);
        let o = run(&s, &args);
        assert_eq!(o.status.code(), Some(1), "{mode:?}");
        let err = stderr(&o);
        assert!(err.contains("the command was not started"), "{err}");
        assert!(err.contains("integrity"), "{err}");
        assert!(!err.contains("k-canary"), "{err}");
        assert!(!marker.exists(), "the child ran");
    }
}

/// `vault ARGS` as a shell command line.
fn vault_line(args: &[&str]) -> String {
    std::iter::once(vault_tests::cli_bin().display().to_string())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shells that start `vault` on a terminal: bash runs it as the session's
/// process-group leader (it execs a lone command), dash as a member of its own
/// group without job control (as `sh -c` or make do).
const SHELLS: [&str; 2] = ["/bin/bash", "/bin/sh"];

#[test]
fn supervised_on_a_terminal_child_reads_it_and_gets_ctrl_c_once() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("reader.sh");
    std::fs::write(&reader, "echo ready; read x; echo \"got:$x\"; exit 3\n").unwrap();
    let counter = dir.path().join("counter.sh");
    std::fs::write(
        &counter,
        "n=0\ntrap 'n=$((n+1)); echo \"INT$n\"' INT\necho ready\nwhile [ $n -lt 2 ]; do sleep 0.1; done\nexit 5\n",
    )
    .unwrap();
    let base = ["run", "-p", "demo", "-e", "dev", "--supervise", "--", "sh"];
    for shell in SHELLS {
        let mut args = base.to_vec();
        args.push(reader.to_str().unwrap());
        let mut t = Terminal::start(&s, shell, &vault_line(&args), Duration::from_secs(30));
        t.wait_for_text("ready");
        t.send(b"hello\n");
        t.wait_for_text("got:");
        let (code, out) = t.finish();
        assert_eq!(code, 3, "{shell}: {out}");
        assert!(out.contains("got:hello"), "{shell}: {out}");

        let mut args = base.to_vec();
        args.push(counter.to_str().unwrap());
        let mut t = Terminal::start(&s, shell, &vault_line(&args), Duration::from_secs(30));
        t.wait_for_text("ready");
        // One key press at a time: a second SIGINT sent before the first is
        // handled would merge with it.
        t.send(b"\x03");
        t.wait_for_text("INT1");
        t.send(b"\x03");
        t.wait_for_text("INT2");
        let (code, out) = t.finish();
        assert_eq!(code, 5, "{shell}: {out}");
        assert!(!out.contains("INT3"), "{shell}: {out}");
    }
}

/// The state letter of the process running `reader.sh` under `term`.
fn reader_state(term: &Terminal) -> Option<char> {
    descendants(term.pid())
        .into_iter()
        .find(|p| cmdline(*p).contains("reader.sh") && !cmdline(*p).contains("vault"))
        .and_then(|p| proc_state(p).map(|(st, _)| st))
}

#[test]
fn supervised_child_follows_job_control_in_an_interactive_shell() {
    let s = server_with_secrets();
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("reader.sh");
    std::fs::write(&reader, "echo ready; read x; echo \"got:$x\"; exit 3\n").unwrap();
    let line = vault_line(&[
        "run",
        "-p",
        "demo",
        "-e",
        "dev",
        "--supervise",
        "--",
        "sh",
        reader.to_str().unwrap(),
    ]);
    let mut t = Terminal::start(
        &s,
        "/bin/bash",
        "bash --norc --noprofile -i",
        Duration::from_secs(40),
    );
    t.send(format!("{line}\n").as_bytes());
    t.wait_for_text("ready");
    // Ctrl-Z stops the child and the job; the shell gets its prompt back.
    t.send(b"\x1a");
    t.wait_for("the child to stop", |t| reader_state(t) == Some('T'));
    t.wait_for_text("Stopped");
    // `fg` hands the terminal back to the child, which reads it.
    t.send(b"fg\n");
    t.wait_for("the child to run again", |t| {
        matches!(reader_state(t), Some('S' | 'R'))
    });
    t.send(b"hello\n");
    t.wait_for_text("got:hello");
    // `$?` after `fg` is the job's exit status: the child's.
    t.send(b"echo \"rc=$?\"\n");
    t.wait_for_text("rc=3");
    t.send(b"exit\n");
    let (_, out) = t.finish();
    assert!(out.contains("got:hello"), "{out}");
}

#[test]
fn a_scope_the_token_may_not_read_fails_closed() {
    let s = server_with_secrets();
    seed(&s, "other", "dev", &[("OTHER_KEY", "other-value")]);
    let o = run(
        &s,
        &[
            "tokens",
            "create",
            "--scope",
            "other/dev",
            "--actions",
            "read",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let scoped = v["token"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let o = vault(&s)
        .env("VAULT_TOKEN", &scoped)
        .args(["run", "-p", "demo", "-e", "dev", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("cannot fetch the secrets of demo/dev"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains(&scoped) && !err.contains("k-canary"), "{err}");
    assert!(!marker.exists(), "the child ran");
    // The scope it may read works, and the token itself is not passed on.
    let o = vault(&s)
        .env("VAULT_TOKEN", &scoped)
        .args(["run", "-p", "other", "-e", "dev", "--", "sh", "-c"])
        .arg("printf '%s|%s' \"$OTHER_KEY\" \"${VAULT_TOKEN-absent}\"")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "other-value|absent", "{}", stderr(&o));
}

#[test]
fn an_environment_too_large_for_the_kernel_is_named_with_its_size() {
    let s = Server::dev();
    let c = s.client();
    c.setup("big", "dev");
    // 40 values of about 60 KB: more than the kernel's limit for exec.
    let value = "v".repeat(60_000);
    for i in 0..40 {
        c.write("big", "dev", &format!("BIG_{i:02}"), &value);
    }
    let o = vault_tests::cli::run(&s, &["run", "-p", "big", "-e", "dev", "--", "true"]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("environment is too large"), "{err}");
    assert!(err.contains("bytes in") && err.contains("--only"), "{err}");
    assert!(!err.contains("chmod"), "{err}");
    assert!(!err.contains(&value[..100]), "never a value");
}
