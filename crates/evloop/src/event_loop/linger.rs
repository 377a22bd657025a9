//! Lingering close: after a graceful close the socket stays open, reading
//! and dropping whatever the peer still sends, until the peer's end of
//! file or [`Config::linger_timeout`] after the FIN.
//!
//! Why: closing a TCP socket that has unread input, or that receives input
//! after `close`, makes Linux answer with RST, and a peer that gets RST
//! throws away what it had received but not yet read: the last reply and
//! the goodbye line are lost exactly when they matter. Apache's
//! `lingering_close` and nginx's `lingering_close` do the same.
//!
//! The RST also discards what the kernel has not sent yet. So the FIN, and
//! the linger's clock, wait until the kernel has sent every byte (the
//! socket's `TCP_NOTSENT_LOWAT` is set to 1, and its next writable edge
//! says so): a peer still reading gets everything written before the
//! close, even a peer that never stops sending. That wait is bounded by
//! [`Config::write_timeout`] (a peer that takes nothing for it is stalled,
//! as for output waiting in the loop), or the linger timeout if longer.
//!
//! [`Config::linger_timeout`]: crate::Config::linger_timeout
//! [`Config::write_timeout`]: crate::Config::write_timeout

use std::io;

use log::trace;

use super::timers::{deadline_after, TimerKind};
use crate::conn::{Conn, Flags, Phase};
use crate::{ConnId, Ctx, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// Turns open connection `id`, whose output is flushed, into a
    /// lingering socket: buffers and timers dropped, the FIN out (or held,
    /// `SHUTDOWN_PENDING`, until the kernel has sent every byte), the
    /// deadline armed. Its id is stale from now on.
    pub(crate) fn begin_linger(&mut self, id: ConnId) {
        let (now, turn, linger) = (self.cx.now, self.cx.turn, self.cx.config.linger_timeout);
        let send_bound = self.cx.config.write_timeout.unwrap_or(linger).max(linger);
        let Ctx { conns, timers, .. } = &mut self.cx;
        let conn = conns.begin_lingering(id);
        timers.cancel_all_of(conn);
        conn.input = Default::default();
        conn.output = Default::default();
        // A writable edge from this turn's batch predates the low-water
        // mark and proves nothing (`linger_writable`).
        conn.written_turn = turn;
        let mut deadline = deadline_after(now, linger);
        if !conn.flags.any(Flags::WRITE_CLOSED) {
            match conn.stream.writable_once_sent() {
                Ok(true) => {
                    conn.flags.insert(Flags::SHUTDOWN_PENDING);
                    deadline = deadline_after(now, send_bound);
                }
                Ok(false) => send_fin(id, conn),
                Err(e) => {
                    trace!("{id}: TCP_NOTSENT_LOWAT: {e}");
                    send_fin(id, conn);
                }
            }
        }
        conn.deadline_timer = Some(timers.insert(deadline, TimerKind::Linger(id)));
    }

    /// A writable edge on lingering `id`: with its FIN held, the kernel has
    /// now sent every byte, so the FIN follows and the linger proper
    /// begins, its deadline a linger timeout from now.
    pub(crate) fn linger_writable(&mut self, id: ConnId) {
        let (turn, now, linger) = (self.cx.turn, self.cx.now, self.cx.config.linger_timeout);
        let Ctx { conns, timers, .. } = &mut self.cx;
        let Some(conn) = conns.get_mut(id) else { return };
        if !conn.flags.any(Flags::SHUTDOWN_PENDING) || conn.written_turn == turn {
            return;
        }
        trace!("{id}: every byte sent, the FIN follows");
        send_fin(id, conn);
        if let Some(timer) = conn.deadline_timer.take() {
            timers.cancel(timer);
        }
        conn.deadline_timer = Some(timers.insert(deadline_after(now, linger), TimerKind::Linger(id)));
    }

    /// Reads and drops what lingering `id` has, until `WouldBlock` (wait
    /// for the next edge), its end of file or an error (close it now), or
    /// this turn's read budget (go on next turn).
    pub(crate) fn linger_read(&mut self, id: ConnId) {
        let budget = self.cx.config.read_budget_bytes;
        let turn = self.cx.turn;
        loop {
            let Some(conn) = self.cx.conns.get_mut(id) else { return };
            if !conn.flags.any(Flags::READABLE) {
                return;
            }
            if conn.read_budget_left(turn, budget) == 0 {
                self.cx.push_ready_conn(id);
                return;
            }
            self.cx.stats.read_calls += 1;
            match conn.stream.read(&mut self.scratch) {
                Ok(0) => break,
                Ok(n) => {
                    self.cx.stats.bytes_in += n as u64;
                    conn.read_in_turn += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.flags.remove(Flags::READABLE);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        trace!("{id}: linger done");
        drop(self.remove_conn(id));
    }

    /// The linger deadline passed: close the socket whatever the peer does.
    pub(crate) fn end_linger(&mut self, id: ConnId) {
        if let Some(conn) = self.cx.conns.get_mut(id) {
            if conn.phase() == Phase::Lingering {
                conn.deadline_timer = None;
                trace!("{id}: linger timed out");
                drop(self.remove_conn(id));
            }
        }
    }
}

/// Sends lingering `conn`'s FIN, once.
fn send_fin(id: ConnId, conn: &mut Conn) {
    conn.flags.remove(Flags::SHUTDOWN_PENDING);
    conn.flags.insert(Flags::WRITE_CLOSED);
    if let Err(e) = conn.stream.shutdown_write() {
        trace!("{id}: shutdown while lingering: {e}");
    }
}
