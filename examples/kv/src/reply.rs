//! RESP2 replies: built into one buffer per reply and sent with one
//! `Ctx::send`, except the bytes of a long value, which go from the store
//! to the connection's output with no copy in between.

use evloop::{ConnId, Ctx};

/// Values up to this long are copied into the reply buffer with their
/// header, so a reply is one `send`; longer ones are sent from where they
/// are stored, so a large `GET` is copied once, into the socket's output.
const COPY_VALUE_BYTES: usize = 4 * 1024;

/// Redis's `-ERR syntax error`.
pub const SYNTAX_ERROR: &str = "ERR syntax error";

/// Redis's reply to an argument that should be an integer.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// Where one command's reply goes: the connection and a reusable buffer.
///
/// Each method appends one RESP2 element to the buffer; [`flush`](Out::flush)
/// sends what is there. The handler sends the buffer once per read (or
/// once it holds 16 KiB), so the replies to a pipeline cost one `send`,
/// and evloop writes the sends of one turn with one write.
#[derive(Debug)]
pub struct Out<'c> {
    /// The loop, for what a command does besides replying.
    pub cx: &'c mut Ctx,
    /// The connection the command came from.
    pub id: ConnId,
    buf: &'c mut Vec<u8>,
}

impl<'c> Out<'c> {
    /// Replies to `id` built in `buf` (left empty after each flush).
    pub fn new(cx: &'c mut Ctx, id: ConnId, buf: &'c mut Vec<u8>) -> Out<'c> {
        Out { cx, id, buf }
    }

    /// The same destination for a shorter while: what `EXEC` hands each
    /// queued command.
    pub fn reborrow(&mut self) -> Out<'_> {
        Out { cx: self.cx, id: self.id, buf: self.buf }
    }

    /// Sends what the buffer holds.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.cx.send(self.id, self.buf);
            self.buf.clear();
        }
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply, `+text`.
    pub fn status(&mut self, text: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply, `-text`: `text` starts with its code (`ERR`,
    /// `WRONGTYPE`). Line breaks in it become spaces, as Redis makes them,
    /// so an argument quoted in an error cannot break the protocol.
    pub fn error(&mut self, text: &str) {
        self.buf.push(b'-');
        self.buf.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer reply, `:n`.
    pub fn int(&mut self, n: i64) {
        self.buf.push(b':');
        push_decimal(self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string reply, `$len` and the bytes.
    pub fn bulk(&mut self, value: &[u8]) {
        if value.len() <= COPY_VALUE_BYTES {
            return push_bulk(self.buf, value);
        }
        self.buf.push(b'$');
        push_decimal(self.buf, value.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.flush();
        self.cx.send(self.id, value);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string reply or, for `None`, the nil bulk string `$-1`.
    pub fn bulk_or_nil(&mut self, value: Option<&[u8]>) {
        match value {
            Some(value) => self.bulk(value),
            None => self.nil(),
        }
    }

    /// The nil bulk string, `$-1`.
    pub fn nil(&mut self) {
        self.buf.extend_from_slice(b"$-1\r\n");
    }

    /// The header of an array of `len` elements, `*len`; the elements follow.
    pub fn array(&mut self, len: usize) {
        self.buf.push(b'*');
        push_decimal(self.buf, len as i64);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// The nil array, `*-1`.
    pub fn array_nil(&mut self) {
        self.buf.extend_from_slice(b"*-1\r\n");
    }

    /// Bytes already in RESP form.
    pub fn raw(&mut self, resp: &[u8]) {
        self.buf.extend_from_slice(resp);
    }
}

/// Appends the bulk string `$len\r\nvalue\r\n` to `out`.
#[inline]
pub fn push_bulk(out: &mut Vec<u8>, value: &[u8]) {
    let len = value.len();
    // One reservation, then fixed-size pieces the compiler writes in
    // place: only the value itself is a copy of unknown length.
    out.reserve(len + 24);
    if len < 10 {
        out.extend_from_slice(&[b'$', b'0' + len as u8, b'\r', b'\n']);
    } else if len < 100 {
        out.extend_from_slice(&[b'$', b'0' + (len / 10) as u8, b'0' + (len % 10) as u8, b'\r', b'\n']);
    } else {
        out.push(b'$');
        push_decimal(out, len as i64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal without going through `fmt`.
pub fn push_decimal(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// `n` in decimal, written into `buf`: no allocation (an `INCR` stores
/// its result from here).
pub fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut magnitude = n.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    // 19 digits at most: room for the sign.
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::push_decimal;

    #[test]
    fn small_and_large_bulks_are_encoded_alike() {
        for len in [0, 1, 9, 10, 55, 56, 57, 100, 5000] {
            let value = vec![b'v'; len];
            let mut small = Vec::new();
            super::push_bulk(&mut small, &value);
            assert_eq!(small, [format!("${len}\r\n").as_bytes(), &value, b"\r\n"].concat(), "{len} bytes");
        }
    }

    #[test]
    fn decimals_read_as_format_writes_them() {
        for n in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
