//! Newline-delimited text: the framing of chat, SMTP, Redis' inline
//! commands and most protocols you can type into `nc`.

use std::error::Error;
use std::fmt;
use std::iter::FusedIterator;
use std::str::Utf8Error;

/// The line length a [`LineDecoder::new`] accepts: 8 KiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024;

/// Splits the input of [`Handler::on_data`](crate::Handler::on_data) into
/// lines, borrowed from the input: nothing is copied.
///
/// Lines end at `\n`; one `\r` before it is dropped, so telnet's and
/// Windows' `\r\n` work too. [`decode`](LineDecoder::decode) yields every
/// complete line in the bytes it is given, and
/// [`Lines::consumed`] then says how many bytes to return from `on_data`.
/// The unfinished line at the end is left unconsumed: the loop keeps it and
/// offers it again, in front of what arrives next, so a line split across
/// any number of reads comes out whole. The decoder remembers how much of
/// that tail it has already searched, so a line trickling in byte by byte
/// costs linear time, not quadratic.
///
/// # Limits
///
/// A line longer than [`max_line_bytes`](LineDecoder::max_line_bytes) (not
/// counting its `\r\n` or `\n`) is reported once as
/// [`LineError::TooLong`], as soon as it can no longer fit, and the rest of
/// it is consumed and dropped up to its newline: the next line decodes
/// normally. So the decoder never leaves more than
/// [`max_buffered_bytes`](LineDecoder::max_buffered_bytes) unconsumed, and
/// [`Config::max_input_bytes`](crate::Config::max_input_bytes) must be at
/// least that, or the loop closes the connection with
/// [`CloseReason::InputLimit`](crate::CloseReason::InputLimit) before the
/// decoder can report the line (the default, 1 MiB, leaves room for the
/// default 8 KiB lines).
///
/// A line that is not UTF-8 is reported as [`LineError::InvalidUtf8`], with
/// its bytes. Neither error stops the decoder: the connection can go on.
///
/// # The contract with `on_data`
///
/// Return [`Lines::consumed`] from `on_data` and nothing else: the decoder
/// relies on the unconsumed bytes coming back at the front of the next
/// `data`. Use one decoder per connection (in [`Handler::Conn`](crate::Handler::Conn)).
/// Stopping early is fine: `consumed` then counts only the lines taken.
///
/// # Examples
///
/// A server that answers each line with its length:
///
/// ```
/// use evloop::codec::{LineDecoder, LineError};
/// use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
///
/// struct LineLengths;
///
/// impl Handler for LineLengths {
///     type Conn = LineDecoder;
///     type Message = ();
///
///     fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> LineDecoder {
///         LineDecoder::new()
///     }
///
///     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, decoder: &mut LineDecoder, data: &[u8]) -> usize {
///         let mut lines = decoder.decode(data);
///         for line in &mut lines {
///             let reply = match line {
///                 Ok(text) => format!("{} characters\n", text.chars().count()),
///                 Err(LineError::TooLong { max_line_bytes }) => format!("ERR over {max_line_bytes} bytes\n"),
///                 Err(LineError::InvalidUtf8 { .. }) => "ERR not UTF-8\n".to_string(),
///             };
///             cx.send(id, reply.as_bytes());
///         }
///         lines.consumed() // the unfinished line stays with the loop
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut el = EventLoop::new(Config::default(), LineLengths)?;
/// el.listen("127.0.0.1:0".parse().unwrap())?;
/// # el.handle().stop().unwrap();
/// el.run()
/// # }
/// ```
///
/// The same decoder fed by hand, the way the loop feeds it:
///
/// ```
/// use evloop::codec::LineDecoder;
///
/// let mut decoder = LineDecoder::new();
/// let mut input = b"hello\r\nwor".to_vec();
///
/// let mut lines = decoder.decode(&input);
/// assert_eq!(lines.next(), Some(Ok("hello")));
/// assert_eq!(lines.next(), None); // "wor" is not a line yet
/// let consumed = lines.consumed();
/// assert_eq!(consumed, 7);
///
/// input.drain(..consumed); // what the loop does with `on_data`'s return
/// input.extend_from_slice(b"ld\n");
/// let lines: Vec<_> = decoder.decode(&input).collect();
/// assert_eq!(lines, [Ok("world")]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDecoder {
    max_line_bytes: usize,
    /// Bytes at the front of the next input already searched for a newline:
    /// the unfinished line the last `decode` left unconsumed.
    searched: usize,
    /// Dropping the rest of an overlong line until its newline.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder for lines of up to [`DEFAULT_MAX_LINE_BYTES`].
    pub fn new() -> LineDecoder {
        LineDecoder::with_max_line_bytes(DEFAULT_MAX_LINE_BYTES)
    }

    /// A decoder for lines of up to `max_line_bytes`, not counting the line
    /// ending.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::{LineDecoder, LineError};
    ///
    /// let mut decoder = LineDecoder::with_max_line_bytes(4);
    /// let lines: Vec<_> = decoder.decode(b"four\nfive!\nok\n").collect();
    /// assert_eq!(lines, [Ok("four"), Err(LineError::TooLong { max_line_bytes: 4 }), Ok("ok")]);
    /// ```
    pub fn with_max_line_bytes(max_line_bytes: usize) -> LineDecoder {
        LineDecoder { max_line_bytes, searched: 0, discarding: false }
    }

    /// The longest line accepted, in bytes, not counting the line ending.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// The most input this decoder ever leaves unconsumed: an unfinished
    /// line of `max_line_bytes` and the `\r` of its ending. Set
    /// [`Config::max_input_bytes`](crate::Config::max_input_bytes) to at
    /// least this.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::LineDecoder;
    /// use evloop::Config;
    ///
    /// let decoder = LineDecoder::with_max_line_bytes(64 * 1024);
    /// let config = Config { max_input_bytes: decoder.max_buffered_bytes(), ..Config::default() };
    /// assert_eq!(config.max_input_bytes, 64 * 1024 + 1);
    /// ```
    pub fn max_buffered_bytes(&self) -> usize {
        self.max_line_bytes.saturating_add(1)
    }

    /// Whether a line has begun and not ended: after a `decode` whose lines
    /// were all taken, whether bytes of a line were left unconsumed or the
    /// decoder is dropping the rest of an overlong line. A server uses it
    /// to bound how long a line may take to arrive (a slowloris client
    /// sends one byte at a time and never a newline).
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new();
    /// assert_eq!(decoder.decode(b"done\n").count(), 1);
    /// assert!(!decoder.is_mid_line());
    /// assert_eq!(decoder.decode(b"not d").count(), 0);
    /// assert!(decoder.is_mid_line());
    /// ```
    pub fn is_mid_line(&self) -> bool {
        self.searched > 0 || self.discarding
    }

    /// The lines in `data`: the unconsumed input of the last call followed
    /// by new bytes. Iterate, then return [`Lines::consumed`] from
    /// `on_data`.
    pub fn decode<'d, 'a>(&'d mut self, data: &'a [u8]) -> Lines<'d, 'a> {
        // A caller that consumed less than it was told (or fed other bytes)
        // gets a rescan rather than a slice out of bounds.
        let searched = std::mem::take(&mut self.searched).min(data.len());
        Lines { decoder: self, data, consumed: 0, searched }
    }
}

