//! Readiness on a connection, and input: reading into the loop-wide buffer,
//! handing it to `on_data`, offering unconsumed input again, end of file.
//!
//! The input rule: bytes `on_data` leaves unconsumed are kept and offered
//! again, without new input, as long as the handler made progress the time
//! before (it consumed something), and whenever reading resumes
//! (`resume_read`, output drained below the low watermark); never to a
//! handler that consumed nothing, until more bytes arrive, so nothing
//! spins. Offering stops while reading is paused, and counts against the
//! connection's read budget for the turn like reading does.

use std::io;

use log::{debug, info, trace};
use mio::event::Event;

use super::panic_guard::guard;
use super::state_of;
use crate::conn::Buffer;
use crate::conn::Flags;
use crate::conn::{Closing, Phase};
use crate::ctx::Ready;
use crate::{AfterEof, CloseReason, ConnId, Ctx, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// An event for connection `id`. Stale ids (closed earlier in this
    /// batch, or a reused slot) are ignored.
    pub(crate) fn conn_event(&mut self, id: ConnId, event: &Event) {
        let Some(conn) = self.cx.conns.get_mut(id) else {
            trace!("{id}: stale event ignored");
            return;
        };
        let failed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        match conn.phase() {
            Phase::Connecting => {
                if event.is_writable() || failed {
                    self.finish_connect(id, event);
                }
                return;
            }
            Phase::Lingering => {
                conn.flags.insert(Flags::READABLE);
                if event.is_writable() {
                    self.linger_writable(id);
                }
                self.linger_read(id);
                return;
            }
            #[cfg(feature = "tls")]
            Phase::Handshaking => {
                self.advance_handshake(id);
                return;
            }
            Phase::Open => {}
        }
        if event.is_error() && !conn.wants_read() {
            // Nothing will read this socket soon (the application paused
            // it, or keeps it half-closed): take the error now, or a reset
            // peer would hold its slot until a timeout.
            if let Ok(Some(error)) = conn.stream.take_error() {
                debug!("connection {id} with {}: {error}", conn.peer);
                self.cx.close_with(id, Closing::Now(CloseReason::from_io_error(&error)));
                return;
            }
        }
        if event.is_readable() || failed || event.is_priority() {
            conn.flags.insert(Flags::READABLE);
            // After a FIN or an error, a short read no longer proves the
            // socket drained: read on to the end of file or the error. Nor
            // with urgent data pending, where a read stops short at the
            // urgent mark with ordinary bytes still behind it.
            if failed || event.is_priority() {
                conn.flags.insert(Flags::READ_UNTIL_WOULD_BLOCK);
            }
        }
        if event.is_writable() || failed {
            conn.flags.insert(Flags::WRITABLE);
            // Epoll reports a writable socket in every event for it, so
            // this is the common case: nothing queued. Output gathered this
            // turn is written by the end-of-turn flush, once.
            if conn.has_output() && !conn.flags.any(Flags::FLUSH_QUEUED) {
                self.cx.write_out(id);
            }
        }
        self.read_from(id);
    }

    /// A connection on the ready list: read or offer input again, or for a
    /// lingering one, drain it.
    pub(crate) fn serve_ready_conn(&mut self, id: ConnId) {
        let Some(conn) = self.cx.conns.get_mut(id) else { return };
        conn.flags.remove(Flags::ON_READY_LIST);
        if conn.phase() == Phase::Lingering {
            self.linger_read(id);
        } else {
            self.read_from(id);
        }
    }

    /// Takes input for `id` until there is none to take or this turn's read
    /// budget is spent (then `id` goes on the ready list): buffered input
    /// the handler can make progress on first, then the socket, until
    /// `WouldBlock` or a short read (which on a stream socket proves it
    /// drained: epoll(7)).
    pub(crate) fn read_from(&mut self, id: ConnId) {
        let budget = self.cx.config.read_budget_bytes;
        let turn = self.cx.turn;
        loop {
            let EventLoop { cx, scratch, .. } = self;
            // `wants_read` implies live: an open connection's phase.
            let Some(conn) = cx.conns.get_mut(id) else { return };
            if !conn.wants_read() {
                return;
            }
            let offer = conn.has_offerable_input();
            if !offer && !conn.flags.any(Flags::READABLE) {
                return;
            }
            if conn.read_budget_left(turn, budget) == 0 {
                cx.push_ready_conn(id);
                return;
            }
            if offer {
                // Offered again, it counts against the turn's budget as
                // reading does.
                let consumed = self.deliver(id, 0);
                self.cx.conns[id].read_in_turn += consumed;
                continue;
            }
            let result = conn.stream.read(scratch);
            cx.stats.read_calls += 1;
            match result {
                Ok(0) => {
                    conn.flags.remove(Flags::READABLE);
                    self.on_eof(id);
                    return;
                }
                Ok(n) => {
                    cx.stats.bytes_in += n as u64;
                    conn.last_input = cx.now;
                    conn.read_in_turn += n;
                    let drained = n < scratch.len()
                        && !conn.flags.any(Flags::READ_UNTIL_WOULD_BLOCK)
                        && conn.stream.short_read_drains();
                    if drained {
                        conn.flags.remove(Flags::READABLE);
                    }
                    if !conn.input.is_empty() {
                        self.deliver(id, n);
                    } else if self.deliver_fresh(id, n) && drained {
                        // Nothing buffered, nothing left in the socket: the
                        // common case, settled without another look.
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.flags.remove(Flags::READABLE.union(Flags::READ_UNTIL_WOULD_BLOCK));
                    return;
                }
                // Not expected on a nonblocking socket; try again next turn.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    cx.push_ready_conn(id);
                    return;
                }
                Err(e) => {
                    debug!("connection {id} with {}: read failed: {e}", conn.peer);
                    conn.flags.remove(Flags::READABLE);
                    cx.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
                    return;
                }
            }
        }
    }

    /// Hands `n` fresh bytes in the scratch buffer to `on_data`, with no
    /// input left over from before: the handler reads straight from the
    /// scratch buffer, and only what it leaves unconsumed is copied into the
    /// connection's own buffer. Returns whether it consumed everything.
    fn deliver_fresh(&mut self, id: ConnId, n: usize) -> bool {
        let EventLoop { cx, handler, states, scratch, .. } = self;
        let state = state_of(states, id);
        let fresh = &scratch[..n];
        let consumed = Self::offer_input(cx, handler, state, id, fresh);
        if consumed.is_some_and(|consumed| consumed >= n) {
            return true;
        }
        let mut input = Buffer::default();
        if let Some(consumed) = consumed {
            input.extend(&fresh[consumed..]);
        }
        self.cx.keep_unconsumed(id, input, consumed);
        false
    }

    /// Hands the input left over from before, followed by `n` fresh bytes
    /// in the scratch buffer (none, to offer the leftovers again), to
    /// `on_data`. Returns how many bytes it consumed.
    fn deliver(&mut self, id: ConnId, n: usize) -> usize {
        let EventLoop { cx, handler, states, scratch, .. } = self;
        let state = state_of(states, id);
        let mut input = std::mem::take(&mut cx.conns[id].input);
        debug_assert!(!input.is_empty(), "deliver_fresh takes input with nothing left over");
        input.extend(&scratch[..n]);
        let consumed = Self::offer_input(cx, handler, state, id, input.as_slice());
        let consumed = consumed.map(|consumed| consumed.min(input.len()));
        input.consume(consumed.unwrap_or(0));
        self.cx.keep_unconsumed(id, input, consumed);
        consumed.unwrap_or(0)
    }

    /// Calls `on_data` with `input`, then writes what it sent back of it
    /// without a copy (`offer.rs`). `None` if it panicked.
    #[inline(always)]
    fn offer_input(cx: &mut Ctx, handler: &mut H, state: &mut H::Conn, id: ConnId, input: &[u8]) -> Option<usize> {
        cx.offer.begin(id, input);
        let consumed = guard(cx.config.panic_policy, "on_data", || handler.on_data(cx, id, state, input));
        if let (Some(sent), Some(consumed)) = (cx.offer.end(), consumed) {
            // Not when what is left over is about to close the connection
            // for its input limit (`keep_unconsumed`): that close drops
            // queued output, so it drops this too, as for a copied send.
            let kept = input.len() - consumed.min(input.len());
            if kept == 0 || kept <= cx.conns[id].max_input_bytes {
                cx.write_offered(id, &input[sent]);
            }
        }
        consumed
    }

    /// The peer sent FIN. Unless the handler keeps the connection for
    /// writing, it closes once its output is flushed.
    fn on_eof(&mut self, id: ConnId) {
        let conn = &mut self.cx.conns[id];
        conn.flags.insert(Flags::READ_CLOSED);
        let unconsumed = std::mem::take(&mut conn.input);
        let EventLoop { cx, handler, states, .. } = self;
        let state = state_of(states, id);
        let after = guard(cx.config.panic_policy, "on_eof", || handler.on_eof(cx, id, state, unconsumed.as_slice()));
        let conn = &self.cx.conns[id];
        let write_closed = conn.flags.any(Flags::WRITE_CLOSED);
        let reason = conn.eof_reason();
        match after {
            None => self.cx.close_with(id, Closing::Now(CloseReason::Panic)),
            Some(_) if write_closed => self.cx.close_with(id, Closing::Now(reason)),
            Some(AfterEof::Close) => self.cx.close_with(id, Closing::AfterFlush(reason)),
            Some(AfterEof::KeepWriting) => {}
        }
    }

    /// Calls `on_drain` for a connection that fell below the low watermark.
    pub(crate) fn fire_drain(&mut self, id: ConnId) {
        match self.cx.live_conn(id) {
            Some(conn) if conn.closing() == Closing::No => {}
            _ => return,
        }
        let EventLoop { cx, handler, states, .. } = self;
        let state = state_of(states, id);
        if guard(cx.config.panic_policy, "on_drain", || handler.on_drain(cx, id, state)).is_none() {
            self.cx.close_with(id, Closing::Now(CloseReason::Panic));
            return;
        }
        // Input may have been offered again as reading resumed, before
        // `on_drain` ran, and found the handler still busy with the reply
        // `on_drain` has now moved on: offer it once more, after it.
        if let Some(conn) = self.cx.live_conn(id) {
            conn.flags.remove(Flags::INPUT_STALLED);
            self.cx.schedule_read(id);
        }
    }
}

