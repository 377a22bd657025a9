//! A connection's life: entering the table, opening (`on_open`),
//! completing or failing an outbound connect, and closing (`on_close`,
//! exactly once): gracefully, with the FIN after every byte and a linger,
//! or abortively, with a reset.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use log::{debug, info};
use mio::event::Event;
use mio::Interest;

use crate::conn::{is_abortive, Closing, Conn, Opened, Phase};
use crate::ctx::RunState;
use crate::flags::Flags;
use crate::panic_guard::guard;
use crate::timer::{deadline_after, TimerKind};
use crate::{CloseReason, ConnId, Ctx, EventLoop, Handler, Origin};

impl Ctx {
    /// Registers `stream` once, for both directions and urgent data,
    /// edge-triggered, and gives it a slot.
    pub(crate) fn insert_conn(
        &mut self,
        mut stream: mio::net::TcpStream,
        phase: Phase,
        origin: Origin,
        peer: SocketAddr,
    ) -> io::Result<ConnId> {
        let id = self.conns.vacant_id();
        let interest = Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
        self.poll.registry().register(&mut stream, id.to_token(), interest)?;
        let opened = Opened {
            origin,
            peer,
            now: self.now,
            max_input_bytes: self.config.max_input_bytes,
            max_output_bytes: self.config.max_output_bytes,
        };
        Ok(self.conns.insert(Conn::new(stream, id.generation(), phase, opened)))
    }

    /// Whether another connection fits under `max_connections`.
    ///
    /// # Errors
    ///
    /// `ResourceBusy` at the limit.
    pub(crate) fn check_capacity(&self) -> io::Result<()> {
        if self.conns.len() >= self.config.max_connections {
            return Err(io::Error::new(io::ErrorKind::ResourceBusy, "max_connections reached"));
        }
        Ok(())
    }

    /// Marks `id` (known live) to close, keeping the first reason given,
    /// except that closing now overrides closing after a flush.
    pub(crate) fn close_with(&mut self, id: ConnId, how: Closing) {
        let conn = &mut self.conns[id];
        let upgrade = matches!((conn.closing(), how), (Closing::No, _) | (Closing::AfterFlush(_), Closing::Now(_)));
        if upgrade {
            conn.set_closing(how);
            self.closing.push(id);
        }
    }
}

impl<H: Handler> EventLoop<H> {
    /// A connection is open: start its idle clock and ask the application
    /// for its state. A panic in `on_open` drops the connection without
    /// `on_close` (it never opened, from the application's side).
    pub(crate) fn open(&mut self, id: ConnId, origin: Origin) {
        let index = id.index() as usize;
        self.cx.stats.open += 1;
        if let Some(idle) = self.cx.config.idle_timeout {
            let timer = self.cx.timers.insert(deadline_after(self.cx.now, idle), TimerKind::Idle(id));
            self.cx.conns[id].deadline_timer = Some(timer);
        }
        match origin {
            Origin::Inbound { listener } => {
                debug!("connection {id} from {} accepted on listener {listener}", self.cx.conns[id].peer)
            }
            Origin::Outbound => debug!("connection {id} to {} open", self.cx.conns[id].peer),
        }
        let EventLoop { cx, handler, .. } = self;
        let state = guard(cx.config.panic_policy, "on_open", || handler.on_open(cx, id, origin));
        match state {
            Some(state) => {
                if self.states.len() <= index {
                    self.states.resize_with(index + 1, || None);
                }
                self.states[index] = Some(state);
            }
            None => {
                let conn = self.remove_conn(id);
                reset_on_drop(&conn);
                self.cx.stats.count_close(CloseReason::Panic);
            }
        }
    }

