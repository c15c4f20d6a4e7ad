//! The open-file limit. Every connection and every transfer holds a descriptor, and the common soft limit
//! of 1024 is what a thousand idle connections exhausted. The hard limit is the administrator's bound;
//! the soft one is only a default, which a server may raise up to it.

/// Raises the soft limit on open descriptors to the hard one; returns the soft limit before and after. An
/// error leaves the limit as it was.
#[cfg(unix)]
// rlim_t is u64 on Linux, a signed type on some other systems.
#[allow(clippy::unnecessary_cast)]
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given, which lives for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok((before as u64, limit.rlim_cur as u64))
}

/// Elsewhere the limit stays as it is.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    Err(std::io::Error::other("not supported on this platform"))
}
