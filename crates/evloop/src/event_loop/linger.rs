//! Lingering close: after a graceful close the socket's FIN is sent, but
//! the socket stays open, reading and dropping whatever the peer still
//! sends, until the peer's end of file or [`Config::linger_timeout`].
//!
//! Why: closing a TCP socket that has unread input, or that receives input
//! after `close`, makes Linux answer with RST, and a peer that gets RST
//! throws away what it had received but not yet read: the last reply and
//! the goodbye line are lost exactly when they matter. Apache's
//! `lingering_close` and nginx's `lingering_close` do the same.
//!
//! [`Config::linger_timeout`]: crate::Config::linger_timeout

use std::io;

use log::trace;

use super::timers::{deadline_after, TimerKind};
use crate::conn::Flags;
use crate::conn::Phase;
use crate::{ConnId, Ctx, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// Turns open connection `id`, whose output is flushed, into a
    /// lingering socket: FIN out, buffers and timers dropped, the linger
    /// deadline armed. Its id is stale from now on.
    pub(crate) fn begin_linger(&mut self, id: ConnId) {
        let deadline = deadline_after(self.cx.now, self.cx.config.linger_timeout);
        let Ctx { conns, timers, .. } = &mut self.cx;
        let conn = conns.begin_lingering(id);
        timers.cancel_all_of(conn);
        conn.input = Default::default();
        conn.output = Default::default();
        if !conn.flags.any(Flags::WRITE_CLOSED) {
            conn.flags.insert(Flags::WRITE_CLOSED);
            if let Err(e) = conn.stream.shutdown_write() {
                trace!("{id}: shutdown before lingering: {e}");
            }
        }
        conn.deadline_timer = Some(timers.insert(deadline, TimerKind::Linger(id)));
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
