//! Output that is part of the input `on_data` is looking at, written from
//! that input without a copy.
//!
//! An echo, or a reply that repeats its request, sends back bytes the
//! handler was just offered. Copying them into the output queue only to
//! write them out at the end of the turn cost a copy per message and its
//! bookkeeping (`benches/scripts/instructions_per_message.sh` measures
//! it). So while `on_data`
//! runs, the loop
//! remembers where the offered bytes are; a connection's first `send` of a
//! part of them, with nothing queued before it and no write yet this turn,
//! is only noted, and written straight from the input as soon as `on_data`
//! returns, together with anything sent after it (one `writev`). That is
//! still the connection's one write of the turn: output sent to it later in
//! the turn waits for the next one. What the socket does not take is copied
//! into the queue then, in order.

use std::io;
use std::ops::Range;

use log::debug;

use crate::conn::Flags;
use crate::conn::{write_nonblocking, Closing, Conn};
use crate::{CloseReason, ConnId, Ctx};

/// The input `on_data` is looking at, while it runs, and the part of it
/// the handler sent back to the same connection.
#[derive(Debug, Default)]
pub(crate) struct Offer {
    /// The connection offered the input; `None` outside `on_data`.
    id: Option<ConnId>,
    /// The address of the offered bytes (compared, never dereferenced).
    start: usize,
    len: usize,
    /// The part sent, as offsets into the offered bytes.
    sent: Option<Range<usize>>,
}

impl Offer {
    /// `on_data` is about to see `input` for `id`.
    #[inline]
    pub(crate) fn begin(&mut self, id: ConnId, input: &[u8]) {
        *self = Offer { id: Some(id), start: input.as_ptr() as usize, len: input.len(), sent: None };
    }

    /// `on_data` returned: the offsets of the part it sent back, if it did.
    #[inline]
    pub(crate) fn end(&mut self) -> Option<Range<usize>> {
        self.id = None;
        self.sent.take()
    }

    /// Bytes of output waiting for `conn` (connection `id`), the one answer
    /// the crate has to that question (watermarks, `is_writable`,
    /// `queued_output`, the output limit, `shutdown_write`): its plaintext
    /// queue, the TLS records the socket has not taken, and the part of the
    /// offered input it sent, which counts as queued until `on_data`
    /// returns. `Conn` offers no count of its own, so no caller can leave
    /// a part out.
    #[inline]
    pub(crate) fn queued(&self, id: ConnId, conn: &Conn) -> usize {
        let offered = match &self.sent {
            Some(sent) if self.id == Some(id) => sent.len(),
            _ => 0,
        };
        offered + conn.output.len() + conn.stream.queued_tls()
    }

    /// Notes `data` as `id`'s output if it lies within the input offered
    /// to `id`, and nothing else is sent yet this turn; returns whether it
    /// did.
    #[inline(always)]
    pub(crate) fn try_note(&mut self, id: ConnId, data: &[u8]) -> bool {
        if self.id != Some(id) || self.sent.is_some() {
            return false;
        }
        let offset = (data.as_ptr() as usize).wrapping_sub(self.start);
        if offset >= self.len || data.len() > self.len - offset {
            return false;
        }
        self.sent = Some(offset..offset + data.len());
        true
    }
}

impl Ctx {
    /// Writes `sent`, a part of the input `id` was just offered, followed by
    /// whatever `id` queued after it, in one write; what the socket does not
    /// take is queued. Nothing is written if `id` is closing at once.
    #[inline(always)]
    pub(crate) fn write_offered(&mut self, id: ConnId, sent: &[u8]) {
        let conn = &mut self.conns[id];
        if matches!(conn.closing(), Closing::Now(_)) {
            return;
        }
        #[cfg(feature = "tls")]
        if matches!(conn.stream, crate::transport::Stream::Tls(_)) {
            self.write_offered_tls(id, sent);
            return;
        }
        let written = if conn.flags.any(Flags::WRITABLE) {
            conn.written_turn = self.turn;
            write_nonblocking(&mut conn.stream, &mut conn.flags, sent, conn.output.as_slice(), &mut self.stats)
        } else {
            Ok(0)
        };
        match written {
            // The common case: all of it went, and nothing else was queued.
            Ok(n) if n == sent.len() && conn.output.is_empty() => {
                conn.wrote_at(self.now);
                if !conn.settled_after_write() {
                    self.after_write(id);
                }
            }
            written => self.after_offered_write(id, sent, written),
        }
    }

    /// The rest of [`write_offered`](Ctx::write_offered): a failed or short
    /// write, or one with more output behind the offered part.
    #[cold]
    fn after_offered_write(&mut self, id: ConnId, sent: &[u8], written: io::Result<usize>) {
        let now = self.now;
        let conn = &mut self.conns[id];
        let n = match written {
            Ok(n) => n,
            Err(e) => {
                debug!("connection {id} with {}: write failed: {e}", conn.peer);
                self.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
                return;
            }
        };
        if n > 0 {
            conn.wrote_at(now);
        }
        if n < sent.len() {
            if conn.output.is_empty() {
                conn.begin_queueing(now, &mut self.spare_output);
            }
            // The socket is full (`writable` is clear): the rest goes out
            // on its writable edge.
            conn.output.prepend(&sent[n..]);
        } else {
            conn.output.consume_keeping(n - sent.len());
        }
        if self.offer.queued(id, conn) > self.config.high_watermark {
            conn.flags.insert(Flags::PAUSED_BY_OUTPUT);
        }
        self.after_write(id);
    }

    /// [`write_offered`](Ctx::write_offered) through TLS: the offered bytes
    /// and what was queued after them are encrypted together, straight
    /// from the input (the one copy encryption makes anyway), and the
    /// records written in one `writev`; what the socket does not take
    /// waits in the session. With the socket full already, the offered
    /// bytes are queued as plaintext, as on a plaintext socket.
    #[cfg(feature = "tls")]
    #[cold]
    fn write_offered_tls(&mut self, id: ConnId, sent: &[u8]) {
        let now = self.now;
        let conn = &mut self.conns[id];
        let crate::transport::Stream::Tls(tls) = &mut conn.stream else { return };
        if conn.flags.any(Flags::WRITABLE) {
            conn.written_turn = self.turn;
            let plaintext = conn.output.len();
            match crate::conn::write_tls(tls, &mut conn.flags, sent, conn.output.as_slice(), &mut self.stats) {
                Ok(n) => {
                    conn.output.consume_keeping(plaintext);
                    if n > 0 {
                        conn.wrote_at(now);
                    }
                }
                Err(e) => {
                    debug!("connection {id} with {}: write failed: {e}", conn.peer);
                    self.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
                    return;
                }
            }
        } else {
            if conn.output.is_empty() {
                conn.begin_queueing(now, &mut self.spare_output);
            }
            conn.output.prepend(sent);
        }
        if self.offer.queued(id, conn) > self.config.high_watermark {
            conn.flags.insert(Flags::PAUSED_BY_OUTPUT);
        }
        self.after_write(id);
    }
}