    /// The outbound connect of `id` signalled: decide as mio documents
    /// (`take_error`, then `peer_addr`) whether it opened, failed, or the
    /// event was spurious.
    pub(crate) fn finish_connect(&mut self, id: ConnId, event: &Event) {
        let conn = &mut self.cx.conns[id];
        let outcome = match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match conn.stream.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected && !event.is_error() => return,
                Err(e) => Err(e),
            },
        };
        if let Err(e) = outcome {
            self.fail_connect(id, e);
            return;
        }
        if let Some(timer) = conn.deadline_timer.take() {
            self.cx.timers.cancel(timer);
        }
        conn.set_phase(Phase::Open);
        conn.flags.insert(Flags::WRITABLE);
        // The peer may already have sent data and FIN: this edge is the only
        // one announcing them, so read on to the end as `conn_event` does.
        let peer_closed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        conn.flags.set(Flags::READABLE, event.is_readable() || peer_closed);
        conn.flags.set(Flags::READ_UNTIL_WOULD_BLOCK, peer_closed);
        if self.cx.config.tcp_nodelay {
            if let Err(e) = conn.stream.set_nodelay(true) {
                debug!("TCP_NODELAY on a connected socket: {e}");
            }
        }
        self.cx.stats.connected += 1;
        self.open(id, Origin::Outbound);
        self.after_dispatch();
        if self.cx.live_conn(id).is_some() {
            // Output queued while connecting goes out now.
            self.cx.write_out(id);
        }
        // A `shutdown_write` asked for while connecting with nothing queued
        // has no flush to follow up on it: send the FIN now.
        if self.cx.live_conn(id).is_some_and(|c| c.flags.any(Flags::SHUTDOWN_PENDING) && c.output.is_empty()) {
            self.cx.finish_shutdown_write(id);
        }
        self.read_from(id);
    }

    /// An outbound connect failed: the connection never opened, so the
    /// application hears of it through `on_connect_failed`, not `on_close`.
    pub(crate) fn fail_connect(&mut self, id: ConnId, error: io::Error) {
        debug!("connection {id} to {} failed: {error}", self.cx.conns[id].peer);
        drop(self.remove_conn(id));
        self.cx.stats.connect_failed += 1;
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_connect_failed", || handler.on_connect_failed(cx, id, error));
    }

    /// Closes `id` if it was asked to and may go now: at once, or once its
    /// output is flushed. One still flushing is asked again by the flush.
    ///
    /// A graceful close (after a flush) sends FIN and, unless the peer has
    /// already closed its side, lingers; a close that drops output or is
    /// abortive by its reason resets the connection, so the peer cannot
    /// take a truncated stream for a complete one.
    pub(crate) fn reap(&mut self, id: ConnId) {
        let may_linger = self.cx.config.linger_timeout > Duration::ZERO;
        let draining = self.cx.run_state == RunState::Draining;
        let Some(conn) = self.cx.live_conn(id) else { return };
        let (reason, graceful) = match conn.closing() {
            Closing::Now(reason) => (reason, !is_abortive(reason) && conn.output.is_empty()),
            Closing::AfterFlush(reason) if conn.output.is_empty() || conn.phase() == Phase::Connecting => {
                (reason, true)
            }
            _ => return,
        };
        if conn.phase() == Phase::Connecting {
            // Every connect ends in exactly one of `on_open` and
            // `on_connect_failed`, even one the application gave up on.
            let kind = match reason {
                CloseReason::IdleTimeout | CloseReason::WriteTimeout => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::ConnectionAborted,
            };
            self.fail_connect(id, io::Error::new(kind, format!("closed before the connect completed ({reason})")));
            return;
        }
        // While the loop stops, linger only where the peer shows input not
        // read yet (nginx's `lingering_close on` rule), so that idle peers
        // do not hold the exit for the linger time; an application's close
        // always lingers.
        let peer_may_send = !draining || conn.flags.any(Flags::READABLE) || !conn.input.is_empty();
        let linger = graceful
            && may_linger
            && peer_may_send
            && matches!(conn.closing(), Closing::AfterFlush(_))
            && !conn.flags.any(Flags::READ_CLOSED);
        let peer = conn.peer;
        self.cx.stats.count_close(reason);
        match reason {
            CloseReason::InputLimit | CloseReason::OutputLimit | CloseReason::Panic => {
                info!("connection {id} with {peer} closed: {reason}")
            }
            _ => debug!("connection {id} with {peer} closed: {reason}"),
        }
        if linger {
            self.begin_linger(id);
        } else {
            let conn = self.remove_conn(id);
            if !graceful {
                reset_on_drop(&conn);
            }
        }
        let state = self.states[id.index() as usize].take().expect("an open connection has application state");
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_close", || handler.on_close(cx, id, state, reason));
        if linger {
            self.linger_read(id);
        }
    }

    /// Frees `id`'s slot and cancels its timers. Dropping the returned
    /// socket closes it, which also removes it from epoll.
    pub(crate) fn remove_conn(&mut self, id: ConnId) -> Conn {
        let mut conn = self.cx.conns.remove(id);
        conn.cancel_timers(&mut self.cx.timers);
        self.cx.listeners.rejecting_at_limit = false;
        if self.cx.config.max_connections_per_ip.is_some() && matches!(conn.origin, Origin::Inbound { .. }) {
            self.cx.listeners.release_ip(conn.peer.ip());
        }
        conn
    }

    /// Begins closing `id` for shutdown: a pending connect fails, an open
    /// connection flushes and closes with [`CloseReason::Shutdown`].
    pub(crate) fn shut_down_conn(&mut self, id: ConnId) {
        let Some(conn) = self.cx.live_conn(id) else { return };
        if conn.phase() == Phase::Connecting {
            let error = io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped");
            self.fail_connect(id, error);
        } else {
            self.cx.close_with(id, Closing::AfterFlush(CloseReason::Shutdown));
        }
    }

    /// Closes every connection now, with `reason` for those not already
    /// closing for another; lingering sockets are closed without waiting.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        for id in self.cx.conns.ids() {
            let Some(conn) = self.cx.conns.get_mut(id) else { continue };
            match conn.phase() {
                Phase::Lingering => {
                    drop(self.remove_conn(id));
                    continue;
                }
                Phase::Connecting => {
                    self.fail_connect(id, io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped"));
                    continue;
                }
                Phase::Open => {}
            }
            let how = match conn.closing() {
                Closing::Now(earlier) | Closing::AfterFlush(earlier) if earlier != CloseReason::Shutdown => {
                    Closing::Now(earlier)
                }
                _ => Closing::Now(reason),
            };
            conn.set_closing(Closing::No);
            self.cx.close_with(id, how);
        }
        self.after_dispatch();
    }
}

/// Makes closing `conn`'s socket send RST (`SO_LINGER` 0) instead of FIN.
fn reset_on_drop(conn: &Conn) {
    if let Err(e) = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO)) {
        debug!("SO_LINGER 0 on a closing socket: {e}");
    }
}
