//! The loop's own deadlines per connection (idle, stalled output, pending
//! connects) and the application's connection timers.
//!
//! Idle and write timeouts are kept lazily: a read or write only stamps the
//! time, and the one timer per connection, when it comes due, compares the
//! stamp with the timeout and re-arms for the remainder. So the hot path
//! costs no timer work.

use std::time::Duration;

use log::debug;

use super::panic_guard::guard;
use super::state_of;
use super::timers::{deadline_after, TimerKind};
use crate::conn::Closing;
use crate::conn::Flags;
use crate::ctx::RunState;
use crate::{CloseReason, ConnId, Ctx, EventLoop, Handler, TimerId};

impl<H: Handler> EventLoop<H> {
    /// Idle means no progress either way, bytes read or bytes written;
    /// time spent with reading paused (by the application, or by
    /// backpressure from a peer slow to read) does not count against the
    /// peer.
    pub(crate) fn check_idle(&mut self, id: ConnId) {
        let now = self.cx.now;
        let Some(idle) = self.cx.config.idle_timeout else { return };
        let draining = self.cx.run_state == RunState::Draining;
        let Some(conn) = self.cx.live_conn(id) else { return };
        conn.deadline_timer = None;
        if draining {
            // Stopping: the loop reads no more input, and the flush is the
            // shutdown timeout's to bound; closing here would drop the
            // output being flushed and the `Shutdown` reason with it.
            return;
        }
        // Paused time does not count: look again an idle timeout from now
        // (resuming restarts the clock, so the pause is never held against
        // the peer).
        let paused = conn.flags.any(Flags::PAUSED_BY_APP.union(Flags::PAUSED_BY_OUTPUT));
        let quiet_until = deadline_after(if paused { now } else { conn.last_progress() }, idle);
        if now >= quiet_until {
            debug!("connection {id} with {}: no progress either way for {idle:?}", conn.peer);
            // Output the kernel has taken is progress the loop cannot see
            // (its send queue, SIOCOUTQ, takes an ioctl no safe API
            // offers): the peer may still be reading it. So with nothing
            // waiting in the loop the close is graceful, its FIN after the
            // kernel's last byte, and loses none of it; output waiting in
            // the loop means a peer that stopped reading: reset.
            let how = if conn.output.is_empty() {
                Closing::AfterFlush(CloseReason::IdleTimeout)
            } else {
                Closing::Now(CloseReason::IdleTimeout)
            };
            self.cx.close_with(id, how);
        } else {
            let timer = self.cx.timers.insert(quiet_until, TimerKind::Idle(id));
            self.cx.conns[id].deadline_timer = Some(timer);
        }
    }

    /// Closes a connection whose queued output has not moved for the write
    /// timeout.
    ///
    /// Linux signals a TCP socket writable only once its free send buffer
    /// reaches half of what is queued (`sk_stream_is_writeable`), and
    /// autotuning grows that buffer to megabytes: a peer reading slowly but
    /// steadily can go longer than the timeout without a writable edge. So
    /// before giving up the loop offers the socket more. A peer that reads
    /// nothing still has the kernel take a few KB once (memory accounting
    /// frees some), so one probe taken proves nothing: the loop checks
    /// again a tenth of the timeout later, and only a second probe taken
    /// counts as progress. A stalled peer closes at about 1.1 times the
    /// setting.
    pub(crate) fn check_write_progress(&mut self, id: ConnId) {
        let now = self.cx.now;
        let Some(timeout) = self.cx.config.write_timeout else { return };
        let Some(conn) = self.cx.live_conn(id) else { return };
        conn.write_timer = None;
        if !conn.has_output() {
            return;
        }
        if conn.phase().is_unopened() {
            // Output queued on a pending connect cannot progress yet; that
            // wait is the connect timeout's to judge (closing here would
            // drop the connect without `on_connect_failed`), so the stall
            // clock starts over.
            conn.last_write_progress = now;
        }
        let mut stalled_at = deadline_after(conn.last_write_progress, timeout);
        if now >= stalled_at {
            let stamp = conn.last_write_progress;
            let probed_before = conn.flags.any(Flags::WRITE_PROBED);
            conn.flags.insert(Flags::WRITABLE);
            self.cx.write_out(id);
            let Some(conn) = self.cx.live_conn(id) else { return };
            // The write stamped progress: the socket took bytes (plaintext,
            // or through TLS, records).
            let took = conn.last_write_progress > stamp;
            conn.last_write_progress = stamp;
            if took && probed_before {
                conn.wrote_at(now);
                stalled_at = deadline_after(now, timeout);
            } else if took {
                conn.flags.insert(Flags::WRITE_PROBED);
                stalled_at = deadline_after(now, (timeout / 10).max(Duration::from_millis(1)));
            } else if conn.has_output() {
                debug!("connection {id} with {}: output queued, no write progress for {timeout:?}", conn.peer);
                self.cx.close_with(id, Closing::Now(CloseReason::WriteTimeout));
                return;
            }
        }
        let Ctx { conns, timers, .. } = &mut self.cx;
        let conn = &mut conns[id];
        // The probe's write may have armed a timer from its own stamp.
        if let Some(armed) = conn.write_timer.take() {
            timers.cancel(armed);
        }
        if conn.has_output() {
            conn.write_timer = Some(timers.insert(stalled_at, TimerKind::Write(id)));
        }
    }

    pub(crate) fn fire_conn_timer(&mut self, id: ConnId, timer: TimerId, key: u64, owner_slot: u32) {
        if self.cx.live_conn(id).is_none() {
            return;
        }
        self.cx.forget_conn_timer(id, owner_slot);
        let EventLoop { cx, handler, states, .. } = self;
        let state = state_of(states, id);
        if guard(cx.config.panic_policy, "on_conn_timer", || handler.on_conn_timer(cx, id, state, timer, key)).is_none()
        {
            self.cx.close_with(id, Closing::Now(CloseReason::Panic));
        }
    }
}

impl Ctx {
    /// Sets a timer owned by open connection `id`, remembering its place in
    /// the connection's list.
    pub(crate) fn insert_conn_timer(&mut self, id: ConnId, after: Duration, key: u64) -> TimerId {
        let timer = self.timers.insert(deadline_after(self.now, after), TimerKind::App { key, owner: Some(id) });
        let timers = &mut self.conns[id].app_timers;
        self.timers.set_owner_slot(timer, timers.len() as u32);
        timers.push(timer);
        timer
    }

    /// Drops the timer at `slot` of `owner`'s list (it fired or was
    /// cancelled): swap-remove, and tell the timer moved into its place.
    pub(crate) fn forget_conn_timer(&mut self, owner: ConnId, slot: u32) {
        let Some(conn) = self.live_conn(owner) else { return };
        let slot = slot as usize;
        if slot >= conn.app_timers.len() {
            return;
        }
        conn.app_timers.swap_remove(slot);
        if let Some(&moved) = conn.app_timers.get(slot) {
            self.timers.set_owner_slot(moved, slot as u32);
        }
    }
}
