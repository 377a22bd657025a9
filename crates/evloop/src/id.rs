//! Connection and timer identifiers, and how they pack into a mio `Token`.

use std::fmt;
use std::num::NonZeroU64;

use mio::Token;

/// Identifies one connection for as long as it lives, and never another.
///
/// A `ConnId` is a slab index plus a generation that changes every time the
/// slot is freed. Once its connection has closed, the id stays stale forever,
/// even after the slot is reused: every [`Ctx`](crate::Ctx) method given a
/// stale id does nothing and says so (`false`, `None` or an error).
///
/// # Examples
///
/// ```
/// use evloop::ConnId;
/// let a = ConnId::from_parts(3, 0);
/// let b = ConnId::from_parts(3, 1); // the same slot, reused
/// assert_ne!(a, b);
/// assert_eq!(a.index(), b.index());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// Builds an id from a slot index and a generation. Applications get ids
    /// from the loop; this exists for tests and for keys in external maps.
    pub const fn from_parts(index: u32, generation: u32) -> ConnId {
        ConnId { index, generation }
    }

    /// The slab slot this connection occupies (reused after it closes).
    pub const fn index(self) -> u32 {
        self.index
    }

    /// How many connections occupied this slot before this one.
    pub const fn generation(self) -> u32 {
        self.generation
    }

    /// Packs the id into a `Token`: index in the low 32 bits, generation in
    /// the high 32, so an event for a closed connection cannot match its
    /// successor in the same slot.
    pub(crate) fn to_token(self) -> Token {
        Token(((self.generation as u64) << 32 | self.index as u64) as usize)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({}v{})", self.index, self.generation)
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

/// Identifies a timer set with [`Ctx::set_timer`](crate::Ctx::set_timer) or
/// [`Ctx::set_conn_timer`](crate::Ctx::set_conn_timer). Like [`ConnId`] it
/// carries a sequence number, so cancelling a timer that already fired is a
/// no-op even after its slot is reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    pub(crate) index: u32,
    /// Never zero, so an `Option<TimerId>` (two in every connection) takes
    /// no more room than a `TimerId`.
    pub(crate) sequence: NonZeroU64,
}

impl fmt::Debug for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimerId({}#{})", self.index, self.sequence)
    }
}

/// Slab indices above this are never handed to connections: the token
/// space above it is reserved for the signal source, listeners and the waker.
pub(crate) const MAX_CONN_INDEX: u32 = u32::MAX - MAX_LISTENERS as u32 - 2;

/// How many listeners one loop can hold.
pub(crate) const MAX_LISTENERS: usize = 1024;

/// The waker's token: the cross-thread handle rings it.
pub(crate) const WAKER_TOKEN: Token = Token(u32::MAX as usize);

/// The token of the signal source (`EventLoop::stop_on_signals`), just
/// below the listeners'.
pub(crate) const SIGNALS_TOKEN: Token = Token(u32::MAX as usize - 1 - MAX_LISTENERS);

/// What an event's token refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Conn(ConnId),
    Listener(usize),
    Waker,
    Signals,
}

/// The token of listener number `slot`.
pub(crate) fn listener_token(slot: usize) -> Token {
    debug_assert!(slot < MAX_LISTENERS);
    Token(u32::MAX as usize - 1 - slot)
}

/// Decodes a token back into what it refers to. Only the low 32 bits decide
/// whether a token is reserved, so no generation can forge a listener token.
pub(crate) fn decode_token(token: Token) -> Source {
    let raw = token.0 as u64;
    let index = raw as u32;
    // Connections first: almost every event is one.
    if index <= MAX_CONN_INDEX || raw >> 32 != 0 {
        Source::Conn(ConnId::from_parts(index, (raw >> 32) as u32))
    } else if token == WAKER_TOKEN {
        Source::Waker
    } else if token == SIGNALS_TOKEN {
        Source::Signals
    } else {
        Source::Listener((u32::MAX - 1 - index) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_token_round_trips() {
        for (index, generation) in [(0, 0), (1, 7), (MAX_CONN_INDEX, u32::MAX), (12345, 1 << 31)] {
            let id = ConnId::from_parts(index, generation);
            assert_eq!(decode_token(id.to_token()), Source::Conn(id), "{id:?}");
        }
    }

    #[test]
    fn reused_slot_packs_to_a_different_token() {
        let old = ConnId::from_parts(5, 1);
        let new = ConnId::from_parts(5, 2);
        assert_ne!(old.to_token(), new.to_token());
    }

    #[test]
    fn listener_and_waker_tokens_decode_as_reserved() {
        assert_eq!(decode_token(WAKER_TOKEN), Source::Waker);
        assert_eq!(decode_token(SIGNALS_TOKEN), Source::Signals);
        for slot in [0, 1, MAX_LISTENERS - 1] {
            assert_eq!(decode_token(listener_token(slot)), Source::Listener(slot));
        }
    }

    #[test]
    fn reserved_tokens_never_collide_with_connections() {
        let highest = ConnId::from_parts(MAX_CONN_INDEX, 0).to_token();
        assert!(highest.0 < SIGNALS_TOKEN.0);
        assert!(SIGNALS_TOKEN.0 < listener_token(MAX_LISTENERS - 1).0);
    }
}
