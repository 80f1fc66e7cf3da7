//! The open-file limit. Every client connection is a file descriptor, and
//! a process starts with the soft limit its parent left (often 1,024),
//! below the default `max_connections` of 2,000. The server raises its
//! soft limit as far as the hard limit allows, as Redis does, and warns
//! when even that is short.

/// Descriptors kept for everything but client sockets: listeners, log and
/// checkpoint files, the runtime's own.
const RESERVED: u64 = 64;

/// Raises the soft limit on open files to fit `connections` clients (up to
/// the hard limit); returns the soft limit now in force, or `None` where
/// it cannot be read.
pub fn raise_for(connections: usize) -> Option<u64> {
    let wanted = (connections as u64).saturating_add(RESERVED);
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur >= wanted {
        return Some(limit.rlim_cur);
    }
    let raised = libc::rlimit { rlim_cur: wanted.min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: setrlimit reads one rlimit from the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        limit.rlim_cur = raised.rlim_cur;
    }
    if limit.rlim_cur < wanted {
        tracing::warn!(
            open_files = limit.rlim_cur,
            max_connections = connections,
            "the open-file limit is below what max_connections needs; raise it (ulimit -n) or lower max_connections"
        );
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_fits_the_connections_the_hard_limit_allows() {
        let soft = raise_for(1000).unwrap_or(0);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(soft, limit.rlim_cur);
        assert!(limit.rlim_cur >= (1000 + RESERVED).min(limit.rlim_max));
    }
}
