//! `Ctx`: what a callback may do, and the loop state it acts on.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::debug;
use mio::{Interest, Poll};
use slab::Slab;

use crate::conn::{lookup, Closing, Conn, Opened, Phase};
use crate::listener::Listeners;
use crate::timer::{deadline_after, TimerKind, Timers};
use crate::{CloseReason, Config, ConnId, Origin, Stats, TimerId};

/// Something with more work than one turn allowed: served again next turn,
/// with a zero poll timeout so it waits on nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// A connection still readable after its read budget.
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
pub struct Ctx {
    pub(crate) poll: Poll,
    pub(crate) conns: Slab<Conn>,
    pub(crate) next_generation: u32,
    pub(crate) listeners: Listeners,
    pub(crate) timers: Timers,
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) now: Instant,
    pub(crate) ready: VecDeque<Ready>,
    /// Connections asked to close: checked after every dispatch.
    pub(crate) closing: Vec<ConnId>,
    /// Connections that fell below the low watermark: `on_drain` is due.
    pub(crate) drained: Vec<ConnId>,
    pub(crate) run_state: RunState,
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
            conns: Slab::new(),
            next_generation: 0,
            listeners: Listeners::default(),
            timers: Timers::default(),
            config,
            stats: Stats::default(),
            now: Instant::now(),
            ready: VecDeque::new(),
            closing: Vec::new(),
            drained: Vec::new(),
            run_state: RunState::Running,
        })
    }

    /// Sends `data` on connection `id`. Writes to the socket at once when
    /// nothing is queued; whatever the socket does not take is queued and
    /// flushed on the next writable edge. Returns `false`, sending nothing,
    /// if `id` is stale or closing or its write side is shut.
    ///
    /// Past [`Config::high_watermark`] of queued output, reading from `id`
    /// pauses until it drains below [`Config::low_watermark`]; past
    /// [`Config::max_output_bytes`] the connection closes with
    /// [`CloseReason::OutputLimit`] and this returns `false`. A socket error
    /// closes the connection (its reason says which) and returns `false`.
    ///
    /// On a connection still connecting, output is queued and goes out once
    /// it opens.
    pub fn send(&mut self, id: ConnId, data: &[u8]) -> bool {
        let now = self.now;
        let Some(conn) = lookup(&mut self.conns, id) else { return false };
        if !conn.accepts_output() {
            return false;
        }
        let mut rest = data;
        if conn.output.is_empty() && !rest.is_empty() {
            match conn.write_some(rest, &mut self.stats, now) {
                Ok(n) => rest = &rest[n..],
                Err(e) => {
                    self.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
                    return false;
                }
            }
        }
        if rest.is_empty() {
            return true;
        }
        self.queue_output(id, rest)
    }

    /// Appends to `id`'s queue, applying the limits. `id` is known live.
    fn queue_output(&mut self, id: ConnId, data: &[u8]) -> bool {
        let config = &self.config;
        let conn = &mut self.conns[id.index() as usize];
        let queued = conn.output.len() + data.len();
        if queued > conn.max_output_bytes {
            debug!("{id}: {queued} bytes of output queued, over max_output_bytes");
            self.close_with(id, Closing::Now(CloseReason::OutputLimit));
            return false;
        }
        if conn.output.is_empty() {
            conn.last_write_progress = self.now;
        }
        conn.output.extend(data);
        if queued > config.high_watermark {
            conn.paused_by_output = true;
        }
        if conn.write_timer.is_none() {
            if let Some(timeout) = config.write_timeout {
                conn.write_timer = Some(self.timers.insert(deadline_after(self.now, timeout), TimerKind::Write(id)));
            }
        }
        true
    }

    /// Closes `id` once its queued output is flushed, with
    /// [`CloseReason::App`]. Reading stops at once; `send` to it returns
    /// `false` from now on. Returns `false` if `id` is stale or already
    /// closing.
    ///
    /// A connect still pending is abandoned instead, output and all: it
    /// gets [`Handler::on_connect_failed`](crate::Handler::on_connect_failed)
    /// with `ConnectionAborted` (as [`abort`](Ctx::abort) does), never
    /// `on_open`.
    pub fn close(&mut self, id: ConnId) -> bool {
        match self.live_conn(id) {
            Some(conn) if conn.closing == Closing::No => {
                self.close_with(id, Closing::AfterFlush(CloseReason::App));
                true
            }
            _ => false,
        }
    }

    /// Closes `id` at the end of this dispatch, dropping queued output,
    /// with [`CloseReason::App`]. Returns `false` if `id` is stale.
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
        let Some(conn) = self.live_conn(id) else { return false };
        if conn.closing != Closing::No {
            return false;
        }
        conn.shutdown_pending = true;
        if conn.output.is_empty() && conn.phase == Phase::Open {
            self.finish_shutdown_write(id);
        }
        true
    }

    /// Sends the FIN a `shutdown_write` asked for, now that output is flushed.
    pub(crate) fn finish_shutdown_write(&mut self, id: ConnId) {
        let conn = &mut self.conns[id.index() as usize];
        conn.shutdown_pending = false;
        if conn.write_closed {
            return;
        }
        conn.write_closed = true;
        match conn.stream.shutdown(std::net::Shutdown::Write) {
            Ok(()) if conn.read_closed => self.close_with(id, Closing::Now(CloseReason::PeerClosed)),
            Ok(()) => {}
            Err(e) => self.close_with(id, Closing::Now(CloseReason::from_io_error(&e))),
        }
    }

    /// Follows up on output leaving `id`'s queue: the FIN or close that
    /// waited for an empty queue, and resuming a connection paused at the
    /// high watermark once it falls to the low one.
    pub(crate) fn after_output_progress(&mut self, id: ConnId) {
        let low_watermark = self.config.low_watermark;
        let conn = &mut self.conns[id.index() as usize];
        if conn.paused_by_output && conn.output.len() <= low_watermark {
            conn.paused_by_output = false;
            self.drained.push(id);
            self.schedule_read(id);
        }
        let conn = &mut self.conns[id.index() as usize];
        if conn.output.is_empty() {
            if conn.shutdown_pending {
                self.finish_shutdown_write(id);
            }
            if matches!(self.conns[id.index() as usize].closing, Closing::AfterFlush(_)) {
                self.closing.push(id);
            }
        }
    }

    /// Stops reading from `id` until [`resume_read`](Ctx::resume_read).
    /// Input already in the kernel stays there (and the peer's sends back
    /// up once its window fills). Returns `false` if `id` is stale.
    pub fn pause_read(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.live_conn(id) else { return false };
        conn.paused_by_app = true;
        true
    }

    /// Resumes reading from `id` after [`pause_read`](Ctx::pause_read).
    /// Returns `false` if `id` is stale.
    pub fn resume_read(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.live_conn(id) else { return false };
        conn.paused_by_app = false;
        self.schedule_read(id);
        true
    }

    /// Puts `id` on the ready list if it has input waiting that no edge
    /// will announce again.
    pub(crate) fn schedule_read(&mut self, id: ConnId) {
        let conn = &mut self.conns[id.index() as usize];
        if conn.readable && conn.wants_read() && !conn.on_ready_list {
            conn.on_ready_list = true;
            self.ready.push_back(Ready::Conn(id));
        }
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
    /// What the kernel refuses at once (for example `AddrNotAvailable`, or
    /// `EMFILE` as `Other`), `ErrorKind::Other` at
    /// [`Config::max_connections`], and `ErrorKind::NotConnected` while the
    /// loop is stopping. These never reach `on_connect_failed`.
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        if self.run_state != RunState::Running {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the event loop is stopping"));
        }
        self.check_capacity()?;
        let stream = mio::net::TcpStream::connect(addr)?;
        let id = self.insert_conn(stream, Phase::Connecting, Origin::Outbound, addr)?;
        let deadline = deadline_after(self.now, self.config.connect_timeout);
        self.conns[id.index() as usize].deadline_timer = Some(self.timers.insert(deadline, TimerKind::Connect(id)));
        debug!("{id}: connecting to {addr}");
        Ok(id)
    }

    pub(crate) fn check_capacity(&self) -> io::Result<()> {
        if self.conns.len() >= self.config.max_connections {
            return Err(io::Error::other("max_connections reached"));
        }
        Ok(())
    }

    /// Registers `stream` once, for both directions, edge-triggered, and
    /// gives it a slot and a fresh generation.
    pub(crate) fn insert_conn(
        &mut self,
        mut stream: mio::net::TcpStream,
        phase: Phase,
        origin: Origin,
        peer: SocketAddr,
    ) -> io::Result<ConnId> {
        let entry = self.conns.vacant_entry();
        let id = ConnId::from_parts(entry.key() as u32, self.next_generation);
        self.poll.registry().register(&mut stream, id.to_token(), Interest::READABLE | Interest::WRITABLE)?;
        self.next_generation = self.next_generation.wrapping_add(1);
        let opened = Opened {
            origin,
            peer,
            now: self.now,
            max_input_bytes: self.config.max_input_bytes,
            max_output_bytes: self.config.max_output_bytes,
        };
        entry.insert(Conn::new(stream, id.generation(), phase, opened));
        Ok(id)
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
        let deadline = deadline_after(self.now, after);
        if self.live_conn(id)?.phase != Phase::Open {
            return None;
        }
        let timer = self.timers.insert(deadline, TimerKind::App { key, owner: Some(id) });
        self.conns[id.index() as usize].app_timers.push(timer);
        Some(timer)
    }

    /// Cancels a timer. Returns `false` if it already fired or was
    /// cancelled (including by its connection closing).
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        match self.timers.cancel(timer) {
            Some(TimerKind::App { owner: Some(owner), .. }) => {
                self.forget_conn_timer(owner, timer);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Drops `timer` from its connection's list of timers.
    pub(crate) fn forget_conn_timer(&mut self, owner: ConnId, timer: TimerId) {
        if let Some(conn) = self.live_conn(owner) {
            conn.app_timers.retain(|t| *t != timer);
        }
    }

    /// The address of `id`'s peer (the address connected to, for an
    /// outbound connection), or `None` if `id` is stale. Known from accept
    /// or connect, so it costs no syscall and survives a reset.
    pub fn peer_addr(&mut self, id: ConnId) -> Option<SocketAddr> {
        Some(self.live_conn(id)?.peer)
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
        self.conns.get(id.index() as usize).is_some_and(|conn| {
            conn.generation == id.generation()
                && conn.accepts_output()
                && conn.output.len() <= self.config.high_watermark
        })
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

    /// Whether `id` is a connection that is open (or connecting) and not
    /// yet asked to close.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.conns.get(id.index() as usize).is_some_and(|c| c.generation == id.generation() && c.closing == Closing::No)
    }

    /// Bytes queued for `id` that the socket has not taken yet, or `None` if
    /// `id` is stale.
    pub fn queued_output(&self, id: ConnId) -> Option<usize> {
        let conn = self.conns.get(id.index() as usize)?;
        (conn.generation == id.generation()).then(|| conn.output.len())
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

    /// Connections open or connecting.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The configuration the loop runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The connection `id` names, if it is still in its slot.
    pub(crate) fn live_conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        lookup(&mut self.conns, id)
    }

    /// Marks `id` (known live) to close, keeping the first reason given,
    /// except that closing now overrides closing after a flush.
    pub(crate) fn close_with(&mut self, id: ConnId, how: Closing) {
        let conn = &mut self.conns[id.index() as usize];
        let upgrade = matches!((conn.closing, how), (Closing::No, _) | (Closing::AfterFlush(_), Closing::Now(_)));
        if upgrade {
            conn.closing = how;
            self.closing.push(id);
        }
    }
}
