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
//! On a terminal, when our process group is the terminal's foreground group
//! (a shell started us in the foreground, with or without job control), the
//! child's group is given the terminal: interactive programs can read it, and
//! Ctrl-C or Ctrl-\\ from the keyboard reach the child directly, once (our
//! group no longer receives them). The terminal goes back to our group when
//! the child ends, because a shell without job control (`sh -c`, make) would
//! never take it back.
//!
//! Job control follows the child: when it stops (Ctrl-Z, or a terminal read
//! from the background), we give the terminal back and stop our own group
//! with the same signal, so the shell sees the job stop; on `fg` the child
//! gets the terminal again and is continued, on `bg` it is just continued.
//! In an orphaned group, where the kernel discards stop signals, the child is
//! continued at once, as it would be without us.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::error::{CliError, CliResult};
use crate::run::exec::{SHIM_ARG, Target, exec_error_env};
use crate::run::status;

/// Signals forwarded to the child's process group.
pub const FORWARDED: [i32; 7] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH];

/// The shim's argument saying it must wait to own the terminal before exec.
pub const TTY_ARG: &str = "tty";

/// Whether to give the child the terminal: stdin is a terminal and our
/// process group is its foreground group.
fn should_hand_over_terminal() -> bool {
    let stdin = std::io::stdin();
    stdin.is_terminal()
        && rustix::termios::tcgetpgrp(&stdin).is_ok_and(|fg| fg == rustix::process::getpgrp())
}

/// Makes `group` the terminal's foreground group. SIGTTOU is blocked in this
/// thread, so the call also works once our own group is in the background
/// (unblocked, the kernel would stop our whole group instead).
fn give_terminal_to(group: Pid) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal as NixSignal, pthread_sigmask};
    let mut ttou = SigSet::empty();
    ttou.add(NixSignal::SIGTTOU);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old)).is_ok();
    let _ = rustix::termios::tcsetpgrp(std::io::stdin(), group);
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
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
    let child = cmd
        .spawn()
        .map_err(|e| exec_error_env(&target.program, e, env.iter().cloned()))?;
    let pid = Pid::from_child(&child);
    let ours = rustix::process::getpgrp();
    if terminal {
        give_terminal_to(pid);
    }
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for raw in signals.forever() {
            if let Some(sig) = Signal::from_named_raw(raw) {
                // ESRCH after the child is gone is fine.
                let _ = rustix::process::kill_process_group(pid, sig);
                // A stopped child acts on HUP or TERM only once continued,
                // as a shell's `kill %job` does.
                if sig == Signal::HUP || sig == Signal::TERM {
                    let _ = rustix::process::kill_process_group(pid, Signal::CONT);
                }
            }
        }
    });
    let result = wait(pid, ours);
    if terminal && rustix::termios::tcgetpgrp(std::io::stdin()).is_ok_and(|fg| fg == pid) {
        give_terminal_to(ours);
    }
    handle.close();
    let _ = forwarder.join();
    result
}

/// Waits for the child to end, following its job-control stops.
fn wait(pid: Pid, ours: Pid) -> CliResult<u8> {
    loop {
        let waited = rustix::process::waitpid(Some(pid), WaitOptions::UNTRACED);
        let st = match waited {
            Ok(Some((_, st))) => st,
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(CliError::new("lost track of the child process").source(e)),
        };
        if let Some(raw) = st.stopping_signal() {
            follow_stop(pid, ours, raw);
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

/// The child stopped on signal `raw`: stop our group the same way (SIGSTOP,
/// which cannot be discarded, is passed on as SIGTSTP), then, once we run
/// again, continue the child, in the foreground if our group is.
fn follow_stop(pid: Pid, ours: Pid, raw: i32) {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal && rustix::termios::tcgetpgrp(&stdin).is_ok_and(|fg| fg == pid) {
        give_terminal_to(ours);
    }
    let stop = match Signal::from_named_raw(raw) {
        Some(sig) if sig == Signal::TTIN || sig == Signal::TTOU => sig,
        _ => Signal::TSTP,
    };
    // We stop here (unless our group is orphaned) until the shell continues us.
    let _ = rustix::process::kill_process_group(ours, stop);
    let foreground = terminal && rustix::termios::tcgetpgrp(&stdin).is_ok_and(|fg| fg == ours);
    if stop != Signal::TSTP && !foreground {
        // Still in the background, so the kernel discarded our stop (an
        // orphaned group): the child would stop on its next terminal access
        // at once; pace it instead of spinning.
        std::thread::sleep(Duration::from_millis(200));
    }
    if foreground {
        give_terminal_to(pid);
    }
    let _ = rustix::process::kill_process_group(pid, Signal::CONT);
}
