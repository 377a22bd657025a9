//! The loop's own deadlines per connection: idle input, stalled output,
//! pending connects, and the application's connection timers.
//!
//! Idle and write timeouts are kept lazily: a read or write only stamps the
//! time, and the one timer per connection, when it comes due, compares the
//! stamp with the timeout and re-arms for the remainder. So the hot path
//! costs no timer work.

use std::io;

use log::debug;

use crate::conn::{Closing, Phase};
use crate::ctx::RunState;
use crate::panic_guard::guard;
use crate::timer::{deadline_after, TimerKind};
use crate::{CloseReason, ConnId, EventLoop, Handler, TimerId};

impl<H: Handler> EventLoop<H> {
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
        let quiet_until = deadline_after(conn.last_input, idle);
        if now >= quiet_until {
            debug!("{id}: no input for {idle:?}");
            self.cx.close_with(id, Closing::Now(CloseReason::IdleTimeout));
        } else {
            let timer = self.cx.timers.insert(quiet_until, TimerKind::Idle(id));
            self.cx.conns[id.index() as usize].deadline_timer = Some(timer);
        }
    }

    pub(crate) fn check_write_progress(&mut self, id: ConnId) {
        let now = self.cx.now;
        let Some(timeout) = self.cx.config.write_timeout else { return };
        let Some(conn) = self.cx.live_conn(id) else { return };
        conn.write_timer = None;
        if conn.output.is_empty() {
            return;
        }
        if conn.phase == Phase::Connecting {
            // Output queued on a pending connect cannot progress yet; that
            // wait is the connect timeout's to judge (closing here would
            // drop the connect without `on_connect_failed`), so the stall
            // clock starts over.
            conn.last_write_progress = now;
        }
        if conn.phase == Phase::Open && now >= deadline_after(conn.last_write_progress, timeout) {
            // Linux signals a TCP socket writable only once its free send
            // buffer reaches half of what is queued (sk_stream_is_writeable),
            // and autotuning grows that buffer to megabytes: a peer reading
            // slowly but steadily can go longer than the timeout without a
            // writable edge. Offer the socket more before giving up; if it
            // takes any, the peer is reading. One write per timeout, only
            // for connections that look stalled.
            self.on_writable(id);
        }
        let Some(conn) = self.cx.live_conn(id) else { return };
        if conn.output.is_empty() {
            return;
        }
        let stalled_at = deadline_after(conn.last_write_progress, timeout);
        if now >= stalled_at {
            debug!("{id}: {} bytes queued, no write progress for {timeout:?}", conn.output.len());
            self.cx.close_with(id, Closing::Now(CloseReason::WriteTimeout));
        } else {
            let timer = self.cx.timers.insert(stalled_at, TimerKind::Write(id));
            self.cx.conns[id.index() as usize].write_timer = Some(timer);
        }
    }

    pub(crate) fn check_connect_timeout(&mut self, id: ConnId) {
        let timeout = self.cx.config.connect_timeout;
        let Some(conn) = self.cx.live_conn(id) else { return };
        if conn.phase != Phase::Connecting {
            return;
        }
        conn.deadline_timer = None;
        let error = io::Error::new(io::ErrorKind::TimedOut, format!("connect timed out after {timeout:?}"));
        self.fail_connect(id, error);
    }

    pub(crate) fn fire_conn_timer(&mut self, id: ConnId, timer: TimerId, key: u64) {
        if self.cx.live_conn(id).is_none() {
            return;
        }
        self.cx.forget_conn_timer(id, timer);
        let EventLoop { cx, handler, states, .. } = self;
        let state = states[id.index() as usize].as_mut().expect("an open connection has application state");
        if guard(cx.config.panic_policy, "on_conn_timer", || handler.on_conn_timer(cx, id, state, timer, key)).is_none()
        {
            self.cx.close_with(id, Closing::Now(CloseReason::Panic));
        }
    }
}