impl Ctx {
    /// Puts back what `on_data` left of `input` (`consumed` is `None` if it
    /// panicked), enforcing the connection's input limit, and notes whether
    /// the handler made progress, which decides whether the rest is offered
    /// again without new bytes.
    fn keep_unconsumed(&mut self, id: ConnId, input: Buffer, consumed: Option<usize>) {
        let Some(consumed) = consumed else {
            self.close_with(id, Closing::Now(CloseReason::Panic));
            return;
        };
        let conn = &mut self.conns[id];
        conn.flags.set(Flags::INPUT_STALLED, consumed == 0);
        if input.len() > conn.max_input_bytes {
            info!(
                "connection {id} with {}: {} bytes of unconsumed input, over its limit of {}: closing",
                conn.peer,
                input.len(),
                conn.max_input_bytes
            );
            self.close_with(id, Closing::Now(CloseReason::InputLimit));
            return;
        }
        conn.input = input;
    }

    /// Puts `id` (known present) on the ready list for the next turn,
    /// unless it is there already.
    pub(crate) fn push_ready_conn(&mut self, id: ConnId) {
        let conn = &mut self.conns[id];
        if !conn.flags.any(Flags::ON_READY_LIST) {
            conn.flags.insert(Flags::ON_READY_LIST);
            self.ready.push_back(Ready::Conn(id));
        }
    }

    /// Puts `id` on the ready list if it has input to take that no edge
    /// will announce again: the socket was left readable, or buffered
    /// input may now make progress.
    pub(crate) fn schedule_read(&mut self, id: ConnId) {
        let conn = &self.conns[id];
        if conn.wants_read() && (conn.flags.any(Flags::READABLE) || conn.has_offerable_input()) {
            self.push_ready_conn(id);
        }
    }
}
