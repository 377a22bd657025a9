//! Closing a connection (`on_close`, exactly once): gracefully, with the
//! FIN after every byte and a linger (`linger.rs`), or abortively, with a
//! reset.

use std::io;
use std::time::Duration;

use log::{debug, info};

use super::panic_guard::guard;
use crate::conn::{Closing, Conn, Flags, Phase};
use crate::ctx::RunState;
use crate::{CloseReason, ConnId, Ctx, EventLoop, Handler};

impl Ctx {
    /// A connection no longer counts against the connection limits: the
    /// application closed it (its socket may linger on), or it never
    /// opened.
    pub(crate) fn released(&mut self, inbound: bool, ip: Option<std::net::IpAddr>) {
        self.listeners.rejecting_at_limit = false;
        self.room_again();
        if let (Some(_), true, Some(ip)) = (self.config.max_connections_per_ip, inbound, ip) {
            self.listeners.release_ip(ip);
        }
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
            Closing::Now(reason) => (reason, !reason.is_abortive() && !conn.has_output()),
            Closing::AfterFlush(reason) if !conn.has_output() || conn.phase().is_unopened() => (reason, true),
            _ => return,
        };
        #[cfg(feature = "tls")]
        if conn.phase() == crate::conn::Phase::Handshaking && conn.flags.any(Flags::INBOUND) {
            self.abandon_handshake(id, reason);
            return;
        }
        if conn.phase().is_unopened() {
            // Every connect ends in exactly one of `on_open` and
            // `on_connect_failed`, even one the application gave up on.
            let kind = match reason {
                CloseReason::IdleTimeout | CloseReason::WriteTimeout => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::ConnectionAborted,
            };
            self.fail_connect(id, io::Error::new(kind, format!("closed before the connect completed ({reason})")));
            return;
        }
        // The loop's own shutdown closes linger only where the peer shows
        // input not read yet (nginx's `lingering_close on` rule), so that
        // idle peers do not hold the exit for the linger time; any other
        // close, an application's in `on_stop` included, always lingers.
        let shutdown_close = draining && reason == CloseReason::Shutdown;
        let peer_may_send = !shutdown_close || conn.flags.any(Flags::READABLE) || !conn.input.is_empty();
        let linger = graceful
            && may_linger
            && peer_may_send
            && matches!(conn.closing(), Closing::AfterFlush(_))
            && !conn.flags.any(Flags::READ_CLOSED);
        match reason {
            CloseReason::InputLimit | CloseReason::OutputLimit | CloseReason::Panic => {
                info!("connection {id} with {} closed: {reason}", conn.peer)
            }
            _ => debug!("connection {id} with {} closed: {reason}", conn.peer),
        }
        self.cx.stats.count_close(reason);
        if linger {
            // Closed for the application: it no longer counts against the
            // connection limits, however long its socket lingers.
            let conn = &self.cx.conns[id];
            let (inbound, ip) = (conn.flags.any(Flags::INBOUND), conn.peer.ip());
            self.cx.released(inbound, ip);
            self.begin_linger(id);
        } else {
            let conn = self.remove_conn(id);
            if !graceful {
                conn.reset_on_close();
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
        self.cx.timers.cancel_all_of(&mut conn);
        if conn.phase() != Phase::Lingering {
            self.cx.released(conn.flags.any(Flags::INBOUND), conn.peer.ip());
        }
        conn
    }
}
