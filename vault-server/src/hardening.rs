//! Process hardening at start: no core dumps (they would hold keys and
//! values) and not dumpable (blocks ptrace attach by same-uid processes and
//! `/proc/<pid>/mem` reads).

/// Applies the hardening; returns what could not be applied (logged by the caller).
/// Also sets the file mode mask to 077: everything the server creates (data
/// directory, database, WAL, archives, key file) is its owner's alone.
pub fn harden() -> Vec<String> {
    let mut problems = Vec::new();
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let zero = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, zero) {
        problems.push(format!("cannot disable core dumps (RLIMIT_CORE): {e}"));
    }
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        problems.push(format!("cannot set PR_SET_DUMPABLE 0: {e}"));
    }
    problems
}

/// Warnings for files or directories under `paths` that others may read
/// or write (mode bits in 0o077), e.g. made before this server ran, or
/// copied with wider permissions.
pub fn wider_than_private(paths: &[&std::path::Path]) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt as _;
    paths
        .iter()
        .filter_map(|p| {
            let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then(|| {
                format!(
                    "{} has mode {mode:o}: others can reach it; run `chmod go-rwx {}`",
                    p.display(),
                    p.display()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hardening_applies() {
        assert!(super::harden().is_empty());
        let l = rustix::process::getrlimit(rustix::process::Resource::Core);
        assert_eq!(l.current, Some(0));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
