//! `Ctx`: what a callback may do. The loop state it acts on is defined
//! here, in one place; the machinery behind each method lives in the step
//! of the loop that owns it (`event_loop/output.rs` for `send`,
//! `event_loop/close.rs` for `close`, `event_loop/connect.rs` for
//! `connect`, `event_loop/deadlines.rs` for connection timers).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use log::debug;
use mio::Poll;

use crate::conn::{Closing, Conn, Conns, Flags, Phase, SpareOutput};
use crate::event_loop::{deadline_after, Listeners, Offer, TimerKind, Timers};
use crate::transport::{PeerAddr, PeerCredentials};
use crate::{CloseReason, Config, ConnId, Stats, TimerId};

/// Something with more work than one turn allowed: served next turn, with
/// a zero poll timeout so it waits on nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// A connection with input left: readable past its read budget, or
    /// buffered input to offer again.
    Conn(ConnId),
    /// A listener that may have more connections to accept.
    Listener(usize),
    /// Messages from other threads beyond one turn's share.
    Messages,
}

/// Whether the loop is serving, draining for shutdown, or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Running,
    /// Stop was asked for; it begins at the end of this turn.
    StopRequested,
    /// Listeners closed; connections flushing until they are all gone or
    /// the shutdown deadline passes.
    Draining,
}

