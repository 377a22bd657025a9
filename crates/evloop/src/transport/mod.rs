//! Transports: the only code that touches a socket.
//!
//! A [`Stream`] is a connected socket and a [`Listener`] a listening one,
//! over TCP ([`tcp`]) or a Unix-domain stream socket ([`unix`]). Each
//! operation's contract is stated against the syscall it makes, as Redis's
//! `connection.h` does, so the loop above never asks which transport it
//! has: every guarantee of the loop (half-close, lingering close,
//! watermarks, re-offered input, timeouts, limits) holds on each alike.

mod addr;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod unix;

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};

use mio::event::Source;
use mio::{Interest, Registry, Token};

pub use addr::{PeerAddr, PeerCredentials};

/// A connected, nonblocking stream socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
    /// TLS over a TCP or Unix-domain socket (`tls.rs`): reads give
    /// plaintext, writes take plaintext. Boxed, so that the other kinds'
    /// connection records stay small.
    #[cfg(feature = "tls")]
    Tls(Box<tls::TlsStream>),
}

impl Stream {
    /// Like `read(2)` on a nonblocking socket: `Ok(0)` is the peer's end of
    /// file, `WouldBlock` means nothing is there now. A read shorter than
    /// `buf` proves the socket drained (epoll(7)), for both transports.
    ///
    /// Both transports make the same syscall on their descriptor, so it is
    /// made once for both, through rustix's raw syscall rather than glibc's
    /// wrapper (`instructions_per_message.sh` measures the difference).
    ///
    /// Through TLS it reads plaintext ([`tls::TlsSession::read`]), and a
    /// short read proves the input drained only where
    /// [`short_read_drains`](Stream::short_read_drains) says so.
    #[inline(always)]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Stream::Tls(tls) = self {
            return tls.read(buf);
        }
        Ok(rustix::io::read(self.fd(), buf)?)
    }

    /// Whether the last [`read`](Stream::read), if it was shorter than its
    /// buffer, proves the input drained: always on a plaintext socket
    /// (epoll(7)); through TLS only if the session holds no plaintext and
    /// its socket read was short.
    #[inline(always)]
    pub(crate) fn short_read_drains(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.session.drained(),
            _ => true,
        }
    }

    /// Like `send(2)` of `first`, or `writev(2)` of `first` then `second`
    /// when both hold bytes: a short write is possible (the send buffer is
    /// full), and `WouldBlock` means it took nothing.
    ///
    /// Through TLS the loop writes with `TlsStream`'s own calls instead
    /// (`conn::write_tls`), which keep the count of queued records.
    #[inline(always)]
    pub(crate) fn write(&mut self, first: &[u8], second: &[u8]) -> io::Result<usize> {
        // Through TLS this would put plaintext on the wire.
        #[cfg(feature = "tls")]
        debug_assert!(!matches!(self, Stream::Tls(_)), "a TLS stream is written through conn::write_tls");
        if second.is_empty() {
            // send(2) with MSG_NOSIGNAL, as std's does: a peer that has
            // gone raises EPIPE, never SIGPIPE. (`writev` cannot take the
            // flag: there the process's SIGPIPE disposition decides, which
            // Rust's runtime sets to ignore.)
            return Ok(rustix::net::send(self.fd(), first, rustix::net::SendFlags::NOSIGNAL)?);
        }
        Ok(rustix::io::writev(self.fd(), &[IoSlice::new(first), IoSlice::new(second)])?)
    }

    /// Like `writev(2)` of `bufs`, on the socket itself: how rustls writes
    /// a connection's queued records in one call.
    #[cfg(feature = "tls")]
    pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(rustix::io::writev(self.fd(), bufs)?)
    }

    /// The socket's descriptor, the same for either transport (through
    /// TLS, the socket under the session).
    #[inline(always)]
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(stream) => stream.as_fd(),
            Stream::Unix(stream) => stream.as_fd(),
            // Not a recursive call, which would keep this out of line.
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => match &tls.socket {
                Stream::Tcp(stream) => stream.as_fd(),
                Stream::Unix(stream) => stream.as_fd(),
                Stream::Tls(_) => unreachable!("a TLS stream is always over a TCP or Unix-domain socket"),
            },
        }
    }

    /// Like `shutdown(fd, SHUT_WR)`: the peer reads end of file after the
    /// bytes already written. Through TLS, `close_notify` goes first, so
    /// the peer knows the stream is complete.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.shutdown(Shutdown::Write),
            Stream::Unix(stream) => stream.shutdown(Shutdown::Write),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.shutdown_write(),
        }
    }

    /// Ciphertext queued in a TLS session, not written yet; 0 on a
    /// plaintext socket.
    #[inline(always)]
    pub(crate) fn queued_tls(&self) -> usize {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.session.queued_tls(),
            _ => 0,
        }
    }

    /// Makes the socket report writable only once the kernel has sent
    /// every byte written to it: on TCP, `TCP_NOTSENT_LOWAT` 1 (the next
    /// writable edge then says so). Returns whether it did; a Unix-domain
    /// socket queues what is written straight at its peer, so it has
    /// nothing unsent to wait for: `false`.
    pub(crate) fn writable_once_sent(&self) -> io::Result<bool> {
        match self {
            Stream::Tcp(stream) => tcp::writable_once_sent(stream).map(|()| true),
            Stream::Unix(_) => Ok(false),
            // The socket under the session: its `close_notify` goes with the FIN.
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.writable_once_sent(),
        }
    }

    /// Like `getsockopt(SO_ERROR)`: the socket's pending error, cleared.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(stream) => stream.take_error(),
            Stream::Unix(stream) => stream.take_error(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.take_error(),
        }
    }

    /// Whether a nonblocking connect has completed, as mio documents it:
    /// after a writable event with no pending error, `getpeername(2)`
    /// succeeds; it fails with `NotConnected` while the connect is still in
    /// progress (a spurious event).
    pub(crate) fn check_connected(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.peer_addr().map(drop),
            Stream::Unix(stream) => stream.peer_addr().map(drop),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.check_connected(),
        }
    }

    /// Sets `TCP_NODELAY` (a ping-pong workload stalls on Nagle's
    /// algorithm). A Unix-domain socket has no Nagle: nothing to do.
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.set_nodelay(),
        }
    }

    /// Makes closing the socket abortive: on TCP, `SO_LINGER` 0, so the
    /// peer gets RST and cannot take a truncated stream for a complete
    /// one. A Unix-domain socket has no reset: its peer sees
    /// `ECONNRESET` only if input was left unread here, else end of file.
    /// Through TLS, no `close_notify` is sent either.
    pub(crate) fn reset_on_close(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => tcp::reset_on_close(stream),
            Stream::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.reset_on_close(),
        }
    }

    /// The peer's credentials (`SO_PEERCRED`): `None` on TCP, which has
    /// none.
    pub(crate) fn peer_credentials(&self) -> Option<io::Result<PeerCredentials>> {
        match self {
            Stream::Tcp(_) => None,
            Stream::Unix(stream) => Some(unix::peer_credentials(stream)),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.peer_credentials(),
        }
    }

    /// Registers the socket with `registry`, once for its whole life.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token, interest: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.register(registry, token, interest),
            Stream::Unix(stream) => stream.register(registry, token, interest),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.socket.register(registry, token, interest),
        }
    }
}

