//! What Strata asks of the machine it runs on: the time records are stamped
//! with, whether a process is alive, the host's name. The lowest module:
//! it imports nothing of Strata's.

/// Now, as every record spells a time (RFC 3339, UTC, milliseconds).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether a process with this id is alive on this machine.
pub(crate) fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // Signal 0 checks without sending; EPERM means it exists as another user.
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// This machine's host name (`unknown` when it has none).
pub(crate) fn host() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    if name.is_empty() {
        "unknown".into()
    } else {
        name.into_owned()
    }
}

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unused_pid_is_not() {
        assert!(alive(std::process::id()));
        assert!(!alive(i32::MAX as u32));
        assert!(!alive(u32::MAX), "ids past i32 are never alive");
        assert!(!host().is_empty());
    }
}
