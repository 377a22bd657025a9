//! Readiness on a connection: reading into the loop-wide buffer and handing
//! it to `on_data`, flushing on the writable edge, and end of file.

use std::io::{self, Read};

use log::{debug, trace};
use mio::event::Event;

use crate::conn::{lookup, Closing, Phase};
use crate::ctx::Ready;
use crate::panic_guard::guard;
use crate::{AfterEof, CloseReason, ConnId, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// An event for connection `id`. Stale ids (closed earlier in this
    /// batch, or a reused slot) are ignored.
    pub(crate) fn conn_event(&mut self, id: ConnId, event: &Event) {
        let Some(conn) = self.cx.live_conn(id) else {
            trace!("{id}: stale event ignored");
            return;
        };
        let failed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        if conn.phase == Phase::Connecting {
            if event.is_writable() || failed {
                self.finish_connect(id, event);
            }
            return;
        }
        if event.is_readable() || failed {
            conn.readable = true;
            // After a FIN or an error, a short read no longer proves the
            // socket drained: read on to the end of file or the error.
            conn.read_to_end |= failed;
        }
        if event.is_writable() || failed {
            // Epoll reports a writable socket in every event for it, so
            // this is the common case: nothing queued, nothing to look up.
            conn.writable = true;
            if !conn.output.is_empty() {
                self.on_writable(id);
            }
        }
        self.read_from(id);
    }

    /// The socket can take more: flush queued output.
    pub(crate) fn on_writable(&mut self, id: ConnId) {
        let now = self.cx.now;
        let Some(conn) = lookup(&mut self.cx.conns, id) else { return };
        conn.writable = true;
        if conn.output.is_empty() {
            return;
        }
        let flushed = conn.flush(&mut self.cx.stats, now);
        match flushed {
            Ok(()) => self.cx.after_output_progress(id),
            Err(e) => {
                debug!("{id}: write failed: {e}");
                self.cx.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
            }
        }
    }

    /// Reads until the socket is drained (`WouldBlock`, or a short read,
    /// which on a stream socket proves it: epoll(7)) or this turn's budget
    /// is spent; in the latter case the connection goes on the ready list.
    pub(crate) fn read_from(&mut self, id: ConnId) {
        let index = id.index() as usize;
        let mut budget = self.cx.config.read_budget_bytes;
        loop {
            let Some(conn) = self.cx.live_conn(id) else { return };
            if !conn.readable || !conn.wants_read() {
                return;
            }
            if budget == 0 {
                conn.on_ready_list = true;
                self.cx.ready.push_back(Ready::Conn(id));
                return;
            }
            let result = conn.stream.read(&mut self.scratch);
            self.cx.stats.read_calls += 1;
            let conn = &mut self.cx.conns[index];
            match result {
                Ok(0) => {
                    conn.readable = false;
                    self.on_eof(id);
                    return;
                }
                Ok(n) => {
                    self.cx.stats.bytes_in += n as u64;
                    conn.last_input = self.cx.now;
                    budget = budget.saturating_sub(n);
                    let drained = n < self.scratch.len() && !conn.read_to_end;
                    if drained {
                        conn.readable = false;
                    }
                    self.deliver(id, n);
                    if drained {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.readable = false;
                    return;
                }
                // Not expected on a nonblocking socket; try again next turn.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    conn.on_ready_list = true;
                    self.cx.ready.push_back(Ready::Conn(id));
                    return;
                }
                Err(e) => {
                    debug!("{id}: read failed: {e}");
                    conn.readable = false;
                    self.cx.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
                    return;
                }
            }
        }
    }

    /// Hands `n` fresh bytes in the scratch buffer to `on_data`, after any
    /// input left over from before. Without leftovers the handler reads
    /// straight from the scratch buffer: no copy. Only what it leaves
    /// unconsumed is copied into the connection's own buffer.
    fn deliver(&mut self, id: ConnId, n: usize) {
        let index = id.index() as usize;
        let EventLoop { cx, handler, states, scratch, .. } = self;
        let mut input = std::mem::take(&mut cx.conns[index].input);
        let state = states[index].as_mut().expect("an open connection has application state");
        let policy = cx.config.panic_policy;
        let fresh = &scratch[..n];
        let consumed = if input.is_empty() {
            let consumed = guard(policy, "on_data", || handler.on_data(cx, id, state, fresh));
            if let Some(consumed) = consumed.filter(|&consumed| consumed < n) {
                input.extend(&fresh[consumed..]);
            }
            consumed
        } else {
            input.extend(fresh);
            let consumed = guard(policy, "on_data", || handler.on_data(cx, id, state, input.as_slice()));
            input.consume(consumed.unwrap_or(0));
            consumed
        };
        if consumed.is_none() {
            self.cx.close_with(id, Closing::Now(CloseReason::Panic));
            return;
        }
        if input.len() > self.cx.conns[index].max_input_bytes {
            debug!("{id}: {} bytes of unconsumed input, over max_input_bytes", input.len());
            self.cx.close_with(id, Closing::Now(CloseReason::InputLimit));
            return;
        }
        self.cx.conns[index].input = input;
    }

    /// The peer sent FIN. Unless the handler keeps the connection for
    /// writing, it closes once its output is flushed.
    fn on_eof(&mut self, id: ConnId) {
        let index = id.index() as usize;
        let conn = &mut self.cx.conns[index];
        conn.read_closed = true;
        let unconsumed = std::mem::take(&mut conn.input);
        let EventLoop { cx, handler, states, .. } = self;
        let state = states[index].as_mut().expect("an open connection has application state");
        let after = guard(cx.config.panic_policy, "on_eof", || handler.on_eof(cx, id, state, unconsumed.as_slice()));
        let write_closed = self.cx.conns[index].write_closed;
        match after {
            None => self.cx.close_with(id, Closing::Now(CloseReason::Panic)),
            Some(_) if write_closed => self.cx.close_with(id, Closing::Now(CloseReason::PeerClosed)),
            Some(AfterEof::Close) => self.cx.close_with(id, Closing::AfterFlush(CloseReason::PeerClosed)),
            Some(AfterEof::KeepWriting) => {}
        }
    }

    /// Calls `on_drain` for a connection that fell below the low watermark.
    pub(crate) fn fire_drain(&mut self, id: ConnId) {
        match self.cx.live_conn(id) {
            Some(conn) if conn.closing == Closing::No => {}
            _ => return,
        }
        let EventLoop { cx, handler, states, .. } = self;
        let state = states[id.index() as usize].as_mut().expect("an open connection has application state");
        if guard(cx.config.panic_policy, "on_drain", || handler.on_drain(cx, id, state)).is_none() {
            self.cx.close_with(id, Closing::Now(CloseReason::Panic));
        }
    }
}
