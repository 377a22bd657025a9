//! Redis's request protocol (RESP2): arrays of bulk strings, and the inline
//! commands a person types into `nc`, parsed the way Redis 7 parses them.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::iter::FusedIterator;

mod inline;
mod request;

use inline::InlineArgs;
pub use request::{Args, Request};

/// The longest bulk string a [`RespDecoder::new`] accepts: 512 MiB, Redis's
/// `proto-max-bulk-len`.
pub const DEFAULT_MAX_BULK_BYTES: usize = 512 * 1024 * 1024;

/// The longest inline command, and the longest `*N` or `$N` header line,
/// before the decoder gives up on it: 64 KiB, Redis's `PROTO_INLINE_MAX_SIZE`.
pub const MAX_INLINE_BYTES: usize = 64 * 1024;

/// The most elements a request array may announce: `i32::MAX`, as in Redis.
/// What bounds memory is the input kept for a request, not this count.
pub const MAX_ARRAY_LEN: usize = i32::MAX as usize;

/// Splits the input of [`Handler::on_data`](crate::Handler::on_data) into
/// Redis requests, borrowed from the input: nothing is copied.
///
/// A request is either an array of bulk strings
/// (`*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n`, what every client library sends)
/// or, when its first byte is not `*`, an inline command: one line split
/// at blanks, with `"..."` and `'...'` quoting as in `redis-cli`
/// (`SET key "two words"\r\n`). Both are parsed as Redis 7's
/// `processMultibulkBuffer` and `processInlineBuffer` parse them: an empty
/// line and an array of zero or fewer elements are skipped, and the same
/// malformed input gets the same [`RespError`], whose text is Redis's.
///
/// Like [`LineDecoder`](crate::codec::LineDecoder), [`decode`](RespDecoder::decode)
/// yields every complete request in the bytes it is given and
/// [`Requests::consumed`] says how many bytes to return from `on_data`; an
/// unfinished request is left unconsumed, to be offered again with more
/// bytes behind it. The decoder remembers how far it got into that request,
/// so an array of many elements arriving in many reads is parsed once, not
/// once per read.
///
/// # Limits
///
/// A bulk string may be up to [`max_bulk_bytes`](RespDecoder::max_bulk_bytes)
/// long (512 MiB by default, as Redis's `proto-max-bulk-len`), an inline
/// command or header line up to [`MAX_INLINE_BYTES`]. The whole request
/// must be kept in the loop's input buffer until it is complete, so a
/// request can need more than the default
/// [`Config::max_input_bytes`](crate::Config::max_input_bytes):
/// after each `decode`, [`needed_input_bytes`](RespDecoder::needed_input_bytes)
/// says how much the unfinished request can need kept before the decoder
/// next makes progress, and a handler raises that connection's limit to it
/// ([`Ctx::set_max_input_bytes`](crate::Ctx::set_max_input_bytes)) up to a
/// bound of its own (Redis's `client-query-buffer-limit`, 1 GiB).
///
/// # Errors
///
/// Malformed input is a protocol error: [`Requests`] yields the
/// [`RespError`] after every complete request before it, then nothing
/// more, and counts all the input consumed. Redis answers it with
/// `-ERR Protocol error: ...` and closes the connection; the decoder does
/// not recover either, since where the next request begins is unknown.
///
/// # Examples
///
/// A server that answers every request with its argument count:
///
/// ```
/// use evloop::codec::RespDecoder;
/// use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
///
/// struct ArgCount;
///
/// impl Handler for ArgCount {
///     type Conn = RespDecoder;
///     type Message = ();
///
///     fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> RespDecoder {
///         RespDecoder::new()
///     }
///
///     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, decoder: &mut RespDecoder, data: &[u8]) -> usize {
///         let mut requests = decoder.decode(data);
///         for request in &mut requests {
///             match request {
///                 Ok(request) => cx.send(id, format!(":{}\r\n", request.len()).as_bytes()),
///                 Err(error) => {
///                     cx.send(id, format!("-ERR {error}\r\n").as_bytes());
///                     cx.close(id)
///                 }
///             };
///         }
///         requests.consumed()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut el = EventLoop::new(Config::default(), ArgCount)?;
/// el.listen("127.0.0.1:0".parse().unwrap())?;
/// # el.handle().stop().unwrap();
/// el.run()
/// # }
/// ```
///
/// Fed by hand, the way the loop feeds it:
///
/// ```
/// use evloop::codec::RespDecoder;
///
/// let mut decoder = RespDecoder::new();
/// let mut input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nEC".to_vec();
/// let mut requests = decoder.decode(&input);
/// let get = requests.next().unwrap().unwrap();
/// assert_eq!(get.args().collect::<Vec<_>>(), [&b"GET"[..], b"k"]);
/// let ping = requests.next().unwrap().unwrap();
/// assert_eq!(ping.args().collect::<Vec<_>>(), [&b"PING"[..]]);
/// assert!(requests.next().is_none()); // the third is unfinished
/// let consumed = requests.consumed();
///
/// input.drain(..consumed); // what the loop does with `on_data`'s return
/// input.extend_from_slice(b"HO\r\n");
/// let echo = decoder.decode(&input).next().unwrap().unwrap();
/// assert_eq!(echo.args().collect::<Vec<_>>(), [&b"ECHO"[..]]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespDecoder {
    max_bulk_bytes: usize,
    /// How far the last `decode` got into the array it left unfinished,
    /// which starts the next input.
    partial: Option<Partial>,
    /// Where each argument of the array being parsed lies: (start, length)
    /// from the array's first byte. Recorded as the headers are read, so
    /// [`Requests::next_args`] hands the arguments out without reading the
    /// request a second time, even one that arrived in many reads.
    spans: Vec<(usize, usize)>,
    /// A protocol error was reported: nothing more is decoded.
    failed: bool,
}