/// A listening, nonblocking socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(unix::UnixListener),
}

impl Listener {
    /// Like `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: a new
    /// connection and its peer's address, or `WouldBlock` when the backlog
    /// is empty.
    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                Ok((Stream::Tcp(stream), PeerAddr::Tcp(peer)))
            }
            Listener::Unix(listener) => listener.accept(),
        }
    }

    /// Where it listens, as the logs print it.
    pub(crate) fn local_addr(&self) -> io::Result<String> {
        match self {
            Listener::Tcp(listener) => Ok(listener.local_addr()?.to_string()),
            Listener::Unix(listener) => Ok(format!("unix:{}", listener.path().display())),
        }
    }

    /// Another descriptor of the same listening socket (one backlog), for
    /// another loop to poll.
    pub(crate) fn try_clone(&self) -> io::Result<Listener> {
        match self {
            Listener::Tcp(listener) => tcp::try_clone(listener).map(Listener::Tcp),
            Listener::Unix(listener) => listener.try_clone().map(Listener::Unix),
        }
    }

    /// Registers the socket with `registry` for readiness to accept.
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match self {
            Listener::Tcp(listener) => listener.register(registry, token, Interest::READABLE),
            Listener::Unix(listener) => listener.register(registry, token),
        }
    }
}

/// Whether an `accept` error means the process or system ran out of file
/// descriptors or socket memory: back off instead of spinning, since the
/// pending connection stays in the backlog and the listener stays readable.
pub(crate) fn is_resource_exhaustion(err: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(err.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS | ENOMEM))
}

/// Whether an `accept` error concerns only the connection being accepted,
/// so accepting should go on. accept(2): "Linux accept() passes already-
/// pending network errors on the new socket as an error code from
/// accept() ... For reliable operation the application should detect the
/// network errors defined for the protocol after accept() and treat them
/// like EAGAIN by retrying": ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN,
/// ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH; and EPERM when a
/// firewall rule forbids the connection, ECONNABORTED for one reset while
/// it waited in the backlog.
pub(crate) fn is_per_connection(err: &io::Error) -> bool {
    const EPERM: i32 = 1;
    const ENONET: i32 = 64;
    const EPROTO: i32 = 71;
    const ENOPROTOOPT: i32 = 92;
    const EOPNOTSUPP: i32 = 95;
    const ENETDOWN: i32 = 100;
    const ENETUNREACH: i32 = 101;
    const ECONNABORTED: i32 = 103;
    const ECONNRESET: i32 = 104;
    const EHOSTDOWN: i32 = 112;
    const EHOSTUNREACH: i32 = 113;
    const EINTR: i32 = 4;
    matches!(
        err.raw_os_error(),
        Some(
            EPERM
                | ENONET
                | EPROTO
                | ENOPROTOOPT
                | EOPNOTSUPP
                | ENETDOWN
                | ENETUNREACH
                | ECONNABORTED
                | ECONNRESET
                | EHOSTDOWN
                | EHOSTUNREACH
                | EINTR
        )
    ) || matches!(err.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_accept_says_to_retry_are_per_connection() {
        for errno in [1, 64, 71, 92, 95, 100, 101, 103, 104, 112, 113] {
            assert!(is_per_connection(&io::Error::from_raw_os_error(errno)), "errno {errno}");
        }
        assert!(!is_per_connection(&io::Error::from_raw_os_error(24)), "EMFILE is not per connection");
    }

    #[test]
    fn fd_exhaustion_is_recognised() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(24)));
        assert!(!is_resource_exhaustion(&io::Error::from(io::ErrorKind::WouldBlock)));
    }
}
