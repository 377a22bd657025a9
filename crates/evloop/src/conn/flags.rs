//! A connection's yes/no state, one bit each.
//!
//! The hot path asks several of these at once ("may this connection read?",
//! "may it still send?"): as bits, each question is one mask test, where
//! separate `bool` fields cost a load and a branch apiece, and the record
//! is smaller (`benches/scripts/instructions_per_message.sh` counts the
//! first; `conn::table`'s slot-size test holds the second).

use std::fmt;

/// A set of [`Flags`] bits.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

impl Flags {
    /// `on_data` consumed nothing of the kept input the last time it was
    /// offered: offer it again only with more bytes, or once reading
    /// resumes. Meaningless while the input is empty.
    pub(crate) const INPUT_STALLED: Flags = Flags(1 << 0);
    /// On the loop's list of connections to flush before it polls again.
    pub(crate) const FLUSH_QUEUED: Flags = Flags(1 << 1);
    /// Readiness seen and not yet drained (edge-triggered: no second edge
    /// comes until we read to `WouldBlock` or a short read).
    pub(crate) const READABLE: Flags = Flags(1 << 2);
    /// A short read proves nothing now: the peer's FIN or an error was
    /// signalled (read on to the end of file, or it would never be seen),
    /// or urgent data was (a read stops short at the urgent mark). Cleared
    /// by `WouldBlock`.
    pub(crate) const READ_UNTIL_WOULD_BLOCK: Flags = Flags(1 << 3);
    /// The socket took the last write whole; clear until a writable edge.
    pub(crate) const WRITABLE: Flags = Flags(1 << 4);
    /// End of file read from the peer.
    pub(crate) const READ_CLOSED: Flags = Flags(1 << 5);
    /// `shutdown_write` asked for: send FIN once output is flushed. While
    /// lingering: the FIN waits until the kernel has sent every byte.
    pub(crate) const SHUTDOWN_PENDING: Flags = Flags(1 << 6);
    /// FIN sent.
    pub(crate) const WRITE_CLOSED: Flags = Flags(1 << 7);
    /// The application paused reading.
    pub(crate) const PAUSED_BY_APP: Flags = Flags(1 << 8);
    /// Queued output passed the high watermark.
    pub(crate) const PAUSED_BY_OUTPUT: Flags = Flags(1 << 9);
    /// Already waiting on the ready list.
    pub(crate) const ON_READY_LIST: Flags = Flags(1 << 10);
    /// The write timeout found no progress, but a probe write was taken:
    /// one more check decides whether the peer is reading.
    pub(crate) const WRITE_PROBED: Flags = Flags(1 << 11);
    /// The phase is `Connecting`. Set only with the phase (`Conn::set_phase`).
    pub(crate) const CONNECTING: Flags = Flags(1 << 12);
    /// The phase is `Lingering`. Set only with the phase.
    pub(crate) const LINGERING: Flags = Flags(1 << 13);
    /// Closing was asked for (`Closing` is not `No`). Set only with it
    /// (`Conn::set_closing`).
    pub(crate) const CLOSING: Flags = Flags(1 << 14);
    /// Accepted from a listener (not connected out): counted against its
    /// peer's address under `max_connections_per_ip`. A bit, not the
    /// `Origin` (16 bytes), to keep the record small.
    pub(crate) const INBOUND: Flags = Flags(1 << 15);

    /// Input may not be taken: not open, closing, at end of file, or paused.
    pub(crate) const NO_READ: Flags = Flags::CONNECTING
        .union(Flags::LINGERING)
        .union(Flags::CLOSING)
        .union(Flags::READ_CLOSED)
        .union(Flags::PAUSED_BY_APP)
        .union(Flags::PAUSED_BY_OUTPUT);
    /// `send` may not add output: closing, write side shut or shutting, or
    /// no longer the application's.
    pub(crate) const NO_OUTPUT: Flags =
        Flags::LINGERING.union(Flags::CLOSING).union(Flags::SHUTDOWN_PENDING).union(Flags::WRITE_CLOSED);
    /// A write that empties the output has more to do: resume reading,
    /// send the FIN, or close.
    pub(crate) const WAITING_ON_FLUSH: Flags =
        Flags::PAUSED_BY_OUTPUT.union(Flags::SHUTDOWN_PENDING).union(Flags::CLOSING);

    /// Both sets' bits.
    pub(crate) const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether any bit of `bits` is set.
    #[inline]
    pub(crate) fn any(self, bits: Flags) -> bool {
        self.0 & bits.0 != 0
    }

    /// Sets the bits of `bits`.
    #[inline]
    pub(crate) fn insert(&mut self, bits: Flags) {
        self.0 |= bits.0;
    }

    /// Clears the bits of `bits`.
    #[inline]
    pub(crate) fn remove(&mut self, bits: Flags) {
        self.0 &= !bits.0;
    }

    /// Sets or clears the bits of `bits`.
    #[inline]
    pub(crate) fn set(&mut self, bits: Flags, on: bool) {
        if on {
            self.insert(bits);
        } else {
            self.remove(bits);
        }
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 16] = [
            "INPUT_STALLED",
            "FLUSH_QUEUED",
            "READABLE",
            "READ_UNTIL_WOULD_BLOCK",
            "WRITABLE",
            "READ_CLOSED",
            "SHUTDOWN_PENDING",
            "WRITE_CLOSED",
            "PAUSED_BY_APP",
            "PAUSED_BY_OUTPUT",
            "ON_READY_LIST",
            "WRITE_PROBED",
            "CONNECTING",
            "LINGERING",
            "CLOSING",
            "INBOUND",
        ];
        let set = NAMES.iter().enumerate().filter(|(bit, _)| self.0 & (1 << bit) != 0).map(|(_, name)| name);
        f.debug_set().entries(set).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear_touch_only_their_bits() {
        let mut flags = Flags::default();
        flags.insert(Flags::READABLE.union(Flags::WRITABLE));
        flags.set(Flags::READABLE, false);
        assert!(!flags.any(Flags::READABLE));
        assert!(flags.any(Flags::WRITABLE));
        flags.set(Flags::PAUSED_BY_APP, true);
        assert!(flags.any(Flags::NO_READ));
        flags.remove(Flags::PAUSED_BY_APP);
        assert!(!flags.any(Flags::NO_READ));
        assert_eq!(format!("{flags:?}"), "{\"WRITABLE\"}");
    }

    #[test]
    fn connecting_may_queue_output_but_not_read() {
        assert!(Flags::CONNECTING.any(Flags::NO_READ));
        assert!(!Flags::CONNECTING.any(Flags::NO_OUTPUT));
        assert!(Flags::LINGERING.any(Flags::NO_OUTPUT));
    }
}
