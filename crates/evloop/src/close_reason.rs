//! Why a connection closed.

use std::fmt;
use std::io;

/// Why a connection closed: passed to
/// [`Handler::on_close`](crate::Handler::on_close) and counted in
/// [`Stats`](crate::Stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side (read returned end of file) and the
    /// connection then closed after flushing.
    PeerClosed,
    /// The peer reset the connection (`ECONNRESET`, `EPIPE`).
    Reset,
    /// No progress either way (no byte read or written) for
    /// [`Config::idle_timeout`](crate::Config::idle_timeout).
    IdleTimeout,
    /// Queued output made no progress for
    /// [`Config::write_timeout`](crate::Config::write_timeout).
    WriteTimeout,
    /// Queued output passed [`Config::max_output_bytes`](crate::Config::max_output_bytes).
    OutputLimit,
    /// Unconsumed input passed [`Config::max_input_bytes`](crate::Config::max_input_bytes).
    InputLimit,
    /// The application called [`Ctx::close`](crate::Ctx::close).
    App,
    /// The loop stopped ([`Ctx::stop`](crate::Ctx::stop) or
    /// [`LoopHandle::stop`](crate::LoopHandle::stop)).
    Shutdown,
    /// A callback about this connection panicked.
    Panic,
    /// A TLS connection's handshake failed (garbage instead of a hello, no
    /// protocol version or cipher suite in common, a certificate that does
    /// not verify, the peer closing mid-handshake). The application never
    /// saw the connection: counted in [`Stats`](crate::Stats) only.
    TlsHandshakeFailed,
    /// A TLS connection's handshake did not complete within
    /// [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout).
    /// Counted in [`Stats`](crate::Stats) only, as for
    /// [`TlsHandshakeFailed`](CloseReason::TlsHandshakeFailed).
    TlsHandshakeTimeout,
    /// A TLS peer's end of file came without `close_notify`: what it sent
    /// may have been cut short. `on_eof` saw it first, with
    /// [`TlsInfo::is_truncated`](crate::tls::TlsInfo::is_truncated) set.
    TlsTruncated,
    /// Any other I/O error on the socket, with its kind.
    Error(io::ErrorKind),
}

impl CloseReason {
    /// Every reason, in the order [`Stats`](crate::Stats) counts them
    /// (all `Error` kinds share one counter).
    pub const ALL: [CloseReason; 13] = [
        CloseReason::PeerClosed,
        CloseReason::Reset,
        CloseReason::IdleTimeout,
        CloseReason::WriteTimeout,
        CloseReason::OutputLimit,
        CloseReason::InputLimit,
        CloseReason::App,
        CloseReason::Shutdown,
        CloseReason::Panic,
        CloseReason::TlsHandshakeFailed,
        CloseReason::TlsHandshakeTimeout,
        CloseReason::TlsTruncated,
        CloseReason::Error(io::ErrorKind::Other),
    ];

    /// This reason's position in [`CloseReason::ALL`].
    pub(crate) fn counter_index(self) -> usize {
        match self {
            CloseReason::PeerClosed => 0,
            CloseReason::Reset => 1,
            CloseReason::IdleTimeout => 2,
            CloseReason::WriteTimeout => 3,
            CloseReason::OutputLimit => 4,
            CloseReason::InputLimit => 5,
            CloseReason::App => 6,
            CloseReason::Shutdown => 7,
            CloseReason::Panic => 8,
            CloseReason::TlsHandshakeFailed => 9,
            CloseReason::TlsHandshakeTimeout => 10,
            CloseReason::TlsTruncated => 11,
            CloseReason::Error(_) => 12,
        }
    }

    /// Classifies a socket error: a reset or broken pipe is the peer's doing,
    /// anything else is an error.
    pub(crate) fn from_io_error(err: &io::Error) -> CloseReason {
        match err.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
                CloseReason::Reset
            }
            kind => CloseReason::Error(kind),
        }
    }

    /// Whether closing for this reason cuts the stream short, so the peer
    /// must see a reset (RST) rather than an end of file that looks like a
    /// complete reply.
    pub(crate) fn is_abortive(self) -> bool {
        matches!(
            self,
            CloseReason::App
                | CloseReason::IdleTimeout
                | CloseReason::WriteTimeout
                | CloseReason::InputLimit
                | CloseReason::OutputLimit
                | CloseReason::Panic
        )
    }

    /// A short lowercase name, as the logs and stats print it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peer closed",
            CloseReason::Reset => "reset",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::WriteTimeout => "write timeout",
            CloseReason::OutputLimit => "output limit",
            CloseReason::InputLimit => "input limit",
            CloseReason::App => "app",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Panic => "panic",
            CloseReason::TlsHandshakeFailed => "tls handshake failed",
            CloseReason::TlsHandshakeTimeout => "tls handshake timeout",
            CloseReason::TlsTruncated => "tls truncated",
            CloseReason::Error(_) => "error",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Error(kind) => write!(f, "error: {kind}"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_indices_follow_all() {
        for (i, reason) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(reason.counter_index(), i, "{reason}");
        }
    }

    #[test]
    fn resets_are_told_apart_from_other_errors() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let other = io::Error::from(io::ErrorKind::InvalidData);
        assert_eq!(CloseReason::from_io_error(&reset), CloseReason::Reset);
        assert_eq!(CloseReason::from_io_error(&other), CloseReason::Error(io::ErrorKind::InvalidData));
    }
}