/// Argument spans kept between requests at most; a larger vector, left
/// by a request of very many arguments, is given back once it is done.
const KEPT_SPANS: usize = 1024;

/// An array request parsed up to `pos` of the input that begins with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Partial {
    /// Elements the array announced.
    argc: usize,
    /// Elements complete so far.
    done: usize,
    /// Where parsing goes on: after the last complete element, or after the
    /// `$N` header of the next when `bulk_len` is known.
    pos: usize,
    /// The length of the element whose header was read, if one was.
    bulk_len: Option<usize>,
}

impl RespDecoder {
    /// A decoder for bulk strings of up to [`DEFAULT_MAX_BULK_BYTES`].
    pub fn new() -> RespDecoder {
        RespDecoder::with_max_bulk_bytes(DEFAULT_MAX_BULK_BYTES)
    }

    /// A decoder for bulk strings of up to `max_bulk_bytes`; a longer one
    /// is the error [`RespError::InvalidBulkLength`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::{RespDecoder, RespError};
    ///
    /// let mut decoder = RespDecoder::with_max_bulk_bytes(4);
    /// let mut requests = decoder.decode(b"*1\r\n$5\r\nhello\r\n");
    /// assert_eq!(requests.next().unwrap().unwrap_err(), RespError::InvalidBulkLength);
    /// ```
    pub fn with_max_bulk_bytes(max_bulk_bytes: usize) -> RespDecoder {
        RespDecoder { max_bulk_bytes, partial: None, spans: Vec::new(), failed: false }
    }

    /// The longest bulk string accepted, in bytes.
    pub fn max_bulk_bytes(&self) -> usize {
        self.max_bulk_bytes
    }

    /// The most unconsumed input the request left unfinished by the last
    /// `decode` can need kept before the decoder next makes progress: what
    /// it holds so far plus the rest of the bulk string it is in (or one
    /// more header line). [`MAX_INLINE_BYTES`] plus a line ending when no
    /// request is unfinished. Raise the connection's input limit to this
    /// when it is higher than the limit in force.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::{RespDecoder, MAX_INLINE_BYTES};
    ///
    /// let mut decoder = RespDecoder::new();
    /// assert_eq!(decoder.needed_input_bytes(), MAX_INLINE_BYTES + 2);
    /// let header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n";
    /// assert_eq!(decoder.decode(header).count(), 0);
    /// assert_eq!(decoder.needed_input_bytes(), header.len() + 2_000_000 + 2);
    /// ```
    pub fn needed_input_bytes(&self) -> usize {
        let line = MAX_INLINE_BYTES + 2;
        match self.partial {
            Some(Partial { pos, bulk_len: Some(len), .. }) => pos.saturating_add(len).saturating_add(2),
            Some(Partial { pos, bulk_len: None, .. }) => pos.saturating_add(line),
            None => line,
        }
    }

