//! Listening sockets: binding them as a server should, and the accept
//! state they share.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// The loop's listeners, indexed by the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    /// `None` once closed (on stop).
    pub(crate) sockets: Vec<Option<TcpListener>>,
    /// `max_connections` are open and new connections are being turned
    /// away; kept so the warning is logged once per episode.
    pub(crate) rejecting_at_limit: bool,
    /// Accepting stopped after EMFILE/ENFILE; resumes when the backoff
    /// timer fires.
    pub(crate) backing_off: bool,
    /// Inbound connections open per peer address, kept only while
    /// `Config::max_connections_per_ip` is set.
    pub(crate) per_ip: HashMap<IpAddr, usize>,
}

impl Listeners {
    /// Counts a connection from `ip` in, unless `limit` of them are open
    /// already; returns whether it was admitted.
    pub(crate) fn admit_ip(&mut self, ip: IpAddr, limit: usize) -> bool {
        let open = self.per_ip.entry(ip).or_insert(0);
        if *open >= limit {
            return false;
        }
        *open += 1;
        true
    }

    /// Counts a connection from `ip` out.
    pub(crate) fn release_ip(&mut self, ip: IpAddr) {
        if let Some(open) = self.per_ip.get_mut(&ip) {
            *open -= 1;
            if *open == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

/// Binds a nonblocking listener with `SO_REUSEADDR` (a restarted server can
/// bind while old connections sit in TIME_WAIT) and the given backlog.
///
/// # Errors
///
/// Whatever `socket`, `bind` or `listen` return: `AddrInUse`,
/// `AddrNotAvailable`, `PermissionDenied`, ...
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(TcpListener::from_std(socket.into()))
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

/// Whether an `accept` error concerns only the connection being accepted
/// (it was reset while in the backlog, ...), so accepting should go on.
pub(crate) fn is_per_connection(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_port_zero_and_reports_the_real_port() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), 16).expect("bind");
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn second_bind_of_a_listening_port_is_addr_in_use() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 16).expect("bind");
        let err = bind(first.local_addr().unwrap(), 16).expect_err("second bind must fail");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn fd_exhaustion_is_recognised() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(24)));
        assert!(!is_resource_exhaustion(&io::Error::from(io::ErrorKind::WouldBlock)));
    }
}
