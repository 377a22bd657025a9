//! Output: sends are gathered per connection, and each connection that got
//! output is written once per turn, just before the loop polls again
//! (Redis's `handleClientsWithPendingWrites`); then what follows from
//! output leaving the queue: resuming reads and `on_drain`, a deferred FIN,
//! a deferred close.

use log::{debug, info};

use super::timers::{deadline_after, TimerKind};
use crate::conn::Flags;
use crate::conn::{Closing, Phase};
use crate::{CloseReason, ConnId, Ctx};

impl Ctx {
    /// Appends `data` to `id`'s output (`id` known live and accepting
    /// output), applying the limits, and puts `id` on the flush list.
    #[inline(never)]
    pub(crate) fn queue_output(&mut self, id: ConnId, data: &[u8]) -> bool {
        let high_watermark = self.config.high_watermark;
        let conn = &mut self.conns[id];
        let queued = self.offer.queued(id, conn) + data.len();
        if queued > conn.max_output_bytes {
            info!(
                "connection {id} with {}: {queued} bytes of output queued, over its limit of {}: closing",
                conn.peer, conn.max_output_bytes
            );
            self.close_with(id, Closing::Now(CloseReason::OutputLimit));
            return false;
        }
        if conn.output.is_empty() {
            conn.begin_queueing(self.now, &mut self.spare_output);
        }
        conn.output.extend(data);
        if queued > high_watermark {
            conn.flags.insert(Flags::PAUSED_BY_OUTPUT);
        }
        if !conn.flags.any(Flags::FLUSH_QUEUED) {
            conn.flags.insert(Flags::FLUSH_QUEUED);
            self.flush_queue.push(id);
        }
        true
    }

    /// Writes every connection that gathered output since the last flush:
    /// one `write(2)` each, however many sends made it. A connection still
    /// connecting is written once it opens; one written already this turn
    /// (its output went out with the input it echoed, or on a writable
    /// edge) waits for the next turn, which then polls without sleeping.
    pub(crate) fn flush_gathered(&mut self) {
        let mut queue = std::mem::take(&mut self.flush_queue);
        for &id in &queue {
            let Some(conn) = self.conns.get_mut(id) else { continue };
            if conn.phase() == Phase::Open && conn.written_turn == self.turn && !conn.output.is_empty() {
                self.flush_queue.push(id);
                continue;
            }
            conn.flags.remove(Flags::FLUSH_QUEUED);
            if conn.phase() == Phase::Open {
                self.write_out(id);
            }
        }
        queue.clear();
        if self.flush_queue.is_empty() {
            self.flush_queue = queue; // keep the allocation for the next turn
        }
    }

    /// One write of `id`'s queued output (`id` known present), then what
    /// follows from it.
    pub(crate) fn write_out(&mut self, id: ConnId) {
        let now = self.now;
        let conn = &mut self.conns[id];
        if matches!(conn.closing(), Closing::Now(_)) {
            return;
        }
        match conn.write_output(&mut self.stats, now, self.turn) {
            Ok(_) if !conn.has_output() && conn.settled_after_write() => {}
            Ok(_) => self.after_write(id),
            Err(e) => {
                debug!("connection {id} with {}: write failed: {e}", conn.peer);
                self.close_with(id, Closing::Now(CloseReason::from_io_error(&e)));
            }
        }
    }

    /// After a write of `id`'s output: an emptied buffer goes back to the
    /// spare list, then [`after_output_progress`](Ctx::after_output_progress).
    pub(crate) fn after_write(&mut self, id: ConnId) {
        let conn = &mut self.conns[id];
        if conn.output.is_empty() && conn.output.has_storage() {
            self.spare_output.give(&mut conn.output);
        }
        self.after_output_progress(id);
    }

    /// Follows up on a write of `id`'s output: arms the write timeout while
    /// output waits on the socket; resumes a connection paused at the high
    /// watermark once it falls to the low one; sends the FIN or closes once
    /// the queue is empty, if that was asked for.
    pub(crate) fn after_output_progress(&mut self, id: ConnId) {
        let low_watermark = self.config.low_watermark;
        let write_timeout = self.config.write_timeout;
        let conn = &mut self.conns[id];
        if conn.has_output() && conn.write_timer.is_none() {
            if let Some(timeout) = write_timeout {
                let deadline = deadline_after(conn.last_write_progress, timeout);
                conn.write_timer = Some(self.timers.insert(deadline, TimerKind::Write(id)));
            }
        }
        if conn.flags.any(Flags::PAUSED_BY_OUTPUT) && self.offer.queued(id, conn) <= low_watermark {
            conn.flags.remove(Flags::PAUSED_BY_OUTPUT);
            conn.last_input = self.now;
            conn.flags.remove(Flags::INPUT_STALLED);
            self.drained.push(id);
            self.schedule_read(id);
        }
        let conn = &self.conns[id];
        if conn.has_output() {
            return;
        }
        if conn.flags.any(Flags::SHUTDOWN_PENDING) {
            self.finish_shutdown_write(id);
        }
        if matches!(self.conns[id].closing(), Closing::AfterFlush(_)) {
            self.closing.push(id);
        }
    }

    /// Sends the FIN a `shutdown_write` asked for, now that output is flushed.
    pub(crate) fn finish_shutdown_write(&mut self, id: ConnId) {
        let conn = &mut self.conns[id];
        conn.flags.remove(Flags::SHUTDOWN_PENDING);
        if conn.flags.any(Flags::WRITE_CLOSED) {
            return;
        }
        conn.flags.insert(Flags::WRITE_CLOSED);
        match conn.stream.shutdown_write() {
            Ok(()) if conn.flags.any(Flags::READ_CLOSED) => {
                let reason = conn.eof_reason();
                self.close_with(id, Closing::Now(reason))
            }
            Ok(()) => {}
            Err(e) => self.close_with(id, Closing::Now(CloseReason::from_io_error(&e))),
        }
    }
}
