//! Supervised mode: `vault` stays resident as the child's parent (needed for
//! watching, masking output, temporary files). The contract:
//!
//! - the child runs in its own process group, so a signal sent to our group
//!   never reaches it directly: it gets exactly the one copy we forward
//!   (HUP, INT, QUIT, TERM, USR1, USR2, WINCH; never CHLD);
//! - the child is started through a shim that arms `PR_SET_PDEATHSIG`
//!   (SIGKILL), so it dies if the CLI dies, even by SIGKILL;
//! - the exit status is the child's: its code, or 128+N for signal N.
//!
//! On a terminal, when a job-control shell started us in the foreground
//! (we lead our own process group and own the terminal), the child's group
//! is given the terminal: interactive programs can read it, and Ctrl-C or
//! Ctrl-\ from the keyboard reach the child directly, once (our group no
//! longer receives them). Ctrl-Z stops the child; we then stop ourselves so
//! the shell sees the job stop, and on `fg` we hand the terminal back to the
//! child and continue it. The shell takes the terminal back when we exit.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::error::{CliError, CliResult};
use crate::run::exec::{SHIM_ARG, Target, exec_error};
use crate::run::status;

/// Signals forwarded to the child's process group.
pub const FORWARDED: [i32; 7] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH];

/// The shim's argument saying it must wait to own the terminal before exec.
pub const TTY_ARG: &str = "tty";

/// Whether to give the child the terminal: stdin is a terminal, we lead our
/// process group (a job-control shell made us a job, so it will reclaim the
/// terminal after us) and that group is the terminal's foreground group.
fn should_hand_over_terminal() -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    let me = rustix::process::getpgrp();
    me == rustix::process::getpid() && rustix::termios::tcgetpgrp(&stdin).is_ok_and(|fg| fg == me)
}

/// In the shim: waits (briefly) until the supervisor has made our process
/// group the terminal's foreground group, so the program never starts in the
/// background and gets stopped by its first terminal read.
pub fn wait_for_terminal() {
    let stdin = std::io::stdin();
    let me = rustix::process::getpgrp();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if rustix::termios::tcgetpgrp(&stdin).map_or(true, |fg| fg == me) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `target` under supervision and returns its shell-style exit code.
pub fn run(target: &Target, env: &[(OsString, OsString)]) -> CliResult<u8> {
    // Catch the signals before the child exists, so none can kill us
    // between spawn and forwarding.
    let mut signals = Signals::new(FORWARDED)
        .map_err(|e| CliError::new("cannot install signal handlers").source(e))?;
    let me = std::env::current_exe()
        .map_err(|e| CliError::new("cannot find the vault executable").source(e))?;
    let terminal = should_hand_over_terminal();
    let mut cmd = Command::new(me);
    cmd.arg(SHIM_ARG)
        .arg(rustix::process::getpid().as_raw_nonzero().to_string())
        .arg(if terminal { TTY_ARG } else { "-" })
        .arg("--")
        .arg(&target.program)
        .args(&target.args)
        .env_clear()
        .envs(env.iter().cloned());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(|e| exec_error(&target.program, e))?;
    let pid = Pid::from_child(&child);
    if terminal {
        let _ = rustix::termios::tcsetpgrp(std::io::stdin(), pid);
    }
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for raw in signals.forever() {
            if let Some(sig) = Signal::from_named_raw(raw) {
                // ESRCH after the child is gone is fine.
                let _ = rustix::process::kill_process_group(pid, sig);
            }
        }
    });
    let result = wait(pid, terminal);
    handle.close();
    let _ = forwarder.join();
    result
}

/// Waits for the child to end, following job-control stops on a terminal.
fn wait(pid: Pid, terminal: bool) -> CliResult<u8> {
    let opts = if terminal {
        WaitOptions::UNTRACED
    } else {
        WaitOptions::empty()
    };
    loop {
        let waited = rustix::process::waitpid(Some(pid), opts);
        let st = match waited {
            Ok(Some((_, st))) => st,
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(CliError::new("lost track of the child process").source(e)),
        };
        if st.stopped() {
            // Ctrl-Z (or SIGTTIN/SIGTTOU): stop with the child, so the
            // shell sees the job stop and takes the terminal back.
            let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
            // Resumed. In the foreground (`fg`) give the terminal back to
            // the child; in the background (`bg`) leave it with the shell.
            let stdin = std::io::stdin();
            let ours = rustix::process::getpgrp();
            if rustix::termios::tcgetpgrp(&stdin).is_ok_and(|fg| fg == ours) {
                let _ = rustix::termios::tcsetpgrp(&stdin, pid);
            }
            let _ = rustix::process::kill_process_group(pid, Signal::CONT);
            continue;
        }
        if let Some(code) = st.exit_status() {
            return Ok(u8::try_from(code & 0xff).unwrap_or(crate::error::exit::FAILURE));
        }
        if let Some(sig) = st.terminating_signal() {
            return Ok(status::from_signal(sig));
        }
    }
}
