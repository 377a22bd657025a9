//! The bytes the load mode sends: a pseudo-random stream per (connection,
//! message), so an echo that is corrupted, reordered, or delivered to the
//! wrong connection differs from what the receiver recomputes.

/// Which message of which connection: seeds its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stream {
    pub(crate) connection: u32,
    pub(crate) message: u32,
}

impl Stream {
    /// Writes the stream's bytes `offset..offset + out.len()` into `out`.
    pub(crate) fn fill(self, offset: usize, out: &mut [u8]) {
        let seed = (u64::from(self.connection) << 32) | u64::from(self.message);
        let mut word_index = offset / 8;
        let mut skip = offset % 8;
        let mut written = 0;
        while written < out.len() {
            let word = splitmix64(seed ^ (word_index as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)).to_le_bytes();
            let take = (8 - skip).min(out.len() - written);
            out[written..written + take].copy_from_slice(&word[skip..skip + take]);
            written += take;
            skip = 0;
            word_index += 1;
        }
    }
}

/// SplitMix64's output function: cheap, and every input bit changes about
/// half the output bits.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(stream: Stream, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        stream.fill(0, &mut out);
        out
    }

    #[test]
    fn any_slice_matches_the_whole_stream() {
        let stream = Stream { connection: 7, message: 3 };
        let all = whole(stream, 100);
        for start in 0..100 {
            for end in start..=100 {
                let mut part = vec![0; end - start];
                stream.fill(start, &mut part);
                assert_eq!(part, all[start..end], "bytes {start}..{end}");
            }
        }
    }

    #[test]
    fn connections_and_messages_get_different_bytes() {
        let a = whole(Stream { connection: 1, message: 0 }, 64);
        let b = whole(Stream { connection: 0, message: 1 }, 64);
        let c = whole(Stream { connection: 1, message: 1 }, 64);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }
}
