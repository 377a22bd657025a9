//! The open-file limit, which caps the load mode's connections: each one is
//! a socket, a file descriptor. Raised as far as the process may raise it,
//! and explained when that is still too low.

use std::io;

use rlimit::Resource;

/// Raises the soft limit on open files to the hard limit (an unprivileged
/// process may go that far, and the default soft limit is often 1024).
///
/// # Errors
///
/// If `getrlimit` or `setrlimit` fails.
pub(crate) fn raise() -> io::Result<()> {
    rlimit::increase_nofile_limit(u64::MAX).map(drop)
}

/// Whether `error` means this process has as many files open as it may
/// (`EMFILE`).
pub(crate) fn is_exhausted(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EMFILE)
}

/// What to tell a user who asked for `wanted` connections when the
/// descriptors ran out after `opened` of them, with the limits in force.
///
/// # Errors
///
/// If `getrlimit` fails.
pub(crate) fn explain_exhaustion(opened: usize, wanted: usize) -> io::Result<String> {
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE)?;
    Ok(explanation(opened, wanted, soft, hard))
}

fn explanation(opened: usize, wanted: usize, soft: u64, hard: u64) -> String {
    // What is open besides the connections (stdio, epoll, the waker, the
    // signal pipe) is what stopped short of the limit, and stays the same.
    let others = soft.saturating_sub(opened as u64);
    let needed = wanted as u64 + others;
    let beyond_hard = if needed > hard {
        format!(" (above the hard limit, {hard}, that takes root or a higher nofile in /etc/security/limits.conf)")
    } else {
        String::new()
    };
    format!(
        "out of file descriptors: opened {opened} of {wanted} connections with this process limited to {soft} open \
         files; raise the limit to {needed} with `ulimit -n {needed}` before running the client{beyond_hard}, or \
         ask for fewer --connections"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_says_how_far_it_got_the_limit_and_the_command_to_raise_it() {
        assert_eq!(
            explanation(19_990, 20_000, 20_000, 20_000),
            "out of file descriptors: opened 19990 of 20000 connections with this process limited to 20000 open \
             files; raise the limit to 20010 with `ulimit -n 20010` before running the client (above the hard \
             limit, 20000, that takes root or a higher nofile in /etc/security/limits.conf), or ask for fewer \
             --connections"
        );
    }

    #[test]
    fn below_the_hard_limit_ulimit_alone_is_enough() {
        let text = explanation(1_014, 2_000, 1_024, 4_096);
        assert!(text.contains("`ulimit -n 2010` before running the client, or"), "{text}");
        assert!(!text.contains("root"), "{text}");
    }

    #[test]
    fn exhaustion_is_emfile_only() {
        assert!(is_exhausted(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(!is_exhausted(&io::Error::from_raw_os_error(libc::ENFILE)), "the whole system's table is full");
        assert!(!is_exhausted(&io::Error::from(io::ErrorKind::ConnectionRefused)));
    }
}
