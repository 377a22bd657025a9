//! Tokens: what an event is about. A connection's token packs its
//! [`ConnId`] (slot index low, generation high), so an event for a closed
//! connection cannot match its successor in the same slot; the top of the
//! index space is reserved for the signal source, listeners and the waker.

use mio::Token;

use crate::ConnId;

/// Packs `id` into a `Token`: index in the low 32 bits, generation in the
/// high 32, so an event for a closed connection cannot match its
/// successor in the same slot.
#[inline]
pub(crate) fn conn_token(id: ConnId) -> Token {
    Token(((id.generation() as u64) << 32 | id.index() as u64) as usize)
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
            assert_eq!(decode_token(conn_token(id)), Source::Conn(id), "{id:?}");
        }
    }

    #[test]
    fn reused_slot_packs_to_a_different_token() {
        let old = ConnId::from_parts(5, 1);
        let new = ConnId::from_parts(5, 2);
        assert_ne!(conn_token(old), conn_token(new));
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
        let highest = conn_token(ConnId::from_parts(MAX_CONN_INDEX, 0));
        assert!(highest.0 < SIGNALS_TOKEN.0);
        assert!(SIGNALS_TOKEN.0 < listener_token(MAX_LISTENERS - 1).0);
    }
}