impl LineDecoder {
    /// The last line of the input, unfinished at end of file: `rest` is
    /// what `on_data` left unconsumed, as [`Handler::on_eof`](crate::Handler::on_eof)
    /// hands it over (Netty's `decodeLast`). `None` if there is none, or if
    /// it is the tail of an overlong line already reported. A final `\r` is
    /// stripped, as from a whole line.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::codec::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new();
    /// let mut lines = decoder.decode(b"whole\nno newline");
    /// assert_eq!(lines.next(), Some(Ok("whole")));
    /// assert_eq!(lines.next(), None);
    /// let consumed = lines.consumed();
    /// assert_eq!(decoder.decode_last(&b"whole\nno newline"[consumed..]), Some(Ok("no newline")));
    /// ```
    pub fn decode_last<'a>(&mut self, rest: &'a [u8]) -> Option<Result<&'a str, LineError<'a>>> {
        self.searched = 0;
        if std::mem::take(&mut self.discarding) || rest.is_empty() {
            return None;
        }
        let line = strip_cr(rest);
        if line.len() > self.max_line_bytes {
            return Some(Err(LineError::TooLong { max_line_bytes: self.max_line_bytes }));
        }
        Some(std::str::from_utf8(line).map_err(|error| LineError::InvalidUtf8 { line, error }))
    }
}

