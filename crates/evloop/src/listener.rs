//! Listening sockets: binding them as a server should, and the accept
//! state they share.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use log::info;
use mio::net::TcpListener;
use mio::Interest;
use socket2::{Domain, Protocol, Socket, Type};

use crate::id::{listener_token, MAX_LISTENERS};
use crate::{Ctx, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// Listens on `addr` and returns the address actually bound (the real
    /// port when `addr` asks for port 0). May be called any number of times
    /// before `run`; each listener's index (0, 1, ...) reaches `on_open` in
    /// [`Origin::Inbound`](crate::Origin::Inbound).
    ///
    /// The socket has `SO_REUSEADDR` and a backlog of
    /// [`Config::listen_backlog`].
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied` and the like from
    /// `bind`/`listen`; `Other` past 1024 listeners.
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let socket = bind(addr, self.cx.config.listen_backlog, false)?;
        self.cx.add_listener(socket)
    }

    /// Listens on a socket already bound and listening (made with
    /// `std::net::TcpListener::bind` or socket2, inherited from a parent,
    /// or a clone of another loop's), as [`listen`](EventLoop::listen)
    /// does with the one it binds. The socket is made nonblocking; its
    /// options and backlog stay as they were.
    ///
    /// # Errors
    ///
    /// What `fcntl`, `epoll_ctl` or `getsockname` return (`InvalidInput`
    /// for a socket that is not a listening TCP socket); `Other` past 1024
    /// listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
    /// # struct Quiet;
    /// # impl Handler for Quiet {
    /// #     type Conn = ();
    /// #     type Message = ();
    /// #     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    /// #     fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize { data.len() }
    /// # }
    /// # fn main() -> std::io::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut el = EventLoop::new(Config::default(), Quiet)?;
    /// let addr = el.listen_on(listener)?;
    /// assert_ne!(addr.port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn listen_on(&mut self, listener: std::net::TcpListener) -> io::Result<SocketAddr> {
        listener.set_nonblocking(true)?;
        self.cx.add_listener(mio::net::TcpListener::from_std(listener))
    }
}

impl Ctx {
    /// Registers a listening socket with the loop and returns where it
    /// listens.
    pub(crate) fn add_listener(&mut self, mut socket: TcpListener) -> io::Result<SocketAddr> {
        let slot = self.listeners.sockets.len();
        if slot >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let local = socket.local_addr()?;
        self.poll.registry().register(&mut socket, listener_token(slot), Interest::READABLE)?;
        self.listeners.push(socket);
        info!("listening on {local}");
        Ok(local)
    }
}

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
