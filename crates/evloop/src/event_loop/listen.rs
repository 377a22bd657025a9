//! Listening: binding sockets (TCP, Unix-domain) and registering them
//! with the loop, and the accept state the listeners share.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use log::info;

use super::token::{listener_token, MAX_LISTENERS};
use crate::transport::{tcp, unix, Listener};
use crate::{Ctx, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// Listens on `addr` and returns the address actually bound (the real
    /// port when `addr` asks for port 0). May be called any number of times
    /// before `run`; each listener's index (0, 1, ...) reaches `on_open` in
    /// [`Origin::Inbound`](crate::Origin::Inbound).
    ///
    /// The socket has `SO_REUSEADDR` and a backlog of
    /// [`Config::listen_backlog`](crate::Config::listen_backlog).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied` and the like from
    /// `bind`/`listen`; `Other` past 1024 listeners.
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let socket = tcp::bind(addr, self.cx.config.listen_backlog, false)?;
        let local = socket.local_addr()?;
        self.cx.add_listener(Listener::Tcp(socket))?;
        Ok(local)
    }

    /// Listens on a Unix-domain stream socket at `path`, beside any TCP
    /// listeners: the same handler serves both, and
    /// [`Ctx::peer_addr`](crate::Ctx::peer_addr) says which a connection
    /// came through ([`PeerAddr::Unix`](crate::PeerAddr::Unix)), with
    /// [`Ctx::peer_credentials`](crate::Ctx::peer_credentials) for who
    /// connected. The listener's index reaches `on_open` as a TCP one's
    /// does.
    ///
    /// A socket file left behind by a server that died is replaced; the
    /// file is removed when the loop stops cleanly (and not if another
    /// server has bound the path since). The file's mode is what the
    /// process's umask gives; see
    /// [`listen_unix_with_mode`](EventLoop::listen_unix_with_mode).
    /// [`Config::max_connections_per_ip`](crate::Config::max_connections_per_ip)
    /// does not apply to Unix-domain peers, which have no address.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if a live server listens on `path`, or `path` exists and
    /// is not a socket (it is never replaced); `PermissionDenied`,
    /// `NotFound` (a missing directory), `InvalidInput` (a path longer
    /// than 107 bytes) from `bind`; `Other` past 1024 listeners.
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
    /// # let dir = std::env::temp_dir().join(format!("evloop-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("quiet.sock");
    /// let mut el = EventLoop::new(Config::default(), Quiet)?;
    /// el.listen("127.0.0.1:0".parse().unwrap())?; // TCP and
    /// el.listen_unix(&path)?; // a Unix-domain socket, one handler
    /// assert!(path.exists());
    /// # el.handle().stop().unwrap();
    /// el.run()?;
    /// assert!(!path.exists(), "a clean stop removes the socket file");
    /// # Ok(())
    /// # }
    /// ```
    pub fn listen_unix(&mut self, path: impl AsRef<Path>) -> io::Result<()> {
        let socket = unix::bind(path.as_ref(), self.cx.config.listen_backlog, None)?;
        self.cx.add_listener(Listener::Unix(socket))
    }

    /// As [`listen_unix`](EventLoop::listen_unix), with the socket file's
    /// permission bits set to `mode` (Redis's `unixsocketperm`; `0o700`
    /// lets only this user connect, `0o770` its group too).
    ///
    /// # Errors
    ///
    /// As [`listen_unix`](EventLoop::listen_unix), and what `chmod`
    /// returns.
    pub fn listen_unix_with_mode(&mut self, path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let socket = unix::bind(path.as_ref(), self.cx.config.listen_backlog, Some(mode))?;
        self.cx.add_listener(Listener::Unix(socket))
    }

    /// Listens on `addr` as [`listen`](EventLoop::listen) does, speaking
    /// TLS with `config` (feature `tls`): the same handler serves it, with
    /// plaintext in `on_data` and `send`. A connection reaches `on_open`
    /// once its handshake has completed ([`Ctx::tls`](crate::Ctx::tls) says
    /// what was negotiated); one whose handshake fails or outlasts
    /// [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout)
    /// never does (see [`CloseReason::TlsHandshakeFailed`](crate::CloseReason::TlsHandshakeFailed)).
    ///
    /// # Errors
    ///
    /// As [`listen`](EventLoop::listen).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
    /// # struct Echo;
    /// # impl Handler for Echo {
    /// #     type Conn = ();
    /// #     type Message = ();
    /// #     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    /// #     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
    /// #         cx.send(id, data);
    /// #         data.len()
    /// #     }
    /// # }
    /// # fn main() -> std::io::Result<()> {
    /// let certs = evloop::tls::load_certs("cert.pem")?;
    /// let key = evloop::tls::load_private_key("key.pem")?;
    /// let mut el = EventLoop::new(Config::default(), Echo)?;
    /// el.listen("127.0.0.1:7878".parse().unwrap())?; // plaintext, and
    /// el.listen_tls("127.0.0.1:7879".parse().unwrap(), evloop::tls::server_config(certs, key)?)?; // TLS
    /// el.run()
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn listen_tls(&mut self, addr: SocketAddr, config: Arc<rustls::ServerConfig>) -> io::Result<SocketAddr> {
        let local = self.listen(addr)?;
        self.cx.listeners.set_tls(config);
        Ok(local)
    }

    /// Listens on a Unix-domain socket at `path` as
    /// [`listen_unix`](EventLoop::listen_unix) does, speaking TLS with
    /// `config` as [`listen_tls`](EventLoop::listen_tls) does.
    ///
    /// # Errors
    ///
    /// As [`listen_unix`](EventLoop::listen_unix).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn listen_unix_tls(&mut self, path: impl AsRef<Path>, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        self.listen_unix(path)?;
        self.cx.listeners.set_tls(config);
        Ok(())
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
        let local = listener.local_addr()?;
        self.cx.add_listener(Listener::Tcp(mio::net::TcpListener::from_std(listener)))?;
        Ok(local)
    }
}

