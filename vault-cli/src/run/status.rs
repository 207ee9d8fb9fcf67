//! Exit statuses as a shell reports them: the child's code, `128 + N` for a
//! death by signal `N`, 127 for a command that was not found, 126 for one
//! that could not be executed.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::error::exit;

/// The shell-style exit code for a finished child.
pub fn from_status(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(exit::FAILURE);
    }
    match status.signal() {
        Some(sig) => from_signal(sig),
        None => exit::FAILURE,
    }
}

/// `128 + sig`, the shell's code for a death by signal `sig`.
pub fn from_signal(sig: i32) -> u8 {
    u8::try_from((128 + sig) & 0xff).unwrap_or(exit::FAILURE)
}

/// The shell-style exit code for a command that could not be started.
pub fn from_spawn_error(e: &io::Error) -> u8 {
    let noent = rustix::io::Errno::NOENT.raw_os_error();
    let notdir = rustix::io::Errno::NOTDIR.raw_os_error();
    match e.raw_os_error() {
        Some(c) if c == noent || c == notdir => exit::NOT_FOUND,
        _ if e.kind() == io::ErrorKind::NotFound => exit::NOT_FOUND,
        _ => exit::NOT_EXECUTABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_signals() {
        // Raw wait statuses: code << 8 for an exit, the signal number for a death.
        assert_eq!(from_status(ExitStatus::from_raw(0)), 0);
        assert_eq!(from_status(ExitStatus::from_raw(42 << 8)), 42);
        assert_eq!(from_status(ExitStatus::from_raw(255 << 8)), 255);
        assert_eq!(from_status(ExitStatus::from_raw(15)), 143);
        assert_eq!(from_status(ExitStatus::from_raw(9)), 137);
        assert_eq!(from_status(ExitStatus::from_raw(2)), 130);
    }

    #[test]
    fn spawn_errors() {
        assert_eq!(from_spawn_error(&io::Error::from_raw_os_error(2)), 127);
        assert_eq!(from_spawn_error(&io::Error::from_raw_os_error(13)), 126);
        assert_eq!(from_spawn_error(&io::Error::from_raw_os_error(8)), 126);
    }
}
