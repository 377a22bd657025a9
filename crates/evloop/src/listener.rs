//! Listening sockets: binding them as a server should, and the accept
//! state they share.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// The loop's listeners, indexed by the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    /// `None` once closed (on stop).
    pub(crate) sockets: Vec<Option<TcpListener>>,
    /// Per listener: already waiting on the ready list.
    pub(crate) on_ready_list: Vec<bool>,
    /// Per listener: the turn its accept count is for, and the count.
    pub(crate) accepted_in_turn: Vec<(u64, usize)>,
    /// Out of descriptors since then, with this many failed accepts: the
    /// episode is logged once when it starts and once when it ends.
    pub(crate) exhaustion: Option<Exhaustion>,
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

/// An episode of running out of file descriptors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exhaustion {
    pub(crate) since: Instant,
    pub(crate) failed_accepts: u64,
}

impl Listeners {
    /// Adds a listener, returning its slot.
    pub(crate) fn push(&mut self, socket: TcpListener) -> usize {
        self.sockets.push(Some(socket));
        self.on_ready_list.push(false);
        self.accepted_in_turn.push((0, 0));
        self.sockets.len() - 1
    }

    /// How many more connections listener `slot` may accept in `turn`.
    pub(crate) fn accepts_left(&mut self, slot: usize, turn: u64, per_turn: usize) -> usize {
        let (counted_turn, count) = &mut self.accepted_in_turn[slot];
        if *counted_turn != turn {
            *counted_turn = turn;
            *count = 0;
        }
        per_turn.saturating_sub(*count)
    }

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