    /// The requests in `data`: the unconsumed input of the last call
    /// followed by new bytes. Iterate, then return [`Requests::consumed`]
    /// from `on_data`.
    pub fn decode<'d, 'a>(&'d mut self, data: &'a [u8]) -> Requests<'d, 'a> {
        // A caller that fed other bytes than it was told to gets a reparse
        // rather than a slice out of bounds.
        if self.partial.is_some_and(|p| p.pos > data.len() || data.first() != Some(&b'*')) {
            self.partial = None;
            self.spans.clear();
        }
        Requests { decoder: self, data, consumed: 0 }
    }

    /// Parses the array at the front of `data`, from where the last call
    /// stopped, recording where each argument lies in `spans`. `Ok(None)`
    /// when it is unfinished; `Ok(Some((argc, len)))` for a complete array
    /// of `len` bytes (`argc` 0 for one to skip).
    ///
    /// One pass: each header is read once, its digits as they are scanned
    /// ([`quick_header`]); only an unusual one (a leading zero, a sign, no
    /// `\r` yet) takes the careful path that matches Redis's errors.
    fn array(&mut self, data: &[u8]) -> Result<Option<(usize, usize)>, RespError> {
        let mut p = match self.partial.take() {
            Some(partial) => partial,
            None => {
                self.spans.clear();
                let (argc, next) = match quick_header(data, 0) {
                    Some(header) => header,
                    None => {
                        let Some(next) = header_line(data, 0, RespError::TooBigArrayLength)? else {
                            return Ok(None);
                        };
                        match parse_redis_int(&data[1..next - 2]) {
                            Some(n) if n > MAX_ARRAY_LEN as i64 => return Err(RespError::InvalidArrayLength),
                            Some(n) if n <= 0 => return Ok(Some((0, next))),
                            Some(n) => (n as usize, next),
                            None => return Err(RespError::InvalidArrayLength),
                        }
                    }
                };
                if argc > MAX_ARRAY_LEN {
                    return Err(RespError::InvalidArrayLength);
                }
                if argc == 0 {
                    return Ok(Some((0, next)));
                }
                Partial { argc, done: 0, pos: next, bulk_len: None }
            }
        };
        while p.done < p.argc {
            let len = match p.bulk_len {
                Some(len) => len,
                None => {
                    let (len, next) = match quick_header(data, p.pos) {
                        Some(header) if data[p.pos] == b'$' => header,
                        _ => match self.careful_bulk_header(data, p.pos)? {
                            Some(header) => header,
                            None => {
                                self.partial = Some(p);
                                return Ok(None);
                            }
                        },
                    };
                    if len > self.max_bulk_bytes {
                        return Err(RespError::InvalidBulkLength);
                    }
                    p.pos = next;
                    p.bulk_len = Some(len);
                    len
                }
            };
            // Redis takes the two bytes after the string as its `\r\n`
            // without looking at them; so does this.
            if data.len() - p.pos < len.saturating_add(2) {
                self.partial = Some(p);
                return Ok(None);
            }
            self.spans.push((p.pos, len));
            p.pos += len + 2;
            p.bulk_len = None;
            p.done += 1;
        }
        Ok(Some((p.argc, p.pos)))
    }

    /// A `$N` header the quick path left, judged as Redis judges it:
    /// `Ok(None)` while its line is unfinished, else its length and where
    /// the next line begins, or Redis's error.
    fn careful_bulk_header(&self, data: &[u8], pos: usize) -> Result<Option<(usize, usize)>, RespError> {
        let Some(next) = header_line(data, pos, RespError::TooBigBulkLength)? else {
            return Ok(None);
        };
        if data[pos] != b'$' {
            return Err(RespError::ExpectedBulk(data[pos]));
        }
        match parse_redis_int(&data[pos + 1..next - 2]) {
            Some(n) if n >= 0 && n as u64 <= self.max_bulk_bytes as u64 => Ok(Some((n as usize, next))),
            _ => Err(RespError::InvalidBulkLength),
        }
    }

    /// Gives back the span vector of a request of very many arguments.
    fn trim_spans(&mut self) {
        if self.spans.capacity() > KEPT_SPANS {
            self.spans = Vec::new();
        }
    }
}

impl Default for RespDecoder {
    fn default() -> RespDecoder {
        RespDecoder::new()
    }
}

