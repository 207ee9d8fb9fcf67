//! The CLI's error type: a message, an optional cause chain, an optional
//! `hint:` line, and the process exit code it maps to.
//!
//! Errors are printed once, by `main`, as
//!
//! ```text
//! error: <message>
//!   caused by: <cause>
//! hint: <what to do next>
//! ```
//!
//! Nothing secret is ever put in a message: callers pass names, never values.

use std::error::Error as StdError;
use std::fmt;
use std::io::Write;

/// Exit codes of the `vault` binary itself (see `docs/cli.md`). `vault run`
/// exits with its child's status instead once the child has started.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any failure: network, server error, denied, not found, fail-closed run.
    pub const FAILURE: u8 = 1;
    /// Command-line usage error (clap).
    pub const USAGE: u8 = 2;
    /// `vault audit verify` ran and found the audit trail tampered with.
    pub const VERIFY_FAILED: u8 = 3;
    /// `vault run`: the command could not be executed (not executable).
    pub const NOT_EXECUTABLE: u8 = 126;
    /// `vault run`: the command was not found.
    pub const NOT_FOUND: u8 = 127;
}

/// An error the user sees.
pub struct CliError {
    message: String,
    hint: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    code: u8,
}

/// The CLI's result type.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// A failure with `message` (exit code 1).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            source: None,
            code: exit::FAILURE,
        }
    }

    /// Adds a `hint:` line.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a cause, printed as `caused by:` lines.
    #[must_use]
    pub fn source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Sets the exit code.
    #[must_use]
    pub fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// Puts `message` in front: the current error becomes the first cause
    /// (its hint and exit code are kept).
    #[must_use]
    pub fn context(mut self, message: impl Into<String>) -> Self {
        let hint = self.hint.take();
        let code = self.code;
        Self {
            message: message.into(),
            hint,
            source: Some(Box::new(self)),
            code,
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// The main message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Writes the error, its causes and its hint to `out` (stderr in `main`).
    pub fn report(&self, out: &mut dyn Write, color: bool) {
        let (red, yellow, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;33m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let _ = writeln!(out, "{red}error:{reset} {}", self.message);
        let mut cause: Option<&(dyn StdError + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        let mut last = String::new();
        while let Some(e) = cause {
            let text = e.to_string();
            // Some errors repeat their source in their own message; skip echoes.
            if text != last && !self.message.contains(&text) {
                let _ = writeln!(out, "  caused by: {text}");
            }
            last = text;
            cause = e.source();
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "{yellow}hint:{reset} {h}");
        }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliError")
            .field("message", &self.message)
            .field("hint", &self.hint)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CliError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl CliError {
    /// True when this is (caused by) a closed output pipe: the reader
    /// stopped early (`vault ... | head`), which is a normal end.
    pub fn is_broken_pipe(&self) -> bool {
        let mut cause: Option<&(dyn StdError + 'static)> = self.source();
        while let Some(c) = cause {
            if c.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return true;
            }
            cause = c.source();
        }
        false
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new("I/O error").source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_prints_chain_and_hint_without_color() {
        let io = std::io::Error::other("connection refused");
        let e = CliError::new("cannot reach the server at http://127.0.0.1:1")
            .source(io)
            .hint("is the server running?");
        let mut buf = Vec::new();
        e.report(&mut buf, false);
        let s = String::from_utf8(buf).unwrap();
        assert_eq!(
            s,
            "error: cannot reach the server at http://127.0.0.1:1\n  caused by: connection refused\nhint: is the server running?\n"
        );
    }

    #[test]
    fn context_pushes_the_old_message_into_the_chain() {
        let e = CliError::new("project nope not found")
            .hint("check the name")
            .code(exit::FAILURE)
            .context("cannot fetch the secrets of nope/dev");
        let mut buf = Vec::new();
        e.report(&mut buf, false);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "error: cannot fetch the secrets of nope/dev\n  caused by: project nope not found\nhint: check the name\n"
        );
    }
}