impl Ctx {
    /// Registers a listening socket with the loop.
    pub(crate) fn add_listener(&mut self, mut socket: Listener) -> io::Result<()> {
        let slot = self.listeners.sockets.len();
        if slot >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let local = socket.local_addr()?;
        socket.register(self.poll.registry(), listener_token(slot))?;
        self.listeners.push(socket);
        info!("listening on {local}");
        Ok(())
    }

    /// Registers this loop's descriptor of a listening socket that several
    /// loops of a group poll, with the count of those loops that are full.
    pub(crate) fn add_shared_listener(&mut self, socket: Listener, room: Arc<SharedRoom>) -> io::Result<()> {
        self.add_listener(socket)?;
        *self.listeners.shared.last_mut().expect("a listener was just added") = Some(room);
        Ok(())
    }

    /// A slot freed up: a shared listener left to siblings while this
    /// loop was full is tried again, since no new edge will announce what
    /// waits in its backlog.
    pub(crate) fn room_again(&mut self) {
        let listeners = &mut self.listeners;
        if listeners.counted_full && listeners.sockets.iter().any(Option::is_some) {
            listeners.counted_full = false;
            for room in listeners.shared.iter().flatten() {
                room.full.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if std::mem::take(&mut listeners.left_to_siblings) {
            for slot in 0..listeners.sockets.len() {
                if !listeners.on_ready_list[slot] {
                    listeners.on_ready_list[slot] = true;
                    self.ready.push_back(crate::ctx::Ready::Listener(slot));
                }
            }
        }
    }
}

/// The loops of a group that poll one listening socket: how many there
/// are, and how many are full (at `max_connections`, or stopping). A full
/// loop leaves the socket's backlog to a sibling with room; only when every
/// loop is full does one accept, to refuse.
#[derive(Debug)]
pub(crate) struct SharedRoom {
    loops: usize,
    full: AtomicUsize,
}

impl SharedRoom {
    pub(crate) fn new(loops: usize) -> SharedRoom {
        SharedRoom { loops, full: AtomicUsize::new(0) }
    }
}

/// The loop's listeners, indexed by the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    /// `None` once closed (on stop).
    pub(crate) sockets: Vec<Option<Listener>>,
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
    /// Per listener: the loops sharing it, if it is shared.
    shared: Vec<Option<Arc<SharedRoom>>>,
    /// This loop counts itself full in every shared listener's room.
    counted_full: bool,
    /// A shared listener's connections were left to siblings while this
    /// loop was full: accept again once a slot frees.
    left_to_siblings: bool,
    /// Per listener: the TLS config it speaks with, if it speaks TLS.
    #[cfg(feature = "tls")]
    pub(crate) tls: Vec<Option<Arc<rustls::ServerConfig>>>,
    /// Per listener of a group's acceptor (whose connections this loop
    /// adopts): the TLS config it speaks with, if it speaks TLS.
    #[cfg(feature = "tls")]
    pub(crate) adopted_tls: Vec<Option<Arc<rustls::ServerConfig>>>,
}

/// An episode of running out of file descriptors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exhaustion {
    pub(crate) since: Instant,
    pub(crate) failed_accepts: u64,
}

impl Listeners {
    /// Adds a listener, returning its slot.
    pub(crate) fn push(&mut self, socket: Listener) -> usize {
        self.sockets.push(Some(socket));
        self.on_ready_list.push(false);
        self.accepted_in_turn.push((0, 0));
        self.shared.push(None);
        #[cfg(feature = "tls")]
        self.tls.push(None);
        self.sockets.len() - 1
    }

    /// This loop is full: whether listener `slot`'s connections should be
    /// left to a sibling loop with room (only a shared listener's can be,
    /// and only while some loop sharing it is not full; the last loop to
    /// fill accepts, to refuse).
    pub(crate) fn leave_to_siblings(&mut self, slot: usize) -> bool {
        self.count_full();
        let Some(room) = &self.shared[slot] else { return false };
        let leave = room.full.load(Ordering::SeqCst) < room.loops;
        self.left_to_siblings |= leave;
        leave
    }

    /// Counts this loop full in every shared listener's room, once (until
    /// a slot frees: `Ctx::room_again`).
    pub(crate) fn count_full(&mut self) {
        if !self.counted_full {
            self.counted_full = true;
            for room in self.shared.iter().flatten() {
                room.full.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The last listener added speaks TLS with `config`.
    #[cfg(feature = "tls")]
    pub(crate) fn set_tls(&mut self, config: Arc<rustls::ServerConfig>) {
        if let Some(last) = self.tls.last_mut() {
            *last = Some(config);
        }
    }

    /// The group acceptor's listener `index` speaks TLS with `config`.
    #[cfg(feature = "tls")]
    pub(crate) fn set_adopted_tls(&mut self, index: usize, config: Arc<rustls::ServerConfig>) {
        if self.adopted_tls.len() <= index {
            self.adopted_tls.resize(index + 1, None);
        }
        self.adopted_tls[index] = Some(config);
    }

    /// The TLS config listener `slot` speaks with, if it speaks TLS: one of
    /// this loop's listeners, or with `adopted`, of the group's acceptor.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_config(&self, slot: usize, adopted: bool) -> Option<Arc<rustls::ServerConfig>> {
        let table = if adopted { &self.adopted_tls } else { &self.tls };
        table.get(slot).cloned().flatten()
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
