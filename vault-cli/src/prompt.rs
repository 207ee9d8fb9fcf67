//! Reading secret input: from stdin when it is a pipe or file, else from a
//! prompt that does not echo. Secret values never come from argv.

use std::io::{BufRead, IsTerminal, Read, Write};

use rustix::termios::{self, LocalModes, OptionalActions};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use vault_core::secret::SecretText;
use zeroize::Zeroizing;

use crate::error::{CliError, CliResult};

/// How to treat piped input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piped {
    /// Strip one trailing newline (`echo value | vault ...`).
    TrimNewline,
    /// Keep every byte (`--raw`).
    Exact,
}

/// Reads one secret: all of stdin when it is not a terminal, else one line
/// typed at a no-echo prompt on stderr.
pub fn secret(prompt: &str, piped: Piped) -> CliResult<SecretText> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return no_echo_line(prompt);
    }
    let mut buf = Zeroizing::new(Vec::new());
    stdin
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| CliError::new("cannot read stdin").source(e))?;
    let mut text = match String::from_utf8(std::mem::take(&mut *buf)) {
        Ok(t) => Zeroizing::new(t),
        Err(e) => {
            let mut bytes = Zeroizing::new(e.into_bytes());
            bytes.clear();
            return Err(CliError::new("the value on stdin is not UTF-8")
                .hint("secret values are UTF-8 text; base64-encode binary data"));
        }
    };
    if piped == Piped::TrimNewline {
        let len = text.len();
        if text.ends_with("\r\n") {
            text.truncate(len - 2);
        } else if text.ends_with('\n') {
            text.truncate(len - 1);
        }
    }
    Ok(SecretText::new(std::mem::take(&mut *text)))
}

/// One line from the terminal with echo off (restored even on error).
fn no_echo_line(prompt: &str) -> CliResult<SecretText> {
    let stdin = std::io::stdin();
    let before = termios::tcgetattr(&stdin)
        .map_err(|e| CliError::new("cannot read the terminal settings").source(e))?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    eprint!("{prompt}: ");
    let _ = std::io::stderr().flush();
    // Ctrl-C (or a kill) while echo is off must not leave the terminal
    // silent: a watcher restores it, then exits as the signal would have.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        .map_err(|e| CliError::new("cannot install signal handlers").source(e))?;
    let handle = signals.handle();
    let restore = before.clone();
    let watcher = std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Flush, &restore);
            eprintln!();
            // The process is quitting on a signal; 128+N is the shell's code.
            std::process::exit(128 + sig);
        }
    });
    termios::tcsetattr(&stdin, OptionalActions::Flush, &quiet)
        .map_err(|e| CliError::new("cannot turn off echo").source(e))?;
    let mut line = Zeroizing::new(String::new());
    let read = stdin.lock().read_line(&mut line);
    let _ = termios::tcsetattr(&stdin, OptionalActions::Flush, &before);
    handle.close();
    let _ = watcher.join();
    eprintln!();
    read.map_err(|e| CliError::new("cannot read from the terminal").source(e))?;
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(SecretText::new(std::mem::take(&mut *line)))
}

/// Asks a yes/no question on the terminal; false when there is none.
pub fn confirm(question: &str) -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES")
}
