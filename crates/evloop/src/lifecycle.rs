//! A connection's life: opening (`on_open`), completing or failing an
//! outbound connect, and closing (`on_close`, exactly once).

use std::io;

use log::debug;
use mio::event::Event;

use crate::conn::{Closing, Conn, Phase};
use crate::panic_guard::guard;
use crate::timer::{deadline_after, TimerKind};
use crate::{CloseReason, ConnId, EventLoop, Handler, Origin};

impl<H: Handler> EventLoop<H> {
    /// A connection is open: start its idle clock and ask the application
    /// for its state. A panic in `on_open` drops the connection without
    /// `on_close` (it never opened, from the application's side).
    pub(crate) fn open(&mut self, id: ConnId, origin: Origin) {
        let index = id.index() as usize;
        self.cx.stats.open += 1;
        if let Some(idle) = self.cx.config.idle_timeout {
            let timer = self.cx.timers.insert(deadline_after(self.cx.now, idle), TimerKind::Idle(id));
            self.cx.conns[index].deadline_timer = Some(timer);
        }
        debug!("{id}: open ({origin:?})");
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
                let conn = self.remove_conn(index);
                drop(conn);
                self.cx.stats.count_close(CloseReason::Panic);
            }
        }
    }

    /// The outbound connect of `id` signalled: decide as mio documents
    /// (`take_error`, then `peer_addr`) whether it opened, failed, or the
    /// event was spurious.
    pub(crate) fn finish_connect(&mut self, id: ConnId, event: &Event) {
        let index = id.index() as usize;
        let conn = &mut self.cx.conns[index];
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
        conn.phase = Phase::Open;
        conn.writable = true;
        // The peer may already have sent data and FIN: this edge is the only
        // one announcing them, so read on to the end as `conn_event` does.
        let peer_closed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        conn.readable = event.is_readable() || peer_closed;
        conn.read_to_end = peer_closed;
        if self.cx.config.tcp_nodelay {
            if let Err(e) = conn.stream.set_nodelay(true) {
                debug!("TCP_NODELAY on a connected socket: {e}");
            }
        }
        self.cx.stats.connected += 1;
        self.open(id, Origin::Outbound);
        self.after_dispatch();
        self.on_writable(id);
        // A `shutdown_write` asked for while connecting with nothing queued
        // has no flush to follow up on it: send the FIN now.
        if self.cx.live_conn(id).is_some_and(|c| c.shutdown_pending && c.output.is_empty()) {
            self.cx.finish_shutdown_write(id);
        }
        self.read_from(id);
    }

    /// An outbound connect failed: the connection never opened, so the
    /// application hears of it through `on_connect_failed`, not `on_close`.
    pub(crate) fn fail_connect(&mut self, id: ConnId, error: io::Error) {
        debug!("{id}: connect failed: {error}");
        drop(self.remove_conn(id.index() as usize));
        self.cx.stats.connect_failed += 1;
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_connect_failed", || handler.on_connect_failed(cx, id, error));
    }

    /// Closes `id` if it was asked to and may go now: at once, or once its
    /// output is flushed. One still flushing is asked again by the flush.
    pub(crate) fn reap(&mut self, id: ConnId) {
        let Some(conn) = self.cx.live_conn(id) else { return };
        let reason = match conn.closing {
            Closing::Now(reason) => reason,
            Closing::AfterFlush(reason) if conn.output.is_empty() || conn.phase == Phase::Connecting => reason,
            _ => return,
        };
        if conn.phase == Phase::Connecting {
            // Every connect ends in exactly one of `on_open` and
            // `on_connect_failed`, even one the application gave up on.
            let kind = match reason {
                CloseReason::IdleTimeout | CloseReason::WriteTimeout => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::ConnectionAborted,
            };
            self.fail_connect(id, io::Error::new(kind, format!("closed before the connect completed ({reason})")));
            return;
        }
        let index = id.index() as usize;
        drop(self.remove_conn(index));
        self.cx.stats.count_close(reason);
        debug!("{id}: closed ({reason})");
        let state = self.states[index].take().expect("an open connection has application state");
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_close", || handler.on_close(cx, id, state, reason));
    }

    /// Frees slot `index` and cancels the connection's timers. Dropping the
    /// returned socket closes it, which also removes it from epoll.
    fn remove_conn(&mut self, index: usize) -> Conn {
        let mut conn = self.cx.conns.remove(index);
        let timers =
            conn.deadline_timer.take().into_iter().chain(conn.write_timer.take()).chain(conn.app_timers.drain(..));
        for timer in timers {
            self.cx.timers.cancel(timer);
        }
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
        if conn.phase == Phase::Connecting {
            let error = io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped");
            self.fail_connect(id, error);
        } else {
            self.cx.close_with(id, Closing::AfterFlush(CloseReason::Shutdown));
        }
    }

    /// Closes every connection now, with `reason` for those not already
    /// closing for another.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        let ids: Vec<ConnId> =
            self.cx.conns.iter().map(|(index, conn)| ConnId::from_parts(index as u32, conn.generation)).collect();
        for id in ids {
            let Some(conn) = self.cx.live_conn(id) else { continue };
            let how = match conn.closing {
                Closing::Now(earlier) | Closing::AfterFlush(earlier) if earlier != CloseReason::Shutdown => {
                    Closing::Now(earlier)
                }
                _ => Closing::Now(reason),
            };
            if conn.phase == Phase::Connecting {
                self.fail_connect(id, io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped"));
                continue;
            }
            conn.closing = Closing::No;
            self.cx.close_with(id, how);
        }
        self.after_dispatch();
    }
}
