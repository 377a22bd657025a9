//! Messages from other threads: taking them from the loop's queue, a
//! bounded number per turn, and handing them to `on_message` (or, for a
//! group's acceptor, adopting the connection they carry).

use super::panic_guard::guard;
use super::EventLoop;
use crate::ctx::Ready;
use crate::loop_handle::Envelope;
use crate::Handler;

/// Messages from other threads delivered per turn before the loop serves
/// sockets again (the rest wait on the ready list).
const MESSAGES_PER_TURN: usize = 1024;

impl<H: Handler> EventLoop<H> {
    /// Delivers messages from other threads, at most
    /// [`MESSAGES_PER_TURN`] per turn however often the waker rings.
    pub(super) fn drain_inbox(&mut self) {
        self.inbox.acknowledge_wake();
        if self.inbox.take_stop_request() {
            self.cx.stop();
        }
        while self.messages_in_turn < MESSAGES_PER_TURN {
            let Some(envelope) = self.inbox.try_next() else { return };
            self.messages_in_turn += 1;
            let message = match envelope {
                Envelope::Message(message) => message,
                Envelope::Adopt(adoption) => {
                    self.adopt(*adoption);
                    // Counted as open before it stops counting as handed
                    // over, so the acceptor never sees this loop's load dip
                    // and hands it the next connection too.
                    self.inbox.publish_open(self.cx.conns.len());
                    self.inbox.took_handed_over();
                    continue;
                }
            };
            self.cx.stats.messages += 1;
            let EventLoop { cx, handler, .. } = self;
            guard(cx.config.panic_policy, "on_message", || handler.on_message(cx, message));
            self.after_dispatch();
        }
        self.schedule_messages();
    }

    /// Puts the message queue on the ready list, once.
    pub(super) fn schedule_messages(&mut self) {
        if !self.messages_on_ready_list {
            self.messages_on_ready_list = true;
            self.cx.ready.push_back(Ready::Messages);
        }
    }
}