/// The common header, `*N\r` or `$N\r` and one more byte, with N plain
/// decimal digits (no sign, no leading zero, at most 18): N and where the
/// next line begins, read in the one scan that finds the line's end.
/// `None` for anything else, which the careful path then judges.
#[inline(always)]
fn quick_header(data: &[u8], pos: usize) -> Option<(usize, usize)> {
    // One or two digits (every command name and most arguments) without
    // a loop: the four or five bytes are in reach, or the careful path
    // decides.
    if let Some(&[_, d0, b1, b2, ..]) = data.get(pos..pos + 4) {
        let d0 = d0.wrapping_sub(b'0');
        if d0 < 10 && b1 == b'\r' {
            return Some((usize::from(d0), pos + 4));
        }
        let d1 = b1.wrapping_sub(b'0');
        if d0 != 0 && d0 < 10 && d1 < 10 && b2 == b'\r' && data.len() > pos + 4 {
            return Some((usize::from(d0) * 10 + usize::from(d1), pos + 5));
        }
    }
    let digits = data.get(pos + 1..)?;
    let mut n = 0usize;
    for (i, &b) in digits.iter().enumerate().take(19) {
        match b {
            b'0'..=b'9' if !(i == 1 && n == 0) => n = n * 10 + usize::from(b - b'0'),
            b'\r' if i > 0 && i + 1 < digits.len() => return Some((n, pos + i + 3)),
            _ => return None,
        }
    }
    None
}

/// Finds the header line (`*N` or `$N`) starting at `start`: `Ok(None)` if
/// its `\r` and the byte after it have not arrived, else where the next
/// line begins. As Redis, the byte after the `\r` is taken for a `\n`.
fn header_line(data: &[u8], start: usize, too_big: RespError) -> Result<Option<usize>, RespError> {
    let rest = &data[start..];
    match rest.iter().position(|&b| b == b'\r') {
        Some(cr) if cr + 2 <= rest.len() => Ok(Some(start + cr + 2)),
        Some(_) => Ok(None),
        None if rest.len() > MAX_INLINE_BYTES => Err(too_big),
        None => Ok(None),
    }
}

/// Redis's `string2ll`: an optional `-` then decimal digits, no leading
/// zeros (but `0` itself), no `+`, no blanks, within `i64`.
///
/// # Examples
///
/// ```
/// use evloop::codec::parse_redis_int;
///
/// assert_eq!(parse_redis_int(b"-42"), Some(-42));
/// assert_eq!(parse_redis_int(b"007"), None);
/// assert_eq!(parse_redis_int(b"+1"), None);
/// assert_eq!(parse_redis_int(b"9223372036854775808"), None);
/// ```
pub fn parse_redis_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Malformed input: a protocol error. Its `Display` is the text Redis 7
/// answers with after `-ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespError {
    /// `*N` where N is not an integer, or over [`MAX_ARRAY_LEN`].
    InvalidArrayLength,
    /// `$N` where N is not an integer, negative, or over
    /// [`RespDecoder::max_bulk_bytes`].
    InvalidBulkLength,
    /// An array element that does not start with `$` (the byte it starts with).
    ExpectedBulk(u8),
    /// No end to a `*N` line within [`MAX_INLINE_BYTES`].
    TooBigArrayLength,
    /// No end to a `$N` line within [`MAX_INLINE_BYTES`].
    TooBigBulkLength,
    /// No end to an inline command within [`MAX_INLINE_BYTES`].
    TooBigInline,
    /// An inline command with a quote left open, or a closing quote not
    /// followed by a blank.
    UnbalancedQuotes,
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RespError::InvalidArrayLength => "invalid multibulk length",
            RespError::InvalidBulkLength => "invalid bulk length",
            RespError::ExpectedBulk(got) => {
                // Redis prints the byte as `%c`, then turns CR and LF in
                // an error into spaces.
                let got = if matches!(got, b'\r' | b'\n') { ' ' } else { char::from(*got) };
                return write!(f, "Protocol error: expected '$', got '{got}'");
            }
            RespError::TooBigArrayLength => "too big mbulk count string",
            RespError::TooBigBulkLength => "too big bulk count string",
            RespError::TooBigInline => "too big inline request",
            RespError::UnbalancedQuotes => "unbalanced quotes in request",
        };
        write!(f, "Protocol error: {text}")
    }
}

impl Error for RespError {}

/// The requests of one `on_data` call: an iterator from
/// [`RespDecoder::decode`].
///
/// Each item is a complete [`Request`], borrowed from the input, or the
/// [`RespError`] that ends the input. Once it returns `None`,
/// [`consumed`](Requests::consumed) covers every request yielded (and any
/// empty ones skipped); only an unfinished request is left.
#[derive(Debug)]
pub struct Requests<'d, 'a> {
    decoder: &'d mut RespDecoder,
    data: &'a [u8],
    consumed: usize,
}

