//! Process hardening at start: no core dumps (they would hold keys and
//! values) and not dumpable (blocks ptrace attach by same-uid processes and
//! `/proc/<pid>/mem` reads).

/// Applies the hardening; returns what could not be applied (logged by the caller).
pub fn harden() -> Vec<String> {
    let mut problems = Vec::new();
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