/// The loop as a callback sees it: every [`Handler`](crate::Handler) callback
/// gets `&mut Ctx` and may act through it on any connection, its own or
/// another's.
///
/// Every method that takes a [`ConnId`] checks it first: an id whose
/// connection has closed (even if its slot was reused since) does nothing
/// and the method says so by returning `false` or `None`.
///
/// Closing is deferred: a connection closed from a callback stays in place
/// until that callback returns, then closes; its `on_close` runs after.
///
/// Output is gathered: [`send`](Ctx::send) appends to the connection's
/// queue, and the loop writes each connection's queue once per turn, just
/// before it polls again (Redis's `handleClientsWithPendingWrites`). A
/// handler answering sixteen pipelined requests with sixteen sends makes one
/// `write(2)`. An echo of the input `on_data` is looking at is written from
/// that input, without a copy (see [`send`](Ctx::send)).
pub struct Ctx {
    pub(crate) poll: Poll,
    pub(crate) conns: Conns,
    pub(crate) listeners: Listeners,
    pub(crate) timers: Timers,
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) now: Instant,
    /// Counts turns, so per-turn budgets know when they start over.
    pub(crate) turn: u64,
    /// Work left for the next turn.
    pub(crate) ready: VecDeque<Ready>,
    /// Connections with output gathered since the last flush.
    pub(crate) flush_queue: Vec<ConnId>,
    /// Emptied output buffers, reused instead of allocating anew.
    pub(crate) spare_output: SpareOutput,
    /// The input `on_data` is looking at, for output sent from it.
    pub(crate) offer: Offer,
    /// Connections asked to close: checked after every dispatch.
    pub(crate) closing: Vec<ConnId>,
    /// Connections that fell below the low watermark: `on_drain` is due.
    pub(crate) drained: Vec<ConnId>,
    pub(crate) run_state: RunState,
    /// The graceful-shutdown deadline, while one is pending.
    pub(crate) shutdown_timer: Option<TimerId>,
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("connections", &self.conns.len())
            .field("timers", &self.timers.len())
            .field("run_state", &self.run_state)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub(crate) fn new(config: Config) -> io::Result<Ctx> {
        Ok(Ctx {
            poll: Poll::new()?,
            conns: Conns::default(),
            listeners: Listeners::default(),
            timers: Timers::default(),
            config,
            stats: Stats::default(),
            now: Instant::now(),
            turn: 0,
            ready: VecDeque::new(),
            flush_queue: Vec::new(),
            spare_output: SpareOutput::default(),
            offer: Offer::default(),
            closing: Vec::new(),
            drained: Vec::new(),
            run_state: RunState::Running,
            shutdown_timer: None,
        })
    }

    /// Sends `data` on connection `id`: appends it to the connection's
    /// output, which the loop writes once per turn, before it polls again,
    /// whatever the number of sends. Returns `false`, sending nothing, if
    /// `id` is stale or closing or its write side is shut.
    ///
    /// Past [`Config::high_watermark`] of queued output, the loop stops
    /// reading from `id` (and offering it buffered input) until the output
    /// drains below [`Config::low_watermark`]; see
    /// [`is_writable`](Ctx::is_writable). Past the connection's
    /// [`max_output_bytes`](Ctx::set_max_output_bytes) the connection closes
    /// with [`CloseReason::OutputLimit`] and this returns `false`. A socket
    /// error found when writing closes the connection with its reason.
    ///
    /// On a connection still connecting, output is queued and goes out once
    /// it opens.
    ///
    /// `data` that is part of the input [`Handler::on_data`](crate::Handler::on_data)
    /// is being offered for `id`, sent as `id`'s first output of the turn,
    /// is not copied: it is written from the input as soon as `on_data`
    /// returns, followed in the same write by anything sent after it (only
    /// what the socket does not take is copied into the queue). That write
    /// is `id`'s one write of the turn, so output for `id` later in the
    /// turn goes out the next turn.
    #[inline]
    pub fn send(&mut self, id: ConnId, data: &[u8]) -> bool {
        let Some(conn) = self.conns.get(id) else { return false };
        if !conn.accepts_output() {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        // Part of the input `id` is being offered, as its first output of
        // the turn, is written from there when `on_data` returns: no copy.
        let first_of_turn = conn.output.is_empty() && conn.written_turn != self.turn;
        if first_of_turn && data.len() <= conn.max_output_bytes && self.offer.try_note(id, data) {
            return true;
        }
        self.queue_output(id, data)
    }

    /// Whether output sent to `id` now would stay at or below
    /// [`Config::high_watermark`]: `false` once `id`'s queued output is above
    /// it (or `id` is stale, closing, or its write side is shut).
    ///
    /// Netty's `Channel.isWritable()`. A handler answering pipelined
    /// requests checks it between replies and, once it is `false`, returns
    /// from [`Handler::on_data`](crate::Handler::on_data) with what it has
    /// consumed so far: the loop reads no more from `id` and offers the rest
    /// again once the output drains below [`Config::low_watermark`]. So a
    /// client pipelining requests for far more than
    /// [`Config::max_output_bytes`] is served in full, with the memory for
    /// it bounded near the high watermark.
    pub fn is_writable(&self, id: ConnId) -> bool {
        self.conns
            .get(id)
            .is_some_and(|conn| conn.accepts_output() && self.offer.queued(id, conn) <= self.config.high_watermark)
    }

    /// Closes `id` once its queued output is flushed, with
    /// [`CloseReason::App`]: the peer gets every byte sent, then end of
    /// file (the loop lingers, reading and dropping the peer's input until
    /// its end of file or [`Config::linger_timeout`], so that unread input
    /// does not make the kernel reset the connection). Reading stops at
    /// once; `send` to it returns `false` from now on. Returns `false` if
    /// `id` is stale or already closing.
    ///
    /// A connect still pending is abandoned instead, output and all: it
    /// gets [`Handler::on_connect_failed`](crate::Handler::on_connect_failed)
    /// with `ConnectionAborted` (as [`abort`](Ctx::abort) does), never
    /// `on_open`.
    pub fn close(&mut self, id: ConnId) -> bool {
        match self.live_conn(id) {
            Some(conn) if conn.closing() == Closing::No => {
                self.close_with(id, Closing::AfterFlush(CloseReason::App));
                true
            }
            _ => false,
        }
    }

    /// Closes `id` at the end of this dispatch, dropping queued output,
    /// with [`CloseReason::App`]. On TCP the peer sees a reset (RST), not
    /// an end of file from this close, so it cannot take what it got for a
    /// complete stream (a Unix-domain socket has no reset: there the peer
    /// reads an end of file unless input was left unread here). An end of
    /// file already sent cannot be taken back: after
    /// [`shutdown_write`](Ctx::shutdown_write) has sent its FIN, the peer
    /// may have read that end of file before the reset arrives.
    /// Returns `false` if `id` is stale.
    pub fn abort(&mut self, id: ConnId) -> bool {
        if self.live_conn(id).is_none() {
            return false;
        }
        self.close_with(id, Closing::Now(CloseReason::App));
        true
    }

    /// Half-closes `id`: once queued output is flushed, sends FIN
    /// (`shutdown(SHUT_WR)`). The peer sees end of file; reading goes on
    /// until the peer closes too. Returns `false` if `id` is stale or
    /// closing.
    pub fn shutdown_write(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.conns.get_mut(id).filter(|conn| conn.is_live()) else { return false };
        if conn.closing() != Closing::No {
            return false;
        }
        conn.flags.insert(Flags::SHUTDOWN_PENDING);
        if conn.phase() == Phase::Open && self.offer.queued(id, conn) == 0 {
            self.finish_shutdown_write(id);
        }
        true
    }

    /// Stops reading from `id` until [`resume_read`](Ctx::resume_read):
    /// neither new input nor input already buffered reaches `on_data`.
    /// Input in the kernel stays there (and the peer's sends back up once
    /// its window fills). Time paused does not count toward
    /// [`Config::idle_timeout`]. Returns `false` if `id` is stale.
    pub fn pause_read(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.live_conn(id) else { return false };
        conn.flags.insert(Flags::PAUSED_BY_APP);
        true
    }

    /// Resumes reading from `id` after [`pause_read`](Ctx::pause_read):
    /// input already buffered is offered to `on_data` again (even if it
    /// consumed none of it last time), then the socket is read. Returns
    /// `false` if `id` is stale.
    pub fn resume_read(&mut self, id: ConnId) -> bool {
        let now = self.now;
        let Some(conn) = self.live_conn(id) else { return false };
        if conn.flags.any(Flags::PAUSED_BY_APP) {
            conn.last_input = now;
        }
        conn.flags.remove(Flags::PAUSED_BY_APP.union(Flags::INPUT_STALLED));
        self.schedule_read(id);
        true
    }

    /// Starts a nonblocking connect to `addr`. The returned id is
    /// connecting: [`Handler::on_open`](crate::Handler::on_open) fires with
    /// [`Origin::Outbound`](crate::Origin::Outbound) once it completes, or
    /// [`Handler::on_connect_failed`](crate::Handler::on_connect_failed) with
    /// the cause (`ConnectionRefused`, `TimedOut` after
    /// [`Config::connect_timeout`], ...).
    ///
    /// # Errors
    ///
    /// These never reach `on_connect_failed`:
    /// - `ErrorKind::ResourceBusy` when [`Config::max_connections`] are open;
    /// - `ErrorKind::ConnectionAborted` while the loop is stopping;
    /// - what the kernel refuses at once (`AddrNotAvailable`, or EMFILE,
    ///   whose kind is uncategorized: match its `raw_os_error()`, 24).
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        self.start_connect_tcp(addr)
    }

    /// Starts a nonblocking connect to the Unix-domain socket at `path`,
    /// as [`connect`](Ctx::connect) does over TCP: `on_open` once it
    /// completes, with [`Ctx::peer_addr`] giving
    /// [`PeerAddr::Unix`](crate::PeerAddr::Unix) with the path, or
    /// `on_connect_failed` with the cause.
    ///
    /// # Errors
    ///
    /// As [`connect`](Ctx::connect), and what the kernel answers at once
    /// for a Unix-domain connect: `NotFound` (no socket file),
    /// `ConnectionRefused` (nobody listens on it), `PermissionDenied`,
    /// `WouldBlock` (the listener's backlog is full).
    pub fn connect_unix(&mut self, path: impl AsRef<Path>) -> io::Result<ConnId> {
        self.start_connect_unix(path.as_ref())
    }

    /// Starts a TLS connection to `addr` (feature `tls`): a nonblocking
    /// connect as [`connect`](Ctx::connect) makes, then a handshake as a
    /// client with `config`, sending `server_name` as SNI and checking the
    /// server's certificate against it. `on_open` fires with
    /// [`Origin::Outbound`](crate::Origin::Outbound) once the handshake has
    /// completed; a refused connect or a failed handshake reaches
    /// `on_connect_failed` (`InvalidData` carrying rustls's error, or
    /// `TimedOut` after
    /// [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout)).
    /// Output sent before then waits, and goes out once it opens.
    ///
    /// # Errors
    ///
    /// As [`connect`](Ctx::connect); `InvalidInput` if rustls cannot use
    /// `config`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: rustls::pki_types::ServerName<'static>,
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> io::Result<ConnId> {
        self.start_connect_tls(addr, server_name, config)
    }

    /// What the TLS handshake of `id` negotiated (feature `tls`): the
    /// server name the client asked for, the ALPN protocol, the protocol
    /// version and cipher suite, the peer's certificates; and whether its
    /// input ended without `close_notify`
    /// ([`TlsInfo::is_truncated`](crate::tls::TlsInfo::is_truncated)).
    /// `None` if `id` is stale, not open yet, or not a TLS connection.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&self, id: ConnId) -> Option<crate::tls::TlsInfo<'_>> {
        let conn = self.conns.get(id).filter(|conn| conn.is_live() && conn.phase() == Phase::Open)?;
        match &conn.stream {
            crate::transport::Stream::Tls(tls) => Some(tls.session.info()),
            _ => None,
        }
    }

    /// Schedules a timer that fires [`Handler::on_timer`](crate::Handler::on_timer)
    /// with `key` after `after`, whatever happens to connections.
    pub fn set_timer(&mut self, after: Duration, key: u64) -> TimerId {
        self.timers.insert(deadline_after(self.now, after), TimerKind::App { key, owner: None })
    }

    /// Schedules a timer that belongs to connection `id`: it fires
    /// [`Handler::on_conn_timer`](crate::Handler::on_conn_timer) with `key`
    /// after `after`, and is cancelled if the connection closes first.
    /// Returns `None` if `id` is stale or not open yet (still connecting).
    pub fn set_conn_timer(&mut self, id: ConnId, after: Duration, key: u64) -> Option<TimerId> {
        if self.live_conn(id)?.phase() != Phase::Open {
            return None;
        }
        Some(self.insert_conn_timer(id, after, key))
    }

    /// Cancels a timer, in O(log n) whatever the number of timers its
    /// connection has. Returns `false` if it already fired or was cancelled
    /// (including by its connection closing).
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        match self.timers.remove(timer) {
            Some((TimerKind::App { owner: Some(owner), .. }, slot)) => {
                self.forget_conn_timer(owner, slot);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The address of `id`'s peer (the address connected to, for an
    /// outbound connection), or `None` if `id` is stale. Known from accept
    /// or connect, so it costs no syscall and survives a reset.
    pub fn peer_addr(&mut self, id: ConnId) -> Option<PeerAddr> {
        Some(self.live_conn(id)?.peer.clone())
    }

    /// The credentials (process, user and group ids) of `id`'s peer on a
    /// Unix-domain socket, from `SO_PEERCRED`: the kernel vouches for them,
    /// so a local service can decide what a client may do by who it is.
    /// `None` if `id` is stale, is a TCP connection, or the kernel would
    /// not say.
    pub fn peer_credentials(&mut self, id: ConnId) -> Option<PeerCredentials> {
        match self.live_conn(id)?.stream.peer_credentials()? {
            Ok(credentials) => Some(credentials),
            Err(e) => {
                debug!("SO_PEERCRED of connection {id}: {e}");
                None
            }
        }
    }

    /// Whether `id` is a connection that is open (or connecting) and not
    /// yet asked to close.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.conns.get(id).is_some_and(|conn| conn.is_live() && conn.closing() == Closing::No)
    }

    /// Bytes queued for `id` and not yet taken by the socket, or `None` if
    /// `id` is stale.
    pub fn queued_output(&self, id: ConnId) -> Option<usize> {
        self.conns.get(id).filter(|conn| conn.is_live()).map(|conn| self.offer.queued(id, conn))
    }

    /// Sets how much unconsumed input `id` may keep before it closes with
    /// [`CloseReason::InputLimit`] (initially [`Config::max_input_bytes`]):
    /// a protocol that has just read "a 2 MiB value follows" raises it for
    /// that connection only. Returns `false` if `id` is stale.
    pub fn set_max_input_bytes(&mut self, id: ConnId, bytes: usize) -> bool {
        let Some(conn) = self.live_conn(id) else { return false };
        conn.max_input_bytes = bytes;
        true
    }

    /// Sets how much output `id` may have queued before it closes with
    /// [`CloseReason::OutputLimit`] (initially [`Config::max_output_bytes`]).
    /// Returns `false` if `id` is stale.
    pub fn set_max_output_bytes(&mut self, id: ConnId, bytes: usize) -> bool {
        let Some(conn) = self.live_conn(id) else { return false };
        conn.max_output_bytes = bytes;
        true
    }

    /// Asks the loop to stop: at the end of this turn it closes its
    /// listeners, calls [`Handler::on_stop`](crate::Handler::on_stop), gives
    /// queued output up to [`Config::shutdown_timeout`] to flush, closes
    /// every connection with [`CloseReason::Shutdown`], and `run` returns.
    pub fn stop(&mut self) {
        if self.run_state == RunState::Running {
            self.run_state = RunState::StopRequested;
        }
    }

    /// Whether the loop is stopping.
    pub fn is_stopping(&self) -> bool {
        self.run_state != RunState::Running
    }

    /// The loop's counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The time this turn began: the loop reads the clock once per turn,
    /// after `poll` returns, and every callback of the turn sees that
    /// instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Connections open or connecting (and lingering after a graceful
    /// close: they still hold a descriptor).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The configuration the loop runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The connection `id` names, if the application can still see it.
    pub(crate) fn live_conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(id).filter(|conn| conn.is_live())
    }
}
