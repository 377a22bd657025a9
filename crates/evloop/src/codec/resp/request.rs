//! A decoded request and its arguments, borrowed from the input.

use std::borrow::Cow;
use std::iter::FusedIterator;

use super::inline::InlineArgs;
use super::parse_redis_int;

/// One complete request: a command name and its arguments, borrowed from
/// the input.
///
/// # Examples
///
/// ```
/// use evloop::codec::RespDecoder;
///
/// let mut decoder = RespDecoder::new();
/// let request = decoder.decode(b"SET greeting \"hello world\"\r\n").next().unwrap().unwrap();
/// assert_eq!(request.len(), 3);
/// assert!(request.is_inline());
/// let args: Vec<_> = request.args().collect();
/// assert_eq!(args, [&b"SET"[..], b"greeting", b"hello world"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The array with its headers, or the inline line without its ending.
    pub(super) frame: &'a [u8],
    pub(super) argc: usize,
    pub(super) inline: bool,
}

impl<'a> Request<'a> {
    /// How many arguments, the command name included; never 0.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Always `false`: empty requests are skipped, as Redis skips them.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Whether it came as an inline command rather than an array.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// The request's bytes as they arrived (an inline command without its
    /// line ending).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.frame
    }

    /// The arguments, the command name first. Borrowed from the input,
    /// except inline arguments with quotes, which are unquoted into a copy.
    pub fn args(&self) -> Args<'a> {
        let state = if self.inline {
            ArgsState::Inline(InlineArgs::new(self.frame))
        } else {
            // Skip the `*N\r\n` line; it was checked.
            let start = self.frame.iter().position(|&b| b == b'\r').map_or(self.frame.len(), |cr| cr + 2);
            ArgsState::Array { frame: self.frame, pos: start }
        };
        Args { state, left: self.argc }
    }
}

/// The arguments of a [`Request`], from [`Request::args`].
#[derive(Debug, Clone)]
pub struct Args<'a> {
    state: ArgsState<'a>,
    left: usize,
}

#[derive(Debug, Clone)]
enum ArgsState<'a> {
    Array { frame: &'a [u8], pos: usize },
    Inline(InlineArgs<'a>),
}

impl<'a> Iterator for Args<'a> {
    type Item = Cow<'a, [u8]>;

    fn next(&mut self) -> Option<Cow<'a, [u8]>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.state {
            ArgsState::Array { frame, pos } => {
                // The decoder checked every header and length: a malformed
                // one here cannot happen, and ends the iteration if it does.
                let rest = frame.get(*pos..)?;
                let cr = rest.iter().position(|&b| b == b'\r')?;
                let len = usize::try_from(parse_redis_int(rest.get(1..cr)?)?).ok()?;
                let start = *pos + cr + 2;
                let arg = frame.get(start..start.checked_add(len)?)?;
                *pos = start + len + 2;
                Some(Cow::Borrowed(arg))
            }
            ArgsState::Inline(inline) => inline.next()?.ok(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Args<'_> {}

impl FusedIterator for Args<'_> {}
