//! `Bytes`: a key or a value, stored inline when short.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest string kept inside the `Bytes` itself, with no allocation.
const INLINE_BYTES: usize = 22;

/// An immutable byte string of 24 bytes: up to 22 bytes inline, longer
/// ones in a heap allocation of exactly their length.
///
/// Most keys and many values are short (`key:000000012345`, a counter, a
/// flag), and for them this saves the heap allocation and its header that
/// a `Box<[u8]>` would cost: a million short keys with short values take
/// two 24-byte fields per entry and nothing else. It hashes and compares as
/// the `[u8]` it holds, so a map keyed by it is searched with a `&[u8]`.
///
/// # Examples
///
/// ```
/// use kv::Bytes;
///
/// let short = Bytes::from(&b"key:1"[..]);
/// let long = Bytes::from(&[b'x'; 100][..]);
/// assert_eq!(&*short, b"key:1");
/// assert_eq!(long.len(), 100);
/// assert_eq!(std::mem::size_of::<Bytes>(), 24);
/// ```
#[derive(Clone)]
pub enum Bytes {
    /// Short: the bytes themselves.
    Inline {
        /// How many of `data` are used.
        len: u8,
        /// The bytes, zero-padded.
        data: [u8; INLINE_BYTES],
    },
    /// Long: an allocation of exactly the length.
    Heap(Box<[u8]>),
}

impl Bytes {
    /// The bytes, as a slice.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..usize::from(*len)],
            Bytes::Heap(bytes) => bytes,
        }
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        if bytes.len() <= INLINE_BYTES {
            let mut data = [0; INLINE_BYTES];
            data[..bytes.len()].copy_from_slice(bytes);
            Bytes::Inline { len: bytes.len() as u8, data }
        } else {
            Bytes::Heap(bytes.into())
        }
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        if bytes.len() <= INLINE_BYTES {
            Bytes::from(bytes.as_slice())
        } else {
            Bytes::Heap(bytes.into_boxed_slice())
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for Bytes {
    // As `[u8]` hashes, which `Borrow<[u8]>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Bytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    /// Bytewise, as the slices compare (and as Redis's `memcmp` orders
    /// members of one score).
    fn cmp(&self, other: &Bytes) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_slice().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_exact() {
        for len in [0, 1, INLINE_BYTES, INLINE_BYTES + 1, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let bytes = Bytes::from(data.as_slice());
            assert_eq!(bytes.as_slice(), data.as_slice(), "{len} bytes round trip");
            assert_eq!(matches!(bytes, Bytes::Inline { .. }), len <= INLINE_BYTES, "{len} bytes inline?");
            assert_eq!(Bytes::from(data.clone()), bytes, "from a Vec the same as from a slice");
        }
    }

    #[test]
    fn hashes_as_the_slice_it_holds() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        for text in [&b"k"[..], &[7u8; 40][..]] {
            assert_eq!(state.hash_one(Bytes::from(text)), state.hash_one(text), "lookups by &[u8] find it");
        }
    }
}
