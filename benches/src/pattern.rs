//! The bytes each client connection sends, chosen so that every echoed byte
//! can be checked cheaply: a fixed pseudo-random sequence, each connection
//! starting at its own offset into it.
//!
//! A server that drops, repeats, reorders or swaps bytes between
//! connections shows up as a mismatch at a known stream offset.

/// Period of the sequence: a prime, so message boundaries fall at a
/// different place in it every time around.
const PERIOD: usize = 65_521;

/// The sequence, stored with its first `window` bytes repeated at the end so
/// that any run of up to `window` bytes starting anywhere in one period is
/// one contiguous slice (no wrap-around while sending or comparing).
#[derive(Debug)]
pub(crate) struct Pattern {
    bytes: Vec<u8>,
    window: usize,
}

impl Pattern {
    /// A pattern whose slices may be up to `window` bytes long.
    pub(crate) fn new(window: usize) -> Pattern {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let period: Vec<u8> = (0..PERIOD)
            .map(|_| {
                // xorshift64: fast, and no run of it looks like another.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let bytes = period.iter().copied().cycle().take(PERIOD + window).collect();
        Pattern { bytes, window }
    }

    /// Where connection number `index`'s stream starts in the sequence:
    /// spread out, and distinct for every index below the period.
    pub(crate) fn start_of(index: usize) -> usize {
        index.wrapping_mul(6_553) % PERIOD
    }

    /// The `len` bytes at `offset` of the stream that starts at `start`.
    ///
    /// # Panics
    ///
    /// If `len` exceeds the window the pattern was built for.
    pub(crate) fn slice(&self, start: usize, offset: u64, len: usize) -> &[u8] {
        assert!(len <= self.window, "slice of {len} bytes from a pattern built for {}", self.window);
        let at = ((start as u64 + offset) % PERIOD as u64) as usize;
        &self.bytes[at..at + len]
    }

    /// Where `received`, found at `offset` of the stream that starts at
    /// `start`, first differs from what was sent; `None` when it matches.
    pub(crate) fn first_mismatch(&self, start: usize, offset: u64, received: &[u8]) -> Option<usize> {
        let expected = self.slice(start, offset, received.len());
        if expected == received {
            return None;
        }
        expected.iter().zip(received).position(|(want, got)| want != got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_continue_across_the_period() {
        let pattern = Pattern::new(1024);
        let start = Pattern::start_of(7);
        let whole = pattern.slice(start, PERIOD as u64 - 10, 20).to_vec();
        let (first, second) = whole.split_at(10);
        assert_eq!(first, pattern.slice(start, PERIOD as u64 - 10, 10));
        assert_eq!(second, pattern.slice(start, PERIOD as u64, 10));
        assert_eq!(second, pattern.slice(start, 0, 10), "the sequence repeats with its period");
    }

    #[test]
    fn a_swapped_byte_is_found_where_it_is() {
        let pattern = Pattern::new(512);
        let mut received = pattern.slice(Pattern::start_of(3), 100, 512).to_vec();
        assert_eq!(pattern.first_mismatch(Pattern::start_of(3), 100, &received), None);
        received[77] ^= 0xff;
        assert_eq!(pattern.first_mismatch(Pattern::start_of(3), 100, &received), Some(77));
    }

    #[test]
    fn another_connection_stream_does_not_match() {
        let pattern = Pattern::new(512);
        let theirs = pattern.slice(Pattern::start_of(1), 0, 512).to_vec();
        assert!(pattern.first_mismatch(Pattern::start_of(2), 0, &theirs).is_some());
    }
}
