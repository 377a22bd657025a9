//! One clear line for a connect that failed, as both modes print it.

use std::io;
use std::time::Duration;

use crate::target::Target;

/// Describes why connecting to `addr` failed: `connection refused:
/// 127.0.0.1:1`, `connection timed out after 10 s: 10.0.0.1:80`, or the
/// kernel's words for anything rarer (unreachable network or host, ...).
pub(crate) fn describe(addr: &Target, error: &io::Error, connect_timeout: Duration) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => format!("connection refused: {addr}"),
        io::ErrorKind::TimedOut => format!("connection timed out after {}: {addr}", seconds(connect_timeout)),
        _ => format!("cannot connect to {addr}: {error}"),
    }
}

/// `10 s`, `0.3 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_and_timeout_read_as_the_cli_promises() {
        let addr = Target::Tcp("127.0.0.1:1".parse().unwrap());
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(describe(&addr, &refused, Duration::from_secs(10)), "connection refused: 127.0.0.1:1");
        assert_eq!(
            describe(&addr, &timed_out, Duration::from_secs(10)),
            "connection timed out after 10 s: 127.0.0.1:1"
        );
    }
}