impl Requests<'_, '_> {
    /// Bytes of the input used up so far: return this from
    /// [`Handler::on_data`](crate::Handler::on_data).
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    fn fail<T>(&mut self, error: RespError) -> Option<Result<T, RespError>> {
        self.decoder.failed = true;
        self.decoder.partial = None;
        self.consumed = self.data.len();
        Some(Err(error))
    }
}

impl<'a> Requests<'_, 'a> {
    /// The next request's arguments, the command name first, put into
    /// `args` (emptied first): `Some(Ok(()))` for a request, `Some(Err(_))`
    /// for the protocol error that ends the input, `None` when no complete
    /// request is left. The same requests as the iterator yields, read in
    /// one pass: an array's arguments are sliced from where its headers
    /// were found, with no second scan as [`Request::args`] makes.
    /// Borrowed from the input, except inline arguments with quotes.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::RespDecoder;
    ///
    /// let mut decoder = RespDecoder::new();
    /// let mut requests = decoder.decode(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n");
    /// let mut args = Vec::new();
    /// assert!(requests.next_args(&mut args).unwrap().is_ok());
    /// assert_eq!(args, [&b"GET"[..], b"k"]);
    /// assert!(requests.next_args(&mut args).unwrap().is_ok());
    /// assert_eq!(args, [&b"PING"[..]]);
    /// assert!(requests.next_args(&mut args).is_none());
    /// ```
    pub fn next_args(&mut self, args: &mut Vec<Cow<'a, [u8]>>) -> Option<Result<(), RespError>> {
        args.clear();
        loop {
            match self.advance()? {
                Err(error) => return Some(Err(error)),
                Ok(Frame::Array { start }) => {
                    let frame = &self.data[start..];
                    args.extend(self.decoder.spans.iter().map(|&(at, len)| Cow::Borrowed(&frame[at..at + len])));
                    self.decoder.trim_spans();
                    return Some(Ok(()));
                }
                Ok(Frame::Inline(line)) => {
                    for arg in InlineArgs::new(line) {
                        match arg {
                            Ok(arg) => args.push(arg),
                            Err(error) => {
                                args.clear();
                                return self.fail(error);
                            }
                        }
                    }
                    if !args.is_empty() {
                        return Some(Ok(()));
                    }
                }
            }
        }
    }

    /// Finds the next complete frame: an array (its spans recorded in the
    /// decoder; empty ones skipped) or an inline line, not yet split.
    fn advance(&mut self) -> Option<Result<Frame<'a>, RespError>> {
        while !self.decoder.failed && self.consumed < self.data.len() {
            let start = self.consumed;
            let rest = &self.data[start..];
            if rest[0] == b'*' {
                match self.decoder.array(rest) {
                    Ok(None) => return None,
                    Ok(Some((0, len))) => self.consumed += len,
                    Ok(Some((_, len))) => {
                        self.consumed += len;
                        return Some(Ok(Frame::Array { start }));
                    }
                    Err(error) => return self.fail(error),
                }
            } else {
                let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                    return if rest.len() > MAX_INLINE_BYTES { self.fail(RespError::TooBigInline) } else { None };
                };
                self.consumed += newline + 1;
                let line = &rest[..newline];
                return Some(Ok(Frame::Inline(line.strip_suffix(b"\r").unwrap_or(line))));
            }
        }
        None
    }
}

/// A complete request found in the input, before its arguments are read.
enum Frame<'a> {
    /// An array starting at this offset of the input; its arguments' spans
    /// are in the decoder.
    Array { start: usize },
    /// An inline command's line, without its ending.
    Inline(&'a [u8]),
}

impl<'a> Iterator for Requests<'_, 'a> {
    type Item = Result<Request<'a>, RespError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.advance()? {
                Err(error) => return Some(Err(error)),
                Ok(Frame::Array { start }) => {
                    let argc = self.decoder.spans.len();
                    self.decoder.trim_spans();
                    return Some(Ok(Request { frame: &self.data[start..self.consumed], argc, inline: false }));
                }
                Ok(Frame::Inline(line)) => match InlineArgs::new(line).try_fold(0, |argc, arg| arg.map(|_| argc + 1)) {
                    Ok(0) => {}
                    Ok(argc) => return Some(Ok(Request { frame: line, argc, inline: true })),
                    Err(error) => return self.fail(error),
                },
            }
        }
    }
}

impl FusedIterator for Requests<'_, '_> {}

#[cfg(test)]
mod tests;
