//! Connection and timer identifiers.

use std::fmt;
use std::num::NonZeroU64;

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
