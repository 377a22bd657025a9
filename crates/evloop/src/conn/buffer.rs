//! A byte queue that holds no memory while empty, and the spare
//! allocations output buffers reuse.

/// Bytes waiting: unconsumed input or unsent output of one connection.
///
/// Consuming from the front moves a cursor instead of shifting bytes; the
/// live bytes move to the front only when the dead prefix is larger than
/// what is left. Draining it completely frees the allocation, so an idle
/// connection holds no buffer at all.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    bytes: Vec<u8>,
    head: usize,
}

impl Buffer {
    /// Bytes held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.head
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, oldest first.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[self.head..]
    }

    /// Appends `data` at the back.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        if self.head > 0 && self.head >= self.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
        self.bytes.extend_from_slice(data);
    }

    /// Puts `data` in front of the bytes held.
    pub(crate) fn prepend(&mut self, data: &[u8]) {
        if data.len() <= self.head {
            self.head -= data.len();
            self.bytes[self.head..self.head + data.len()].copy_from_slice(data);
        } else {
            let mut bytes = Vec::with_capacity(data.len() + self.len());
            bytes.extend_from_slice(data);
            bytes.extend_from_slice(self.as_slice());
            self.bytes = bytes;
            self.head = 0;
        }
    }

    /// Drops `n` bytes from the front (all of them if `n` is larger).
    /// Emptied, it frees its memory.
    pub(crate) fn consume(&mut self, n: usize) {
        if self.consume_keeping(n) {
            *self = Buffer::default();
        }
    }

    /// Drops `n` bytes from the front, keeping the allocation even when
    /// that empties it (for [`take_storage`](Buffer::take_storage)).
    /// Returns whether it is empty now.
    pub(crate) fn consume_keeping(&mut self, n: usize) -> bool {
        self.head += n.min(self.len());
        if self.head == self.bytes.len() {
            self.bytes.clear();
            self.head = 0;
            return true;
        }
        false
    }

    /// Takes the (empty) allocation out, leaving the buffer holding none.
    pub(crate) fn take_storage(&mut self) -> Vec<u8> {
        debug_assert!(self.is_empty());
        self.head = 0;
        std::mem::take(&mut self.bytes)
    }

    /// Gives an empty buffer that holds no allocation `storage` to fill.
    pub(crate) fn adopt(&mut self, storage: Vec<u8>) {
        debug_assert!(self.bytes.capacity() == 0 && storage.is_empty());
        self.bytes = storage;
        self.head = 0;
    }

    /// Whether it holds an allocation.
    #[inline]
    pub(crate) fn has_storage(&self) -> bool {
        self.bytes.capacity() > 0
    }

    /// Bytes allocated.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

/// Emptied output buffers kept for the next connection that gets output,
/// so a reply costs a copy but no allocation, while an idle connection
/// still holds no buffer. Bounded: past [`SpareOutput::MAX_BYTES`] of
/// spare capacity, or for one buffer larger than
/// [`SpareOutput::MAX_BUFFER_BYTES`], the memory goes back to the
/// allocator.
#[derive(Debug, Default)]
pub(crate) struct SpareOutput {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl SpareOutput {
    const MAX_BYTES: usize = 1024 * 1024;
    const MAX_BUFFER_BYTES: usize = 64 * 1024;

    /// An empty buffer with some capacity, if one is spare.
    pub(crate) fn take(&mut self) -> Option<Vec<u8>> {
        let storage = self.buffers.pop()?;
        self.bytes -= storage.capacity();
        Some(storage)
    }

    /// Takes `buffer`'s (empty) allocation, or lets it be freed.
    pub(crate) fn give(&mut self, buffer: &mut Buffer) {
        let capacity = buffer.capacity();
        let storage = buffer.take_storage();
        if capacity <= Self::MAX_BUFFER_BYTES && self.bytes + capacity <= Self::MAX_BYTES {
            self.bytes += capacity;
            self.buffers.push(storage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bytes_in_order_across_consume_and_extend() {
        let mut buf = Buffer::default();
        buf.extend(b"hello ");
        buf.consume(2);
        buf.extend(b"world");
        assert_eq!(buf.as_slice(), b"llo world");
        buf.consume(4);
        assert_eq!(buf.as_slice(), b"world");
    }

    #[test]
    fn draining_frees_the_allocation() {
        let mut buf = Buffer::default();
        buf.extend(&[7; 4096]);
        assert!(buf.capacity() >= 4096);
        buf.consume(4096);
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 0, "an empty buffer must hold no memory");
    }

    #[test]
    fn prepend_goes_in_front_whether_or_not_the_dead_prefix_has_room() {
        let mut buf = Buffer::default();
        buf.prepend(b"late");
        assert_eq!(buf.as_slice(), b"late");
        buf.extend(b"123456");
        buf.consume(5);
        buf.prepend(b"ab");
        assert_eq!(buf.as_slice(), b"ab23456", "into the consumed prefix");
        buf.prepend(b"0123456789");
        assert_eq!(buf.as_slice(), b"0123456789ab23456", "past it");
    }

    #[test]
    fn over_consume_empties_without_panicking() {
        let mut buf = Buffer::default();
        buf.extend(b"abc");
        buf.consume(10);
        assert_eq!(buf.len(), 0);
    }

    #[test]
    fn dead_prefix_is_reclaimed_before_growing() {
        let mut buf = Buffer::default();
        buf.extend(&[1; 1000]);
        buf.consume(900);
        buf.extend(&[2; 50]);
        assert_eq!(buf.len(), 150);
        assert!(buf.capacity() < 2000, "the consumed prefix should have been reused");
        assert_eq!(&buf.as_slice()[..100], &[1; 100][..]);
        assert_eq!(&buf.as_slice()[100..], &[2; 50][..]);
    }
}