impl Default for LineDecoder {
    fn default() -> LineDecoder {
        LineDecoder::new()
    }
}

/// A line the decoder could not deliver as text. The connection can go on:
/// the next line decodes normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError<'a> {
    /// The line was longer than `max_line_bytes`. It is reported once, and
    /// all of it, up to its newline, is dropped.
    TooLong {
        /// The limit it passed.
        max_line_bytes: usize,
    },
    /// The line was not valid UTF-8.
    InvalidUtf8 {
        /// The line, without its ending, for a handler that takes bytes.
        line: &'a [u8],
        /// Where the first invalid sequence is.
        error: Utf8Error,
    },
}

impl fmt::Display for LineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong { max_line_bytes } => write!(f, "line longer than {max_line_bytes} bytes"),
            LineError::InvalidUtf8 { error, .. } => write!(f, "line is not valid UTF-8: {error}"),
        }
    }
}

impl Error for LineError<'_> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LineError::TooLong { .. } => None,
            LineError::InvalidUtf8 { error, .. } => Some(error),
        }
    }
}

/// The lines of one `on_data` call: an iterator from
/// [`LineDecoder::decode`].
///
/// Each item is a line without its ending, borrowed from the input, or the
/// [`LineError`] it caused. Once it returns `None`, [`consumed`](Lines::consumed)
/// covers every complete line (and any overlong bytes dropped); only an
/// unfinished line is left.
#[derive(Debug)]
pub struct Lines<'d, 'a> {
    decoder: &'d mut LineDecoder,
    data: &'a [u8],
    consumed: usize,
    /// Bytes at the front of `data[consumed..]` known to hold no newline.
    searched: usize,
}

impl<'a> Lines<'_, 'a> {
    /// Bytes of the input used up so far: return this from
    /// [`Handler::on_data`](crate::Handler::on_data).
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The unfinished line at the end: keep it unconsumed, unless it can
    /// no longer fit, in which case report it and drop it and everything up
    /// to its newline.
    fn unfinished(&mut self, rest: &'a [u8]) -> Option<Result<&'a str, LineError<'a>>> {
        if self.decoder.discarding || !fits(rest, self.decoder.max_line_bytes) {
            self.consumed = self.data.len();
            self.searched = 0;
            let reported = self.decoder.discarding;
            self.decoder.discarding = true;
            return (!reported).then_some(Err(LineError::TooLong { max_line_bytes: self.decoder.max_line_bytes }));
        }
        // Asked again, search nothing twice.
        self.searched = rest.len();
        self.decoder.searched = rest.len();
        None
    }
}

impl<'a> Iterator for Lines<'_, 'a> {
    type Item = Result<&'a str, LineError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = &self.data[self.consumed..];
            let skip = std::mem::take(&mut self.searched);
            let Some(newline) = rest[skip..].iter().position(|&b| b == b'\n').map(|i| skip + i) else {
                return self.unfinished(rest);
            };
            self.consumed += newline + 1;
            if std::mem::take(&mut self.decoder.discarding) {
                continue; // the end of a line already reported too long
            }
            let line = strip_cr(&rest[..newline]);
            if line.len() > self.decoder.max_line_bytes {
                return Some(Err(LineError::TooLong { max_line_bytes: self.decoder.max_line_bytes }));
            }
            return Some(std::str::from_utf8(line).map_err(|error| LineError::InvalidUtf8 { line, error }));
        }
    }
}

impl FusedIterator for Lines<'_, '_> {}

/// Whether an unfinished line could still end within the limit: all but a
/// final `\r`, which may be the start of its `\r\n`, must fit.
fn fits(unfinished: &[u8], max_line_bytes: usize) -> bool {
    strip_cr(unfinished).len() <= max_line_bytes
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests;
