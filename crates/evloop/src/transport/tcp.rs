//! TCP: binding a listener as a server should, connecting, and closing
//! with a reset.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::Stream;

/// Binds a nonblocking listener with `SO_REUSEADDR` (a restarted server can
/// bind while old connections sit in TIME_WAIT) and the given backlog;
/// with `reuse_port`, also `SO_REUSEPORT`, so that several sockets (a
/// group's loops) listen on one port and the kernel spreads connections
/// over them by a hash of their addresses.
///
/// # Errors
///
/// Whatever `socket`, `bind` or `listen` return: `AddrInUse`,
/// `AddrNotAvailable`, `PermissionDenied`, ...
pub(crate) fn bind(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Like `connect(2)` on a new nonblocking socket: returns at once, with the
/// connect in progress; its outcome is the socket's first writable event.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<Stream> {
    TcpStream::connect(addr).map(Stream::Tcp)
}

/// `SO_LINGER` 0: closing the socket sends RST instead of FIN.
pub(crate) fn reset_on_close(stream: &TcpStream) -> io::Result<()> {
    SockRef::from(stream).set_linger(Some(Duration::ZERO))
}

/// `TCP_NOTSENT_LOWAT` 1: the socket reports writable only once the
/// kernel has sent every byte written to it (none waits unsent).
pub(crate) fn writable_once_sent(stream: &TcpStream) -> io::Result<()> {
    SockRef::from(stream).set_tcp_notsent_lowat(1)
}

/// `dup(2)` of a listening socket.
pub(crate) fn try_clone(listener: &TcpListener) -> io::Result<TcpListener> {
    let socket = SockRef::from(listener).try_clone()?;
    Ok(TcpListener::from_std(socket.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_port_zero_and_reports_the_real_port() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), 16, false).expect("bind");
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn second_bind_of_a_listening_port_is_addr_in_use() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 16, false).expect("bind");
        let err = bind(first.local_addr().unwrap(), 16, false).expect_err("second bind must fail");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn reuse_port_sockets_share_a_port() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 16, true).expect("bind");
        let second = bind(first.local_addr().unwrap(), 16, true).expect("a second SO_REUSEPORT bind succeeds");
        assert_eq!(first.local_addr().unwrap(), second.local_addr().unwrap());
    }
}
